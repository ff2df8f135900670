/**
 * Tests of the firewall: first match against a slow reference over thousands of seeded random
 * rules and packets (IPv4, IPv6, VLAN-tagged, cache on and off), verdicts of every action,
 * counters, non-IP and malformed packets, reload (good and bad files), option and file errors,
 * the report.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, NEXT, NfcError, openNF, out, runNF, toNF } from 'nfchain';
import firewall from './index.js';
import { type GenRule, prng, randomIpv4, randomIpv6, randomPort, randomRules, rulesJson } from './gen.js';
import { buildPacket, ipv4Bytes, ipv6Bytes, type L4Spec } from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-firewall-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

// ---------------------------------------------------------------------------------------------
// The slow reference: first match over the rules as written, addresses compared bit by bit.

interface Pkt {
  v6: boolean;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
}
const bits = (text: string): string =>
  (text.includes(':') ? ipv6Bytes(text) : ipv4Bytes(text)).map((b) => b.toString(2).padStart(8, '0')).join('');
function prefixMatch(prefix: string | undefined, addr: string): boolean {
  if (prefix === undefined) return true;
  const [a, l] = prefix.split('/');
  if (a!.includes(':') !== addr.includes(':')) return false;
  const len = l === undefined ? (a!.includes(':') ? 128 : 32) : Number(l);
  return bits(a!).slice(0, len) === bits(addr).slice(0, len);
}
function inRange(spec: number | string | undefined, port: number): boolean {
  if (spec === undefined) return true;
  const [lo, hi] = String(spec).split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo)!;
}
const PROTOS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 };
function verdictOf(action: string): number {
  if (action === 'accept') return NEXT;
  if (action === 'drop') return DROP;
  const [k, n] = action.split(':');
  return k === 'out' ? out(Number(n)) : toNF(Number(n));
}
function reference(rules: GenRule[], dflt: string, p: Pkt): number {
  for (const r of rules) {
    if (r.proto !== undefined && PROTOS[String(r.proto)] !== p.proto) continue;
    if (!prefixMatch(r.src, p.src) || !prefixMatch(r.dst, p.dst)) continue;
    if (!inRange(r.sport, p.sport) || !inRange(r.dport, p.dport)) continue;
    return verdictOf(r.action);
  }
  return verdictOf(dflt);
}

function randomPacket(rnd: () => number): { p: Pkt; bytes: Uint8Array } {
  const v6 = rnd() < 0.25;
  const src = v6 ? randomIpv6(rnd) : randomIpv4(rnd);
  const dst = v6 ? randomIpv6(rnd) : randomIpv4(rnd);
  const x = rnd();
  const proto = x < 0.45 ? 6 : x < 0.9 ? 17 : v6 ? 58 : 1;
  const sport = proto === 6 || proto === 17 ? 1024 + Math.floor(rnd() * 60000) : 0;
  const dport = proto === 6 || proto === 17 ? randomPort(rnd) : 0;
  const l4: L4Spec =
    proto === 6
      ? { kind: 'tcp', sport, dport }
      : proto === 17
        ? { kind: 'udp', sport, dport }
        : { kind: v6 ? 'icmp6' : 'icmp', type: v6 ? 128 : 8, code: 0 };
  const vlan = rnd() < 0.1;
  const bytes = buildPacket({
    ...(vlan ? { eth: { vlans: [{ id: 7 }] } } : {}),
    l3: { kind: v6 ? 'ipv6' : 'ipv4', src, dst },
    l4,
  }).bytes;
  return { p: { v6, src, dst, proto, sport, dport }, bytes };
}

for (const cache of [65536, 64, 0]) {
  test(`first match agrees with the reference: 2000 random rules, 4000 packets, cache ${cache}`, async () => {
    const rules = randomRules(42, 2000, 0.05);
    const path = file(`random-${cache}.json`, rulesJson(rules, 'service:3'));
    const rnd = prng(4242);
    const pkts = Array.from({ length: 2000 }, () => randomPacket(rnd));
    // Every packet twice: the second time from the cache.
    const all = [...pkts, ...pkts];
    const r = await runNF(
      firewall,
      all.map((x) => x.bytes),
      { options: { rules: path, cache, interval: 0 } },
    );
    let matched = 0;
    all.forEach((x, i) => {
      const want = reference(rules, 'service:3', x.p);
      if (want !== toNF(3)) matched++;
      assert.equal(r.verdicts[i], want, `packet ${i} ${JSON.stringify(x.p)}`);
    });
    assert.ok(matched > all.length / 4, `the workload exercises the rules (${matched} matched)`);
    const s = r.instance.stats();
    const counted = s.rules.reduce((t, x) => t + x.packets, s.default.packets);
    assert.equal(counted, all.length);
    // Untagged IPv4 packets (about two thirds) are cached; VLAN-tagged and IPv6 ones are not.
    if (cache === 65536) assert.ok(s.cacheHits >= 1200 && s.uncached >= 1000, `cache hits ${s.cacheHits}`);
    if (cache === 0) assert.equal(s.cacheHits, 0);
  });
}

test('actions, default, per-rule counters of packets and bytes', async () => {
  const path = file(
    'actions.yaml',
    `default: out:2
rules:
  - { name: ssh, src: 10.0.0.0/8, proto: tcp, dport: 22, action: accept }
  - { name: dns6, dst: "2001:db8::/32", proto: udp, dport: 53-54, action: drop }
  - { name: web, proto: tcp, dport: 80, sport: 1024-65535, action: "service:4" }
  - { name: ping, proto: icmp, action: "out:1" }
  - { name: gre, proto: 47, action: drop }
`,
  );
  const mk = (l3: { kind: 'ipv4' | 'ipv6'; src: string; dst: string }, l4: L4Spec) => buildPacket({ l3, l4 }).bytes;
  const v4 = (src: string, dst: string) => ({ kind: 'ipv4' as const, src, dst });
  const pkts = [
    mk(v4('10.1.2.3', '192.168.0.1'), { kind: 'tcp', sport: 5000, dport: 22 }), // ssh
    mk(v4('11.1.2.3', '192.168.0.1'), { kind: 'tcp', sport: 5000, dport: 22 }), // default
    mk({ kind: 'ipv6', src: 'fd00::1', dst: '2001:db8::53' }, { kind: 'udp', sport: 999, dport: 54 }), // dns6
    mk(v4('1.1.1.1', '2.2.2.2'), { kind: 'tcp', sport: 2000, dport: 80 }), // web
    mk(v4('1.1.1.1', '2.2.2.2'), { kind: 'tcp', sport: 80, dport: 80 }), // sport out of range: default
    mk(v4('1.1.1.1', '2.2.2.2'), { kind: 'icmp', type: 8, code: 0 }), // ping
    mk(v4('1.1.1.1', '2.2.2.2'), { kind: 'raw', proto: 47, payload: new Uint8Array(8) }), // gre
  ];
  const r = await runNF(firewall, pkts, { options: { rules: path, interval: 0 } });
  assert.deepEqual(r.verdicts, [NEXT, out(2), DROP, toNF(4), out(2), out(1), DROP]);
  const s = r.instance.stats();
  assert.deepEqual(
    s.rules.map((x) => [x.name, x.packets, x.bytes]),
    [
      ['ssh', 1, pkts[0]!.length],
      ['dns6', 1, pkts[2]!.length],
      ['web', 1, pkts[3]!.length],
      ['ping', 1, pkts[5]!.length],
      ['gre', 1, pkts[6]!.length],
    ],
  );
  assert.deepEqual(s.default, { action: 'out:2', packets: 2, bytes: pkts[1]!.length + pkts[4]!.length });
  // The declared counters and gauges (what stats, /metrics and the console show): by verdict,
  // the 6 untagged IPv4 packets (distinct flows) missed the cache and filled it, the IPv6 one
  // was classified uncached.
  assert.deepEqual(r.metrics, {
    accepted: 1,
    dropped: 2,
    redirected: 4,
    defaulted: 2,
    nonIp: 0,
    cacheHits: 0,
    cacheMisses: 6,
    uncached: 1,
    reloads: 0,
    reloadErrors: 0,
    rules: 5,
    cachedFlows: 6,
  });
});

test('non-IP and malformed packets take non-ip; fragments are matched with ports 0', async () => {
  const path = file(
    'frag.yaml',
    'default: accept\nrules:\n  - { proto: udp, dport: 0, action: drop }\n  - { proto: udp, dport: 53, action: "out:1" }\n',
  );
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
  const good = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'udp', sport: 9, dport: 53 },
  }).bytes;
  const truncated = good.slice(0, 24); // Ethernet + 10 bytes of IPv4
  const badIhl = good.slice();
  badIhl[14] = 0x43; // IHL 3
  const laterFrag = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', fragOffset: 10 },
    l4: { kind: 'raw', proto: 17, payload: new Uint8Array(16) },
  }).bytes;
  const pkts = [arp, truncated, badIhl, laterFrag, good];
  const a = await runNF(firewall, pkts, { options: { rules: path, interval: 0 } });
  assert.deepEqual(a.verdicts, [NEXT, NEXT, NEXT, DROP, out(1)]);
  assert.equal(a.instance.stats().nonIp, 3);
  assert.deepEqual([a.metrics.nonIp, a.metrics.accepted, a.metrics.dropped, a.metrics.redirected], [3, 3, 1, 1]);
  const d = await runNF(firewall, pkts, { options: { rules: path, interval: 0, 'non-ip': 'drop' } });
  assert.deepEqual(d.verdicts, [DROP, DROP, DROP, DROP, out(1)]);
  assert.deepEqual([d.metrics.nonIp, d.metrics.accepted, d.metrics.dropped], [3, 0, 4]);
});

test('reload on a message: new rules at once, bad file keeps the old ones, unchanged counters carry over', async () => {
  const path = file(
    'reload.yaml',
    'rules:\n  - { name: keep, proto: udp, dport: 53, action: accept }\n  - { name: web, proto: tcp, dport: 80, action: drop }\n',
  );
  const dns = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'udp', sport: 9, dport: 53 },
  }).bytes;
  const web = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'tcp', sport: 9, dport: 80 },
  }).bytes;
  const s = await openNF(firewall, { options: { rules: path, interval: 0 } });
  s.push([dns, web, web]);
  assert.deepEqual(s.verdicts, [NEXT, DROP, DROP]);
  writeFileSync(
    path,
    'default: accept\nrules:\n  - { name: web, proto: tcp, dport: 80, action: "out:3" }\n  - { name: keep, proto: udp, dport: 53, action: accept }\n',
  );
  s.message({ reload: true });
  s.push([web, dns]);
  assert.deepEqual(s.verdicts.slice(3), [out(3), NEXT], 'the cached verdicts are gone');
  let st = s.instance.stats();
  assert.equal(st.reloads, 1);
  assert.deepEqual(
    st.rules.map((x) => [x.name, x.packets]),
    [
      ['web', 1],
      ['keep', 2],
    ],
    'keep (unchanged) carried over; web changed its action: from 0',
  );
  writeFileSync(path, 'rules:\n  - { proto: tcp, dport: 80, action: "out:9" }\n');
  s.message({ reload: true });
  assert.match(
    s.logs.join('\n'),
    /reload failed, keeping the 2 rules in force: .*rules\[0\]\.action: "out:9" is not an action/s,
  );
  s.push([web]);
  assert.equal(s.verdicts[5], out(3), 'old rules still in force');
  st = s.instance.stats();
  assert.equal(st.reloadErrors, 1);
  s.message({ hello: 1 });
  assert.match(s.logs.at(-1)!, /unknown message/);
  const end = await s.stop();
  // dns, web, web (drop), then after the reload web (out:3), dns, then web again (cached)
  assert.deepEqual(
    [end.metrics.reloads, end.metrics.reloadErrors, end.metrics.rules, end.metrics.accepted, end.metrics.dropped],
    [1, 1, 2, 2, 2],
  );
  assert.deepEqual([end.metrics.redirected, end.metrics.cacheHits, end.metrics.cacheMisses], [2, 2, 4]);
  assert.equal(end.metrics.cachedFlows, 2, 'the reload emptied the cache; web and dns filled it again');
});

test('the declared counters by action never go back when a reload changes the default', async () => {
  const path = file('default-change.yaml', 'default: drop\nrules:\n  - { proto: tcp, dport: 22, action: accept }\n');
  const ssh = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'tcp', sport: 9, dport: 22 },
  }).bytes;
  const dns = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'udp', sport: 9, dport: 53 },
  }).bytes;
  const s = await openNF(firewall, { options: { rules: path, interval: 0 } });
  const value = (name: string): number => s.ctx.counter(name).value;
  s.push([ssh, dns, dns, dns]);
  s.tick(1); // the sums by action are published every tick
  assert.deepEqual([value('accepted'), value('dropped'), value('defaulted')], [1, 3, 3]);
  // The default's 3 packets carry over to the new default, now accept: dropped stays at 3.
  writeFileSync(path, 'default: accept\nrules:\n  - { proto: tcp, dport: 22, action: accept }\n');
  s.message({ reload: true });
  s.push([dns, ssh]);
  s.tick(1);
  assert.deepEqual([value('accepted'), value('dropped'), value('defaulted')], [3, 3, 4]);
  const r = await s.stop();
  assert.deepEqual([r.metrics.accepted, r.metrics.dropped, r.metrics.redirected, r.metrics.reloads], [3, 3, 0, 1]);
});

test('report every interval and at stop', async () => {
  const path = file('report.yaml', 'rules:\n  - { name: dns, proto: udp, dport: 53, action: accept }\n');
  const dns = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'udp', sport: 9, dport: 53 },
  }).bytes;
  const r = await runNF(firewall, [dns, dns], { options: { rules: path, interval: 1 }, ticks: 10 });
  const logs = r.logs.join('\n');
  assert.match(logs, /1 rule from .*report\.yaml, default drop/);
  assert.match(logs, /firewall: 2 packets \(0 non-IP\), 1 rules; cache 1 flows, 50\.0% hits/);
  assert.match(logs, /dns \(accept\): 2 pkts/);
  assert.equal(r.logs.filter((l) => l.startsWith('firewall: 2 packets')).length, 2, 'one at the tick, one at stop');
});

async function rejects(options: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    () => runNF(firewall, [], { options: { interval: 0, ...options } }),
    (e: unknown) => {
      assert.ok(e instanceof NfcError, String(e));
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('option errors name the option', async () => {
  await rejects({}, /option "rules" is missing/);
  await rejects({ rules: join(dir, 'nope.yaml') }, /nope\.yaml: cannot read the firewall rules/);
  const ok = file('ok.yaml', 'rules: []\n');
  await rejects({ rules: ok, cache: -1 }, /option "cache" must be at least 0/);
  await rejects({ rules: ok, cache: 1.5 }, /option "cache" must be an integer/);
  await rejects({ rules: ok, 'non-ip': 'maybe' }, /option "non-ip" must be one of accept, drop/);
  await rejects({ rules: ok, interval: -1 }, /option "interval" must be at least 0/);
});

test('rules file errors name the file, line, field and fix', async () => {
  const bad = file(
    'bad.yaml',
    `default: reject
rules:
  - { src: 10.0.0.300/8, action: accept }
  - { proto: icmp, dport: 22, action: accept }
  - { proto: tcp, dport: 70000, action: accept }
  - { src: 10.0.0.0/8, dst: "2001:db8::/32", action: accept }
  - { proto: tcpx, action: accept }
  - { proto: tcp, action: "service:0" }
`,
  );
  await rejects({ rules: bad }, /bad\.yaml: 7 problems in the firewall rules/);
  await rejects({ rules: bad }, /bad\.yaml:1: default: "reject" is not an action/);
  await rejects({ rules: bad }, /bad\.yaml:3: rules\[0\]\.src: "10\.0\.0\.300\/8" is not an IPv4 address/);
  await rejects({ rules: bad }, /bad\.yaml:4: rules\[1\]\.dport: a port needs proto tcp or udp/);
  await rejects({ rules: bad }, /bad\.yaml:5: rules\[2\]\.dport: "70000" is not a port/);
  await rejects({ rules: bad }, /rules\[3\]\.dst: "2001:db8::\/32" is IPv6 but src is IPv4/);
  await rejects({ rules: bad }, /rules\[4\]\.proto: "tcpx" is not a protocol/);
  await rejects({ rules: bad }, /rules\[5\]\.action: "service:0" is not an action/);
  await rejects({ rules: file('key.yaml', 'rules:\n  - { dprot: 22, action: accept }\n') }, /key\.yaml:2: .*dprot/);
  await rejects({ rules: file('empty.yaml', '') }, /empty\.yaml: the file is empty/);
});
