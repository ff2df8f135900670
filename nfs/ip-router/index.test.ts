import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, openNF, out, runNF, type RunNFOptions } from 'nfchain';
import router from './index.js';
import {
  buildPacket,
  refChecksum,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  type PacketSpec,
} from '../../test/helpers/packet-builder.js';

const LAN_MAC = '02:00:00:00:00:01';
const WAN_MAC = '02:00:00:00:00:02';
const HOST_A = { mac: '02:00:00:00:aa:07', ip: '10.0.1.7' };
const HOST_B = { mac: '02:00:00:00:bb:05', ip: '10.0.2.5' };
const PORTS = [
  { name: 'lan', mac: LAN_MAC, ipv4: '10.0.1.1/24' },
  { name: 'wan', mac: WAN_MAC, ipv4: ['10.0.2.1/24', '10.0.3.1/24'] },
];

const dir = mkdtempSync(join(tmpdir(), 'ip-router-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const name = `routes-${n++}.txt`;
  writeFileSync(join(dir, name), text);
  return name;
}

function opts(extra: Record<string, unknown> = {}, more: Partial<RunNFOptions> = {}): RunNFOptions {
  return { options: { interval: 0, ...extra }, ports: PORTS, baseDir: dir, ...more };
}

const macAt = (b: Uint8Array, at: number): string =>
  Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
const ipAt = (b: Uint8Array, at: number): string => Array.from(b.subarray(at, at + 4)).join('.');
const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

function arp(op: number, from: { mac: string; ip: string }, targetIp: string, ethDst = 'ff:ff:ff:ff:ff:ff') {
  return buildPacket({
    eth: { src: from.mac, dst: ethDst },
    l3: { kind: 'arp', op, senderMac: from.mac, senderIp: from.ip, targetMac: '00:00:00:00:00:00', targetIp },
    padTo: 60,
  }).bytes;
}
function udp(dst: string, more: { ttl?: number; src?: string; ethDst?: string; flags?: number; size?: number } = {}) {
  return buildPacket({
    eth: { src: HOST_A.mac, dst: more.ethDst ?? LAN_MAC },
    l3: { kind: 'ipv4', src: more.src ?? HOST_A.ip, dst, ttl: more.ttl ?? 64, flags: more.flags ?? 0, id: 0x1234 },
    l4: { kind: 'udp', sport: 4000, dport: 53, payload: new Uint8Array(more.size ?? 12).fill(7) },
  } as PacketSpec);
}
function echo(dst: string, from = HOST_A) {
  return buildPacket({
    eth: { src: from.mac, dst: LAN_MAC },
    l3: { kind: 'ipv4', src: from.ip, dst, ttl: 64 },
    l4: { kind: 'icmp', type: 8, code: 0, id: 77, seq: 3, payload: new Uint8Array([1, 2, 3, 4, 5]) },
  });
}

/** Checks an Ethernet/IPv4 frame's IPv4 header checksum from scratch. */
function ipOk(b: Uint8Array): void {
  assert.equal(u16(b, 24), refIpv4HeaderChecksum(b, 14), 'IPv4 header checksum');
}

test('ARP requests for its addresses are answered out of the ingress port; others ignored', async () => {
  const s = await openNF(router, opts());
  const outs = s.push([arp(1, HOST_A, '10.0.1.1')], { inputPort: 0 });
  assert.equal(outs.length, 1);
  const r = outs[0]!;
  assert.equal(r.verdict, out(0));
  assert.equal(macAt(r.bytes, 0), HOST_A.mac, 'to the asker');
  assert.equal(macAt(r.bytes, 6), LAN_MAC);
  assert.equal(u16(r.bytes, 20), 2, 'op reply');
  assert.equal(macAt(r.bytes, 22), LAN_MAC, 'sender MAC: ours');
  assert.equal(ipAt(r.bytes, 28), '10.0.1.1');
  assert.equal(macAt(r.bytes, 32), HOST_A.mac);
  assert.equal(ipAt(r.bytes, 38), HOST_A.ip);
  assert.deepEqual(s.instance.arpEntry(HOST_A.ip), {
    state: 'reachable',
    mac: HOST_A.mac,
    port: 0,
    queued: 0,
    retries: 0,
  });
  // For someone else; for our address on the other port; a gratuitous ARP: not answered.
  const none = s.push(
    [
      arp(1, HOST_A, '10.0.1.99'),
      arp(1, HOST_A, '10.0.2.1'),
      arp(1, { mac: HOST_B.mac, ip: '10.0.1.50' }, '10.0.1.50'),
    ],
    { inputPort: 0 },
  );
  assert.deepEqual(none, []);
  assert.deepEqual(s.verdicts.slice(1), [DROP, DROP, DROP]);
  assert.equal(s.instance.arpEntry('10.0.1.50'), undefined, 'a stranger is not learned from a request not for us');
  const st = s.instance.stats();
  assert.equal(st.arpRequestsAnswered, 1);
  assert.equal(st.arpIgnored, 3);
  // A cut-short ARP frame is counted, not thrown on.
  s.push([arp(1, HOST_A, '10.0.1.1').slice(0, 30)]);
  assert.equal(s.instance.stats().truncated, 1);
  await s.stop();
});

test('forwarding waits for ARP: queued, ARP request out of the route port, sent on the reply; then direct', async () => {
  const s = await openNF(router, opts());
  const p1 = udp(HOST_B.ip);
  const p2 = udp(HOST_B.ip, { ttl: 9 });
  const first = s.push([p1.bytes, p2.bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts, [-1, -1], 'both kept');
  assert.equal(first.length, 1, 'one ARP request, not two');
  const req = first[0]!;
  assert.equal(req.source, 'created');
  assert.equal(req.verdict, out(1));
  assert.equal(macAt(req.bytes, 0), 'ff:ff:ff:ff:ff:ff');
  assert.equal(macAt(req.bytes, 6), WAN_MAC);
  assert.equal(u16(req.bytes, 12), 0x0806);
  assert.equal(u16(req.bytes, 20), 1);
  assert.equal(macAt(req.bytes, 22), WAN_MAC);
  assert.equal(ipAt(req.bytes, 28), '10.0.2.1', "the port's address on the target's subnet");
  assert.equal(ipAt(req.bytes, 38), HOST_B.ip);
  assert.equal(req.bytes.length, 60);
  assert.equal(s.ctx.heldCount, 2);
  assert.equal(s.instance.arpEntry(HOST_B.ip)!.state, 'incomplete');
  // The reply (to our MAC, on the wan port) releases both, in order.
  const sent = s.push([arp(2, HOST_B, '10.0.2.1', WAN_MAC)], { inputPort: 1 });
  assert.equal(sent.length, 2);
  for (const [i, b] of [p1, p2].entries()) {
    const o = sent[i]!;
    assert.equal(o.verdict, out(1));
    assert.equal(o.source, 'kept');
    assert.equal(macAt(o.bytes, 0), HOST_B.mac);
    assert.equal(macAt(o.bytes, 6), WAN_MAC);
    assert.equal(o.bytes[14 + 8], (i === 0 ? 64 : 9) - 1, 'TTL - 1');
    ipOk(o.bytes);
    assert.equal(storedL4Checksum(o.bytes, b), refL4Checksum(o.bytes, b), 'UDP checksum still right');
  }
  assert.equal(s.ctx.heldCount, 0);
  // Now cached: forwarded at once.
  const p3 = udp(HOST_B.ip);
  const direct = s.push([p3.bytes], { inputPort: 0 });
  assert.equal(s.verdicts[3], out(1));
  assert.equal(macAt(direct[0]!.bytes, 0), HOST_B.mac);
  ipOk(direct[0]!.bytes);
  const st = s.instance.stats();
  assert.equal(st.forwarded, 3);
  assert.equal(st.queued, 2);
  assert.equal(st.arpRequestsSent, 1);
  assert.equal(st.arpRepliesReceived, 1);
  s.tick(1);
  const r = await s.stop();
  // the declared counters and gauges (stats, /metrics, the console), copied at tick and stop
  assert.deepEqual(
    [r.metrics.forwarded, r.metrics.queued, r.metrics.arpRequestsSent, r.metrics.arpRepliesReceived],
    [3, 2, 1, 1],
  );
  assert.deepEqual([r.metrics.waiting, r.metrics.arpEntries, r.metrics.noRoute, r.metrics.malformed], [0, 1, 0, 0]);
});

test('queues are bounded per next hop and in total; the rest is dropped and counted', async () => {
  const s = await openNF(router, opts({ 'queue-per-hop': 2, 'queue-total': 3 }));
  s.push([udp('10.0.2.5').bytes, udp('10.0.2.5').bytes, udp('10.0.2.5').bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts, [-1, -1, DROP]);
  s.push([udp('10.0.2.6').bytes, udp('10.0.2.7').bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts.slice(3), [-1, DROP], 'the total is reached');
  assert.equal(s.instance.stats().queueFull, 2);
  assert.equal(s.ctx.heldCount, 3);
  s.tick(1);
  const r = await s.stop();
  assert.equal(r.held, 0, 'stop() frees the queues itself');
  // 3 packets queued, 2 dropped (queue full); at stop the 3 queued are freed and counted as arpTimeout
  assert.deepEqual([r.metrics.queued, r.metrics.queueFull, r.metrics.arpTimeout], [3, 2, 3]);
  assert.equal(r.metrics.waiting, 0, 'nothing waits after stop() freed the queues');
});

test('no ARP reply: requests repeated every arp-retry, the queue dropped after arp-retries, the entry gone', async () => {
  const s = await openNF(router, opts({ 'arp-retry': 1, 'arp-retries': 3 }));
  const first = s.push([udp(HOST_B.ip).bytes], { inputPort: 0 });
  assert.equal(first.length, 1);
  assert.deepEqual(s.tick(9), [], 'nothing before a second has passed');
  const again = s.tick(1); // t = 1.0 s
  assert.equal(again.length, 1, 'second request');
  assert.equal(u16(again[0]!.bytes, 20), 1);
  assert.equal(s.tick(10).length, 1, 'third request at 2.0 s');
  assert.equal(s.instance.arpEntry(HOST_B.ip)!.retries, 2);
  assert.equal(s.ctx.heldCount, 1);
  assert.deepEqual(s.tick(10), [], 'no fourth: the packet is dropped');
  assert.equal(s.ctx.heldCount, 0);
  assert.equal(s.instance.stats().arpTimeout, 1);
  assert.equal(s.instance.arpEntry(HOST_B.ip), undefined);
  // The next packet starts over.
  assert.equal(s.push([udp(HOST_B.ip).bytes], { inputPort: 0 }).length, 1);
  assert.equal(s.instance.stats().arpRequestsSent, 4);
  await s.stop();
});

test('ARP cache entries expire after arp-timeout; permanent neighbors from the routes file do not', async () => {
  const routes = file('neighbor 10.0.3.9 lladdr 02:00:00:00:cc:09 dev wan\n');
  const s = await openNF(router, opts({ 'arp-timeout': 2, routes }));
  s.push([arp(1, HOST_A, '10.0.1.1')], { inputPort: 0 });
  assert.equal(s.instance.arpEntry(HOST_A.ip)!.state, 'reachable');
  s.tick(19);
  assert.equal(s.instance.arpEntry(HOST_A.ip)!.state, 'reachable', 'still there at 1.9 s');
  s.tick(1);
  assert.equal(s.instance.arpEntry(HOST_A.ip), undefined, 'gone at 2 s');
  assert.equal(s.instance.stats().expiredEntries, 1);
  const st = s.instance.arpEntry('10.0.3.9')!;
  assert.equal(st.state, 'permanent');
  const o = s.push([udp('10.0.3.9').bytes], { inputPort: 0 });
  assert.equal(o[0]!.verdict, out(1));
  assert.equal(macAt(o[0]!.bytes, 0), '02:00:00:00:cc:09');
  // An ARP reply does not overwrite a permanent entry.
  s.push([arp(2, { mac: '02:00:00:00:ee:ee', ip: '10.0.3.9' }, '10.0.3.1', WAN_MAC)], { inputPort: 1 });
  assert.equal(s.instance.arpEntry('10.0.3.9')!.mac, '02:00:00:00:cc:09');
  await s.stop();
});

/** A session where host A is known (it asked for our MAC). */
async function withHostA(extra: Record<string, unknown> = {}, more: Partial<RunNFOptions> = {}) {
  const s = await openNF(router, opts(extra, more));
  s.push([arp(1, HOST_A, '10.0.1.1')], { inputPort: 0 });
  return s;
}

test('TTL 1 is answered with ICMP Time Exceeded from the ingress port address, quoting the datagram', async () => {
  const s = await withHostA();
  const p = udp(HOST_B.ip, { ttl: 1 });
  const o = s.push([p.bytes, udp(HOST_B.ip, { ttl: 0 }).bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts.slice(1), [DROP, DROP]);
  assert.equal(o.length, 2);
  const t = o[0]!.bytes;
  assert.equal(o[0]!.verdict, out(0));
  assert.equal(o[0]!.source, 'created');
  assert.equal(macAt(t, 0), HOST_A.mac);
  assert.equal(macAt(t, 6), LAN_MAC);
  assert.equal(ipAt(t, 26), '10.0.1.1', 'from the ingress port address');
  assert.equal(ipAt(t, 30), HOST_A.ip);
  assert.equal(t[23], 1, 'ICMP');
  ipOk(t);
  assert.equal(t[34], 11);
  assert.equal(t[35], 0);
  const quoted = p.bytes.subarray(14, 14 + 28);
  assert.deepEqual(t.subarray(42), quoted, 'the original header (TTL 1) and 8 bytes of its data');
  assert.equal(u16(t, 16), 20 + 8 + 28);
  assert.equal(t.length, 14 + 20 + 8 + 28);
  assert.equal(u16(t, 36), refChecksum([...t.subarray(34, 36), 0, 0, ...t.subarray(38)]), 'ICMP checksum');
  const st = s.instance.stats();
  assert.equal(st.ttlExceeded, 2);
  assert.equal(st.icmpErrorsSent, 2);
  // No ICMP error about an ICMP error.
  const err = buildPacket({
    eth: { src: HOST_A.mac, dst: LAN_MAC },
    l3: { kind: 'ipv4', src: HOST_A.ip, dst: HOST_B.ip, ttl: 1 },
    l4: { kind: 'icmp', type: 3, code: 1, payload: new Uint8Array(28) },
  });
  assert.deepEqual(s.push([err.bytes], { inputPort: 0 }), []);
  assert.equal(s.instance.stats().icmpErrorsSent, 2);
  // icmp-errors false: silent.
  const q = await withHostA({ 'icmp-errors': false });
  assert.deepEqual(q.push([p.bytes], { inputPort: 0 }), []);
  assert.equal(q.instance.stats().ttlExceeded, 1);
  await q.stop();
  await s.stop();
});

test('echo requests to any of its addresses are answered; other traffic to it is dropped', async () => {
  const s = await withHostA();
  const e1 = echo('10.0.1.1');
  const e2 = echo('10.0.3.1');
  const o = s.push([e1.bytes, e2.bytes, udp('10.0.2.1').bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts.slice(1), [out(0), out(0), DROP]);
  for (const [i, want] of ['10.0.1.1', '10.0.3.1'].entries()) {
    const r = o[i]!.bytes;
    const b = [e1, e2][i]!;
    assert.equal(macAt(r, 0), HOST_A.mac);
    assert.equal(macAt(r, 6), LAN_MAC);
    assert.equal(ipAt(r, 26), want);
    assert.equal(ipAt(r, 30), HOST_A.ip);
    assert.equal(r[34], 0, 'echo reply');
    assert.equal(u16(r, 38), 77);
    assert.equal(u16(r, 40), 3);
    assert.deepEqual(r.subarray(42), b.bytes.subarray(42), 'same data');
    ipOk(r);
    assert.equal(storedL4Checksum(r, b), refL4Checksum(r, b), 'ICMP checksum');
  }
  const bad = e1.bytes.slice();
  bad[40]! ^= 1; // the ICMP checksum no longer matches
  s.push([bad], { inputPort: 0 });
  const st = s.instance.stats();
  assert.equal(st.echoAnswered, 2);
  assert.equal(st.toUsDropped, 1);
  assert.equal(st.badChecksum, 1);
  await s.stop();
});

test('routes file: gateways, blackholes; no route answered with Net Unreachable', async () => {
  const routes = file(
    [
      '# more routes',
      '172.16.0.0/12 via 10.0.2.254 dev wan',
      'blackhole 192.168.66.0/24',
      'fd00:2::/64 dev wan',
      '10.0.2.254 dev wan lladdr 02:00:00:00:fe:fe PERMANENT',
    ].join('\n'),
  );
  const s = await withHostA({ routes });
  const o = s.push([udp('172.16.1.1').bytes, udp('192.168.66.1').bytes, udp('8.8.8.8').bytes], { inputPort: 0 });
  assert.deepEqual(s.verdicts.slice(1), [out(1), DROP, DROP]);
  assert.equal(macAt(o[0]!.bytes, 0), '02:00:00:00:fe:fe', 'the gateway MAC');
  const u = o[1]!.bytes;
  assert.equal(o[1]!.verdict, out(0));
  assert.equal(u[34], 3);
  assert.equal(u[35], 0, 'net unreachable');
  ipOk(u);
  const st = s.instance.stats();
  assert.equal(st.blackhole, 1);
  assert.equal(st.noRoute, 1);
  assert.equal(s.instance.v4.size, 5, '3 connected + 2 from the file (IPv6 ignored)');
  await s.stop();
});

test('too big for the egress MTU: Fragmentation Needed with DF, dropped without', async () => {
  const ports = [PORTS[0]!, { ...PORTS[1]!, mtu: 576 }];
  const s = await withHostA({ routes: file('neighbor 10.0.2.5 lladdr 02:00:00:00:bb:05 dev wan\n') }, { ports });
  const o = s.push(
    [
      udp(HOST_B.ip, { size: 600, flags: 2 }).bytes,
      udp(HOST_B.ip, { size: 600 }).bytes,
      udp(HOST_B.ip, { size: 500 }).bytes,
    ],
    { inputPort: 0 },
  );
  assert.deepEqual(s.verdicts.slice(1), [DROP, DROP, out(1)]);
  const f = o[0]!.bytes;
  assert.equal(f[34], 3);
  assert.equal(f[35], 4);
  assert.equal(u16(f, 40), 576, 'next-hop MTU');
  assert.equal(s.instance.stats().tooBig, 2);
  await s.stop();
});

test('malformed, martian, broadcast, multicast, IPv6, non-IP and other hosts’ frames are dropped by reason', async () => {
  const s = await withHostA();
  const good = udp(HOST_B.ip).bytes;
  const mk = (f: (b: Uint8Array, dv: DataView) => void): Uint8Array => {
    const c = good.slice();
    f(c, new DataView(c.buffer));
    return c;
  };
  const pkts = [
    good.slice(0, 20), // truncated
    mk((b) => {
      b[14] = 0x65;
    }),
    mk((b) => {
      b[14] = 0x43;
    }),
    mk((_, dv) => dv.setUint16(16, 1500)),
    mk((b) => {
      b[24]! ^= 0x55;
    }), // header checksum
    udp(HOST_B.ip, { src: '127.0.0.1' }).bytes,
    udp('0.1.2.3').bytes,
    udp('255.255.255.255', { ethDst: 'ff:ff:ff:ff:ff:ff' }).bytes,
    udp('224.0.0.5', { ethDst: '01:00:5e:00:00:05' }).bytes,
    udp('10.0.2.255').bytes, // directed broadcast of a connected subnet
    udp(HOST_B.ip, { ethDst: '02:00:00:00:99:99' }).bytes, // not our MAC
    buildPacket({
      eth: { src: HOST_A.mac, dst: LAN_MAC },
      l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
      l4: { kind: 'udp', sport: 1, dport: 2 },
    }).bytes,
    buildPacket({ eth: { src: HOST_A.mac, dst: LAN_MAC, etherType: 0x88cc }, l3Raw: new Uint8Array(46) }).bytes,
    new Uint8Array(8),
  ];
  const o = s.push(pkts, { inputPort: 0 });
  assert.deepEqual(o, []);
  assert.ok(s.verdicts.slice(1).every((v) => v === DROP));
  const st = s.instance.stats();
  assert.deepEqual(
    {
      truncated: st.truncated,
      badVersion: st.badVersion,
      badHeaderLength: st.badHeaderLength,
      badLength: st.badLength,
      badChecksum: st.badChecksum,
      martian: st.martian,
      broadcast: st.broadcast,
      multicast: st.multicast,
      otherHost: st.otherHost,
      ipv6: st.ipv6,
      nonIp: st.nonIp,
    },
    {
      truncated: 2,
      badVersion: 1,
      badHeaderLength: 1,
      badLength: 1,
      badChecksum: 1,
      martian: 2,
      broadcast: 2,
      multicast: 1,
      otherHost: 1,
      ipv6: 1,
      nonIp: 1,
    },
  );
  // verify-checksum false: a bad header checksum is routed (and queued for ARP here).
  const q = await withHostA({ 'verify-checksum': false });
  q.push([pkts[4]!], { inputPort: 0 });
  assert.equal(q.verdicts[1], -1);
  await q.stop();
  await s.stop();
});

test('reports every interval seconds and at stop', async () => {
  const r = await runNF(
    router,
    [arp(1, HOST_A, '10.0.1.1'), udp(HOST_B.ip).bytes],
    opts({ interval: 1 }, { ticks: 10 }),
  );
  assert.match(r.logs[0]!, /^ip-router: lan 10\.0\.1\.1\/24; wan 10\.0\.2\.1\/24, 10\.0\.3\.1\/24; 3 routes$/);
  assert.match(r.logs[1]!, /^ip-router: 1\.0 s: 0 forwarded, 1 waited for ARP, .* 1 answered, 2 requests sent/);
  assert.match(r.logs[2]!, /^ip-router: in all: /);
  const q = await runNF(router, [udp(HOST_B.ip).bytes], opts({}, { ticks: 10 }));
  assert.deepEqual(q.logs, []);
});

test('option errors name the option', async () => {
  const fails = async (o: Record<string, unknown>, re: RegExp, more: Partial<RunNFOptions> = {}): Promise<void> => {
    await assert.rejects(runNF(router, [], opts(o, more)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, re);
      return true;
    });
  };
  await fails(
    { 'queue-per-hop': 20, 'queue-total': 10 },
    /option "queue-per-hop" \(20\) is more than option "queue-total" \(10\)/,
  );
  await fails({}, /no port has an IPv4 address/, { ports: [{ name: 'lan' }] });
  await fails({ routes: 'missing.txt' }, /ip-router: option "routes": .*missing\.txt: cannot read it/);
  await fails(
    { routes: file('10.9.0.0/16 via 10.0.1.9 dev lann\n') },
    /ip-router: option "routes": .*:1: dev "lann" is not an nfchain port; did you mean "lan"/,
  );
  await fails({ 'arp-timeout': 0 }, /option "arp-timeout" must be at least 1/);
  await fails({ 'arp-retry': 0 }, /option "arp-retry" must be at least 0\.1/);
  await fails({ 'arp-retries': 1.5 }, /option "arp-retries" must be an integer/);
  await fails({ 'arp-entries': 1 }, /option "arp-entries" must be at least 16/);
  await fails({ 'queue-total': 5000 }, /option "queue-total" must be at most 1000/);
  await fails({ 'icmp-errors': 'sometimes' }, /option "icmp-errors" must be true or false/);
  await fails({ 'verify-checksum': 2 }, /option "verify-checksum" must be true or false/);
  await fails({ interval: 0.5 }, /option "interval" must be an integer/);
  await fails({ 'ignore-unknown-dev': 'x' }, /option "ignore-unknown-dev" must be true or false/);
});
