/**
 * Lock-free descriptor rings over shared memory, split by role: a producer type (enqueue) and a
 * consumer type (dequeue) per side, so that a process holds exactly the half it may use.
 *
 *   SpscProducer  one producer                 ┐
 *   MpProducer    several producers (CAS)      ├─►  [ring]  ─►  ScConsumer  one consumer
 *                                              ┘                McConsumer  several (CAS)
 *
 * Protocol (see ring-layout.ts for the words):
 *   - Slots are copied with plain typed-array reads and writes; only the head/tail words go
 *     through Atomics, once per burst (an Atomics op costs ~20 ns, a plain
 *     read ~1 ns). Atomics.store is sequentially consistent, so the slot writes before it are
 *     visible to whoever reads the new tail with Atomics.load.
 *   - Each side keeps a process-local copy of the peer's index and reads the shared one only
 *     when the copy says the burst does not fit (producer) or the ring looks short (consumer).
 *   - Multi-producer rings reserve a whole burst with one compareExchange on prodHead, fill
 *     their slots, then wait for earlier reservations to publish before moving prodTail (the
 *     DPDK rte_ring scheme). Multi-consumer rings do the same on the consumer side.
 *
 * Counters are free-running int32 values (wrapping at 2^32); differences are taken with `| 0`.
 * A burst operation moves as many descriptors as fit and returns how many; the caller frees or
 * counts the rest (a full ring is a counted drop, never a block or an exception).
 *
 * Constructors are cold and allocate (the typed-array views of the ring); every other method
 * here is hot-path and allocation-free unless its comment says cold or `Allocates:`.
 */
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import { RING_HEADER_BYTES, RW, RingKind, checkRing } from './ring-layout.js';

/** Spins on a predecessor's commit before yielding the core (it may have been preempted). */
const COMMIT_SPINS = 256;

function kindName(k: RingKind): string {
  return k === RingKind.SPSC ? 'SPSC' : k === RingKind.MPSC ? 'MPSC' : 'MPMC';
}

/**
 * Copies n u32 values, unrolled by four: V8 does not vectorise typed-array loops, and the
 * unrolled form halves the loop overhead (measured: ~22 vs ~26-48 ns for 32 values).
 */
function copyIn(dst: Uint32Array, dstOff: number, src: Uint32Array, srcOff: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    dst[dstOff + i] = src[srcOff + i]!;
    dst[dstOff + i + 1] = src[srcOff + i + 1]!;
    dst[dstOff + i + 2] = src[srcOff + i + 2]!;
    dst[dstOff + i + 3] = src[srcOff + i + 3]!;
  }
  for (; i < n; i++) dst[dstOff + i] = src[srcOff + i]!;
}

/**
 * A journal: a few words in the calling process's slot of shared memory where a ring side
 * records the multi-step operation it is in the middle of. If the process dies mid-operation
 * (kill -9), the owner reads the journal and completes or undoes the operation, so the ring
 * neither stalls (a reservation never published) nor loses or duplicates descriptors. The
 * words are written with plain stores: only the owner reads them, and only after the writer
 * is dead. See docs/architecture.md, "Crash safety".
 */
export const Journal = {
  /** JournalState */
  state: 0,
  /** id of the ring (the owner's numbering) */
  ring: 1,
  /** the counter value reserved / published from */
  head: 2,
  /** how many slots */
  n: 3,
  /** caller's note: where the descriptors come from or go to */
  src: 4,
} as const;
export const JOURNAL_WORDS = 8;

export const JournalState = {
  IDLE: 0,
  /** about to compareExchange the reservation at `head` (it may or may not succeed) */
  INTENT: 1,
  /** the reservation [head, head+n) is ours; slots are being copied */
  RESERVED: 2,
  /** producer: slots [head, head+n) hold our descriptors; about to publish */
  COPIED: 3,
  /** consumer: published; the descriptors are now at the caller's `src` */
  CONSUMED: 4,
  /** producer: published; the descriptors from the caller's `src` are in the ring */
  PUBLISHED: 5,
} as const;

abstract class RingSide {
  /** Control words (the header) as Int32; slots as Uint32. */
  protected readonly w: Int32Array;
  /** The slots, for zero-copy access between reserve/publish or available/release. */
  readonly slots: Uint32Array;
  readonly capacity: number;
  /** capacity - 1: the slot of counter c is slots[c & mask] */
  readonly mask: number;
  readonly kind: RingKind;

  /** where the ring starts in its mapping */
  readonly byteOffset: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what: string) {
    const { capacity, kind } = checkRing(buffer, byteOffset, what);
    this.byteOffset = byteOffset;
    this.w = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES >> 2);
    this.slots = new Uint32Array(buffer, byteOffset + RING_HEADER_BYTES, capacity);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.kind = kind;
  }

  /** Journal words (null: not journaled), their base index, and this ring's id in them. */
  protected jw: Int32Array | null = null;
  protected jb = 0;
  protected jring = 0;

  /** Records this side's multi-step operations in `words[base..base+JOURNAL_WORDS)` (cold). */
  setJournal(words: Int32Array, base: number, ringId: number): void {
    this.jw = words;
    this.jb = base;
    this.jring = ringId;
  }

  /**
   * Ends a PUBLISHED or CONSUMED journal entry, once the caller has updated its own record
   * of the descriptors.
   */
  journalDone(): void {
    if (this.jw !== null) this.jw[this.jb + Journal.state] = JournalState.IDLE;
  }

  /** Descriptors in the ring right now (published and not yet released). Cold: 2 Atomics. */
  count(): number {
    return (Atomics.load(this.w, RW.prodTail) - Atomics.load(this.w, RW.consTail)) | 0;
  }

  /**
   * Copies the descriptors currently in the ring into `out` without taking them (cold; for
   * inspection and tests). Returns the number copied.
   */
  peekAll(out: Uint32Array): number {
    const tail = Atomics.load(this.w, RW.consTail);
    const n = Math.min((Atomics.load(this.w, RW.prodTail) - tail) | 0, out.length);
    for (let i = 0; i < n; i++) out[i] = this.slots[(tail + i) & this.mask]!;
    return n;
  }
}

function requireKind(side: string, kind: RingKind, allowed: readonly RingKind[]): void {
  if (!allowed.includes(kind)) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `a ${side} cannot attach to a ${kindName(kind)} ring`, {
      fix: `attach with the side type that matches the ring kind`,
    });
  }
}

/** The only producer of an SPSC ring. */
export class SpscProducer extends RingSide {
  private tail: number;
  private cachedConsTail: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what = 'ring') {
    super(buffer, byteOffset, what);
    requireKind('SpscProducer', this.kind, [RingKind.SPSC]);
    this.tail = Atomics.load(this.w, RW.prodTail);
    this.cachedConsTail = Atomics.load(this.w, RW.consTail);
  }

  /**
   * Enqueues up to `n` descriptors from `src[srcOff..srcOff+n)`; returns how many were enqueued.
   * One Atomics.store per call (plus one load when the ring looks full).
   */
  enqueue(src: Uint32Array, n: number, srcOff = 0): number {
    const cap = this.capacity;
    let tail = this.tail;
    let free = (this.cachedConsTail + cap - tail) | 0;
    if (free < n) {
      this.cachedConsTail = Atomics.load(this.w, RW.consTail);
      free = (this.cachedConsTail + cap - tail) | 0;
      if (free < n) n = free;
      if (n <= 0) return 0;
    }
    const slots = this.slots;
    const mask = this.mask;
    const pos = tail & mask;
    const first = cap - pos < n ? cap - pos : n;
    copyIn(slots, pos, src, srcOff, first);
    if (first < n) copyIn(slots, 0, src, srcOff + first, n - first);
    const j = this.jw;
    if (j !== null) {
      const b = this.jb;
      j[b + Journal.ring] = this.jring;
      j[b + Journal.head] = tail;
      j[b + Journal.n] = n;
      j[b + Journal.state] = JournalState.COPIED;
    }
    tail = (tail + n) | 0;
    this.tail = tail;
    Atomics.store(this.w, RW.prodTail, tail);
    if (j !== null) j[this.jb + Journal.state] = JournalState.PUBLISHED;
    return n;
  }

  /**
   * Zero-copy enqueue, step 1: how many of `n` slots are free (up to n). The caller writes
   * descriptors into `slots[(position + i) & mask]` for i below the returned count, then
   * calls publish().
   */
  reserve(n: number): number {
    const free = (this.cachedConsTail + this.capacity - this.tail) | 0;
    if (free >= n) return n;
    this.cachedConsTail = Atomics.load(this.w, RW.consTail);
    const f = (this.cachedConsTail + this.capacity - this.tail) | 0;
    return f < n ? f : n;
  }

  /** The counter of the next slot to write (use `& mask` for the slot index). */
  get position(): number {
    return this.tail;
  }

  /**
   * Zero-copy enqueue, step 2: makes the next `n` written slots visible to the consumer (n
   * must not exceed what reserve() returned). One Atomics.store.
   */
  publish(n: number): void {
    this.tail = (this.tail + n) | 0;
    Atomics.store(this.w, RW.prodTail, this.tail);
  }

  /** Enqueues one descriptor; false when the ring is full. */
  enqueueOne(d: number): boolean {
    const tail = this.tail;
    if (((this.cachedConsTail + this.capacity - tail) | 0) < 1) {
      this.cachedConsTail = Atomics.load(this.w, RW.consTail);
      if (((this.cachedConsTail + this.capacity - tail) | 0) < 1) return false;
    }
    this.slots[tail & this.mask] = d;
    this.tail = (tail + 1) | 0;
    Atomics.store(this.w, RW.prodTail, this.tail);
    return true;
  }
}

/** One of possibly several producers of an MPSC or MPMC ring. */
export class MpProducer extends RingSide {
  private cachedConsTail: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what = 'ring') {
    super(buffer, byteOffset, what);
    requireKind('MpProducer', this.kind, [RingKind.MPSC, RingKind.MPMC]);
    this.cachedConsTail = Atomics.load(this.w, RW.consTail);
  }

  /**
   * Enqueues up to `n` descriptors; returns how many. Reserves the whole burst with one
   * compareExchange, fills the slots, then publishes in reservation order.
   */
  enqueue(src: Uint32Array, n: number, srcOff = 0): number {
    const w = this.w;
    const cap = this.capacity;
    const j = this.jw;
    const jb = this.jb;
    let head = Atomics.load(w, RW.prodHead);
    let want = n;
    for (;;) {
      let free = (this.cachedConsTail + cap - head) | 0;
      if (free < want) {
        this.cachedConsTail = Atomics.load(w, RW.consTail);
        free = (this.cachedConsTail + cap - head) | 0;
      }
      want = free < n ? free : n;
      if (want <= 0) return 0;
      if (j !== null) {
        j[jb + Journal.ring] = this.jring;
        j[jb + Journal.head] = head;
        j[jb + Journal.n] = want;
        j[jb + Journal.state] = JournalState.INTENT;
      }
      const seen = Atomics.compareExchange(w, RW.prodHead, head, (head + want) | 0);
      if (seen === head) break;
      head = seen;
    }
    if (j !== null) j[jb + Journal.state] = JournalState.RESERVED;
    const slots = this.slots;
    const mask = this.mask;
    const pos = head & mask;
    const first = cap - pos < want ? cap - pos : want;
    copyIn(slots, pos, src, srcOff, first);
    if (first < want) copyIn(slots, 0, src, srcOff + first, want - first);
    if (j !== null) j[jb + Journal.state] = JournalState.COPIED;
    // Earlier reservations publish first, so the consumer never sees a gap.
    let spins = 0;
    while (Atomics.load(w, RW.prodTail) !== head) {
      if (++spins === COMMIT_SPINS) {
        spins = 0;
        native().schedYield();
      }
    }
    Atomics.store(w, RW.prodTail, (head + want) | 0);
    // The caller clears its record of the descriptors, then ends the entry (journalDone).
    if (j !== null) j[jb + Journal.state] = JournalState.PUBLISHED;
    return want;
  }
}

/**
 * Zero-copy multi-producer enqueue for callers that write more than a u32 per slot (messages):
 * reserve `n` slots all or nothing, write what belongs to positions [head, head + n), then
 * publish. Journaled like enqueue (RESERVED after the reservation, COPIED before publishing).
 * Cold path.
 */
export class MpReserver extends MpProducer {
  /** Reserves n slots; returns the first counter, or null when fewer than n are free. */
  reserveAll(n: number): number | null {
    const w = this.w;
    const j = this.jw;
    const jb = this.jb;
    let head = Atomics.load(w, RW.prodHead);
    for (;;) {
      const free = (Atomics.load(w, RW.consTail) + this.capacity - head) | 0;
      if (free < n) return null;
      if (j !== null) {
        j[jb + Journal.ring] = this.jring;
        j[jb + Journal.head] = head;
        j[jb + Journal.n] = n;
        j[jb + Journal.state] = JournalState.INTENT;
      }
      const seen = Atomics.compareExchange(w, RW.prodHead, head, (head + n) | 0);
      if (seen === head) break;
      head = seen;
    }
    if (j !== null) j[jb + Journal.state] = JournalState.RESERVED;
    return head;
  }

  /** Publishes a reservation once every earlier one is published; ends the journal entry. */
  publishReserved(head: number, n: number): void {
    const w = this.w;
    if (this.jw !== null) this.jw[this.jb + Journal.state] = JournalState.COPIED;
    let spins = 0;
    while (Atomics.load(w, RW.prodTail) !== head) {
      if (++spins === COMMIT_SPINS) {
        spins = 0;
        native().schedYield();
      }
    }
    Atomics.store(w, RW.prodTail, (head + n) | 0);
    if (this.jw !== null) this.jw[this.jb + Journal.state] = JournalState.IDLE;
  }
}

/** The only consumer of an SPSC or MPSC ring. */
export class ScConsumer extends RingSide {
  private head: number;
  private cachedProdTail: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what = 'ring') {
    super(buffer, byteOffset, what);
    requireKind('ScConsumer', this.kind, [RingKind.SPSC, RingKind.MPSC]);
    this.head = Atomics.load(this.w, RW.consTail);
    this.cachedProdTail = Atomics.load(this.w, RW.prodTail);
  }

  /**
   * Dequeues up to `max` descriptors into `dst[dstOff..)`; returns how many (0 when empty).
   * One Atomics.load and one Atomics.store per non-empty call.
   */
  dequeue(dst: Uint32Array, max: number, dstOff = 0): number {
    let head = this.head;
    let n = (this.cachedProdTail - head) | 0;
    if (n < max) {
      this.cachedProdTail = Atomics.load(this.w, RW.prodTail);
      n = (this.cachedProdTail - head) | 0;
      if (n === 0) return 0;
      if (n > max) n = max;
    } else {
      n = max;
    }
    const slots = this.slots;
    const cap = this.capacity;
    const pos = head & this.mask;
    const first = cap - pos < n ? cap - pos : n;
    copyIn(dst, dstOff, slots, pos, first);
    if (first < n) copyIn(dst, dstOff + first, slots, 0, n - first);
    head = (head + n) | 0;
    this.head = head;
    Atomics.store(this.w, RW.consTail, head);
    return n;
  }

  /**
   * Zero-copy dequeue, step 1: how many published descriptors can be read (up to max), at
   * `slots[(position + i) & mask]`. Call release() when done with them.
   */
  available(max: number): number {
    const n = (this.cachedProdTail - this.head) | 0;
    if (n >= max) return max;
    this.cachedProdTail = Atomics.load(this.w, RW.prodTail);
    const m = (this.cachedProdTail - this.head) | 0;
    return m < max ? m : max;
  }

  /** The counter of the next slot to read (use `& mask` for the slot index). */
  get position(): number {
    return this.head;
  }

  /**
   * Zero-copy dequeue, step 2: frees the next `n` slots for the producer (n must not exceed
   * what available() returned). One Atomics.store.
   */
  release(n: number): void {
    this.head = (this.head + n) | 0;
    Atomics.store(this.w, RW.consTail, this.head);
  }

  /** True when nothing is published (one Atomics.load). */
  isEmpty(): boolean {
    if (this.cachedProdTail !== this.head) return false;
    this.cachedProdTail = Atomics.load(this.w, RW.prodTail);
    return this.cachedProdTail === this.head;
  }
}

/** One of possibly several consumers of an MPMC ring (e.g. the free pool). */
export class McConsumer extends RingSide {
  private cachedProdTail: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what = 'ring') {
    super(buffer, byteOffset, what);
    requireKind('McConsumer', this.kind, [RingKind.MPMC]);
    this.cachedProdTail = Atomics.load(this.w, RW.prodTail);
  }

  /**
   * Dequeues up to `max` descriptors; returns how many. Reserves with one compareExchange on
   * consHead, copies, then releases in reservation order.
   */
  dequeue(dst: Uint32Array, max: number, dstOff = 0): number {
    const w = this.w;
    const j = this.jw;
    const jb = this.jb;
    let head = Atomics.load(w, RW.consHead);
    let n: number;
    for (;;) {
      n = (this.cachedProdTail - head) | 0;
      if (n < max) {
        this.cachedProdTail = Atomics.load(w, RW.prodTail);
        n = (this.cachedProdTail - head) | 0;
      }
      if (n > max) n = max;
      if (n <= 0) return 0;
      if (j !== null) {
        j[jb + Journal.ring] = this.jring;
        j[jb + Journal.head] = head;
        j[jb + Journal.n] = n;
        j[jb + Journal.state] = JournalState.INTENT;
      }
      const seen = Atomics.compareExchange(w, RW.consHead, head, (head + n) | 0);
      if (seen === head) break;
      head = seen;
    }
    if (j !== null) j[jb + Journal.state] = JournalState.RESERVED;
    const slots = this.slots;
    const cap = this.capacity;
    const pos = head & this.mask;
    const first = cap - pos < n ? cap - pos : n;
    copyIn(dst, dstOff, slots, pos, first);
    if (first < n) copyIn(dst, dstOff + first, slots, 0, n - first);
    let spins = 0;
    while (Atomics.load(w, RW.consTail) !== head) {
      if (++spins === COMMIT_SPINS) {
        spins = 0;
        native().schedYield();
      }
    }
    Atomics.store(w, RW.consTail, (head + n) | 0);
    // The caller owns the descriptors now and ends the journal entry (journalDone) once it
    // has recorded them where the owner can find them.
    if (j !== null) j[jb + Journal.state] = JournalState.CONSUMED;
    return n;
  }
}
