/**
 * Address → slot maps in typed arrays (open addressing, linear probing), for neighbor tables:
 * l3fwd's static neighbors and ip-router's ARP cache. A slot is an index the caller keeps its
 * own per-entry arrays by (MAC bytes, state, timers).
 *
 *   const m = new Ipv4Map(1024);         // cold: allocates its arrays
 *   const s = m.add(addr);               // the slot of addr (made if new), -1 when full
 *   m.get(addr)                          // its slot or -1: hot path, no allocation
 *   m.delete(addr)                       // frees the slot (backward-shift: no tombstones)
 *
 * Ipv6Map is the same keyed by four network-order words (no delete: l3fwd's neighbors are static).
 */

function pow2AtLeast(n: number): number {
  let s = 8;
  while (s < n) s *= 2;
  return s;
}

/** IPv4 address → slot 0..capacity-1. */
export class Ipv4Map {
  /** key per hash position (int32) */
  private readonly keys: Int32Array;
  /** slot + 1 per hash position, 0 = empty */
  private readonly vals: Int32Array;
  private readonly mask: number;
  /** free slots, a stack */
  private readonly free: Int32Array;
  private freeTop: number;
  /** the key of each slot in use (for iteration and deletes by slot) */
  readonly slotKey: Int32Array;
  readonly slotUsed: Uint8Array;
  count = 0;

  constructor(readonly capacity: number) {
    const size = pow2AtLeast(capacity * 2);
    this.keys = new Int32Array(size);
    this.vals = new Int32Array(size);
    this.mask = size - 1;
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    this.slotKey = new Int32Array(capacity);
    this.slotUsed = new Uint8Array(capacity);
  }

  private home(k: number): number {
    return (Math.imul(k, 0x9e3779b1) >>> 12) & this.mask;
  }

  /** The slot of `addr` (unsigned or int32), or -1. Hot path. */
  get(addr: number): number {
    const k = addr | 0;
    const keys = this.keys;
    const vals = this.vals;
    const m = this.mask;
    for (let j = this.home(k); ; j = (j + 1) & m) {
      const v = vals[j]!;
      if (v === 0) return -1;
      if (keys[j] === k) return v - 1;
    }
  }

  /** The slot of `addr`, made if new; -1 when every slot is in use. Hot-path safe. */
  add(addr: number): number {
    const k = addr | 0;
    const keys = this.keys;
    const vals = this.vals;
    const m = this.mask;
    let j = this.home(k);
    for (; ; j = (j + 1) & m) {
      const v = vals[j]!;
      if (v === 0) break;
      if (keys[j] === k) return v - 1;
    }
    if (this.freeTop === 0) return -1;
    const s = this.free[--this.freeTop]!;
    keys[j] = k;
    vals[j] = s + 1;
    this.slotKey[s] = k;
    this.slotUsed[s] = 1;
    this.count++;
    return s;
  }

  /** Removes `addr`; its slot is free again. False if absent. Hot-path safe. */
  delete(addr: number): boolean {
    const k = addr | 0;
    const keys = this.keys;
    const vals = this.vals;
    const m = this.mask;
    let j = this.home(k);
    for (; ; j = (j + 1) & m) {
      const v = vals[j]!;
      if (v === 0) return false;
      if (keys[j] === k) break;
    }
    const s = vals[j]! - 1;
    this.slotUsed[s] = 0;
    this.free[this.freeTop++] = s;
    this.count--;
    // Backward-shift deletion: move later entries of the probe run into the hole.
    let hole = j;
    for (let i = (j + 1) & m; vals[i] !== 0; i = (i + 1) & m) {
      const h = this.home(keys[i]!);
      // entry i may move to `hole` if its home is not in (hole, i] (cyclically)
      const between = hole <= i ? h > hole && h <= i : h > hole || h <= i;
      if (!between) {
        keys[hole] = keys[i]!;
        vals[hole] = vals[i]!;
        hole = i;
      }
    }
    vals[hole] = 0;
    keys[hole] = 0;
    return true;
  }
}

/** IPv6 address (four network-order words) → slot 0..capacity-1. Insert and lookup only. */
export class Ipv6Map {
  private readonly keys: Int32Array;
  private readonly vals: Int32Array;
  private readonly mask: number;
  count = 0;

  constructor(readonly capacity: number) {
    const size = pow2AtLeast(capacity * 2);
    this.keys = new Int32Array(size * 4);
    this.vals = new Int32Array(size);
    this.mask = size - 1;
  }

  private home(a: number, b: number, c: number, d: number): number {
    const h = Math.imul(a ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f), 0x9e3779b1);
    return (h >>> 12) & this.mask;
  }

  /** The slot of words[0..3], or -1. Hot path. */
  get(w: Uint32Array): number {
    const a = w[0]! | 0;
    const b = w[1]! | 0;
    const c = w[2]! | 0;
    const d = w[3]! | 0;
    const keys = this.keys;
    const vals = this.vals;
    const m = this.mask;
    for (let j = this.home(a, b, c, d); ; j = (j + 1) & m) {
      const v = vals[j]!;
      if (v === 0) return -1;
      const k = j << 2;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) return v - 1;
    }
  }

  /** The slot of words[0..3], made if new (slots are given out in order); -1 when full. Cold. */
  add(w: Uint32Array): number {
    const found = this.get(w);
    if (found >= 0) return found;
    if (this.count >= this.capacity) return -1;
    const a = w[0]! | 0;
    const b = w[1]! | 0;
    const c = w[2]! | 0;
    const d = w[3]! | 0;
    let j = this.home(a, b, c, d);
    while (this.vals[j] !== 0) j = (j + 1) & this.mask;
    const k = j << 2;
    this.keys[k] = a;
    this.keys[k + 1] = b;
    this.keys[k + 2] = c;
    this.keys[k + 3] = d;
    const s = this.count++;
    this.vals[j] = s + 1;
    return s;
  }
}
