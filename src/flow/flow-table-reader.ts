/**
 * Attaching to a flow table and reading it. FlowTableReader, the base class of FlowTable, holds
 * what any process may call: the views, the shared header's counters, lookup and prefetch, the
 * entry accessors and iteration, with the key comparisons that lookup and lookupOrAdd share.
 * The writer's methods (lookupOrAdd, touch, remove, expire, compact, ...) and the formatting of
 * a table are in flow-table.ts; the layout and its diagram are in flow-table-layout.ts.
 *
 * A flow table: FlowKey → entry index, with per-flow NF state, counters and timeouts, in one
 * region of (shared) memory. Open addressing with linear probing over typed arrays (Uint32Array
 * and Float64Array views of the same memory): no allocation, no Map, no string or BigInt on the
 * hot path. Each slot has a 64-byte hot record (tag word, key, packets, bytes, lastSeen) and a
 * cold record (full hash, firstSeen, value words), so lookupOrAdd + touch of a known flow reads
 * and writes one cache line, and a probe rejects a slot with one comparison of the tag word
 * (state, family, proto and 20 hash bits). A symmetric table hashes with hashFlowKey(key, true)
 * and compares keys in both orientations, so both directions of a connection find one entry.
 *
 * Every method here and in FlowTable is hot-path and allocation-free unless its comment says
 * cold or `Allocates:`.
 *
 * ## Readers in other processes
 *
 * Any process may attach a FlowTable to the same memory and call the reading methods (lookup,
 * keyAt, value, packets, bytes, firstSeen, lastSeen, nextUsed, forEach, count, ...). What holds:
 * - an entry becomes visible (its tag word, state used, stored with Atomics.store) only after
 *   its key, hash, counters and zeroed value words are written;
 * - a removed entry stays where it was; its words are overwritten only when its slot is
 *   reused by a new flow or the table is compacted, and both make the header's `generation`
 *   odd while they run and advance it (seqlock). A reader that needs a consistent view does:
 *   `g = generation()`; if g is odd, retry later; read (lookup, keyAt, value, ...); if
 *   `generation() !== g`, discard and retry;
 * - counters and value words are single aligned stores (a u32 or an f64): a reader sees old
 *   or new values, never half of one, but packets and bytes may be one packet apart, and value
 *   words written one by one by the NF are not updated together (the NF's own protocol, if it
 *   needs one); the f64 fields are 8-byte aligned, and aligned 8-byte stores are single-copy
 *   atomic on x86-64 and arm64 (as for counters.ts);
 * - a reader never blocks the writer and cannot loop forever (probes are bounded by capacity);
 * - lastAdded and lastReversed are per handle, not shared.
 */
import { NfcError } from '../errors.js';
import { assertRegion } from '../shm/layout.js';
import { hashFlowKey, type FlowFamily, type FlowKey } from '../packet/flow-key.js';
import {
  Cold,
  FLOW_TABLE_HEADER_BYTES,
  FLOW_TABLE_LIMITS,
  FLOW_TABLE_MAGIC,
  FLOW_TABLE_VERSION,
  FlowState,
  FlowTableFlags,
  FlowTableOffsets as O,
  Hot,
  HOT_WORDS,
  Tag,
  flowTableGeometry,
  type FlowTableGeometry,
} from './flow-table-layout.js';

// Header word indices. Hot methods (here and in flow-table.ts) write the numbers as literals
// (V8 does not always fold loads of module constants into the code; see architecture.md
// "Measured here"); checkLiterals() keeps them honest.
const H_COUNT = O.count >> 2; // 16
const H_TOMBSTONES = O.tombstones >> 2; // 17
const H_CURSOR = O.expireCursor >> 2; // 18
const H_GENERATION = O.generation >> 2; // 19
const HF_IDLE = O.idleTimeout >> 3; // 4
const HF_HARD = O.hardTimeout >> 3; // 5
const HF_FULL = O.fullCount >> 3; // 10
const HF_ADDS = O.adds >> 3; // 11
const HF_EXPIRED = O.expired >> 3; // 12

function checkLiterals(): void {
  const ok =
    H_COUNT === 16 &&
    H_TOMBSTONES === 17 &&
    H_CURSOR === 18 &&
    H_GENERATION === 19 &&
    HF_IDLE === 4 &&
    HF_HARD === 5 &&
    HF_FULL === 10 &&
    HF_ADDS === 11 &&
    HF_EXPIRED === 12 &&
    FlowState.EMPTY === 0 &&
    FlowState.USED === 1 &&
    FlowState.TOMBSTONE === 2 &&
    FlowState.PENDING === 3 &&
    Tag.stateMask === 3 &&
    Tag.familyShift === 2 &&
    Tag.protoShift === 4 &&
    Tag.hashShift === 11 &&
    HOT_WORDS === 16 &&
    Hot.tag === 0 &&
    Hot.ports === 1 &&
    Hot.addr === 2 &&
    Hot.packets === 10 &&
    Hot.bytes === 12 &&
    Hot.lastSeen === 14 &&
    Cold.hash === 0 &&
    Cold.firstSeen === 2 &&
    Cold.value === 4 &&
    FLOW_TABLE_HEADER_BYTES === 128;
  if (!ok) {
    throw new NfcError(
      'NFC_ERR_LAYOUT',
      'flow table: flow-table.ts / flow-table-reader.ts literals do not match flow-table-layout.ts',
    );
  }
}
checkLiterals();

/**
 * Address comparison against the hot record whose words start at b, key in its own
 * orientation. IPv4 (and empty) keys compare address words 0 and 4 only, like hashFlowKey.
 */
export function sameForward(u: Uint32Array, b: number, a: Uint32Array, v6: boolean): boolean {
  if (u[b + 2] !== a[0] || u[b + 6] !== a[4]) return false;
  if (!v6) return true;
  return (
    u[b + 3] === a[1] &&
    u[b + 4] === a[2] &&
    u[b + 5] === a[3] &&
    u[b + 7] === a[5] &&
    u[b + 8] === a[6] &&
    u[b + 9] === a[7]
  );
}

/** The same with the key's source and destination swapped. */
export function sameReversed(u: Uint32Array, b: number, a: Uint32Array, v6: boolean): boolean {
  if (u[b + 2] !== a[4] || u[b + 6] !== a[0]) return false;
  if (!v6) return true;
  return (
    u[b + 3] === a[5] &&
    u[b + 4] === a[6] &&
    u[b + 5] === a[7] &&
    u[b + 7] === a[1] &&
    u[b + 8] === a[2] &&
    u[b + 9] === a[3]
  );
}

/**
 * What every handle on a flow table can do: attach, read the shared counters, look keys up,
 * read entries and iterate. Abstract: a process attaches a FlowTable (flow-table.ts), whose
 * writer methods only the table's one writer calls.
 */
export abstract class FlowTableReader {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  /** slots (a power of two) */
  readonly capacity: number;
  /** most entries in use at once: floor(capacity × maxLoad) */
  readonly maxCount: number;
  readonly valueWords: number;
  readonly symmetric: boolean;
  /**
   * Set by lookup and lookupOrAdd when they find an entry: true when the key given is the
   * reverse of the stored key (symmetric tables: the packet goes in the reply direction).
   */
  lastReversed = false;
  /** The last word prefetch()/prefetchBurst() read: stored so that the JIT cannot drop the reads. */
  prefetchSink = 0;

  protected readonly mask: number;
  /** u32 words per cold record, and half that (f64 per cold record) */
  protected readonly coldWords: number;
  protected readonly coldHalf: number;
  /** hot records as u32 words (record i at i << 4) and as f64 (record i at i << 3) */
  protected readonly u: Uint32Array;
  protected readonly f: Float64Array;
  /** cold records as u32 words (record i at i × coldWords) and as f64 */
  protected readonly c: Uint32Array;
  protected readonly cf: Float64Array;
  /** header as u32 words and as f64 */
  protected readonly h: Uint32Array;
  protected readonly hf: Float64Array;

  /** Attaches to a table formatted by initFlowTable (cold). Allocates: the typed-array views. */
  constructor(buffer: ArrayBuffer, byteOffset = 0, what = 'flow table') {
    if (byteOffset < 0 || byteOffset % 64 !== 0 || byteOffset + FLOW_TABLE_HEADER_BYTES > buffer.byteLength) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${what}: byte offset ${byteOffset} is not 64-byte aligned or outside the ${buffer.byteLength}-byte mapping`,
      );
    }
    const h = new Uint32Array(buffer, byteOffset, FLOW_TABLE_HEADER_BYTES >> 2);
    if (Atomics.load(h, 0) !== FLOW_TABLE_MAGIC) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: no flow table at byte ${byteOffset} (bad magic)`, {
        fix: 'format it first with initFlowTable()',
      });
    }
    if (h[O.version >> 2] !== FLOW_TABLE_VERSION) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: version ${h[O.version >> 2]}, expected ${FLOW_TABLE_VERSION}`, {
        fix: 'run every process from the same nfchain build',
      });
    }
    const capacity = h[O.capacity >> 2]!;
    const valueWords = h[O.valueWords >> 2]!;
    const maxCount = h[O.maxCount >> 2]!;
    let g: FlowTableGeometry;
    try {
      g = flowTableGeometry({ capacity, valueWords });
    } catch (err) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: header is corrupt (${(err as Error).message.split('\n')[0]})`, {
        cause: err,
      });
    }
    if (
      h[O.mask >> 2] !== capacity - 1 ||
      h[O.coldWords >> 2] !== g.coldWords ||
      h[O.hot >> 2] !== g.hotOffset ||
      h[O.cold >> 2] !== g.coldOffset ||
      maxCount < 1 ||
      maxCount > capacity * FLOW_TABLE_LIMITS.maxMaxLoad
    ) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${what}: header geometry is inconsistent (mask, coldWords, hot, cold or maxCount)`,
      );
    }
    assertRegion(what, buffer, byteOffset, g.totalBytes);
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.maxCount = maxCount;
    this.valueWords = valueWords;
    this.symmetric = (h[O.flags >> 2]! & FlowTableFlags.symmetric) !== 0;
    this.mask = capacity - 1;
    this.coldWords = g.coldWords;
    this.coldHalf = g.coldWords >> 1;
    this.u = new Uint32Array(buffer, byteOffset + g.hotOffset, capacity * HOT_WORDS);
    this.f = new Float64Array(buffer, byteOffset + g.hotOffset, capacity * (HOT_WORDS >> 1));
    this.c = new Uint32Array(buffer, byteOffset + g.coldOffset, capacity * g.coldWords);
    this.cf = new Float64Array(buffer, byteOffset + g.coldOffset, capacity * (g.coldWords >> 1));
    this.h = h;
    this.hf = new Float64Array(buffer, byteOffset, FLOW_TABLE_HEADER_BYTES >> 3);
  }

  // ---------------------------------------------------------------------------------------
  // Counters and settings (read from the shared header: the same in every process)

  /** Entries in use. */
  get count(): number {
    return this.h[16]!;
  }

  /** Tombstones (removed entries not yet compacted away). */
  get tombstones(): number {
    return this.h[17]!;
  }

  /** lookupOrAdd calls that found the table full (returned -1). */
  get fullCount(): number {
    return this.hf[10]!;
  }

  /** Entries ever added. */
  get adds(): number {
    return this.hf[11]!;
  }

  /** Entries removed by expire(). */
  get expiredCount(): number {
    return this.hf[12]!;
  }

  get idleTimeoutMs(): number {
    return this.hf[4]!;
  }

  get hardTimeoutMs(): number {
    return this.hf[5]!;
  }

  /** The seqlock word: odd while the writer reuses a slot or compacts (see the file comment). */
  generation(): number {
    return Atomics.load(this.h, 19);
  }

  // ---------------------------------------------------------------------------------------
  // Lookup and prefetch

  /**
   * The index of key's entry, or -1. `hash`, when given, must be hashFlowKey(key,
   * this.symmetric) (a packet's meta flowHash is the symmetric one: pass it to symmetric tables
   * only). Sets lastReversed. Reads one cache line per slot probed.
   */
  lookup(key: FlowKey, hash?: number): number {
    if (hash === undefined) hash = hashFlowKey(key, this.symmetric);
    const u = this.u;
    const mask = this.mask;
    const a = key.addr;
    const v6 = key.family === 6;
    const tag = (1 | ((key.family >>> 1) << 2) | ((key.proto & 0xff) << 4) | ((hash >>> 11) << 12)) >>> 0;
    const ports = ((key.srcPort << 16) | key.dstPort) >>> 0;
    let i = hash & mask;
    for (let n = 0; n <= mask; n++) {
      const b = i << 4;
      const w = u[b];
      if (w === tag) {
        const p = u[b + 1];
        if (p === ports && sameForward(u, b, a, v6)) {
          this.lastReversed = false;
          return i;
        }
        if (this.symmetric && p === ((key.dstPort << 16) | key.srcPort) >>> 0 && sameReversed(u, b, a, v6)) {
          this.lastReversed = true;
          return i;
        }
      } else if (w === 0) {
        return -1;
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  /**
   * Reads the tag word of each hash's home slot, so that the lines are on their way from
   * memory before the lookups need them: a burst's cache misses then overlap instead of
   * coming one after another. Call it with the burst's flow hashes (those lookup will use),
   * then look the packets up. Measured in `bench flow` (prefetch=on): about 2× at 100k flows
   * when every packet goes to another flow, 1.2–1.3× in the cache-friendly order; a few ns
   * per packet lost when the table fits in cache.
   */
  prefetchBurst(hashes: Uint32Array, n: number): void {
    const u = this.u;
    const mask = this.mask;
    let x = 0;
    for (let j = 0; j < n; j++) x ^= u[(hashes[j]! & mask) << 4]!;
    this.prefetchSink = x;
  }

  /**
   * prefetchBurst() for one hash, for callers that do not gather a burst's hashes; measured
   * ~30 % slower per packet than the burst form at 100k flows.
   */
  prefetch(hash: number): void {
    this.prefetchSink = this.u[(hash & this.mask) << 4]!;
  }

  // ---------------------------------------------------------------------------------------
  // Entry reads (idx must be a used entry's index; nothing is checked on the hot path)

  /** Value word `word` (0 ≤ word < valueWords) of entry idx, as an unsigned 32-bit number. */
  value(idx: number, word: number): number {
    return this.c[Math.imul(idx, this.coldWords) + 4 + word]!;
  }

  /** Packets counted by touch() since the entry was added. */
  packets(idx: number): number {
    return this.f[(idx << 3) + 5]!;
  }

  /** Bytes counted by touch() since the entry was added. */
  bytes(idx: number): number {
    return this.f[(idx << 3) + 6]!;
  }

  /** Time (ms) of the last touch (or of the add). */
  lastSeen(idx: number): number {
    return this.f[(idx << 3) + 7]!;
  }

  /** Time (ms) the entry was added. */
  firstSeen(idx: number): number {
    return this.cf[Math.imul(idx, this.coldHalf) + 1]!;
  }

  /** The stored hash of entry idx (hashFlowKey(key, symmetric)). */
  hashAt(idx: number): number {
    return this.c[Math.imul(idx, this.coldWords)]!;
  }

  /** Whether slot idx holds an entry. */
  isUsed(idx: number): boolean {
    return idx >= 0 && idx <= this.mask && (this.u[idx << 4]! & 3) === 1;
  }

  /**
   * Fills `out` with entry idx's key as it was added (for a symmetric table: the direction of
   * the first packet). Returns out.
   */
  keyAt(idx: number, out: FlowKey): FlowKey {
    const u = this.u;
    const b = idx << 4;
    const w = u[b]!;
    const p = u[b + 1]!;
    const fam = (w >>> 2) & 3;
    out.family = (fam === 2 ? 4 : fam === 3 ? 6 : 0) as FlowFamily;
    out.proto = (w >>> 4) & 0xff;
    out.srcPort = p >>> 16;
    out.dstPort = p & 0xffff;
    const a = out.addr;
    for (let k = 0; k < 8; k++) a[k] = u[b + 2 + k]!;
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Iteration

  /**
   * The first used slot at or after `from`, or -1: `for (let i = t.nextUsed(0); i >= 0;
   * i = t.nextUsed(i + 1))`. Removing the current entry while iterating is fine; adding may
   * compact (entries move).
   */
  nextUsed(from: number): number {
    const u = this.u;
    const cap = this.capacity;
    for (let i = from < 0 ? 0 : from; i < cap; i++) {
      if ((u[i << 4]! & 3) === 1) return i;
    }
    return -1;
  }

  /** Calls fn(idx) for every entry (cold). fn may remove the entry it is given, not add. */
  forEach(fn: (idx: number) => void): void {
    for (let i = this.nextUsed(0); i >= 0; i = this.nextUsed(i + 1)) fn(i);
  }
}
