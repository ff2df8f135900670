/**
 * Tests of the load-balancer NF with runNF: round robin per flow, every packet of a flow to
 * one backend, both directions rewritten, the IPv4 header and TCP/UDP checksums recomputed
 * from scratch after the rewrite, verdicts (ports, other, no flow, table full), expiry with an
 * injected clock, the report, and config file errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DROP, NEXT, NfcError, out, PacketView, runNF, type RunNFOptions } from 'nfchain';
import balancer, { LoadBalancer, loadLbConfig, parseLbConfig } from './index.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  type BuiltPacket,
  type EthSpec,
  type L4Spec,
} from '../../test/helpers/packet-builder.js';

/** The balancer of the last run's instance. */
let last: LoadBalancer | undefined;
function loadBalancer(): LoadBalancer {
  assert.ok(last, 'no run yet');
  return last;
}

/** runNF of the NF, keeping its instance's balancer for the assertions that follow. */
async function run(pkts: Uint8Array[], opts: RunNFOptions) {
  const r = await runNF(balancer, pkts, opts);
  last = r.instance.balancer;
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'nfchain-lb-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const VIP = '10.0.0.100';
const BACKENDS = ['192.168.1.11', '192.168.1.12', '192.168.1.13'];
const MAC0 = '02:00:00:00:01:11';
const MAC1 = '02:00:00:00:01:12';
const CLIENT_MAC = '02:00:00:00:00:fe';
const lbYaml = configFile(
  'lb.yaml',
  `# three web servers behind one address
vip: ${VIP}
clientMac: "${CLIENT_MAC}"
backends:
  - { ip: ${BACKENDS[0]}, mac: "${MAC0}", name: web1 }
  - { ip: ${BACKENDS[1]}, mac: "${MAC1}", name: web2 }
  - ip: ${BACKENDS[2]}
`,
);
const quiet = { config: lbYaml, interval: 0 };

function ip(src: string, dst: string, l4: L4Spec, eth?: EthSpec, ipOptions?: number[]): BuiltPacket {
  return buildPacket({
    ...(eth ? { eth } : {}),
    l3: { kind: 'ipv4', src, dst, ...(ipOptions ? { options: ipOptions } : {}) },
    l4,
  });
}
const tcp = (sport: number, dport: number, payload = 0): L4Spec => ({
  kind: 'tcp',
  sport,
  dport,
  payload: new Uint8Array(payload).fill(0x5a),
});
const udp = (sport: number, dport: number, payload = 0): L4Spec => ({
  kind: 'udp',
  sport,
  dport,
  payload: new Uint8Array(payload).fill(0xa5),
});
/** client i's packet of flow (i, port) to the VIP */
const toVip = (i: number, port = 40000, l4 = tcp(port, 80, 10)): BuiltPacket => ip(`10.1.0.${i}`, VIP, l4);
/** backend b's reply to client i's flow */
const reply = (b: number, i: number, port = 40000, l4 = tcp(80, port, 20)): BuiltPacket =>
  ip(BACKENDS[b]!, `10.1.0.${i}`, l4);

const text4 = (p: Uint8Array, at: number): string => Array.from(p.subarray(at, at + 4)).join('.');
const srcOf = (p: Uint8Array, b: BuiltPacket): string => text4(p, b.l3Offset + 12);
const dstOf = (p: Uint8Array, b: BuiltPacket): string => text4(p, b.l3Offset + 16);
const macOf = (p: Uint8Array): string => Array.from(p.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** The IPv4 header and transport checksums of `p` (laid out as `b`) are right, recomputed from scratch. */
function assertChecksums(p: Uint8Array, b: BuiltPacket, what: string): void {
  const stored = p[b.l3Offset + 10]! * 256 + p[b.l3Offset + 11]!;
  assert.equal(stored, refIpv4HeaderChecksum(p, b.l3Offset), `${what}: IPv4 header checksum`);
  assert.equal(storedL4Checksum(p, b), refL4Checksum(p, b), `${what}: ${b.proto === 6 ? 'TCP' : 'UDP'} checksum`);
}

test('round robin over new flows; every packet of a flow goes to its backend', async () => {
  // Five flows (two from one client, told apart by port), first packets in order, then more
  // packets of each, interleaved.
  const flows = [toVip(1), toVip(2), toVip(3), toVip(1, 40001), toVip(4, 50000, udp(50000, 53, 8))];
  const later = [3, 0, 4, 1, 2, 4, 0, 3].map((f) => flows[f]!);
  const pkts = [...flows, ...later].map((p) => p.bytes);
  const r = await run(pkts, { options: quiet });
  assert.deepEqual(
    r.verdicts,
    pkts.map(() => NEXT),
  );
  const expected = [0, 1, 2, 0, 1]; // flow → backend
  const dsts = r.outputs.map((o) => dstOf(o.bytes, flows[0]!));
  assert.deepEqual(
    dsts.slice(0, 5),
    expected.map((b) => BACKENDS[b]),
  );
  assert.deepEqual(
    dsts.slice(5),
    [3, 0, 4, 1, 2, 4, 0, 3].map((f) => BACKENDS[expected[f]!]),
  );
  // The destination MAC is the backend's where the config gives one; web3 has none.
  assert.deepEqual(
    r.outputs.slice(0, 3).map((o) => macOf(o.bytes)),
    [MAC0, MAC1, '02:00:00:00:00:02'],
  );
  // Sources and ports are not changed.
  r.outputs.forEach((o, i) => {
    assert.equal(srcOf(o.bytes, flows[0]!), srcOf(pkts[i]!, flows[0]!));
  });
  const s = loadBalancer().stats();
  assert.deepEqual(
    s.backends.map((b) => [b.name, b.flows, b.active, b.packetsTo]),
    [
      ['web1', 2, 2, 6],
      ['web2', 2, 2, 5],
      ['192.168.1.13', 1, 1, 2],
    ],
  );
  assert.equal(s.toBackend, 13);
  assert.equal(s.activeFlows, 5);
  // the declared counters and gauges (stats, /metrics, the console)
  assert.deepEqual(r.metrics, {
    toBackend: 13,
    toClient: 0,
    other: 0,
    noFlow: 0,
    tableFull: 0,
    newFlows: 5,
    expiredFlows: 0,
    activeFlows: 5,
    backends: 3,
  });
});

test('both directions: client → backend and backend → client (source back to the VIP), checksums right', async () => {
  const c1 = toVip(1);
  const c2 = toVip(2, 33333, udp(33333, 53, 21)); // odd payload length: the checksum pads a byte
  const r1 = reply(0, 1);
  const r2 = reply(1, 2, 33333, udp(53, 33333, 99));
  const pkts = [c1, c2, r1, r2, c1, r1];
  const r = await run(
    pkts.map((p) => p.bytes),
    { options: { ...quiet, 'server-port': 1, 'client-port': 0 } },
  );
  assert.deepEqual(r.verdicts, [out(1), out(1), out(0), out(0), out(1), out(0)]);
  const o = r.outputs.map((x) => x.bytes);
  assert.equal(dstOf(o[0]!, c1), BACKENDS[0]);
  assert.equal(dstOf(o[1]!, c2), BACKENDS[1]);
  for (const k of [2, 3, 5]) {
    assert.equal(srcOf(o[k]!, pkts[k]!), VIP, `reply ${k} comes from the VIP`);
    assert.equal(macOf(o[k]!), CLIENT_MAC, `reply ${k} goes to clientMac`);
  }
  assert.equal(dstOf(o[2]!, r1), '10.1.0.1', "the reply's destination (the client) is kept");
  o.forEach((bytes, k) => {
    assert.notDeepEqual(bytes, pkts[k]!.bytes, `packet ${k} was rewritten`);
    assertChecksums(bytes, pkts[k]!, `packet ${k}`);
  });
  const s = loadBalancer().stats();
  assert.deepEqual([s.toBackend, s.toClient, s.other, s.noFlow], [3, 3, 0, 0]);
  assert.deepEqual([r.metrics.toBackend, r.metrics.toClient, r.metrics.newFlows], [3, 3, 2]);
  assert.deepEqual(
    s.backends.map((b) => b.packetsFrom),
    [2, 1, 0],
  );
  assert.equal(s.backends[0]!.bytesFrom, 2 * r1.bytes.length);
});

test('checksums from scratch after the rewrite: VLAN, IPv4 options, TCP options, UDP without checksum', async () => {
  const vlan = { vlans: [{ id: 42 }] };
  const c1 = ip(
    '10.1.0.7',
    VIP,
    { kind: 'tcp', sport: 1234, dport: 443, options: [2, 4, 5, 0xb4], payload: new Uint8Array(333) },
    vlan,
    [1, 1, 1, 1],
  );
  const c2 = ip('10.1.0.8', VIP, udp(999, 53, 64), vlan);
  const c3 = ip('10.1.0.9', VIP, { kind: 'udp', sport: 7, dport: 7, payload: new Uint8Array(10), noChecksum: true });
  const r1 = ip(BACKENDS[0]!, '10.1.0.7', { kind: 'tcp', sport: 443, dport: 1234, flags: 0x12 }, vlan, [1, 1, 1, 1]);
  const r2 = ip(BACKENDS[1]!, '10.1.0.8', udp(53, 999, 200), vlan);
  const r3 = ip(BACKENDS[2]!, '10.1.0.9', {
    kind: 'udp',
    sport: 7,
    dport: 7,
    payload: new Uint8Array(10),
    noChecksum: true,
  });
  const pkts = [c1, c2, c3, r1, r2, r3];
  const r = await run(
    pkts.map((p) => p.bytes),
    { options: quiet },
  );
  const o = r.outputs.map((x) => x.bytes);
  assert.deepEqual(
    o.map((b, k) => (k < 3 ? dstOf(b, pkts[k]!) : srcOf(b, pkts[k]!))),
    [...BACKENDS, VIP, VIP, VIP],
  );
  for (const k of [0, 1, 3, 4]) assertChecksums(o[k]!, pkts[k]!, `packet ${k}`);
  // UDP over IPv4 with checksum 0 ("none") stays 0; the IPv4 header checksum is still fixed.
  for (const k of [2, 5]) {
    assert.equal(storedL4Checksum(o[k]!, pkts[k]!), 0);
    assert.equal(
      o[k]![pkts[k]!.l3Offset + 10]! * 256 + o[k]![pkts[k]!.l3Offset + 11]!,
      refIpv4HeaderChecksum(o[k]!, pkts[k]!.l3Offset),
    );
  }
});

test('other packets: passed (default) or dropped (other: drop), counted, never changed', async () => {
  const arp = buildPacket({
    eth: { dst: 'ff:ff:ff:ff:ff:ff' },
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.1.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: VIP,
    },
    padTo: 60,
  });
  const v6 = buildPacket({ l3: { kind: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2' }, l4: tcp(1, 80) });
  const elsewhere = ip('10.1.0.1', '10.9.9.9', tcp(1, 80)); // not to the VIP
  const backendOut = ip(BACKENDS[0]!, '8.8.8.8', udp(5000, 53)); // a backend's own traffic: no flow
  const wrongBackend = reply(1, 1); // flow 10.1.0.1:40000 went to backend 0, not 1
  const malformed = toVip(1).bytes.slice();
  malformed[14] = 0x44; // IHL 4
  const others = [arp.bytes, v6.bytes, elsewhere.bytes, malformed];
  const noFlow = [backendOut.bytes, wrongBackend.bytes];
  const pkts = [toVip(1).bytes, ...others, ...noFlow];

  const pass = await run(pkts, { options: quiet });
  assert.deepEqual(
    pass.verdicts,
    pkts.map(() => NEXT),
  );
  pass.outputs.slice(1).forEach((o, k) => {
    assert.deepEqual(o.bytes, pkts[k + 1], `packet ${k + 1} unchanged`);
  });
  assert.deepEqual([loadBalancer().stats().other, loadBalancer().stats().noFlow], [4, 2]);

  const drop = await run(pkts, { options: { ...quiet, other: 'drop', 'server-port': 3 } });
  assert.deepEqual(drop.verdicts, [out(3), ...others.map(() => DROP), ...noFlow.map(() => DROP)]);
  assert.equal(drop.dropped, 6);
});

test('addresses of 128.0.0.0 and above (negative as int32) work both ways', async () => {
  const cfg = configFile('high.yaml', 'vip: 198.51.100.1\nbackends: [{ ip: 203.0.113.5 }, { ip: 203.0.113.6 }]\n');
  const c = ip('172.16.0.1', '198.51.100.1', udp(4000, 53, 5));
  const back = ip('203.0.113.5', '172.16.0.1', udp(53, 4000, 50));
  const r = await run([c.bytes, back.bytes], { options: { config: cfg, interval: 0 } });
  assert.equal(dstOf(r.outputs[0]!.bytes, c), '203.0.113.5');
  assert.equal(srcOf(r.outputs[1]!.bytes, back), '198.51.100.1');
  assertChecksums(r.outputs[0]!.bytes, c, 'to the backend');
  assertChecksums(r.outputs[1]!.bytes, back, 'the reply');
});

test('a full table: new flows are dropped and counted; known flows go on', async () => {
  const pkts = [toVip(1), toVip(2), toVip(3), toVip(1), reply(1, 2), toVip(4)].map((p) => p.bytes);
  const r = await run(pkts, { options: { ...quiet, capacity: 2 } });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, DROP, NEXT, NEXT, DROP]);
  const s = loadBalancer().stats();
  assert.equal(s.tableFull, 2);
  assert.equal(s.activeFlows, 2);
  assert.deepEqual(
    s.backends.map((b) => b.flows),
    [1, 1, 0],
    'a dropped flow takes no turn',
  );
});

/** A balancer and a view driven by hand: the test chooses `now` for each packet. */
function rig(idleTimeoutMs: number): {
  lb: LoadBalancer;
  see: (p: BuiltPacket, now: number) => { route: number; bytes: Uint8Array };
} {
  const config = parseLbConfig(
    `vip: ${VIP}\nbackends: [{ ip: ${BACKENDS[0]} }, { ip: ${BACKENDS[1]} }]\n`,
    'test.yaml',
  );
  const lb = new LoadBalancer(config, { capacity: 16, idleTimeoutMs });
  const buf = new ArrayBuffer(2048);
  const bytes = new Uint8Array(buf);
  const view = new PacketView(buf);
  return {
    lb,
    see(p, now) {
      bytes.set(p.bytes);
      const route = lb.route(view.reset(0, p.bytes.length), now);
      return { route, bytes: bytes.slice(0, p.bytes.length) };
    },
  };
}

test('expiry with an injected clock: the flow is forgotten idle-timeout after its last packet', () => {
  const { lb, see } = rig(30_000);
  assert.equal(see(toVip(1), 0).route, 0); // backend 0
  assert.equal(see(toVip(2), 1000).route, 0); // backend 1
  assert.equal(see(reply(0, 1), 10_000).route, 1, 'a reply keeps flow 1 alive');
  assert.equal(lb.expire(30_999), 0);
  assert.equal(lb.expire(31_000), 1, 'flow 2: 30 s idle');
  assert.deepEqual(
    lb.stats().backends.map((b) => b.active),
    [1, 0],
  );
  // backend 1's reply of the forgotten flow is not rewritten
  const late = see(reply(1, 2), 31_500);
  assert.equal(late.route, 3);
  assert.deepEqual(late.bytes, reply(1, 2).bytes);
  assert.equal(lb.expire(39_999), 0);
  assert.equal(lb.expire(40_000), 1, 'flow 1: 30 s after the reply');
  assert.equal(lb.stats().expiredFlows, 2);
  // Flow 1 again: a new flow, the next backend in turn.
  const again = see(toVip(1), 41_000);
  assert.equal(dstOf(again.bytes, toVip(1)), BACKENDS[0]);
  assert.deepEqual(
    lb.stats().backends.map((b) => [b.flows, b.active]),
    [
      [2, 1],
      [1, 0],
    ],
  );
});

test('the NF expires flows from tick(); the report every interval', async () => {
  const pkts = [toVip(1), toVip(2), reply(0, 1), toVip(3)].map((p) => p.bytes);
  const r = await run(pkts, { options: { config: lbYaml, interval: 1, 'idle-timeout': 1 }, ticks: 20 });
  assert.match(r.logs[0]!, /^load-balancer: VIP 10\.0\.0\.100, 3 backends \(.*lb\.yaml\)$/);
  assert.equal(
    r.logs[1],
    'load-balancer: 1.0 s: 3 to backends, 1 to clients, 0 other, 0 no flow, 0 dropped (table full); 3 active flows',
  );
  assert.match(r.logs[2]!, /^backend\s+flows\s+active\s+pkts to\s+bytes to\s+pkts from\s+bytes from$/);
  const c = pkts[0]!.length;
  const rp = pkts[2]!.length;
  assert.match(r.logs[3]!, new RegExp(`^web1 \\(192\\.168\\.1\\.11\\)\\s+1\\s+1\\s+1\\s+${c}\\s+1\\s+${rp}$`));
  assert.match(r.logs[5]!, new RegExp(`^192\\.168\\.1\\.13\\s+1\\s+1\\s+1\\s+${c}\\s+0\\s+0$`));
  // The second second: nothing new, and every flow gone by its end (1 s idle).
  assert.equal(
    r.logs[6],
    'load-balancer: 1.0 s: 0 to backends, 0 to clients, 0 other, 0 no flow, 0 dropped (table full); 0 active flows',
  );
  assert.equal(loadBalancer().stats().expiredFlows, 3);
  assert.deepEqual(
    loadBalancer()
      .stats()
      .backends.map((b) => b.active),
    [0, 0, 0],
  );
  assert.equal(
    r.logs.at(-1),
    'load-balancer: 3 packets to backends, 1 to clients, 0 other, 0 no flow, 0 dropped (table full) in all',
  );
});

test('a JSON config works the same', async () => {
  const json = configFile(
    'lb.json',
    JSON.stringify({ vip: VIP, backends: [{ ip: BACKENDS[1] }, { ip: BACKENDS[0] }] }, null, 2),
  );
  const r = await run([toVip(1).bytes, toVip(2).bytes], { options: { config: json, interval: 0 } });
  assert.deepEqual(
    r.outputs.map((o) => dstOf(o.bytes, toVip(1))),
    [BACKENDS[1], BACKENDS[0]],
  );
});

test('the example config in this directory loads', async () => {
  const example = fileURLToPath(new URL('../../../nfs/load-balancer/lb.yaml', import.meta.url));
  const c = loadLbConfig(example);
  assert.deepEqual(
    c.backends.map((b) => b.name),
    ['web1', 'web2', '192.168.1.13'],
  );
  const r = await run([toVip(1).bytes], { options: { config: example, interval: 0 } });
  assert.equal(macOf(r.outputs[0]!.bytes), MAC0);
});

// ---- config errors ----

/** Runs the NF with `text` as its config and returns the error's message (asserting its code and fix). */
async function configFailure(name: string, text: string | undefined, check: RegExp, fix?: RegExp): Promise<string> {
  const options =
    text === undefined ? (name === '' ? {} : { config: join(dir, name) }) : { config: configFile(name, text) };
  let message = '';
  await assert.rejects(runNF(balancer, [], { options }), (err: unknown) => {
    assert.ok(err instanceof NfcError, `expected NfcError, got ${String(err)}`);
    assert.equal(err.code, 'NFC_ERR_NF_OPTION');
    assert.match(err.message, check);
    if (fix) assert.match(err.fix ?? err.message, fix);
    message = err.message;
    return true;
  });
  return message;
}

test('config errors: a missing file or option', async () => {
  await configFailure(
    'nope.yaml',
    undefined,
    /nope\.yaml: cannot read the load-balancer config \(ENOENT\)/,
    /check the "config" option; a relative path is taken from the topology file/,
  );
  await configFailure('', undefined, /option "config" is missing/, /--config lb\.yaml/);
});

test('config errors: a bad address names the file, the line, the field and the fix', async () => {
  await configFailure(
    'bad-ip.yaml',
    `vip: ${VIP}\nbackends:\n  - ip: 192.168.1.11\n  - ip: 192.168.1.300\n`,
    /bad-ip\.yaml:4: backends\[1\]\.ip: "192\.168\.1\.300" is not an IPv4 address$/m,
    /write it as a\.b\.c\.d/,
  );
  await configFailure(
    'bad-vip.yaml',
    'vip: 2001:db8::1\nbackends: [{ ip: 10.0.0.1 }]\n',
    /bad-vip\.yaml:1: vip: "2001:db8::1" is not an IPv4 address/,
    /this NF handles IPv4 only/,
  );
  await configFailure(
    'bad-mac.yaml',
    `vip: ${VIP}\nbackends:\n  - { ip: 10.0.0.1, mac: "02:00:00:00:01" }\n`,
    /bad-mac\.yaml:3: backends\[0\]\.mac: "02:00:00:00:01" is not a MAC address/,
    /aa:bb:cc:dd:ee:ff/,
  );
  await configFailure(
    'number-ip.yaml',
    `vip: ${VIP}\nbackends:\n  - ip: 10\n`,
    /number-ip\.yaml:3: backends\[0\]\.ip: expected a string, got 10/,
    /ip: 192\.168\.1\.11/,
  );
});

test('config errors: no backends, missing keys, unknown keys, duplicates, syntax', async () => {
  await configFailure(
    'empty-list.yaml',
    `vip: ${VIP}\nbackends: []\n`,
    /empty-list\.yaml:2: backends: the list is empty/,
    /list at least one backend/,
  );
  await configFailure(
    'no-backends.yaml',
    `vip: ${VIP}\n`,
    /no-backends\.yaml:1: missing required key "backends"/,
    /backends: \[\{ ip: /,
  );
  await configFailure('empty.yaml', '# nothing yet\n', /empty\.yaml: the file is empty/, /vip: 10\.0\.0\.100/);
  await configFailure(
    'typo.yaml',
    `vip: ${VIP}\nbackend:\n  - ip: 10.0.0.1\n`,
    /typo\.yaml:2: backend: unknown key "backend"; did you mean "backends"\?/,
  );
  await configFailure(
    'dup.yaml',
    `vip: ${VIP}\nbackends:\n  - ip: 10.0.0.1\n  - ip: 10.0.0.2\n  - ip: 10.0.0.1\n`,
    /dup\.yaml:5: backends\[2\]\.ip: 10\.0\.0\.1 is listed already, as backends\[0\]/,
  );
  await configFailure(
    'vip-backend.yaml',
    `vip: ${VIP}\nbackends: [{ ip: ${VIP} }]\n`,
    /backends\[0\]\.ip: 10\.0\.0\.100 is the VIP/,
  );
  await configFailure('syntax.yaml', `vip: ${VIP}\nbackends: [{ ip: 10.0.0.1 }\n`, /syntax\.yaml:\d+: syntax error: /);
  await configFailure('syntax.json', '{ "vip": "10.0.0.100", "backends": [ }', /syntax\.json:1: syntax error: /);
  // Several problems: all listed, in file order, each with its fix.
  const file = join(dir, 'many.yaml');
  const m = await configFailure(
    'many.yaml',
    'vip: 10.0.0\nbackends:\n  - { ip: 10.0.0.1, mac: zz }\n  - { ip: 10.0.0.x }\n',
    /many\.yaml: 3 problems/,
  );
  assert.deepEqual(m.split('\n'), [
    `${file}: 3 problems in the load-balancer config:`,
    `${file}:1: vip: "10.0.0" is not an IPv4 address`,
    '  fix: write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)',
    `${file}:3: backends[0].mac: "zz" is not a MAC address`,
    '  fix: write it as aa:bb:cc:dd:ee:ff, six hex pairs (quote it in YAML)',
    `${file}:4: backends[1].ip: "10.0.0.x" is not an IPv4 address`,
    '  fix: write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)',
  ]);
});
