/**
 * Real traffic through nfchain over af_packet and af_xdp ports, on a testbed of two network
 * namespaces this test creates (and always removes): ping through `bridge` (both drivers), no
 * ping through a dropping NF, kernel and nfchain counters that agree (af_packet), a 50 MB HTTP
 * download through a 3-NF chain that arrives intact (both drivers, the hosts' offloads on as
 * the kernel makes them and off), GSO super-frames through the load balancer (addresses
 * rewritten in super-frames with partial checksums) that the receiving kernel checks segment by
 * segment, super-frames with no jumbo buffer to go to counted, and clear errors for a missing or
 * down interface. Traffic goes only to the test's own namespaces. Skipped (with the reason)
 * only where namespaces cannot be made (or ethtool is missing, for the offloads-off runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import { NfcError } from '../src/errors.js';
import {
  findTool,
  hasEthtool,
  netnsSupport,
  testbedDown,
  testbedUp,
  type Testbed,
  type TestbedOffloads,
} from '../src/testbed/testbed.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Manager } from '../src/manager/manager.js';
import type { ManagerStatus } from '../src/protocol/messages.js';
import { native } from '../src/native.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const VERDICT = join(root, 'dist/test/fixtures/nfs/verdict.js');
const NFS = (n: string): string => join(root, `dist/nfs/${n}/index.js`);
const HTTP_PEER = join(root, 'dist/test/helpers/http-peer.js');
const support = netnsSupport();
const skip = support.ok ? false : `needs network namespaces: ${support.reason}`;

function name(): string {
  return `t${randomBytes(3).toString('hex')}`;
}

/** Interface counters inside a namespace (or the root one when ns is undefined). */
function linkStats(ns: string | undefined, ifname: string): { rx: number; tx: number } {
  const args = [...(ns ? ['-n', ns] : []), '-s', '-j', 'link', 'show', 'dev', ifname];
  const j = JSON.parse(execFileSync('ip', args, { encoding: 'utf8' })) as {
    stats64: { rx: { packets: number }; tx: { packets: number } };
  }[];
  return { rx: j[0]!.stats64.rx.packets, tx: j[0]!.stats64.tx.packets };
}

type Driver = 'af_packet' | 'af_xdp';

function topo(
  tb: Testbed,
  nfs: Record<string, unknown>[],
  chain: (string | number)[],
  driver: Driver = 'af_packet',
  pool: Record<string, number> = {},
) {
  return validateTopology(
    {
      name: `tb-${tb.name}`,
      pool,
      manager: { statsInterval: 0 },
      ports: [
        { name: 'a', driver, interface: tb.ifA },
        { name: 'b', driver, interface: tb.ifB },
      ],
      nfs,
      chain,
    },
    '<test>',
  );
}

/** af_xdp needs the addon built with libxdp (CI installs libxdp-dev and libbpf-dev). */
const xdpSkip =
  skip ||
  (native().xdpAvailable()
    ? false
    : 'the addon was built without libxdp: apt-get install libxdp-dev libbpf-dev, then npm rebuild');

/** Runs the topology, calls `during` once every NF is up, stops; returns the final status. */
async function withChain(
  t: ReturnType<typeof topo>,
  during: (m: Manager) => Promise<void>,
): Promise<{ status: ManagerStatus; missing: number }> {
  let failure: unknown;
  const r = await runTopology(t, {
    signals: false,
    stats: null,
    log: () => {},
    nfOutput: () => {},
    onRunning: (m) => {
      void during(m)
        .catch((e: unknown) => {
          failure = e;
        })
        .finally(() => setTimeout(() => void m.stop('test over'), 300));
    },
  });
  if (failure) throw failure;
  return { status: r.manager.finalStatus!, missing: r.manager.missingAtExit };
}

const pingSkip = findTool('ping') ? false : 'ping is not installed (apt-get install iputils-ping)';

function ping(tb: Testbed, count: number): { ok: boolean; out: string } {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', tb.nsA, findTool('ping')!, '-c', String(count), '-i', '0.2', '-W', '1', tb.ipB],
    { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' },
  );
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('ping from A to B goes through bridge over af_packet; counters agree with the kernel', {
  skip: skip || pingSkip,
  timeout: 60_000,
}, async () => {
  const tb = testbedUp(name());
  try {
    const a0 = linkStats(tb.nsA, 'eth0');
    const b0 = linkStats(tb.nsB, 'eth0');
    let p = { ok: false, out: '' };
    const { status, missing } = await withChain(
      topo(tb, [{ name: 'bridge', module: NFS('bridge'), service: 1 }], ['bridge']),
      async () => {
        p = ping(tb, 5);
      },
    );
    assert.ok(p.ok, `ping failed through the bridge:\n${p.out}`);
    assert.match(p.out, /5 packets transmitted, 5 received/);
    assert.equal(missing, 0);
    const a1 = linkStats(tb.nsA, 'eth0');
    const b1 = linkStats(tb.nsB, 'eth0');
    const [pa, pb] = status.ports;
    // A → B: what A sent was received by nfchain (or dropped by the kernel, counted), and what
    // nfchain sent out of port b is what B received. The same the other way.
    assert.equal(a1.tx - a0.tx, pa!.rxPackets + pa!.kernelDrops, 'A sent = port a received');
    assert.equal(b1.rx - b0.rx, pb!.txPackets, 'port b sent = B received');
    assert.equal(b1.tx - b0.tx, pb!.rxPackets + pb!.kernelDrops, 'B sent = port b received');
    assert.equal(a1.rx - a0.rx, pa!.txPackets, 'port a sent = A received');
    const br = status.nfs[0]!.counters;
    assert.equal(br.rx, pa!.rxPackets + pb!.rxPackets, 'the bridge saw every received frame');
    assert.equal(
      pa!.txPackets + pb!.txPackets + pa!.txDropped + pb!.txDropped + (br.dropTxFull ?? 0),
      br.out,
      'everything the bridge sent is sent or counted',
    );
    assert.ok(pa!.rxPackets >= 5 && pb!.rxPackets >= 5, 'echo requests and replies crossed');
    assert.deepEqual(
      { ...pa!.link, mac: '' },
      { interface: tb.ifA, up: true, running: true, mtu: 1500, mac: '' },
      'link state in the port status',
    );
    assert.match(pa!.link!.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  } finally {
    testbedDown(tb.name);
  }
});

test('ping from A to B through bridge over af_xdp (the UMEM is the packet pool)', {
  skip: xdpSkip || pingSkip,
  timeout: 60_000,
}, async () => {
  const tb = testbedUp(name());
  try {
    let p = { ok: false, out: '' };
    const { status, missing } = await withChain(
      topo(tb, [{ name: 'bridge', module: NFS('bridge'), service: 1 }], ['bridge'], 'af_xdp'),
      async () => {
        p = ping(tb, 5);
      },
    );
    assert.ok(p.ok, `ping failed through the bridge:\n${p.out}`);
    assert.match(p.out, /5 packets transmitted, 5 received/);
    assert.equal(missing, 0, 'every buffer back in the pool, the UMEM fill ring included');
    assert.ok(status.ports[0]!.rxPackets >= 5 && status.ports[1]!.rxPackets >= 5);
    assert.equal(status.nfs[0]!.counters.rx, status.ports[0]!.rxPackets + status.ports[1]!.rxPackets);
  } finally {
    testbedDown(tb.name);
  }
});

test('with a dropping NF in the chain, ping does not get through (and the drops are counted)', {
  skip: skip || pingSkip,
  timeout: 60_000,
}, async () => {
  const tb = testbedUp(name());
  try {
    let p = { ok: true, out: '' };
    const { status } = await withChain(
      topo(
        tb,
        [
          { name: 'dropper', module: VERDICT, service: 1, options: { verdict: 'drop' } },
          { name: 'bridge', module: NFS('bridge'), service: 2 },
        ],
        ['dropper', 'bridge'],
      ),
      async () => {
        p = ping(tb, 2);
      },
    );
    assert.equal(p.ok, false, 'ping must fail');
    assert.ok(status.nfs.find((n) => n.name === 'dropper')!.counters.dropVerdict! >= 2);
    assert.equal(status.ports[1]!.txPackets, 0, 'nothing reached B');
  } finally {
    testbedDown(tb.name);
  }
});

/** Starts the HTTP server of test/helpers/http-peer.ts in `ns`; resolves once it listens. */
async function httpServer(ns: string, ip: string, bytes: number): Promise<ReturnType<typeof spawn>> {
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, HTTP_PEER, 'serve', ip, '8080', String(bytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: server.stdout! }).on('line', (l) => {
      if (l === 'ready') resolve();
    });
    server.on('exit', (code) => reject(new Error(`HTTP server exited with ${code}`)));
  });
  return server;
}

interface Fetched {
  bytes: number;
  sha256: string;
  expect: string;
  ms: number;
}

/** Downloads from `ip`:8080 in `ns` (SIGKILL at the deadline); the result, or the failure. */
function httpFetch(ns: string, ip: string, timeoutMs: number): { ok: true; got: Fetched } | { ok: false; why: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, HTTP_PEER, 'fetch', ip, '8080'], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) return { ok: false, why: `fetch exited with ${r.status ?? r.signal}: ${r.stderr}` };
  return { ok: true, got: JSON.parse(r.stdout) as Fetched };
}

const ethtoolSkip = hasEthtool() ? false : 'ethtool is not installed (apt-get install ethtool)';

for (const driver of ['af_packet', 'af_xdp'] as const) {
  for (const offloads of ['on', 'off'] as const satisfies readonly TestbedOffloads[]) {
    const why = (driver === 'af_xdp' ? xdpSkip : skip) || (offloads === 'off' ? ethtoolSkip : false);
    test(`a 50 MB HTTP download from B to A through a 3-NF chain arrives intact (${driver}, hosts' offloads ${offloads})`, {
      skip: why,
      timeout: 180_000,
    }, async () => {
      const tb = testbedUp(name(), { offloads });
      const server = await httpServer(tb.nsB, tb.ipB, 50 * 1024 * 1024);
      try {
        let got: Fetched | undefined;
        const { missing, status } = await withChain(
          topo(
            tb,
            [
              { name: 'monitor', module: NFS('basic-monitor'), service: 1, options: { interval: 0 } },
              { name: 'forward', module: NFS('simple-forward'), service: 2 },
              { name: 'bridge', module: NFS('bridge'), service: 3 },
            ],
            ['monitor', 'forward', 'bridge'],
            driver,
          ),
          async () => {
            const r = httpFetch(tb.nsA, tb.ipB, 150_000);
            assert.ok(r.ok, r.ok ? '' : r.why);
            got = r.got;
          },
        );
        assert.ok(got, 'the download ran');
        assert.equal(got.bytes, 50 * 1024 * 1024);
        assert.equal(got.sha256, got.expect, 'content intact');
        assert.equal(missing, 0, 'every buffer back in the pool');
        assert.ok(
          status.ports[1]!.rxPackets > (offloads === 'on' && driver === 'af_packet' ? 700 : 30_000),
          'the data crossed nfchain',
        );
        assert.equal(
          status.ports[1]!.rxOversize + status.ports[1]!.rxMalformed,
          0,
          'no frame dropped for its size or its offloads',
        );
      } finally {
        server.kill('SIGKILL');
        testbedDown(tb.name);
      }
    });
  }
}

/** Runs a command in a namespace (or the root one), throwing with its output on failure. */
function sh(ns: string | undefined, cmd: string, ...args: string[]): string {
  const argv = ns === undefined ? [cmd, ...args] : ['netns', 'exec', ns, cmd, ...args];
  return execFileSync(ns === undefined ? cmd : 'ip', ns === undefined ? args : argv, { encoding: 'utf8' });
}

/** TCP segments with a bad checksum a namespace's kernel has seen (InCsumErrors of /proc/net/snmp). */
function tcpCsumErrors(ns: string): number {
  const rows = sh(ns, 'cat', '/proc/net/snmp')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'))
    .map((l) => l.trim().split(/\s+/));
  const i = rows[0]!.indexOf('InCsumErrors');
  assert.ok(i > 0 && rows[1], 'InCsumErrors in /proc/net/snmp');
  return Number(rows[1][i]);
}

test('GSO super-frames through the load balancer: addresses rewritten in partial checksums, every segment checked by the receiving kernel', {
  skip: skip || ethtoolSkip,
  timeout: 180_000,
}, async (t) => {
  // B keeps its offloads (TSO: it sends 64 KiB super-frames with partial checksums). On A's
  // side the offloads are off where it matters: the root-side veth cannot segment or checksum
  // (the kernel does both in software on nfchain's transmit) and A's eth0 does not trust
  // checksums, so A's TCP verifies every segment — a wrong pseudo-header update fails them all.
  const tb = testbedUp(name());
  const vip = '10.201.0.100';
  const dir = mkdtempSync(join(tmpdir(), 'nfc-lb-'));
  const tcpdump = findTool('tcpdump');
  const tshark = findTool('tshark');
  const capture = join(dir, 'a.pcap');
  let cap: ReturnType<typeof spawn> | undefined;
  let capDone: Promise<unknown> = Promise.resolve();
  try {
    sh(undefined, findTool('ethtool')!, '-K', tb.ifA, 'tx', 'off', 'tso', 'off', 'gso', 'off');
    sh(tb.nsA, findTool('ethtool')!, '-K', 'eth0', 'rx', 'off');
    sh(tb.nsA, 'ip', 'neigh', 'replace', vip, 'lladdr', tb.macB, 'dev', 'eth0');
    const before = tcpCsumErrors(tb.nsA);
    writeFileSync(join(dir, 'lb.yaml'), `vip: ${vip}\nbackends:\n  - { ip: ${tb.ipB} }\n`);
    const server = await httpServer(tb.nsB, tb.ipB, 32 * 1024 * 1024);
    if (tcpdump) {
      cap = spawn(
        'ip',
        ['netns', 'exec', tb.nsA, tcpdump, '-i', 'eth0', '-nn', '-s', '200', '-c', '3000', '-w', capture, 'tcp'],
        { stdio: 'ignore' },
      );
      capDone = new Promise((r) => cap!.once('exit', r));
      await new Promise((r) => setTimeout(r, 500));
    }
    let got: Fetched | undefined;
    try {
      const { missing, status } = await withChain(
        topo(
          tb,
          [
            {
              name: 'lb',
              module: NFS('load-balancer'),
              service: 1,
              options: { config: join(dir, 'lb.yaml'), interval: 0 },
            },
            { name: 'bridge', module: NFS('bridge'), service: 2 },
          ],
          ['lb', 'bridge'],
        ),
        async () => {
          const r = httpFetch(tb.nsA, vip, 150_000);
          assert.ok(r.ok, r.ok ? '' : r.why);
          got = r.got;
        },
      );
      assert.ok(got, 'the download ran');
      assert.equal(got.sha256, got.expect, 'content intact');
      assert.equal(missing, 0, 'every buffer back in the pool');
      const [pa, pb] = status.ports;
      assert.ok(
        pb!.rxBytes / pb!.rxPackets > 3000,
        `B sent super-frames through nfchain (${(pb!.rxBytes / pb!.rxPackets).toFixed(0)} B per frame)`,
      );
      assert.ok(pa!.txPackets > 0);
    } finally {
      server.kill('SIGKILL');
    }
    assert.equal(tcpCsumErrors(tb.nsA) - before, 0, "A's TCP found no bad checksum");
    if (cap && tshark) {
      cap.kill('SIGINT'); // it may have stopped by itself at -c
      await capDone;
      const bad = spawnSync(
        tshark,
        [
          '-r',
          capture,
          '-o',
          'tcp.check_checksum:TRUE',
          '-o',
          'ip.check_checksum:TRUE',
          '-Y',
          `ip.src == ${vip} && (tcp.checksum.status == "Bad" || ip.checksum.status == "Bad")`,
        ],
        { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' },
      );
      assert.equal(bad.status, 0, bad.stderr);
      assert.equal(
        bad.stdout.trim(),
        '',
        "tshark finds no bad checksum in what A received (A's own packets carry partial ones: its offloads are on)",
      );
      const all = spawnSync(tshark, ['-r', capture, '-Y', `ip.src == ${vip}`], {
        encoding: 'utf8',
        timeout: 60_000,
        killSignal: 'SIGKILL',
      });
      assert.ok(all.stdout.trim().split('\n').length > 100, 'the capture holds the download, from the VIP');
    } else {
      t.diagnostic(
        `tshark or tcpdump missing: the capture was not checked (${tcpdump ? 'tshark' : 'tcpdump'} not installed)`,
      );
    }
  } finally {
    cap?.kill('SIGKILL');
    testbedDown(tb.name);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a super-frame with no jumbo buffer to go to is dropped and counted (pool.jumbos 0)', {
  skip,
  timeout: 60_000,
}, async () => {
  const tb = testbedUp(name());
  const server = await httpServer(tb.nsB, tb.ipB, 8 * 1024 * 1024);
  try {
    let r: ReturnType<typeof httpFetch> | undefined;
    const { missing, status } = await withChain(
      topo(tb, [{ name: 'bridge', module: NFS('bridge'), service: 1 }], ['bridge'], 'af_packet', { jumbos: 0 }),
      async () => {
        r = httpFetch(tb.nsA, tb.ipB, 5_000);
      },
    );
    assert.ok(r && !r.ok, 'TCP cannot pass when super-frames cannot');
    assert.ok(status.ports[1]!.rxOversize > 0, "B's super-frames are counted as oversize");
    assert.equal(missing, 0);
  } finally {
    server.kill('SIGKILL');
    testbedDown(tb.name);
  }
});

test('an af_packet port on a missing or down interface is refused before anything starts', {
  skip,
  timeout: 30_000,
}, () => {
  const missing = `nx${randomBytes(3).toString('hex')}`;
  assert.throws(
    () =>
      validateTopology(
        {
          ports: [{ name: 'a', driver: 'af_packet', interface: missing }],
          nfs: [{ name: 'f', module: VERDICT, service: 1 }],
          chain: ['f'],
        },
        '<test>',
      ),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_TOPOLOGY' &&
      new RegExp(`interface "${missing}" does not exist`).test(e.message),
  );
  const down = `dn${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['link', 'add', down, 'type', 'veth', 'peer', 'name', `${down}p`]);
  try {
    assert.throws(
      () =>
        validateTopology(
          {
            ports: [{ name: 'a', driver: 'af_packet', interface: down }],
            nfs: [{ name: 'f', module: VERDICT, service: 1 }],
            chain: ['f'],
          },
          '<test>',
        ),
      (e: unknown) =>
        e instanceof NfcError &&
        new RegExp(`interface "${down}" is down[\\s\\S]*ip link set ${down} up`).test(e.message),
    );
  } finally {
    execFileSync('ip', ['link', 'del', down]);
  }
});
