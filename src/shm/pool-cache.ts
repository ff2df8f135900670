/**
 * The per-process pool cache: a private stack of free buffers in front of the pool's shared
 * free ring (and a small one in front of the jumbo ring), so alloc and free touch the shared
 * rings once per many packets; crash-safe when its storage is in the process's slot.
 *
 * The constructor is cold and allocates; every other method is hot-path and allocation-free
 * unless its comment says cold or `Allocates:` (a thrown NfcError aside: a double free).
 */
import { NfcError } from '../errors.js';
import { Journal } from './ring.js';
import { NULL_DESC, type PacketPool } from './pool.js';

export interface PoolCacheOptions {
  /** cached buffers kept at most (default 512, or an eighth of a smaller pool); 0 disables the cache */
  capacity?: number;
  /**
   * Where the cache keeps its descriptors: cacheStorageWords(capacity) words — the stack and
   * its count, then the jumbo stack (JUMBO_CACHE) and its count. Put it in the process's slot
   * of shared memory so the manager can account for a dead process's cache; defaults to
   * private memory.
   */
  storage?: Uint32Array;
}

/** Jumbos a cache keeps before it hands them back to the jumbo ring. */
export const JUMBO_CACHE = 16;

/** Words of storage a PoolCache of `capacity` needs (both stacks and their counts). */
export function cacheStorageWords(capacity: number): number {
  return capacity + 1 + JUMBO_CACHE + 1;
}

/**
 * A per-process cache in front of the free ring: bursts of alloc/free are served from a
 * private stack and only refills and flushes touch the shared ring (one compareExchange and a
 * publish per refill or flush of capacity/2 buffers).
 *
 * Crash safety: the stack and its count live in `storage` (the process's slot of shared
 * memory), and every step is ordered so that a process killed at any instruction leaves each
 * buffer findable by the owner: in the free ring, below the stored count, in the caller's
 * (shared) array, or named by the ring journal (`Journal.src` = stack position). A buffer may
 * be found twice (the owner de-duplicates); it is never found nowhere.
 */
export class PoolCache {
  readonly pool: PacketPool;
  readonly capacity: number;
  private readonly stack: Uint32Array;
  private readonly countIndex: number;
  private n: number;
  /** freed jumbos, on their way back to the jumbo ring (storage after the stack's count) */
  private readonly jstack: Uint32Array;
  private jn = 0;
  private readonly jumboBase: number;
  /** journal words of the free ring's sides, when journaled (null otherwise) */
  private jw: Int32Array | null = null;
  private jb = 0;
  /** alloc requests that could not be fully served (pool empty) */
  shortAllocs = 0;

  constructor(pool: PacketPool, opts: PoolCacheOptions = {}) {
    const capacity = opts.capacity ?? Math.min(512, pool.count >> 3);
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > pool.count) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `pool cache capacity ${capacity} must be between 0 and the pool count ${pool.count}`,
      );
    }
    const words = cacheStorageWords(capacity);
    const storage = opts.storage ?? new Uint32Array(words);
    if (storage.length < words) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `pool cache storage has ${storage.length} words; it needs cacheStorageWords(${capacity}) = ${words}`,
      );
    }
    this.pool = pool;
    this.capacity = capacity;
    this.stack = storage;
    this.countIndex = capacity;
    this.n = 0;
    storage[capacity] = 0;
    this.jstack = storage.subarray(capacity + 1, words);
    this.jstack[JUMBO_CACHE] = 0;
    this.jumboBase = pool.jumboBase;
  }

  /**
   * Journals the free ring's operations in `words[base..)` (see ring.ts Journal): frees under
   * `producerRingId`, refills under `consumerRingId`, so the owner knows which side a half-done
   * operation was on. Needs a cache (capacity > 0) so that every buffer in flight has a place.
   * Cold.
   */
  setJournal(
    words: Int32Array,
    base: number,
    producerRingId: number,
    consumerRingId: number,
    jumboRingId: number,
  ): void {
    if (this.capacity === 0) throw new NfcError('NFC_ERR_INVALID_ARG', 'a journaled pool cache needs a capacity > 0');
    this.jw = words;
    this.jb = base;
    this.pool.freeProducer.setJournal(words, base, producerRingId);
    this.pool.freeConsumer.setJournal(words, base, consumerRingId);
    this.pool.jumboProducer.setJournal(words, base, jumboRingId);
  }

  /**
   * Allocates up to `n` jumbo buffers into `dst[dstOff..)`, with fresh meta; returns how many.
   * For the manager's ports only: the jumbo ring's consumer side is not journaled, so an NF
   * process must not call this. Cold-ish: once per super-frame.
   */
  allocJumbo(dst: Uint32Array, n: number, dstOff = 0): number {
    let got = 0;
    while (got < n && this.jn > 0) {
      dst[dstOff + got++] = this.jstack[--this.jn]!;
      this.jstack[JUMBO_CACHE] = this.jn;
    }
    if (got < n) {
      const k = this.pool.jumboConsumer.dequeue(dst, n - got, dstOff + got);
      // Slots repaired after a crash (reclaim.ts) hold NULL_DESC: drop them, as refill does.
      const end = got + k;
      for (let i = got; i < end; i++) {
        const d = dst[dstOff + i]!;
        if (d !== NULL_DESC) dst[dstOff + got++] = d;
      }
    }
    for (let i = 0; i < got; i++) this.pool.resetMeta(dst[dstOff + i]!);
    return got;
  }

  /** Buffers held in this cache right now. */
  get cached(): number {
    return this.n;
  }

  /** Jumbos held in this cache right now (on their way back to the jumbo ring). */
  get cachedJumbos(): number {
    return this.jn;
  }

  /**
   * Allocates up to `n` buffers into `dst[0..)`, each with fresh meta (length 0, default data
   * offset). Returns how many; fewer than `n` only when the pool is exhausted.
   */
  alloc(dst: Uint32Array, n: number, dstOff = 0): number {
    const got = this.allocRaw(dst, n, dstOff);
    const pool = this.pool;
    for (let i = 0; i < got; i++) pool.resetMeta(dst[dstOff + i]!);
    return got;
  }

  /** As alloc, without resetting meta (for callers that set it themselves). */
  allocRaw(dst: Uint32Array, n: number, dstOff = 0): number {
    if (this.capacity === 0) {
      const got = this.pool.freeConsumer.dequeue(dst, n, dstOff);
      if (got < n) this.shortAllocs++;
      return got;
    }
    const stack = this.stack;
    let c = this.n;
    let given = 0;
    while (given < n) {
      if (c === 0) {
        c = this.refill();
        if (c === 0) {
          this.shortAllocs++;
          break;
        }
      }
      // Pop; the count is stored after the copies, so a crash leaves duplicates, not losses.
      let k = n - given;
      if (k > c) k = c;
      for (let i = 0; i < k; i++) dst[dstOff + given + i] = stack[--c]!;
      given += k;
      this.n = c;
      stack[this.countIndex] = c;
    }
    return given;
  }

  /** Refills the empty stack to half capacity from the free ring; returns the new count. */
  private refill(): number {
    const stack = this.stack;
    const j = this.jw;
    if (j !== null) j[this.jb + Journal.src] = 0;
    let got = this.pool.freeConsumer.dequeue(stack, this.capacity >> 1 || 1, 0);
    // Slots repaired after a crash hold NULL_DESC: drop them.
    let k = 0;
    for (let i = 0; i < got; i++) {
      const d = stack[i]!;
      if (d !== NULL_DESC) stack[k++] = d;
    }
    got = k;
    this.n = got;
    stack[this.countIndex] = got;
    this.pool.freeConsumer.journalDone();
    return got;
  }

  /**
   * Frees `n` buffers from `src[srcOff..)`; jumbos go to the jumbo stack. The caller's array
   * keeps recording them until this returns (crash safety).
   */
  free(src: Uint32Array, n: number, srcOff = 0): void {
    if (this.capacity === 0) {
      // No cache: the burst goes to the free ring in one operation, cut around any jumbos.
      let start = 0;
      for (let i = 0; i < n; i++) {
        const d = src[srcOff + i]!;
        if (d < this.jumboBase) continue;
        if (i > start) this.pushToRing(src, srcOff + start, i - start);
        this.freeJumbo(d);
        start = i + 1;
      }
      if (n > start) this.pushToRing(src, srcOff + start, n - start);
      return;
    }
    const stack = this.stack;
    const cap = this.capacity;
    const jumboBase = this.jumboBase;
    let c = this.n;
    for (let i = 0; i < n; i++) {
      const d = src[srcOff + i]!;
      if (d >= jumboBase) {
        this.freeJumbo(d);
        continue;
      }
      if (c === cap) {
        this.n = c;
        stack[this.countIndex] = c;
        c = this.flushTo(cap >> 1);
      }
      stack[c++] = d;
    }
    this.n = c;
    stack[this.countIndex] = c;
  }

  /** A freed jumbo: onto the jumbo stack, which goes back to the jumbo ring when full. */
  private freeJumbo(d: number): void {
    if (this.jn === JUMBO_CACHE) this.flushJumbos();
    this.jstack[this.jn++] = d;
    this.jstack[JUMBO_CACHE] = this.jn;
  }

  /** The jumbo stack onto the jumbo ring, as flushTo does for the stack (count first, journaled). */
  private flushJumbos(): void {
    const c = this.jn;
    if (c === 0) return;
    this.jn = 0;
    this.jstack[JUMBO_CACHE] = 0;
    if (this.jw !== null) this.jw[this.jb + Journal.src] = 0;
    let done = 0;
    while (done < c) {
      const k = this.pool.jumboProducer.enqueue(this.jstack, c - done, done);
      if (k === 0)
        throw new NfcError('NFC_ERR_DOUBLE_FREE', 'packet pool jumbo ring overflow: a jumbo was freed twice');
      done += k;
    }
    this.pool.jumboProducer.journalDone();
  }

  /** Frees one buffer. */
  freeOne(d: number): void {
    if (d >= this.jumboBase) {
      this.freeJumbo(d);
      return;
    }
    let c = this.n;
    if (c === this.capacity) {
      if (c === 0) {
        this.scratch[0] = d;
        this.pushToRing(this.scratch, 0, 1);
        return;
      }
      c = this.flushTo(this.capacity >> 1);
    }
    this.stack[c] = d;
    this.n = c + 1;
    this.stack[this.countIndex] = c + 1;
  }
  private readonly scratch = new Uint32Array(1);

  /** Returns every cached buffer to the shared ring (at exit, or before handing over). */
  flush(): void {
    if (this.n > 0) this.flushTo(0);
    this.flushJumbos();
  }

  /**
   * Moves the top of the stack down to `keep` entries onto the free ring. The count is lowered
   * first and the journal names the stack position, so a crash in between loses nothing.
   */
  private flushTo(keep: number): number {
    const c = this.n;
    this.n = keep;
    this.stack[this.countIndex] = keep;
    if (this.jw !== null) this.jw[this.jb + Journal.src] = keep;
    this.pushToRing(this.stack, keep, c - keep);
    this.pool.freeProducer.journalDone();
    return keep;
  }

  private pushToRing(src: Uint32Array, off: number, n: number): void {
    // The free ring has room for every buffer of the pool, so this cannot fall short unless a
    // descriptor was freed twice; say so loudly rather than lose track silently.
    let done = 0;
    while (done < n) {
      const k = this.pool.freeProducer.enqueue(src, n - done, off + done);
      if (k === 0)
        throw new NfcError('NFC_ERR_DOUBLE_FREE', 'packet pool free ring overflow: a buffer was freed twice');
      done += k;
    }
  }
}
