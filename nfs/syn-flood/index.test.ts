/**
 * Tests of syn-flood with openNF and the virtual clock: handshakes completed (and not, wrong
 * ACK sequence, reset, timed out), victims and sources flagged over the thresholds and not under
 * them, the mitigation's verdicts (flagged sources, unknown sources to victims, good sources
 * spared), IPv6, non-IP and malformed packets, table exhaustion, and every option's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import synFlood from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const v6 = (a: string) => a.includes(':');
function tcp(src: string, dst: string, sport: number, dport: number, flags: number, seq = 1000): Uint8Array {
  return buildPacket({
    l3: v6(src) ? { kind: 'ipv6', src, dst } : { kind: 'ipv4', src, dst },
    l4: { kind: 'tcp', sport, dport, flags, seq },
  }).bytes;
}
const SYN = 0x02,
  SYNACK = 0x12,
  ACK = 0x10,
  RST = 0x04;
const syn = (src: string, dst: string, sport: number, seq = 1000) => tcp(src, dst, sport, 80, SYN, seq);
/** A whole handshake from src:sport to dst:80. */
const handshake = (src: string, dst: string, sport: number) => [
  syn(src, dst, sport, 5000),
  tcp(dst, src, 80, sport, SYNACK, 9000),
  tcp(src, dst, sport, 80, ACK, 5001),
];

type Session = Awaited<ReturnType<typeof open>>;
const open = (options: Record<string, unknown>) => openNF(synFlood, { options: { interval: 0, ...options } });
function push(s: Session, pkts: Uint8Array[]): number[] {
  const n = s.verdicts.length;
  s.push(pkts);
  return s.verdicts.slice(n);
}
const closeWindow = (s: Session) => s.tick(10);
/** n SYNs from n spoofed sources (10.9.x.y) to dst. */
const spoofed = (dst: string, n: number, base = 0) =>
  Array.from({ length: n }, (_, i) => syn(`10.9.${((base + i) >> 8) & 255}.${(base + i) & 255}`, dst, 1024 + i));

test('completed handshakes: SYN, SYN-ACK, ACK of ISN + 1; a wrong sequence and a reset do not complete', async () => {
  const s = await open({});
  assert.deepEqual(push(s, handshake('192.0.2.1', '10.0.0.1', 40000)), [NEXT, NEXT, NEXT]);
  const c = s.instance.counters;
  assert.equal(c.syns, 1);
  assert.equal(c.synAcks, 1);
  assert.equal(c.completed, 1);
  assert.equal(s.instance.half.count, 0);
  assert.deepEqual(s.instance.goodSources(), ['192.0.2.1']);
  push(s, [syn('192.0.2.2', '10.0.0.1', 40001, 7), tcp('192.0.2.2', '10.0.0.1', 40001, 80, ACK, 9)]);
  assert.equal(c.badAcks, 1);
  assert.equal(s.instance.half.count, 1);
  push(s, [tcp('192.0.2.2', '10.0.0.1', 40001, 80, RST, 8)]);
  assert.equal(c.resets, 1);
  assert.equal(s.instance.half.count, 0);
  // an ACK of nothing half-open is nobody's business
  push(s, [tcp('192.0.2.3', '10.0.0.1', 1, 80, ACK, 1)]);
  assert.equal(c.completed, 1);
  const r = await s.stop();
  // the declared counters (stats, /metrics, the console)
  assert.deepEqual(
    [r.metrics.syns, r.metrics.synAcks, r.metrics.completed, r.metrics.badAcks, r.metrics.resets],
    [2, 1, 1, 1, 1],
  );
  assert.equal(r.metrics.halfOpen, 0);
});

test('half-open handshakes time out after handshake-timeout', async () => {
  const s = await open({ 'handshake-timeout': 2 });
  push(s, spoofed('10.0.0.1', 5));
  assert.equal(s.instance.half.count, 5);
  s.tick(19);
  assert.equal(s.instance.half.count, 5);
  s.tick(11); // 3 s: every slot swept since the deadline
  assert.equal(s.instance.half.count, 0);
  assert.equal(s.instance.counters.timedOut, 5);
  const r = await s.stop();
  assert.deepEqual([r.metrics.timedOut, r.metrics.halfOpen, r.metrics.syns], [5, 0, 5]);
});

test('a destination with many SYNs that do not complete is flagged; one whose SYNs complete is not', async () => {
  const s = await open({ 'syn-rate': 50, 'src-rate': 0 });
  push(s, spoofed('10.0.0.1', 60)); // victim: 60 SYNs, 0 completed
  for (let i = 0; i < 60; i++) push(s, handshake(`192.0.2.${i + 1}`, '10.0.0.2', 30000 + i)); // busy but healthy
  push(s, spoofed('10.0.0.3', 40)); // under the rate
  closeWindow(s);
  const f = s.instance.findings();
  assert.deepEqual(
    f.victims.map((v) => [v.victim, v.syns, v.completed, v.synAcks, v.new]),
    [['10.0.0.1', 60, 0, 0, true]],
  );
  assert.deepEqual(f.sources, []);
  assert.deepEqual(s.instance.flagged().victims, ['10.0.0.1']);
  assert.ok(s.logs.some((l) => l.includes('1 victim, 0 sources flagged')));
  assert.ok(s.logs.some((l) => l.includes('victim 10.0.0.1  60 SYNs (60/s)  0 completed  0 SYN-ACKs  (new)')));
  assert.equal(s.instance.counters.victimEvents, 1);
  await s.stop();
});

test('min-complete: a destination where too few handshakes complete is flagged', async () => {
  const s = await open({ 'syn-rate': 10, 'min-complete': 0.9, 'src-rate': 0 });
  for (let i = 0; i < 16; i++) push(s, handshake(`192.0.2.${i + 1}`, '10.0.0.2', 30000 + i));
  push(s, spoofed('10.0.0.2', 4)); // 16 of 20 = 0.8 < 0.9
  closeWindow(s);
  assert.deepEqual(
    s.instance.findings().victims.map((v) => [v.victim, v.syns, v.completed, v.synAcks]),
    [['10.0.0.2', 20, 16, 16]],
  );
  await s.stop();
});

test('a source sending SYNs over src-rate that completes none is flagged; mitigation drops its SYNs', async () => {
  const s = await open({ 'syn-rate': 1000, 'src-rate': 20, mitigate: true });
  const scanner = Array.from({ length: 25 }, (_, i) => syn('198.51.100.7', `10.0.1.${i + 1}`, 2000 + i));
  push(s, scanner);
  // a source over the rate that completes one handshake is not flagged
  push(
    s,
    Array.from({ length: 25 }, (_, i) => syn('198.51.100.8', `10.0.1.${i + 1}`, 2000 + i)),
  );
  push(s, handshake('198.51.100.8', '10.0.2.1', 3000));
  closeWindow(s);
  assert.deepEqual(
    s.instance.findings().sources.map((x) => [x.source, x.syns]),
    [['198.51.100.7', 25]],
  );
  assert.deepEqual(push(s, [syn('198.51.100.7', '10.0.3.1', 1), syn('198.51.100.8', '10.0.3.1', 1)]), [DROP, NEXT]);
  // non-SYN packets of a flagged source pass
  assert.deepEqual(push(s, [tcp('198.51.100.7', '10.0.3.1', 1, 80, ACK)]), [NEXT]);
  assert.equal(s.instance.counters.droppedFromSources, 1);
  await s.stop();
});

test('mitigate: SYNs to a victim from unknown sources are dropped, from good sources passed; off without mitigate', async () => {
  for (const mitigate of [true, false]) {
    const s = await open({ 'syn-rate': 50, 'src-rate': 0, mitigate });
    push(s, handshake('192.0.2.50', '10.0.0.1', 1234)); // a good source, before the attack
    push(s, spoofed('10.0.0.1', 80));
    closeWindow(s);
    assert.deepEqual(s.instance.flagged().victims, ['10.0.0.1']);
    const before = s.instance.half.count;
    const v = push(s, [
      syn('10.9.200.1', '10.0.0.1', 5),
      syn('192.0.2.50', '10.0.0.1', 6),
      syn('10.9.200.1', '10.0.0.2', 5),
    ]);
    assert.deepEqual(v, mitigate ? [DROP, NEXT, NEXT] : [NEXT, NEXT, NEXT]);
    assert.equal(s.instance.counters.droppedToVictims, mitigate ? 1 : 0);
    // the dropped SYN opened no half-open entry
    assert.equal(s.instance.half.count - before, mitigate ? 2 : 3);
    // the attack stops: the next window clears the victim
    closeWindow(s);
    closeWindow(s);
    assert.deepEqual(s.instance.flagged().victims, []);
    await s.stop();
  }
});

test('IPv6 handshakes and victims', async () => {
  const s = await open({ 'syn-rate': 5, 'src-rate': 0, mitigate: true });
  push(s, handshake('2001:db8::1', '2001:db8::80', 40000));
  assert.equal(s.instance.counters.completed, 1);
  push(
    s,
    Array.from({ length: 10 }, (_, i) => syn(`2001:db8:bad::${i + 1}`, '2001:db8::80', 1000 + i)),
  );
  closeWindow(s);
  assert.deepEqual(s.instance.flagged().victims, ['2001:db8::80']);
  assert.deepEqual(push(s, [syn('2001:db8:bad::99', '2001:db8::80', 1), syn('2001:db8::1', '2001:db8::80', 2)]), [
    DROP,
    NEXT,
  ]);
  await s.stop();
});

test('non-IP, non-TCP and malformed TCP pass and are counted', async () => {
  const udp = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  }).bytes;
  const s = syn('192.0.2.1', '10.0.0.1', 1);
  const cutTcp = s.slice(0, 14 + 20 + 10);
  const badIp = s.slice();
  badIp[14] = 0x44;
  const r = await runNF(synFlood, [udp, cutTcp, badIp, new Uint8Array(20)], { options: { interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT]);
  const c = r.instance.counters;
  assert.equal(c.tcp, 1);
  assert.equal(c.malformed, 1);
  assert.equal(c.nonIp, 2);
  assert.equal(c.syns, 0);
});

test('capacity, flows and good bound the tables; the rest is counted', async () => {
  const s = await open({ capacity: 4, flows: 3 });
  push(s, spoofed('10.0.0.1', 6));
  assert.equal(s.instance.counters.untracked, 2, 'sources 5 and 6 found the source table full');
  assert.equal(s.instance.half.count, 3);
  assert.equal(s.instance.half.fullCount, 3);
  await s.stop();
  const g = await open({ good: 1 });
  push(g, [...handshake('192.0.2.1', '10.0.0.9', 1), ...handshake('192.0.2.2', '10.0.0.9', 2)]);
  assert.equal(g.instance.counters.completed, 2);
  assert.deepEqual(g.instance.goodSources(), ['192.0.2.1']);
  assert.equal(g.instance.goodFull(), 1);
  await g.stop();
});

test('interval: counter lines every interval seconds and at stop', async () => {
  const s = await openNF(synFlood, { options: { interval: 1 } });
  push(s, handshake('192.0.2.1', '10.0.0.1', 1));
  s.tick(10);
  assert.ok(
    s.logs.some((l) => l.startsWith('syn-flood: 3 packets, 1 SYNs, 1 SYN-ACKs, 1 handshakes completed, 0 half-open')),
  );
  const r = await s.stop();
  assert.equal(r.logs.filter((l) => l.startsWith('syn-flood: 3 packets')).length, 2);
});

test('bad option values are refused, naming the option', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ 'min-complete': 0 }, /option --min-complete is 0/],
    [{ 'min-complete': 1.5 }, /option "min-complete" must be at most 1/],
    [{ 'syn-rate': 0 }, /option "syn-rate" must be at least 1/],
    [{ 'src-rate': -1 }, /option "src-rate" must be at least 0/],
    [{ window: 0.01 }, /option "window" must be at least 0.1/],
    [{ mitigate: 'maybe' }, /option "mitigate" must be true or false/],
    [{ capacity: 0 }, /option "capacity" must be at least 1/],
    [{ flows: 2.5 }, /option "flows" must be an integer/],
    [{ 'handshake-timeout': 0 }, /option "handshake-timeout" must be at least 0.1/],
    [{ good: 0 }, /option "good" must be at least 1/],
    [{ top: 0 }, /option "top" must be at least 1/],
    [{ interval: 0.5 }, /option "interval" must be an integer/],
  ];
  for (const [options, msg] of bad) {
    await assert.rejects(openNF(synFlood, { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, msg);
      return true;
    });
  }
});
