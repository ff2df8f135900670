/**
 * bench parse: 5-tuple extraction + symmetric flow hash over a pool of varied packets
 * (IPv4/IPv6, UDP/TCP, VLAN, QinQ, IPv4 options), in bursts of 32 descriptors, the result
 * stored in each buffer's meta — what the manager's RX loop does for every packet.
 *
 *   pool=hot         256 buffers: headers stay in L1/L2; the seven kinds of packet come in
 *                    a fixed rotation (as allocated)
 *   pool=hot-random  as hot, visited in shuffled order: the kind of the next packet is
 *                    unpredictable, so the parser's branches mispredict
 *   pool=cold        65536 buffers (256 MiB), visited in shuffled order: every header misses
 *   pool=cold-touch  as cold, but first touches one byte of each packet of the burst, then
 *                    parses (the touches overlap the burst's cache and TLB misses)
 *
 *   nfchain bench parse [--pool hot,hot-random,cold,cold-touch] [--count N] [--runs R] [--json]
 */
import { NfcError } from '../src/errors.js';
import { fileURLToPath } from 'node:url';
import { initPool, PacketPool, poolBytes } from '../src/shm/pool.js';
import { PoolCache } from '../src/shm/pool-cache.js';
import { Meta } from '../src/shm/pool-layout.js';
import { PacketView } from '../src/packet/packet-view.js';
import { BURST } from '../src/shm/layout.js';
import { synthFlow, writeSynth } from '../src/ports/synth.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';
import { mulberry32 } from '../src/util/prng.js';

const SIZES = [64, 128, 512, 1500] as const;

export async function parseBench(o: {
  pools: string[];
  count: number;
  runs: number;
  json: boolean;
}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const mode of o.pools) {
    const runs: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      runs.push(Number((await runChild(import.meta.url, ['child', mode, String(o.count)])).trim()));
    }
    const rate = median(runs);
    const res: BenchResult = {
      bench: 'parse',
      params: { pool: mode },
      rate,
      unit: 'mpps',
      nsPerItem: 1000 / rate,
      runs,
    };
    emit(res, o.json);
    results.push(res);
  }
  return results;
}

function child(mode: string, count: number): number {
  const nbuf = mode === 'hot' || mode === 'hot-random' ? 256 : 65536;
  const buf = new ArrayBuffer(poolBytes({ count: nbuf }));
  initPool(buf, 0, { count: nbuf });
  const pool = new PacketPool(buf, 0);
  const cache = new PoolCache(pool, { capacity: 0 });
  const view = new PacketView(buf);
  const descs = new Uint32Array(nbuf);
  if (cache.alloc(descs, nbuf) !== nbuf) throw new NfcError('NFC_ERR_BENCH', 'parse bench: pool too small');
  for (let i = 0; i < nbuf; i++) {
    const d = descs[i]!;
    const len = writeSynth(pool.dv, pool.u8, view, pool.dataOffset(d), SIZES[i & 3]!, synthFlow(i));
    pool.setLength(d, len);
  }
  // Shuffle so that the visiting order defeats the hardware prefetcher (as ring order would)
  // and the kinds of packet come in random order (defeats branch prediction). The plain `hot`
  // pool keeps the allocation order, where the kinds repeat in a fixed rotation.
  const rnd = mulberry32(12345);
  if (mode !== 'hot')
    for (let i = nbuf - 1; i > 0; i--) {
      const j = rnd() % (i + 1);
      const t = descs[i]!;
      descs[i] = descs[j]!;
      descs[j] = t;
    }
  const touch = mode === 'cold-touch';
  const pass = (): void => hashPass(pool, view, descs, nbuf, touch);
  // Warm-up: JIT, and for the hot pool the caches.
  for (let i = 0; i < Math.max(1, Math.floor(200_000 / nbuf)); i++) pass();
  const passes = Math.max(1, Math.round(count / nbuf));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < passes; i++) pass();
  const ns = Number(process.hrtime.bigint() - t0);
  // Check the work was real: every packet got a non-zero hash.
  let zero = 0;
  for (let i = 0; i < nbuf; i++) if (pool.meta(descs[i]!, Meta.flowHash) === 0) zero++;
  if (zero > 0) throw new NfcError('NFC_ERR_BENCH', `parse bench: ${zero} packets were not parsed`);
  return ((passes * nbuf) / ns) * 1000;
}

/**
 * One pass over the pool in bursts: what an RX loop does per burst. Hot path: no allocation.
 */
function hashPass(pool: PacketPool, view: PacketView, descs: Uint32Array, nbuf: number, touch: boolean): void {
  const u8 = pool.u8;
  const words = pool.words;
  const base = pool.base;
  const shift = pool.shift;
  const metaShift = shift - 2;
  for (let b = 0; b < nbuf; b += BURST) {
    if (touch) {
      // Touch one byte of each packet's headers so the burst's cache/TLB misses overlap.
      let t = 0;
      for (let i = 0; i < BURST; i++) {
        const d = descs[b + i]!;
        t += u8[base + (d << shift) + words[(d << metaShift) + Meta.dataOff]!]!;
      }
      if (t === -1) return;
    }
    for (let i = 0; i < BURST; i++) {
      const d = descs[b + i]!;
      const m = d << metaShift;
      view.reset(base + (d << shift) + words[m + Meta.dataOff]!, words[m + Meta.len]!);
      words[m + Meta.flowHash] = view.flowHash();
    }
  }
}

export const PARSE_FLAGS = flagSpecs([
  {
    name: 'pool',
    kind: 'list',
    choices: ['hot', 'hot-random', 'cold', 'cold-touch'],
    default: ['hot', 'hot-random', 'cold', 'cold-touch'],
    value: 'P,...',
    help: 'which pools of packets (see bench/parse.ts)',
  },
  { name: 'count', kind: 'integer', min: 1, default: 20_000_000, value: 'N', help: 'packets per run' },
  runsFlag(5),
  JSON_FLAG,
]);

export function parseBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { pool, count, runs, json } = benchArgs('parse', argv, PARSE_FLAGS).values;
  return parseBench({ pools: pool, count, runs, json });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  process.stdout.write(`${child(process.argv[3]!, Number(process.argv[4]))}\n`);
}
