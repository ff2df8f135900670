/**
 * The writer's side of a flow table, and making one. FlowTable adds to FlowTableReader
 * (flow-table-reader.ts: attaching, lookup, entry reads, iteration, what readers in other
 * processes may rely on, and the table's design) the methods that change a table; this module
 * also formats tables (initFlowTable, flowTableFor, createFlowTable). The layout and its
 * diagram are in flow-table-layout.ts.
 *
 * Every method here is hot-path and allocation-free unless its comment says cold or
 * `Allocates:`.
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
 */
import { NfcError } from '../errors.js';
import { assertRegion } from '../shm/layout.js';
import { hashFlowKey, type FlowKey } from '../packet/flow-key.js';
import {
  FLOW_TABLE_HEADER_BYTES,
  FLOW_TABLE_MAGIC,
  FLOW_TABLE_VERSION,
  FlowTableFlags,
  FlowTableOffsets as O,
  HOT_WORDS,
  flowTableBytes,
  flowTableGeometry,
  type FlowTableGeometry,
  type FlowTableOptions,
} from './flow-table-layout.js';
import { FlowTableReader, sameForward, sameReversed } from './flow-table-reader.js';

export { flowTableBytes, type FlowTableGeometry, type FlowTableOptions } from './flow-table-layout.js';

/**
 * Formats a new, empty flow table at `byteOffset` of `buffer` (owner only, cold). The region
 * must be 64-byte aligned and flowTableBytes(opts) long. Nobody may be using it meanwhile.
 * Allocates: the geometry it returns and views of the region.
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
  hf[O.idleTimeout >> 3] = g.idleTimeoutMs;
  hf[O.hardTimeout >> 3] = g.hardTimeoutMs;
  Atomics.store(h, 0, FLOW_TABLE_MAGIC);
  return g;
}

/** Copies n words (f64 fields bit for bit). Cold: compaction only. */
function copyWords(from: Uint32Array, fromAt: number, to: Uint32Array, toAt: number, n: number): void {
  for (let k = 0; k < n; k++) to[toAt + k] = from[fromAt + k]!;
}

/**
 * A process's handle on a flow table: FlowTableReader's reading methods, which any process may
 * call, and the writer's, which exactly one handle may call (see the file comment).
 */
export class FlowTable extends FlowTableReader {
  /** Set by lookupOrAdd: true when it added the entry it returned. */
  lastAdded = false;
  /** scratch space for two entries during compaction (preallocated) */
  private carry: Uint32Array;
  private spare: Uint32Array;

  /**
   * Attaches to a table formatted by initFlowTable (cold). Allocates: the typed-array views and
   * the compaction scratch.
   */
  constructor(buffer: ArrayBuffer, byteOffset = 0, what = 'flow table') {
    super(buffer, byteOffset, what);
    this.carry = new Uint32Array(HOT_WORDS + this.coldWords);
    this.spare = new Uint32Array(HOT_WORDS + this.coldWords);
  }

  // ---------------------------------------------------------------------------------------
  // Settings

  /**
   * Changes the timeouts (writer, cold). 0 = none. Allocates: the options and geometry objects
   * it checks them with.
   */
  setTimeouts(idleTimeoutMs: number, hardTimeoutMs: number): void {
    const g = flowTableGeometry({ capacity: this.capacity, idleTimeoutMs, hardTimeoutMs });
    this.hf[4] = g.idleTimeoutMs;
    this.hf[5] = g.hardTimeoutMs;
  }

  // ---------------------------------------------------------------------------------------
  // Add

  /**
   * The index of key's entry, adding it if missing (zeroed value words and counters,
   * firstSeen = lastSeen = now; lastAdded tells which). -1 when the table already holds
   * maxCount entries: fullCount is incremented, nothing is thrown. May compact the table first
   * when tombstones exceed a quarter of the slots. `hash` as for lookup(). Writer only.
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
        if (this.symmetric && p === ((key.dstPort << 16) | key.srcPort) >>> 0 && sameReversed(u, b, a, v6)) {
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
   * The miss path of lookupOrAdd (kept out of it so that the hit path stays small): checks
   * room, compacts if due, writes the entry into the first tombstone or the empty slot that
   * ended the probe.
   */
  private add(
    key: FlowKey,
    now: number,
    hash: number,
    tag: number,
    ports: number,
    v6: boolean,
    empty: number,
    tomb: number,
  ): number {
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
      u[b + 3] = a[1]!;
      u[b + 4] = a[2]!;
      u[b + 5] = a[3]!;
      u[b + 7] = a[5]!;
      u[b + 8] = a[6]!;
      u[b + 9] = a[7]!;
    } else {
      u[b + 3] = 0;
      u[b + 4] = 0;
      u[b + 5] = 0;
      u[b + 7] = 0;
      u[b + 8] = 0;
      u[b + 9] = 0;
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
  // Entry writes (idx must be a used entry's index; nothing is checked on the hot path)

  /**
   * Counts one packet of `bytes` bytes seen at `now` (ms): writes only the entry's hot
   * record, the line lookup just read. Writer only.
   */
  touch(idx: number, bytes: number, now: number): void {
    const f = this.f;
    const q = idx << 3;
    f[q + 5]! += 1;
    f[q + 6]! += bytes;
    f[q + 7] = now;
  }

  /** Sets a value word (stored as u32: -1 reads back as 0xffffffff). Writer only. */
  setValue(idx: number, word: number, v: number): void {
    this.c[Math.imul(idx, this.coldWords) + 4 + word] = v;
  }

  // ---------------------------------------------------------------------------------------
  // Removal, expiry, compaction

  /**
   * Removes entry idx; false if the slot holds no entry. The slot becomes a tombstone, or
   * empty (with any tombstones just before it) when the next slot is empty: no probe
   * sequence passes through such a run. Writer only.
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
   * entries). Returns how many were removed. Writer only. No allocation, given a callback
   * created once.
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
      if (
        (u[i << 4]! & 3) === 1 &&
        ((idle > 0 && now - f[(i << 3) + 7]! >= idle) || (hard > 0 && now - cf[Math.imul(i, coldHalf) + 1]! >= hard))
      ) {
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
}

/**
 * Options for a table that holds exactly `flows` flows: the smallest power-of-two slot count
 * that keeps the load at or under the default 0.75, with maxLoad = flows / slots (exact: the
 * divisor is a power of two). Cold. Allocates: the options it returns.
 */
export function flowTableFor(
  flows: number,
  opts: Omit<FlowTableOptions, 'capacity' | 'maxLoad'> = {},
): FlowTableOptions {
  if (!Number.isInteger(flows) || flows < 1) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `flow table for ${flows} flows: give a whole number of at least 1`);
  }
  const slots = Math.max(8, 2 ** Math.ceil(Math.log2(Math.ceil(flows / 0.75))));
  return { ...opts, capacity: slots, maxLoad: flows / slots };
}

/** A flow table in private memory (an NF's own state; cold). Allocates: the memory and the handle. */
export function createFlowTable(opts: FlowTableOptions, what = 'flow table'): FlowTable {
  const buf = new ArrayBuffer(flowTableBytes(opts));
  initFlowTable(buf, 0, opts);
  return new FlowTable(buf, 0, what);
}
