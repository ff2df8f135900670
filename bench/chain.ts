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
import { emit, median, parseFlags, type BenchResult } from './common.js';
import { randomUUID } from 'node:crypto';

const PARSE_NF = fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url));

async function once(nfs: number, size: number, seconds: number, poll: 'adaptive' | 'busy'): Promise<number> {
  const topo = validateTopology({
    name: `bench-chain-${randomUUID().slice(0, 8)}`,
    pool: { count: 32768 },
    manager: { statsInterval: 0, poll },
    ports: [{ name: 'gen', driver: 'gen', rate: 0, sizes: [size], flows: 1024 }, { name: 'sink', driver: 'null' }],
    nfs: Array.from({ length: nfs }, (_, i) => ({ name: `p${i + 1}`, module: PARSE_NF, service: i + 1 })),
    chain: [...Array.from({ length: nfs }, (_, i) => i + 1), 'port:sink'],
  }, '<bench>');
  const { a, b } = await measureWindow(topo, seconds);
  const rate = (b.ports[1]!.txPackets - a.ports[1]!.txPackets) / (b.time - a.time) / 1e6;
  return rate;
}

export async function chainBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const f = parseFlags(argv);
  const nfs = Number(f.get('nfs') ?? 3);
  const size = Number(f.get('size') ?? 64);
  const seconds = Number(f.get('seconds') ?? 3);
  const poll = (f.get('poll') ?? 'adaptive') as 'adaptive' | 'busy';
  const runs: number[] = [];
  for (let r = 0; r < Number(f.get('runs') ?? 3); r++) runs.push(await once(nfs, size, seconds, poll));
  const rate = median(runs);
  const res: BenchResult = { bench: 'chain', params: { nfs, size, poll }, rate, unit: 'mpps', nsPerItem: 1000 / rate, runs };
  emit(res, f.has('json'));
  return [res];
}
