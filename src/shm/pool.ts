/**
 * The packet pool: fixed-size buffers in shared memory, a free ring of their indices, and a
 * per-process cache so that alloc and free touch the shared ring once per many packets.
 *
 * Ownership rule: every buffer is in exactly one place — the free ring, a
 * cache, a descriptor ring, a port, or one process's in-flight batch. Whoever takes a
 * descriptor off a ring forwards it or frees it. `freeCount()` returns to its start value
 * when traffic stops; tests check it.
 *
 * Constructors, poolBytes and initPool are cold and allocate; every other method here is
 * hot-path and allocation-free unless its comment says cold or `Allocates:` (a thrown NfcError
 * aside: a double free).
 */
import { NfcError } from '../errors.js';
import {
  Meta,
  META_BYTES,
  META_WORDS,
  POOL_HEADER_BYTES,
  POOL_MAGIC,
  POOL_VERSION,
  PoolOffsets,
  poolGeometry,
  type PoolGeometry,
} from './pool-layout.js';
import { RingKind, initRing, RW, RING_HEADER_BYTES } from './ring-layout.js';
import { Journal, McConsumer, MpProducer } from './ring.js';

export interface PoolOptions {
  count?: number;
  headroom?: number;
  dataRoom?: number;
  /** jumbo buffers (64 KiB and more, for GSO super-frames); default 0 */
  jumbos?: number;
}

/** Bytes a pool with these options needs (cold). */
export function poolBytes(opts: PoolOptions = {}): number {
  return poolGeometry(opts).totalBytes;
}

/**
 * Formats a new pool at `byteOffset` of `buffer` (owner only, cold): every buffer's meta is
 * reset and every index is put on the free ring.
 */
export function initPool(buffer: ArrayBuffer, byteOffset: number, opts: PoolOptions = {}): PoolGeometry {
  const g = poolGeometry(opts);
  if (byteOffset % 4096 !== 0) throw new NfcError('NFC_ERR_LAYOUT', `pool offset ${byteOffset} must be 4096-aligned`);
  if (byteOffset + g.totalBytes > buffer.byteLength) {
    throw new NfcError(
      'NFC_ERR_LAYOUT',
      `pool needs ${g.totalBytes} bytes at offset ${byteOffset}; the mapping has ${buffer.byteLength}`,
    );
  }
  const h = new Uint32Array(buffer, byteOffset, POOL_HEADER_BYTES >> 2);
  h[PoolOffsets.version >> 2] = POOL_VERSION;
  h[PoolOffsets.count >> 2] = g.count;
  h[PoolOffsets.shift >> 2] = g.shift;
  h[PoolOffsets.headroom >> 2] = g.headroom;
  h[PoolOffsets.dataRoom >> 2] = g.dataRoom;
  h[PoolOffsets.bufBase >> 2] = g.bufBase;
  h[PoolOffsets.freeRing >> 2] = g.freeRingOffset;
  h[PoolOffsets.jumbos >> 2] = g.jumbos;
  h[PoolOffsets.jumboSpan >> 2] = g.jumboSpan;
  h[PoolOffsets.jumboRing >> 2] = g.jumboRingOffset;
  initRing(buffer, byteOffset + g.freeRingOffset, g.count, RingKind.MPMC);
  initRing(buffer, byteOffset + g.jumboRingOffset, g.jumboRingCap, RingKind.MPMC);
  // Fill the free ring directly (nobody else can see the pool yet).
  const ringWords = new Int32Array(buffer, byteOffset + g.freeRingOffset, RING_HEADER_BYTES >> 2);
  const slots = new Uint32Array(buffer, byteOffset + g.freeRingOffset + RING_HEADER_BYTES, g.count);
  const meta = new Uint32Array(buffer, byteOffset + g.bufBase, (g.totalBytes - g.bufBase) >> 2);
  const dataOff = META_BYTES + g.headroom;
  const fresh = (d: number): void => {
    const m = d << (g.shift - 2);
    meta.fill(0, m, m + META_WORDS);
    meta[m + Meta.dataOff] = dataOff;
  };
  for (let d = 0; d < g.count; d++) {
    slots[d] = d;
    fresh(d);
  }
  Atomics.store(ringWords, RW.prodHead, g.count);
  Atomics.store(ringWords, RW.prodTail, g.count);
  const jumboWords = new Int32Array(buffer, byteOffset + g.jumboRingOffset, RING_HEADER_BYTES >> 2);
  const jumboSlots = new Uint32Array(buffer, byteOffset + g.jumboRingOffset + RING_HEADER_BYTES, g.jumboRingCap);
  for (let j = 0; j < g.jumbos; j++) {
    const d = g.count + j * g.jumboSpan;
    jumboSlots[j] = d;
    fresh(d);
  }
  Atomics.store(jumboWords, RW.prodHead, g.jumbos);
  Atomics.store(jumboWords, RW.prodTail, g.jumbos);
  Atomics.store(h as unknown as Int32Array, 0, POOL_MAGIC | 0);
  return g;
}

/** A process's handle on a pool: geometry, typed views, meta accessors and the free ring. */
export class PacketPool {
  readonly buffer: ArrayBuffer;
  readonly count: number;
  readonly shift: number;
  readonly stride: number;
  readonly headroom: number;
  readonly dataRoom: number;
  /** jumbo buffers: how many, the strides each spans, and the first jumbo's descriptor (= count) */
  readonly jumbos: number;
  readonly jumboSpan: number;
  readonly jumboBase: number;
  /** byte offset of buffer 0 in `buffer` */
  readonly base: number;
  /** default data offset inside a buffer (meta + headroom) */
  readonly defaultDataOff: number;
  /** Views over the whole mapping. */
  readonly u8: Uint8Array;
  readonly dv: DataView;
  /** u32 words of the buffer area; meta of d starts at word d << (shift - 2) */
  readonly words: Uint32Array;
  private readonly metaShift: number;
  /** The buffer area as float64, for wide stores in resetMeta. */
  private readonly f64: Float64Array;
  private readonly f64Shift: number;
  /** (len = 0, dataOff = default) as the bits of one float64 (little-endian word order). */
  private readonly freshLenDataOff: number;
  /** The shared free ring, both sides (MPMC). Use a PoolCache on the hot path. */
  readonly freeProducer: MpProducer;
  readonly freeConsumer: McConsumer;
  /** The jumbo free ring, both sides (MPMC). */
  readonly jumboProducer: MpProducer;
  readonly jumboConsumer: McConsumer;

  constructor(buffer: ArrayBuffer, byteOffset = 0, what = 'packet pool') {
    const h = new Uint32Array(buffer, byteOffset, POOL_HEADER_BYTES >> 2);
    if (Atomics.load(h as unknown as Int32Array, 0) >>> 0 !== POOL_MAGIC) {
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: no packet pool at byte ${byteOffset} (bad magic)`);
    }
    if (h[PoolOffsets.version >> 2] !== POOL_VERSION) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${what}: pool version ${h[PoolOffsets.version >> 2]}, expected ${POOL_VERSION}`,
        {
          fix: 'run the manager and the NFs from the same nfchain build',
        },
      );
    }
    const g = poolGeometry({
      count: h[PoolOffsets.count >> 2]!,
      headroom: h[PoolOffsets.headroom >> 2]!,
      dataRoom: h[PoolOffsets.dataRoom >> 2]!,
      jumbos: h[PoolOffsets.jumbos >> 2]!,
    });
    if (
      g.shift !== h[PoolOffsets.shift >> 2] ||
      g.bufBase !== h[PoolOffsets.bufBase >> 2] ||
      g.jumboSpan !== h[PoolOffsets.jumboSpan >> 2] ||
      g.jumboRingOffset !== h[PoolOffsets.jumboRing >> 2]
    ) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${what}: header geometry is inconsistent (shift/bufBase/jumboSpan/jumboRing)`,
      );
    }
    if (byteOffset + g.totalBytes > buffer.byteLength) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${what}: pool of ${g.totalBytes} bytes does not fit the ${buffer.byteLength}-byte mapping`,
      );
    }
    this.buffer = buffer;
    this.count = g.count;
    this.shift = g.shift;
    this.stride = g.stride;
    this.headroom = g.headroom;
    this.dataRoom = g.dataRoom;
    this.jumbos = g.jumbos;
    this.jumboSpan = g.jumboSpan;
    this.jumboBase = g.count;
    this.base = byteOffset + g.bufBase;
    this.defaultDataOff = META_BYTES + g.headroom;
    this.u8 = new Uint8Array(buffer);
    this.dv = new DataView(buffer);
    const area = g.totalBytes - g.bufBase;
    this.words = new Uint32Array(buffer, this.base, area >> 2);
    this.metaShift = g.shift - 2;
    this.f64 = new Float64Array(buffer, this.base, area >> 3);
    this.f64Shift = g.shift - 3;
    const pair = new Uint32Array(2);
    pair[Meta.len] = 0;
    pair[Meta.dataOff] = this.defaultDataOff;
    this.freshLenDataOff = new Float64Array(pair.buffer)[0]!;
    this.freeProducer = new MpProducer(buffer, byteOffset + g.freeRingOffset, `${what} free ring`);
    this.freeConsumer = new McConsumer(buffer, byteOffset + g.freeRingOffset, `${what} free ring`);
    this.jumboProducer = new MpProducer(buffer, byteOffset + g.jumboRingOffset, `${what} jumbo ring`);
    this.jumboConsumer = new McConsumer(buffer, byteOffset + g.jumboRingOffset, `${what} jumbo ring`);
  }

  /** True when d is a jumbo buffer. */
  isJumbo(d: number): boolean {
    return d >= this.jumboBase;
  }

  /** Bytes of buffer d from its start (meta included) to its end: the stride, or a jumbo's span. */
  extent(d: number): number {
    return d >= this.jumboBase ? this.stride * this.jumboSpan : this.stride;
  }

  /** Room for packet data in d from its current data offset. */
  room(d: number): number {
    return this.extent(d) - this.words[(d << this.metaShift) + Meta.dataOff]!;
  }

  /** Word index of d's meta in `words`. */
  metaIndex(d: number): number {
    return d << this.metaShift;
  }

  /** Byte offset (in the mapping) of d's first packet byte. */
  dataOffset(d: number): number {
    return this.base + (d << this.shift) + this.words[(d << this.metaShift) + Meta.dataOff]!;
  }

  /** Byte offset (in the mapping) of buffer d's start (its meta). */
  bufferOffset(d: number): number {
    return this.base + (d << this.shift);
  }

  length(d: number): number {
    return this.words[(d << this.metaShift) + Meta.len]!;
  }

  /** Sets the packet length; false (and no change) if it does not fit the buffer. */
  setLength(d: number, len: number): boolean {
    const m = d << this.metaShift;
    if (len < 0 || this.words[m + Meta.dataOff]! + len > this.extent(d)) return false;
    this.words[m + Meta.len] = len;
    return true;
  }

  meta(d: number, field: number): number {
    return this.words[(d << this.metaShift) + field]!;
  }

  setMeta(d: number, field: number, value: number): void {
    this.words[(d << this.metaShift) + field] = value;
  }

  /**
   * Grows the packet at the front by `n` bytes (into the headroom), e.g. to push an
   * encapsulation header; false when the headroom is too small.
   */
  prepend(d: number, n: number): boolean {
    const m = d << this.metaShift;
    const off = this.words[m + Meta.dataOff]!;
    if (n < 0 || off - n < META_BYTES) return false;
    this.words[m + Meta.dataOff] = off - n;
    this.words[m + Meta.len] = this.words[m + Meta.len]! + n;
    return true;
  }

  /** Removes `n` bytes from the front (e.g. pops a header); false if the packet is shorter. */
  adj(d: number, n: number): boolean {
    const m = d << this.metaShift;
    const len = this.words[m + Meta.len]!;
    if (n < 0 || n > len) return false;
    this.words[m + Meta.dataOff] = this.words[m + Meta.dataOff]! + n;
    this.words[m + Meta.len] = len - n;
    return true;
  }

  /**
   * Resets d's meta to the state of a fresh buffer: len 0, the default data offset, every other
   * field 0 (user0/user1 untouched). Done with seven 8-byte stores instead of fourteen 4-byte
   * ones: the first store writes the (len, dataOff) pair as one float64 whose bit pattern is
   * precomputed (a subnormal number, stored bit for bit).
   */
  resetMeta(d: number): void {
    const f = this.f64;
    const q = d << this.f64Shift;
    f[q] = this.freshLenDataOff;
    f[q + 1] = 0;
    f[q + 2] = 0;
    f[q + 3] = 0;
    f[q + 4] = 0;
    f[q + 5] = 0;
  }

  /** Copies bytes into buffer d as its packet (tests, generators; cold-ish). Allocates: a view of `bytes`. */
  write(d: number, bytes: Uint8Array, offset = 0, length = bytes.length - offset): boolean {
    if (!this.setLength(d, length)) return false;
    this.u8.set(bytes.subarray(offset, offset + length), this.dataOffset(d));
    return true;
  }

  /** The packet bytes of d as a view into the pool (no copy; cold). Allocates: the view. */
  bytes(d: number): Uint8Array {
    return this.u8.subarray(this.dataOffset(d), this.dataOffset(d) + this.length(d));
  }

  /** Free buffers on the shared free ring (excludes per-process caches). Cold: 2 Atomics. */
  ringFreeCount(): number {
    return this.freeConsumer.count();
  }

  /** Free jumbos on the jumbo ring (excludes per-process caches). Cold: 2 Atomics. */
  jumboFreeCount(): number {
    return this.jumboConsumer.count();
  }

  /** True when d is a valid descriptor of this pool: a buffer, or the first stride of a jumbo. */
  isValid(d: number): boolean {
    if (d >>> 0 !== d) return false;
    if (d < this.count) return true;
    const j = d - this.count;
    return j % this.jumboSpan === 0 && j / this.jumboSpan < this.jumbos;
  }
}

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

/** A descriptor value that never names a buffer: what a repaired ring slot holds. */
export const NULL_DESC = 0xffffffff;

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
