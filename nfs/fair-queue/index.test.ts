/**
 * Tests of fair-queue with openNF and the virtual clock (ticks are 1 ms): packets pass at once
 * while nothing waits, queues are served round robin (by bytes: DRR), the rate holds, drop tail
 * per flow and in all, flows without a 5-tuple, expiry, reports, option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import fq from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const KEPT = -1;
/** a UDP packet of flow `sport`, tagged (first payload byte), padded to `size` bytes */
const pkt = (sport: number, tag: number, size = 64) =>
  buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport, dport: 80, payload: new Uint8Array(Math.max(1, size - 42)).fill(tag) },
  }).bytes;
const flowOf = (b: Uint8Array) => b[34]! * 256 + b[35]!;
const tagOf = (b: Uint8Array) => b[42]!;

test('nothing queued and credit: passes at once; then queues, served round robin (quantum = one packet), one a ms', async () => {
  const s = await openNF(fq, { options: { unit: 'pps', rate: 1000, burst: 1, quantum: 64 } });
  s.push([1, 2, 3, 4, 5].map((t) => pkt(1, t)).concat([1, 2, 3].map((t) => pkt(2, t))));
  assert.deepEqual(s.verdicts, [NEXT, KEPT, KEPT, KEPT, KEPT, KEPT, KEPT, KEPT]);
  const order: string[] = [];
  for (let i = 0; i < 7; i++) {
    const out = s.tick(1);
    assert.equal(out.length, 1, `tick ${i}: one packet a ms`);
    order.push(`${flowOf(out[0]!.bytes)}:${tagOf(out[0]!.bytes)}`);
  }
  assert.deepEqual(order, ['1:2', '2:1', '1:3', '2:2', '1:4', '2:3', '1:5']);
  assert.equal(s.instance.backlog, 0);
  const r = await s.stop();
  assert.equal(r.instance.counters.passed, 1);
  assert.equal(r.instance.counters.sent, 7);
  // the declared counters and gauges: the queues are empty again, the two flows still known
  assert.deepEqual(r.metrics, {
    passed: 1,
    queued: 7,
    sent: 7,
    flowFull: 0,
    queueFull: 0,
    noFlow: 0,
    tableFull: 0,
    lostAtStop: 0,
    backlog: 0,
    backlogged: 0,
    flows: 2,
  });
});

test('DRR is by bytes: a flow of 1000-byte packets and one of 100-byte packets get equal bytes', async () => {
  const s = await openNF(fq, { options: { unit: 'pps', rate: 1e6, burst: 100, quantum: 1000 } });
  s.push(Array.from({ length: 100 }, (_, i) => pkt(9, i))); // take the credit: the rest waits
  const big = Array.from({ length: 4 }, (_, i) => pkt(1, i, 1000));
  const small = Array.from({ length: 40 }, (_, i) => pkt(2, i, 100));
  s.push([...big, ...small]);
  const out = s.tick(1);
  const seq = out.map((o) => flowOf(o.bytes));
  // Rounds: 1 big (1000 bytes), then 10 small (1000 bytes), again and again.
  const expected: number[] = [];
  for (let r = 0; r < 4; r++) expected.push(1, ...new Array(10).fill(2));
  assert.deepEqual(seq, expected);
  await s.stop();
});

test('the rate holds in bits/s: 8 Mbit/s is 1000 bytes a ms', async () => {
  const s = await openNF(fq, { options: { rate: 8e6, burst: 1000, 'flow-queue': 100 } });
  s.push(Array.from({ length: 21 }, (_, i) => pkt(1 + (i % 3), i, 500)));
  assert.equal(s.verdicts.filter((v) => v === NEXT).length, 2, '1000 bytes of burst: two 500-byte packets at once');
  let sent = 0;
  for (let ms = 0; ms < 5; ms++) {
    const n = s.tick(1).length;
    assert.equal(n, 2, `ms ${ms}: 1000 bytes`);
    sent += n;
  }
  assert.equal(sent + 2 + s.instance.backlog, 21);
  await s.stop();
});

test('drop tail: per flow (flow-queue) and in all (queue); counted', async () => {
  const s = await openNF(fq, { options: { unit: 'pps', rate: 1, burst: 1, queue: 4, 'flow-queue': 2 } });
  s.push([pkt(1, 0), pkt(1, 1), pkt(1, 2), pkt(1, 3), pkt(2, 0), pkt(3, 0), pkt(3, 1)]);
  assert.deepEqual(s.verdicts, [NEXT, KEPT, KEPT, DROP, KEPT, KEPT, DROP]);
  const r = await s.stop();
  assert.equal(r.instance.counters.flowFull, 1);
  assert.equal(r.instance.counters.queueFull, 1);
  assert.equal(r.instance.counters.lostAtStop, 4);
  assert.equal(r.held, 4);
  assert.deepEqual(
    [r.metrics.flowFull, r.metrics.queueFull, r.metrics.lostAtStop, r.metrics.queued, r.metrics.backlog],
    [1, 1, 4, 4, 4],
  );
});

test('packets without a 5-tuple (ARP, IPv6 runts) share queue 0; IPv6 flows get queues', async () => {
  const arp = buildPacket({
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.0.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.2',
    },
  }).bytes;
  const v6 = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'tcp', sport: 5, dport: 6 },
  }).bytes;
  const s = await openNF(fq, { options: { unit: 'pps', rate: 1000, burst: 1 } });
  s.push([pkt(1, 0), arp, arp, v6, new Uint8Array(9)]);
  assert.deepEqual(s.verdicts, [NEXT, KEPT, KEPT, KEPT, KEPT]);
  assert.equal(s.instance.counters.noFlow, 3);
  assert.equal(s.instance.backlogged, 2, 'queue 0 and the IPv6 flow');
  s.tick(4);
  assert.deepEqual([...s.instance.sentPerQueue.subarray(0, 3)], [3, 0, 1]);
  await s.stop();
});

test('idle flows expire and their queue ids come back', async () => {
  const s = await openNF(fq, { options: { flows: 8, 'idle-timeout': 0.5 } });
  s.push([pkt(1, 0), pkt(2, 0)]);
  assert.equal(s.instance.queuesInUse, 2);
  s.tick(600);
  assert.equal(s.instance.table.count, 0);
  assert.equal(s.instance.queuesInUse, 0);
  await s.stop();
});

test('interval: settings, a line per interval, totals at stop', async () => {
  const r = await runNF(fq, [pkt(1, 0), pkt(1, 1)], {
    options: { unit: 'pps', rate: 1, burst: 1, interval: 1 },
    ticks: 1000,
  });
  assert.equal(r.logs[0], 'fair-queue: 1 pps, burst 1 packets, quantum 1514 bytes, queue 1024 (64 per flow)');
  assert.equal(
    r.logs[1],
    'fair-queue: last 1 s: 1 passed at once, 1 queued, 1 sent from queues, 0 dropped (flow queue full), 0 dropped (queue full), 0 without a flow, 0 table full; 0 queued now in 0 flows',
  );
  assert.match(r.logs[2]!, /^fair-queue: in all 1 passed at once, .*; 0 still queued at stop \(freed\)$/);
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ rate: 0 }, /option "rate" must be at least 0.001/],
    [{ unit: 'Mbps' }, /option "unit" must be one of bps, pps/],
    [{ burst: -1 }, /option "burst" must be at least 0/],
    [{ quantum: 10 }, /option "quantum" must be at least 64/],
    [{ queue: 1025 }, /option "queue" must be at most 1024/],
    [{ 'flow-queue': 0 }, /option "flow-queue" must be at least 1/],
    [{ flows: 1.5 }, /option "flows" must be an integer/],
    [{ 'idle-timeout': -1 }, /option "idle-timeout" must be at least 0/],
    [{ interval: 'often' }, /option "interval" must be a number/],
  ];
  for (const [options, re] of cases)
    await assert.rejects(
      runNF(fq, [], { options }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      JSON.stringify(options),
    );
});
