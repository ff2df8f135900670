/**
 * Tests of udp-flood with openNF and the virtual clock: detection over and under the packet and
 * bit rate thresholds, windows crossed with tick(), the report, the mitigation modes (none, drop,
 * limit with its per-window budget), IPv6, non-IP and malformed packets, table exhaustion, and
 * every option's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import udpFlood from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const udp = (dst: string, n = 1, size = 64, src = '192.0.2.1'): Uint8Array[] => {
  const b = buildPacket({
    l3: dst.includes(':') ? { kind: 'ipv6', src: '2001:db8::1', dst } : { kind: 'ipv4', src, dst },
    l4: { kind: 'udp', sport: 4000, dport: 9 },
    padTo: size,
  }).bytes;
  return Array.from({ length: n }, () => b);
};
const tcp = (dst: string) =>
  buildPacket({ l3: { kind: 'ipv4', src: '192.0.2.1', dst }, l4: { kind: 'tcp', sport: 1, dport: 80 } }).bytes;

type Session = Awaited<ReturnType<typeof open>>;
const open = (options: Record<string, unknown>) => openNF(udpFlood, { options: { interval: 0, ...options } });
/** Pushes and returns this push's verdicts. */
function push(s: Session, pkts: Uint8Array[]): number[] {
  const n = s.verdicts.length;
  s.push(pkts);
  return s.verdicts.slice(n);
}
/** One window of 1 s: ten ticks of 100 ms. */
const closeWindow = (s: Session) => s.tick(10);

test('a destination over the packet rate is flagged and reported; one under it is not', async () => {
  const s = await open({ pps: 100, mbps: 0 });
  assert.deepEqual(push(s, [...udp('10.0.0.5', 150), ...udp('10.0.0.6', 99)]), new Array(249).fill(NEXT));
  s.tick(9);
  assert.equal(s.instance.counters.windows, 0, 'the window is not over before 1 s');
  s.tick(1);
  const f = s.instance.findings();
  assert.equal(f.length, 1);
  assert.equal(f[0]!.victim, '10.0.0.5');
  assert.equal(f[0]!.packets, 150);
  assert.equal(f[0]!.bytes, 150 * 64);
  assert.equal(f[0]!.pps, 150);
  assert.equal(f[0]!.new, true);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.5']);
  assert.ok(s.logs.some((l) => /1 victim/.test(l)));
  assert.ok(s.logs.some((l) => l.includes('10.0.0.5  150 packets  9600 bytes  150 pps') && l.includes('(new)')));
  assert.ok(!s.logs.some((l) => l.includes('10.0.0.6')));
  const c = s.instance.counters;
  assert.equal(c.udp, 249);
  assert.equal(c.flaggedEvents, 1);
  assert.equal(c.flaggedNow, 1);
  // mitigation none: UDP to the victim passes, counted
  assert.deepEqual(push(s, udp('10.0.0.5', 3)), [NEXT, NEXT, NEXT]);
  assert.equal(c.toVictims, 3);
  assert.equal(c.dropped, 0);
  const r = await s.stop();
  // the declared counters and gauges (stats, /metrics, the console)
  assert.deepEqual(r.metrics, {
    nonIp: 0,
    udp: 252,
    udpBytes: 252 * 64,
    untracked: 0,
    toVictims: 3,
    dropped: 0,
    flaggedEvents: 1,
    flaggedFull: 0,
    flaggedNow: 1,
    destinations: 2,
  });
});

test('a victim stays flagged while the flood goes on, and is cleared after a quiet window', async () => {
  const s = await open({ pps: 100, mbps: 0, mitigate: 'drop' });
  push(s, udp('10.0.0.5', 120));
  closeWindow(s);
  assert.deepEqual(push(s, udp('10.0.0.5', 120)), new Array(120).fill(DROP), 'dropped packets still count');
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.5']);
  assert.equal(s.instance.findings()[0]!.new, false);
  assert.equal(s.instance.counters.flaggedEvents, 1, 'one flag event for two windows');
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), []);
  assert.deepEqual(push(s, udp('10.0.0.5', 2)), [NEXT, NEXT]);
  assert.equal(s.instance.counters.dropped, 120);
  const r = await s.stop();
  assert.deepEqual([r.metrics.dropped, r.metrics.flaggedEvents, r.metrics.flaggedNow], [120, 1, 0]);
});

test('mitigate drop: only UDP to a flagged victim is dropped', async () => {
  const s = await open({ pps: 50, mbps: 0, mitigate: 'drop' });
  push(s, udp('10.0.0.5', 60));
  closeWindow(s);
  assert.deepEqual(push(s, [udp('10.0.0.5')[0]!, udp('10.0.0.7')[0]!, tcp('10.0.0.5')]), [DROP, NEXT, NEXT]);
  const c = s.instance.counters;
  assert.equal(c.toVictims, 1);
  assert.equal(c.dropped, 1);
  await s.stop();
});

test('mitigate limit: `limit` packets per second pass per victim, the budget renewed each window', async () => {
  const s = await open({ pps: 50, mbps: 0, mitigate: 'limit', limit: 5, window: 2 });
  push(s, udp('10.0.0.5', 200)); // 100 pps over 2 s
  s.tick(20);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.5']);
  const v = push(s, udp('10.0.0.5', 14));
  assert.deepEqual(v, [...new Array(10).fill(NEXT), ...new Array(4).fill(DROP)], '5 pps × 2 s = 10 per window');
  push(s, udp('10.0.0.5', 186));
  s.tick(20);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.5']);
  assert.deepEqual(push(s, udp('10.0.0.5', 11)).filter((x) => x === NEXT).length, 10);
  await s.stop();
});

test('the bit-rate threshold flags a destination by volume', async () => {
  // 0.1 Mbit/s over 1 s = 12500 bytes: 10 packets of 1500 bytes is 15000
  const s = await open({ pps: 0, mbps: 0.1 });
  push(s, [...udp('10.0.0.8', 10, 1500), ...udp('10.0.0.9', 8, 1500)]);
  closeWindow(s);
  const f = s.instance.findings();
  assert.deepEqual(
    f.map((x) => x.victim),
    ['10.0.0.8'],
  );
  assert.equal(f[0]!.mbps, 0.12);
  await s.stop();
});

test('IPv6 destinations are tracked and flagged', async () => {
  const s = await open({ pps: 10, mbps: 0, mitigate: 'drop' });
  push(s, udp('2001:db8::99', 11));
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['2001:db8::99']);
  assert.deepEqual(push(s, [...udp('2001:db8::99'), ...udp('2001:db8::98')]), [DROP, NEXT]);
  await s.stop();
});

test('non-IP and malformed packets pass and are counted; they never throw', async () => {
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
  const good = udp('10.0.0.5')[0]!;
  const cut = good.slice(0, 14 + 12); // IPv4 header cut short
  const badIhl = good.slice();
  badIhl[14] = 0x43; // IHL 3
  const r = await runNF(udpFlood, [arp, cut, badIhl, new Uint8Array(10)], { options: { interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT]);
  assert.equal(r.instance.counters.nonIp, 4);
  assert.equal(r.instance.counters.udp, 0);
});

test('capacity bounds the destinations per window; the rest is counted as untracked', async () => {
  const s = await open({ pps: 1, mbps: 0, capacity: 2 });
  push(s, [...udp('10.0.0.1', 2), ...udp('10.0.0.2', 2), ...udp('10.0.0.3', 3)]);
  assert.equal(s.instance.counters.untracked, 3);
  closeWindow(s);
  assert.equal(s.instance.findings().length, 2);
  // the next window starts empty
  push(s, udp('10.0.0.3', 2));
  assert.equal(s.instance.counters.untracked, 3);
  await s.stop();
});

test('interval: a counter line every interval seconds and at stop', async () => {
  const s = await openNF(udpFlood, { options: { interval: 1, pps: 10, mbps: 0 } });
  push(s, udp('10.0.0.5', 4));
  s.tick(10);
  assert.ok(
    s.logs.some((l) => l.startsWith('udp-flood: 4 packets, 4 UDP (256 bytes), 0 victims flagged')),
    s.logs.join('\n'),
  );
  const r = await s.stop();
  assert.equal(r.logs.filter((l) => l.startsWith('udp-flood: 4 packets')).length, 2);
  // quiet: no counter line
  const q = await runNF(udpFlood, udp('10.0.0.5', 4), { options: { interval: 0 }, ticks: 50 });
  assert.equal(q.logs.length, 0);
});

test('bad option values are refused, naming the option', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ pps: 0, mbps: 0 }, /option --pps and option --mbps are both 0/],
    [{ pps: -1 }, /option "pps" must be at least 0/],
    [{ mbps: 'fast' }, /option "mbps" must be a number/],
    [{ window: 0 }, /option "window" must be at least 0.1/],
    [{ capacity: 0 }, /option "capacity" must be at least 1/],
    [{ capacity: 1.5 }, /option "capacity" must be an integer/],
    [{ mitigate: 'block' }, /option "mitigate" must be one of none, drop, limit/],
    [{ limit: -5 }, /option "limit" must be at least 0/],
    [{ top: 0 }, /option "top" must be at least 1/],
    [{ interval: -1 }, /option "interval" must be at least 0/],
    [{ treshold: 1 }, /unknown option "treshold"/],
  ];
  for (const [options, msg] of bad) {
    await assert.rejects(openNF(udpFlood, { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, msg);
      return true;
    });
  }
});
