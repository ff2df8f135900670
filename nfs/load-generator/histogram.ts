/**
 * A log-linear latency histogram in a typed array (as HdrHistogram, with 4 bits of mantissa):
 * values in whole microseconds; 0..31 µs are exact, and above each power of two is cut into 16
 * buckets, so a bucket is at most 1/16 (6.25 %) of its values wide. 448 buckets reach 2^31 µs
 * (about 36 minutes); larger values land in the last bucket. record() is hot-path safe.
 */

/** Buckets: 32 exact ones, then 16 per power of two from 2^5 to 2^30. */
export const BUCKETS = 448;
const MAX_VALUE = 2 ** 31 - 1;

/** The bucket of a value in µs (integer ≥ 0). Hot path: no allocation. */
export function bucketOf(us: number): number {
  const v = us > MAX_VALUE ? MAX_VALUE : us | 0;
  if (v < 32) return v;
  const shift = 31 - Math.clz32(v) - 4;
  return (shift + 1) * 16 + ((v >>> shift) - 16);
}

/** The smallest value of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < 32) return i;
  const shift = (i >> 4) - 1;
  return ((i & 15) + 16) * 2 ** shift;
}

/** The largest value of bucket `i`. */
export function bucketHigh(i: number): number {
  if (i < 32) return i;
  const shift = (i >> 4) - 1;
  return ((i & 15) + 17) * 2 ** shift - 1;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  /** exact, µs */
  max = 0;
  min = Number.POSITIVE_INFINITY;
  sum = 0;

  /** Records one value in µs (rounded to a whole µs). Hot path: no allocation. */
  record(us: number): void {
    const v = Math.round(us);
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
  }

  /**
   * The p-th percentile (0 < p ≤ 100), µs: the largest value of the bucket that holds the value
   * of rank ceil(p/100 × count), but not above the exact maximum; 0 when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketHigh(i), this.max);
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.sum = 0;
  }
}
