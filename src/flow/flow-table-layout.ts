/**
 * Layout of a flow table in one region of memory (shared memory, or any ArrayBuffer in tests).
 *
 * A flow table maps a FlowKey (5-tuple) to an entry that holds the NF's per-flow state:
 * `valueWords` u32 words the NF defines, plus packet and byte counters and first/last-seen
 * times the table keeps. It is an open-addressing hash table with linear probing over typed
 * arrays (design.md §5: 19 ns per packet against 87 ns for a Map with number keys), one
 * fixed-size entry per slot, no pointers, so any process can map it at any address.
 *
 *   byte 0     ┌───────────────────────────────────────────────────────────────┐
 *              │ magic 'NFFT' | version | capacity | mask | valueWords         │ read-only
 *              │ entryWords | maxCount | flags (bit 0 symmetric)               │ after init
 *              │ idleTimeoutMs f64 | hardTimeoutMs f64 | entries (byte offset) │ (timeouts:
 *   byte 64    ├───────────────────────────────────────────────────────────────┤  writer)
 *              │ count | tombstones | expireCursor | generation (seqlock)      │ writer →
 *              │ fullCount f64 | adds f64 | expired f64                        │ readers
 *   byte 128   ├───────────────────────────────────────────────────────────────┤
 *              │ entry 0 │ entry 1 │ ... │ entry capacity-1                    │
 *              └───────────────────────────────────────────────────────────────┘
 *
 *   one entry (entryWords u32 words = 20 + valueWords rounded up to even; 8-byte aligned):
 *   word  0      state: 0 empty, 1 used, 2 tombstone (3 only during compaction)
 *   word  1      hash: hashFlowKey(key, symmetric), 31 bits
 *   word  2      family | proto << 8
 *   word  3      srcPort << 16 | dstPort
 *   words 4..11  addr: source words 0..3, destination words 4..7 (IPv4: words 4 and 8 only)
 *   words 12..13 packets        f64
 *   words 14..15 bytes          f64
 *   words 16..17 firstSeen (ms) f64
 *   words 18..19 lastSeen (ms)  f64
 *   words 20..   value words (u32, zeroed when the entry is added)
 *
 * The state, hash and key (what a probe reads) are the first 48 bytes of an entry, the
 * counters written by touch() follow them; with 4 value words an entry is 96 bytes.
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
  entryWords: 20,
  maxCount: 24,
  flags: 28,
  /** f64, ms; 0 = no idle timeout */
  idleTimeout: 32,
  /** f64, ms; 0 = no hard timeout */
  hardTimeout: 40,
  /** byte offset of entry 0 from the table's base */
  entries: 48,
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

/** Entry states (word 0 of an entry). */
export const FlowState = {
  EMPTY: 0,
  USED: 1,
  TOMBSTONE: 2,
  /** a used entry not yet re-placed by an in-progress compaction */
  PENDING: 3,
} as const;

/** u32 word index of each field within an entry. */
export const Entry = {
  state: 0,
  hash: 1,
  familyProto: 2,
  ports: 3,
  addr: 4,
  /** f64 fields, as u32 word indices (even: 8-byte aligned) */
  packets: 12,
  bytes: 14,
  firstSeen: 16,
  lastSeen: 18,
  value: 20,
} as const;

/** Words of an entry before the value words. */
export const ENTRY_FIXED_WORDS = Entry.value;

export const FLOW_TABLE_LIMITS = {
  minCapacity: 8,
  maxCapacity: 2 ** 26,
  maxValueWords: 64,
  defaultMaxLoad: 0.75,
  maxMaxLoad: 0.9,
  /** largest region: word indices stay below 2^31 (int32 arithmetic on the hot path) */
  maxBytes: 2 ** 31,
} as const;

export interface FlowTableOptions {
  /** Number of slots, a power of two (at least 8). The table holds up to capacity × maxLoad flows. */
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
  entryWords: number;
  maxCount: number;
  symmetric: boolean;
  idleTimeoutMs: number;
  hardTimeoutMs: number;
  entriesOffset: number;
  totalBytes: number;
}

export function assertFlowTableLayout(): void {
  if (Entry.packets % 2 !== 0 || Entry.bytes % 2 !== 0 || Entry.firstSeen % 2 !== 0 || Entry.lastSeen % 2 !== 0) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table entry: f64 fields must be at even word indices');
  }
  if (Entry.addr + 8 > Entry.packets || ENTRY_FIXED_WORDS % 2 !== 0) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table entry: fields overlap or the fixed part is not 8-byte aligned');
  }
  if (FlowTableOffsets.idleTimeout % 8 !== 0 || FlowTableOffsets.hardTimeout % 8 !== 0 ||
    FlowTableOffsets.fullCount % 8 !== 0 || FlowTableOffsets.adds % 8 !== 0 || FlowTableOffsets.expired % 8 !== 0) {
    throw new NfcError('NFC_ERR_LAYOUT', 'flow table header: f64 fields must be 8-byte aligned');
  }
  assertLayout('flow table', {
    magic: { offset: FlowTableOffsets.magic, lineAligned: true },
    version: { offset: FlowTableOffsets.version },
    capacity: { offset: FlowTableOffsets.capacity },
    mask: { offset: FlowTableOffsets.mask },
    valueWords: { offset: FlowTableOffsets.valueWords },
    entryWords: { offset: FlowTableOffsets.entryWords },
    maxCount: { offset: FlowTableOffsets.maxCount },
    flags: { offset: FlowTableOffsets.flags },
    idleTimeout: { offset: FlowTableOffsets.idleTimeout },
    idleTimeoutHi: { offset: FlowTableOffsets.idleTimeout + 4 },
    hardTimeout: { offset: FlowTableOffsets.hardTimeout },
    hardTimeoutHi: { offset: FlowTableOffsets.hardTimeout + 4 },
    entries: { offset: FlowTableOffsets.entries },
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
  }, FLOW_TABLE_HEADER_BYTES);
}
assertFlowTableLayout();

function badOption(what: string, fix: string): NfcError {
  return new NfcError('NFC_ERR_INVALID_ARG', `flow table: ${what}`, { fix });
}

function checkTimeout(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw badOption(`${name} ${String(v)} must be a finite number of milliseconds ≥ 0`, `give e.g. ${name}: 30000, or 0 for no timeout`);
  }
  return v;
}

/** Computes and checks the geometry of a flow table (cold). Errors name the option and the fix. */
export function flowTableGeometry(opts: FlowTableOptions): FlowTableGeometry {
  if (opts === null || typeof opts !== 'object') {
    throw badOption('options are missing', 'pass e.g. { capacity: 65536, valueWords: 4 }');
  }
  const { capacity } = opts;
  if (typeof capacity !== 'number' || !isPowerOfTwo(capacity) || capacity < FLOW_TABLE_LIMITS.minCapacity ||
    capacity > FLOW_TABLE_LIMITS.maxCapacity) {
    const up = typeof capacity === 'number' && capacity > 0 ? 2 ** Math.ceil(Math.log2(capacity)) : 65536;
    throw badOption(
      `capacity ${String(capacity)} must be a power of two between ${FLOW_TABLE_LIMITS.minCapacity} and 2^26`,
      `use ${Math.min(Math.max(up, FLOW_TABLE_LIMITS.minCapacity), FLOW_TABLE_LIMITS.maxCapacity)}; ` +
      'a table holds up to capacity × maxLoad (0.75) flows');
  }
  const valueWords = opts.valueWords ?? 0;
  if (!Number.isInteger(valueWords) || valueWords < 0 || valueWords > FLOW_TABLE_LIMITS.maxValueWords) {
    throw badOption(`valueWords ${String(valueWords)} must be an integer from 0 to ${FLOW_TABLE_LIMITS.maxValueWords}`,
      'keep larger per-flow state in a separate array indexed by the entry index');
  }
  const maxLoad = opts.maxLoad ?? FLOW_TABLE_LIMITS.defaultMaxLoad;
  if (typeof maxLoad !== 'number' || !(maxLoad > 0) || maxLoad > FLOW_TABLE_LIMITS.maxMaxLoad) {
    throw badOption(`maxLoad ${String(maxLoad)} must be above 0 and at most ${FLOW_TABLE_LIMITS.maxMaxLoad}`,
      'the default 0.75 keeps probes short; raise the capacity to hold more flows');
  }
  const maxCount = Math.floor(capacity * maxLoad);
  if (maxCount < 1) {
    throw badOption(`capacity ${capacity} × maxLoad ${maxLoad} leaves room for no flow`, 'raise maxLoad or the capacity');
  }
  const symmetric = opts.symmetric ?? false;
  if (typeof symmetric !== 'boolean') {
    throw badOption(`symmetric must be true or false, not ${String(symmetric)}`, 'pass symmetric: true to find both directions of a flow in one entry');
  }
  const idleTimeoutMs = checkTimeout('idleTimeoutMs', opts.idleTimeoutMs ?? 0);
  const hardTimeoutMs = checkTimeout('hardTimeoutMs', opts.hardTimeoutMs ?? 0);
  const entryWords = ENTRY_FIXED_WORDS + valueWords + (valueWords & 1);
  const entriesOffset = FLOW_TABLE_HEADER_BYTES;
  const totalBytes = alignUp(entriesOffset + capacity * entryWords * 4, CACHE_LINE);
  if (totalBytes > FLOW_TABLE_LIMITS.maxBytes) {
    throw badOption(`capacity ${capacity} with ${valueWords} value words needs ${totalBytes} bytes (limit 2 GiB)`,
      'use a smaller capacity or fewer value words, or split flows over several tables');
  }
  return { capacity, valueWords, entryWords, maxCount, symmetric, idleTimeoutMs, hardTimeoutMs, entriesOffset, totalBytes };
}

/** Bytes a flow table with these options needs (cold). */
export function flowTableBytes(opts: FlowTableOptions): number {
  return flowTableGeometry(opts).totalBytes;
}
