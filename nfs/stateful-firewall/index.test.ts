/**
 * Tests of the stateful firewall: flows opened from inside only, replies let in, the TCP state
 * machine (handshake, FIN both ways, RST, reopen), idle timeouts per state with advance()/tick(),
 * table full, IPv6 and neighbour discovery, non-IP and malformed packets, option errors, report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, FlowKey, hashFlowKey, NEXT, NfcError, openNF, parseIpv4, runNF } from 'nfchain';
import sfw, { FlowTable4, hash4, State } from './index.js';
import { buildPacket, type L4Spec } from '../../test/helpers/packet-builder.js';

const PORTS = [{ name: 'lan' }, { name: 'wan' }];
const LAN = 0;
const WAN = 1;
const base = { inside: 'lan', interval: 0 };
const H = '10.0.0.5';
const S = '198.51.100.7';
const SYN = 0x02,
  ACK = 0x10,
  FIN = 0x01,
  RST = 0x04;

const v4 = (src: string, dst: string, l4: L4Spec) => buildPacket({ l3: { kind: 'ipv4', src, dst }, l4 }).bytes;
const tcpOut = (flags: number) => v4(H, S, { kind: 'tcp', sport: 40000, dport: 443, flags });
const tcpIn = (flags: number) => v4(S, H, { kind: 'tcp', sport: 443, dport: 40000, flags });
const udpOut = v4(H, S, { kind: 'udp', sport: 5353, dport: 53 });
const udpIn = v4(S, H, { kind: 'udp', sport: 53, dport: 5353 });
const tcpKey = FlowKey.ipv4(parseIpv4(H), parseIpv4(S), 6, 40000, 443);

async function session(options: Record<string, unknown> = {}) {
  return openNF(sfw, { options: { ...base, ...options }, ports: PORTS });
}

test('outside packets of no flow are dropped; inside UDP opens a flow and replies pass', async () => {
  const s = await session();
  s.push([udpIn], { inputPort: WAN });
  s.push([udpOut], { inputPort: LAN });
  s.push([udpIn, udpIn], { inputPort: WAN });
  s.push([udpOut], { inputPort: WAN }); // from outside but in the opener's direction: spoofed
  assert.deepEqual(s.verdicts, [DROP, NEXT, NEXT, NEXT, DROP]);
  const st = s.instance.stats();
  assert.equal(st.opened, 1);
  assert.equal(st.noFlow, 2);
  assert.equal(st.passed, 3);
  assert.equal(st.activeFlows, 1);
  const r = await s.stop();
  assert.deepEqual(r.metrics, {
    passed: 3,
    opened: 1,
    noFlow: 2,
    invalid: 0,
    tableFull: 0,
    expired: 0,
    nd: 0,
    nonIp: 0,
    flows: 1,
  });
});

test('TCP: handshake, data, FIN both ways → closing; RST; reopen after RST; invalid packets', async () => {
  const s = await session();
  s.push([tcpOut(ACK)], { inputPort: LAN }); // not a SYN: no flow opened
  s.push([tcpIn(SYN | ACK)], { inputPort: WAN }); // no flow
  s.push([tcpOut(SYN)], { inputPort: LAN });
  assert.equal(s.instance.stateOf(tcpKey), State.synSent);
  s.push([tcpIn(ACK)], { inputPort: WAN }); // not SYN+ACK in SYN_SENT: invalid
  s.push([tcpIn(SYN | ACK)], { inputPort: WAN });
  assert.equal(s.instance.stateOf(tcpKey), State.synRecv);
  s.push([tcpOut(ACK)], { inputPort: LAN });
  assert.equal(s.instance.stateOf(tcpKey), State.established);
  s.push([tcpIn(ACK)], { inputPort: WAN });
  s.push([tcpOut(FIN | ACK)], { inputPort: LAN });
  assert.equal(s.instance.stateOf(tcpKey), State.finWait);
  s.push([tcpIn(FIN | ACK)], { inputPort: WAN });
  assert.equal(s.instance.stateOf(tcpKey), State.closing);
  s.push([tcpIn(RST)], { inputPort: WAN });
  assert.equal(s.instance.stateOf(tcpKey), State.closed);
  s.push([tcpOut(SYN)], { inputPort: LAN }); // port reuse
  assert.equal(s.instance.stateOf(tcpKey), State.synSent);
  assert.deepEqual(s.verdicts, [DROP, DROP, NEXT, DROP, NEXT, NEXT, NEXT, NEXT, NEXT, NEXT, NEXT]);
  const st = s.instance.stats();
  assert.equal(st.invalid, 2);
  assert.equal(st.noFlow, 1);
  await s.stop();
});

test('idle timeouts per state: closing flows go fast, established ones stay', async () => {
  const s = await session({ 'tcp-timeout': 100, 'tcp-closing-timeout': 2, 'udp-timeout': 5 });
  s.push([tcpOut(SYN)], { inputPort: LAN });
  s.push([tcpIn(SYN | ACK)], { inputPort: WAN });
  s.push([tcpOut(ACK)], { inputPort: LAN });
  s.push([udpOut], { inputPort: LAN });
  const k2 = FlowKey.ipv4(parseIpv4(H), parseIpv4(S), 6, 40001, 443);
  s.push([v4(H, S, { kind: 'tcp', sport: 40001, dport: 443, flags: SYN })], { inputPort: LAN });
  s.push([v4(H, S, { kind: 'tcp', sport: 40001, dport: 443, flags: RST })], { inputPort: LAN });
  assert.equal(s.instance.stateOf(k2), State.closed);
  assert.equal(s.instance.stats().activeFlows, 3);
  s.tick(30); // 3 s: the reset flow (2 s) is gone, the others stay
  assert.equal(s.instance.stateOf(k2), 0);
  assert.equal(s.instance.stateOf(tcpKey), State.established);
  assert.equal(s.instance.stats().activeFlows, 2);
  s.tick(30); // 6 s: UDP (5 s) gone
  assert.equal(s.instance.stats().activeFlows, 1);
  s.push([udpIn], { inputPort: WAN });
  assert.equal(s.verdicts.at(-1), DROP, 'the expired UDP flow lets no reply in');
  s.advance(200_000);
  assert.equal(s.instance.expireAll(s.now), 1, 'established TCP after its timeout');
  assert.equal(s.instance.stats().expired, 3);
  const r = await s.stop();
  assert.equal(r.metrics.expired, 3);
  assert.equal(r.metrics.flows, 0, 'the gauge follows the table down');
  assert.equal(r.metrics.opened, 3);
});

test('a flow that keeps sending stays; the clock is read at ticks only', async () => {
  const s = await session({ 'udp-timeout': 1 });
  s.push([udpOut], { inputPort: LAN });
  for (let i = 0; i < 5; i++) {
    s.tick(5);
    s.push([udpIn], { inputPort: WAN });
  }
  assert.deepEqual(s.verdicts, [NEXT, NEXT, NEXT, NEXT, NEXT, NEXT]);
  await s.stop();
});

test('table full: new flows dropped and counted', async () => {
  const s = await session({ capacity: 2 });
  const pk = [1, 2, 3].map((i) => v4(H, S, { kind: 'udp', sport: 1000 + i, dport: 53 }));
  s.push(pk, { inputPort: LAN });
  assert.deepEqual(s.verdicts, [NEXT, NEXT, DROP]);
  assert.equal(s.instance.stats().tableFull, 1);
  await s.stop();
});

test('IPv6, ICMP, neighbour discovery, non-IP and malformed packets', async () => {
  const s = await session();
  const v6 = (src: string, dst: string, l4: L4Spec) => buildPacket({ l3: { kind: 'ipv6', src, dst }, l4 }).bytes;
  s.push([v6('fd00::5', '2001:db8::1', { kind: 'udp', sport: 7, dport: 8 })], { inputPort: LAN });
  s.push([v6('2001:db8::1', 'fd00::5', { kind: 'udp', sport: 8, dport: 7 })], { inputPort: WAN });
  s.push([v6('2001:db8::1', 'fd00::5', { kind: 'udp', sport: 9, dport: 7 })], { inputPort: WAN });
  s.push([v6('fe80::1', 'ff02::1', { kind: 'icmp6', type: 135, code: 0 })], { inputPort: WAN }); // ND
  s.push([v4(H, S, { kind: 'icmp', type: 8, code: 0, id: 1 })], { inputPort: LAN });
  s.push([v4(S, H, { kind: 'icmp', type: 0, code: 0, id: 1 })], { inputPort: WAN });
  s.push([v4(S, H, { kind: 'icmp', type: 8, code: 0, id: 1 })], { inputPort: WAN }); // same flow: a reply direction packet
  s.push([v4('203.0.113.9', H, { kind: 'icmp', type: 8, code: 0, id: 1 })], { inputPort: WAN });
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
  const truncated = udpOut.slice(0, 20);
  const badTcp = tcpOut(SYN);
  badTcp[14 + 20 + 12] = 0x20; // data offset 2: malformed TCP header
  s.push([arp, truncated], { inputPort: WAN });
  s.push([badTcp], { inputPort: LAN });
  assert.deepEqual(s.verdicts, [NEXT, NEXT, DROP, NEXT, NEXT, NEXT, NEXT, DROP, NEXT, NEXT, DROP]);
  const st = s.instance.stats();
  assert.equal(st.nd, 1);
  assert.equal(st.nonIp, 2);
  assert.equal(st.invalid, 1);
  await s.stop();
  const d = await runNF(sfw, [arp], { options: { ...base, 'non-ip': 'drop' }, ports: PORTS, inputPort: WAN });
  assert.deepEqual(d.verdicts, [DROP]);
});

test('report every interval and at stop', async () => {
  const r = await runNF(sfw, [udpOut], { options: { inside: 'lan', interval: 1 }, ports: PORTS, ticks: 10 });
  assert.match(r.logs[0]!, /inside lan; 65536 flows at most/);
  assert.equal(r.logs.filter((l) => /1 passed, 1 flows opened, 1 active/.test(l)).length, 2);
});

async function rejects(options: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    () => runNF(sfw, [], { options: { interval: 0, ...options }, ports: PORTS }),
    (e: unknown) => {
      assert.ok(e instanceof NfcError, String(e));
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('option errors name the option', async () => {
  await rejects({}, /option "inside" is missing/);
  await rejects({ inside: 'lna' }, /option "inside": .*no port "lna"; did you mean "lan"/);
  await rejects({ inside: 'lan,wan' }, /option "inside": every port is inside/);
  await rejects({ inside: 'lan', capacity: 0 }, /option "capacity" must be at least 1/);
  for (const t of [
    'tcp-timeout',
    'tcp-syn-timeout',
    'tcp-closing-timeout',
    'udp-timeout',
    'icmp-timeout',
    'other-timeout',
  ]) {
    await rejects({ inside: 'lan', [t]: -1 }, new RegExp(`option "${t}" must be at least 0`));
  }
  await rejects({ inside: 'lan', 'non-ip': 'x' }, /option "non-ip" must be one of/);
});

test('other IP protocols: opened from inside, replies pass, own timeout', async () => {
  const s = await session({ 'other-timeout': 1 });
  const greOut = v4(H, S, { kind: 'raw', proto: 47, payload: new Uint8Array(8) });
  const greIn = v4(S, H, { kind: 'raw', proto: 47, payload: new Uint8Array(8) });
  s.push([greIn], { inputPort: WAN });
  s.push([greOut], { inputPort: LAN });
  s.push([greIn], { inputPort: WAN });
  assert.equal(s.instance.stateOf(FlowKey.ipv4(parseIpv4(H), parseIpv4(S), 47, 0, 0)), State.other);
  s.tick(25);
  s.push([greIn], { inputPort: WAN });
  assert.deepEqual(s.verdicts, [DROP, NEXT, NEXT, DROP]);
  await s.stop();
});

test('plain packets (read straight from their bytes) and the full parse give the same verdicts and states', async () => {
  // The same traffic untagged (the first pass reads it) and VLAN-tagged (decide(): the view's
  // parse), and both mixed in one burst: verdicts, counters and flow states must agree.
  const pk = (tagged: boolean, src: string, dst: string, l4: L4Spec, options?: number[]) =>
    buildPacket({
      ...(tagged ? { eth: { vlans: [{ id: 9 }] } } : {}),
      l3: { kind: 'ipv4', src, dst, ...(options ? { options } : {}) },
      l4,
    }).bytes;
  const seq = (tagged: boolean) => {
    const list: { port: number; bytes: Uint8Array }[] = [];
    const t = (port: number, a: string, b: string, sp: number, dp: number, flags: number, options?: number[]) =>
      list.push({ port, bytes: pk(tagged, a, b, { kind: 'tcp', sport: sp, dport: dp, flags }, options) });
    const u = (port: number, a: string, b: string, sp: number, dp: number) =>
      list.push({ port, bytes: pk(tagged, a, b, { kind: 'udp', sport: sp, dport: dp }) });
    u(WAN, S, H, 53, 5353); // no flow
    u(LAN, H, S, 5353, 53);
    u(WAN, S, H, 53, 5353);
    u(WAN, H, S, 5353, 53); // wrong direction
    t(LAN, H, S, 40000, 443, ACK); // not a SYN
    t(LAN, H, S, 40000, 443, SYN, [1, 1, 1, 1]);
    t(WAN, S, H, 443, 40000, ACK); // invalid in SYN_SENT
    t(WAN, S, H, 443, 40000, SYN | ACK);
    t(LAN, H, S, 40000, 443, ACK);
    t(WAN, S, H, 443, 40000, FIN | ACK);
    t(LAN, H, S, 40000, 443, FIN | ACK);
    t(LAN, H, S, 40001, 443, SYN);
    t(WAN, S, H, 443, 40001, RST);
    t(LAN, H, S, 40001, 443, SYN);
    return list;
  };
  const run = async (list: { port: number; bytes: Uint8Array }[]) => {
    const s = await session();
    s.push(
      list.map((x) => x.bytes),
      { inputPort: list.map((x) => x.port) },
    );
    const states = [40000, 40001].map((p) => s.instance.stateOf(FlowKey.ipv4(parseIpv4(H), parseIpv4(S), 6, p, 443)));
    const r = { verdicts: [...s.verdicts], stats: s.instance.stats(), states };
    await s.stop();
    return r;
  };
  const plain = await run(seq(false));
  assert.deepEqual(plain.states, [State.closing, State.synSent]);
  assert.deepEqual(await run(seq(true)), plain);
  const tagged = seq(true);
  assert.deepEqual(await run(seq(false).map((x, i) => (i % 2 === 1 ? tagged[i]! : x))), plain);
});

test('FlowTable4: hash4 is hashFlowKey of the IPv4 key (the RX meta hash stands in for it)', () => {
  let x = 12345;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    return x;
  };
  for (let n = 0; n < 2000; n++) {
    const src = rnd();
    const dst = rnd();
    const proto = rnd() & 0xff;
    const sp = rnd() & 0xffff;
    const dp = rnd() & 0xffff;
    const k = FlowKey.ipv4(src >>> 0, dst >>> 0, proto, sp, dp);
    const h = hash4(src, dst, proto, (sp << 16) | dp);
    assert.equal(h, hashFlowKey(k, true));
    assert.equal(hash4(dst, src, proto, (dp << 16) | sp), h, 'symmetric');
  }
});

test('FlowTable4: random adds and removes (backward shift) keep every key findable, both directions', () => {
  const t = new FlowTable4(64);
  const live = new Map<string, { src: number; dst: number; ports: number; st: number }>();
  let x = 7;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    return x >>> 8;
  };
  const keys: { src: number; dst: number; ports: number }[] = [];
  // Few distinct hosts and ports: many keys share clusters (and some a home slot).
  for (let i = 0; i < 120; i++)
    keys.push({ src: 0x0a000000 | (i % 7), dst: 0xc6336400 | (i % 5), ports: (1000 + i) << 16 });
  for (let step = 0; step < 20000; step++) {
    const k = keys[rnd() % keys.length]!;
    const id = `${k.src}:${k.dst}:${k.ports}`;
    const h = hash4(k.src, k.dst, 17, k.ports);
    const i = t.lookup(k.src, k.dst, 17, k.ports, h);
    if (live.has(id)) {
      assert.ok(i >= 0, `step ${step}: a live key is found`);
      assert.equal(t.state(i), live.get(id)!.st);
      if (rnd() % 2 === 0) {
        t.remove(i);
        live.delete(id);
      }
    } else {
      assert.equal(i, -1, `step ${step}: a removed key is not found`);
      if (live.size < 48) {
        const st = rnd() & 0x3f;
        t.add(k.src, k.dst, 17, k.ports, h, st, step);
        live.set(id, { ...k, st });
      }
    }
    assert.equal(t.count, live.size);
  }
  for (const k of live.values()) {
    const rev = (k.ports << 16) | (k.ports >>> 16) | 0;
    const i = t.lookup(k.dst, k.src, 17, rev, hash4(k.dst, k.src, 17, rev));
    assert.ok(i >= 0 && t.lastReversed);
  }
});

// The same sequence in IPv4 (the NF's FlowTable4, by the fast parse or the full one) and in IPv6
// (the platform flow table): verdicts, counters, states and expiry must agree.
test('IPv4 table and IPv6 (platform) table: same verdicts, counters, states, expiry and table full', async () => {
  type Fam = 'v4' | 'v4tagged' | 'v6';
  const addr = (fam: Fam, host: boolean, i: number) =>
    fam === 'v6' ? (host ? `fd00::${i + 1}` : `2001:db8::${i + 1}`) : host ? `10.0.0.${i + 1}` : `198.51.100.${i + 1}`;
  const pk = (fam: Fam, fromHost: boolean, i: number, sp: number, dp: number, l4: 'udp' | number) => {
    const a = addr(fam, fromHost, i);
    const b = addr(fam, !fromHost, i);
    const l4s: L4Spec =
      l4 === 'udp' ? { kind: 'udp', sport: sp, dport: dp } : { kind: 'tcp', sport: sp, dport: dp, flags: l4 };
    return buildPacket({
      ...(fam === 'v4tagged' ? { eth: { vlans: [{ id: 3 }] } } : {}),
      l3: { kind: fam === 'v6' ? 'ipv6' : 'ipv4', src: a, dst: b },
      l4: l4s,
    }).bytes;
  };
  const run = async (fam: Fam) => {
    const s = await session({ capacity: 4, 'udp-timeout': 2, 'tcp-syn-timeout': 5, 'tcp-timeout': 20 });
    const out: unknown[] = [];
    const send = (port: number, ...pkts: Uint8Array[]) => s.push(pkts, { inputPort: port });
    for (let i = 0; i < 3; i++) send(LAN, pk(fam, true, i, 5000 + i, 53, 'udp'));
    send(WAN, pk(fam, false, 0, 53, 5000, 'udp'), pk(fam, false, 1, 53, 9999, 'udp'));
    send(LAN, pk(fam, true, 3, 40000, 443, SYN));
    send(LAN, pk(fam, true, 4, 40001, 443, SYN)); // the fifth flow: table full
    send(WAN, pk(fam, false, 3, 443, 40000, SYN | ACK));
    send(LAN, pk(fam, true, 3, 40000, 443, ACK));
    out.push(s.instance.stats());
    // A sweep round (10 ticks) covers every slot: times are chosen at least a round apart.
    s.tick(15); // 1.5 s
    send(WAN, pk(fam, false, 2, 53, 5002, 'udp')); // keeps flow 2
    s.tick(16); // 3.1 s: flows 0 and 1 (idle 2 s from 2 s on) expired
    out.push(s.instance.stats());
    send(WAN, pk(fam, false, 0, 53, 5000, 'udp')); // expired: no flow
    send(LAN, pk(fam, true, 4, 40001, 443, SYN), pk(fam, true, 5, 40002, 443, SYN)); // room again
    send(LAN, pk(fam, true, 6, 40003, 443, SYN)); // full again
    s.tick(62); // 9.3 s: flow 2 (last seen at 1.5 s) and the SYN_SENT ones (5 s from 3.1 s) gone
    out.push(s.instance.stats());
    out.push(s.verdicts);
    await s.stop();
    return out;
  };
  const v4 = await run('v4');
  const st = v4[0] as { opened: number; tableFull: number; activeFlows: number };
  assert.equal(st.opened, 4);
  assert.equal(st.tableFull, 1);
  assert.equal(st.activeFlows, 4);
  assert.deepEqual(
    (v4[1] as { activeFlows: number; expired: number }).activeFlows,
    2,
    'flows 0 and 1 expired, 2 and 3 stay',
  );
  const last = v4[2] as { activeFlows: number; expired: number; tableFull: number };
  assert.equal(last.activeFlows, 1, 'the established flow stays');
  assert.equal(last.expired, 5);
  assert.equal(last.tableFull, 2);
  assert.deepEqual(await run('v4tagged'), v4);
  assert.deepEqual(await run('v6'), v4);
});

test('IPv4 and IPv6 flows share the capacity', async () => {
  const s = await session({ capacity: 2 });
  const u6 = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: '2001:db8::1' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  }).bytes;
  s.push([udpOut, u6, v4(H, S, { kind: 'udp', sport: 7, dport: 8 })], { inputPort: LAN });
  assert.deepEqual(s.verdicts, [NEXT, NEXT, DROP]);
  const st = s.instance.stats();
  assert.equal(st.tableFull, 1);
  assert.equal(st.activeFlows, 2);
  assert.equal(s.instance.table4.count, 1);
  assert.equal(s.instance.table.count, 1);
  await s.stop();
});
