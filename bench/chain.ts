/**
 * bench chain: gen → 3 NF processes that parse headers → null, through the manager (RX and
 * TX loops in worker threads), everything on this machine. Reported: packets per second
 * leaving the null port, measured over a window after a warm-up.
 *
 *   nfchain bench chain [--nfs K] [--size 64] [--seconds S] [--runs R] [--poll adaptive|busy] [--json]
 */
import { fileURLToPath } from 'node:url';
import { measureWindow } from './window.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, POLL_FLAG, median, runsFlag, type BenchResult } from './common.js';
import { randomUUID } from 'node:crypto';

const PARSE_NF = fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url));

async function once(nfs: number, size: number, seconds: number, poll: 'adaptive' | 'busy'): Promise<number> {
  const topo = validateTopology(
    {
      name: `bench-chain-${randomUUID().slice(0, 8)}`,
      pool: { count: 32768 },
      manager: { statsInterval: 0, poll },
      ports: [
        { name: 'gen', driver: 'gen', rate: 0, sizes: [size], flows: 1024 },
        { name: 'sink', driver: 'null' },
      ],
      nfs: Array.from({ length: nfs }, (_, i) => ({ name: `p${i + 1}`, module: PARSE_NF, service: i + 1 })),
      chain: [...Array.from({ length: nfs }, (_, i) => i + 1), 'port:sink'],
    },
    '<bench>',
  );
  const { a, b } = await measureWindow(topo, seconds);
  const rate = (b.ports[1]!.txPackets - a.ports[1]!.txPackets) / (b.time - a.time) / 1e6;
  return rate;
}

export const CHAIN_FLAGS = flagSpecs([
  { name: 'nfs', kind: 'integer', min: 1, default: 3, value: 'K', help: 'header-parsing NF processes in the chain' },
  { name: 'size', kind: 'integer', min: 1, default: 64, value: 'B', help: 'frame size of the generated packets' },
  { name: 'seconds', kind: 'number', default: 3, value: 'S', help: 'the measured window' },
  POLL_FLAG,
  runsFlag(3),
  JSON_FLAG,
]);

export async function chainBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { nfs, size, seconds, poll, runs: nRuns, json } = benchArgs('chain', argv, CHAIN_FLAGS).values;
  const runs: number[] = [];
  for (let r = 0; r < nRuns; r++) runs.push(await once(nfs, size, seconds, poll));
  const rate = median(runs);
  const res: BenchResult = {
    bench: 'chain',
    params: { nfs, size, poll },
    rate,
    unit: 'mpps',
    nsPerItem: 1000 / rate,
    runs,
  };
  emit(res, json);
  return [res];
}
