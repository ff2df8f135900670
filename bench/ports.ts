/**
 * bench ports: nfchain between two network namespaces vs the Linux kernel bridge on the same
 * veths, in one run (a testbed this benchmark makes and removes).
 *
 *   udp64: a blaster in A sends 64-byte UDP frames to B as fast as one core can; reported is
 *          what B's interface received per second. nfchain: the `bridge` NF over each port
 *          driver (af_packet; af_xdp when the addon has libxdp).
 *   tcp:   B serves a 200 MB download to A over HTTP (real TCP, offloads off on every veth);
 *          reported is the goodput in Gbit/s. nfchain: a 3-NF chain (basic-monitor →
 *          simple-forward → bridge) over each port driver.
 *
 *   nfchain bench ports [--seconds S] [--mbytes M] [--runs R] [--json]
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { NfcError } from '../src/errors.js';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import { netnsSupport, testbedDown, testbedUp, type Testbed } from '../src/testbed/testbed.js';
import type { Manager } from '../src/manager/manager.js';
import { emit, median, parseFlags, type BenchResult } from './common.js';
import { native } from '../src/native.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BLASTER = join(root, 'dist/bench/blaster.js');
const HTTP_PEER = join(root, 'dist/test/helpers/http-peer.js');
const NFS = (n: string): string => join(root, `dist/nfs/${n}/index.js`);

function rxPackets(ns: string): number {
  const j = JSON.parse(execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', 'eth0'], { encoding: 'utf8' })) as { stats64: { rx: { packets: number } } }[];
  return j[0]!.stats64.rx.packets;
}

/** Blasts A → B for `seconds`; returns packets per second B received. */
function udp(tb: Testbed, seconds: number): number {
  const before = rxPackets(tb.nsB);
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', tb.nsA, process.execPath, BLASTER, 'eth0', tb.macA, tb.macB, tb.ipA, tb.ipB, String(seconds), '64'], { encoding: 'utf8' });
  if (r.status !== 0) throw new NfcError('NFC_ERR_BENCH', `blaster failed: ${r.stderr}`);
  const dt = (performance.now() - t0) / 1000;
  return (rxPackets(tb.nsB) - before) / dt;
}

/** Downloads `mbytes` MB from B to A; returns goodput in Gbit/s. */
async function tcp(tb: Testbed, mbytes: number): Promise<number> {
  const port = String(8000 + Math.floor(Math.random() * 1000));
  const server = spawn('ip', ['netns', 'exec', tb.nsB, process.execPath, HTTP_PEER, 'serve', tb.ipB, port, String(mbytes * 1024 * 1024)], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (l) => { if (l === 'ready') resolve(); });
      server.on('exit', (c) => reject(new NfcError('NFC_ERR_BENCH', `HTTP server exited with ${c}`)));
    });
    const r = spawnSync('ip', ['netns', 'exec', tb.nsA, process.execPath, HTTP_PEER, 'fetch', tb.ipB, port], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new NfcError('NFC_ERR_BENCH', `download failed: ${r.stderr}`);
    const got = JSON.parse(r.stdout) as { bytes: number; sha256: string; expect: string; ms: number };
    if (got.sha256 !== got.expect) throw new NfcError('NFC_ERR_BENCH', 'download corrupted');
    return (got.bytes * 8) / (got.ms / 1000) / 1e9;
  } finally {
    server.kill('SIGTERM');
  }
}

async function withKernelBridge<T>(tb: Testbed, f: () => Promise<T> | T): Promise<T> {
  const br = `${tb.name}-br`;
  execFileSync('ip', ['link', 'add', br, 'type', 'bridge']);
  try {
    execFileSync('ip', ['link', 'set', tb.ifA, 'master', br]);
    execFileSync('ip', ['link', 'set', tb.ifB, 'master', br]);
    execFileSync('ip', ['link', 'set', br, 'up']);
    return await f();
  } finally {
    execFileSync('ip', ['link', 'del', br]);
  }
}

async function withNfchain<T>(tb: Testbed, driver: 'af_packet' | 'af_xdp', chain: 'bridge' | 'chain3', f: () => Promise<T> | T): Promise<T> {
  const nfs = chain === 'bridge'
    ? [{ name: 'bridge', module: NFS('bridge'), service: 1 }]
    : [
      { name: 'monitor', module: NFS('basic-monitor'), service: 1, options: { interval: 0 } },
      { name: 'forward', module: NFS('simple-forward'), service: 2 },
      { name: 'bridge', module: NFS('bridge'), service: 3 },
    ];
  const topo = validateTopology({
    name: `bench-${tb.name}`,
    manager: { statsInterval: 0 },
    ports: [{ name: 'a', driver, interface: tb.ifA }, { name: 'b', driver, interface: tb.ifB }],
    nfs, chain: nfs.map((n) => n.name),
  }, '<bench>');
  let out: T | undefined;
  let failure: unknown;
  await runTopology(topo, {
    signals: false, stats: null, log: () => {}, nfOutput: () => {},
    onRunning: (m: Manager) => {
      void (async () => {
        try {
          out = await f();
        } catch (err) {
          failure = err;
        }
        void m.stop('benchmark over');
      })();
    },
  });
  if (failure) throw failure;
  return out as T;
}

export async function portsBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const f = parseFlags(argv);
  const support = netnsSupport();
  if (!support.ok) throw new NfcError('NFC_ERR_BENCH', `bench ports needs network namespaces: ${support.reason}`);
  const seconds = Number(f.get('seconds') ?? 3);
  const mbytes = Number(f.get('mbytes') ?? 200);
  const runs = Number(f.get('runs') ?? 3);
  const json = f.has('json');
  const tb = testbedUp(`b${randomBytes(3).toString('hex')}`);
  const out: BenchResult[] = [];
  try {
    const drivers = native().xdpAvailable() ? (['af_packet', 'af_xdp'] as const) : (['af_packet'] as const);
    const udpK: number[] = [];
    const tcpK: number[] = [];
    const udpN = new Map<string, number[]>(drivers.map((d) => [d, []]));
    const tcpN = new Map<string, number[]>(drivers.map((d) => [d, []]));
    for (let r = 0; r < runs; r++) {
      udpK.push(await withKernelBridge(tb, () => udp(tb, seconds)));
      tcpK.push(await withKernelBridge(tb, () => tcp(tb, mbytes)));
      for (const d of drivers) {
        udpN.get(d)!.push(await withNfchain(tb, d, 'bridge', () => udp(tb, seconds)));
        tcpN.get(d)!.push(await withNfchain(tb, d, 'chain3', () => tcp(tb, mbytes)));
      }
    }
    const uk = median(udpK) / 1e6;
    const tk = median(tcpK);
    const rows: BenchResult[] = [
      { bench: 'ports', params: { test: 'udp64', path: 'kernel-bridge' }, rate: uk, unit: 'mpps', nsPerItem: 1000 / uk, runs: udpK.map((x) => x / 1e6) },
      { bench: 'ports', params: { test: 'tcp', path: 'kernel-bridge' }, rate: tk, unit: 'gbps', nsPerItem: 0, runs: tcpK },
    ];
    for (const d of drivers) {
      const u = median(udpN.get(d)!) / 1e6;
      const t = median(tcpN.get(d)!);
      rows.push(
        { bench: 'ports', params: { test: 'udp64', path: `nfchain-${d}-bridge` }, rate: u, unit: 'mpps', nsPerItem: 1000 / u, runs: udpN.get(d)!.map((x) => x / 1e6), extra: { ratio: Number((u / uk).toFixed(3)) } },
        { bench: 'ports', params: { test: 'tcp', path: `nfchain-${d}-3nf` }, rate: t, unit: 'gbps', nsPerItem: 0, runs: tcpN.get(d)!, extra: { ratio: Number((t / tk).toFixed(3)) } },
      );
    }
    for (const r of rows) {
      emit(r, json);
      out.push(r);
    }
  } finally {
    testbedDown(tb.name);
  }
  return out;
}
