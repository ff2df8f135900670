/**
 * Tests of the flow-tracker NF: every packet passes with runNF, per-flow counts with both
 * directions as one flow (IPv4 and IPv6), idle expiry at the right time with an injected
 * clock (FlowTracker) and through ticks (runNF's virtual clock), a full table, the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEXT, PacketView, runNF, type RunNFOptions } from 'nfchain';
import tracker, { FlowTracker } from './index.js';
import { buildPacket, type L4Spec } from '../../test/helpers/packet-builder.js';

const A = '10.0.0.1',
  B = '10.0.0.2',
  C = '10.0.0.3';
const V6A = '2001:db8::1',
  V6B = '2001:db8::2';

function v4(src: string, dst: string, l4: L4Spec, padTo?: number): Uint8Array {
  return buildPacket({ l3: { kind: 'ipv4', src, dst }, l4, ...(padTo !== undefined ? { padTo } : {}) }).bytes;
}
function v6(src: string, dst: string, l4: L4Spec): Uint8Array {
  return buildPacket({ l3: { kind: 'ipv6', src, dst }, l4 }).bytes;
}
const tcp = (sport: number, dport: number, payload = 0): L4Spec => ({
  kind: 'tcp',
  sport,
  dport,
  payload: new Uint8Array(payload),
});
const udp = (sport: number, dport: number, payload = 0): L4Spec => ({
  kind: 'udp',
  sport,
  dport,
  payload: new Uint8Array(payload),
});

// A mix: a TCP connection both ways, a UDP flow one way, a second TCP connection that differs
// only in the client port, an ICMP echo and its reply, an IPv6 UDP exchange, and non-IP.
const ab = v4(A, B, tcp(40000, 80));
const ba = v4(B, A, tcp(80, 40000, 1000));
const ab2 = v4(A, B, tcp(40001, 80, 10));
const ac = v4(A, C, udp(5353, 53, 20));
const ping = v4(A, C, { kind: 'icmp', type: 8, code: 0, id: 7, seq: 1 });
const pong = v4(C, A, { kind: 'icmp', type: 0, code: 0, id: 7, seq: 1 });
const q6 = v6(V6A, V6B, udp(5000, 53, 30));
const r6 = v6(V6B, V6A, udp(53, 5000, 100));
const arp = buildPacket({
  eth: { dst: 'ff:ff:ff:ff:ff:ff' },
  l3: { kind: 'arp', op: 1, senderMac: '02:00:00:00:00:01', senderIp: A, targetMac: '00:00:00:00:00:00', targetIp: B },
  padTo: 60,
}).bytes;
// An IPv4 header with IHL 4 is malformed: the view sees no IP, the tracker counts it as non-IP.
const malformed = ab.slice();
malformed[14] = 0x44;
const truncated = ab.slice(0, 20);
const mix = [ab, ba, ab2, ba, ac, ping, pong, q6, r6, ab, arp, malformed, truncated];

const quiet = { interval: 0 };

/** The tracker of the last run's instance. */
let last: FlowTracker | undefined;
function flowTracker(): FlowTracker {
  assert.ok(last, 'no run yet');
  return last;
}

/** runNF of the NF, keeping its instance's tracker for the assertions that follow. */
async function run(pkts: Uint8Array[], opts: RunNFOptions) {
  const r = await runNF(tracker, pkts, opts);
  last = r.instance.tracker;
  return r;
}

function flowsByName(): Map<string, { packets: number; bytes: number }> {
  return new Map(
    flowTracker()
      .flows()
      .map((f) => [f.flow, { packets: f.packets, bytes: f.bytes }]),
  );
}

test('every packet passes unchanged, IP or not, malformed or not', async () => {
  const r = await run(mix, { options: quiet });
  assert.deepEqual(
    r.verdicts,
    mix.map(() => NEXT),
  );
  assert.equal(r.outputs.length, mix.length);
  r.outputs.forEach((o, i) => {
    assert.deepEqual(o.bytes, mix[i]);
  });
  assert.equal(r.dropped, 0);
  assert.deepEqual(r.logs, [], 'interval 0 is quiet');
});

test('per-flow counts: both directions of a flow are one entry, IPv4 and IPv6', async () => {
  const r = await run(mix, { options: quiet });
  const flows = flowsByName();
  const len = (...ps: Uint8Array[]): number => ps.reduce((s, p) => s + p.length, 0);
  assert.deepEqual(
    flows,
    new Map([
      // the 5-tuple is the direction of the flow's first packet
      ['tcp 10.0.0.1:40000 -> 10.0.0.2:80', { packets: 4, bytes: len(ab, ba, ba, ab) }],
      ['tcp 10.0.0.1:40001 -> 10.0.0.2:80', { packets: 1, bytes: len(ab2) }],
      ['udp 10.0.0.1:5353 -> 10.0.0.3:53', { packets: 1, bytes: len(ac) }],
      ['icmp 10.0.0.1 -> 10.0.0.3', { packets: 2, bytes: len(ping, pong) }],
      ['udp [2001:db8::1]:5000 -> [2001:db8::2]:53', { packets: 2, bytes: len(q6, r6) }],
    ]),
  );
  const s = flowTracker().stats();
  assert.deepEqual(s, {
    packets: mix.length,
    bytes: len(...mix),
    nonIp: 3,
    active: 5,
    flows: 5,
    expired: 0,
    tableFull: 0,
  });
  // the declared counters and gauge (stats, /metrics, the console): the tracker's totals at stop
  assert.deepEqual(r.metrics, {
    packets: mix.length,
    bytes: len(...mix),
    nonIp: 3,
    newFlows: 5,
    expired: 0,
    tableFull: 0,
    activeFlows: 5,
  });
});

test('each run is a new instance with a table of its own', async () => {
  await run([ab, ba], { options: quiet });
  assert.equal(flowTracker().stats().packets, 2);
  assert.equal(flowTracker().table.count, 1);
});

/** A tracker and a view driven by hand: the test chooses `now` for each packet. */
function rig(capacity: number, idleTimeoutMs: number): { t: FlowTracker; see: (p: Uint8Array, now: number) => void } {
  const t = new FlowTracker({ capacity, idleTimeoutMs });
  const buf = new ArrayBuffer(2048);
  const bytes = new Uint8Array(buf);
  const view = new PacketView(buf);
  return {
    t,
    see(p, now) {
      bytes.set(p);
      t.count(view.reset(0, p.length), now);
    },
  };
}

test('expiry with an injected clock: removed exactly idle-timeout after the last packet, either direction', () => {
  const { t, see } = rig(16, 1500);
  see(ab, 0);
  see(ac, 100);
  see(ba, 1000); // the reply keeps the TCP flow alive
  assert.equal(t.table.count, 2);
  assert.equal(t.expire(1599), 0, 'udp: 1499 ms idle');
  assert.equal(t.expire(1600), 1, 'udp: 1500 ms idle: expired');
  assert.deepEqual(
    t.flows().map((f) => f.flow),
    ['tcp 10.0.0.1:40000 -> 10.0.0.2:80'],
  );
  assert.equal(t.expire(2499), 0);
  assert.equal(t.expire(2500), 1, 'tcp: 1500 ms after the reply');
  assert.equal(t.table.count, 0);
  assert.equal(t.stats().expired, 2);
  // The same 5-tuple later is a new flow, counted from zero.
  see(ba, 3000);
  assert.deepEqual(t.flows(), [
    { flow: 'tcp 10.0.0.2:80 -> 10.0.0.1:40000', packets: 1, bytes: ba.length, firstSeen: 3000, lastSeen: 3000 },
  ]);
  assert.equal(t.stats().flows, 3);
});

test('idle timeout 0: flows never expire', () => {
  const { t, see } = rig(16, 0);
  see(ab, 0);
  assert.equal(t.expire(1e12), 0);
  assert.equal(t.table.count, 1);
});

test('the NF enforces expiry from tick(): a 1 s timeout, swept within 2 s', async () => {
  // runNF's virtual clock: packets at 0 ms, then +100 ms per tick. A report every 2 s.
  const r = await run([ab, ac, q6], { options: { 'idle-timeout': 1, interval: 2 }, ticks: 20 });
  assert.equal(flowTracker().table.count, 0);
  assert.equal(flowTracker().stats().expired, 3);
  assert.deepEqual([r.metrics.newFlows, r.metrics.expired, r.metrics.activeFlows], [3, 3, 0]);
  assert.match(r.logs[0]!, /^flow-tracker: 2\.0 s: 0 active flows \(max 65536\), 3 new, 3 expired, /);
  // one tick short of the deadline nothing has gone
  await run([ab, ac, q6], { options: { 'idle-timeout': 1, interval: 0 }, ticks: 9 });
  assert.equal(flowTracker().table.count, 3);
});

test('a full table: new flows are counted, not tracked; known flows still are', async () => {
  const pkts = [ab, ac, q6, ping, ba, ab2];
  const r = await run(pkts, { options: { capacity: 2, interval: 1 }, ticks: 10 });
  assert.deepEqual(
    r.verdicts,
    pkts.map(() => NEXT),
  );
  const s = flowTracker().stats();
  assert.equal(s.active, 2);
  assert.equal(s.tableFull, 3, 'q6, ping and ab2 found no room');
  assert.deepEqual([r.metrics.tableFull, r.metrics.activeFlows, r.metrics.newFlows], [3, 2, 2]);
  assert.deepEqual(flowsByName().get('tcp 10.0.0.1:40000 -> 10.0.0.2:80'), {
    packets: 2,
    bytes: ab.length + ba.length,
  });
  assert.match(
    r.logs[0]!,
    /2 active flows \(max 2\), 2 new, 0 expired, 3 packets not tracked \(table full\), 0 non-IP packets$/,
  );
});

test('the report: summary since the last one, top N by bytes with 5-tuples', async () => {
  const big = v4(A, B, tcp(40000, 80, 1400));
  const pkts = [ab, big, ba, big, q6, r6, ac, ac, ping, arp];
  const r = await run(pkts, { options: { interval: 1, top: 3 }, ticks: 20 });
  const tcpBytes = ab.length + 2 * big.length + ba.length;
  assert.deepEqual(r.logs.slice(0, 5), [
    'flow-tracker: 1.0 s: 4 active flows (max 65536), 4 new, 0 expired, 0 packets not tracked (table full), 1 non-IP packet',
    'top 3 flows by bytes:',
    `  1  tcp 10.0.0.1:40000 -> 10.0.0.2:80  4 packets  ${tcpBytes} bytes`,
    `  2  udp [2001:db8::1]:5000 -> [2001:db8::2]:53  2 packets  ${q6.length + r6.length} bytes`,
    `  3  udp 10.0.0.1:5353 -> 10.0.0.3:53  2 packets  ${2 * ac.length} bytes`,
  ]);
  // The second report covers only its own second: nothing new, nothing expired (timeout 60 s).
  assert.equal(
    r.logs[5],
    'flow-tracker: 1.0 s: 4 active flows (max 65536), 0 new, 0 expired, 0 packets not tracked (table full), 0 non-IP packets',
  );
  assert.equal(r.logs.length, 11, 'two reports of five lines, then the summary at stop');
  assert.equal(
    r.logs.at(-1),
    `flow-tracker: ${pkts.length} packets, ${pkts.reduce((s, p) => s + p.length, 0)} bytes, 4 flows in all (4 active, 0 expired), 0 packets not tracked, 1 non-IP`,
  );
});

test('top 0 lists no flows; options are checked', async () => {
  const r = await run([ab], { options: { interval: 1, top: 0 }, ticks: 10 });
  assert.equal(r.logs.length, 2);
  await assert.rejects(runNF(tracker, [], { options: { capacity: 0 } }), /option "capacity" must be at least 1/);
  await assert.rejects(
    runNF(tracker, [], { options: { 'idle-timeout': -1 } }),
    /option "idle-timeout" must be at least 0/,
  );
  await assert.rejects(runNF(tracker, [], { options: { idle: 5 } }), /unknown option "idle"/);
});
