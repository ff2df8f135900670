/**
 * bench speed: OpenNetVM's speed test. K speed-tester NF processes (nfs/speed-tester) pass a
 * fixed set of packets round a circle (service 1 → 2 → … → K → 1; each NF creates --packets
 * of them, as OpenNetVM's speed_tester instances do), each NF enqueueing
 * straight into the next one's ring: no port and no manager loop on the path. Reported: the
 * packets per second each NF handles (the circle's rate; the slowest NF), measured from the
 * NFs' counters over a window after a warm-up; `aggregate` is the sum over the NFs. With
 * --fuse on, the K instances run in one process, a fused group: a hop is then a function call
 * (and every MAX_GROUP_HOPS hops one pass round the group's ring); each member's rate is the
 * group's handled packets (entries from its ring plus hops inside) over K. A process holds at
 * most 1024 packets, so fused, each member creates at most 1024 / K of them.
 *
 *   nfchain bench speed [--nfs 1,3] [--fuse off,on] [--packets 1024] [--seconds 3] [--runs R]
 *                       [--poll busy|adaptive] [--json]
 */
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { measureWindow } from './window.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, POLL_FLAG, median, runsFlag, type BenchResult } from './common.js';

function speedTester(): string {
  const js = fileURLToPath(new URL('../nfs/speed-tester/index.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('../../nfs/speed-tester/index.ts', import.meta.url));
}

async function once(
  k: number,
  fuse: boolean,
  packets: number,
  seconds: number,
  poll: 'adaptive' | 'busy',
): Promise<{ perNf: number; aggregate: number }> {
  const fused = fuse && k > 1;
  const topo = validateTopology(
    {
      name: `bench-speed-${randomUUID().slice(0, 8)}`,
      pool: { count: 32768 },
      manager: { statsInterval: 0, poll },
      ports: [{ name: 'none', driver: 'null' }],
      nfs: Array.from({ length: k }, (_, i) => ({
        name: `st${i + 1}`,
        module: speedTester(),
        service: i + 1,
        options: { destination: ((i + 1) % k) + 1, packets, interval: 0 },
        ...(fused ? { fuse: 'circle' } : {}),
      })),
      chain: [1],
    },
    '<bench>',
  );
  const { a, b } = await measureWindow(topo, seconds);
  const dt = b.time - a.time;
  if (fused) {
    const g = b.nfs[0]!.counters;
    const g0 = a.nfs[0]!.counters;
    const handled = (g.rx ?? 0) + (g.fused ?? 0) - (g0.rx ?? 0) - (g0.fused ?? 0);
    const aggregate = handled / dt / 1e6;
    return { perNf: aggregate / k, aggregate };
  }
  const rates = b.nfs.map(
    (n) => ((n.counters.rx ?? 0) - (a.nfs.find((x) => x.nfId === n.nfId)?.counters.rx ?? 0)) / dt / 1e6,
  );
  const perNf = Math.min(...rates);
  const aggregate = rates.reduce((x, y) => x + y, 0);
  return { perNf, aggregate };
}

export const SPEED_FLAGS = flagSpecs([
  {
    name: 'nfs',
    kind: 'list',
    of: 'integer',
    min: 1,
    default: [1, 3],
    value: 'K,...',
    help: 'speed-tester NFs in the circle',
  },
  {
    name: 'fuse',
    kind: 'list',
    of: 'string',
    choices: ['off', 'on'],
    default: ['off'],
    value: 'off|on,...',
    help: 'off: a process per NF; on: the K NFs in one process (a fused group); off,on measures both',
  },
  {
    name: 'packets',
    kind: 'integer',
    min: 1,
    default: 1024,
    value: 'N',
    help: 'packets each NF creates (fused: at most 1024 / K)',
  },
  { name: 'seconds', kind: 'number', default: 3, value: 'S', help: 'the measured window' },
  POLL_FLAG,
  runsFlag(3),
  JSON_FLAG,
]);

export async function speedBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const {
    nfs: ks,
    fuse: fuses,
    packets,
    seconds,
    poll,
    runs: nRuns,
    json,
  } = benchArgs('speed', argv, SPEED_FLAGS).values;
  const out: BenchResult[] = [];
  for (const k of ks)
    for (const fuse of fuses) {
      const runs: number[] = [];
      const aggs: number[] = [];
      const each = fuse === 'on' && k > 1 ? Math.min(packets, Math.floor(1024 / k)) : packets;
      for (let r = 0; r < nRuns; r++) {
        const x = await once(k, fuse === 'on', each, seconds, poll);
        runs.push(x.perNf);
        aggs.push(x.aggregate);
      }
      const rate = median(runs);
      const res: BenchResult = {
        bench: 'speed',
        params: { nfs: k, fuse, packets: each, poll },
        rate,
        unit: 'mpps',
        nsPerItem: 1000 / rate,
        runs,
        extra: { aggregateMpps: Number(median(aggs).toFixed(3)) },
      };
      emit(res, json);
      out.push(res);
    }
  return out;
}
