import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, NEXT, out, runNF, type RunNFOptions } from 'nfchain';
import l3fwd, { parseRoutesText } from './index.js';
import {
  buildPacket,
  macBytes,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  type PacketSpec,
} from '../../test/helpers/packet-builder.js';

const PORTS = [
  { name: 'lan', mac: '02:00:00:00:00:01' },
  { name: 'wan', mac: '02:00:00:00:00:02' },
  { name: 'dmz', mac: '02:00:00:00:00:03' },
];

const ROUTES = `# l3fwd test routes
10.0.1.0/24 dev lan proto kernel scope link src 10.0.1.1
10.0.2.0/24 via 10.0.1.254 dev lan
10.0.2.128/25 via 10.0.3.254 dev dmz   # longer: wins for .128-.255
10.0.3.0/24 dev dmz
default via 192.168.1.1 dev wan proto dhcp metric 100
blackhole 10.99.0.0/16
fd00:1::/64 dev lan
fd00:2::/48 via fd00:1::fe dev lan
::/0 via fd00:9::1 dev wan
neighbor 10.0.1.254 lladdr 02:00:00:00:01:fe dev lan
10.0.1.7 dev lan lladdr 02:00:00:00:01:07 REACHABLE
10.0.1.9 dev lan FAILED
192.168.1.1 dev wan lladdr 02:00:00:00:02:01 STALE
neighbor fd00:1::fe lladdr 02:00:00:00:06:fe dev lan
fd00:1::7 dev lan lladdr 02:00:00:00:06:07 router REACHABLE
`;

const dir = mkdtempSync(join(tmpdir(), 'l3fwd-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function routesFile(text: string): string {
  const name = `routes-${fileNo++}.txt`;
  writeFileSync(join(dir, name), text);
  return name;
}
const MAIN = routesFile(ROUTES);

function opts(extra: Record<string, unknown> = {}, more: Partial<RunNFOptions> = {}): RunNFOptions {
  return { options: { routes: MAIN, interval: 0, ...extra }, ports: PORTS, baseDir: dir, ...more };
}

function v4(dst: string, more: Partial<PacketSpec> = {}, ttl = 64) {
  return buildPacket({
    eth: { src: '02:00:00:00:aa:aa', dst: PORTS[0]!.mac },
    l3: { kind: 'ipv4', src: '10.0.1.7', dst, ttl },
    l4: { kind: 'udp', sport: 1000, dport: 53, payload: new Uint8Array([1, 2, 3, 4]) },
    ...more,
  });
}
function v6(dst: string, hopLimit = 64) {
  return buildPacket({
    eth: { src: '02:00:00:00:aa:aa', dst: PORTS[0]!.mac },
    l3: { kind: 'ipv6', src: 'fd00:1::7', dst, hopLimit },
    l4: { kind: 'tcp', sport: 1000, dport: 80, payload: new Uint8Array([9, 9]) },
  });
}
const macAt = (bytes: Uint8Array, at: number): string =>
  Array.from(bytes.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

test('IPv4: routed by longest prefix, TTL - 1, checksums right, MACs rewritten, out of the route port', async () => {
  const cases = [
    { dst: '10.0.2.5', port: 0, mac: '02:00:00:00:01:fe' }, // via 10.0.1.254
    { dst: '10.0.2.200', port: 2, mac: '02:00:00:00:00:00' }, // /25 via 10.0.3.254: no neighbor → default-mac
    { dst: '10.0.1.7', port: 0, mac: '02:00:00:00:01:07' }, // connected, neighbor from ip neigh format
    { dst: '8.8.8.8', port: 1, mac: '02:00:00:00:02:01' }, // default
  ];
  const pkts = cases.map((c) => v4(c.dst));
  const r = await runNF(
    l3fwd,
    pkts.map((p) => p.bytes),
    opts({ 'default-mac': '02:00:00:00:00:00' }),
  );
  assert.deepEqual(
    r.verdicts,
    cases.map((c) => out(c.port)),
  );
  cases.forEach((c, i) => {
    const got = r.outputs[i]!.bytes;
    const b = pkts[i]!;
    assert.equal(macAt(got, 0), c.mac, `${c.dst}: destination MAC`);
    assert.equal(macAt(got, 6), PORTS[c.port]!.mac, `${c.dst}: source MAC is the egress port's`);
    assert.equal(got[b.l3Offset + 8], 63, 'TTL decremented');
    assert.equal((got[b.l3Offset + 10]! << 8) | got[b.l3Offset + 11]!, refIpv4HeaderChecksum(got, b.l3Offset));
    assert.equal(storedL4Checksum(got, b), refL4Checksum(got, b), 'UDP checksum untouched and right');
    assert.deepEqual(
      got.subarray(12),
      (() => {
        const want = b.bytes.slice(12);
        want[b.l3Offset - 12 + 8] = 63;
        want[b.l3Offset - 12 + 10] = got[b.l3Offset + 10]!;
        want[b.l3Offset - 12 + 11] = got[b.l3Offset + 11]!;
        return want;
      })(),
      'nothing else changed',
    );
  });
  const s = r.instance.stats();
  assert.equal(s.forwarded4, 4);
  assert.deepEqual(s.perPort.slice(0, 3), [2, 1, 1]);
});

test('IPv4 drops: TTL 1 and 0, no route, blackhole, gateway or host without a MAC (no default-mac)', async () => {
  const noDefault = routesFile('10.0.0.0/8 via 10.0.1.254 dev lan\n10.0.1.0/24 dev lan\nblackhole 10.99.0.0/16\n');
  const pkts = [
    v4('10.0.1.5', {}, 1),
    v4('10.0.1.5', {}, 0),
    v4('10.99.1.1'),
    v4('10.5.5.5'), // via 10.0.1.254: no neighbor line here
    v4('10.0.1.5'), // connected, no neighbor
    v4('11.0.0.1'), // no route
  ];
  const r = await runNF(
    l3fwd,
    pkts.map((p) => p.bytes),
    opts({ routes: noDefault }),
  );
  assert.deepEqual(
    r.verdicts,
    pkts.map(() => DROP),
  );
  const s = r.instance.stats();
  assert.equal(s.ttlExpired, 2);
  assert.equal(s.blackhole, 1);
  assert.equal(s.noNeighbor, 2);
  assert.equal(s.noRoute, 1);
  assert.equal(s.forwarded4, 0);
  // The declared counters and gauges, as stats, /metrics and the console show them.
  assert.deepEqual(r.metrics, {
    forwarded4: 0,
    forwarded6: 0,
    noRoute: 1,
    ttlExpired: 2,
    noNeighbor: 2,
    blackhole: 1,
    nonIp: 0,
    truncated: 0,
    badVersion: 0,
    badHeaderLength: 0,
    badLength: 0,
    badChecksum: 0,
    routes4: 3,
    routes6: 0,
  });
  assert.ok(
    r.logs.some((l) => /gateway 10\.0\.1\.254 \(line 1\) has no neighbor line/.test(l)),
    r.logs.join('\n'),
  );
});

test('malformed IPv4 is dropped and counted by reason; checksum checked only with verify-checksum', async () => {
  const good = v4('10.0.2.5');
  const mk = (f: (b: Uint8Array) => void, bytes = good.bytes): Uint8Array => {
    const c = bytes.slice();
    f(c);
    return c;
  };
  const L3 = 14;
  const pkts = [
    good.bytes.slice(0, L3 + 10), // header cut short
    mk((b) => (b[L3] = 0x55)), // version 5
    mk((b) => (b[L3] = 0x44)), // IHL 4
    mk((b) => (b[L3] = 0x4f)), // IHL 15: 60 bytes, beyond the frame
    mk((b) => new DataView(b.buffer).setUint16(L3 + 2, 1500)), // total 1500 > frame
    mk((b) => new DataView(b.buffer).setUint16(L3 + 2, 10)), // total < header
    mk((b) => (b[L3 + 10]! ^= 0xff)), // bad checksum
    new Uint8Array(10), // not even Ethernet
    buildPacket({
      l3: {
        kind: 'arp',
        op: 1,
        senderMac: '02:00:00:00:00:09',
        senderIp: '10.0.1.9',
        targetMac: '00:00:00:00:00:00',
        targetIp: '10.0.1.1',
      },
    }).bytes,
  ];
  const r1 = await runNF(l3fwd, pkts, opts());
  assert.deepEqual(r1.verdicts, [DROP, DROP, DROP, DROP, DROP, DROP, out(0), DROP, DROP]);
  assert.deepEqual(r1.instance.stats().malformed, {
    truncated: 2,
    badVersion: 1,
    badHeaderLength: 1,
    badLength: 2,
    badChecksum: 0,
  });
  assert.equal(r1.instance.stats().nonIp, 2);
  assert.deepEqual(
    [r1.metrics.truncated, r1.metrics.badVersion, r1.metrics.badHeaderLength, r1.metrics.badLength],
    [2, 1, 1, 2],
  );
  assert.deepEqual([r1.metrics.forwarded4, r1.metrics.nonIp, r1.metrics.badChecksum], [1, 2, 0]);
  const r2 = await runNF(l3fwd, pkts, opts({ 'verify-checksum': true, 'non-ip': 'next' }));
  assert.deepEqual(r2.verdicts, [DROP, DROP, DROP, DROP, DROP, DROP, DROP, NEXT, NEXT]);
  assert.equal(r2.instance.stats().malformed.badChecksum, 1);
  assert.equal(r2.metrics.badChecksum, 1);
  // A good packet passes verify-checksum.
  const r3 = await runNF(l3fwd, [good.bytes], opts({ 'verify-checksum': true }));
  assert.deepEqual(r3.verdicts, [out(0)]);
});

test('a VLAN-tagged IPv4 packet is routed too (the tag is kept)', async () => {
  const p = v4('10.0.2.5', { eth: { src: '02:00:00:00:aa:aa', dst: PORTS[0]!.mac, vlans: [{ id: 12 }] } });
  const r = await runNF(l3fwd, [p.bytes], opts());
  assert.deepEqual(r.verdicts, [out(0)]);
  const got = r.outputs[0]!.bytes;
  assert.equal(got[p.l3Offset + 8], 63);
  assert.equal((got[p.l3Offset + 10]! << 8) | got[p.l3Offset + 11]!, refIpv4HeaderChecksum(got, p.l3Offset));
  assert.equal(macAt(got, 0), '02:00:00:00:01:fe');
  assert.equal((got[12]! << 8) | got[13]!, 0x8100);
});

test('IPv6: longest prefix, hop limit - 1, TCP checksum still right; hop limit 1 and truncation dropped', async () => {
  const pkts = [v6('fd00:2:0:1::5'), v6('fd00:1::7'), v6('2001:db8::1'), v6('fd00:1::8'), v6('fd00:1::7', 1)];
  const cut = pkts[0]!.bytes.slice(0, 14 + 30);
  const longer = pkts[0]!.bytes.slice();
  longer[14 + 4] = 0x7f; // payload length beyond the frame
  const r = await runNF(l3fwd, [...pkts.map((p) => p.bytes), cut, longer], opts());
  assert.deepEqual(r.verdicts, [out(0), out(0), DROP, DROP, DROP, DROP, DROP]);
  const want = ['02:00:00:00:06:fe', '02:00:00:00:06:07'];
  for (let i = 0; i < 2; i++) {
    const got = r.outputs[i]!.bytes;
    assert.equal(macAt(got, 0), want[i]);
    assert.equal(macAt(got, 6), PORTS[0]!.mac);
    assert.equal(got[14 + 7], 63);
    assert.equal(storedL4Checksum(got, pkts[i]!), refL4Checksum(got, pkts[i]!));
  }
  const s = r.instance.stats();
  assert.equal(s.forwarded6, 2);
  assert.equal(s.noNeighbor, 2, '::/0 via fd00:9::1 (no neighbor) and fd00:1::8 (connected, no neighbor)');
  assert.equal(s.ttlExpired, 1);
  assert.equal(s.malformed.truncated, 1);
  assert.equal(s.malformed.badLength, 1);
  // With default-mac the unknown ones go too.
  const r2 = await runNF(l3fwd, [pkts[2]!.bytes, pkts[3]!.bytes], opts({ 'default-mac': '02:00:00:00:00:0f' }));
  assert.deepEqual(r2.verdicts, [out(1), out(0)]);
  assert.equal(macAt(r2.outputs[1]!.bytes, 0), '02:00:00:00:00:0f');
});

test('reports every interval seconds and at stop; quiet with interval 0', async () => {
  const r = await runNF(l3fwd, [v4('10.0.2.5').bytes, v4('10.99.1.1').bytes], opts({ interval: 2 }, { ticks: 4 }));
  const reports = r.logs.filter((l) => /forwarded/.test(l));
  assert.equal(reports.length, 3, r.logs.join('\n'));
  assert.match(reports[0]!, /^l3fwd: 2\.0 s: 1 forwarded \(1 IPv4, 0 IPv6\), 0 no route, .* 1 blackholed/);
  assert.match(reports[1]!, /^l3fwd: 2\.0 s: 0 forwarded/);
  assert.match(reports[2]!, /^l3fwd: in all: 1 forwarded/);
  assert.match(r.logs[0]!, /l3fwd: 6 IPv4 routes .*, 3 IPv6 routes, 5 neighbors/);
  assert.match(r.logs[0]!, /\(1 line skipped\)/);
  const q = await runNF(l3fwd, [v4('10.0.2.5').bytes], opts({ interval: 0 }, { ticks: 3 }));
  assert.deepEqual(
    q.logs.filter((l) => !/has no neighbor line/.test(l)),
    [],
    'only the warnings about the file',
  );
});

test('option errors name the option (and for the file: the file, the line and the fix)', async () => {
  const fails = async (o: Record<string, unknown>, re: RegExp): Promise<void> => {
    await assert.rejects(runNF(l3fwd, [], opts(o)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, re);
      return true;
    });
  };
  await fails({ routes: '' }, /option "routes" is missing/);
  await fails({ routes: 'nope.txt' }, /option "routes": .*nope\.txt: cannot read it \(ENOENT\)/);
  await fails({ 'default-mac': 'zz' }, /option "default-mac": "zz" is not a MAC address/);
  await fails({ 'non-ip': 'maybe' }, /option "non-ip" must be one of drop, next/);
  await fails({ interval: -1 }, /option "interval" must be at least 0/);
  await fails({ 'verify-checksum': 'perhaps' }, /option "verify-checksum" must be true or false/);
  const f = (text: string) => routesFile(text);
  await fails(
    { routes: f('10.0.0.0/8 via 10.0.0.1 dev lna\n') },
    /routes-\d+\.txt:1: dev "lna" is not an nfchain port; did you mean "lan"\?/,
  );
  await fails(
    { routes: f('# ok\n10.0.0.1/8 dev lan\n') },
    /:2: "10\.0\.0\.1\/8" has host bits set\n {2}fix: write the network: 10\.0\.0\.0\/8/,
  );
  await fails({ routes: f('10.0.0.0/33 dev lan\n') }, /:1: "10\.0\.0\.0\/33": the prefix length must be 0\.\.32/);
  await fails(
    { routes: f('10.0.0.0/8 dev lan\n10.0.0.0/8 via 10.0.1.1 dev lan\n') },
    /:2: 10\.0\.0\.0\/8 is routed already, on line 1/,
  );
  await fails({ routes: f('10.0.0.0/8 via fd00::1 dev lan\n') }, /:1: an IPv4 prefix via an IPv6 gateway/);
  await fails({ routes: f('10.0.0.0/8 via 10.0.0.1\n') }, /:1: the route has no "dev PORT"/);
  await fails({ routes: f('10.0.0.0/8 dev lan frobnicate 3\n') }, /:1: unknown word "frobnicate"/);
  await fails({ routes: f('neighbor 10.0.0.1 lladdr 02:00 dev lan\n') }, /:1: "02:00" is not a MAC address/);
  await fails(
    { routes: f('default proto static\n\tnexthop via 10.0.0.1 dev lan weight 1\n') },
    /:2: a multipath route/,
  );
  // Several problems at once, each with its line.
  await fails(
    { routes: f('bogus/8 dev lan\n10.0.0.0/8 dev nope\n') },
    /2 problems in the routes file:\n.*:1: "bogus\/8" is not a prefix[\s\S]*:2: dev "nope"/,
  );
});

test('routes file: metrics pick the lower, ignore-unknown-dev skips, ip route show extras are skipped', async () => {
  const text = [
    '10.0.0.0/8 via 10.0.1.1 dev lan metric 200',
    '10.0.0.0/8 via 10.0.2.1 dev wan metric 100',
    '10.0.0.0/8 via 10.0.3.1 dev dmz metric 300',
    'local 10.0.1.1 dev lan table local proto kernel scope host src 10.0.1.1',
    'broadcast 10.0.1.255 dev lan table local proto kernel scope link src 10.0.1.1',
    '172.16.0.0/12 dev docker0 proto kernel scope link src 172.17.0.1 linkdown',
    'unreachable 192.168.99.0/24',
    'fe80::/64 dev lan proto kernel metric 256 pref medium',
    'default via fe80::1 dev wan proto ra metric 1024 expires 1799sec hoplimit 64 pref medium',
  ].join('\n');
  const ports = PORTS.map((p, id) => ({ id, name: p.name }));
  assert.throws(
    () => parseRoutesText(text, 'r.txt', { who: 'l3fwd', option: 'routes', ports }),
    /r\.txt:6: dev "docker0"/,
  );
  const f = parseRoutesText(text, 'r.txt', { who: 'l3fwd', option: 'routes', ports, ignoreUnknownDev: true });
  assert.equal(f.skipped, 3);
  assert.equal(f.routes.length, 4);
  const r8 = f.routes.find((r) => r.length === 8)!;
  assert.equal(r8.port, 1, 'metric 100 wins');
  assert.equal(r8.via![0], (10 << 24) | (2 << 8) | 1);
  assert.equal(f.routes.find((r) => r.length === 24)!.kind, 'blackhole');
  const d6 = f.routes.find((r) => r.family === 6 && r.length === 0)!;
  assert.equal(d6.port, 1, 'default via an IPv6 gateway is ::/0');
});

test('the instance keeps its own state: two runs do not share counters', async () => {
  const a = await runNF(l3fwd, [v4('10.0.2.5').bytes], opts());
  const b = await runNF(l3fwd, [v4('10.0.2.5').bytes, v4('10.0.2.6').bytes], opts());
  assert.equal(a.instance.stats().forwarded4, 1);
  assert.equal(b.instance.stats().forwarded4, 2);
  assert.equal(macBytes(PORTS[0]!.mac).length, 6);
});
