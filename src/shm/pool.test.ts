/**
 * Tests for the packet pool's ordinary buffers: geometry and option errors, the free ring, the
 * per-process cache (alloc, free, refill, flush, capacity 0), meta and packet bytes, and two
 * processes sharing a pool through their own caches. The jumbo class is in pool-jumbo.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initPool, PacketPool, poolBytes } from './pool.js';
import { PoolCache } from './pool-cache.js';
import { Meta, META_BYTES, poolGeometry } from './pool-layout.js';
import { NfcError } from '../errors.js';
import { ShmDir } from './shm-file.js';
import { runHelper, uniqueName, waitFor } from '../../test/helpers/procs.js';

function makePool(count = 1024, opts: { headroom?: number; dataRoom?: number; jumbos?: number } = {}): PacketPool {
  const buf = new ArrayBuffer(4096 + poolBytes({ count, ...opts }));
  initPool(buf, 4096, { count, ...opts });
  return new PacketPool(buf, 4096);
}

test('geometry: default 2048-byte data room + 128 headroom + meta in a 4096-byte power-of-two stride', () => {
  const g = poolGeometry();
  assert.equal(g.dataRoom, 2048);
  assert.equal(g.headroom, 128);
  assert.equal(g.stride, 4096);
  assert.equal(g.shift, 12);
  assert.equal(g.bufBase % 4096, 0);
  assert.equal(poolGeometry({ dataRoom: 1024, headroom: 0 }).stride, 2048);
});

test('bad pool options give NFC_ERR_INVALID_ARG with a fix', () => {
  for (const o of [
    { count: 1000 },
    { count: 16 },
    { headroom: 3 },
    { dataRoom: 10 },
    { count: 2 ** 20, dataRoom: 9000 },
  ]) {
    assert.throws(
      () => poolGeometry(o),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG' && e.fix !== undefined,
      JSON.stringify(o),
    );
  }
});

test('a fresh pool has every buffer free, addressed by index << shift', () => {
  const pool = makePool(256);
  assert.equal(pool.ringFreeCount(), 256);
  assert.equal(pool.bufferOffset(3) - pool.bufferOffset(2), 4096);
  assert.equal(pool.dataOffset(0), pool.bufferOffset(0) + META_BYTES + 128);
  assert.throws(() => new PacketPool(new ArrayBuffer(8192), 0), /no packet pool/);
});

test('cache alloc/free keeps the accounting: free count returns to its start', () => {
  const pool = makePool(1024);
  const cache = new PoolCache(pool, { capacity: 128 });
  const start = pool.ringFreeCount() + cache.cached;
  const held: number[] = [];
  const b = new Uint32Array(64);
  for (let round = 0; round < 50; round++) {
    const n = cache.alloc(b, 1 + (round % 64));
    for (let i = 0; i < n; i++) held.push(b[i]!);
    const k = Math.min(held.length, (round * 7) % 64);
    const f = Uint32Array.from(held.splice(0, k));
    cache.free(f, f.length);
    assert.ok(cache.cached <= 128);
  }
  assert.equal(new Set(held).size, held.length, 'no buffer handed out twice');
  cache.free(Uint32Array.from(held), held.length);
  cache.flush();
  assert.equal(pool.ringFreeCount(), start);
});

test('alloc resets meta; an exhausted pool gives a short count, not an exception', () => {
  const pool = makePool(64);
  const cache = new PoolCache(pool, { capacity: 32 });
  const b = new Uint32Array(64);
  assert.equal(cache.alloc(b, 10), 10);
  pool.setLength(b[0]!, 100);
  for (let i = 0; i < 10; i++) {
    for (let w = 2; w < 12; w++) pool.setMeta(b[i]!, w, 0xffffffff);
  }
  assert.equal(pool.prepend(b[0]!, 14), true);
  cache.free(b, 10);
  const all = new Uint32Array(64);
  assert.equal(cache.alloc(all, 64), 64);
  for (const d of all) {
    assert.equal(pool.length(d), 0);
    assert.equal(pool.meta(d, Meta.dataOff), pool.defaultDataOff);
    for (const f of [
      'port',
      'flowHash',
      'tsSec',
      'tsNsec',
      'action',
      'destination',
      'arrival',
      'chainIndex',
      'offload',
      'chainId',
    ] as const) {
      assert.equal(pool.meta(d, Meta[f]), 0, `${f} of buffer ${d}`);
    }
  }
  assert.equal(cache.alloc(b, 1), 0);
  assert.equal(cache.shortAllocs, 1);
  cache.free(all, 64);
  cache.flush();
  assert.equal(pool.ringFreeCount(), 64);
});

test('a burst larger than the cache goes to the ring directly; cache capacity 0 uses the ring', () => {
  const pool = makePool(256);
  const small = new PoolCache(pool, { capacity: 8 });
  const b = new Uint32Array(100);
  assert.equal(small.alloc(b, 100), 100);
  small.free(b, 100);
  assert.ok(small.cached <= 8);
  small.flush();
  const none = new PoolCache(pool, { capacity: 0 });
  assert.equal(none.alloc(b, 50), 50);
  assert.equal(pool.ringFreeCount(), 206);
  none.free(b, 50);
  assert.equal(pool.ringFreeCount(), 256);
});

test('packet bytes, length limits, prepend and adj', () => {
  const pool = makePool(64);
  const cache = new PoolCache(pool);
  const b = new Uint32Array(1);
  cache.alloc(b, 1);
  const d = b[0]!;
  assert.equal(pool.write(d, Uint8Array.of(1, 2, 3, 4)), true);
  assert.deepEqual([...pool.bytes(d)], [1, 2, 3, 4]);
  assert.equal(pool.setLength(d, 4096), false, 'longer than the buffer');
  assert.equal(pool.prepend(d, 2), true);
  assert.equal(pool.length(d), 6);
  assert.equal(pool.adj(d, 3), true);
  assert.deepEqual([...pool.bytes(d)], [2, 3, 4]);
  assert.equal(pool.prepend(d, 10_000), false);
  assert.equal(pool.adj(d, 4), false);
  pool.write(d, new Uint8Array(2048));
  assert.equal(pool.length(d), 2048);
  cache.freeOne(d);
  cache.flush();
  assert.equal(pool.ringFreeCount(), 64);
});

test('two processes allocating and freeing through their own caches: no buffer held twice, none lost', {
  timeout: 120_000,
}, async () => {
  const name = uniqueName('pool');
  const dir = ShmDir.create(name);
  const procs: ReturnType<typeof runHelper>[] = [];
  try {
    const count = 2048;
    const buf = dir.createFile('pool', 4096 + poolBytes({ count }));
    initPool(buf, 4096, { count });
    const pool = new PacketPool(buf, 4096);
    const start = pool.ringFreeCount();
    const ctl = new Int32Array(buf, 0, 16);
    for (const id of [1, 2]) {
      procs.push(runHelper('pool-peer', [name, 'pool', String(id), '300000', String(id * 31), '900', '256']));
    }
    await waitFor(() => Atomics.load(ctl, 0) === 2, 30_000, 'pool peers to attach');
    Atomics.store(ctl, 8, 1);
    const reports = (await Promise.all(procs.map((p) => p.done))).map(
      (o) => JSON.parse(o) as { claimErrors: number; firstError: string; allocated: number },
    );
    for (const r of reports) {
      assert.equal(r.claimErrors, 0, r.firstError);
      assert.ok(r.allocated > 1_000_000);
    }
    assert.equal(pool.ringFreeCount(), start, 'every buffer back on the free ring');
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    dir.remove();
  }
});
