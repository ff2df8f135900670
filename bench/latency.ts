/**
 * bench latency: round-trip time through a chain between two network namespaces, with the Linux
 * kernel bridge on the same veths as the reference, in one run (a testbed this benchmark makes
 * with the hosts' default offloads, and removes).
 *
 * The probe (latency-probe.ts) in namespace A sends ICMP echo requests to B, one every
 * `--interval-us` (default 1000), and takes each reply's time from the kernel's receive stamp;
 * B's kernel answers. Reported per path: p50, p99, p99.9 and max of the RTT in µs, and the
 * average. Paths: the kernel bridge, and nfchain with each port driver (af_packet; af_xdp when
 * the addon has libxdp) and a chain of 1, 3 or 5 NFs (bridge; basic-monitor, simple-forward ...,
 * bridge). Load: none, or a 64-byte UDP stream from A to B at a share of that path's top rate
 * (measured first in the same run with the blaster at full speed), sent by a paced blaster.
 *
 * `--mode`: the NFs as a process each, as one fused group, or that group run inline by the
 * manager's loop (receive, NFs, send in one thread).
 *
 *   nfchain bench latency [--nfs 1,3,5] [--mode processes,inline] [--poll adaptive|busy]
 *                         [--driver af_packet,af_xdp] [--load 0,10,50,90]
 *                         [--count 2000] [--interval-us 1000] [--json]
 *
 * Output: `latency path=P driver=D nfs=N load=L: p50 X µs, p99 Y µs, p99.9 Z µs, max W µs`;
 * with --json one line each: { bench: "latency", path, driver, nfs, mode, load, p50Us, p99Us,
 * p999Us, maxUs, avgUs, lost, loadPps }.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { NfcError } from '../src/errors.js';
import { netnsSupport, testbedDown, testbedUp, type Testbed } from '../src/testbed/testbed.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, JSON_FLAG, POLL_FLAG } from './common.js';
import { blasterArgs, rxPackets, testbedChain, withKernelBridge, withTopology } from './wire.js';
import { native } from '../src/native.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = join(root, 'dist/bench/latency-probe.js');
const NFS = (n: string): string => join(root, `dist/nfs/${n}/index.js`);

export interface LatencyRow {
  bench: 'latency';
  path: 'kernel-bridge' | 'nfchain';
  driver: string;
  nfs: number;
  /** how the NFs ran (nfchain paths) */
  mode: Mode | '-';
  load: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  avgUs: number;
  lost: number;
  loadPps: number;
}

/** The q-quantile of sorted xs (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** The path's top rate: 64-byte UDP A → B at full speed for 2 s, as B received it (pps). */
function topRate(tb: Testbed): number {
  const before = rxPackets(tb.nsB);
  const t0 = performance.now();
  const r = spawnSync('ip', blasterArgs(tb, 2, 64), { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new NfcError('NFC_ERR_BENCH', `blaster failed: ${r.stderr}`);
  return (rxPackets(tb.nsB) - before) / ((performance.now() - t0) / 1000);
}

/** Probes `count` echoes, with a paced load of `pps` (0: none) running meanwhile. */
async function probe(
  tb: Testbed,
  count: number,
  intervalUs: number,
  pps: number,
): Promise<{ rtt: number[]; lost: number }> {
  const seconds = Math.ceil((count * intervalUs) / 1e6) + 2;
  const load = pps > 0 ? spawn('ip', blasterArgs(tb, seconds, 64, pps), { stdio: 'ignore' }) : null;
  try {
    if (load) await new Promise((r) => setTimeout(r, 300));
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        tb.nsA,
        process.execPath,
        PROBE,
        'eth0',
        tb.macA,
        tb.macB,
        tb.ipA,
        tb.ipB,
        String(count),
        String(intervalUs),
      ],
      { encoding: 'utf8', timeout: seconds * 1000 + 30_000, killSignal: 'SIGKILL' },
    );
    if (r.status !== 0) throw new NfcError('NFC_ERR_BENCH', `latency probe failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { sent: number; received: number; rttUs: number[] };
    return { rtt: out.rttUs.sort((a, b) => a - b), lost: out.sent - out.received };
  } finally {
    load?.kill('SIGKILL');
  }
}

/** How the chain's NFs run: a process each, one fused group, or that group inline in the manager's loop. */
type Mode = 'processes' | 'fused' | 'inline';

/** The chain of `n` NFs: monitor, forwards, bridge (n = 1: bridge alone), run as `mode` says. */
function chainOf(n: number, mode: Mode): Record<string, unknown>[] {
  const nfs: Record<string, unknown>[] = [];
  if (n >= 2) nfs.push({ name: 'monitor', module: NFS('basic-monitor'), options: { interval: 0 } });
  for (let i = nfs.length; i < n - 1; i++) nfs.push({ name: `forward${i}`, module: NFS('simple-forward') });
  nfs.push({ name: 'bridge', module: NFS('bridge') });
  return nfs.map((nf, i) => ({
    ...nf,
    service: i + 1,
    ...(mode !== 'processes' && n > 1 ? { fuse: 'chain' } : {}),
    ...(mode === 'inline' ? { inline: true } : {}),
  }));
}

async function withNfchain<T>(
  tb: Testbed,
  driver: string,
  n: number,
  mode: Mode,
  poll: 'adaptive' | 'busy',
  f: () => Promise<T>,
): Promise<T> {
  const topo = testbedChain(tb, driver, chainOf(n, mode), `lat-${tb.name}`, '<bench latency>', poll);
  return withTopology(topo, f, 500); // the NFs' first packets (JIT) aside
}

export const LATENCY_FLAGS = flagSpecs([
  {
    name: 'nfs',
    kind: 'list',
    of: 'integer',
    min: 1,
    max: 16,
    default: [1, 3, 5],
    value: 'K,...',
    help: 'NFs in the chain',
  },
  {
    name: 'driver',
    kind: 'list',
    choices: ['af_packet', 'af_xdp'],
    value: 'D,...',
    help: "nfchain's port drivers (default af_packet, and af_xdp when the addon has it)",
  },
  {
    name: 'mode',
    kind: 'list',
    choices: ['processes', 'fused', 'inline'],
    default: ['processes', 'inline'],
    value: 'M,...',
    help: "the NFs as a process each, as one fused group, or that group inline in the manager's loop",
  },
  {
    name: 'load',
    kind: 'list',
    of: 'number',
    min: 0,
    default: [0, 10, 50, 90],
    value: 'L,...',
    help: "background UDP load, percent of the path's top rate (below 100)",
  },
  { name: 'count', kind: 'integer', min: 10, default: 2000, value: 'N', help: 'echoes per measurement' },
  {
    ...POLL_FLAG,
    help: "the manager's and NFs' polling: adaptive (sleep when idle) or busy (refused when loops outnumber cores)",
  },
  { name: 'interval-us', kind: 'number', min: 100, default: 1000, value: 'US', help: 'between two echoes (µs)' },
  JSON_FLAG,
]);

export async function latencyBenchFromArgv(argv: readonly string[]): Promise<LatencyRow[]> {
  const v = benchArgs('latency', argv, LATENCY_FLAGS).values;
  const support = netnsSupport();
  if (!support.ok) throw new NfcError('NFC_ERR_BENCH', `bench latency needs network namespaces: ${support.reason}`);
  const { nfs: nfsList, load: loads, count, json } = v;
  const intervalUs = v['interval-us'];
  const drivers = v.driver.length ? v.driver : native().xdpAvailable() ? ['af_packet', 'af_xdp'] : ['af_packet'];
  for (const l of loads)
    if (!(l >= 0 && l < 100))
      throw new NfcError('NFC_ERR_USAGE', `--load ${l}: a share of the top rate in percent, 0..99`);
  for (const d of drivers) {
    if (d === 'af_xdp' && !native().xdpAvailable())
      throw new NfcError(
        'NFC_ERR_USAGE',
        '--driver af_xdp: this build has no af_xdp (apt-get install libxdp-dev libbpf-dev, then npm rebuild)',
      );
  }

  const tb = testbedUp(`l${randomBytes(3).toString('hex')}`);
  const rows: LatencyRow[] = [];
  const measure = async (path: LatencyRow['path'], driver: string, nfs: number, mode: Mode | '-'): Promise<void> => {
    const top = loads.some((l) => l > 0) ? topRate(tb) : 0;
    for (const load of loads) {
      const pps = Math.round((top * load) / 100);
      const { rtt, lost } = await probe(tb, count, intervalUs, pps);
      const row: LatencyRow = {
        bench: 'latency',
        path,
        driver,
        nfs,
        mode,
        load,
        p50Us: quantile(rtt, 0.5),
        p99Us: quantile(rtt, 0.99),
        p999Us: quantile(rtt, 0.999),
        maxUs: rtt[rtt.length - 1] ?? NaN,
        avgUs: Number((rtt.reduce((a, b) => a + b, 0) / Math.max(1, rtt.length)).toFixed(1)),
        lost,
        loadPps: pps,
      };
      rows.push(row);
      process.stdout.write(
        json
          ? `${JSON.stringify(row)}\n`
          : `latency path=${path} driver=${driver} nfs=${nfs} mode=${mode} load=${load}%${pps ? ` (${pps} pps)` : ''}: p50 ${row.p50Us} µs, p99 ${row.p99Us} µs, p99.9 ${row.p999Us} µs, max ${row.maxUs} µs (avg ${row.avgUs}, lost ${lost} of ${count})\n`,
      );
    }
  };
  try {
    await withKernelBridge(tb, () => measure('kernel-bridge', '-', 0, '-'));
    for (const d of drivers) {
      for (const n of nfsList) {
        for (const mode of v.mode as Mode[]) {
          await withNfchain(tb, d, n, mode, v.poll, () => measure('nfchain', d, n, mode));
        }
      }
    }
  } finally {
    testbedDown(tb.name);
  }
  return rows;
}
