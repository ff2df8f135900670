/**
 * Latency in shared memory: a clock every process reads the same way, a stamp that fits one
 * meta word, and log-linear histograms (HDR-style) with one writer each.
 *
 * The stamp: CLOCK_MONOTONIC in nanoseconds, modulo 2^32 (a u32 meta word). Every thread and
 * process of an instance reads the same clock (performance.now() is CLOCK_MONOTONIC from the
 * thread's start; each thread learns its offset once, from process.hrtime), so a packet
 * stamped by the RX loop and looked at by the TX loop or an NF gives its age as
 * `(now - stamp) >>> 0`: exact to the nanosecond for ages below 2^32 ns (4.29 s); an older
 * packet's age wraps (it reads as its age modulo 4.29 s).
 *
 * A histogram: 240 buckets. Values below 16 ns have a bucket each; above, every power of two
 * is cut into 8 buckets, so a bucket is at most 12.5 % wide (the precision of every percentile
 * reported). Its writer adds to it once per packet with plain stores; readers copy it.
 *
 *   histogram (own cache lines): [count, sum ns, max ns, 5 × pad | 240 bucket counts], float64
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, assertRegion } from './layout.js';

export const HIST_BUCKETS = 240;
/** float64 words of one histogram: a header line, then the buckets */
export const HIST_WORDS = 8 + HIST_BUCKETS;
const H_COUNT = 0;
const H_SUM = 1;
const H_MAX = 2;

export function latencyBytes(histograms: number): number {
  return histograms * HIST_WORDS * 8;
}

/** The bucket of a value in ns (a u32). Hot path. */
export function bucketOf(v: number): number {
  if (v < 16) return v;
  const e = 31 - Math.clz32(v);
  return 8 * e - 16 + ((v >>> (e - 3)) & 7);
}

/** The lowest value (ns) of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < 16) return i;
  const e = (i >> 3) + 2;
  return (8 + (i & 7)) * 2 ** (e - 3);
}

/** The highest value (ns) bucket `i` holds. */
export function bucketHigh(i: number): number {
  return i + 1 < HIST_BUCKETS ? bucketLow(i + 1) - 1 : 2 ** 32 - 1;
}

// ---- the clock ---------------------------------------------------------------------------

let offsetMs = Number.NaN;

/** This thread's offset from performance.now() to CLOCK_MONOTONIC modulo 2^32 ns (cold, once). */
function calibrate(): number {
  // performance.now() and process.hrtime read the same clock (CLOCK_MONOTONIC); take the
  // smallest gap of a few tries, so a preemption between the two reads does not skew it.
  let best = Number.POSITIVE_INFINITY;
  let off = 0;
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    const hr = process.hrtime.bigint();
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      const mid = (a + b) / 2;
      off = Number((hr - BigInt(Math.round(mid * 1e6))) % 4294967296n) / 1e6;
    }
  }
  return off;
}

/**
 * Now, as a stamp: CLOCK_MONOTONIC ns modulo 2^32. One performance.now() (~50-120 ns on a
 * VM): call it once per burst, not per packet.
 */
export function stampNow(): number {
  if (Number.isNaN(offsetMs)) offsetMs = calibrate();
  return ((performance.now() + offsetMs) * 1e6) >>> 0 || 1; // 0 means "not stamped" (Meta.arrival)
}

/** A stamp for a performance.now() value this thread read (saves a second clock read). */
export function stampAt(perfNow: number): number {
  if (Number.isNaN(offsetMs)) offsetMs = calibrate();
  return ((perfNow + offsetMs) * 1e6) >>> 0 || 1;
}

/** The age in ns of a packet stamped `stamp`, at `now` (both stamps). */
export function ageNs(now: number, stamp: number): number {
  return (now - stamp) >>> 0;
}

// ---- histograms --------------------------------------------------------------------------

/** A block of histograms in shared memory. Each histogram has one writer. */
export class LatencyBlock {
  readonly count: number;
  /** every histogram, one after the other (HIST_WORDS each) */
  readonly words: Float64Array;

  constructor(buffer: ArrayBuffer, byteOffset: number, histograms: number) {
    if (byteOffset % CACHE_LINE !== 0) throw new NfcError('NFC_ERR_LAYOUT', 'latency block: not cache-line aligned');
    assertRegion('latency block', buffer, byteOffset, latencyBytes(histograms));
    this.count = histograms;
    this.words = new Float64Array(buffer, byteOffset, histograms * HIST_WORDS);
  }

  /** Word index of histogram `h` (for a writer that keeps it). */
  base(h: number): number {
    if (!Number.isInteger(h) || h < 0 || h >= this.count)
      throw new NfcError('NFC_ERR_INVALID_ARG', `latency histogram ${h} out of range 0..${this.count - 1}`);
    return h * HIST_WORDS;
  }

  /** Copies histogram `h` into `out` (HIST_WORDS). Any process, no lock (a count may be one packet behind its buckets). */
  snapshot(h: number, out: Float64Array = new Float64Array(HIST_WORDS)): Float64Array {
    const b = this.base(h);
    out.set(this.words.subarray(b, b + HIST_WORDS));
    return out;
  }

  /** Zeroes histogram `h` (its writer, or the owner when the writer is gone). */
  reset(h: number): void {
    const b = this.base(h);
    this.words.fill(0, b, b + HIST_WORDS);
  }
}

/**
 * Records into one histogram, for its single writer: add(v) per packet, then flush() once per
 * burst (count, sum and max are kept in fields until then). Hot path: no allocation.
 */
export class LatencyRecorder {
  private n = 0;
  private sum = 0;
  private max = 0;

  constructor(
    private readonly w: Float64Array,
    private readonly base: number,
  ) {}

  add(v: number): void {
    this.w[this.base + 8 + bucketOf(v)]!++;
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  flush(): void {
    if (this.n === 0) return;
    const w = this.w;
    const b = this.base;
    w[b + H_COUNT]! += this.n;
    w[b + H_SUM]! += this.sum;
    if (this.max > w[b + H_MAX]!) w[b + H_MAX] = this.max;
    this.n = 0;
    this.sum = 0;
    this.max = 0;
  }
}

/** Percentiles of a histogram copy, in microseconds (cold). */
export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The percentiles of `h` (a snapshot), or of `h` minus `prev` (an earlier snapshot of the same
 * histogram: the packets in between). Each percentile is the highest value of its bucket,
 * capped at the maximum (as HDR histograms report), so it errs by at most 12.5 % upwards.
 */
export function percentiles(h: Float64Array, prev?: Float64Array): Percentiles {
  let count = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) count += h[8 + i]! - (prev ? prev[8 + i]! : 0);
  const sum = h[H_SUM]! - (prev ? prev[H_SUM]! : 0);
  const us = (ns: number): number => Math.round(ns) / 1000;
  if (count <= 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const qs = [0.5, 0.9, 0.99, 0.999];
  const out = [0, 0, 0, 0];
  let q = 0;
  let seen = 0;
  let top = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const c = h[8 + i]! - (prev ? prev[8 + i]! : 0);
    if (c <= 0) continue;
    seen += c;
    top = i;
    while (q < qs.length && seen >= Math.ceil(qs[q]! * count)) out[q++] = bucketHigh(i);
  }
  // The maximum: the all-time one when it lies in the highest bucket seen, else that bucket's top.
  const allMax = h[H_MAX]!;
  const max = allMax >= bucketLow(top) && allMax <= bucketHigh(top) ? allMax : bucketHigh(top);
  return {
    count,
    mean: us(sum / count),
    p50: us(Math.min(out[0]!, max)),
    p90: us(Math.min(out[1]!, max)),
    p99: us(Math.min(out[2]!, max)),
    p999: us(Math.min(out[3]!, max)),
    max: us(max),
  };
}

/** Cumulative counts at each `le` (ns), for Prometheus buckets (cold). `le` must be bucket tops. */
export function cumulative(h: Float64Array, les: readonly number[]): number[] {
  const out: number[] = [];
  let seen = 0;
  let i = 0;
  for (const le of les) {
    while (i < HIST_BUCKETS && bucketHigh(i) <= le) seen += h[8 + i++]!;
    out.push(seen);
  }
  return out;
}

/** The sum (ns) and count of a snapshot. */
export function totals(h: Float64Array): { count: number; sumNs: number } {
  let count = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) count += h[8 + i]!;
  return { count, sumNs: h[H_SUM]! };
}
