/**
 * Tests of napt: translations both ways (TCP, UDP, ICMP echo) with the IPv4 header and transport
 * checksums recomputed from scratch (packet-builder's reference functions), round trips, port
 * allocation and reuse, filtering, ports exhausted and table full, timeouts per protocol with
 * tick()/advance(), non-IPv4 and untranslatable packets, forward: next, option errors, report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, openNF, out, runNF } from 'nfchain';
import napt from './index.js';
import {
  buildPacket,
  ipv4Num,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  type BuiltPacket,
  type L4Spec,
} from '../../test/helpers/packet-builder.js';

const NAT = '203.0.113.1';
const PORTS = [
  { name: 'lan', ipv4: '10.0.0.1/24' },
  { name: 'wan', ipv4: `${NAT}/24` },
];
const LAN = 0;
const WAN = 1;
const base = { outside: 'wan', inside: 'lan', interval: 0 };
const H = '10.0.0.5';
const S = '198.51.100.7';

const pkt = (src: string, dst: string, l4: L4Spec) => buildPacket({ l3: { kind: 'ipv4', src, dst }, l4 });
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

/** The output's checksums against a from-scratch computation over its bytes. */
function checksumsOk(bytes: Uint8Array, layout: BuiltPacket, what: string): void {
  assert.equal(
    u16(bytes, layout.l3Offset + 10),
    refIpv4HeaderChecksum(bytes, layout.l3Offset),
    `${what}: IPv4 header checksum`,
  );
  assert.equal(storedL4Checksum(bytes, layout), refL4Checksum(bytes, layout), `${what}: transport checksum`);
}

async function session(options: Record<string, unknown> = {}) {
  return openNF(napt, { options: { ...base, ...options }, ports: PORTS });
}

for (const kind of ['tcp', 'udp'] as const) {
  test(`${kind}: outbound source := NAT address and port, reply translated back, checksums right`, async () => {
    const s = await session();
    const o = pkt(H, S, {
      kind,
      sport: 40000,
      dport: 443,
      ...(kind === 'tcp' ? { flags: 0x18 } : {}),
      payload: new Uint8Array(11).fill(7),
    } as L4Spec);
    const [a] = s.push([o.bytes], { inputPort: LAN });
    assert.equal(a!.verdict, out(WAN));
    assert.equal(u32(a!.bytes, o.l3Offset + 12), ipv4Num(NAT));
    assert.equal(u32(a!.bytes, o.l3Offset + 16), ipv4Num(S));
    assert.equal(u16(a!.bytes, o.l4Offset), 1024, 'the first port of the range');
    assert.equal(u16(a!.bytes, o.l4Offset + 2), 443);
    checksumsOk(a!.bytes, o, 'outbound');
    // The same flow keeps its port; another flow gets the next one.
    const [b] = s.push([o.bytes], { inputPort: LAN });
    assert.deepEqual(b!.bytes, a!.bytes);
    const o2 = pkt(H, S, { kind, sport: 40001, dport: 443 } as L4Spec);
    const [c] = s.push([o2.bytes], { inputPort: LAN });
    assert.equal(u16(c!.bytes, o2.l4Offset), 1025);
    // The reply, to NAT:1024.
    const r = pkt(S, NAT, { kind, sport: 443, dport: 1024, payload: new Uint8Array(5).fill(3) } as L4Spec);
    const [d] = s.push([r.bytes], { inputPort: WAN });
    assert.equal(d!.verdict, out(LAN));
    assert.equal(u32(d!.bytes, r.l3Offset + 16), ipv4Num(H));
    assert.equal(u16(d!.bytes, r.l4Offset + 2), 40000);
    checksumsOk(d!.bytes, r, 'inbound');
    // Round trip: the reply as the inside host sees it is the reply it would get without NAT.
    const direct = pkt(S, H, { kind, sport: 443, dport: 40000, payload: new Uint8Array(5).fill(3) } as L4Spec);
    assert.deepEqual(d!.bytes, direct.bytes);
    const st = s.instance.stats();
    assert.equal(st.outbound, 3);
    assert.equal(st.inbound, 1);
    assert.equal(st.mappings, 2);
    const end = await s.stop();
    assert.deepEqual(
      [end.metrics.outbound, end.metrics.inbound, end.metrics.created, end.metrics.mappings],
      [3, 1, 2, 2],
      'the declared counters and the mappings gauge',
    );
  });
}

test('UDP checksum 0 ("none") stays 0', async () => {
  const o = pkt(H, S, { kind: 'udp', sport: 1, dport: 2, noChecksum: true });
  const r = await runNF(napt, [o.bytes], { options: base, ports: PORTS });
  assert.equal(storedL4Checksum(r.outputs[0]!.bytes, o), 0);
  assert.equal(u16(r.outputs[0]!.bytes, o.l3Offset + 10), refIpv4HeaderChecksum(r.outputs[0]!.bytes, o.l3Offset));
});

test('ICMP echo: the id is allocated and translated back, ICMP checksum right', async () => {
  const s = await session();
  const req = pkt(H, S, { kind: 'icmp', type: 8, code: 0, id: 777, seq: 1, payload: new Uint8Array(8).fill(1) });
  const [a] = s.push([req.bytes], { inputPort: LAN });
  assert.equal(a!.verdict, out(WAN));
  assert.equal(u16(a!.bytes, req.l4Offset + 4), 1024);
  checksumsOk(a!.bytes, req, 'echo request');
  const rep = pkt(S, NAT, { kind: 'icmp', type: 0, code: 0, id: 1024, seq: 1, payload: new Uint8Array(8).fill(1) });
  const [b] = s.push([rep.bytes], { inputPort: WAN });
  assert.equal(b!.verdict, out(LAN));
  const direct = pkt(S, H, { kind: 'icmp', type: 0, code: 0, id: 777, seq: 1, payload: new Uint8Array(8).fill(1) });
  assert.deepEqual(b!.bytes, direct.bytes);
  checksumsOk(b!.bytes, rep, 'echo reply');
  // From another host: filtered by the remote address; an unknown id: no mapping.
  s.push([pkt('198.51.100.8', NAT, { kind: 'icmp', type: 0, code: 0, id: 1024 }).bytes], { inputPort: WAN });
  s.push([pkt(S, NAT, { kind: 'icmp', type: 0, code: 0, id: 1025 }).bytes], { inputPort: WAN });
  assert.deepEqual(s.verdicts.slice(2), [DROP, DROP]);
  assert.equal(s.instance.stats().filtered, 1);
  assert.equal(s.instance.stats().noMapping, 1);
  await s.stop();
});

test('inbound without a mapping, from another endpoint, or to another address: dropped', async () => {
  const s = await session();
  s.push([pkt(H, S, { kind: 'udp', sport: 5000, dport: 53 }).bytes], { inputPort: LAN });
  const inb = [
    pkt(S, NAT, { kind: 'udp', sport: 53, dport: 1025 }), // no mapping
    pkt(S, NAT, { kind: 'udp', sport: 54, dport: 1024 }), // other remote port
    pkt('198.51.100.99', NAT, { kind: 'udp', sport: 53, dport: 1024 }), // other remote host
    pkt(S, NAT, { kind: 'tcp', sport: 53, dport: 1024 }), // other protocol: its own ports
    pkt(S, '203.0.113.2', { kind: 'udp', sport: 53, dport: 1024 }), // not the NAT address
    pkt(S, NAT, { kind: 'udp', sport: 53, dport: 1024 }), // the reply
  ];
  s.push(
    inb.map((p) => p.bytes),
    { inputPort: WAN },
  );
  assert.deepEqual(s.verdicts.slice(1), [DROP, DROP, DROP, DROP, DROP, out(LAN)]);
  const st = s.instance.stats();
  assert.equal(st.noMapping, 3);
  assert.equal(st.filtered, 2);
  await s.stop();
});

test('ports exhausted and table full are counted; freed ports come back last (FIFO)', async () => {
  const s = await session({ ports: '2000-2001', 'udp-timeout': 1 });
  const flows = [1, 2, 3].map((i) => pkt(H, S, { kind: 'udp', sport: 100 + i, dport: 53 }));
  const outs = s.push(
    flows.map((f) => f.bytes),
    { inputPort: LAN },
  );
  assert.deepEqual(s.verdicts, [out(WAN), out(WAN), DROP]);
  assert.deepEqual(
    outs.map((o) => u16(o.bytes, flows[0]!.l4Offset)),
    [2000, 2001],
  );
  assert.equal(s.instance.stats().portsExhausted, 1);
  // TCP has its own ports.
  s.push([pkt(H, S, { kind: 'tcp', sport: 9, dport: 80 }).bytes], { inputPort: LAN });
  assert.equal(s.verdicts.at(-1), out(WAN));
  s.tick(20); // 2 s: the UDP mappings expire (TCP: 7440 s)
  assert.equal(s.instance.stats().expired, 2);
  assert.deepEqual(s.instance.freePorts(), [1, 2, 2]);
  s.push([pkt(S, NAT, { kind: 'udp', sport: 53, dport: 2000 }).bytes], { inputPort: WAN });
  assert.equal(s.verdicts.at(-1), DROP, 'expired: the reply finds no mapping');
  const [again] = s.push([flows[2]!.bytes], { inputPort: LAN });
  assert.equal(u16(again!.bytes, flows[2]!.l4Offset), 2000);
  await s.stop();
  const f = await runNF(
    napt,
    flows.map((x) => x.bytes),
    { options: { ...base, capacity: 1 }, ports: PORTS },
  );
  assert.deepEqual(f.verdicts, [out(WAN), DROP, DROP]);
  assert.equal(f.instance.stats().tableFull, 2);
});

test('timeouts per protocol; TCP after FIN or RST times out fast; traffic keeps a mapping', async () => {
  // Each tick sweeps a tenth of the mappings: one goes between its deadline and 1.1 s after.
  const s = await session({ 'tcp-timeout': 100, 'tcp-closing-timeout': 2, 'udp-timeout': 10, 'icmp-timeout': 5 });
  s.push(
    [
      pkt(H, S, { kind: 'tcp', sport: 1, dport: 80, flags: 0x10 }).bytes,
      pkt(H, S, { kind: 'tcp', sport: 2, dport: 80, flags: 0x11 }).bytes, // FIN
      pkt(H, S, { kind: 'udp', sport: 3, dport: 53 }).bytes,
      pkt(H, S, { kind: 'icmp', type: 8, code: 0, id: 4 }).bytes,
    ],
    { inputPort: LAN },
  );
  assert.equal(s.instance.stats().mappings, 4);
  s.tick(15); // 1.5 s: nothing yet
  assert.equal(s.instance.stats().mappings, 4);
  s.tick(20); // 3.5 s
  assert.equal(s.instance.stats().mappings, 3, 'the closing TCP mapping');
  s.push([pkt(S, NAT, { kind: 'udp', sport: 53, dport: 1024 }).bytes], { inputPort: WAN }); // UDP reply refreshes it
  s.tick(30); // 6.5 s
  assert.equal(s.instance.stats().mappings, 2, 'ICMP');
  s.tick(60); // 12.5 s
  assert.equal(s.instance.stats().mappings, 2, 'UDP was refreshed at 3.5 s');
  s.tick(30); // 15.5 s
  assert.equal(s.instance.stats().mappings, 1, 'UDP');
  s.advance(100_000);
  assert.equal(s.instance.expireAll(s.now), 1, 'established TCP');
  assert.equal(s.instance.stats().expired, 4);
  const end = await s.stop();
  assert.deepEqual([end.metrics.created, end.metrics.expired, end.metrics.mappings], [4, 4, 0]);
});

test('non-IPv4 packets take non-ip; untranslatable IPv4 is dropped', async () => {
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
    l3: { kind: 'ipv6', src: 'fd00::1', dst: '2001:db8::1' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  }).bytes;
  const gre = pkt(H, S, { kind: 'raw', proto: 47, payload: new Uint8Array(8) }).bytes;
  const unreach = pkt(H, S, { kind: 'icmp', type: 3, code: 1 }).bytes;
  const frag = buildPacket({
    l3: { kind: 'ipv4', src: H, dst: S, fragOffset: 8 },
    l4: { kind: 'raw', proto: 17, payload: new Uint8Array(8) },
  }).bytes;
  const cutL4 = pkt(H, S, { kind: 'udp', sport: 1, dport: 2 }).bytes.slice(0, 36);
  const cutL3 = pkt(H, S, { kind: 'udp', sport: 1, dport: 2 }).bytes.slice(0, 24);
  const r = await runNF(napt, [arp, v6, gre, unreach, frag, cutL4, cutL3], {
    options: base,
    ports: PORTS,
    inputPort: LAN,
  });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, DROP, DROP, DROP, DROP, NEXT]);
  const st = r.instance.stats();
  assert.equal(st.nonIp, 3, 'ARP, IPv6, and the cut IPv4 header');
  assert.equal(st.untranslatable, 4, 'GRE, ICMP unreachable, a fragment, a cut UDP header');
  assert.deepEqual([r.metrics.nonIp, r.metrics.untranslatable, r.metrics.outbound, r.metrics.mappings], [3, 4, 0, 0]);
  const d = await runNF(napt, [arp], { options: { ...base, 'non-ip': 'drop' }, ports: PORTS });
  assert.deepEqual(d.verdicts, [DROP]);
});

test('forward: next and option address', async () => {
  const o = pkt(H, S, { kind: 'udp', sport: 5, dport: 6 });
  const r = await runNF(napt, [o.bytes], {
    options: { outside: 'wan', forward: 'next', address: '192.0.2.9', interval: 0 },
    ports: PORTS,
  });
  assert.equal(r.verdicts[0], NEXT);
  assert.equal(u32(r.outputs[0]!.bytes, o.l3Offset + 12), ipv4Num('192.0.2.9'));
  checksumsOk(r.outputs[0]!.bytes, o, 'outbound');
  assert.equal(r.instance.address, '192.0.2.9');
});

test('report every interval and at stop', async () => {
  const o = pkt(H, S, { kind: 'udp', sport: 5, dport: 6 });
  const r = await runNF(napt, [o.bytes], { options: { ...base, interval: 1 }, ports: PORTS, ticks: 10 });
  assert.match(r.logs[0]!, /napt: 203\.0\.113\.1 ports 1024-65535 on wan/);
  assert.equal(r.logs.filter((l) => /1 out, 0 in; 1 mappings/.test(l)).length, 2);
});

async function rejects(
  options: Record<string, unknown>,
  pattern: RegExp,
  ports: { name: string; ipv4?: string }[] = PORTS,
): Promise<void> {
  await assert.rejects(
    () => runNF(napt, [], { options: { interval: 0, ...options }, ports }),
    (e: unknown) => {
      assert.ok(e instanceof NfcError, String(e));
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('option errors name the option', async () => {
  await rejects({}, /option "outside": missing/);
  await rejects({ outside: 'wna' }, /option "outside": .*no port "wna"; did you mean "wan"/);
  await rejects({ outside: 'wan' }, /option "inside": missing/);
  await rejects({ outside: 'wan', inside: 'wan' }, /option "inside": "wan" is the outside port too/);
  await rejects({ ...base, address: '1.2.3' }, /option "address": "1\.2\.3" is not an IPv4 address/);
  await rejects(base, /option "address": not given, and the outside port "wan" has no IPv4 address/, [
    { name: 'lan' },
    { name: 'wan' },
  ]);
  await rejects({ ...base, ports: '70000-1' }, /option "ports": "70000-1" is not a range/);
  await rejects({ ...base, ports: '0-10' }, /option "ports"/);
  await rejects({ ...base, capacity: 0 }, /option "capacity" must be at least 1/);
  await rejects({ ...base, forward: 'x' }, /option "forward" must be one of ports, next/);
  for (const t of ['tcp-timeout', 'tcp-closing-timeout', 'udp-timeout', 'icmp-timeout']) {
    await rejects({ ...base, [t]: -1 }, new RegExp(`option "${t}" must be at least 0`));
  }
});

test('plain packets (read straight from their bytes) and the general path give the same bytes and verdicts', async () => {
  // The same traffic untagged (the first pass reads it: plain path) and VLAN-tagged (the packet
  // view's general path), and both mixed in one burst: verdicts, counters and every byte after
  // the Ethernet header must agree.
  const specs: { from: number; src: string; dst: string; l4: L4Spec; options?: number[] }[] = [];
  for (let i = 0; i < 6; i++) {
    const tcp = i % 2 === 0;
    const sport = 40000 + i;
    const dport = tcp ? 443 : 53;
    const natPort = 1024 + (i >> 1);
    const l4 = (sp: number, dp: number, flags: number): L4Spec =>
      tcp
        ? { kind: 'tcp', sport: sp, dport: dp, flags, payload: new Uint8Array(i).fill(i) }
        : { kind: 'udp', sport: sp, dport: dp, payload: new Uint8Array(i).fill(i), noChecksum: i === 3 };
    const options = i === 4 ? [1, 1, 1, 0] : undefined;
    specs.push({ from: LAN, src: H, dst: S, l4: l4(sport, dport, 0x18), ...(options ? { options } : {}) });
    specs.push({ from: WAN, src: S, dst: NAT, l4: l4(dport, natPort, 0x10) });
    specs.push({ from: WAN, src: '198.51.100.99', dst: NAT, l4: l4(dport, natPort, 0x10) }); // filtered
    specs.push({ from: WAN, src: S, dst: NAT, l4: l4(dport + 1, natPort, 0x10) }); // filtered (port)
    specs.push({ from: WAN, src: S, dst: NAT, l4: l4(dport, 60000, 0x10) }); // no mapping
    specs.push({ from: WAN, src: S, dst: '203.0.113.9', l4: l4(dport, natPort, 0x10) }); // not the NAT address
    if (tcp) specs.push({ from: LAN, src: H, dst: S, l4: l4(sport, dport, 0x11) }); // FIN: closing
  }
  const build = (tagged: boolean) =>
    specs.map(
      (sp) =>
        buildPacket({
          ...(tagged ? { eth: { vlans: [{ id: 7 }] } } : {}),
          l3: { kind: 'ipv4', src: sp.src, dst: sp.dst, ...(sp.options ? { options: sp.options } : {}) },
          l4: sp.l4,
        }).bytes,
    );
  const ports = specs.map((sp) => sp.from);
  const run = async (packets: Uint8Array[]) => {
    const s = await session();
    const outs = s.push(packets, { inputPort: ports });
    const r = { verdicts: [...s.verdicts], outs, stats: s.instance.stats() };
    s.advance(11_000);
    s.tick(1);
    const after = s.instance.stats();
    await s.stop();
    return { ...r, after };
  };
  const plain = await run(build(false));
  const tagged = await run(build(true));
  const mixedPackets = build(false).map((p, i) => (i % 3 === 1 ? build(true)[i]! : p));
  const mixed = await run(mixedPackets);
  assert.ok(
    plain.stats.outbound > 0 && plain.stats.inbound > 0 && plain.stats.filtered > 0 && plain.stats.noMapping > 0,
  );
  for (const other of [tagged, mixed]) {
    assert.deepEqual(other.verdicts, plain.verdicts);
    assert.deepEqual(other.stats, plain.stats);
    assert.deepEqual(other.after, plain.after, 'the FIN made the same mappings closing');
    assert.equal(other.outs.length, plain.outs.length);
  }
  const tail = (b: Uint8Array, tagged: boolean) => Array.from(b.subarray(tagged ? 18 : 14));
  for (let k = 0; k < plain.outs.length; k++) {
    assert.deepEqual(tail(tagged.outs[k]!.bytes, true), tail(plain.outs[k]!.bytes, false), `output ${k}`);
    const i = mixed.outs[k]!.index;
    assert.deepEqual(tail(mixed.outs[k]!.bytes, i % 3 === 1), tail(plain.outs[k]!.bytes, false), `mixed output ${k}`);
  }
});

test('a mapping freed and made again: the hash table finds every mapping after deletions', async () => {
  const s = await session({ 'udp-timeout': 1 });
  const flows = 300;
  const out = (i: number) => pkt(`10.0.${i >> 8}.${i & 255}`, S, { kind: 'udp', sport: 2000 + i, dport: 53 }).bytes;
  s.push(
    Array.from({ length: flows }, (_, i) => out(i)),
    { inputPort: LAN },
  );
  // Keep the odd flows alive, let the even ones expire: deletions in the middle of probe runs.
  s.advance(600);
  s.tick(1);
  s.push(
    Array.from({ length: flows / 2 }, (_, k) => out(2 * k + 1)),
    { inputPort: LAN },
  );
  s.advance(600);
  s.instance.expireAll(s.now);
  assert.equal(s.instance.stats().mappings, flows / 2);
  const before = s.instance.stats().created;
  const again = s.push(
    Array.from({ length: flows / 2 }, (_, k) => out(2 * k + 1)),
    { inputPort: LAN },
  );
  assert.equal(s.instance.stats().created, before, 'every live mapping found again');
  assert.equal(new Set(again.map((o) => u16(o.bytes, 34))).size, flows / 2);
  await s.stop();
});
