/**
 * Tests for the packet pool's jumbo class: buffers of jumboSpan strides after the ordinary ones,
 * with their own free ring. Geometry and option errors, initPool, isValid, the cache's jumbo
 * stack and allocJumbo, a seeded random workload over both classes, double frees, NULL_DESC
 * slots, and reclaimNf of a dead NF's jumbos. The ordinary buffers are in pool.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initPool, NULL_DESC, PacketPool, poolBytes } from './pool.js';
import { JUMBO_CACHE, PoolCache, cacheStorageWords } from './pool-cache.js';
import { JUMBO_DATA, Meta, META_BYTES, poolGeometry } from './pool-layout.js';
import { RING_HEADER_BYTES, RW, ringBytes } from './ring-layout.js';
import { Journal, JournalState } from './ring.js';
import { NfcError } from '../errors.js';
import { createInstance } from './instance.js';
import { CACHE_CAP, FREE_RING_ID, NS } from './instance-layout.js';
import { reclaimNf } from '../manager/reclaim.js';
import { mulberry32f } from '../util/prng.js';
import { uniqueName } from '../../test/helpers/procs.js';

function makePool(count = 1024, opts: { headroom?: number; dataRoom?: number; jumbos?: number } = {}): PacketPool {
  const buf = new ArrayBuffer(4096 + poolBytes({ count, ...opts }));
  initPool(buf, 4096, { count, ...opts });
  return new PacketPool(buf, 4096);
}

/** Takes every descriptor off a ring (it is left empty) and returns them. */
function drainRing(consumer: {
  dequeue(dst: Uint32Array, max: number, dstOff?: number): number;
  capacity: number;
}): number[] {
  const b = new Uint32Array(consumer.capacity);
  const n = consumer.dequeue(b, b.length);
  return [...b.subarray(0, n)];
}

/** The descriptors of every jumbo of a pool: the index of each one's first stride. */
function jumboDescs(pool: PacketPool): number[] {
  return Array.from({ length: pool.jumbos }, (_, j) => pool.count + j * pool.jumboSpan);
}

/** Jumbos on a cache's jumbo stack, read from its storage (the count after JUMBO_CACHE slots). */
function jumboStackCount(storage: Uint32Array, capacity: number): number {
  return storage[capacity + 1 + JUMBO_CACHE]!;
}

test('jumbo geometry: the span fits 64 KiB + headroom + meta in whole strides, after the buffers; totalBytes counts it', () => {
  for (const o of [
    {},
    { jumbos: 1 },
    { jumbos: 256 },
    { count: 64, jumbos: 4096 },
    { dataRoom: 9216, jumbos: 8 },
    { dataRoom: 1024, headroom: 0, jumbos: 3 },
    { count: 64, dataRoom: 65536, jumbos: 2 },
  ]) {
    const g = poolGeometry(o);
    const what = JSON.stringify(o);
    const need = META_BYTES + g.headroom + JUMBO_DATA;
    assert.ok(g.jumboSpan * g.stride >= need, `${what}: a jumbo holds ${need} bytes`);
    assert.ok((g.jumboSpan - 1) * g.stride < need, `${what}: and no stride more than it needs`);
    assert.equal(g.jumbos, o.jumbos ?? 0, what);
    assert.equal(g.totalBytes, g.bufBase + (g.count + g.jumbos * g.jumboSpan) * g.stride, what);
    assert.equal(poolBytes(o), g.totalBytes, what);
    assert.ok(
      g.jumboRingCap >= Math.max(64, g.jumbos) && (g.jumboRingCap & (g.jumboRingCap - 1)) === 0,
      `${what}: ring capacity`,
    );
    assert.equal(g.jumboRingOffset, g.freeRingOffset + ringBytes(g.count), what);
    assert.ok(g.bufBase >= g.jumboRingOffset + ringBytes(g.jumboRingCap) && g.bufBase % 4096 === 0, what);
  }
  // The defaults: 17 strides of 4096 (69632 bytes) for 65600 + 128 + 64; no jumbos unless asked.
  assert.equal(poolGeometry().jumboSpan, 17);
  assert.equal(poolGeometry().jumbos, 0);
  assert.equal(poolGeometry({ count: 64, dataRoom: 65536 }).jumboSpan, 1);
  assert.equal(poolBytes({ count: 1024, jumbos: 10 }) - poolBytes({ count: 1024 }), 10 * 17 * 4096);
});

test('bad jumbo counts and a pool over 2 GiB because of its jumbos give NFC_ERR_INVALID_ARG naming the option', () => {
  for (const jumbos of [-1, 1.5, 4097, Number.NaN]) {
    assert.throws(
      () => poolGeometry({ jumbos }),
      (e: unknown) =>
        e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG' && /jumbos/.test(e.message) && e.fix !== undefined,
      String(jumbos),
    );
  }
  // 16384 buffers of 128 KiB are exactly 2 GiB: allowed; one jumbo more is not.
  assert.equal(poolGeometry({ count: 16384, dataRoom: 65536 }).stride, 131072);
  assert.doesNotThrow(() => poolGeometry({ count: 16384, dataRoom: 65536, jumbos: 0 }));
  assert.throws(
    () => poolGeometry({ count: 16384, dataRoom: 65536, jumbos: 1 }),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_INVALID_ARG' &&
      /1 jumbos/.test(e.message) &&
      /2 GiB/.test(e.message) &&
      e.fix !== undefined,
  );
});

test('initPool puts every jumbo on the jumbo ring (fresh meta) and none on the ordinary free ring', () => {
  const pool = makePool(256, { jumbos: 20 });
  assert.equal(pool.jumbos, 20);
  assert.equal(pool.jumboSpan, 17);
  assert.equal(pool.jumboBase, 256);
  assert.equal(pool.ringFreeCount(), 256);
  assert.equal(pool.jumboFreeCount(), 20);
  const ordinary = drainRing(pool.freeConsumer);
  assert.deepEqual(
    ordinary,
    Array.from({ length: 256 }, (_, i) => i),
  );
  const jumbos = drainRing(pool.jumboConsumer);
  assert.deepEqual(jumbos, jumboDescs(pool));
  for (const d of jumbos) {
    assert.equal(pool.isJumbo(d), true);
    assert.equal(pool.length(d), 0);
    assert.equal(pool.meta(d, Meta.dataOff), pool.defaultDataOff);
    assert.equal(pool.extent(d), 17 * 4096);
    assert.equal(pool.room(d), 17 * 4096 - pool.defaultDataOff);
    assert.equal(pool.bufferOffset(d), pool.bufferOffset(0) + d * 4096, 'addressed by index << shift like any buffer');
  }
  assert.equal(pool.isJumbo(255), false);
  assert.equal(pool.extent(255), 4096);
  // The last jumbo ends exactly at the end of the pool.
  const last = jumbos[jumbos.length - 1]!;
  assert.equal(pool.bufferOffset(last) + pool.extent(last), 4096 + poolBytes({ count: 256, jumbos: 20 }));
});

test('a jumbo holds a 65 600-byte packet written with pool.write and reads it back intact; an ordinary buffer refuses it', () => {
  const pool = makePool(64, { jumbos: 3 });
  const cache = new PoolCache(pool, { capacity: 8 });
  const j = new Uint32Array(3);
  assert.equal(cache.allocJumbo(j, 3), 3);
  const pkt = new Uint8Array(65_600);
  for (let i = 0; i < pkt.length; i++) pkt[i] = (i * 131 + (i >>> 8)) & 0xff;
  // Neighbours' meta must survive: the next jumbo's first stride is the only meta line after d.
  const [d, next, last] = [j[0]!, j[1]!, j[2]!].sort((a, b) => a - b) as [number, number, number];
  pool.setMeta(next, Meta.user0, 0xabcdef01);
  assert.equal(pool.write(d, pkt), true);
  assert.equal(pool.length(d), 65_600);
  assert.deepEqual(pool.bytes(d), pkt);
  assert.equal(pool.meta(next, Meta.user0), 0xabcdef01, 'the next jumbo is untouched');
  assert.equal(pool.meta(next, Meta.dataOff), pool.defaultDataOff);
  // The last jumbo, at the very end of the mapping, takes its whole room (and not a byte more).
  assert.equal(pool.write(last, new Uint8Array(pool.room(last)).fill(7)), true);
  assert.equal(pool.bytes(last).length, pool.room(last));
  assert.equal(pool.setLength(last, pool.room(last) + 1), false);
  assert.equal(pool.length(last), pool.room(last));
  // An ordinary buffer: setLength and write refuse, nothing changes.
  const b = new Uint32Array(1);
  assert.equal(cache.alloc(b, 1), 1);
  const o = b[0]!;
  assert.equal(pool.isJumbo(o), false);
  assert.equal(pool.setLength(o, 65_600), false);
  assert.equal(pool.write(o, pkt), false);
  assert.equal(pool.length(o), 0);
  assert.equal(pool.setLength(o, pool.room(o)), true);
  assert.equal(pool.setLength(o, pool.room(o) + 1), false);
  cache.freeOne(o);
  cache.free(j, 3);
  cache.flush();
  assert.equal(pool.ringFreeCount(), 64);
  assert.equal(pool.jumboFreeCount(), 3);
});

test('isValid: every ordinary index and jumbo first stride; not a jumbo middle stride, past the end, negative, non-integer', () => {
  const pool = makePool(64, { jumbos: 5 });
  const span = pool.jumboSpan;
  const end = 64 + 5 * span;
  const valid = new Set([...Array.from({ length: 64 }, (_, i) => i), ...jumboDescs(pool)]);
  for (let d = 0; d < end + 2 * span; d++) assert.equal(pool.isValid(d), valid.has(d), `index ${d}`);
  for (const d of [
    65,
    64 + span - 1,
    64 + span + 1,
    end - 1,
    end,
    end + span,
    NULL_DESC,
    2 ** 32,
    2 ** 32 + 64,
    -1,
    -64,
    -(2 ** 31),
    0.5,
    64.5,
    63.999,
    Number.NaN,
    Infinity,
    -Infinity,
  ]) {
    assert.equal(pool.isValid(d), false, `index ${d}`);
  }
  // A pool without jumbos: nothing at or past count.
  const plain = makePool(64);
  assert.equal(plain.isValid(63), true);
  for (const d of [64, 64 + plain.jumboSpan, NULL_DESC]) assert.equal(plain.isValid(d), false, `index ${d}`);
});

for (const capacity of [32, 0]) {
  test(`free routing (cache capacity ${capacity}): a mixed burst goes back to both rings, no jumbo ever on the ordinary ring`, () => {
    const pool = makePool(256, { jumbos: 24 });
    const cache = new PoolCache(pool, { capacity });
    const all = new Uint32Array(256);
    assert.equal(cache.alloc(all, 256), 256);
    const jumbos = new Uint32Array(24);
    assert.equal(cache.allocJumbo(jumbos, 24), 24);
    assert.equal(pool.ringFreeCount(), 0);
    assert.equal(pool.jumboFreeCount(), 0);
    // Interleave: 3 ordinary, 1 jumbo, ..., in bursts of varying size, through free and freeOne.
    const mixed: number[] = [];
    for (let i = 0, k = 0; i < 256; i++) {
      mixed.push(all[i]!);
      if (i % 3 === 2 && k < 24) mixed.push(jumbos[k++]!);
    }
    assert.equal(mixed.length, 256 + 24);
    const rnd = mulberry32f(0x1f2e3d);
    for (let at = 0; at < mixed.length; ) {
      const n = Math.min(mixed.length - at, 1 + Math.floor(rnd() * 40));
      if (n === 1) cache.freeOne(mixed[at]!);
      else cache.free(Uint32Array.from(mixed.slice(at, at + n)), n);
      at += n;
      assert.ok(cache.cached <= capacity);
    }
    cache.flush();
    assert.equal(cache.cached, 0);
    assert.equal(pool.ringFreeCount(), 256, 'ordinary ring back to full');
    assert.equal(pool.jumboFreeCount(), 24, 'jumbo ring back to full');
    const ordinary = drainRing(pool.freeConsumer);
    assert.equal(ordinary.length, 256);
    assert.ok(
      ordinary.every((d) => d < pool.count),
      'no jumbo on the ordinary free ring',
    );
    assert.equal(new Set(ordinary).size, 256);
    const back = drainRing(pool.jumboConsumer);
    assert.deepEqual(
      back.sort((a, b) => a - b),
      jumboDescs(pool),
    );
  });
}

test('jumbo stack overflow: freeOne of more than JUMBO_CACHE jumbos flushes the full stack to the jumbo ring', () => {
  const pool = makePool(256, { jumbos: 40 });
  const storage = new Uint32Array(cacheStorageWords(32));
  const cache = new PoolCache(pool, { capacity: 32, storage });
  const j = new Uint32Array(40);
  assert.equal(cache.allocJumbo(j, 40), 40);
  for (let k = 1; k <= 40; k++) {
    cache.freeOne(j[k - 1]!);
    const onRing = JUMBO_CACHE * Math.floor((k - 1) / JUMBO_CACHE);
    assert.equal(pool.jumboFreeCount(), onRing, `after ${k} frees`);
    assert.equal(jumboStackCount(storage, 32), k - onRing, `after ${k} frees`);
    assert.ok(jumboStackCount(storage, 32) <= JUMBO_CACHE);
    assert.equal(cache.cached, 0, 'the ordinary stack is not used');
  }
  assert.equal(pool.ringFreeCount(), 256);
  cache.flush();
  assert.equal(jumboStackCount(storage, 32), 0);
  assert.equal(pool.jumboFreeCount(), 40);
  assert.deepEqual(
    drainRing(pool.jumboConsumer).sort((a, b) => a - b),
    jumboDescs(pool),
  );
});

test('allocJumbo takes the jumbo stack first, then the ring, resets meta, and gives 0 (no throw) when none are left', () => {
  const pool = makePool(64, { jumbos: 4 });
  const storage = new Uint32Array(cacheStorageWords(8));
  const cache = new PoolCache(pool, { capacity: 8, storage });
  const j = new Uint32Array(8);
  assert.equal(cache.allocJumbo(j, 8), 4, 'all four, no more');
  assert.equal(cache.allocJumbo(j, 8, 4), 0, 'none left: 0');
  assert.equal(cache.allocJumbo(j, 1), 0);
  assert.equal(pool.jumboFreeCount(), 0);
  const [a, b] = [j[0]!, j[1]!];
  for (const d of [a, b]) {
    assert.equal(pool.write(d, new Uint8Array(5000)), true);
    assert.equal(pool.prepend(d, 14), true);
    for (let w = 2; w < 12; w++) pool.setMeta(d, w, 0xffffffff);
  }
  cache.freeOne(a);
  cache.freeOne(b);
  assert.equal(jumboStackCount(storage, 8), 2);
  const got = new Uint32Array(4);
  assert.equal(cache.allocJumbo(got, 4), 2, 'the two on the stack; the ring is empty');
  assert.deepEqual([...got.subarray(0, 2)], [b, a], 'last freed, first out');
  assert.equal(jumboStackCount(storage, 8), 0);
  for (const d of [a, b]) {
    assert.equal(pool.length(d), 0);
    assert.equal(pool.meta(d, Meta.dataOff), pool.defaultDataOff);
    assert.equal(pool.room(d), pool.extent(d) - pool.defaultDataOff);
    for (let w = 2; w < 12; w++) assert.equal(pool.meta(d, w), 0, `meta word ${w} of jumbo ${d}`);
  }
  cache.free(Uint32Array.of(a, b, j[2]!, j[3]!), 4);
  cache.flush();
  assert.equal(pool.jumboFreeCount(), 4);
  // Two taken from the ring, one of them freed again: the stack's one comes out first, then the ring's two.
  assert.equal(cache.allocJumbo(got, 2), 2);
  const x = got[0]!;
  const y = got[1]!;
  cache.freeOne(x);
  const again = new Uint32Array(4);
  assert.equal(cache.allocJumbo(again, 4), 3, 'one held elsewhere (y)');
  assert.equal(again[0], x);
  assert.deepEqual(new Set([...again.subarray(0, 3), y]), new Set(jumboDescs(pool)));
  assert.equal(cache.shortAllocs, 0, 'allocJumbo does not count ordinary short allocations');
});

test('a pool with jumbos 0: allocJumbo gives 0, jumboFreeCount is 0, ordinary buffers work as before', () => {
  const pool = makePool(64, { jumbos: 0 });
  assert.equal(pool.jumbos, 0);
  assert.equal(pool.jumboBase, 64);
  assert.equal(pool.jumboFreeCount(), 0);
  const cache = new PoolCache(pool, { capacity: 8 });
  const j = new Uint32Array(4);
  assert.equal(cache.allocJumbo(j, 4), 0);
  assert.equal(pool.isValid(64), false);
  const b = new Uint32Array(64);
  assert.equal(cache.alloc(b, 64), 64);
  assert.ok([...b].every((d) => d < 64));
  cache.free(b, 64);
  cache.flush();
  assert.equal(pool.ringFreeCount(), 64);
  assert.equal(pool.jumboFreeCount(), 0);
  assert.equal(poolBytes({ count: 64, jumbos: 0 }), poolBytes({ count: 64 }));
});

for (const capacity of [32, 0]) {
  test(`seeded random alloc / allocJumbo / free / freeOne / flush (cache capacity ${capacity}): exact counts, every buffer found exactly once`, () => {
    const count = 256;
    const jumbos = 12;
    const pool = makePool(count, { jumbos });
    const storage = new Uint32Array(cacheStorageWords(capacity));
    const cache = new PoolCache(pool, { capacity, storage });
    const rnd = mulberry32f(0xc0ffee + capacity);
    const pick = (n: number): number => Math.floor(rnd() * n);
    const held: number[] = [];
    const heldJ: number[] = [];
    const b = new Uint32Array(64);
    const check = (step: number): void => {
      const js = jumboStackCount(storage, capacity);
      assert.ok(cache.cached <= capacity && js <= JUMBO_CACHE, `step ${step}`);
      assert.equal(pool.ringFreeCount() + cache.cached + held.length, count, `step ${step}: ordinary buffers`);
      assert.equal(pool.jumboFreeCount() + js + heldJ.length, jumbos, `step ${step}: jumbos`);
      assert.equal(new Set([...held, ...heldJ]).size, held.length + heldJ.length, `step ${step}: nothing held twice`);
    };
    /** Removes and returns k random held descriptors of either class. */
    const takeHeld = (k: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < k && held.length + heldJ.length > 0; i++) {
        const fromJ = heldJ.length > 0 && (held.length === 0 || rnd() < 0.3);
        const list = fromJ ? heldJ : held;
        out.push(list.splice(pick(list.length), 1)[0]!);
      }
      return out;
    };
    for (let step = 0; step < 5000; step++) {
      const op = rnd();
      if (op < 0.3) {
        const n = cache.alloc(b, 1 + pick(40));
        for (let i = 0; i < n; i++) {
          const d = b[i]!;
          assert.ok(d < count && pool.isValid(d) && !pool.isJumbo(d), `step ${step}: ordinary ${d}`);
          held.push(d);
        }
      } else if (op < 0.45) {
        const want = 1 + pick(5);
        const n = cache.allocJumbo(b, want);
        assert.equal(n, Math.min(want, jumbos - heldJ.length), `step ${step}: allocJumbo short only when all are held`);
        for (let i = 0; i < n; i++) {
          const d = b[i]!;
          assert.ok(pool.isJumbo(d) && pool.isValid(d), `step ${step}: jumbo ${d}`);
          assert.equal(pool.length(d), 0);
          heldJ.push(d);
        }
      } else if (op < 0.75) {
        const f = Uint32Array.from(takeHeld(pick(50)));
        cache.free(f, f.length);
      } else if (op < 0.97) {
        for (const d of takeHeld(1)) cache.freeOne(d);
      } else {
        cache.flush();
        assert.equal(cache.cached, 0);
        assert.equal(jumboStackCount(storage, capacity), 0);
      }
      check(step);
    }
    const rest = Uint32Array.from(takeHeld(held.length + heldJ.length));
    cache.free(rest, rest.length);
    cache.flush();
    check(-1);
    const ordinary = drainRing(pool.freeConsumer);
    const jumbo = drainRing(pool.jumboConsumer);
    const found = new Set([...ordinary, ...jumbo]);
    assert.equal(ordinary.length + jumbo.length, count + jumbos, 'each buffer once');
    assert.equal(found.size, count + jumbos, 'no duplicate');
    for (let d = 0; d < count; d++) assert.ok(found.has(d), `buffer ${d}`);
    for (const d of jumboDescs(pool)) assert.ok(found.has(d), `jumbo ${d}`);
    assert.ok(ordinary.every((d) => d < count) && jumbo.every((d) => d >= count), 'each on its own ring');
  });
}

test('a jumbo freed twice is not detected by free; flush throws NFC_ERR_DOUBLE_FREE only when the jumbo ring overflows (jumbos = ring capacity)', () => {
  // 64 jumbos: the jumbo ring's capacity is exactly 64, so a duplicate cannot fit once all are free.
  const pool = makePool(64, { jumbos: 64 });
  assert.equal(poolGeometry({ count: 64, jumbos: 64 }).jumboRingCap, 64);
  const cache = new PoolCache(pool, { capacity: 8 });
  const j = new Uint32Array(1);
  assert.equal(cache.allocJumbo(j, 1), 1);
  cache.freeOne(j[0]!);
  assert.doesNotThrow(() => cache.freeOne(j[0]!), 'the second free only goes to the jumbo stack');
  assert.throws(
    () => cache.flush(),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_DOUBLE_FREE' && /jumbo ring overflow/.test(e.message),
  );
  assert.equal(pool.jumboFreeCount(), 64, 'the ring is full: the duplicate did not fit');
  // The stack was emptied before the throw: the next flush has nothing to do.
  assert.doesNotThrow(() => cache.flush());
});

test('a jumbo freed twice into a jumbo ring larger than the jumbos (capacity 64, 4 jumbos) is taken silently: the duplicate is handed out twice', () => {
  const pool = makePool(64, { jumbos: 4 });
  const cache = new PoolCache(pool, { capacity: 8 });
  const j = new Uint32Array(8);
  assert.equal(cache.allocJumbo(j, 1), 1);
  const d = j[0]!;
  cache.freeOne(d);
  cache.freeOne(d);
  assert.doesNotThrow(() => cache.flush());
  assert.equal(pool.jumboFreeCount(), 5, 'four jumbos, five entries');
  assert.equal(cache.allocJumbo(j, 8), 5);
  assert.equal([...j.subarray(0, 5)].filter((x) => x === d).length, 2);
});

test('allocJumbo skips NULL_DESC slots (a dead reservation on the jumbo ring repaired by the owner)', () => {
  const pool = makePool(64, { jumbos: 4 });
  const cache = new PoolCache(pool, { capacity: 8 });
  const j = new Uint32Array(8);
  assert.equal(cache.allocJumbo(j, 2), 2);
  // What reclaimNf publishes for a reservation the dead NF never filled.
  assert.equal(pool.jumboProducer.enqueue(Uint32Array.of(NULL_DESC, NULL_DESC), 2), 2);
  const got = new Uint32Array(8);
  const n = cache.allocJumbo(got, 8);
  const real = [...got.subarray(0, n)];
  assert.ok(
    real.every((d) => pool.isValid(d) && pool.isJumbo(d)),
    `allocJumbo gave ${real.map((d) => d.toString(16)).join(',')}`,
  );
  assert.equal(n, 2, 'the two real jumbos left on the ring');
});

/** An NF's journaled pool cache in its slot of shared memory, on its own mapping of the pool (as engine.ts sets it up). */
function nfCacheOf(
  inst: ReturnType<typeof createInstance>,
  nfId: number,
): { cache: PoolCache; cacheStart: number; journal: number } {
  const slot = inst.slotWord(nfId);
  const cacheStart = slot + inst.g.cacheWord;
  const cache = new PoolCache(new PacketPool(inst.pool.buffer, 0), {
    capacity: CACHE_CAP,
    storage: inst.u32.subarray(cacheStart, cacheStart + cacheStorageWords(CACHE_CAP)),
  });
  cache.setJournal(inst.i32, slot + NS.journal, FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
  return { cache, cacheStart, journal: slot + NS.journal };
}

test("reclaimNf: a dead NF's jumbo stack goes back to the jumbo ring; a dead reservation on the jumbo ring (journal ring FREE_RING_ID + 2) is repaired", async () => {
  const count = 1024;
  const jumbos = 8;
  const inst = createInstance({ name: uniqueName('jreclaim'), pool: { count, jumbos }, nfRx: 64, nfTx: 64, ports: 1 });
  try {
    const pool = inst.pool;
    // The manager's cache: allocJumbo is for the manager's ports; it hands the NFs jumbos.
    const mgr = new PoolCache(pool, { capacity: 64 });
    const j = new Uint32Array(16);
    assert.equal(mgr.allocJumbo(j, jumbos), jumbos);

    // NF 3 frees three jumbos and four ordinary buffers into its cache, then dies (no flush).
    const a = nfCacheOf(inst, 3);
    const o = new Uint32Array(10);
    assert.equal(a.cache.alloc(o, 10), 10);
    a.cache.free(Uint32Array.of(j[0]!, o[0]!, j[1]!, o[1]!, o[2]!, j[2]!, o[3]!), 7);
    assert.equal(inst.u32[a.cacheStart + CACHE_CAP + 1 + JUMBO_CACHE], 3, 'three on the jumbo stack in shared memory');
    assert.equal(pool.jumboFreeCount(), 0);
    const heldWord = inst.slotWord(3) + inst.g.heldWord;
    inst.u32[heldWord] = 6;
    for (let i = 0; i < 6; i++) inst.u32[heldWord + 1 + i] = o[4 + i]!;
    const r3 = await reclaimNf(inst, 3, mgr);
    assert.equal(r3.journal, 'idle');
    assert.equal(pool.ringFreeCount(), count, 'every ordinary buffer back');
    assert.equal(pool.jumboFreeCount(), 3, "the dead NF's three jumbos back on the jumbo ring");
    assert.equal(inst.u32[a.cacheStart + CACHE_CAP + 1 + JUMBO_CACHE], 0, 'its jumbo stack count cleared');
    assert.equal(mgr.cached, 0);

    // NF 4 had [j3, j4] on its jumbo stack and died inside flushJumbos: the stack count lowered
    // to 0, the journal naming stack position 0, the reservation of 2 slots on the jumbo ring
    // made (RESERVED) but the slots not written. Replayed by hand from the real first steps.
    const b = nfCacheOf(inst, 4);
    b.cache.freeOne(j[3]!);
    b.cache.freeOne(j[4]!);
    const jcount = b.cacheStart + CACHE_CAP + 1 + JUMBO_CACHE;
    assert.equal(inst.u32[jcount], 2);
    const ringW = new Int32Array(pool.buffer, pool.jumboProducer.byteOffset, RING_HEADER_BYTES >> 2);
    const head = Atomics.load(ringW, RW.prodHead);
    inst.u32[jcount] = 0;
    inst.i32[b.journal + Journal.src] = 0;
    inst.i32[b.journal + Journal.ring] = FREE_RING_ID + 2;
    inst.i32[b.journal + Journal.head] = head;
    inst.i32[b.journal + Journal.n] = 2;
    inst.i32[b.journal + Journal.state] = JournalState.RESERVED;
    Atomics.store(ringW, RW.prodHead, head + 2);
    const r4 = await reclaimNf(inst, 4, mgr);
    assert.match(r4.journal, /filled and published a dead reservation of 2 on ring 1002/);
    assert.equal(Atomics.load(ringW, RW.prodTail), Atomics.load(ringW, RW.prodHead), 'the ring is not stalled');
    assert.equal(inst.i32[b.journal + Journal.state], JournalState.IDLE);
    // The three still held by the manager's port come back the ordinary way.
    mgr.free(j.subarray(5, 8), 3);
    mgr.flush();
    // Eight jumbos on the ring, plus the two NULL_DESC slots of the repaired reservation.
    assert.equal(pool.jumboFreeCount(), jumbos + 2);
    const got = new Uint32Array(16);
    const n = mgr.allocJumbo(got, 16);
    const real = [...got.subarray(0, n)];
    assert.ok(
      real.every((d) => pool.isValid(d) && pool.isJumbo(d)),
      `allocJumbo gave ${real.map((d) => `0x${d.toString(16)}`).join(' ')}`,
    );
    assert.deepEqual(
      real.sort((x, y) => x - y),
      jumboDescs(pool),
      'every jumbo once',
    );
    assert.equal(pool.ringFreeCount(), count);
  } finally {
    inst.dir.remove();
  }
});
