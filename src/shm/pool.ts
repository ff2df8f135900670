/**
 * The packet pool: fixed-size buffers in shared memory and a free ring of their indices (the
 * per-process cache in front of it, so that alloc and free touch the shared ring once per many
 * packets, is in pool-cache.ts).
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
import { McConsumer, MpProducer } from './ring.js';

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

/** A descriptor value that never names a buffer: what a repaired ring slot holds. */
export const NULL_DESC = 0xffffffff;
