/**
 * bench flow: flow-table lookup + update per packet — lookupOrAdd(key, now, hash) then
 * touch(idx, bytes, now) — what a stateful NF does for every packet, over a symmetric table
 * with 4 value words that already holds every flow (the measured packets are all hits).
 *
 * Keys are IPv4 5-tuples precomputed in typed arrays, with their symmetric hash (as the RX
 * loop leaves it in the packet's meta); per packet the bench fills one reusable FlowKey from
 * them, as the packet view does. The table's capacity is the smallest power of two that holds
 * the flows at the default 0.75 load: 2048 slots for 1k flows, 262144 for 100k, 2^21 for 1M.
 *
 *   order=hot     cache-friendly: a window of 1024 consecutive flows is visited 8 times in a
 *                 row (8 packets per flow close together, a small working set), then the next
 *                 window — bursty traffic, where an entry is fetched once and hit 7 more times
 *   order=seq     one packet per flow, round robin over all flows (working set = the table)
 *   order=random  each packet's flow drawn uniformly from all flows
 *
 *   prefetch=off  packets are handled one after another, in bursts of 32
 *   prefetch=on   each burst first gathers its 32 flow hashes and calls
 *                 table.prefetchBurst(hashes, 32), so that their cache misses overlap, then
 *                 handles the packets
 *
 *   --hash meta   the hash comes with the packet (meta flowHash); --hash table: the table
 *                 computes hashFlowKey itself (prefetch needs the hash: off only)
 *   --op update   lookupOrAdd + touch; --op lookup: lookup only
 *
 * The clock (performance.now) is read once per burst, as an NF's engine would.
 *
 *   nfchain bench flow [--flows 1k,100k,1m] [--order hot,seq,random] [--prefetch off,on]
 *                      [--hash meta,table] [--op update,lookup] [--count N] [--runs R] [--json]
 */
import { NfcError } from '../src/errors.js';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FlowKey, hashFlowKey } from '../src/packet/flow-key.js';
import { FlowTable, flowTableBytes, initFlowTable } from '../src/flow/flow-table.js';
import { BURST } from '../src/shm/layout.js';
import { mulberry32 } from '../src/util/prng.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

const WINDOW = 1024;
const REPEAT = 8;
const VALUE_WORDS = 4;
const ORDERS = ['hot', 'seq', 'random'] as const;

/** '1k' → 1000, '1m' → 1000000 (cold). */
function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(s.trim());
  if (!m)
    throw new NfcError('NFC_ERR_USAGE', `bench flow: bad flow count "${s}"`, { fix: 'use e.g. --flows 1k,100k,1m' });
  const mult = m[2]!.toLowerCase() === 'k' ? 1e3 : m[2]!.toLowerCase() === 'm' ? 1e6 : 1;
  return Math.round(Number(m[1]) * mult);
}

function capacityFor(flows: number): number {
  let cap = 8;
  while (Math.floor(cap * 0.75) < flows) cap *= 2;
  return cap;
}

export interface FlowBenchOptions {
  flows: string[];
  orders: string[];
  prefetch: string[];
  hashes: string[];
  ops: string[];
  count: number;
  runs: number;
  json: boolean;
}

export async function flowBench(o: FlowBenchOptions): Promise<BenchResult[]> {
  for (const order of o.orders) {
    if (!(ORDERS as readonly string[]).includes(order)) {
      throw new NfcError('NFC_ERR_USAGE', `bench flow: unknown order "${order}"`, { fix: `use ${ORDERS.join(', ')}` });
    }
  }
  for (const h of o.hashes) {
    if (h !== 'meta' && h !== 'table')
      throw new NfcError('NFC_ERR_USAGE', `bench flow: unknown --hash "${h}"`, { fix: 'use meta or table' });
  }
  for (const op of o.ops) {
    if (op !== 'update' && op !== 'lookup')
      throw new NfcError('NFC_ERR_USAGE', `bench flow: unknown --op "${op}"`, { fix: 'use update or lookup' });
  }
  for (const pf of o.prefetch) {
    if (pf !== 'on' && pf !== 'off')
      throw new NfcError('NFC_ERR_USAGE', `bench flow: unknown --prefetch "${pf}"`, { fix: 'use off, on or off,on' });
  }
  const results: BenchResult[] = [];
  for (const op of o.ops) {
    for (const hash of o.hashes) {
      for (const label of o.flows) {
        const flows = parseCount(label);
        for (const order of o.orders) {
          for (const pf of o.prefetch) {
            if (pf === 'on' && hash === 'table') continue;
            results.push(await oneCombination(o, { flows, label, order, pf, hash, op }));
          }
        }
      }
    }
  }
  return results;
}

/** Runs one parameter combination `runs` times, each in a fresh process, and prints the median. */
async function oneCombination(
  o: FlowBenchOptions,
  c: { flows: number; label: string; order: string; pf: string; hash: string; op: string },
): Promise<BenchResult> {
  const runs: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const out = await runChild(import.meta.url, [
      'child',
      String(c.flows),
      c.order,
      c.hash,
      c.op,
      c.pf,
      String(o.count),
    ]);
    runs.push(Number(out.trim()));
  }
  const rate = median(runs);
  const params: Record<string, string | number> = { flows: c.label, order: c.order, prefetch: c.pf };
  if (o.hashes.length > 1 || c.hash !== 'meta') params.hash = c.hash;
  if (o.ops.length > 1 || c.op !== 'update') params.op = c.op;
  const res: BenchResult = {
    bench: 'flow',
    params,
    rate,
    unit: 'mpps',
    nsPerItem: 1000 / rate,
    runs,
    extra: { capacity: capacityFor(c.flows) },
  };
  emit(res, o.json);
  return res;
}

/** The precomputed keys: one entry per flow. */
interface Keys {
  src: Uint32Array;
  dst: Uint32Array;
  /** srcPort << 16 | dstPort */
  ports: Uint32Array;
  proto: Uint8Array;
  /** hashFlowKey(key, true): what the packet's meta carries */
  hash: Uint32Array;
}

function makeKeys(flows: number): Keys {
  const rnd = mulberry32(0xf10a);
  const k: Keys = {
    src: new Uint32Array(flows),
    dst: new Uint32Array(flows),
    ports: new Uint32Array(flows),
    proto: new Uint8Array(flows),
    hash: new Uint32Array(flows),
  };
  const key = new FlowKey();
  for (let i = 0; i < flows; i++) {
    // Distinct sources (10.0.0.0/8 + i) make every key distinct; the rest is random.
    k.src[i] = (0x0a000000 + i) >>> 0;
    k.dst[i] = rnd();
    k.ports[i] = rnd();
    k.proto[i] = rnd() & 1 ? 6 : 17;
    const p = k.ports[i]!;
    key.setIpv4(k.src[i]!, k.dst[i]!, k.proto[i]!, p >>> 16, p & 0xffff);
    k.hash[i] = hashFlowKey(key, true);
  }
  return k;
}

/** The flow of each packet, in visiting order (cold). */
function makeOrder(order: string, flows: number): Uint32Array {
  if (order === 'seq') return Uint32Array.from({ length: flows }, (_, i) => i);
  if (order === 'random') {
    const rnd = mulberry32(0x5eed);
    const n = Math.max(1 << 22, flows * 4);
    const seq = new Uint32Array(n);
    for (let i = 0; i < n; i++) seq[i] = rnd() % flows;
    return seq;
  }
  const seq = new Uint32Array(flows * REPEAT);
  let p = 0;
  for (let w = 0; w < flows; w += WINDOW) {
    const end = Math.min(flows, w + WINDOW);
    for (let r = 0; r < REPEAT; r++) for (let f = w; f < end; f++) seq[p++] = f;
  }
  return seq;
}

/**
 * Gathers the flow hashes of the burst starting at seq[pos] (as an engine would from the
 * packets' meta) and has the table prefetch their home slots. No allocation.
 */
function prefetchBurst(t: FlowTable, hash: Uint32Array, seq: Uint32Array, pos: number, hb: Uint32Array): void {
  const n = seq.length;
  for (let j = 0; j < BURST; j++) {
    hb[j] = hash[seq[pos]!]!;
    if (++pos === n) pos = 0;
  }
  t.prefetchBurst(hb, BURST);
}

/**
 * `count` packets (a multiple of BURST) through lookupOrAdd + touch, a burst at a time;
 * returns a checksum of the indices (so nothing is optimised away; kept an int32, as a sum
 * growing past 2^31 would become a heap number allocated per packet). A packet that finds no
 * entry counts in `missed`. The hot loop of the benchmark: no allocation (one FlowKey per call).
 */
function updateLoop(
  t: FlowTable,
  k: Keys,
  seq: Uint32Array,
  count: number,
  useHash: boolean,
  prefetch: boolean,
): number {
  const key = new FlowKey();
  const { src, dst, ports, proto, hash } = k;
  const n = seq.length;
  let pos = 0;
  let sum = 0;
  const hb = new Uint32Array(BURST);
  for (let p = 0; p < count; p += BURST) {
    const now = performance.now();
    if (prefetch) prefetchBurst(t, hash, seq, pos, hb);
    for (let j = 0; j < BURST; j++) {
      const f = seq[pos]!;
      if (++pos === n) pos = 0;
      const pt = ports[f]!;
      key.setIpv4(src[f]!, dst[f]!, proto[f]!, pt >>> 16, pt & 0xffff);
      const idx = useHash ? t.lookupOrAdd(key, now, hash[f]!) : t.lookupOrAdd(key, now);
      if (idx < 0) {
        missed++;
        continue;
      }
      t.touch(idx, 64, now);
      sum = (sum + idx) | 0;
    }
  }
  return sum;
}

/** The same with lookup only. No allocation. */
function lookupLoop(
  t: FlowTable,
  k: Keys,
  seq: Uint32Array,
  count: number,
  useHash: boolean,
  prefetch: boolean,
): number {
  const key = new FlowKey();
  const { src, dst, ports, proto, hash } = k;
  const n = seq.length;
  let pos = 0;
  let sum = 0;
  const hb = new Uint32Array(BURST);
  for (let p = 0; p < count; p += BURST) {
    if (prefetch) prefetchBurst(t, hash, seq, pos, hb);
    for (let j = 0; j < BURST; j++) {
      const f = seq[pos]!;
      if (++pos === n) pos = 0;
      const pt = ports[f]!;
      key.setIpv4(src[f]!, dst[f]!, proto[f]!, pt >>> 16, pt & 0xffff);
      const idx = useHash ? t.lookup(key, hash[f]!) : t.lookup(key);
      if (idx < 0) {
        missed++;
        continue;
      }
      sum = (sum + idx) | 0;
    }
  }
  return sum;
}

let missed = 0;

/**
 * Page-aligned memory for the table, like a /dev/shm mapping: a `new ArrayBuffer` comes from
 * the C allocator, which promises only 16-byte alignment, and a 64-byte hot record that
 * straddles two cache lines would cost two. A WebAssembly memory is mapped page-aligned (cold).
 */
function pageAlignedBuffer(bytes: number): ArrayBuffer {
  // lib ES2022 has no WebAssembly types; Node has the global.
  const wasm = (
    globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }
  ).WebAssembly;
  return new wasm.Memory({ initial: Math.ceil(bytes / 65536) }).buffer;
}

/** Runs in the child: returns million packets per second. */
function child(flows: number, order: string, hashMode: string, op: string, pf: string, count: number): number {
  const opts = { capacity: capacityFor(flows), valueWords: VALUE_WORDS, symmetric: true };
  const buf = pageAlignedBuffer(flowTableBytes(opts));
  initFlowTable(buf, 0, opts);
  const t = new FlowTable(buf, 0);
  const keys = makeKeys(flows);
  const seq = makeOrder(order, flows);
  const useHash = hashMode === 'meta';
  const prefetch = pf === 'on';
  // Add every flow (one pass in flow order), then warm up the JIT on the measured loop.
  const fill = Uint32Array.from({ length: flows }, (_, i) => i);
  updateLoop(t, keys, fill, Math.ceil(flows / BURST) * BURST, useHash, false);
  if (t.count !== flows)
    throw new NfcError('NFC_ERR_BENCH', `flow bench: table holds ${t.count} flows, expected ${flows}`);
  const loop = op === 'lookup' ? lookupLoop : updateLoop;
  const packets = Math.ceil(count / BURST) * BURST;
  loop(t, keys, seq, Math.min(2_000_000, Math.max(200_000, packets >> 3)) & ~(BURST - 1), useHash, prefetch);
  missed = 0;
  const t0 = process.hrtime.bigint();
  loop(t, keys, seq, packets, useHash, prefetch);
  const ns = Number(process.hrtime.bigint() - t0);
  if (t.count !== flows || t.fullCount !== 0 || missed !== 0) {
    throw new NfcError(
      'NFC_ERR_BENCH',
      `flow bench: flows were added or missed during the run (count ${t.count}, missed ${missed})`,
    );
  }
  return (packets / ns) * 1000;
}

export const FLOW_FLAGS = flagSpecs([
  {
    name: 'flows',
    kind: 'list',
    default: ['1k', '100k', '1m'],
    value: 'F,...',
    help: 'flows in the table (k, m: thousands, millions)',
  },
  {
    name: 'order',
    kind: 'list',
    choices: ORDERS,
    default: ['hot', 'seq', 'random'],
    value: 'O,...',
    help: 'the order packets visit the flows in (see bench/flow.ts)',
  },
  {
    name: 'prefetch',
    kind: 'list',
    choices: ['off', 'on'],
    default: ['off', 'on'],
    value: 'P,...',
    help: "on: prefetchBurst of each burst's hashes first",
  },
  {
    name: 'hash',
    kind: 'list',
    choices: ['meta', 'table'],
    default: ['meta'],
    value: 'H,...',
    help: 'meta: the hash comes with the packet; table: the table computes it',
  },
  {
    name: 'op',
    kind: 'list',
    choices: ['update', 'lookup'],
    default: ['update'],
    value: 'OP,...',
    help: 'update: lookupOrAdd + touch; lookup: lookup only',
  },
  { name: 'count', kind: 'integer', min: 1, default: 10_000_000, value: 'N', help: 'packets per run' },
  runsFlag(5),
  JSON_FLAG,
]);

export function flowBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const v = benchArgs('flow', argv, FLOW_FLAGS).values;
  return flowBench({
    flows: v.flows,
    orders: v.order,
    prefetch: v.prefetch,
    hashes: v.hash,
    ops: v.op,
    count: v.count,
    runs: v.runs,
    json: v.json,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  const [, , , flows, order, hash, op, pf, n] = process.argv;
  process.stdout.write(
    `${child(Number(flows), order ?? 'hot', hash ?? 'meta', op ?? 'update', pf ?? 'off', Number(n))}\n`,
  );
}
