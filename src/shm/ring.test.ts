import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initRing, ringBytes, RingKind, RW, RING_HEADER_BYTES, checkRing, RingOffsets } from './ring-layout.js';
import { McConsumer, MpProducer, ScConsumer, SpscProducer } from './ring.js';
import { NfcError } from '../errors.js';
import { mulberry32 } from '../util/prng.js';

function makeRing(capacity: number, kind: RingKind, start = 0): ArrayBuffer {
  const buf = new ArrayBuffer(ringBytes(capacity) + 64);
  initRing(buf, 64, capacity, kind);
  const w = new Int32Array(buf, 64, RING_HEADER_BYTES >> 2);
  w[RW.prodHead] = start;
  w[RW.prodTail] = start;
  w[RW.consHead] = start;
  w[RW.consTail] = start;
  return buf;
}

test('layout: every producer/consumer word on its own 64-byte line', () => {
  for (const k of ['prodHead', 'prodTail', 'consHead', 'consTail', 'sleeping'] as const) {
    assert.equal(RingOffsets[k] % 64, 0, k);
  }
  assert.equal(
    new Set([RingOffsets.prodHead, RingOffsets.prodTail, RingOffsets.consHead, RingOffsets.consTail].map((o) => o >> 6))
      .size,
    4,
  );
  assert.equal(ringBytes(1024) % 64, 0);
});

test('capacity must be a power of two', () => {
  assert.throws(
    () => ringBytes(1000),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
  );
  assert.throws(() => ringBytes(1), NfcError);
});

test('attaching to something that is not a ring names the problem', () => {
  const buf = new ArrayBuffer(4096);
  assert.throws(() => new ScConsumer(buf, 0, 'nf 3 rx ring'), /nf 3 rx ring: no ring at byte 0/);
  const r = makeRing(64, RingKind.SPSC);
  assert.throws(() => new MpProducer(r, 64), /cannot attach to a SPSC ring/);
  assert.throws(() => new McConsumer(r, 64), /cannot attach to a SPSC ring/);
  assert.equal(checkRing(r, 64, 'x').capacity, 64);
});

for (const start of [0, 0x7ffffff0, -20]) {
  test(`SPSC burst semantics and wrap-around (counters start at ${start})`, () => {
    const buf = makeRing(16, RingKind.SPSC, start);
    const p = new SpscProducer(buf, 64);
    const c = new ScConsumer(buf, 64);
    const src = Uint32Array.from({ length: 40 }, (_, i) => 1000 + i);
    const dst = new Uint32Array(40);
    assert.equal(c.dequeue(dst, 8), 0, 'empty ring gives nothing');
    assert.equal(c.isEmpty(), true);
    assert.equal(p.enqueue(src, 10), 10);
    assert.equal(p.enqueue(src, 10, 10), 6, 'only 6 fit in a 16-slot ring');
    assert.equal(p.enqueue(src, 1), 0, 'full ring takes nothing');
    assert.equal(p.enqueueOne(1), false);
    assert.equal(c.count(), 16);
    assert.equal(c.dequeue(dst, 5), 5);
    assert.deepEqual([...dst.subarray(0, 5)], [1000, 1001, 1002, 1003, 1004]);
    // Producer now wraps past the end of the slot array.
    assert.equal(p.enqueue(src, 5, 16), 5);
    assert.equal(c.dequeue(dst, 40, 5), 16);
    assert.deepEqual(
      [...dst.subarray(0, 21)],
      Array.from({ length: 21 }, (_, i) => 1000 + i),
    );
    assert.equal(c.count(), 0);
    assert.equal(p.enqueueOne(7), true);
    const one = new Uint32Array(4);
    assert.equal(c.dequeue(one, 4), 1);
    assert.equal(one[0], 7);
  });
}

test('SPSC random bursts in one process keep order (seeded)', () => {
  const rnd = mulberry32(42);
  const buf = makeRing(64, RingKind.SPSC, -1000);
  const p = new SpscProducer(buf, 64);
  const c = new ScConsumer(buf, 64);
  const src = new Uint32Array(64);
  const dst = new Uint32Array(64);
  let sent = 0;
  let recv = 0;
  while (recv < 200_000) {
    const n = 1 + (rnd() % 64);
    for (let i = 0; i < n; i++) src[i] = sent + i;
    sent += p.enqueue(src, n);
    const m = c.dequeue(dst, 1 + (rnd() % 64));
    for (let i = 0; i < m; i++) assert.equal(dst[i], recv + i);
    recv += m;
  }
});

test('MPMC sides: reserve, fill and release in one process', () => {
  const buf = makeRing(32, RingKind.MPMC, -5);
  const p1 = new MpProducer(buf, 64);
  const p2 = new MpProducer(buf, 64);
  const c1 = new McConsumer(buf, 64);
  const c2 = new McConsumer(buf, 64);
  const a = Uint32Array.from({ length: 20 }, (_, i) => i);
  const b = Uint32Array.from({ length: 20 }, (_, i) => 100 + i);
  assert.equal(p1.enqueue(a, 20), 20);
  assert.equal(p2.enqueue(b, 20), 12, 'partial burst when the ring is nearly full');
  const out = new Uint32Array(32);
  assert.equal(c1.dequeue(out, 10), 10);
  assert.deepEqual([...out.subarray(0, 10)], [...a.subarray(0, 10)]);
  assert.equal(c2.dequeue(out, 32), 22);
  assert.deepEqual([...out.subarray(0, 22)], [...a.subarray(10), ...b.subarray(0, 12)]);
  assert.equal(c1.dequeue(out, 1), 0);
  assert.equal(c1.count(), 0);
});

test('MPSC producer with single consumer; peekAll shows the contents without taking them', () => {
  const buf = makeRing(8, RingKind.MPSC);
  const p = new MpProducer(buf, 64);
  const c = new ScConsumer(buf, 64);
  assert.equal(p.enqueue(Uint32Array.of(5, 6, 7), 3), 3);
  const peek = new Uint32Array(8);
  assert.equal(c.peekAll(peek), 3);
  assert.deepEqual([...peek.subarray(0, 3)], [5, 6, 7]);
  assert.equal(c.count(), 3);
  const out = new Uint32Array(8);
  assert.equal(c.dequeue(out, 8), 3);
  assert.deepEqual([...out.subarray(0, 3)], [5, 6, 7]);
});

test('zero-copy sides: reserve/publish and available/release, across the wrap', () => {
  const buf = makeRing(16, RingKind.SPSC, -7);
  const p = new SpscProducer(buf, 64);
  const c = new ScConsumer(buf, 64);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    const want = 1 + (round % 11);
    const k = p.reserve(want);
    assert.ok(k <= want);
    for (let i = 0; i < k; i++) p.slots[(p.position + i) & p.mask] = next + i;
    p.publish(k);
    next += k;
    const m = c.available(1 + (round % 7));
    for (let i = 0; i < m; i++) assert.equal(c.slots[(c.position + i) & c.mask], expect + i);
    c.release(m);
    expect += m;
  }
  assert.equal(c.count(), next - expect);
  assert.equal(p.reserve(100), 16 - (next - expect), 'reserve is capped by the free space');
});
