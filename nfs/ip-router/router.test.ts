/**
 * ip-router end to end: two network namespaces, each a host in its own subnet with a default
 * route via the router, joined by a veth pair to the root namespace, where nfchain's af_packet
 * ports (with the router's addresses) sit on the root-side ends. The manager runs in this
 * process (runTopology); the router NF in its own.
 *
 *   host A (ns nfcr-<pid>-a)                                   host B (ns nfcr-<pid>-b)
 *   eth0 10.X.1.2/24 ── nfcr<pid>a0 ═[port a: 10.X.1.1]═ router ═[port b: 10.X.2.1]═ nfcr<pid>b0 ── eth0 10.X.2.2/24
 *   default via 10.X.1.1                                        default via 10.X.2.1
 *
 * Checked: ping A → B through the router; a few MB over HTTP (a Node server in B, a client in A)
 * arrives intact (SHA-256); a ping with TTL 1 gets Time Exceeded from 10.X.1.1. The hosts'
 * interfaces keep their default offloads (TSO/GSO: the router forwards super-frames).
 *
 * Root only: skipped with the reason otherwise, and when `ip` or `ping` is missing. Every helper
 * process has a SIGKILL deadline; the namespaces and veths are removed in `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { runTopology } from '../../src/cli/start.js';
import { validateTopology } from '../../src/topology/load.js';
import { findTool, isRoot } from '../../src/testbed/testbed.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ROUTER = join(root, 'dist/nfs/ip-router/index.js');
const HTTP_PEER = join(root, 'dist/test/helpers/http-peer.js');

const skip = !isRoot()
  ? 'needs root (network namespaces and af_packet ports)'
  : !findTool('ip')
    ? 'the ip command is missing (apt-get install iproute2)'
    : !findTool('ping')
      ? 'ping is missing (apt-get install iputils-ping)'
      : false;

const pid = process.pid;
const X = 100 + (pid % 150);
const NS_A = `nfcr-${pid}-a`;
const NS_B = `nfcr-${pid}-b`;
const IF_A = `nfcr${pid}a0`;
const IF_B = `nfcr${pid}b0`;
const RA = `10.${X}.1.1`;
const RB = `10.${X}.2.1`;
const HA = `10.${X}.1.2`;
const HB = `10.${X}.2.2`;

/** Runs `ip ...` (or a command in a namespace), with a deadline; throws with its output on failure. */
function sh(cmd: string, args: string[], ns?: string, timeoutMs = 10_000): string {
  const full = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
  const r = spawnSync(ns ? 'ip' : cmd, full, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (r.status !== 0)
    throw new Error(`${ns ? `[${ns}] ` : ''}${cmd} ${args.join(' ')}: ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function up(): void {
  for (const [ns, dev, host, gw] of [
    [NS_A, IF_A, HA, RA],
    [NS_B, IF_B, HB, RB],
  ] as const) {
    sh('ip', ['netns', 'add', ns]);
    // IPv6 off before the links come up: no router solicitations or DAD probes (noise).
    spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'sysctl',
        '-q',
        '-w',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ],
      {
        timeout: 10_000,
        killSignal: 'SIGKILL',
      },
    );
    sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    spawnSync('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`], {
      timeout: 10_000,
      killSignal: 'SIGKILL',
    });
    sh('ip', ['-n', ns, 'addr', 'add', `${host}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gw]);
    sh('ip', ['link', 'set', dev, 'up']);
  }
}

function down(): void {
  for (const dev of [IF_A, IF_B]) spawnSync('ip', ['link', 'del', dev], { timeout: 10_000, killSignal: 'SIGKILL' });
  for (const ns of [NS_A, NS_B]) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000, killSignal: 'SIGKILL' });
}

function ping(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', NS_A, findTool('ping')!, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

async function httpServer(bytes: number): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', NS_B, process.execPath, HTTP_PEER, 'serve', HB, '8080', String(bytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const deadline = setTimeout(() => server.kill('SIGKILL'), 120_000);
  server.on('exit', () => clearTimeout(deadline));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: server.stdout! }).on('line', (l) => {
      if (l === 'ready') resolve();
    });
    server.on('exit', (code) => reject(new Error(`HTTP server exited with ${code}`)));
  });
  return server;
}

test('ip-router between two namespaces: ping, a TCP download intact, Time Exceeded for TTL 1', {
  skip,
  timeout: 180_000,
}, async () => {
  down(); // leftovers of a killed run with this pid
  let server: ChildProcess | undefined;
  try {
    up();
    const topo = validateTopology(
      {
        name: `nfcr-${pid}`,
        manager: { statsInterval: 0 },
        ports: [
          { name: 'a', driver: 'af_packet', interface: IF_A, ipv4: `${RA}/24` },
          { name: 'b', driver: 'af_packet', interface: IF_B, ipv4: `${RB}/24` },
        ],
        nfs: [{ name: 'router', module: ROUTER, service: 1, options: { interval: 0 } }],
        chain: ['router'],
      },
      '<router.test>',
    );
    const results: Record<string, { ok: boolean; out: string }> = {};
    let fetched: { bytes: number; sha256: string; expect: string } | undefined;
    let fetchErr = '';
    let failure: unknown;
    const nfLines: string[] = [];
    await runTopology(topo, {
      signals: false,
      stats: null,
      log: () => {},
      nfOutput: (l: string) => nfLines.push(l),
      onRunning: (m) => {
        void (async () => {
          results.ping = ping(['-c', '3', '-i', '0.2', '-W', '2', HB]);
          results.ttl1 = ping(['-c', '1', '-t', '1', '-W', '2', HB]);
          server = await httpServer(4 * 1024 * 1024);
          const r = spawnSync('ip', ['netns', 'exec', NS_A, process.execPath, HTTP_PEER, 'fetch', HB, '8080'], {
            encoding: 'utf8',
            timeout: 90_000,
            killSignal: 'SIGKILL',
          });
          if (r.status === 0) fetched = JSON.parse(r.stdout) as typeof fetched;
          else fetchErr = `fetch exited with ${r.status ?? r.signal}: ${r.stderr}`;
        })()
          .catch((e: unknown) => {
            failure = e;
          })
          .finally(() => setTimeout(() => void m.stop('test over'), 200));
      },
    });
    if (failure) throw failure;
    const ctxLog = `\nNF output:\n${nfLines.slice(-20).join('\n')}`;
    assert.ok(results.ping!.ok, `ping through the router failed:\n${results.ping!.out}${ctxLog}`);
    assert.match(results.ping!.out, /3 packets transmitted, 3 received/);
    assert.match(
      results.ttl1!.out,
      new RegExp(`From ${RA.replace(/\./g, '\\.')}.*Time to live exceeded`, 'i'),
      results.ttl1!.out,
    );
    assert.ok(fetched, `the download failed: ${fetchErr}${ctxLog}`);
    assert.equal(fetched.bytes, 4 * 1024 * 1024);
    assert.equal(fetched.sha256, fetched.expect, 'the bytes arrived intact');
  } finally {
    server?.kill('SIGKILL');
    down();
  }
});
