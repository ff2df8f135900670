/** The latency histogram: buckets, percentiles against exact ones, Prometheus cumulation, stamps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ageNs,
  bucketHigh,
  bucketLow,
  bucketOf,
  cumulative,
  HIST_BUCKETS,
  HIST_WORDS,
  LatencyBlock,
  latencyBytes,
  LatencyRecorder,
  percentiles,
  stampNow,
  totals,
} from './latency.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';

test('every value falls in a bucket whose bounds hold it, buckets at most 12.5 % wide', () => {
  const rnd = mulberry32(3);
  const values = [0, 1, 15, 16, 17, 31, 32, 1000, 65535, 2 ** 31, 2 ** 32 - 1];
  for (let i = 0; i < 20000; i++) values.push(Math.floor(2 ** (rnd() * 32)) >>> 0);
  for (const v of values) {
    const b = bucketOf(v);
    assert.ok(b >= 0 && b < HIST_BUCKETS, `bucket of ${v}`);
    assert.ok(bucketLow(b) <= v && v <= bucketHigh(b), `${v} in [${bucketLow(b)}, ${bucketHigh(b)}]`);
    if (v >= 16) assert.ok(bucketHigh(b) - bucketLow(b) + 1 <= bucketLow(b) / 8 + 1e-9, `width of bucket ${b}`);
  }
  for (let b = 1; b < HIST_BUCKETS; b++)
    assert.equal(bucketLow(b), bucketHigh(b - 1) + 1, `bucket ${b} follows ${b - 1}`);
  assert.equal(bucketHigh(HIST_BUCKETS - 1), 2 ** 32 - 1);
});

test('percentiles are within one bucket (12.5 %) above the exact ones; count, mean and max exact', () => {
  const mem = new ArrayBuffer(latencyBytes(2));
  const block = new LatencyBlock(mem, 0, 2);
  const rec = new LatencyRecorder(block.words, block.base(1));
  const rnd = mulberry32(11);
  const xs: number[] = [];
  for (let i = 0; i < 50000; i++) {
    // A body near 20 µs and a tail to 5 ms, as a chain's latency looks.
    const v = Math.round(rnd() < 0.98 ? 15000 + rnd() * 10000 : 100000 + rnd() * 4900000);
    xs.push(v);
    rec.add(v);
    if (i % 32 === 31) rec.flush();
  }
  rec.flush();
  xs.sort((a, b) => a - b);
  const p = percentiles(block.snapshot(1));
  assert.equal(p.count, xs.length);
  assert.equal(p.max, xs[xs.length - 1]! / 1000);
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  assert.ok(Math.abs(p.mean - mean / 1000) < 0.01, `mean ${p.mean} against ${mean / 1000}`);
  for (const [q, got] of [
    [0.5, p.p50],
    [0.9, p.p90],
    [0.99, p.p99],
    [0.999, p.p999],
  ] as const) {
    const exact = xs[Math.ceil(q * xs.length) - 1]! / 1000;
    assert.ok(got >= exact && got <= exact * 1.125 + 0.001, `p${q * 100}: ${got} against exact ${exact}`);
  }
  // Histogram 0 untouched.
  assert.equal(percentiles(block.snapshot(0)).count, 0);
});

test('a window (snapshot minus an earlier one) holds only the packets in between', () => {
  const mem = new ArrayBuffer(latencyBytes(1));
  const block = new LatencyBlock(mem, 0, 1);
  const rec = new LatencyRecorder(block.words, block.base(0));
  for (let i = 0; i < 1000; i++) rec.add(1000);
  rec.flush();
  const before = block.snapshot(0);
  for (let i = 0; i < 100; i++) rec.add(1_000_000);
  rec.flush();
  const w = percentiles(block.snapshot(0), before);
  assert.equal(w.count, 100);
  assert.ok(w.p50 >= 1000 && w.p50 <= 1125, `window p50 ${w.p50} µs`);
  assert.equal(w.max, 1000, 'the maximum lies in the window');
});

test('cumulative counts at power-of-two boundaries match a direct count', () => {
  const mem = new ArrayBuffer(latencyBytes(1));
  const block = new LatencyBlock(mem, 0, 1);
  const rec = new LatencyRecorder(block.words, block.base(0));
  const rnd = mulberry32(5);
  const xs: number[] = [];
  for (let i = 0; i < 10000; i++) {
    const v = Math.floor(2 ** (8 + rnd() * 20));
    xs.push(v);
    rec.add(v);
  }
  rec.flush();
  const les = Array.from({ length: 24 }, (_, i) => 2 ** (9 + i) - 1);
  const h = block.snapshot(0, new Float64Array(HIST_WORDS));
  const c = cumulative(h, les);
  les.forEach((le, i) => {
    assert.equal(c[i], xs.filter((v) => v <= le).length, `le ${le}`);
  });
  assert.equal(totals(h).count, xs.length);
  assert.equal(
    totals(h).sumNs,
    xs.reduce((s, v) => s + v, 0),
  );
});

test('stamps: the age of a stamp wraps at 2^32 ns, stampNow moves forward and is never 0', async () => {
  assert.equal(ageNs(5, 2 ** 32 - 5), 10);
  assert.equal(ageNs(1000, 400), 600);
  const a = stampNow();
  await new Promise((r) => setTimeout(r, 20));
  const b = stampNow();
  const age = ageNs(b, a);
  assert.ok(age >= 15e6 && age < 2e9, `20 ms apart read as ${age} ns`);
  assert.notEqual(a, 0);
});
