/**
 * Tests of rate-limiter with openNF and the virtual clock: policing per flow (both directions
 * one bucket, IPv6 too) and per port, packets/s and bits/s, the default depth, shaping (held
 * packets released by tick() and by later packets, in order, bounded queue), flow expiry
 * (including a flow that expires while its packets wait), reports, option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import limiter from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const KEPT = -1;
const udp = (sport: number, tag = 0, size = 0) =>
  buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport, dport: 80, payload: Uint8Array.of(tag) },
    ...(size > 0 ? { padTo: size } : {}),
  }).bytes;
const reply = (dport: number) =>
  buildPacket({ l3: { kind: 'ipv4', src: '10.0.0.2', dst: '10.0.0.1' }, l4: { kind: 'udp', sport: 80, dport } }).bytes;
const v6 = (sport: number) =>
  buildPacket({ l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' }, l4: { kind: 'tcp', sport, dport: 80 } }).bytes;
const arp = () =>
  buildPacket({
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.0.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.2',
    },
  }).bytes;
/** the tag byte of a udp() packet (its payload) */
const tagOf = (b: Uint8Array) => b[14 + 20 + 8]!;

test('police per flow: depth then the rate; both directions share a bucket; flows are apart', async () => {
  const s = await openNF(limiter, { options: { rate: 10, depth: 2 } });
  s.push([udp(1), reply(1), udp(1), udp(2), udp(2), udp(2)]);
  assert.deepEqual(s.verdicts, [NEXT, NEXT, DROP, NEXT, NEXT, DROP]);
  s.advance(99);
  s.push([udp(1)]);
  assert.equal(s.verdicts[6], DROP, '99 ms at 10 pps: 0.99 tokens');
  s.advance(1);
  s.push([udp(1), udp(1)]);
  assert.deepEqual(s.verdicts.slice(7), [NEXT, DROP], 'at 100 ms: one token');
  s.advance(10_000);
  s.push([udp(1), udp(1), udp(1)]);
  assert.deepEqual(s.verdicts.slice(9), [NEXT, NEXT, DROP], 'refilled up to the depth only');
  const r = await s.stop();
  assert.equal(r.instance.counters.passed, 7);
  assert.equal(r.instance.counters.dropped, 5);
  // the declared counters and gauges (stats, /metrics, the console): two flows, police (no queue)
  assert.deepEqual(r.metrics, {
    passed: 7,
    dropped: 5,
    delayed: 0,
    released: 0,
    queueFull: 0,
    noFlow: 0,
    tableFull: 0,
    lostAtStop: 0,
    queued: 0,
    flows: 2,
  });
});

test('police per flow, IPv6: one bucket per flow', async () => {
  const r = await runNF(limiter, [v6(1), v6(1), v6(2), v6(2)], { options: { rate: 1, depth: 1 } });
  assert.deepEqual(r.verdicts, [NEXT, DROP, NEXT, DROP]);
});

test('police per port, bits/s: frame bytes count; ports are apart', async () => {
  const s = await openNF(limiter, { options: { by: 'port', unit: 'bps', rate: 8000, depth: 1514 } });
  const p = udp(1, 0, 500);
  s.push([p, p, p, p], { inputPort: 0 });
  assert.deepEqual(s.verdicts, [NEXT, NEXT, NEXT, DROP], '1514 bytes: three 500-byte frames');
  s.push([p], { inputPort: 1 });
  assert.equal(s.verdicts[4], NEXT);
  s.advance(486);
  s.push([p], { inputPort: 0 });
  assert.equal(s.verdicts[5], NEXT, '14 + 486 ms × 1 byte/ms = 500 bytes');
  s.push([p], { inputPort: 0 });
  assert.equal(s.verdicts[6], DROP);
  await s.stop();
});

test('default depth: 100 ms of rate, at least one packet or one 1514-byte frame', async () => {
  const d = async (options: Record<string, unknown>) => (await runNF(limiter, [], { options })).instance.depth;
  assert.equal(await d({ rate: 1000 }), 100);
  assert.equal(await d({ rate: 2 }), 1);
  assert.equal(await d({ rate: 1e9, unit: 'bps' }), 12_500_000);
  assert.equal(await d({ rate: 1000, unit: 'bps' }), 1514);
});

test('non-IP packets and flows beyond the table share bucket 0', async () => {
  const r = await runNF(limiter, [arp(), udp(1), udp(2), arp(), udp(3)], { options: { rate: 1, depth: 2, flows: 1 } });
  // bucket 0: arp, udp(2) (table full) → the 2nd arp and udp(3) find it empty
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, DROP, DROP]);
  assert.equal(r.instance.counters.noFlow, 2);
  assert.equal(r.instance.counters.tableFull, 2);
});

test('shape: held over the rate, released by tick() in order, bounded queue', async () => {
  const s = await openNF(limiter, { options: { rate: 10, depth: 1, mode: 'shape', queue: 3 } });
  s.push([udp(1, 1), udp(1, 2), udp(1, 3), udp(1, 4), udp(1, 5)]);
  assert.deepEqual(s.verdicts, [NEXT, KEPT, KEPT, KEPT, DROP]);
  assert.equal(s.ctx.heldCount, 3);
  assert.equal(s.tick(99).length, 0, 'not before 100 ms');
  const first = s.tick(1);
  assert.deepEqual(
    first.map((o) => [tagOf(o.bytes), o.source, o.verdict]),
    [[2, 'kept', NEXT]],
  );
  const rest = s.tick(200);
  assert.deepEqual(
    rest.map((o) => tagOf(o.bytes)),
    [3, 4],
  );
  const r = await s.stop();
  assert.deepEqual(
    { ...r.instance.counters },
    { passed: 1, dropped: 0, delayed: 3, released: 3, queueFull: 1, noFlow: 0, tableFull: 0, lostAtStop: 0 },
  );
  assert.deepEqual([r.metrics.delayed, r.metrics.released, r.metrics.queueFull, r.metrics.queued], [3, 3, 1, 0]);
});

test('shape: a later packet of the bucket releases the queue first, then waits its turn', async () => {
  const s = await openNF(limiter, { options: { rate: 10, depth: 1, mode: 'shape' } });
  s.push([udp(1, 1), udp(1, 2), udp(7, 9)]);
  assert.deepEqual(s.verdicts, [NEXT, KEPT, NEXT]);
  s.advance(100);
  const out = s.push([udp(1, 3)]);
  assert.deepEqual(
    out.map((o) => tagOf(o.bytes)),
    [2],
    'the queued packet goes first',
  );
  assert.equal(s.verdicts[3], KEPT, 'the new one waits');
  const r = await s.stop();
  assert.equal(r.instance.counters.lostAtStop, 1, 'still queued at stop: freed by the harness');
  assert.deepEqual([r.metrics.lostAtStop, r.metrics.queued], [1, 1]);
  assert.equal(r.held, 1);
});

test('idle flows expire (bucket ids come back; a returning flow starts full)', async () => {
  const s = await openNF(limiter, { options: { rate: 1, depth: 1, 'idle-timeout': 1 } });
  s.push([udp(1), udp(2)]);
  assert.equal(s.instance.table!.count, 2);
  assert.equal(s.instance.bucketsInUse, 2);
  s.tick(500);
  s.push([udp(1)]);
  assert.equal(s.verdicts[2], DROP, 'half a token');
  s.tick(2100);
  assert.equal(s.instance.table!.count, 0);
  assert.equal(s.instance.bucketsInUse, 0);
  s.push([udp(2)]);
  assert.equal(s.verdicts[3], NEXT);
  await s.stop();
});

test('a flow that expires while its packets wait keeps its bucket until they are sent', async () => {
  const s = await openNF(limiter, { options: { rate: 1, depth: 1, mode: 'shape', 'idle-timeout': 0.01, flows: 8 } });
  s.push([udp(1, 1), udp(1, 2), udp(1, 3)]);
  assert.deepEqual(s.verdicts, [NEXT, KEPT, KEPT]);
  s.tick(50);
  assert.equal(s.instance.table!.count, 0, 'the flow is gone from the table');
  assert.equal(s.instance.bucketsInUse, 1, 'its bucket still holds packets');
  const out = s.tick(2000);
  assert.deepEqual(
    out.map((o) => tagOf(o.bytes)),
    [2, 3],
  );
  assert.equal(s.instance.bucketsInUse, 0);
  await s.stop();
});

test('interval: settings, a line per interval (ticks are 1 ms), totals at stop', async () => {
  const r = await runNF(limiter, [udp(1), udp(1)], { options: { rate: 5, depth: 1, interval: 1 }, ticks: 1000 });
  assert.deepEqual(r.logs, [
    'rate-limiter: police 5 pps per flow, depth 1 packets',
    'rate-limiter: last 1 s: 1 passed, 1 dropped over the rate, 0 without a flow, 0 table full; 1 flows',
    'rate-limiter: in all 1 passed, 1 dropped over the rate, 0 without a flow, 0 table full',
  ]);
  const q = await runNF(limiter, [udp(1)], { ticks: 2000 });
  assert.deepEqual(q.logs, []);
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ unit: 'bps', depth: 100 }, /option "depth": 100 bytes cannot hold a full frame/],
    [{ depth: 0.5 }, /option "depth": 0.5 packets cannot hold a packet/],
    [{ by: 'ip' }, /option "by" must be one of flow, port/],
    [{ rate: 0 }, /option "rate" must be at least 0.001/],
    [{ unit: 'Bps' }, /option "unit" must be one of pps, bps/],
    [{ mode: 'queue' }, /option "mode" must be one of police, shape/],
    [{ queue: 2000 }, /option "queue" must be at most 1024/],
    [{ flows: 0 }, /option "flows" must be at least 1/],
    [{ 'idle-timeout': -1 }, /option "idle-timeout" must be at least 0/],
  ];
  for (const [options, re] of cases)
    await assert.rejects(
      runNF(limiter, [], { options }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      JSON.stringify(options),
    );
});
