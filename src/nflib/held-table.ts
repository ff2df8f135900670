/**
 * The table of packets an NF holds (kept or created, not yet sent): `words[base]` is the count,
 * `words[base + 1 + i]` the descriptors, and each held buffer's meta `user1` is its index, so
 * finding and removing one is O(1). The engine keeps it in the NF's slot of shared memory (the
 * manager reclaims it after a crash); the runNF harness in private memory.
 *
 * Every method is on the hot path and allocates nothing.
 */
import { Meta } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';

export class HeldTable {
  constructor(
    private readonly pool: PacketPool,
    private readonly words: Uint32Array,
    private readonly base: number,
    readonly max: number,
  ) {}

  get count(): number {
    return this.words[this.base]!;
  }

  /** The descriptor at position i (i < count). */
  at(i: number): number {
    return this.words[this.base + 1 + i]!;
  }

  /** Word index of the next free entry (for allocating straight into the table). */
  get nextWord(): number {
    return this.base + 1 + this.count;
  }

  /** Adds d; false when full. */
  hold(d: number): boolean {
    const n = this.count;
    if (n >= this.max) return false;
    this.words[this.base + 1 + n] = d;
    this.pool.setMeta(d, Meta.user1, n);
    this.words[this.base] = n + 1;
    return true;
  }

  /** d's position, or -1 when d is not held. */
  index(d: number): number {
    if (!this.pool.isValid(d)) return -1;
    const idx = this.pool.meta(d, Meta.user1);
    return idx < this.count && this.words[this.base + 1 + idx] === d ? idx : -1;
  }

  /** Removes entry idx by moving the last entry into it. */
  remove(idx: number): void {
    const last = this.count - 1;
    if (idx !== last) {
      const d = this.words[this.base + 1 + last]!;
      this.words[this.base + 1 + idx] = d;
      this.pool.setMeta(d, Meta.user1, idx);
    }
    this.words[this.base] = last;
  }
}
