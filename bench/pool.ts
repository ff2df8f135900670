/**
 * bench pool: allocate a burst of 32 buffers and free them again, in one process.
 *
 *   cache=512  through a PoolCache (the hot-path way: the shared free ring is touched only on
 *              refills and flushes)
 *   cache=0    straight on the shared MPMC free ring (one compareExchange + publish per burst
 *              on each side) — the cost the cache saves
 *
 * Reported: million buffers/s, where one buffer = one alloc and one free.
 *
 *   nfchain bench pool [--cache 512,0] [--burst 32] [--count N] [--runs R] [--json]
 */
import { NfcError } from '../src/errors.js';
import { fileURLToPath } from 'node:url';
import { initPool, PacketPool, poolBytes } from '../src/shm/pool.js';
import { PoolCache } from '../src/shm/pool-cache.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

const POOL_COUNT = 16384;

export async function poolBench(o: {
  caches: number[];
  burst: number;
  count: number;
  runs: number;
  json: boolean;
}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const cache of o.caches) {
    const runs: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const out = await runChild(import.meta.url, ['child', String(cache), String(o.burst), String(o.count)]);
      runs.push(Number(out.trim()));
    }
    const rate = median(runs);
    const res: BenchResult = {
      bench: 'pool',
      params: { cache, burst: o.burst },
      rate,
      unit: 'mbufs',
      nsPerItem: 1000 / rate,
      runs,
    };
    emit(res, o.json);
    results.push(res);
  }
  return results;
}

/** Runs in the child: returns million buffers per second. */
function child(cacheCap: number, burst: number, count: number): number {
  // Private memory is enough: the cost measured is the ring/cache protocol, which is the same
  // over a /dev/shm mapping (both are ordinary cached pages).
  const buf = new ArrayBuffer(poolBytes({ count: POOL_COUNT }));
  initPool(buf, 0, { count: POOL_COUNT });
  const pool = new PacketPool(buf, 0);
  const cache = new PoolCache(pool, { capacity: cacheCap });
  const b = new Uint32Array(burst);
  const rounds = Math.ceil(count / burst);
  // Warm up the JIT, then measure.
  for (let i = 0; i < 20000; i++) {
    cache.alloc(b, burst);
    cache.free(b, burst);
  }
  const t0 = process.hrtime.bigint();
  let check = 0;
  for (let i = 0; i < rounds; i++) {
    const n = cache.alloc(b, burst);
    check += n;
    cache.free(b, n);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (check !== rounds * burst)
    throw new NfcError('NFC_ERR_BENCH', `pool bench: allocated ${check}, expected ${rounds * burst}`);
  cache.flush();
  if (pool.ringFreeCount() !== POOL_COUNT) throw new NfcError('NFC_ERR_BENCH', 'pool bench: buffers lost');
  return ((rounds * burst) / ns) * 1000;
}

export const POOL_FLAGS = flagSpecs([
  {
    name: 'cache',
    kind: 'list',
    of: 'integer',
    min: 0,
    default: [512, 0],
    value: 'C,...',
    help: 'per-process cache size (0: straight on the shared free ring)',
  },
  { name: 'burst', kind: 'integer', min: 1, default: 32, value: 'B', help: 'buffers per alloc and per free' },
  { name: 'count', kind: 'integer', min: 1, default: 50_000_000, value: 'N', help: 'buffers per run' },
  runsFlag(5),
  JSON_FLAG,
]);

export function poolBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { cache, burst, count, runs, json } = benchArgs('pool', argv, POOL_FLAGS).values;
  return poolBench({ caches: cache, burst, count, runs, json });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  const [, , , c, b, n] = process.argv;
  process.stdout.write(`${child(Number(c), Number(b), Number(n))}\n`);
}
