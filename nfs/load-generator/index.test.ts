/**
 * Tests of load-generator with openNF and the virtual clock (ticks are 1 ms): packets made at
 * the rate, their headers and checksums (against the packet-builder's reference code), flows,
 * destinations, latency measured exactly (histogram, percentiles, max), packets that are not its
 * own, reordering, reports, option errors; and the histogram's buckets on their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, out, runNF, toNF } from 'nfchain';
import gen, { bucketHigh, bucketLow, bucketOf, BUCKETS, LatencyHistogram, magicOf } from './index.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  type BuiltPacket,
} from '../../test/helpers/packet-builder.js';

/** Where the builder would say the parts of a generated frame are (for the reference checksums). */
const layout = (size: number): BuiltPacket => ({
  bytes: new Uint8Array(0),
  l3Offset: 14,
  l4Offset: 34,
  l4Length: size - 34,
  payloadOffset: 42,
  payloadLength: size - 42,
  family: 4,
  proto: 17,
});
const u16 = (b: Uint8Array, at: number) => b[at]! * 256 + b[at + 1]!;

test('makes rate × time packets from tick(), with correct headers and checksums, flows cycling', async () => {
  const s = await openNF(gen, { options: { rate: 2000, size: 100, flows: 3, sport: 5000, dport: 7 } });
  const outs = s.tick(5);
  assert.equal(outs.length, 10, '2000 pps × 5 ms');
  outs.forEach((o, i) => {
    const b = o.bytes;
    assert.equal(o.source, 'created');
    assert.equal(o.verdict, NEXT);
    assert.equal(b.length, 100);
    assert.equal(u16(b, 12), 0x0800);
    assert.deepEqual([...b.subarray(26, 34)], [10, 0, 0, 1, 10, 0, 0, 2]);
    assert.equal(u16(b, 16), 86, 'IPv4 total length');
    assert.equal(u16(b, 24), refIpv4HeaderChecksum(b, 14), 'IPv4 header checksum');
    assert.equal(u16(b, 34), 5000 + (i % 3), 'source port: its flow');
    assert.equal(u16(b, 36), 7);
    assert.equal(u16(b, 38), 66, 'UDP length');
    assert.equal(u16(b, 40), refL4Checksum(b, layout(100)), 'UDP checksum');
    const dv = new DataView(b.buffer, b.byteOffset);
    assert.equal(dv.getUint32(42), magicOf(1));
    assert.equal(dv.getUint32(46), i, 'sequence');
    assert.equal(dv.getFloat64(50), 1 + Math.floor(i / 2), 'timestamp: the tick that made it');
  });
  await s.stop();
});

test('a fractional rate accumulates: 500 pps is a packet every other ms', async () => {
  const s = await openNF(gen, { options: { rate: 500 } });
  assert.deepEqual(
    [1, 2, 3, 4].map(() => s.tick(1).length),
    [0, 1, 0, 1],
  );
  await s.stop();
});

test('destination: a port (out, its MAC as source) or a service (toNF)', async () => {
  const a = await runNF(gen, [], {
    options: { port: 'wan', rate: 1000 },
    ports: [{ name: 'lan' }, { name: 'wan', mac: '02:00:00:00:0a:0b' }],
    ticks: 1,
  });
  assert.equal(a.outputs[0]!.verdict, out(1));
  assert.deepEqual([...a.outputs[0]!.bytes.subarray(6, 12)], [2, 0, 0, 0, 0x0a, 0x0b]);
  const b = await runNF(gen, [], { options: { service: 4, rate: 1000 }, ticks: 1 });
  assert.equal(b.outputs[0]!.verdict, toNF(4));
});

test('latency: own packets back are measured exactly (virtual clock) and dropped', async () => {
  const s = await openNF(gen, { options: { rate: 100_000 } });
  const made = s.tick(1).map((o) => o.bytes); // 100 packets stamped at 1 ms
  assert.equal(made.length, 100);
  // Send them back with latencies 1..100 µs, one push (one burst) each.
  let t = s.now;
  for (let k = 0; k < 100; k++) {
    const want = 1 + (k + 1) / 1000;
    s.advance(want - t);
    t = want;
    s.push([made[k]!]);
  }
  assert.ok(s.verdicts.every((v) => v === DROP));
  const h = s.instance.histogram;
  assert.equal(h.count, 100);
  assert.equal(h.max, 100);
  assert.equal(h.min, 1);
  assert.equal(h.percentile(50), 51, 'the value of rank 50 is 50, in bucket 50..51');
  assert.equal(h.percentile(99), 99, 'rank 99: bucket 96..99');
  assert.equal(h.percentile(100), 100, 'capped by the exact maximum');
  assert.equal(h.percentile(10), 10, 'exact below 32 µs');
  const r = await s.stop();
  assert.equal(r.instance.counters.received, 100);
  assert.equal(r.instance.counters.reordered, 0);
  // the declared counters and gauges (stats, /metrics, the console): latencies 1..100 µs
  assert.deepEqual(r.metrics, {
    sent: 100,
    received: 100,
    reordered: 0,
    badTimestamp: 0,
    foreign: 0,
    late: 0,
    noBuffer: 0,
    latencyP50Us: 51,
    latencyP99Us: 99,
    latencyMaxUs: 100,
  });
});

test('not its own: other UDP, another generator, short payloads, non-IP: NEXT; reordering and bad timestamps counted', async () => {
  const s = await openNF(gen, { options: { rate: 1000 }, instance: 7 });
  const [a, b] = [...s.tick(1), ...s.tick(1)].map((o) => o.bytes);
  const other = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.9', dst: '10.0.0.1' },
    l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(30) },
  }).bytes;
  const short = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.9', dst: '10.0.0.1' },
    l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(4) },
  }).bytes;
  const foreign = a!.slice();
  new DataView(foreign.buffer).setUint32(42, magicOf(8));
  const future = a!.slice();
  new DataView(future.buffer).setFloat64(50, 1e9);
  const tcp = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'tcp', sport: 1, dport: 2 },
  }).bytes;
  s.advance(1);
  s.push([b!, a!, other, short, foreign, future, tcp, new Uint8Array(8)]);
  assert.deepEqual(s.verdicts, [DROP, DROP, NEXT, NEXT, NEXT, DROP, NEXT, NEXT]);
  const c = s.instance.counters;
  assert.equal(c.received, 2);
  assert.equal(c.reordered, 1);
  assert.equal(c.foreign, 1);
  assert.equal(c.badTimestamp, 1);
  assert.equal(s.instance.histogram.max, 2000, 'a: made at 1 ms, back at 3 ms');
  await s.stop();
});

test('more than 512 due in one tick: the rest is skipped, counted late', async () => {
  const s = await openNF(gen, { options: { rate: 1_000_000 } });
  assert.equal(s.tick(1).length, 512);
  assert.equal(s.instance.counters.late, 488);
  const r = await s.stop();
  assert.deepEqual([r.metrics.sent, r.metrics.late, r.metrics.noBuffer, r.metrics.latencyMaxUs], [512, 488, 0, 0]);
});

test('interval: settings, a line per interval, totals at stop', async () => {
  const s = await openNF(gen, { options: { rate: 2, interval: 1 } });
  const made = s.tick(1000).map((o) => o.bytes);
  s.advance(0.25);
  s.push([made[0]!]);
  const r = await s.stop();
  assert.deepEqual(r.logs, [
    'load-generator: 2 pps of 64 bytes, 1 flow, 10.0.0.1 → 10.0.0.2:9',
    'load-generator: last 1 s: 2 sent (2 pps), 0 back; in all 2 sent, 0 back, 0 reordered, 0 late; latency p50 0 µs, p99 0 µs, max 0 µs (0 measured)',
    'load-generator: in all 2 sent, 1 back (1 not back), 0 reordered, 0 bad timestamps; latency p50 500250 µs, p99 500250 µs, max 500250 µs (1 measured)',
  ]);
});

test('histogram buckets: exact below 32 µs, 16 per power of two above, every value in its bucket', () => {
  for (let v = 0; v < 32; v++) assert.equal(bucketOf(v), v);
  assert.equal(bucketOf(32), 32);
  assert.equal(bucketOf(33), 32);
  assert.equal(bucketOf(34), 33);
  assert.equal(bucketOf(2 ** 31 - 1), BUCKETS - 1);
  assert.equal(bucketOf(1e12), BUCKETS - 1);
  for (let i = 1; i < BUCKETS; i++) assert.equal(bucketLow(i), bucketHigh(i - 1) + 1, `bucket ${i} follows ${i - 1}`);
  for (const v of [0, 5, 31, 32, 63, 64, 100, 1000, 12345, 999_999, 2 ** 30 + 7]) {
    const i = bucketOf(v);
    assert.ok(bucketLow(i) <= v && v <= bucketHigh(i), `${v} in bucket ${i}`);
    assert.ok(bucketHigh(i) - bucketLow(i) <= Math.max(0, bucketLow(i) / 16), 'width ≤ 1/16');
  }
  const h = new LatencyHistogram();
  assert.equal(h.percentile(50), 0, 'empty');
  for (const v of [1000, 1000, 1000, 5000]) h.record(v);
  assert.equal(h.percentile(75), 1023, '1000 is in bucket 992..1023');
  assert.equal(h.percentile(100), 5000);
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ size: 40 }, /option "size" must be at least 60/],
    [{ size: 4000 }, /option "size": 4000 bytes do not fit a buffer of 2048/],
    [{ port: 'nope' }, /option "port": no port "nope"/],
    [{ port: 'port0', service: 2 }, /option "port": given with "service" 2/],
    [{ 'src-ip': '10.0.0' }, /option "src-ip": "10\.0\.0" is not an IPv4 address/],
    [{ 'dst-ip': 'x' }, /option "dst-ip": "x" is not an IPv4 address/],
    [{ 'dst-mac': '02:00' }, /option "dst-mac": "02:00" is not a MAC address/],
    [{ flows: 100, sport: 65500 }, /option "flows": 100 flows from source port 65500 pass 65535/],
    [{ rate: -1 }, /option "rate" must be at least 0/],
    [{ service: 32 }, /option "service" must be at most 31/],
  ];
  for (const [options, re] of cases)
    await assert.rejects(
      runNF(gen, [], { options }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      JSON.stringify(options),
    );
});
