/**
 * bench record: what latency recording adds per packet — the RX loop's stamp (one clock read
 * per burst, one meta word written per packet) and the TX loop's record (the packet's arrival
 * and chain read from its meta, one histogram bucket added, per-chain totals flushed once per
 * burst) — against the same loops without them (latency=off: what the loops do per packet
 * anyway: the destination and length read from the meta, the descriptor staged).
 *
 * Both variants run over the same 4096 pool buffers in shuffled order (as ring order comes), in
 * bursts of 32, in one process per run; the figure is ns per packet, and the difference of the
 * two is the cost of recording. `bench chain --latency on,off` measures the same end to end, where
 * it is smaller than the machine's noise.
 *
 *   nfchain bench record [--runs R] [--json]
 */
import { NfcError } from '../src/errors.js';
import { initPool, PacketPool, poolBytes } from '../src/shm/pool.js';
import { PoolCache } from '../src/shm/pool-cache.js';
import { Meta } from '../src/shm/pool-layout.js';
import { BURST } from '../src/shm/layout.js';
import { LatencyBlock, LatencyRecorder, latencyBytes, stampAt, stampNow } from '../src/shm/latency.js';
import { MAX_CHAINS } from '../src/shm/instance-layout.js';
import { flagSpecs } from '../src/util/args.js';
import { mulberry32 } from '../src/util/prng.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

const BUFFERS = 4096;
const PACKETS = 20_000_000;

export const RECORD_FLAGS = flagSpecs([runsFlag(5), JSON_FLAG]);

export async function recordBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { runs: nRuns, json } = benchArgs('record', argv, RECORD_FLAGS).values;
  const runs = { on: [] as number[], off: [] as number[] };
  // Alternating, each run in a fresh process.
  for (let r = 0; r < nRuns; r++) {
    for (const mode of ['off', 'on'] as const) {
      runs[mode].push(Number((await runChild(import.meta.url, ['child', mode])).trim()));
    }
  }
  const off = median(runs.off);
  const results: BenchResult[] = (['off', 'on'] as const).map((mode) => {
    const ns = median(runs[mode]);
    return {
      bench: 'record',
      params: { latency: mode },
      rate: 1000 / ns,
      unit: 'mpps',
      nsPerItem: ns,
      runs: runs[mode].map((x) => 1000 / x),
      ...(mode === 'on' ? { extra: { addedNsPerPkt: Number((ns - off).toFixed(2)) } } : {}),
    };
  });
  for (const r of results) emit(r, json);
  return results;
}

/** One run: ns per packet of the RX + TX per-packet work, with or without recording. */
function child(mode: 'on' | 'off'): number {
  const buf = new ArrayBuffer(poolBytes({ count: BUFFERS }));
  initPool(buf, 0, { count: BUFFERS });
  const pool = new PacketPool(buf, 0);
  const cache = new PoolCache(pool, { capacity: 0 });
  const descs = new Uint32Array(BUFFERS);
  if (cache.alloc(descs, BUFFERS) !== BUFFERS) throw new NfcError('NFC_ERR_BENCH', 'record bench: pool too small');
  const rnd = mulberry32(4242);
  for (let i = BUFFERS - 1; i > 0; i--) {
    const j = rnd() % (i + 1);
    const t = descs[i]!;
    descs[i] = descs[j]!;
    descs[j] = t;
  }
  const words = pool.words;
  const ms = pool.shift - 2;
  for (let i = 0; i < BUFFERS; i++) {
    const m = descs[i]! << ms;
    words[m + Meta.len] = 64;
    words[m + Meta.destination] = i & 1;
    words[m + Meta.chainId] = i & 3;
  }
  const block = new LatencyBlock(new ArrayBuffer(latencyBytes(MAX_CHAINS)), 0, MAX_CHAINS);
  const rec = Array.from({ length: MAX_CHAINS }, (_, c) => new LatencyRecorder(block.words, block.base(c)));
  const stage = new Uint32Array(2 * BURST);
  const staged = new Int32Array(2);
  const bytes = new Float64Array(2);
  const on = mode === 'on';
  let sink = 0;
  const pass = (from: number): void => {
    // RX: the loop reads the clock for each pass anyway (flow idle times); stamping reuses it.
    const rxNow = performance.now();
    if (on) {
      const stamp = stampAt(rxNow);
      for (let i = 0; i < BURST; i++) words[(descs[from + i]! << ms) + Meta.arrival] = stamp;
    } else sink += rxNow > 0 ? 0 : 1;
    // TX: record, then stage by port as the TX loop does.
    const now = on ? stampNow() : 0;
    for (let i = 0; i < BURST; i++) {
      const d = descs[from + i]!;
      const m = d << ms;
      if (on) {
        const a = words[m + Meta.arrival]!;
        if (a !== 0) rec[words[m + Meta.chainId]! & (MAX_CHAINS - 1)]!.add((now - a) >>> 0);
      }
      const port = words[m + Meta.destination]!;
      const k = staged[port]!;
      stage[port * BURST + k] = d;
      staged[port] = (k + 1) & (BURST - 1);
      bytes[port]! += words[m + Meta.len]!;
    }
    if (on) for (let c = 0; c < MAX_CHAINS; c++) rec[c]!.flush();
    sink += staged[0]! + staged[1]!;
  };
  const bursts = BUFFERS / BURST;
  for (let b = 0; b < 20_000; b++) pass((b % bursts) * BURST); // warm-up
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < PACKETS / BURST; b++) pass((b % bursts) * BURST);
  const ns = Number(process.hrtime.bigint() - t0) / PACKETS;
  if (sink < 0) process.stderr.write(String(sink));
  return ns;
}

if (process.argv[2] === 'child') {
  process.stdout.write(`${child(process.argv[3] === 'on' ? 'on' : 'off').toFixed(3)}\n`);
}
