/**
 * Tests of the network-namespace testbed (src/testbed/testbed.ts) and `nfchain testbed`.
 *
 * The parts that need no privilege (names, the topology text, the CLI's argument checks)
 * always run. The rest makes real namespaces and veths under a name unique to this run
 * (t + 6 hex digits), always removes them in `finally`, and is skipped — with the reason —
 * only where network namespaces cannot be made (not root, no `ip`, no netns support).
 * Traffic goes only between the test's own two namespaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { NfcError } from '../errors.js';
import { validateTopology } from '../topology/load.js';
import { PORT_SCHEMAS } from '../topology/schema.js';
import {
  describeTestbed,
  findTool,
  hasEthtool,
  joinWithTc,
  netnsSupport,
  testbedDown,
  testbedStatus,
  testbedTopology,
  testbedUp,
  type Testbed,
  unjoinTc,
} from './testbed.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const support = netnsSupport();
const uniqueName = (): string => `t${randomBytes(3).toString('hex')}`;

// ---- helpers ------------------------------------------------------------------------------

function ip(...args: string[]): string {
  return execFileSync(findTool('ip') ?? 'ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, tool: string, ...args: string[]): string {
  return ip('netns', 'exec', ns, findTool(tool) ?? tool, ...args);
}

interface Link {
  ifindex: number;
  link_index?: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address: string;
  linkinfo?: { info_kind?: string };
}

function links(ns?: string): Link[] {
  const t = ns === undefined ? ip('-j', '-d', 'link') : ip('-n', ns, '-j', '-d', 'link');
  return t.trim() === '' ? [] : (JSON.parse(t) as Link[]);
}

function netnsNames(): string[] {
  // `ip netns list` prints "name" or "name (id: N)" per line.
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

function inet(ns: string): { v4: string[]; v6: string[] } {
  const t = ip('-n', ns, '-j', 'addr', 'show', 'dev', 'eth0');
  const a = JSON.parse(t) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
  const info = a[0]?.addr_info ?? [];
  return {
    v4: info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`),
    v6: info.filter((x) => x.family === 'inet6').map((x) => `${x.local}/${x.prefixlen}`),
  };
}

const OFFLOADS = [
  'tx-checksumming',
  'rx-checksumming',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
];

function offloadState(dev: string, ns?: string): Record<string, string> {
  const t =
    ns === undefined
      ? execFileSync(findTool('ethtool')!, ['-k', dev], { encoding: 'utf8' })
      : inNs(ns, 'ethtool', '-k', dev);
  const r: Record<string, string> = {};
  for (const f of OFFLOADS) r[f] = new RegExp(`^${f}: (\\S+)`, 'm').exec(t)?.[1] ?? 'missing';
  return r;
}

/** Nothing of the testbed is left: no namespace, no root-side veth. */
function assertGone(tb: Testbed): void {
  const ns = netnsNames();
  assert.ok(!ns.includes(tb.nsA) && !ns.includes(tb.nsB), `namespaces left: ${ns.join(', ')}`);
  const names = links().map((l) => l.ifname);
  assert.ok(!names.includes(tb.ifA) && !names.includes(tb.ifB), `links left: ${names.join(', ')}`);
}

/**
 * Whether A reaches B over IPv4: `ping -c 1 -W 1` from A when ping is installed, else one
 * UDP datagram stream from A to a listener in B (node in both namespaces). Nothing else is
 * addressed: the destination is B's testbed address, the source A's.
 */
async function reachable(tb: Testbed): Promise<boolean> {
  const ping = findTool('ping');
  if (ping !== undefined) {
    const r = spawnSync(findTool('ip')!, ['netns', 'exec', tb.nsA, ping, '-c', '1', '-W', '1', '-n', tb.ipB], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.status === 0) return true;
    if (r.status === 1) return false;
    throw new Error(`ping failed to run (status ${r.status}): ${r.stderr}`);
  }
  const port = 40000 + Math.floor(Math.random() * 20000);
  const token = randomBytes(8).toString('hex');
  // The listener runs until it is killed and says "got" when the token arrives, so neither
  // side's start-up time (on a loaded machine) shortens the window.
  const listen =
    `const s=require('dgram').createSocket('udp4');` +
    `s.on('message',(m)=>{if(String(m)===${JSON.stringify(token)})process.stdout.write('got\\n')});` +
    `s.bind(${port},${JSON.stringify(tb.ipB)},()=>process.stdout.write('ready\\n'));` +
    `setTimeout(()=>process.exit(0),60000);`;
  const send =
    `const s=require('dgram').createSocket('udp4');let n=0;` +
    `const f=()=>{s.send(${JSON.stringify(token)},${port},${JSON.stringify(tb.ipB)},()=>{});` +
    `if(++n<8)setTimeout(f,250);else setTimeout(()=>process.exit(0),50)};f();`;
  const listener = spawn(findTool('ip')!, ['netns', 'exec', tb.nsB, process.execPath, '-e', listen], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  listener.stdout.on('data', (d: Buffer) => {
    out += String(d);
  });
  const exited = new Promise<void>((res) => listener.on('exit', () => res()));
  try {
    const t0 = Date.now();
    while (!out.includes('ready')) {
      if (listener.exitCode !== null || Date.now() - t0 > 20_000)
        throw new Error('the UDP listener in B did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = spawnSync(findTool('ip')!, ['netns', 'exec', tb.nsA, process.execPath, '-e', send], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(s.status, 0, `the UDP sender in A failed: ${s.stderr}`);
    await new Promise((r) => setTimeout(r, 500)); // the last datagram's way through
    return out.includes('got');
  } finally {
    listener.kill('SIGKILL');
    await exited;
  }
}

/** Reachable at least once in `tries` probes (a positive check: only timing can make one probe miss). */
async function eventuallyReachable(tb: Testbed, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await reachable(tb)) return true;
  return false;
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---- no privilege needed --------------------------------------------------------------------

test('describeTestbed: names, addresses, MACs; bad names refused', () => {
  const tb = describeTestbed();
  assert.deepEqual(tb, {
    name: 'nfc',
    nsA: 'nfc-a',
    nsB: 'nfc-b',
    ifA: 'nfc-a0',
    ifB: 'nfc-b0',
    ipA: '10.201.0.1',
    ipB: '10.201.0.2',
    macA: '02:00:00:00:0a:01',
    macB: '02:00:00:00:0b:01',
  });
  assert.equal(describeTestbed('abcdefgh').ifB, 'abcdefgh-b0');
  assert.ok(describeTestbed('abcdefgh').ifB.length <= 15);
  for (const bad of ['', 'abcdefghi', 'Nfc', 'a-b', 'a b', 'a/b', '../x']) {
    assert.throws(
      () => describeTestbed(bad),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
      bad,
    );
    assert.throws(() => testbedDown(bad), NfcError);
  }
});

test('testbedTopology: the bridge NF between the two root-side veths', () => {
  const tb = describeTestbed('q1');
  for (const driver of ['af_packet', 'af_xdp'] as const) {
    const topo = parseYaml(testbedTopology(tb, { driver })) as {
      name: string;
      ports: { name: string; driver: string; interface: string }[];
      nfs: { name: string; module: string; service: number }[];
      chain: unknown[];
    };
    assert.deepEqual(topo.ports, [
      { name: 'a', driver, interface: 'q1-a0' },
      { name: 'b', driver, interface: 'q1-b0' },
    ]);
    assert.equal(topo.nfs.length, 1);
    assert.equal(topo.nfs[0]!.name, 'bridge');
    assert.equal(topo.nfs[0]!.service, 1);
    assert.ok(isAbsolute(topo.nfs[0]!.module), topo.nfs[0]!.module);
    assert.ok(topo.nfs[0]!.module.endsWith('/nfs/bridge/index.ts'), topo.nfs[0]!.module);
    assert.ok(existsSync(topo.nfs[0]!.module), `${topo.nfs[0]!.module} exists`);
    assert.deepEqual(topo.chain, ['bridge']);
    assert.equal(topo.name, 'testbed-q1');
  }
  // Another NF: its module made absolute, its name from the module, quoted (a name, not a service id).
  const other = parseYaml(testbedTopology(tb, { driver: 'af_packet', nf: 'nfs/simple-forward/index.ts' })) as {
    nfs: { name: string; module: string }[];
    chain: unknown[];
  };
  assert.equal(other.nfs[0]!.name, 'simple-forward');
  assert.ok(isAbsolute(other.nfs[0]!.module));
  assert.deepEqual(other.chain, ['simple-forward']);
  const numeric = parseYaml(testbedTopology(tb, { driver: 'af_packet', nf: '/x/42.ts' })) as {
    nfs: { name: unknown }[];
    chain: unknown[];
  };
  assert.equal(numeric.nfs[0]!.name, '42');
  assert.deepEqual(numeric.chain, ['42']);
  assert.throws(() => testbedTopology(tb, { driver: 'dpdk' as 'af_xdp' }), NfcError);
});

test('nfchain testbed: topology prints only the YAML; bad input is a usage error', () => {
  const r = cli('testbed', 'topology', '--name', 'q2', '--driver', 'af_packet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, testbedTopology(describeTestbed('q2'), { driver: 'af_packet' }));
  const xdp = cli('testbed', 'topology', '--driver', 'af_xdp');
  assert.equal(xdp.status, 0, xdp.stderr);
  assert.equal(xdp.stdout, testbedTopology(describeTestbed('nfc'), { driver: 'af_xdp' }));
  assert.equal(cli('testbed', 'topology').stdout, testbedTopology(describeTestbed('nfc'), { driver: 'af_packet' }));
  const help = cli('testbed', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /nfchain testbed up\|down\|topology/);
  assert.match(cli('--help').stdout, /testbed/);
  for (const bad of [
    ['testbed'],
    ['testbed', 'sideways'],
    ['testbed', 'up', '--name', 'NO'],
    ['testbed', 'topology', '--driver', 'dpdk'],
    ['testbed', 'down', '--driver', 'af_xdp'],
    ['testbed', 'up', 'extra'],
  ]) {
    const b = cli(...bad);
    assert.equal(b.status, 2, `${bad.join(' ')}: ${b.stdout}${b.stderr}`);
    assert.match(b.stderr, /NFC_ERR_USAGE/, bad.join(' '));
  }
});

// ---- real namespaces ----------------------------------------------------------------------

test('testbed: up, idempotent up, addresses, offloads, isolation, down, half-made', { timeout: 120_000 }, async (t) => {
  if (!support.ok) {
    t.skip(support.reason);
    return;
  }
  const name = uniqueName();
  const tb = describeTestbed(name);
  try {
    // up makes both namespaces and both veth pairs
    const made = testbedUp(name);
    assert.deepEqual(made, tb);
    const ns = netnsNames();
    assert.ok(ns.includes(tb.nsA) && ns.includes(tb.nsB), `ip netns list: ${ns.join(', ')}`);
    const root = links();
    const a0 = root.find((l) => l.ifname === tb.ifA);
    const b0 = root.find((l) => l.ifname === tb.ifB);
    assert.ok(a0 && b0, 'both root-side veths exist');
    for (const l of [a0, b0]) {
      assert.equal(l.linkinfo?.info_kind, 'veth');
      assert.ok(l.flags.includes('UP'), `${l.ifname} up`);
      assert.equal(l.mtu, 1500);
      if (existsSync('/proc/sys/net/ipv6/conf')) {
        assert.equal(
          readFileSync(`/proc/sys/net/ipv6/conf/${l.ifname}/disable_ipv6`, 'utf8').trim(),
          '1',
          `IPv6 off on ${l.ifname}`,
        );
      }
    }
    for (const [nsName, outer, mac] of [
      [tb.nsA, a0, tb.macA],
      [tb.nsB, b0, tb.macB],
    ] as const) {
      const inner = links(nsName);
      const eth = inner.find((l) => l.ifname === 'eth0');
      assert.ok(eth, `eth0 in ${nsName}`);
      assert.equal(eth.linkinfo?.info_kind, 'veth');
      assert.equal(eth.link_index, outer.ifindex, `eth0 in ${nsName} is ${outer.ifname}'s peer`);
      assert.equal(eth.address, mac);
      assert.equal(eth.mtu, 1500);
      assert.ok(eth.flags.includes('UP'));
      assert.ok(inner.find((l) => l.ifname === 'lo')?.flags.includes('UP'), `lo up in ${nsName}`);
    }
    assert.deepEqual(testbedStatus(name), { exists: true, complete: true, problems: [] });

    // its topology loads (the loader checks that the interfaces exist) once the driver is known
    if ('af_packet' in PORT_SCHEMAS) {
      const text = testbedTopology(tb, { driver: 'af_packet' });
      const topo = validateTopology(parseYaml(text), `<testbed ${name}>`, text);
      assert.deepEqual(
        topo.ports.map((p) => p.name),
        ['a', 'b'],
      );
      assert.deepEqual(topo.chain, [{ kind: 'service', service: 1 }]);
    } else {
      t.diagnostic('the topology schema has no af_packet driver yet: topology not loaded');
    }

    // up again: the same testbed (same interfaces), not a second one
    assert.deepEqual(testbedUp(name), tb);
    const again = links();
    assert.equal(again.find((l) => l.ifname === tb.ifA)?.ifindex, a0.ifindex, 'not recreated');
    assert.equal(again.find((l) => l.ifname === tb.ifB)?.ifindex, b0.ifindex, 'not recreated');
    assert.equal(netnsNames().filter((n) => n.startsWith(`${name}-`)).length, 2);

    // addresses: A .1/24, B .2/24, no IPv6 in the namespaces
    const addrA = inet(tb.nsA);
    const addrB = inet(tb.nsB);
    assert.deepEqual(addrA.v4, ['10.201.0.1/24']);
    assert.deepEqual(addrB.v4, ['10.201.0.2/24']);
    if (existsSync('/proc/sys/net/ipv6/conf')) {
      assert.deepEqual(addrA.v6, []);
      assert.deepEqual(addrB.v6, []);
      assert.equal(inNs(tb.nsA, 'sysctl', '-n', 'net.ipv6.conf.all.disable_ipv6').trim(), '1');
    }

    // offloads at the kernel's defaults (as on real hosts); --offloads off switches them off
    // on all four ends (the testbed is made again), and the default brings them back
    if (hasEthtool()) {
      const defaults = { ...Object.fromEntries(OFFLOADS.map((f) => [f, 'on'])), 'generic-receive-offload': 'off' };
      const allOff = Object.fromEntries(OFFLOADS.map((f) => [f, 'off']));
      const ends = [
        [tb.ifA, undefined],
        [tb.ifB, undefined],
        ['eth0', tb.nsA],
        ['eth0', tb.nsB],
      ] as const;
      for (const [dev, ns] of ends)
        assert.deepEqual(offloadState(dev, ns), defaults, `${dev} ${ns ?? ''}: kernel defaults`);
      assert.equal(
        testbedStatus(name, { offloads: 'off' }).complete,
        false,
        'offloads on: not the testbed --offloads off asks for',
      );
      testbedUp(name, { offloads: 'off' });
      for (const [dev, ns] of ends) assert.deepEqual(offloadState(dev, ns), allOff, `${dev} ${ns ?? ''}: off`);
      assert.deepEqual(testbedStatus(name, { offloads: 'off' }), { exists: true, complete: true, problems: [] });
      assert.match(testbedStatus(name).problems.join('; '), /offloads off for /);
      testbedUp(name);
      for (const [dev, ns] of ends)
        assert.deepEqual(offloadState(dev, ns), defaults, `${dev} ${ns ?? ''}: defaults again`);
    } else {
      t.diagnostic('ethtool is not installed: offloads not checked');
    }
    assert.throws(() => testbedUp(name, { offloads: 'of' as 'off' }), /--offloads|offloads takes on or off, got "of"/);

    // B is not reachable from A: nothing joins the root-side veths
    assert.equal(await reachable(tb), false, 'A must not reach B before anything forwards between the veths');
    // ... and is once something forwards frames between them (tc, standing in for nfchain)
    if (joinWithTc(tb)) {
      try {
        assert.equal(await eventuallyReachable(tb), true, 'A reaches B once the root-side veths are joined');
      } finally {
        unjoinTc(tb);
      }
    } else {
      t.diagnostic('tc ingress/u32/mirred not available: the positive check was not run');
    }

    // down removes everything; down again is fine
    const removed = testbedDown(name);
    assert.deepEqual(removed, { name, links: [tb.ifA, tb.ifB], namespaces: [tb.nsA, tb.nsB] });
    assertGone(tb);
    assert.deepEqual(testbedDown(name), { name, links: [], namespaces: [] });
    assert.equal(testbedStatus(name).exists, false);

    // half made (only namespace A, by hand): down cleans it up...
    ip('netns', 'add', tb.nsA);
    const half = testbedStatus(name);
    assert.equal(half.exists, true);
    assert.equal(half.complete, false);
    assert.deepEqual(testbedDown(name), { name, links: [], namespaces: [tb.nsA] });
    assertGone(tb);
    // ... and up replaces it with a complete testbed
    ip('netns', 'add', tb.nsA);
    testbedUp(name);
    assert.equal(testbedStatus(name).complete, true);
    assert.deepEqual(inet(tb.nsA).v4, ['10.201.0.1/24']);

    // other options make it again: IPv6 left on in the namespaces
    testbedUp(name, { ipv6: true });
    assert.equal(testbedStatus(name, { ipv6: true }).complete, true);
    if (existsSync('/proc/sys/net/ipv6/conf')) {
      assert.equal(inNs(tb.nsA, 'sysctl', '-n', 'net.ipv6.conf.all.disable_ipv6').trim(), '0');
      assert.equal(
        readFileSync(`/proc/sys/net/ipv6/conf/${tb.ifA}/disable_ipv6`, 'utf8').trim(),
        '1',
        'still off on the root side',
      );
    }
    testbedDown(name);
    assertGone(tb);
  } finally {
    unjoinTc(tb);
    testbedDown(name);
  }
  assertGone(tb);
});

test('nfchain testbed up / down', { timeout: 60_000 }, (t) => {
  if (!support.ok) {
    t.skip(support.reason);
    return;
  }
  const name = uniqueName();
  const tb = describeTestbed(name);
  try {
    const up = cli('testbed', 'up', '--name', name);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`testbed ${name}: created`));
    assert.ok(up.stdout.includes(`ip netns exec ${tb.nsA} ping 10.201.0.2`), up.stdout);
    assert.ok(up.stdout.includes(testbedTopology(tb, { driver: 'af_packet' })), 'prints the topology');
    assert.equal(testbedStatus(name).complete, true);
    const again = cli('testbed', 'up', '--name', name);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already up/);
    assert.ok(again.stdout.includes('driver: af_packet'));
    const down = cli('testbed', 'down', '--name', name);
    assert.equal(down.status, 0, down.stderr);
    assert.match(
      down.stdout,
      new RegExp(`removed link ${tb.ifA}, link ${tb.ifB}, namespace ${tb.nsA}, namespace ${tb.nsB}`),
    );
    assertGone(tb);
    assert.match(cli('testbed', 'down', '--name', name).stdout, /nothing to remove/);
  } finally {
    testbedDown(name);
  }
});
