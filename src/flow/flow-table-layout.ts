/**
 * Layout of a flow table in one region of memory (shared memory, or any ArrayBuffer in tests).
 *
 * A flow table maps a FlowKey (5-tuple) to an entry that holds the NF's per-flow state:
 * `valueWords` u32 words the NF defines, plus packet and byte counters and first/last-seen
 * times the table keeps. It is an open-addressing hash table with linear probing over typed
 * arrays (measured: 19 ns per packet against 87 ns for a Map with number keys), one
 * fixed-size entry per slot, no pointers, so any process can map it at any address.
 *
 *   byte 0       ┌─────────────────────────────────────────────────────────────┐
 *                │ magic 'NFFT' | version | capacity | mask | valueWords       │ read-only
 *                │ coldWords | maxCount | flags (bit 0 symmetric)              │ after init
 *                │ idleTimeoutMs f64 | hardTimeoutMs f64 | hot | cold          │ (timeouts:
 *   byte 64      ├─────────────────────────────────────────────────────────────┤  writer)
 *                │ count | tombstones | expireCursor | generation (seqlock)    │ writer →
 *                │ fullCount f64 | adds f64 | expired f64                      │ readers
 *   byte 128     ├─────────────────────────────────────────────────────────────┤
 *   (hot)        │ hot record 0 │ hot record 1 │ ... │ hot record capacity-1   │ 64 B each
 *   128 + 64×cap ├─────────────────────────────────────────────────────────────┤
 *   (cold)       │ cold record 0 │ cold record 1 │ ... (coldWords × 4 B each)   │
 *                └─────────────────────────────────────────────────────────────┘
 *
 * An entry is split in two records with the same index. The hot record is exactly one cache
 * line (64-byte aligned) and holds everything a lookup reads and touch() writes, so a packet
 * of a known flow costs one line; the cold record holds what is read rarely or only by the NF.
 *
 *   hot record (16 u32 words):
 *   word  0      tag: bits 0-1 state (0 empty, 1 used, 2 tombstone, 3 pending during a
 *                compaction), bits 2-3 family >> 1 (0 none, 2 IPv4, 3 IPv6), bits 4-11 proto,
 *                bits 12-31 hash bits 11-30. An empty slot's tag is 0, a tombstone's 2: a
 *                probe compares one word against the tag it expects and so checks state,
 *                family, proto and 20 bits of hash at once.
 *   word  1      srcPort << 16 | dstPort
 *   words 2..9   addr: source words 0..3, destination words 4..7 (IPv4: words 2 and 6 only)
 *   words 10..11 packets        f64
 *   words 12..13 bytes          f64
 *   words 14..15 lastSeen (ms)  f64
 *
 *   cold record (coldWords = 4 + valueWords rounded up to even):
 *   word  0      hash: hashFlowKey(key, symmetric), all 31 bits
 *   word  1      reserved (0)
 *   words 2..3   firstSeen (ms) f64
 *   words 4..    value words (u32, zeroed when the entry is added)
 *
 * Slot of a key: hash & mask, then linear probing (slot + 1, + 2, ...) until the key or an
 * empty slot. Capacity is a power of two; at most maxCount = floor(capacity × maxLoad) entries
 * are used (default maxLoad 0.75), so a probe always finds an empty slot.
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, alignUp, assertLayout, isPowerOfTwo, magic } from '../shm/layout.js';

export const FLOW_TABLE_MAGIC = magic('NFFT');
export const FLOW_TABLE_VERSION = 1;

/** Byte offsets of the header fields. */
export const FlowTableOffsets = {
  magic: 0,
  version: 4,
  capacity: 8,
  mask: 12,
  valueWords: 16,
  coldWords: 20,
  maxCount: 24,
  flags: 28,
  /** f64, ms; 0 = no idle timeout */
  idleTimeout: 32,
  /** f64, ms; 0 = no hard timeout */
  hardTimeout: 40,
  /** byte offset of hot record 0 from the table's base */
  hot: 48,
  /** byte offset of cold record 0 from the table's base */
  cold: 52,
  /** ---- written by the table's single writer, read by anyone ---- */
  count: 1 * CACHE_LINE,
  tombstones: 1 * CACHE_LINE + 4,
  /** slot where the next bounded expire() scan starts */
  expireCursor: 1 * CACHE_LINE + 8,
  /** seqlock: odd while the writer moves or reuses entries (see FlowTable) */
  generation: 1 * CACHE_LINE + 12,
  /** f64: lookupOrAdd calls that found the table full */
  fullCount: 1 * CACHE_LINE + 16,
  /** f64: entries ever added */
  adds: 1 * CACHE_LINE + 24,
  /** f64: entries removed by expire() */
  expired: 1 * CACHE_LINE + 32,
} as const;

export const FLOW_TABLE_HEADER_BYTES = 2 * CACHE_LINE;

/** Header flag bits. */
export const FlowTableFlags = {
  symmetric: 1,
} as const;

/** Entry states (bits 0-1 of a hot record's tag word). */
export const FlowState = {
  EMPTY: 0,
  USED: 1,
  TOMBSTONE: 2,
  /** a used entry not yet re-placed by an in-progress compaction */
  PENDING: 3,
} as const;

/** Fields of the tag word (word 0 of a hot record). */
export const Tag = {
  stateMask: 0x3,
  familyShift: 2,
  protoShift: 4,
  /** the tag keeps hash bits 11..30 in its bits 12..31 */
  hashShift: 11,
  hashMask: 0xfffff000,
} as const;

/** u32 word index of each field of a hot record (f64 fields: even word indices). */
export const Hot = {
  tag: 0,
  ports: 1,
  addr: 2,
  packets: 10,
  bytes: 12,
  lastSeen: 14,
} as const;
export const HOT_WORDS = 16;
export const HOT_BYTES = HOT_WORDS * 4;

/** u32 word index of each field of a cold record. */
export const Cold = {
  hash: 0,
  reserved: 1,
  firstSeen: 2,
  value: 4,
} as const;

export const FLOW_TABLE_LIMITS = {
  minCapacity: 8,
  maxCapacity: 2 ** 24,
  maxValueWords: 64,
  defaultMaxLoad: 0.75,
  maxMaxLoad: 0.9,
  /** largest region: word indices stay below 2^31 (int32 arithmetic on the hot path) */
  maxBytes: 2 ** 31,
} as const;

export interface FlowTableOptions {
  /** Number of slots, a power of two (8 to 2^24). The table holds up to capacity × maxLoad flows. */
  capacity: number;
  /** u32 words of NF state per entry (0..64), zeroed when an entry is added. Default 0. */
  valueWords?: number;
  /** A key and its reverse find the same entry. Default false. */
  symmetric?: boolean;
  /** Remove entries idle this long (ms); 0 = never. Default 0. */
  idleTimeoutMs?: number;
  /** Remove entries this long after they were added (ms); 0 = never. Default 0. */
  hardTimeoutMs?: number;
  /** Largest fraction of the slots in use (0 < maxLoad ≤ 0.9). Default 0.75. */
  maxLoad?: number;
}

export interface FlowTableGeometry {
  capacity: number;
  valueWords: number;
  /** u32 words per cold record */
  coldWords: number;
  maxCount: number;
  symmetric: boolean;
  idleTimeoutMs: number;
  hardTimeoutMs: number;
  /** byte offsets of the hot and cold records from the table's base */
  hotOffset: number;
  coldOffset: number;
  totalBytes: number;
}

export function assertFlowTableLayout(): void {
  if (
    Hot.packets % 2 !== 0 ||
    Hot.bytes % 2 !== 0 ||
    Hot.lastSeen % 2 !== 0 ||
    Cold.firstSeen % 2 !== 0 ||
    Cold.value % 2 !== 0
  ) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table records: f64 fields must be at even word indices');
  }
  if (Hot.addr + 8 > Hot.packets || Hot.lastSeen + 2 !== HOT_WORDS || HOT_BYTES !== CACHE_LINE) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table hot record: fields overlap or it is not one cache line');
  }
  if (Tag.protoShift + 8 > Tag.hashShift + 1 || Tag.hashMask >>> 0 !== (0xffffffff << (Tag.hashShift + 1)) >>> 0) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table tag word: fields overlap');
  }
  if (
    FlowTableOffsets.idleTimeout % 8 !== 0 ||
    FlowTableOffsets.hardTimeout % 8 !== 0 ||
    FlowTableOffsets.fullCount % 8 !== 0 ||
    FlowTableOffsets.adds % 8 !== 0 ||
    FlowTableOffsets.expired % 8 !== 0
  ) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table header: f64 fields must be 8-byte aligned');
  }
  assertLayout(
    'flow table',
    {
      magic: { offset: FlowTableOffsets.magic, lineAligned: true },
      version: { offset: FlowTableOffsets.version },
      capacity: { offset: FlowTableOffsets.capacity },
      mask: { offset: FlowTableOffsets.mask },
      valueWords: { offset: FlowTableOffsets.valueWords },
      coldWords: { offset: FlowTableOffsets.coldWords },
      maxCount: { offset: FlowTableOffsets.maxCount },
      flags: { offset: FlowTableOffsets.flags },
      idleTimeout: { offset: FlowTableOffsets.idleTimeout },
      idleTimeoutHi: { offset: FlowTableOffsets.idleTimeout + 4 },
      hardTimeout: { offset: FlowTableOffsets.hardTimeout },
      hardTimeoutHi: { offset: FlowTableOffsets.hardTimeout + 4 },
      hot: { offset: FlowTableOffsets.hot },
      cold: { offset: FlowTableOffsets.cold },
      count: { offset: FlowTableOffsets.count, lineAligned: true },
      tombstones: { offset: FlowTableOffsets.tombstones },
      expireCursor: { offset: FlowTableOffsets.expireCursor },
      generation: { offset: FlowTableOffsets.generation },
      fullCount: { offset: FlowTableOffsets.fullCount },
      fullCountHi: { offset: FlowTableOffsets.fullCount + 4 },
      adds: { offset: FlowTableOffsets.adds },
      addsHi: { offset: FlowTableOffsets.adds + 4 },
      expired: { offset: FlowTableOffsets.expired },
      expiredHi: { offset: FlowTableOffsets.expired + 4 },
    },
    FLOW_TABLE_HEADER_BYTES,
  );
}
assertFlowTableLayout();

function badOption(what: string, fix: string): NfcError {
  return new NfcError('NFC_ERR_INVALID_ARG', `flow table: ${what}`, { fix });
}

function checkTimeout(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw badOption(
      `${name} ${String(v)} must be a finite number of milliseconds ≥ 0`,
      `give e.g. ${name}: 30000, or 0 for no timeout`,
    );
  }
  return v;
}

/** Computes and checks the geometry of a flow table (cold). Errors name the option and the fix. */
export function flowTableGeometry(opts: FlowTableOptions): FlowTableGeometry {
  if (opts === null || typeof opts !== 'object') {
    throw badOption('options are missing', 'pass e.g. { capacity: 65536, valueWords: 4 }');
  }
  const { capacity } = opts;
  if (
    typeof capacity !== 'number' ||
    !isPowerOfTwo(capacity) ||
    capacity < FLOW_TABLE_LIMITS.minCapacity ||
    capacity > FLOW_TABLE_LIMITS.maxCapacity
  ) {
    const up = typeof capacity === 'number' && capacity > 0 ? 2 ** Math.ceil(Math.log2(capacity)) : 65536;
    throw badOption(
      `capacity ${String(capacity)} must be a power of two between ${FLOW_TABLE_LIMITS.minCapacity} and 2^24`,
      `use ${Math.min(Math.max(up, FLOW_TABLE_LIMITS.minCapacity), FLOW_TABLE_LIMITS.maxCapacity)}; ` +
        'a table holds up to capacity × maxLoad (0.75) flows',
    );
  }
  const valueWords = opts.valueWords ?? 0;
  if (!Number.isInteger(valueWords) || valueWords < 0 || valueWords > FLOW_TABLE_LIMITS.maxValueWords) {
    throw badOption(
      `valueWords ${String(valueWords)} must be an integer from 0 to ${FLOW_TABLE_LIMITS.maxValueWords}`,
      'keep larger per-flow state in a separate array indexed by the entry index',
    );
  }
  const maxLoad = opts.maxLoad ?? FLOW_TABLE_LIMITS.defaultMaxLoad;
  if (typeof maxLoad !== 'number' || !(maxLoad > 0) || maxLoad > FLOW_TABLE_LIMITS.maxMaxLoad) {
    throw badOption(
      `maxLoad ${String(maxLoad)} must be above 0 and at most ${FLOW_TABLE_LIMITS.maxMaxLoad}`,
      'the default 0.75 keeps probes short; raise the capacity to hold more flows',
    );
  }
  const maxCount = Math.floor(capacity * maxLoad);
  if (maxCount < 1) {
    throw badOption(
      `capacity ${capacity} × maxLoad ${maxLoad} leaves room for no flow`,
      'raise maxLoad or the capacity',
    );
  }
  const symmetric = opts.symmetric ?? false;
  if (typeof symmetric !== 'boolean') {
    throw badOption(
      `symmetric must be true or false, not ${String(symmetric)}`,
      'pass symmetric: true to find both directions of a flow in one entry',
    );
  }
  const idleTimeoutMs = checkTimeout('idleTimeoutMs', opts.idleTimeoutMs ?? 0);
  const hardTimeoutMs = checkTimeout('hardTimeoutMs', opts.hardTimeoutMs ?? 0);
  const coldWords = Cold.value + valueWords + (valueWords & 1);
  const hotOffset = FLOW_TABLE_HEADER_BYTES;
  const coldOffset = hotOffset + capacity * HOT_BYTES;
  const totalBytes = alignUp(coldOffset + capacity * coldWords * 4, CACHE_LINE);
  if (totalBytes > FLOW_TABLE_LIMITS.maxBytes) {
    throw badOption(
      `capacity ${capacity} with ${valueWords} value words needs ${totalBytes} bytes (limit 2 GiB)`,
      'use a smaller capacity or fewer value words, or split flows over several tables',
    );
  }
  return {
    capacity,
    valueWords,
    coldWords,
    maxCount,
    symmetric,
    idleTimeoutMs,
    hardTimeoutMs,
    hotOffset,
    coldOffset,
    totalBytes,
  };
}

/** Bytes a flow table with these options needs (cold). */
export function flowTableBytes(opts: FlowTableOptions): number {
  return flowTableGeometry(opts).totalBytes;
}
