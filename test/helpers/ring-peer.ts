/**
 * A child process for the cross-process ring tests. It maps a ring in a shared file and
 * either produces sequence numbers or consumes and checks them, with seeded random burst
 * sizes so that wrap-around, partial bursts and full/empty rings all happen.
 *
 *   ring-peer.js produce <dir> <file> <offset> <producerId> <count> <seed> <sp|mp|zc>
 *   ring-peer.js consume <dir> <file> <offset> <producers> <countPerProducer> <seed> <sc|mc|zc>
 *
 * zc: the SPSC zero-copy sides (reserve/publish, available/release).
 *
 * A value is (producerId << 28) | seq. The consumer checks, per producer, that seq goes up by
 * exactly one each time (no loss, duplicate or reordering) and prints a JSON report.
 * With `mc` (several consumers) ordering across consumers is not defined, so each consumer
 * only checks that per-producer seqs increase, and marks each value in a shared bitmap that
 * the test inspects (exactly-once delivery).
 */
import { ShmDir } from '../../src/shm/shm-file.js';
import { McConsumer, MpProducer, ScConsumer, SpscProducer } from '../../src/shm/ring.js';
import { mulberry32 } from '../../src/util/prng.js';

const [, , role, dirName, file, offsetS, a, b, seedS, mode, bitmapOffS] = process.argv;
const dir = ShmDir.open(dirName!);
const buf = dir.openFile(file!);
const offset = Number(offsetS);
const rnd = mulberry32(Number(seedS));
const START = new Int32Array(buf, 0, 16); // word 0: ready count, word 8: go

const batch = new Uint32Array(64);
function waitGo(): void {
  Atomics.add(START, 0, 1);
  while (Atomics.load(START, 8) === 0);
}

if (role === 'produce') {
  const id = Number(a);
  const count = Number(b);
  const prod = mode === 'mp' ? new MpProducer(buf, offset) : new SpscProducer(buf, offset);
  waitGo();
  let seq = 0;
  let fullRetries = 0;
  while (seq < count) {
    let n = 1 + (rnd() % 64);
    if (n > count - seq) n = count - seq;
    for (let i = 0; i < n; i++) batch[i] = (id << 28) | (seq + i);
    if (mode === 'zc' && prod instanceof SpscProducer) {
      // Zero copy: write into the slots, publish what fit.
      const k = prod.reserve(n);
      if (k === 0) fullRetries++;
      for (let i = 0; i < k; i++) prod.slots[(prod.position + i) & prod.mask] = (id << 28) | (seq + i);
      prod.publish(k);
      seq += k;
      continue;
    }
    let done = 0;
    while (done < n) {
      const k = prod.enqueue(batch, n - done, done);
      if (k === 0) fullRetries++;
      done += k;
    }
    seq += n;
  }
  process.stdout.write(`${JSON.stringify({ role, id, sent: seq, fullRetries })}\n`);
} else if (role === 'consume') {
  const producers = Number(a);
  const perProducer = Number(b);
  const cons = mode === 'mc' ? new McConsumer(buf, offset) : new ScConsumer(buf, offset);
  const bitmap = bitmapOffS ? new Int32Array(buf, Number(bitmapOffS), Math.ceil((producers * perProducer) / 32)) : null;
  const next = new Int32Array(producers); // expected next seq (sc) or last seen + 1 (mc)
  const got = new Float64Array(producers);
  let errors = 0;
  let firstError = '';
  let total = 0;
  const target = mode === 'mc' ? Number(process.env.RING_PEER_TARGET ?? '0') : producers * perProducer;
  const doneWord = new Int32Array(buf, 128, 16); // mc: consumers add what they took here
  waitGo();
  for (;;) {
    if (mode === 'mc') {
      if (Atomics.load(doneWord, 0) >= target) break;
    } else if (total >= target) break;
    const max = 1 + (rnd() % 64);
    let n: number;
    if (mode === 'zc' && cons instanceof ScConsumer) {
      n = cons.available(max);
      for (let i = 0; i < n; i++) batch[i] = cons.slots[(cons.position + i) & cons.mask]!;
      cons.release(n);
    } else {
      n = cons.dequeue(batch, max);
    }
    if (n === 0) continue;
    total += n;
    if (mode === 'mc') Atomics.add(doneWord, 0, n);
    for (let i = 0; i < n; i++) {
      const v = batch[i]!;
      const id = v >>> 28;
      const seq = v & 0x0fffffff;
      if (id >= producers) {
        errors++;
        if (!firstError) firstError = `value ${v} has unknown producer ${id}`;
        continue;
      }
      if (mode === 'mc') {
        if (seq < next[id]!) {
          errors++;
          if (!firstError)
            firstError = `producer ${id}: seq ${seq} after ${next[id]! - 1} (reordered within one consumer)`;
        }
        next[id] = seq + 1;
        const bit = id * perProducer + seq;
        const old = Atomics.or(bitmap!, bit >>> 5, 1 << (bit & 31));
        if (old & (1 << (bit & 31))) {
          errors++;
          if (!firstError) firstError = `producer ${id} seq ${seq} delivered twice`;
        }
      } else {
        if (seq !== next[id]) {
          errors++;
          if (!firstError) firstError = `producer ${id}: got seq ${seq}, expected ${next[id]}`;
          next[id] = seq + 1;
        } else next[id] = seq + 1;
      }
      got[id] = got[id]! + 1;
    }
  }
  process.stdout.write(`${JSON.stringify({ role, total, perProducer: Array.from(got), errors, firstError })}\n`);
} else {
  process.stderr.write(`ring-peer: unknown role ${role}\n`);
  process.exit(2);
}
