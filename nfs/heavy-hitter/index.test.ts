/**
 * Tests of heavy-hitter with openNF and the virtual clock: heavy flows, sources and destinations
 * by share and by rate, by packets and by bytes, and not heavy under the thresholds; the top-k's
 * evictions; the sketch's estimates against true counts (never under, within the bound); the
 * actions (drop; mark, with the IPv4 header checksum recomputed by the packet builder's reference
 * code, and IPv6's traffic class); non-IP packets; and every option's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, FlowKey, NEXT, NfcError, openNF, parseIpv4, runNF } from 'nfchain';
import heavy from './index.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  type BuiltPacket,
} from '../../test/helpers/packet-builder.js';

function udpB(src: string, dst: string, sport: number, size = 64, tos = 0): BuiltPacket {
  return buildPacket({
    l3: src.includes(':') ? { kind: 'ipv6', src, dst, trafficClass: tos } : { kind: 'ipv4', src, dst, tos },
    l4: { kind: 'udp', sport, dport: 9000 },
    padTo: size,
  });
}
const udp = (src: string, dst: string, sport: number, n = 1, size = 64): Uint8Array[] => {
  const b = udpB(src, dst, sport, size).bytes;
  return Array.from({ length: n }, () => b);
};
/** n packets of n different small flows. */
const mice = (n: number) =>
  Array.from({ length: n }, (_, i) => udp(`172.16.${i >> 8}.${i & 255}`, '10.0.0.2', 1000 + i)[0]!);

type Session = Awaited<ReturnType<typeof open>>;
const open = (options: Record<string, unknown>) => openNF(heavy, { options: { interval: 0, ...options } });
function push(s: Session, pkts: Uint8Array[]): number[] {
  const n = s.verdicts.length;
  s.push(pkts);
  return s.verdicts.slice(n);
}
const closeWindow = (s: Session) => s.tick(10);

test('flows over the share are heavy and reported; the others are not', async () => {
  const s = await open({ by: 'packets', share: 0.2 });
  push(s, [...udp('192.0.2.1', '10.0.0.1', 1111, 50), ...udp('192.0.2.2', '10.0.0.1', 2222, 30), ...mice(20)]);
  closeWindow(s);
  const f = s.instance.findings();
  assert.deepEqual(
    f.map((h) => [h.key, h.estimate, h.share, h.rate, h.new]),
    [
      ['udp 192.0.2.1:1111 -> 10.0.0.1:9000', 50, 0.5, 50, true],
      ['udp 192.0.2.2:2222 -> 10.0.0.1:9000', 30, 0.3, 30, true],
    ],
  );
  assert.ok(
    s.logs.some((l) =>
      l.startsWith('heavy-hitter: window of 1.0 s, 100 packets: 2 heavy flows (estimates over by at most 0.13 %'),
    ),
  );
  assert.ok(s.logs.some((l) => l.includes('udp 192.0.2.1:1111 -> 10.0.0.1:9000  50 packets (50.0 %, 50/s)  (new)')));
  assert.equal(s.instance.counters.heavyNow, 2);
  // the next window: still heavy, not new; then a quiet window clears them
  push(s, udp('192.0.2.1', '10.0.0.1', 1111, 5));
  closeWindow(s);
  assert.deepEqual(
    s.instance.findings().map((h) => [h.key, h.new]),
    [['udp 192.0.2.1:1111 -> 10.0.0.1:9000', false]],
  );
  assert.equal(s.instance.counters.heavyEvents, 2);
  closeWindow(s);
  assert.equal(s.instance.counters.heavyNow, 0);
  const r = await s.stop();
  // the declared counters and gauge: two keys became heavy, none is now
  assert.deepEqual([r.metrics.heavyEvents, r.metrics.heavyNow, r.metrics.heavyPackets], [2, 0, 5]);
});

test('key src and key dst count addresses, by bytes', async () => {
  const traffic = [
    ...udp('192.0.2.1', '10.0.0.1', 1, 10, 1000), // one source, many flows below
    ...Array.from({ length: 10 }, (_, i) => udp('192.0.2.1', `10.0.1.${i}`, 100 + i, 1, 1000)[0]!),
    ...Array.from({ length: 40 }, (_, i) => udp(`198.51.100.${i}`, '10.0.0.1', 100 + i, 1, 500)[0]!),
  ];
  const s = await open({ key: 'src', share: 0.3 });
  push(s, traffic);
  closeWindow(s);
  assert.deepEqual(
    s.instance.findings().map((h) => [h.key, h.estimate]),
    [['192.0.2.1', 20000]],
  );
  const d = await open({ key: 'dst', share: 0.3 });
  push(d, traffic);
  closeWindow(d);
  assert.deepEqual(
    d.instance.findings().map((h) => [h.key, h.estimate]),
    [['10.0.0.1', 30000]],
  );
  assert.ok(d.logs.some((l) => l.includes('1 heavy dst address')));
  await s.stop();
  await d.stop();
});

test('rate: keys over a rate per second are heavy whatever their share', async () => {
  const s = await open({ by: 'packets', share: 0, rate: 20, window: 2 });
  push(s, [...udp('192.0.2.1', '10.0.0.1', 1, 40), ...udp('192.0.2.2', '10.0.0.1', 2, 39), ...mice(500)]);
  s.tick(20);
  assert.deepEqual(
    s.instance.findings().map((h) => [h.key, h.rate]),
    [['udp 192.0.2.1:1 -> 10.0.0.1:9000', 20]],
  );
  await s.stop();
});

test('the top-k keeps the largest keys: a big flow arriving late evicts a small one', async () => {
  const s = await open({ by: 'packets', share: 0.5, k: 2 });
  push(s, [...mice(30), ...udp('192.0.2.9', '10.0.0.9', 9, 40)]);
  assert.ok(s.instance.counters.evictions >= 1);
  const top = s.instance.top();
  assert.equal(top.length, 2);
  assert.deepEqual(top[0], { key: 'udp 192.0.2.9:9 -> 10.0.0.9:9000', estimate: 40 });
  closeWindow(s);
  assert.deepEqual(
    s.instance.findings().map((h) => h.key),
    ['udp 192.0.2.9:9 -> 10.0.0.9:9000'],
  );
  await s.stop();
});

test('the sketch never underestimates, and stays within e/width of the total', async () => {
  const width = 64;
  const s = await open({ by: 'packets', width, depth: 4 });
  const truth = new Map<number, number>();
  const pkts: Uint8Array[] = [];
  let x = 12345;
  for (let i = 0; i < 4000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const f = (x >>> 8) % 300;
    const n = f < 3 ? 5 : 1; // three larger flows
    truth.set(f, (truth.get(f) ?? 0) + n);
    for (let j = 0; j < n; j++) pkts.push(udp(`172.16.${f >> 8}.${f & 255}`, '10.0.0.2', 1000 + f)[0]!);
  }
  push(s, pkts);
  const total = pkts.length;
  let within = 0;
  for (const [f, n] of truth) {
    const est = s.instance.estimate(
      FlowKey.ipv4(parseIpv4(`172.16.${f >> 8}.${f & 255}`), parseIpv4('10.0.0.2'), 17, 1000 + f, 9000),
    );
    assert.ok(est >= n, `flow ${f}: estimate ${est} < ${n}`);
    if (est - n <= (Math.E / width) * total) within++;
  }
  assert.ok(within / truth.size >= 1 - Math.exp(-4), `${within} of ${truth.size} within the bound`);
  await s.stop();
});

test('action drop: packets of heavy flows are dropped in the next window, others pass', async () => {
  const s = await open({ by: 'packets', share: 0.5, action: 'drop' });
  assert.deepEqual(
    push(s, udp('192.0.2.1', '10.0.0.1', 1, 10)),
    new Array(10).fill(NEXT),
    'not before the window closes',
  );
  closeWindow(s);
  const reverse = udp('10.0.0.1', '192.0.2.1', 9000)[0]!;
  assert.deepEqual(push(s, [udp('192.0.2.1', '10.0.0.1', 1)[0]!, udp('192.0.2.1', '10.0.0.1', 2)[0]!, reverse]), [
    DROP,
    NEXT,
    NEXT,
  ]);
  const c = s.instance.counters;
  assert.equal(c.heavyPackets, 1);
  assert.equal(c.dropped, 1);
  await s.stop();
});

test('action mark: DSCP rewritten, ECN kept, IPv4 header checksum right; IPv6 traffic class', async () => {
  const b4 = udpB('192.0.2.1', '10.0.0.1', 1, 100, 0x03); // ECN bits set
  const b6 = udpB('2001:db8::1', '2001:db8::2', 1, 100, 0x01);
  const s = await open({ by: 'packets', share: 0.4, action: 'mark', dscp: 46 });
  push(s, [...Array(5).fill(b4.bytes), ...Array(5).fill(b6.bytes)]);
  closeWindow(s);
  assert.equal(s.instance.counters.heavyNow, 2);
  const out = s.push([b4.bytes, b6.bytes, udp('192.0.2.7', '10.0.0.1', 1)[0]!]);
  assert.equal(out.length, 3);
  const p4 = out[0]!.bytes;
  assert.equal(p4[b4.l3Offset + 1], (46 << 2) | 3);
  assert.equal((p4[b4.l3Offset + 10]! << 8) | p4[b4.l3Offset + 11]!, refIpv4HeaderChecksum(p4, b4.l3Offset));
  assert.equal(storedL4Checksum(p4, b4), refL4Checksum(p4, b4));
  const p6 = out[1]!.bytes;
  const tc = ((p6[b6.l3Offset]! & 0x0f) << 4) | (p6[b6.l3Offset + 1]! >> 4);
  assert.equal(tc, (46 << 2) | 1);
  assert.equal(p6[b6.l3Offset]! >> 4, 6, 'version kept');
  assert.deepEqual(
    p6.subarray(b6.l3Offset + 1, b6.l3Offset + 4)[0]! & 0x0f,
    b6.bytes[b6.l3Offset + 1]! & 0x0f,
    'flow label kept',
  );
  assert.equal(storedL4Checksum(p6, b6), refL4Checksum(p6, b6));
  assert.deepEqual(out[2]!.bytes[14 + 1], 0, 'not heavy: untouched');
  assert.equal(s.instance.counters.marked, 2);
  const r = await s.stop();
  assert.deepEqual([r.metrics.marked, r.metrics.heavyPackets, r.metrics.dropped, r.metrics.heavyNow], [2, 2, 0, 2]);
});

test('non-IP and malformed packets pass, counted, not in the sketch', async () => {
  const cut = udp('192.0.2.1', '10.0.0.1', 1)[0]!.slice(0, 20);
  const r = await runNF(heavy, [new Uint8Array(64), cut], { options: { interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT]);
  assert.equal(r.instance.counters.nonIp, 2);
  assert.equal(r.metrics.nonIp, 2);
  assert.deepEqual(r.instance.top(), []);
});

test('interval: counter lines every interval seconds and at stop', async () => {
  const s = await openNF(heavy, { options: { interval: 1 } });
  push(s, udp('192.0.2.1', '10.0.0.1', 1, 3));
  s.tick(10);
  assert.ok(
    s.logs.some((l) => l.startsWith('heavy-hitter: 3 packets, 192 bytes, 1 heavy now')),
    s.logs.join('\n'),
  );
  const r = await s.stop();
  assert.equal(r.logs.filter((l) => l.startsWith('heavy-hitter: 3 packets')).length, 2);
});

test('bad option values are refused, naming the option', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ share: 0, rate: 0 }, /option --share and option --rate are both 0/],
    [{ width: 1000 }, /option --width 1000 is not a power of two/],
    [{ k: 10, share: 0.05 }, /option --k 10 is less than 1\/share \(20\)/],
    [{ width: 8 }, /option "width" must be at least 16/],
    [{ depth: 9 }, /option "depth" must be at most 8/],
    [{ key: 'port' }, /option "key" must be one of flow, src, dst/],
    [{ by: 'bits' }, /option "by" must be one of bytes, packets/],
    [{ share: 1.5 }, /option "share" must be at most 1/],
    [{ rate: -1 }, /option "rate" must be at least 0/],
    [{ action: 'police' }, /option "action" must be one of none, drop, mark/],
    [{ dscp: 64 }, /option "dscp" must be at most 63/],
    [{ k: 0 }, /option "k" must be at least 1/],
    [{ window: 0 }, /option "window" must be at least 0.1/],
    [{ interval: 'often' }, /option "interval" must be a number/],
  ];
  for (const [options, msg] of bad) {
    await assert.rejects(openNF(heavy, { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, msg);
      return true;
    });
  }
});
