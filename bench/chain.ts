/**
 * bench chain: gen → K NFs that parse headers → null, through the manager (its RX and TX
 * loops in worker threads), everything on this machine; the K NFs as K processes (--fuse off)
 * or as one fused group in one process (--fuse on), or that group run inline in the manager's
 * data-plane loop (--fuse inline: receive, NFs and send in one thread). Reported: packets per second leaving the
 * null port, measured over a window after a warm-up. With several values for --nfs or --fuse,
 * every combination is measured in each run, in turn, so they share the machine's moods.
 *
 *   nfchain bench chain [--nfs 1,3,5] [--fuse off,on,inline] [--size 64] [--seconds S] [--runs R]
 *                       [--poll adaptive|busy] [--dataplane auto|split|combined] [--json]
 */
import { fileURLToPath } from 'node:url';
import { measureWindow } from './window.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, POLL_FLAG, median, runsFlag, type BenchResult } from './common.js';
import { randomUUID } from 'node:crypto';

const PARSE_NF = fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url));

type Dataplane = 'auto' | 'split' | 'combined';

async function once(
  nfs: number,
  fuse: 'off' | 'on' | 'inline',
  size: number,
  seconds: number,
  poll: 'adaptive' | 'busy',
  dataplane: Dataplane,
): Promise<number> {
  const topo = validateTopology(
    {
      name: `bench-chain-${randomUUID().slice(0, 8)}`,
      pool: { count: 32768 },
      manager: { statsInterval: 0, poll, dataplane },
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
  const { a, b } = await measureWindow(topo, seconds);
  const rate = (b.ports[1]!.txPackets - a.ports[1]!.txPackets) / (b.time - a.time) / 1e6;
  return rate;
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
  const combos = v.nfs.flatMap((nfs) => v.fuse.map((fuse) => ({ nfs, fuse })));
  const runs = combos.map(() => [] as number[]);
  for (let r = 0; r < nRuns; r++) {
    for (let c = 0; c < combos.length; c++) {
      const { nfs, fuse } = combos[c]!;
      runs[c]!.push(await once(nfs, fuse as 'off' | 'on' | 'inline', size, seconds, poll, dataplane));
    }
  }
  return combos.map(({ nfs, fuse }, c) => {
    const rate = median(runs[c]!);
    const res: BenchResult = {
      bench: 'chain',
      params: { nfs, fuse, size, poll, dataplane },
      rate,
      unit: 'mpps',
      nsPerItem: 1000 / rate,
      runs: runs[c]!,
    };
    emit(res, json);
    return res;
  });
}
