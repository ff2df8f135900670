/**
 * Rings across processes: separate `node` processes over one /dev/shm mapping move tens of
 * millions of sequence-numbered descriptors; every one must arrive exactly once and in order
 * (per producer). Seeded random burst sizes make the rings wrap, fill and run empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShmDir } from '../src/shm/shm-file.js';
import { initRing, ringBytes, RingKind } from '../src/shm/ring-layout.js';
import { runHelper, uniqueName, waitFor } from './helpers/procs.js';

const RING_OFFSET = 256;
const START = 0;
const GO = 8;

interface Report {
  role: string;
  total: number;
  perProducer: number[];
  errors: number;
  firstError: string;
  sent?: number;
}

async function runRing(opts: {
  kind: RingKind;
  producers: number;
  consumers: number;
  perProducer: number;
  capacity: number;
  seed: number;
  zeroCopy?: boolean;
}): Promise<Report[]> {
  const name = uniqueName('ring');
  const dir = ShmDir.create(name);
  const procs: ReturnType<typeof runHelper>[] = [];
  try {
    const total = opts.producers * opts.perProducer;
    const bitmapOff = RING_OFFSET + ringBytes(opts.capacity);
    const size = bitmapOff + (opts.consumers > 1 ? Math.ceil(total / 32) * 4 : 0) + 64;
    const buf = dir.createFile('ring', size);
    initRing(buf, RING_OFFSET, opts.capacity, opts.kind);
    const ctl = new Int32Array(buf, 0, 16);
    const mp = opts.zeroCopy ? 'zc' : opts.kind === RingKind.SPSC ? 'sp' : 'mp';
    const mc = opts.zeroCopy ? 'zc' : opts.consumers > 1 ? 'mc' : 'sc';
    for (let c = 0; c < opts.consumers; c++) {
      const args = [
        'consume',
        dir.path.split('nfchain-')[1]!,
        'ring',
        String(RING_OFFSET),
        String(opts.producers),
        String(opts.perProducer),
        String(opts.seed + 100 + c),
        mc,
      ];
      if (mc === 'mc') args.push(String(bitmapOff));
      procs.push(runHelper('ring-peer', args));
    }
    for (let p = 0; p < opts.producers; p++) {
      procs.push(
        runHelper('ring-peer', [
          'produce',
          dir.path.split('nfchain-')[1]!,
          'ring',
          String(RING_OFFSET),
          String(p),
          String(opts.perProducer),
          String(opts.seed + p),
          mp,
        ]),
      );
    }
    await waitFor(() => Atomics.load(ctl, START) === procs.length, 30_000, 'ring peers to attach');
    Atomics.store(ctl, GO, 1);
    const outs = await Promise.all(procs.map((p) => p.done));
    const reports = outs.map((o) => JSON.parse(o.trim()) as Report);
    if (mc === 'mc') {
      const bitmap = new Int32Array(buf, bitmapOff, Math.ceil(total / 32));
      let seen = 0;
      for (let i = 0; i < total; i++) if (bitmap[i >>> 5]! & (1 << (i & 31))) seen++;
      assert.equal(seen, total, 'every descriptor delivered exactly once (bitmap)');
    }
    return reports;
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    dir.remove();
  }
}

test('SPSC ring between two processes: 50 M descriptors, none lost, duplicated or reordered', {
  timeout: 300_000,
}, async () => {
  const per = 50_000_000;
  const reports = await runRing({
    kind: RingKind.SPSC,
    producers: 1,
    consumers: 1,
    perProducer: per,
    capacity: 1024,
    seed: 1,
  });
  const cons = reports.find((r) => r.role === 'consume')!;
  assert.equal(cons.errors, 0, cons.firstError);
  assert.equal(cons.total, per);
  assert.deepEqual(cons.perProducer, [per]);
});

test('SPSC ring, zero-copy sides (reserve/publish, available/release): 50 M descriptors in order', {
  timeout: 300_000,
}, async () => {
  const per = 50_000_000;
  const reports = await runRing({
    kind: RingKind.SPSC,
    producers: 1,
    consumers: 1,
    perProducer: per,
    capacity: 512,
    seed: 3,
    zeroCopy: true,
  });
  const cons = reports.find((r) => r.role === 'consume')!;
  assert.equal(cons.errors, 0, cons.firstError);
  assert.equal(cons.total, per);
});

test('MPSC ring, two producer processes and one consumer: 50 M descriptors, per-producer order kept', {
  timeout: 300_000,
}, async () => {
  const per = 25_000_000;
  const reports = await runRing({
    kind: RingKind.MPSC,
    producers: 2,
    consumers: 1,
    perProducer: per,
    capacity: 1024,
    seed: 7,
  });
  const cons = reports.find((r) => r.role === 'consume')!;
  assert.equal(cons.errors, 0, cons.firstError);
  assert.equal(cons.total, 2 * per);
  assert.deepEqual(cons.perProducer, [per, per]);
});

test('MPMC ring (the free pool kind), two producers and two consumers: each descriptor exactly once', {
  timeout: 300_000,
}, async () => {
  const per = 4_000_000;
  process.env.RING_PEER_TARGET = String(2 * per);
  const reports = await runRing({
    kind: RingKind.MPMC,
    producers: 2,
    consumers: 2,
    perProducer: per,
    capacity: 512,
    seed: 11,
  });
  const cons = reports.filter((r) => r.role === 'consume');
  assert.equal(cons.length, 2);
  for (const c of cons) assert.equal(c.errors, 0, c.firstError);
  assert.equal(cons[0]!.total + cons[1]!.total, 2 * per);
});
