/**
 * bench ring: SPSC descriptor ring between two processes.
 *
 * A producer process enqueues bursts of `burst` sequence numbers; a consumer process dequeues
 * bursts of up to `burst`, sums them (so the work cannot be optimised away) and checks the
 * sum at the end. api=copy goes through enqueue()/dequeue() and a batch array (one copy on
 * each side); api=zc writes and reads the ring's slots in place (reserve/publish,
 * available/release), as an NF runtime that works on descriptors where they lie. Both map one /dev/shm file, wait at a start line in it, and the consumer
 * times from the start signal to the last descriptor. Reported: million descriptors/s.
 *
 *   nfchain bench ring [--api copy,zc] [--burst 1,8,32,64] [--count N] [--runs R] [--capacity C] [--json]
 */
import { NfcError } from '../src/errors.js';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ShmDir } from '../src/shm/shm-file.js';
import { initRing, ringBytes, RingKind } from '../src/shm/ring-layout.js';
import { ScConsumer, SpscProducer } from '../src/shm/ring.js';
import { CACHE_LINE } from '../src/shm/layout.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

/** Start-line words (Int32 indices) in the first cache line of the bench file. */
const READY = 0;
const GO = 16; // its own cache line
const RING_OFFSET = 2 * CACHE_LINE;
const FILE = 'ring';

export interface RingBenchOptions {
  /** copy: enqueue/dequeue through a batch array; zc: reserve/publish and available/release on the slots */
  apis: string[];
  bursts: number[];
  count?: number;
  runs: number;
  capacity: number;
  json: boolean;
}

export async function ringBench(o: RingBenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const api of o.apis)
    for (const burst of o.bursts) {
      const count = o.count ?? (burst === 1 ? 20_000_000 : 100_000_000);
      const runs: number[] = [];
      for (let r = 0; r < o.runs; r++) runs.push(await oneRun(burst, count, o.capacity, api));
      const rate = median(runs);
      const res: BenchResult = {
        bench: 'ring',
        params: { api, burst, capacity: o.capacity, count },
        rate,
        unit: 'mdesc',
        nsPerItem: 1000 / rate,
        runs,
      };
      emit(res, o.json);
      results.push(res);
    }
  return results;
}

async function oneRun(burst: number, count: number, capacity: number, api: string): Promise<number> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  const dir = ShmDir.create(name);
  try {
    const buf = dir.createFile(FILE, RING_OFFSET + ringBytes(capacity));
    initRing(buf, RING_OFFSET, capacity, RingKind.SPSC);
    const ctl = new Int32Array(buf, 0, RING_OFFSET >> 2);
    const args = [name, String(burst), String(count), api];
    const consumer = runChild(import.meta.url, ['consumer', ...args]);
    const producer = runChild(import.meta.url, ['producer', ...args]);
    // Release both sides together once both have attached.
    while (Atomics.load(ctl, READY) < 2) await new Promise((r) => setTimeout(r, 2));
    Atomics.store(ctl, GO, 1);
    const [out] = await Promise.all([consumer, producer]);
    const ns = Number(out.trim());
    if (!(ns > 0)) throw new NfcError('NFC_ERR_BENCH', `ring bench consumer printed ${JSON.stringify(out)}`);
    return (count / ns) * 1000; // million per second
  } finally {
    dir.remove();
  }
}

function child(role: string, name: string, burst: number, count: number, api: string): void {
  const dir = ShmDir.open(name);
  const buf = dir.openFile(FILE);
  const ctl = new Int32Array(buf, 0, RING_OFFSET >> 2);
  const batch = new Uint32Array(burst);
  if (role === 'producer') {
    const prod = new SpscProducer(buf, RING_OFFSET);
    Atomics.add(ctl, READY, 1);
    while (Atomics.load(ctl, GO) === 0);
    let next = 0;
    if (api === 'copy') {
      while (next < count) {
        const n = count - next < burst ? count - next : burst;
        for (let i = 0; i < n; i++) batch[i] = next + i;
        let done = 0;
        // A real NF would drop what does not fit; the benchmark retries to move every item.
        while (done < n) done += prod.enqueue(batch, n - done, done);
        next += n;
      }
    } else {
      // Zero copy: descriptors are written straight into the ring's slots.
      const slots = prod.slots;
      const mask = prod.mask;
      while (next < count) {
        const want = count - next < burst ? count - next : burst;
        const n = prod.reserve(want);
        const pos = prod.position;
        for (let i = 0; i < n; i++) slots[(pos + i) & mask] = next + i;
        prod.publish(n);
        next += n;
      }
    }
    return;
  }
  const cons = new ScConsumer(buf, RING_OFFSET);
  Atomics.add(ctl, READY, 1);
  while (Atomics.load(ctl, GO) === 0);
  const t0 = process.hrtime.bigint();
  let got = 0;
  let sum = 0;
  if (api === 'copy') {
    while (got < count) {
      const n = cons.dequeue(batch, burst);
      for (let i = 0; i < n; i++) sum = (sum + batch[i]!) | 0;
      got += n;
    }
  } else {
    const slots = cons.slots;
    const mask = cons.mask;
    while (got < count) {
      const n = cons.available(burst);
      const pos = cons.position;
      for (let i = 0; i < n; i++) sum = (sum + slots[(pos + i) & mask]!) | 0;
      cons.release(n);
      got += n;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  // Sum of 0..count-1 modulo 2^32, computed the slow way for the check.
  let expect = 0;
  for (let i = 0; i < count; i++) expect = (expect + i) | 0;
  if (sum !== expect) {
    process.stderr.write(`ring bench: checksum mismatch (${sum} != ${expect}): descriptors lost or duplicated\n`);
    process.exit(3);
  }
  process.stdout.write(`${ns}\n`);
}

export const RING_FLAGS = flagSpecs([
  {
    name: 'api',
    kind: 'list',
    choices: ['copy', 'zc'],
    default: ['copy', 'zc'],
    value: 'API,...',
    help: 'copy: enqueue/dequeue through a batch array; zc: reserve/publish, available/release on the slots',
  },
  {
    name: 'burst',
    kind: 'list',
    of: 'integer',
    min: 1,
    default: [1, 8, 32, 64],
    value: 'B,...',
    help: 'descriptors per enqueue and per dequeue',
  },
  { name: 'capacity', kind: 'integer', min: 1, default: 1024, value: 'C', help: 'ring slots' },
  {
    name: 'count',
    kind: 'integer',
    min: 1,
    value: 'N',
    help: 'descriptors per run (default 20000000 for burst 1, else 100000000)',
  },
  runsFlag(5),
  JSON_FLAG,
]);

export function ringBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { api, burst, capacity, count, runs, json } = benchArgs('ring', argv, RING_FLAGS).values;
  return ringBench({ apis: api, bursts: burst, ...(count !== undefined ? { count } : {}), runs, capacity, json });
}

const [, , role, name, burst, count, api] = process.argv;
if (process.argv[1] === fileURLToPath(import.meta.url) && (role === 'producer' || role === 'consumer') && name) {
  child(role, name, Number(burst), Number(count), api ?? 'copy');
}
