/**
 * A flow table: FlowKey → entry index, with per-flow NF state, counters and timeouts, in one
 * region of (shared) memory. The layout and its diagram are in flow-table-layout.ts.
 *
 * Open addressing with linear probing over typed arrays (Uint32Array and Float64Array views of
 * the same memory): no allocation, no Map, no string or BigInt on the hot path. Each slot has a
 * 64-byte hot record (tag word, key, packets, bytes, lastSeen) and a cold record (full hash, firstSeen, value words), so lookupOrAdd + touch of a
 * known flow reads and writes one cache line, and a probe rejects a slot with one comparison
 * of the tag word (state, family, proto and 20 hash bits). A symmetric table hashes with
 * hashFlowKey(key, true) and compares keys in both orientations, so both directions of a
 * connection find one entry.
 *
 * Deletion leaves a tombstone (entries never move on remove, so an index stays valid until its
 * entry is removed); a tombstone followed by an empty slot becomes empty at once. When
 * tombstones exceed a quarter of the slots, the next add compacts the table in place (or call
 * compact() at a quiet moment: it is O(capacity)).
 *
 * ## One writer
 *
 * Exactly one FlowTable handle (one process, one thread) may change a table: lookupOrAdd,
 * touch, setValue, remove, expire, compact, clear, setTimeouts. Nothing here locks; two
 * writers would corrupt it. Typically the NF instance that owns a shard of flows is the writer.
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
  Cold, FLOW_TABLE_HEADER_BYTES, FLOW_TABLE_LIMITS, FLOW_TABLE_MAGIC, FLOW_TABLE_VERSION, FlowState, FlowTableFlags,
  FlowTableOffsets as O, Hot, HOT_WORDS, Tag, flowTableBytes, flowTableGeometry, type FlowTableGeometry, type FlowTableOptions,
} from './flow-table-layout.js';

export { flowTableBytes, type FlowTableGeometry, type FlowTableOptions } from './flow-table-layout.js';

// Header word indices. Hot methods write the numbers as literals (V8 does not always fold
// loads of module constants into the code; see architecture.md "Measured here");
// checkLiterals() keeps them honest.
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
  const ok = H_COUNT === 16 && H_TOMBSTONES === 17 && H_CURSOR === 18 && H_GENERATION === 19 &&
    HF_IDLE === 4 && HF_HARD === 5 && HF_FULL === 10 && HF_ADDS === 11 && HF_EXPIRED === 12 &&
    FlowState.EMPTY === 0 && FlowState.USED === 1 && FlowState.TOMBSTONE === 2 && FlowState.PENDING === 3 &&
    Tag.stateMask === 3 && Tag.familyShift === 2 && Tag.protoShift === 4 && Tag.hashShift === 11 &&
    HOT_WORDS === 16 && Hot.tag === 0 && Hot.ports === 1 && Hot.addr === 2 &&
    Hot.packets === 10 && Hot.bytes === 12 && Hot.lastSeen === 14 &&
    Cold.hash === 0 && Cold.firstSeen === 2 && Cold.value === 4 && FLOW_TABLE_HEADER_BYTES === 128;
  if (!ok) throw new NfcError('NFC_ERR_LAYOUT', 'flow table: flow-table.ts literals do not match flow-table-layout.ts');
}
checkLiterals();

/**
 * Formats a new, empty flow table at `byteOffset` of `buffer` (owner only, cold). The region
 * must be 64-byte aligned and flowTableBytes(opts) long. Nobody may be using it meanwhile.
 */
export function initFlowTable(buffer: ArrayBuffer, byteOffset: number, opts: FlowTableOptions): FlowTableGeometry {
  const g = flowTableGeometry(opts);
  assertRegion('flow table', buffer, byteOffset, g.totalBytes);
  const h = new Uint32Array(buffer, byteOffset, FLOW_TABLE_HEADER_BYTES >> 2);
  // Magic last: a process attaching meanwhile sees no table rather than half of one.
  Atomics.store(h, 0, 0);
  new Uint8Array(buffer, byteOffset, g.totalBytes).fill(0);
  const hf = new Float64Array(buffer, byteOffset, FLOW_TABLE_HEADER_BYTES >> 3);
  h[O.version >> 2] = FLOW_TABLE_VERSION;
  h[O.capacity >> 2] = g.capacity;
  h[O.mask >> 2] = g.capacity - 1;
  h[O.valueWords >> 2] = g.valueWords;
  h[O.coldWords >> 2] = g.coldWords;
  h[O.maxCount >> 2] = g.maxCount;
  h[O.flags >> 2] = g.symmetric ? FlowTableFlags.symmetric : 0;
  h[O.hot >> 2] = g.hotOffset;
  h[O.cold >> 2] = g.coldOffset;
  hf[HF_IDLE] = g.idleTimeoutMs;
  hf[HF_HARD] = g.hardTimeoutMs;
  Atomics.store(h, 0, FLOW_TABLE_MAGIC);
  return g;
}

/**
 * Address comparison against the hot record whose words start at b, key in its own
 * orientation. IPv4 (and empty) keys compare address words 0 and 4 only, like hashFlowKey.
 * Hot path: no allocation.
 */
function sameForward(u: Uint32Array, b: number, a: Uint32Array, v6: boolean): boolean {
  if (u[b + 2] !== a[0] || u[b + 6] !== a[4]) return false;
  if (!v6) return true;
  return u[b + 3] === a[1] && u[b + 4] === a[2] && u[b + 5] === a[3] &&
    u[b + 7] === a[5] && u[b + 8] === a[6] && u[b + 9] === a[7];
}

/** The same with the key's source and destination swapped. Hot path: no allocation. */
function sameReversed(u: Uint32Array, b: number, a: Uint32Array, v6: boolean): boolean {
  if (u[b + 2] !== a[4] || u[b + 6] !== a[0]) return false;
  if (!v6) return true;
  return u[b + 3] === a[5] && u[b + 4] === a[6] && u[b + 5] === a[7] &&
    u[b + 7] === a[1] && u[b + 8] === a[2] && u[b + 9] === a[3];
}

/** Copies n words (f64 fields bit for bit). Cold: compaction only. */
function copyWords(from: Uint32Array, fromAt: number, to: Uint32Array, toAt: number, n: number): void {
  for (let k = 0; k < n; k++) to[toAt + k] = from[fromAt + k]!;
}

/** A process's handle on a flow table (see the file comment for who may write). */
export class FlowTable {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  /** slots (a power of two) */
  readonly capacity: number;
  /** most entries in use at once: floor(capacity × maxLoad) */
  readonly maxCount: number;
  readonly valueWords: number;
  readonly symmetric: boolean;
  /** Set by lookupOrAdd: true when it added the entry it returned. */
  lastAdded = false;
  /**
   * Set by lookup and lookupOrAdd when they find an entry: true when the key given is the
   * reverse of the stored key (symmetric tables: the packet goes in the reply direction).
   */
  lastReversed = false;
  /** The last word prefetch()/prefetchBurst() read: stored so that the JIT cannot drop the reads. */
  prefetchSink = 0;

  private readonly mask: number;
  /** u32 words per cold record, and half that (f64 per cold record) */
  private readonly coldWords: number;
  private readonly coldHalf: number;
  /** hot records as u32 words (record i at i << 4) and as f64 (record i at i << 3) */
  private readonly u: Uint32Array;
  private readonly f: Float64Array;
  /** cold records as u32 words (record i at i × coldWords) and as f64 */
  private readonly c: Uint32Array;
  private readonly cf: Float64Array;
  /** header as u32 words and as f64 */
  private readonly h: Uint32Array;
  private readonly hf: Float64Array;
  /** scratch space for two entries during compaction (preallocated) */
  private carry: Uint32Array;
  private spare: Uint32Array;

  /** Attaches to a table formatted by initFlowTable (cold: allocates views). */
  constructor(buffer: ArrayBuffer, byteOffset = 0, what = 'flow table') {
    if (byteOffset < 0 || byteOffset % 64 !== 0 || byteOffset + FLOW_TABLE_HEADER_BYTES > buffer.byteLength) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: byte offset ${byteOffset} is not 64-byte aligned or outside the ${buffer.byteLength}-byte mapping`);
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
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: header is corrupt (${(err as Error).message.split('\n')[0]})`, { cause: err });
    }
    if (h[O.mask >> 2] !== capacity - 1 || h[O.coldWords >> 2] !== g.coldWords || h[O.hot >> 2] !== g.hotOffset ||
      h[O.cold >> 2] !== g.coldOffset || maxCount < 1 || maxCount > capacity * FLOW_TABLE_LIMITS.maxMaxLoad) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: header geometry is inconsistent (mask, coldWords, hot, cold or maxCount)`);
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
    this.carry = new Uint32Array(HOT_WORDS + g.coldWords);
    this.spare = new Uint32Array(HOT_WORDS + g.coldWords);
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

  /** Changes the timeouts (writer, cold). 0 = none. */
  setTimeouts(idleTimeoutMs: number, hardTimeoutMs: number): void {
    const g = flowTableGeometry({ capacity: this.capacity, idleTimeoutMs, hardTimeoutMs });
    this.hf[4] = g.idleTimeoutMs;
    this.hf[5] = g.hardTimeoutMs;
  }

  // ---------------------------------------------------------------------------------------
  // Lookup and add

  /**
   * The index of key's entry, or -1. `hash`, when given, must be hashFlowKey(key,
   * this.symmetric) (a packet's meta flowHash is the symmetric one: pass it to symmetric tables
   * only). Sets lastReversed. Reads one cache line per slot probed. Hot path: no allocation.
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
        if (this.symmetric && p === (((key.dstPort << 16) | key.srcPort) >>> 0) && sameReversed(u, b, a, v6)) {
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
   * The index of key's entry, adding it if missing (zeroed value words and counters,
   * firstSeen = lastSeen = now; lastAdded tells which). -1 when the table already holds
   * maxCount entries: fullCount is incremented, nothing is thrown. May compact the table first
   * when tombstones exceed a quarter of the slots. `hash` as for lookup(). Writer only.
   * Hot path: no allocation.
   */
  lookupOrAdd(key: FlowKey, now: number, hash?: number): number {
    if (hash === undefined) hash = hashFlowKey(key, this.symmetric);
    const u = this.u;
    const mask = this.mask;
    const a = key.addr;
    const v6 = key.family === 6;
    const tag = (1 | ((key.family >>> 1) << 2) | ((key.proto & 0xff) << 4) | ((hash >>> 11) << 12)) >>> 0;
    const ports = ((key.srcPort << 16) | key.dstPort) >>> 0;
    let i = hash & mask;
    let empty = -1;
    let tomb = -1;
    for (let n = 0; n <= mask; n++) {
      const b = i << 4;
      const w = u[b];
      if (w === tag) {
        const p = u[b + 1];
        if (p === ports && sameForward(u, b, a, v6)) {
          this.lastAdded = false;
          this.lastReversed = false;
          return i;
        }
        if (this.symmetric && p === (((key.dstPort << 16) | key.srcPort) >>> 0) && sameReversed(u, b, a, v6)) {
          this.lastAdded = false;
          this.lastReversed = true;
          return i;
        }
      } else if (w === 0) {
        empty = i;
        break;
      } else if (w === 2 && tomb < 0) {
        tomb = i;
      }
      i = (i + 1) & mask;
    }
    return this.add(key, now, hash, tag, ports, v6, empty, tomb);
  }

  /**
   * Reads the tag word of each hash's home slot, so that the lines are on their way from
   * memory before the lookups need them: a burst's cache misses then overlap instead of
   * coming one after another. Call it with the burst's flow hashes (those lookup will use),
   * then look the packets up. Measured in `bench flow` (prefetch=on): about 2× at 100k flows
   * when every packet goes to another flow, 1.2–1.3× in the cache-friendly order; a few ns
   * per packet lost when the table fits in cache. Hot path: no allocation.
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
   * ~30 % slower per packet than the burst form at 100k flows. Hot path: no allocation.
   */
  prefetch(hash: number): void {
    this.prefetchSink = this.u[(hash & this.mask) << 4]!;
  }

  /**
   * The miss path of lookupOrAdd (kept out of it so that the hit path stays small): checks
   * room, compacts if due, writes the entry into the first tombstone or the empty slot that
   * ended the probe. Hot path (adds): no allocation.
   */
  private add(key: FlowKey, now: number, hash: number, tag: number, ports: number, v6: boolean, empty: number, tomb: number): number {
    this.lastAdded = false;
    const h = this.h;
    const count = h[16]!;
    if (count >= this.maxCount) {
      this.hf[10]! += 1;
      return -1;
    }
    const tombs = h[17]!;
    // Compact when tombstones exceed a quarter of the slots, or when filling an empty slot
    // would leave none (probes of missing keys end at an empty slot).
    if (tombs > this.capacity >>> 2 || (tomb < 0 && (empty < 0 || count + tombs + 2 > this.capacity))) {
      this.compact();
      tomb = -1;
      empty = this.firstEmpty(hash);
    }
    const reuse = tomb >= 0;
    const slot = reuse ? tomb : empty;
    let gen = 0;
    if (reuse) {
      // The slot's old words are about to be overwritten: readers must notice (seqlock).
      gen = h[19]!;
      Atomics.store(h, 19, (gen + 1) >>> 0);
      h[17] = tombs - 1;
    }
    const u = this.u;
    const a = key.addr;
    const b = slot << 4;
    u[b + 1] = ports;
    u[b + 2] = a[0]!;
    u[b + 6] = a[4]!;
    if (v6) {
      u[b + 3] = a[1]!; u[b + 4] = a[2]!; u[b + 5] = a[3]!;
      u[b + 7] = a[5]!; u[b + 8] = a[6]!; u[b + 9] = a[7]!;
    } else {
      u[b + 3] = 0; u[b + 4] = 0; u[b + 5] = 0;
      u[b + 7] = 0; u[b + 8] = 0; u[b + 9] = 0;
    }
    const f = this.f;
    const q = slot << 3;
    f[q + 5] = 0; // packets
    f[q + 6] = 0; // bytes
    f[q + 7] = now; // lastSeen
    const c = this.c;
    const cb = Math.imul(slot, this.coldWords);
    c[cb] = hash;
    c[cb + 1] = 0;
    this.cf[(cb >> 1) + 1] = now; // firstSeen
    const end = cb + this.coldWords;
    for (let k = cb + 4; k < end; k++) c[k] = 0;
    // Publish: the tag (state used) last.
    Atomics.store(u, b, tag);
    if (reuse) Atomics.store(h, 19, (gen + 2) >>> 0);
    h[16] = count + 1;
    this.hf[11]! += 1;
    this.lastAdded = true;
    this.lastReversed = false;
    return slot;
  }

  /** First empty slot on hash's probe sequence (after compaction: no tombstones). */
  private firstEmpty(hash: number): number {
    const u = this.u;
    const mask = this.mask;
    let i = hash & mask;
    while (u[i << 4] !== 0) i = (i + 1) & mask;
    return i;
  }

  // ---------------------------------------------------------------------------------------
  // Entry access (idx must be a used entry's index; nothing is checked on the hot path)

  /**
   * Counts one packet of `bytes` bytes seen at `now` (ms): writes only the entry's hot
   * record, the line lookup just read. Writer only. Hot path: no allocation.
   */
  touch(idx: number, bytes: number, now: number): void {
    const f = this.f;
    const q = idx << 3;
    f[q + 5]! += 1;
    f[q + 6]! += bytes;
    f[q + 7] = now;
  }

  /** Value word `word` (0 ≤ word < valueWords) of entry idx, as an unsigned 32-bit number. Hot path: no allocation. */
  value(idx: number, word: number): number {
    return this.c[Math.imul(idx, this.coldWords) + 4 + word]!;
  }

  /** Sets a value word (stored as u32: -1 reads back as 0xffffffff). Writer only. Hot path: no allocation. */
  setValue(idx: number, word: number, v: number): void {
    this.c[Math.imul(idx, this.coldWords) + 4 + word] = v;
  }

  /** Hot path: no allocation. */
  packets(idx: number): number {
    return this.f[(idx << 3) + 5]!;
  }

  /** Hot path: no allocation. */
  bytes(idx: number): number {
    return this.f[(idx << 3) + 6]!;
  }

  /** Time (ms) of the last touch (or of the add). Hot path: no allocation. */
  lastSeen(idx: number): number {
    return this.f[(idx << 3) + 7]!;
  }

  /** Time (ms) the entry was added. Hot path: no allocation. */
  firstSeen(idx: number): number {
    return this.cf[Math.imul(idx, this.coldHalf) + 1]!;
  }

  /** The stored hash of entry idx (hashFlowKey(key, symmetric)). Hot path: no allocation. */
  hashAt(idx: number): number {
    return this.c[Math.imul(idx, this.coldWords)]!;
  }

  /** Whether slot idx holds an entry. Hot path: no allocation. */
  isUsed(idx: number): boolean {
    return idx >= 0 && idx <= this.mask && (this.u[idx << 4]! & 3) === 1;
  }

  /**
   * Fills `out` with entry idx's key as it was added (for a symmetric table: the direction of
   * the first packet). Returns out. Hot path: no allocation.
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
  // Removal, expiry, compaction

  /**
   * Removes entry idx; false if the slot holds no entry. The slot becomes a tombstone, or
   * empty (with any tombstones just before it) when the next slot is empty: no probe
   * sequence passes through such a run. Writer only. Hot path: no allocation.
   */
  remove(idx: number): boolean {
    const u = this.u;
    const h = this.h;
    const mask = this.mask;
    if (idx < 0 || idx > mask) return false;
    const b = idx << 4;
    if ((u[b]! & 3) !== 1) return false;
    h[16] = h[16]! - 1;
    if (u[((idx + 1) & mask) << 4] !== 0) {
      Atomics.store(u, b, 2);
      h[17] = h[17]! + 1;
      return true;
    }
    Atomics.store(u, b, 0);
    let freed = 0;
    for (let j = (idx - 1) & mask; u[j << 4] === 2; j = (j - 1) & mask) {
      Atomics.store(u, j << 4, 0);
      freed++;
    }
    if (freed !== 0) h[17] = h[17]! - freed;
    return true;
  }

  /**
   * Removes entries idle for idleTimeoutMs (now ≥ lastSeen + idle) or added hardTimeoutMs ago
   * (now ≥ firstSeen + hard); a timeout of 0 never fires. Scans at most `max` slots, starting
   * where the previous call stopped (a shared cursor), so a data-path caller can sweep the
   * table a slice per burst; with the default it scans every slot once. Calls onExpire(idx)
   * before each removal (the entry can still be read; the callback must not add or remove
   * entries). Returns how many were removed. Writer only. Hot path: no allocation (given a
   * callback created once).
   */
  expire(now: number, onExpire?: (idx: number) => void, max?: number): number {
    const idle = this.hf[4]!;
    const hard = this.hf[5]!;
    if (!(idle > 0) && !(hard > 0)) return 0;
    const u = this.u;
    const f = this.f;
    const cf = this.cf;
    const mask = this.mask;
    const coldHalf = this.coldHalf;
    let n = max === undefined || max > this.capacity ? this.capacity : max;
    let i = this.h[18]! & mask;
    let removed = 0;
    for (; n > 0; n--) {
      if ((u[i << 4]! & 3) === 1 &&
        ((idle > 0 && now - f[(i << 3) + 7]! >= idle) || (hard > 0 && now - cf[Math.imul(i, coldHalf) + 1]! >= hard))) {
        if (onExpire !== undefined) onExpire(i);
        if (this.remove(i)) removed++;
      }
      i = (i + 1) & mask;
    }
    this.h[18] = i;
    if (removed !== 0) this.hf[12]! += removed;
    return removed;
  }

  /**
   * Rebuilds the table in place without tombstones (writer only; cold: O(capacity), allocates
   * nothing). Entries may move: indices held across a compaction are stale. Readers see the
   * generation odd meanwhile. Returns the number of tombstones cleared.
   *
   * Every used entry is marked pending and tombstones become empty; then each pending entry
   * is taken out and re-inserted at the first slot on its probe sequence that is empty or
   * pending (a pending one is swapped out and re-inserted in turn). Each step places one
   * entry for good, and the slots between an entry's home and its place stay used, so every
   * probe finds its key again.
   */
  compact(): number {
    const u = this.u;
    const c = this.c;
    const h = this.h;
    const cw = this.coldWords;
    const mask = this.mask;
    const cleared = h[17]!;
    const gen = h[19]!;
    Atomics.store(h, 19, (gen + 1) >>> 0);
    for (let i = 0; i <= mask; i++) {
      const w = u[i << 4]!;
      if (w === 2) u[i << 4] = 0;
      else if ((w & 3) === 1) u[i << 4] = (w | 3) >>> 0;
    }
    let carry = this.carry;
    let spare = this.spare;
    for (let i = 0; i <= mask; i++) {
      if ((u[i << 4]! & 3) !== 3) continue;
      copyWords(u, i << 4, carry, 0, HOT_WORDS);
      copyWords(c, i * cw, carry, HOT_WORDS, cw);
      u[i << 4] = 0;
      for (;;) {
        let j = carry[HOT_WORDS]! & mask; // the carried entry's hash: its home slot
        while ((u[j << 4]! & 3) === 1) j = (j + 1) & mask;
        const pending = u[j << 4] !== 0;
        if (pending) {
          copyWords(u, j << 4, spare, 0, HOT_WORDS);
          copyWords(c, j * cw, spare, HOT_WORDS, cw);
        }
        copyWords(carry, 0, u, j << 4, HOT_WORDS);
        copyWords(carry, HOT_WORDS, c, j * cw, cw);
        u[j << 4] = ((carry[0]! & ~3) | 1) >>> 0;
        if (!pending) break;
        const t = carry;
        carry = spare;
        spare = t;
      }
    }
    this.carry = carry;
    this.spare = spare;
    h[17] = 0;
    Atomics.store(h, 19, (gen + 2) >>> 0);
    return cleared;
  }

  /** Removes every entry (writer only, cold). Counters fullCount, adds and expired are kept. */
  clear(): void {
    const h = this.h;
    const gen = h[19]!;
    Atomics.store(h, 19, (gen + 1) >>> 0);
    this.u.fill(0);
    this.c.fill(0);
    h[16] = 0;
    h[17] = 0;
    h[18] = 0;
    Atomics.store(h, 19, (gen + 2) >>> 0);
  }

  // ---------------------------------------------------------------------------------------
  // Iteration

  /**
   * The first used slot at or after `from`, or -1: `for (let i = t.nextUsed(0); i >= 0;
   * i = t.nextUsed(i + 1))`. Removing the current entry while iterating is fine; adding may
   * compact (entries move). Hot path: no allocation.
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

/**
 * Options for a table that holds exactly `flows` flows: the smallest power-of-two slot count
 * that keeps the load at or under the default 0.75, with maxLoad = flows / slots (exact: the
 * divisor is a power of two). Cold.
 */
export function flowTableFor(flows: number, opts: Omit<FlowTableOptions, 'capacity' | 'maxLoad'> = {}): FlowTableOptions {
  if (!Number.isInteger(flows) || flows < 1) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `flow table for ${flows} flows: give a whole number of at least 1`);
  }
  const slots = Math.max(8, 2 ** Math.ceil(Math.log2(Math.ceil(flows / 0.75))));
  return { ...opts, capacity: slots, maxLoad: flows / slots };
}

/** A flow table in private memory (an NF's own state; cold: allocates). */
export function createFlowTable(opts: FlowTableOptions, what = 'flow table'): FlowTable {
  const buf = new ArrayBuffer(flowTableBytes(opts));
  initFlowTable(buf, 0, opts);
  return new FlowTable(buf, 0, what);
}
