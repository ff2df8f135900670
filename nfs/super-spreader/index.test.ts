/**
 * Tests of super-spreader with openNF and the virtual clock: a source over the threshold of
 * distinct destinations is flagged and reported, one under it (or with many packets to few
 * destinations) is not; the estimate's accuracy and saturation; hosts against endpoints; the
 * mitigation's verdicts; IPv6; non-IP packets; table exhaustion; and every option's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import spreader, { linearCount } from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const pkt = (src: string, dst: string, dport = 80) =>
  buildPacket({
    l3: src.includes(':') ? { kind: 'ipv6', src, dst } : { kind: 'ipv4', src, dst },
    l4: { kind: 'tcp', sport: 40000, dport, flags: 0x02 },
  }).bytes;
/** One packet from src to each of n hosts 10.x.y.z. */
const scan = (src: string, n: number, base = 0) =>
  Array.from({ length: n }, (_, i) =>
    pkt(src, `10.${((base + i) >> 16) & 255}.${((base + i) >> 8) & 255}.${(base + i) & 255}`),
  );

type Session = Awaited<ReturnType<typeof open>>;
const open = (options: Record<string, unknown>) => openNF(spreader, { options: { interval: 0, ...options } });
function push(s: Session, pkts: Uint8Array[]): number[] {
  const n = s.verdicts.length;
  s.push(pkts);
  return s.verdicts.slice(n);
}
const closeWindow = (s: Session) => s.tick(10);

test('a source contacting more than threshold hosts is flagged; a busy source with few hosts is not', async () => {
  const s = await open({ threshold: 100 });
  push(s, scan('198.51.100.7', 150));
  push(s, scan('198.51.100.8', 60));
  for (let i = 0; i < 20; i++) push(s, scan('198.51.100.9', 5)); // 100 packets, 5 hosts
  closeWindow(s);
  const f = s.instance.findings();
  assert.equal(f.length, 1);
  assert.equal(f[0]!.source, '198.51.100.7');
  assert.ok(Math.abs(f[0]!.destinations - 150) <= 15, `estimate ${f[0]!.destinations} for 150`);
  assert.equal(f[0]!.packets, 150);
  assert.equal(f[0]!.saturated, false);
  assert.deepEqual(s.instance.flagged(), ['198.51.100.7']);
  assert.ok(s.logs.some((l) => l.includes('1 source over 100 distinct hosts')));
  assert.ok(s.logs.some((l) => l.startsWith('  198.51.100.7  ~') && l.includes('hosts  150 packets  (new)')));
  // the next window: still flagged but not new; a quiet window clears it
  push(s, scan('198.51.100.7', 150, 1000));
  closeWindow(s);
  assert.equal(s.instance.findings()[0]!.new, false);
  assert.equal(s.instance.counters.flaggedEvents, 1);
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), []);
  const r = await s.stop();
  // the declared counters and gauges: one flag event; the quiet last window saw no source
  assert.deepEqual([r.metrics.flaggedEvents, r.metrics.flaggedNow, r.metrics.sources], [1, 0, 0]);
  assert.deepEqual([r.metrics.fromFlagged, r.metrics.dropped, r.metrics.nonIp, r.metrics.untracked], [150, 0, 0, 0]);
});

test('the estimate tracks distinct counts; a full bitmap is saturated', async () => {
  const s = await open({ bits: 256, threshold: 10 });
  for (const [i, n] of [10, 50, 200, 400].entries()) push(s, scan(`192.0.2.${i + 1}`, n, i * 10000));
  const est = new Map(s.instance.sources().map((x) => [x.source, x.destinations]));
  for (const [i, n] of [10, 50, 200, 400].entries()) {
    const e = est.get(`192.0.2.${i + 1}`)!;
    assert.ok(Math.abs(e - n) <= 0.12 * n + 1, `${n} distinct: estimate ${e}`);
  }
  // repeated destinations do not count twice
  push(s, scan('192.0.2.1', 10));
  assert.equal(
    new Map(s.instance.sources().map((x) => [x.source, x.destinations])).get('192.0.2.1'),
    est.get('192.0.2.1'),
  );
  push(s, scan('192.0.2.9', 5000));
  closeWindow(s);
  const sat = s.instance.findings().find((x) => x.source === '192.0.2.9')!;
  assert.equal(sat.saturated, true);
  assert.equal(sat.destinations, Math.round(256 * Math.log(256)));
  assert.ok(s.logs.some((l) => l.includes('192.0.2.9  >= 1420 hosts')));
  assert.equal(linearCount(256, 0), 0);
  await s.stop();
});

test('count endpoints: a port scan of one host is many endpoints but one host', async () => {
  const ports = Array.from({ length: 200 }, (_, i) => pkt('198.51.100.7', '10.0.0.1', 1 + i));
  const hosts = await open({ threshold: 100 });
  push(hosts, ports);
  closeWindow(hosts);
  assert.deepEqual(hosts.instance.flagged(), []);
  const eps = await open({ threshold: 100, count: 'endpoints' });
  push(eps, ports);
  closeWindow(eps);
  assert.deepEqual(eps.instance.flagged(), ['198.51.100.7']);
  assert.ok(eps.logs.some((l) => l.includes('distinct endpoints')));
  await hosts.stop();
  await eps.stop();
});

test('mitigate drops the packets of flagged sources in the next window; without it they pass, counted', async () => {
  for (const mitigate of [true, false]) {
    const s = await open({ threshold: 50, mitigate });
    push(s, scan('198.51.100.7', 80));
    assert.deepEqual(push(s, [pkt('198.51.100.7', '10.0.0.1')]), [NEXT], 'not before the window closes');
    closeWindow(s);
    const v = push(s, [
      pkt('198.51.100.7', '10.9.9.9'),
      pkt('198.51.100.8', '10.9.9.9'),
      pkt('10.9.9.9', '198.51.100.7'),
    ]);
    assert.deepEqual(v, [mitigate ? DROP : NEXT, NEXT, NEXT]);
    assert.equal(s.instance.counters.fromFlagged, 1);
    assert.equal(s.instance.counters.dropped, mitigate ? 1 : 0);
    await s.stop();
  }
});

test('IPv6 sources and destinations', async () => {
  const s = await open({ threshold: 30, mitigate: true });
  push(
    s,
    Array.from({ length: 60 }, (_, i) => pkt('2001:db8::bad', `2001:db8:1::${(i + 1).toString(16)}`)),
  );
  push(
    s,
    Array.from({ length: 20 }, (_, i) => pkt('2001:db8::900d', `2001:db8:1::${(i + 1).toString(16)}`)),
  );
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['2001:db8::bad']);
  assert.deepEqual(push(s, [pkt('2001:db8::bad', '2001:db8::1'), pkt('2001:db8::900d', '2001:db8::1')]), [DROP, NEXT]);
  await s.stop();
});

test('non-IP and malformed packets pass, counted', async () => {
  const bad = pkt('192.0.2.1', '10.0.0.1').slice();
  bad[14] = 0x45;
  bad[16] = 0;
  bad[17] = 10; // total length under the header length
  const r = await runNF(spreader, [new Uint8Array(64), bad], { options: { interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT]);
  assert.equal(r.instance.counters.nonIp, 2);
});

test('capacity bounds the sources per window; the rest is untracked', async () => {
  const s = await open({ capacity: 2 });
  push(s, [
    pkt('192.0.2.1', '10.0.0.1'),
    pkt('192.0.2.2', '10.0.0.1'),
    pkt('192.0.2.3', '10.0.0.1'),
    pkt('192.0.2.3', '10.0.0.2'),
  ]);
  assert.equal(s.instance.counters.untracked, 2);
  closeWindow(s);
  push(s, [pkt('192.0.2.3', '10.0.0.1')]);
  assert.equal(s.instance.counters.untracked, 2, 'a new window has room again');
  await s.stop();
});

test('interval: counter lines every interval seconds and at stop', async () => {
  const s = await openNF(spreader, { options: { interval: 1 } });
  push(s, scan('192.0.2.1', 3));
  s.tick(5);
  assert.equal(s.logs.length, 0);
  s.tick(5);
  assert.ok(
    s.logs.some((l) => l.startsWith('super-spreader: 3 packets, 0 sources this window, 0 flagged')),
    s.logs.join('\n'),
  );
  const r = await s.stop();
  assert.equal(r.logs.filter((l) => l.startsWith('super-spreader: 3 packets')).length, 2);
});

test('bad option values are refused, naming the option', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ bits: 100 }, /option --bits 100 is not a multiple of 32/],
    [{ threshold: 2000, bits: 512 }, /option --threshold 2000 is more than a 512-bit bitmap counts reliably/],
    [{ bits: 16 }, /option "bits" must be at least 32/],
    [{ threshold: 0 }, /option "threshold" must be at least 1/],
    [{ count: 'ports' }, /option "count" must be one of hosts, endpoints/],
    [{ mitigate: 2 }, /option "mitigate" must be true or false/],
    [{ capacity: -1 }, /option "capacity" must be at least 1/],
    [{ window: 0 }, /option "window" must be at least 0.1/],
    [{ top: 0 }, /option "top" must be at least 1/],
    [{ interval: -1 }, /option "interval" must be at least 0/],
  ];
  for (const [options, msg] of bad) {
    await assert.rejects(openNF(spreader, { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, msg);
      return true;
    });
  }
});
