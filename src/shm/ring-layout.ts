/**
 * Layout of a descriptor ring in shared memory.
 *
 * A ring carries u32 descriptors (packet buffer indices, or any u32 token) between processes.
 * Head and tail are free-running 32-bit counters (they wrap at 2^32; slot = counter & mask),
 * so "full" and "empty" need no spare slot. Each counter sits on its own cache line: the
 * producer writes prodHead/prodTail, the consumer writes consHead/consTail, and neither ever
 * writes a line the other writes.
 *
 *   byte 0    ┌────────────────────────────────────────────────────────┐
 *             │ magic 'NFRG' | version | capacity | mask | kind        │ read-only after init
 *   byte 64   ├────────────────────────────────────────────────────────┤
 *             │ prodHead   next slot a producer may reserve (MP only)  │ producers
 *   byte 128  ├────────────────────────────────────────────────────────┤
 *             │ prodTail   slots below this are published              │ producers → consumer
 *   byte 192  ├────────────────────────────────────────────────────────┤
 *             │ consHead   next slot a consumer may reserve (MC only)  │ consumers
 *   byte 256  ├────────────────────────────────────────────────────────┤
 *             │ consTail   slots below this are free again             │ consumer → producers
 *   byte 320  ├────────────────────────────────────────────────────────┤
 *             │ sleeping (futex word): the consumer is blocked, or     │ consumer ⇄ producers
 *             │ about to block, and wants a wake-up                    │
 *   byte 384  ├────────────────────────────────────────────────────────┤
 *             │ slots[capacity]  u32 descriptors                       │
 *             └────────────────────────────────────────────────────────┘
 *
 * Single-producer rings keep prodHead equal to prodTail; single-consumer rings keep consHead
 * equal to consTail. The contents of a ring are always the slots in [consTail, prodTail).
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, assertLayout, assertRegion, isPowerOfTwo, magic } from './layout.js';

export const RING_MAGIC = magic('NFRG');
export const RING_VERSION = 1;

/** Which sides may have several parties. Recorded in the header; checked when attaching. */
export const RingKind = {
  SPSC: 0,
  MPSC: 1,
  MPMC: 2,
} as const;
export type RingKind = (typeof RingKind)[keyof typeof RingKind];

/** Byte offsets of the header words. */
export const RingOffsets = {
  magic: 0,
  version: 4,
  capacity: 8,
  mask: 12,
  kind: 16,
  prodHead: 1 * CACHE_LINE,
  prodTail: 2 * CACHE_LINE,
  consHead: 3 * CACHE_LINE,
  consTail: 4 * CACHE_LINE,
  sleeping: 5 * CACHE_LINE,
} as const;

export const RING_HEADER_BYTES = 6 * CACHE_LINE;

/** Int32 word indices (byte offset / 4) for the control words. */
export const RW = {
  magic: RingOffsets.magic >> 2,
  version: RingOffsets.version >> 2,
  capacity: RingOffsets.capacity >> 2,
  mask: RingOffsets.mask >> 2,
  kind: RingOffsets.kind >> 2,
  prodHead: RingOffsets.prodHead >> 2,
  prodTail: RingOffsets.prodTail >> 2,
  consHead: RingOffsets.consHead >> 2,
  consTail: RingOffsets.consTail >> 2,
  sleeping: RingOffsets.sleeping >> 2,
} as const;

export function assertRingLayout(): void {
  assertLayout(
    'ring',
    {
      magic: { offset: RingOffsets.magic },
      version: { offset: RingOffsets.version },
      capacity: { offset: RingOffsets.capacity },
      mask: { offset: RingOffsets.mask },
      kind: { offset: RingOffsets.kind },
      prodHead: { offset: RingOffsets.prodHead, lineAligned: true },
      prodTail: { offset: RingOffsets.prodTail, lineAligned: true },
      consHead: { offset: RingOffsets.consHead, lineAligned: true },
      consTail: { offset: RingOffsets.consTail, lineAligned: true },
      sleeping: { offset: RingOffsets.sleeping, lineAligned: true },
    },
    RING_HEADER_BYTES,
  );
}
assertRingLayout();

/** Bytes a ring of `capacity` slots occupies (a whole number of cache lines). */
export function ringBytes(capacity: number): number {
  checkCapacity(capacity);
  return RING_HEADER_BYTES + Math.ceil((capacity * 4) / CACHE_LINE) * CACHE_LINE;
}

function checkCapacity(capacity: number): void {
  if (!isPowerOfTwo(capacity) || capacity < 2 || capacity > 2 ** 24) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `ring capacity ${capacity} must be a power of two between 2 and 2^24`, {
      fix: 'use e.g. 1024 or 4096',
    });
  }
}

/** Writes a fresh, empty ring header at `byteOffset` (cold: run once by the owner). */
export function initRing(buffer: ArrayBuffer, byteOffset: number, capacity: number, kind: RingKind): void {
  const bytes = ringBytes(capacity);
  assertRegion('ring', buffer, byteOffset, bytes);
  new Uint8Array(buffer, byteOffset, bytes).fill(0);
  const w = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES >> 2);
  w[RW.version] = RING_VERSION;
  w[RW.capacity] = capacity;
  w[RW.mask] = capacity - 1;
  w[RW.kind] = kind;
  // The magic goes last: a ring is valid only once it is fully initialised.
  Atomics.store(w, RW.magic, RING_MAGIC | 0);
}

/** Reads and checks a ring header; returns its capacity (cold). */
export function checkRing(buffer: ArrayBuffer, byteOffset: number, what: string): { capacity: number; kind: RingKind } {
  assertRegion(what, buffer, byteOffset, RING_HEADER_BYTES);
  const w = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES >> 2);
  if (Atomics.load(w, RW.magic) >>> 0 !== RING_MAGIC) {
    throw new NfcError('NFC_ERR_LAYOUT', `${what}: no ring at byte ${byteOffset} (bad magic)`);
  }
  if (w[RW.version] !== RING_VERSION) {
    throw new NfcError(
      'NFC_ERR_LAYOUT',
      `${what}: ring version ${w[RW.version]} but this nfchain speaks ${RING_VERSION}`,
      {
        fix: 'run the manager and the NFs from the same nfchain build',
      },
    );
  }
  const capacity = w[RW.capacity] ?? 0;
  checkCapacity(capacity);
  if (w[RW.mask] !== capacity - 1) throw new NfcError('NFC_ERR_LAYOUT', `${what}: ring mask does not match capacity`);
  assertRegion(what, buffer, byteOffset, ringBytes(capacity));
  return { capacity, kind: (w[RW.kind] ?? 0) as RingKind };
}
