/**
 * Tests of dns-amplification with openNF and the virtual clock: victims flagged by rate, volume
 * and ratio, and not flagged when under any of them (or when they asked), the mitigation's
 * verdicts and its per-request allowance, the report, fragments, IPv6, non-IP and malformed
 * packets, table exhaustion, and every option's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, runNF } from 'nfchain';
import dnsAmp from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const RESOLVER = '203.0.113.53';
const ip = (src: string, dst: string) =>
  src.includes(':') ? ({ kind: 'ipv6', src, dst } as const) : ({ kind: 'ipv4', src, dst } as const);
/** A DNS response of `payload` bytes from the resolver to `dst`. */
const resp = (dst: string, payload = 1200, n = 1, from = RESOLVER): Uint8Array[] => {
  const b = buildPacket({
    l3: ip(from, dst),
    l4: { kind: 'udp', sport: 53, dport: 33333, payload: new Uint8Array(payload) },
  }).bytes;
  return Array.from({ length: n }, () => b);
};
const req = (src: string, n = 1, to = RESOLVER): Uint8Array[] => {
  const b = buildPacket({
    l3: ip(src, to),
    l4: { kind: 'udp', sport: 33333, dport: 53, payload: new Uint8Array(30) },
  }).bytes;
  return Array.from({ length: n }, () => b);
};
const LEN = resp('10.0.0.1')[0]!.length; // 14 + 20 + 8 + 1200

type Session = Awaited<ReturnType<typeof open>>;
const open = (options: Record<string, unknown>) =>
  openNF(dnsAmp, { options: { interval: 0, rate: 10, mbps: 0, ...options } });
function push(s: Session, pkts: Uint8Array[]): number[] {
  const n = s.verdicts.length;
  s.push(pkts);
  return s.verdicts.slice(n);
}
const closeWindow = (s: Session) => s.tick(10);

test('a destination flooded with large responses it did not ask for is flagged and reported', async () => {
  const s = await open({});
  push(s, [...resp('10.0.0.66', 1200, 20), ...req('10.0.0.66', 2)]); // 20 large for 2 requests: 10 per request > 5
  push(s, [...resp('10.0.0.7', 1200, 20), ...req('10.0.0.7', 4)]); // 20 for 4 requests: 5 per request, asked for
  push(s, resp('10.0.0.8', 1200, 9)); // under the rate
  push(s, resp('10.0.0.9', 100, 50)); // small responses
  closeWindow(s);
  const f = s.instance.findings();
  assert.equal(f.length, 1);
  const v = f[0]!;
  assert.deepEqual(
    [v.victim, v.requests, v.responses, v.large, v.largeBytes, v.rate, v.new],
    ['10.0.0.66', 2, 20, 20, 20 * LEN, 20, true],
  );
  assert.ok(s.logs.some((l) => l.includes('1 victim of unsolicited large responses')));
  assert.ok(
    s.logs.some((l) => l.includes(`10.0.0.66  20 large responses (20/s`) && l.includes('for 2 requests  (new)')),
  );
  assert.deepEqual(s.instance.flagged(), ['10.0.0.66']);
  const c = s.instance.counters;
  assert.equal(c.requests, 6);
  assert.equal(c.responses, 99);
  assert.equal(c.largeResponses, 49);
  assert.equal(c.victimEvents, 1);
  const r = await s.stop();
  // the declared counters and gauges; 4 addresses were seen in the window
  assert.deepEqual(
    [r.metrics.requests, r.metrics.responses, r.metrics.largeResponses, r.metrics.victimEvents],
    [6, 99, 49, 1],
  );
  assert.deepEqual([r.metrics.victimsNow, r.metrics.addresses, r.metrics.toVictims, r.metrics.dropped], [1, 4, 0, 0]);
});

test('large: the payload size from which a response counts', async () => {
  const s = await open({ large: 100 });
  push(s, resp('10.0.0.9', 100, 20));
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.9']);
  const t = await open({ large: 101 });
  push(t, resp('10.0.0.9', 100, 20));
  closeWindow(t);
  assert.deepEqual(t.instance.flagged(), []);
  await s.stop();
  await t.stop();
});

test('mbps: the volume threshold', async () => {
  // 20 responses of 1242 bytes in 1 s = 0.199 Mbit/s
  for (const [mbps, flagged] of [
    [0.19, true],
    [0.2, false],
  ] as const) {
    const s = await open({ mbps });
    push(s, resp('10.0.0.66', 1200, 20));
    closeWindow(s);
    assert.equal(s.instance.flagged().length, flagged ? 1 : 0, `mbps ${mbps}`);
    if (flagged) assert.equal(s.instance.findings()[0]!.mbps, (20 * LEN * 8) / 1e6);
    await s.stop();
  }
});

test('ratio: responses per request above which they are unsolicited', async () => {
  const s = await open({ ratio: 20 });
  push(s, [...resp('10.0.0.66', 1200, 20), ...req('10.0.0.66', 1)]);
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), [], '20 responses for 1 request: not above 20');
  push(s, [...resp('10.0.0.66', 1200, 21), ...req('10.0.0.66', 1)]);
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.66']);
  await s.stop();
});

test('mitigate: large responses to a victim are dropped beyond ratio per request it sends; small ones pass', async () => {
  const s = await open({ mitigate: true, ratio: 2 });
  push(s, resp('10.0.0.66', 1200, 30));
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['10.0.0.66']);
  assert.deepEqual(push(s, resp('10.0.0.66', 1200, 2)), [DROP, DROP], 'no request yet: nothing allowed');
  assert.deepEqual(push(s, req('10.0.0.66')), [NEXT], 'requests pass');
  assert.deepEqual(push(s, resp('10.0.0.66', 1200, 3)), [NEXT, NEXT, DROP], 'two per request');
  assert.deepEqual(push(s, [...resp('10.0.0.66', 40), ...resp('10.0.0.67', 1200)]), [NEXT, NEXT]);
  const c = s.instance.counters;
  assert.equal(c.toVictims, 5);
  assert.equal(c.dropped, 3);
  // without mitigate the same traffic passes, counted
  const t = await open({ ratio: 2 });
  push(t, resp('10.0.0.66', 1200, 30));
  closeWindow(t);
  assert.deepEqual(push(t, resp('10.0.0.66', 1200, 2)), [NEXT, NEXT]);
  assert.equal(t.instance.counters.toVictims, 2);
  // the attack ends: a quiet window clears the victim
  closeWindow(t);
  assert.deepEqual(t.instance.flagged(), []);
  await s.stop();
  await t.stop();
});

test('IPv6 victims', async () => {
  const s = await open({ mitigate: true });
  push(s, resp('2001:db8::66', 1200, 12, '2001:db8::53'));
  closeWindow(s);
  assert.deepEqual(s.instance.flagged(), ['2001:db8::66']);
  assert.deepEqual(push(s, resp('2001:db8::66', 1200, 1, '2001:db8::53')), [DROP]);
  await s.stop();
});

test('fragments: a first fragment counts by its UDP length, later fragments pass as fragments', async () => {
  const first = buildPacket({
    l3: { kind: 'ipv4', src: RESOLVER, dst: '10.0.0.66', flags: 1, fragOffset: 0 },
    l4: { kind: 'udp', sport: 53, dport: 33333, payload: new Uint8Array(1400) },
  }).bytes;
  // cut the first fragment to 600 bytes of payload, as a sender would: the UDP length still says 1408
  const cut = first.slice(0, 14 + 20 + 8 + 600);
  new DataView(cut.buffer).setUint16(14 + 2, 20 + 8 + 600);
  const later = buildPacket({
    l3: { kind: 'ipv4', src: RESOLVER, dst: '10.0.0.66', fragOffset: 76 },
    l4: { kind: 'raw', proto: 17, payload: new Uint8Array(800) },
  }).bytes;
  const s = await open({ large: 1000 });
  assert.deepEqual(push(s, [cut, later]), [NEXT, NEXT]);
  const c = s.instance.counters;
  assert.equal(c.largeResponses, 1);
  assert.equal(c.fragments, 1);
  await s.stop();
});

test('non-IP, other UDP, other protocols and malformed UDP pass, counted', async () => {
  const other = buildPacket({ l3: ip('1.1.1.1', '2.2.2.2'), l4: { kind: 'udp', sport: 5000, dport: 5001 } }).bytes;
  const tcp53 = buildPacket({ l3: ip(RESOLVER, '2.2.2.2'), l4: { kind: 'tcp', sport: 53, dport: 5001 } }).bytes;
  const cutUdp = resp('10.0.0.1')[0]!.slice(0, 14 + 20 + 4);
  const notIp = new Uint8Array(60);
  const r = await runNF(dnsAmp, [other, tcp53, cutUdp, notIp], { options: { interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT]);
  const c = r.instance.counters;
  assert.equal(c.otherUdp, 1);
  assert.equal(c.responses, 0);
  assert.equal(c.nonIp + c.malformed, 2);
});

test('capacity bounds the addresses per window; the rest is untracked', async () => {
  const s = await open({ capacity: 2 });
  push(s, [...resp('10.0.0.1'), ...req('10.0.0.2'), ...resp('10.0.0.3', 1200, 2), ...req('10.0.0.4')]);
  assert.equal(s.instance.counters.untracked, 3);
  await s.stop();
});

test('interval: counter lines every interval seconds and at stop', async () => {
  const s = await openNF(dnsAmp, { options: { interval: 2 } });
  push(s, [...req('10.0.0.1'), ...resp('10.0.0.1')]);
  s.tick(10);
  assert.equal(s.logs.length, 0);
  s.tick(10);
  assert.ok(s.logs.some((l) => l.startsWith('dns-amplification: 2 packets, 1 DNS requests, 1 responses (1 large)')));
  const r = await s.stop();
  assert.equal(r.logs.filter((l) => l.startsWith('dns-amplification: 2 packets')).length, 2);
});

test('bad option values are refused, naming the option', async () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ rate: 0.5 }, /option --rate 0.5 with --window 1 is less than one response per window/],
    [{ rate: 0 }, /option "rate" must be at least 0.001/],
    [{ large: 70000 }, /option "large" must be at most 65535/],
    [{ mbps: -1 }, /option "mbps" must be at least 0/],
    [{ ratio: 0.5 }, /option "ratio" must be at least 1/],
    [{ mitigate: 'drop' }, /option "mitigate" must be true or false/],
    [{ capacity: 5_000_000 }, /option "capacity" must be at most/],
    [{ window: 4000 }, /option "window" must be at most 3600/],
    [{ top: 2000 }, /option "top" must be at most 1000/],
    [{ interval: -2 }, /option "interval" must be at least 0/],
  ];
  for (const [options, msg] of bad) {
    await assert.rejects(openNF(dnsAmp, { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, msg);
      return true;
    });
  }
});
