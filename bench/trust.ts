/**
 * bench trust: gen → 3 header-parsing NF processes → null through the manager, with the middle
 * NF trusted (it maps the pool read-write and routes its packets itself) or read-only (the pool
 * mapped without write permission; it hands every packet back to the manager's TX loop with its
 * verdict, and the TX loop routes it). Packets per second out of the null port; every mode and
 * size is measured in each run, in turn, so they share the machine's moods.
 *
 *   nfchain bench trust [--mode trusted,read-only] [--size 64,1500] [--seconds S] [--runs R] [--json]
 *
 * JSON: { bench: "trust", mode, size, mpps, nsPerPkt, runs }.
 */
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { measureWindow } from './window.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runsFlag, type BenchResult } from './common.js';

const PARSE_NF = fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url));

type Mode = 'trusted' | 'read-only';

async function once(mode: Mode, size: number, seconds: number): Promise<number> {
  const topo = validateTopology(
    {
      name: `bench-trust-${randomUUID().slice(0, 8)}`,
      pool: { count: 32768 },
      manager: { statsInterval: 0 },
      ports: [
        { name: 'gen', driver: 'gen', rate: 0, sizes: [size], flows: 1024 },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        { name: 'p1', module: PARSE_NF, service: 1 },
        { name: 'p2', module: PARSE_NF, service: 2, ...(mode === 'read-only' ? { access: 'read-only' } : {}) },
        { name: 'p3', module: PARSE_NF, service: 3 },
      ],
      chain: [1, 2, 3, 'port:sink'],
    },
    '<bench trust>',
  );
  const { a, b } = await measureWindow(topo, seconds, { observe: false });
  return (b.ports[1]!.txPackets - a.ports[1]!.txPackets) / (b.time - a.time) / 1e6;
}

export const TRUST_FLAGS = flagSpecs([
  {
    name: 'mode',
    kind: 'list',
    of: 'string',
    choices: ['trusted', 'read-only'],
    default: ['trusted', 'read-only'],
    value: 'trusted|read-only,...',
    help: 'how the middle NF runs',
  },
  {
    name: 'size',
    kind: 'list',
    of: 'integer',
    min: 60,
    max: 1514,
    default: [64, 1500],
    value: 'B,...',
    help: 'frame sizes',
  },
  { name: 'seconds', kind: 'number', default: 3, value: 'S', help: 'the measured window' },
  runsFlag(3),
  JSON_FLAG,
]);

export async function trustBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const v = benchArgs('trust', argv, TRUST_FLAGS).values;
  const combos = v.size.flatMap((size) => v.mode.map((mode) => ({ mode: mode as Mode, size })));
  const runs = combos.map(() => [] as number[]);
  for (let r = 0; r < v.runs; r++) {
    for (let c = 0; c < combos.length; c++) runs[c]!.push(await once(combos[c]!.mode, combos[c]!.size, v.seconds));
  }
  return combos.map(({ mode, size }, c) => {
    const rate = median(runs[c]!);
    const res: BenchResult = {
      bench: 'trust',
      params: { mode, size },
      rate,
      unit: 'mpps',
      nsPerItem: 1000 / rate,
      runs: runs[c]!,
    };
    emit(res, v.json);
    return res;
  });
}
