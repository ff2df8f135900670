/**
 * Tests of nf-router with runNF: host routes and prefixes (longest wins), IPv4 and IPv6, the
 * default verdict for no route and non-IP packets, OpenNetVM's count line, counters, reports,
 * and errors naming the file and line.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, NEXT, NfcError, runNF, toNF } from 'nfchain';
import router, { parseRoutes, RouteTable } from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-nf-router-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const ROUTES = file(
  'routes.conf',
  `# destination   service
10.0.0.0/8       3
10.1.0.0/16      4
10.1.2.3         5    # a host
0.0.0.0/0        9
fd00::/16        6
fd00:1::/32      7
fd00:1::99       8
`,
);
const v4 = (dst: string) =>
  buildPacket({ l3: { kind: 'ipv4', src: '192.0.2.1', dst }, l4: { kind: 'udp', sport: 1, dport: 2 } }).bytes;
const v6 = (dst: string) =>
  buildPacket({ l3: { kind: 'ipv6', src: 'fd99::1', dst }, l4: { kind: 'tcp', sport: 1, dport: 2 } }).bytes;
const opts = (extra: Record<string, unknown> = {}) => ({ baseDir: dir, options: { config: ROUTES, ...extra } });

test('IPv4: the longest prefix wins; 0.0.0.0/0 catches the rest', async () => {
  const r = await runNF(
    router,
    [v4('10.1.2.3'), v4('10.1.2.4'), v4('10.200.0.1'), v4('172.16.0.1'), v4('255.255.255.255')],
    opts(),
  );
  assert.deepEqual(r.verdicts, [toNF(5), toNF(4), toNF(3), toNF(9), toNF(9)]);
  assert.equal(r.instance.counters.routed, 5);
  assert.equal(r.instance.counters.perService[9], 2);
  assert.deepEqual(r.metrics, { routed: 5, noRoute: 0, notIp: 0, routes: 7 }, 'the declared counters; 7 routes');
});

test('IPv6: the longest prefix wins; no route: default', async () => {
  const r = await runNF(router, [v6('fd00:1::99'), v6('fd00:1::98'), v6('fd00:2::1'), v6('2001:db8::1')], opts());
  assert.deepEqual(r.verdicts, [toNF(8), toNF(7), toNF(6), NEXT]);
  assert.equal(r.instance.counters.noRoute, 1);
  assert.deepEqual([r.metrics.routed, r.metrics.noRoute], [3, 1]);
});

test('no route and non-IP: the default verdict (next, or drop), counted; packets unchanged', async () => {
  const hosts = file('hosts.conf', '10.0.0.1 2\n');
  const arp = buildPacket({
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.0.0.9',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.1',
    },
  }).bytes;
  const runt = new Uint8Array(20);
  const bad = v4('10.0.0.1');
  bad[14] = 0x43; // IHL 3: not a valid IPv4 header
  const pkts = [v4('10.0.0.1'), v4('10.0.0.2'), arp, runt, bad];
  const r = await runNF(router, pkts, { baseDir: dir, options: { config: hosts } });
  assert.deepEqual(r.verdicts, [toNF(2), NEXT, NEXT, NEXT, NEXT]);
  assert.deepEqual(
    { routed: r.instance.counters.routed, noRoute: r.instance.counters.noRoute, notIp: r.instance.counters.notIp },
    { routed: 1, noRoute: 1, notIp: 3 },
  );
  for (let i = 0; i < pkts.length; i++) assert.deepEqual(r.outputs[i]!.bytes, pkts[i]);
  const d = await runNF(router, pkts, { baseDir: dir, options: { config: hosts, default: 'drop' } });
  assert.deepEqual(d.verdicts, [toNF(2), DROP, DROP, DROP, DROP]);
});

test("OpenNetVM's format: a first line with the count", async () => {
  const onvm = file('onvm.conf', '2\n10.0.0.1 1\n10.0.0.2 2\n');
  const r = await runNF(router, [v4('10.0.0.2')], { baseDir: dir, options: { config: onvm } });
  assert.deepEqual(r.verdicts, [toNF(2)]);
});

test('a larger table: every route found, against a linear longest-prefix search', () => {
  const lines: string[] = [];
  for (let i = 0; i < 500; i++) lines.push(`10.${i & 255}.${(i * 7) & 255}.0/24 ${1 + (i % 31)}`);
  for (let i = 0; i < 100; i++) lines.push(`10.${i}.0.0/16 ${1 + ((i * 3) % 31)}`);
  for (let i = 0; i < 50; i++) lines.push(`10.${i}.${(i * 7) & 255}.${i} ${1 + ((i * 5) % 31)}`);
  const seen = new Set<string>();
  const unique = lines.filter((l) => {
    const d = l.split(' ')[0]!;
    if (seen.has(d)) return false;
    seen.add(d);
    return true;
  });
  const routes = parseRoutes(unique.join('\n'), 'gen.conf');
  const t = new RouteTable(routes);
  const slow = (a: number) => {
    let best = -1;
    let verdict = -1;
    for (const r of routes) {
      const m = r.length === 0 ? 0 : (0xffffffff << (32 - r.length)) >>> 0;
      if ((a & m) >>> 0 === r.words[0] && r.length > best) {
        best = r.length;
        verdict = toNF(r.service);
      }
    }
    return verdict;
  };
  for (let i = 0; i < 5000; i++) {
    const a = (((10 << 24) | ((i * 40503) & 0xffffff)) >>> 0) ^ (i % 7 === 0 ? 0x01000000 : 0);
    assert.equal(t.lookup4(a), slow(a), `address ${a}`);
  }
});

test('interval: a line at start, per interval, and at stop', async () => {
  const r = await runNF(router, [v4('10.1.2.3'), v6('2001:db8::1')], { ...opts({ interval: 1 }), ticks: 1 });
  assert.deepEqual(r.logs, [
    'nf-router: 4 IPv4 and 3 IPv6 routes from routes.conf',
    'nf-router: last 1 s: 1 routed; in all 1 routed, 1 no route, 0 not IP; per service 5: 1',
    'nf-router: in all 1 routed, 1 no route, 0 not IP; per service 5: 1',
  ]);
});

test('file errors name the file and line, every problem at once', async () => {
  const broken = file(
    'broken.conf',
    `10.0.0.0/8 3
10.0.0.300 2
10.0.0.1/8 2
10.0.0.0/33 2
10.2.0.0/16 32
10.0.0.0/8 4
fd00::/16
`,
  );
  await assert.rejects(runNF(router, [], { baseDir: dir, options: { config: broken } }), (e: unknown) => {
    assert.ok(e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION');
    const m = e.message;
    assert.match(m, /option "config": 6 problems in the routes file/);
    assert.match(m, /broken\.conf:2: "10\.0\.0\.300" is not an IPv4 or IPv6 address/);
    assert.match(
      m,
      /broken\.conf:3: "10\.0\.0\.1\/8" has bits set beyond its \/8\n {2}fix: write the network: 10\.0\.0\.0\/8/,
    );
    assert.match(m, /broken\.conf:4: prefix length "33" in "10\.0\.0\.0\/33" is not 0\.\.32/);
    assert.match(m, /broken\.conf:5: service "32" is not a service id 1\.\.31/);
    assert.match(m, /broken\.conf:6: 10\.0\.0\.0\/8 is routed already, on line 1/);
    assert.match(m, /broken\.conf:7: "fd00::\/16" is not "DESTINATION SERVICE"/);
    return true;
  });
  const count = file('count.conf', '3\n10.0.0.1 1\n');
  await assert.rejects(
    runNF(router, [], { baseDir: dir, options: { config: count } }),
    /count\.conf:1: the first line says 3 routes, the file has 1/,
  );
  const empty = file('empty.conf', '# nothing\n\n');
  await assert.rejects(runNF(router, [], { baseDir: dir, options: { config: empty } }), /empty\.conf: no route/);
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /option "config" is missing/],
    [{ config: 'nope.conf' }, /option "config": cannot read nope\.conf \(ENOENT\)/],
    [{ config: ROUTES, default: 'reject' }, /option "default" must be one of next, drop/],
    [{ config: ROUTES, interval: -2 }, /option "interval" must be at least 0/],
  ];
  for (const [options, re] of cases)
    await assert.rejects(
      runNF(router, [], { baseDir: dir, options }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      JSON.stringify(options),
    );
});
