/**
 * bench chain: gen → K NFs that parse headers → null, through the manager (its RX and TX
 * loops in worker threads), everything on this machine; the K NFs as K processes (--fuse off)
 * or as one fused group in one process (--fuse on), or that group run inline in the manager's
 * data-plane loop (--fuse inline: receive, NFs and send in one thread). Reported: packets per second leaving the
 * null port, measured over a window after a warm-up. With several values for --nfs or --fuse,
 * every combination is measured in each run, in turn, so they share the machine's moods.
 *
 * What watching costs: --watch off runs the manager without its samples and without HTTP;
 * --watch on samples (every 250 ms), serves HTTP on loopback and has it scraped as Prometheus
 * and an open console would (GET /metrics every second, /api/status twice a second,
 * /api/events followed).
 * Each line also gives mainCpuMsPerS: CPU the main thread used per second (median).
 * --latency off turns arrival stamps and latency histograms off (manager.latency: false).
 *
 *   nfchain bench chain [--nfs 1,3,5] [--fuse off,on,inline] [--size 64] [--seconds S] [--runs R]
 *                       [--poll adaptive|busy] [--dataplane auto|split|combined]
 *                       [--watch off,on] [--latency on,off] [--json]
 */
import { fileURLToPath } from 'node:url';
import { measureWindow } from './window.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, POLL_FLAG, median, runsFlag, type BenchResult } from './common.js';
import { randomUUID } from 'node:crypto';
import type { Manager } from '../src/manager/manager.js';
import { NfcError } from '../src/errors.js';
import { spawn } from 'node:child_process';

const PARSE_NF = fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url));

type Dataplane = 'auto' | 'split' | 'combined';

/**
 * The scraper, as its own process (as Prometheus and a browser are): GET /metrics every second
 * (Prometheus) and /api/status twice a second (the console), the event stream followed; one
 * line on stdout per answer.
 */
const SCRAPER = `
const base = process.argv[1];
const say = () => process.stdout.write('.\\n');
const get = async (p) => { const r = await fetch(new URL(p, base)); await r.arrayBuffer(); if (r.ok) say(); };
const fail = (e) => process.stderr.write(String(e));
fetch(new URL('/api/events', base)).then(async (r) => { for await (const _c of r.body) say(); }).catch(() => {});
get('/metrics').catch(fail);
get('/api/status').catch(fail);
setInterval(() => get('/metrics').catch(fail), 1000);
setInterval(() => get('/api/status').catch(fail), 500);
`;

/** Starts the scraper against the manager's endpoint; returns how to stop it (which checks it got answers). */
function scrape(m: Manager): () => Promise<void> {
  const base = m.status().http?.url;
  if (!base) throw new NfcError('NFC_ERR_BENCH', 'bench chain --watch on: the manager has no HTTP endpoint');
  const child = spawn(process.execPath, ['-e', SCRAPER, base], { stdio: ['ignore', 'pipe', 'inherit'] });
  let answers = 0;
  child.stdout.on('data', (d: Buffer) => {
    for (const c of d) if (c === 0x0a) answers++;
  });
  const exited = new Promise((r) => child.once('exit', r));
  return async () => {
    child.kill('SIGKILL');
    await exited;
    if (answers === 0) throw new NfcError('NFC_ERR_BENCH', 'bench chain --watch on: the scraper got no answer');
  };
}

async function once(
  nfs: number,
  fuse: 'off' | 'on' | 'inline',
  size: number,
  seconds: number,
  poll: 'adaptive' | 'busy',
  dataplane: Dataplane,
  watch: boolean,
  latency: boolean,
): Promise<{ mpps: number; mainCpuMs: number }> {
  const topo = validateTopology(
    {
      name: `bench-chain-${randomUUID().slice(0, 8)}`,
      pool: { count: 32768 },
      manager: { statsInterval: 0, poll, dataplane, latency, ...(watch ? { http: '127.0.0.1:0' } : {}) },
      ports: [
        { name: 'gen', driver: 'gen', rate: 0, sizes: [size], flows: 1024 },
        { name: 'sink', driver: 'null' },
      ],
      // A group needs two NFs: one NF "fused" is one NF.
      nfs: Array.from({ length: nfs }, (_, i) => ({
        name: `p${i + 1}`,
        module: PARSE_NF,
        service: i + 1,
        ...(fuse !== 'off' && nfs > 1 ? { fuse: 'chain' } : {}),
        ...(fuse === 'inline' ? { inline: true } : {}),
      })),
      chain: [...Array.from({ length: nfs }, (_, i) => i + 1), 'port:sink'],
    },
    '<bench>',
  );
  const { a, b, mainCpuMs } = await measureWindow(topo, seconds, {
    observe: watch,
    ...(watch ? { during: scrape } : {}),
  });
  const mpps = (b.ports[1]!.txPackets - a.ports[1]!.txPackets) / (b.time - a.time) / 1e6;
  return { mpps, mainCpuMs };
}

export const CHAIN_FLAGS = flagSpecs([
  {
    name: 'nfs',
    kind: 'list',
    of: 'integer',
    min: 1,
    max: 31,
    default: [3],
    value: 'K,...',
    help: 'header-parsing NFs in the chain (1..31); a list measures each',
  },
  {
    name: 'fuse',
    kind: 'list',
    of: 'string',
    choices: ['off', 'on', 'inline'],
    default: ['off'],
    value: 'off|on|inline,...',
    help: "off: one process per NF; on: all of them in one fused group; inline: that group in the manager's loop",
  },
  {
    name: 'dataplane',
    kind: 'string',
    choices: ['auto', 'split', 'combined'],
    default: 'auto',
    help: "the manager's RX and TX loops in one thread or two (manager.dataplane)",
  },
  {
    name: 'watch',
    kind: 'list',
    of: 'string',
    choices: ['off', 'on'],
    default: ['off'],
    value: 'off|on,...',
    help: 'on: samples and HTTP, scraped as Prometheus and an open console do; off: neither',
  },
  {
    name: 'latency',
    kind: 'list',
    of: 'string',
    choices: ['on', 'off'],
    default: ['on'],
    value: 'on|off,...',
    help: 'arrival stamps and latency histograms (manager.latency)',
  },
  { name: 'size', kind: 'integer', min: 1, default: 64, value: 'B', help: 'frame size of the generated packets' },
  { name: 'seconds', kind: 'number', default: 3, value: 'S', help: 'the measured window' },
  POLL_FLAG,
  runsFlag(3),
  JSON_FLAG,
]);

export async function chainBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const v = benchArgs('chain', argv, CHAIN_FLAGS).values;
  const { size, seconds, poll, runs: nRuns, json } = v;
  const dataplane = v.dataplane as Dataplane;
  const combos = v.nfs.flatMap((nfs) =>
    v.fuse.flatMap((fuse) => v.watch.flatMap((watch) => v.latency.map((latency) => ({ nfs, fuse, watch, latency })))),
  );
  const runs = combos.map(() => [] as number[]);
  const cpu = combos.map(() => [] as number[]);
  for (let r = 0; r < nRuns; r++) {
    for (let c = 0; c < combos.length; c++) {
      const { nfs, fuse, watch, latency } = combos[c]!;
      const f = fuse as 'off' | 'on' | 'inline';
      const r = await once(nfs, f, size, seconds, poll, dataplane, watch === 'on', latency === 'on');
      runs[c]!.push(r.mpps);
      cpu[c]!.push(r.mainCpuMs);
    }
  }
  return combos.map(({ nfs, fuse, watch, latency }, c) => {
    const rate = median(runs[c]!);
    const res: BenchResult = {
      bench: 'chain',
      params: { nfs, fuse, size, poll, dataplane, watch, latency },
      rate,
      unit: 'mpps',
      nsPerItem: 1000 / rate,
      runs: runs[c]!,
      // the manager's main thread (control, 1-s samples, HTTP): CPU ms per second, median
      extra: { mainCpuMsPerS: Number(median(cpu[c]!).toFixed(1)) },
    };
    emit(res, json);
    return res;
  });
}
