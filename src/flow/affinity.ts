/**
 * Flow affinity: the affinity epoch each flow started in (chain/indirection.ts), kept by the
 * manager's RX loop so that flows keep their instances when instances join.
 *
 * Not a flow table: a direct-mapped array indexed by the packet's symmetric flow hash, one byte
 * of epoch + 1 (0: free) and a 16-bit "last second seen" per slot. No key is stored or compared,
 * so a packet costs one read (and a write once a second per flow) instead of a flow-table
 * lookup — the RX loop is the busiest thread of a chain (measured: a flow-table lookup per
 * packet cost `bench chain` about a quarter of its rate; README, "Figures").
 *
 * Two flows whose hashes share a slot share an epoch: the flow that came second takes the
 * first one's epoch. That is harmless — every epoch's tables name running instances — and
 * rare enough with the default 2^20 slots (~4 % of new flows when 40 000 flows are live): such
 * a new flow is placed by an older table, which does not know the newest instances.
 *
 * A slot whose flow has been idle for the idle timeout is freed by sweep(), a slice at a time.
 * The RX loop counts the slots of each epoch in the shared header, so the manager knows when
 * an epoch is no longer held and can be reused.
 *
 * One writer (the RX loop's thread); the counts are read by the manager with Atomics.
 *
 * Every method here is hot-path and allocation-free unless its comment says cold or
 * `Allocates:`.
 */
import { NfcError } from '../errors.js';
import { EPOCHS } from '../shm/instance-layout.js';

export class FlowAffinity {
  /** epoch + 1 per slot; 0: free */
  private readonly epochs: Uint8Array;
  /** last second (mod 2^16) the slot saw a packet */
  private readonly seen: Uint16Array;
  private readonly mask: number;
  /** idle timeout in whole seconds (0: slots never expire) */
  private readonly idleS: number;
  private readonly counts: Int32Array;
  private readonly countsBase: number;
  private cursor = 0;
  /** the epoch new flows get (the owner sets it, e.g. once per burst from the shared header) */
  epoch = 0;
  /** slots freed by the idle timeout */
  expired = 0;

  /**
   * `slots`: a power of two (2^10..2^24). `idleTimeoutMs`: 0 = never (rounded up to whole
   * seconds, at most 32767 s). Flows per epoch are counted in counts[countsBase + epoch].
   * Cold. Allocates: the slot arrays.
   */
  constructor(slots: number, idleTimeoutMs: number, counts: Int32Array, countsBase: number) {
    if (!Number.isInteger(slots) || slots < 1024 || slots > 1 << 24 || (slots & (slots - 1)) !== 0) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `flow affinity: ${slots} slots must be a power of two from 2^10 to 2^24`,
      );
    }
    const idleS = Math.ceil(idleTimeoutMs / 1000);
    if (!(idleS >= 0 && idleS < 32768)) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `flow affinity: idle timeout ${idleTimeoutMs} ms must be 0 or under 32768 s`,
      );
    }
    this.epochs = new Uint8Array(slots);
    this.seen = new Uint16Array(slots);
    this.mask = slots - 1;
    this.idleS = idleS;
    this.counts = counts;
    this.countsBase = countsBase;
  }

  get slots(): number {
    return this.mask + 1;
  }

  /** Slots in use: the sum of the per-epoch counts (cold). */
  get tracked(): number {
    let n = 0;
    for (let e = 0; e < EPOCHS; e++) n += Atomics.load(this.counts, this.countsBase + e);
    return n;
  }

  /**
   * The epoch of the flow with (symmetric) hash `hash`, seen at second `sec` (any counter of
   * seconds; only its low 16 bits are kept). A free slot takes the current epoch.
   */
  epochOf(hash: number, sec: number): number {
    const i = hash & this.mask;
    const e = this.epochs[i]!;
    const s = sec & 0xffff;
    if (e === 0) {
      const cur = this.epoch;
      this.epochs[i] = cur + 1;
      this.seen[i] = s;
      Atomics.add(this.counts, this.countsBase + cur, 1);
      return cur;
    }
    if (this.seen[i] !== s) this.seen[i] = s;
    return e - 1;
  }

  /**
   * Frees the slots idle for the timeout among the next `max` slots (a cursor goes round).
   * Returns how many were freed.
   */
  sweep(sec: number, max: number): number {
    if (this.idleS === 0) return 0;
    const epochs = this.epochs;
    const seen = this.seen;
    const mask = this.mask;
    const s = sec & 0xffff;
    let i = this.cursor;
    let freed = 0;
    for (let n = max > mask + 1 ? mask + 1 : max; n > 0; n--) {
      const e = epochs[i]!;
      if (e !== 0 && ((s - seen[i]!) & 0xffff) >= this.idleS) {
        epochs[i] = 0;
        Atomics.sub(this.counts, this.countsBase + e - 1, 1);
        freed++;
      }
      i = (i + 1) & mask;
    }
    this.cursor = i;
    this.expired += freed;
    return freed;
  }
}
