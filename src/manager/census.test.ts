import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstance } from '../shm/instance.js';
import { CounterSet, ManagerHeldCounters, NS, PortRxCounters } from '../shm/instance-layout.js';
import { PoolCache } from '../shm/pool-cache.js';
import { MpProducer } from '../shm/ring.js';
import { auditBuffers, countBuffers } from './census.js';
import { uniqueName } from '../../test/helpers/procs.js';

test('census: buffers in rings, NF slots, ports and caches are counted where they are; the audit names lost and twice-freed ones', () => {
  const count = 1024;
  const jumbos = 4;
  const inst = createInstance({ name: uniqueName('census'), pool: { count, jumbos }, nfRx: 64, nfTx: 64, ports: 2 });
  try {
    const pool = inst.pool;
    const total = count + jumbos;
    const mgr = new PoolCache(pool, { capacity: 0 });
    const take = (n: number): Uint32Array => {
      const a = new Uint32Array(n);
      assert.equal(mgr.alloc(a, n), n);
      return a;
    };
    // 10 queued for NF 2, 5 in NF 3's burst in hand, 3 kept by NF 3, 7 lost, 1 jumbo lost.
    const queued = take(10);
    assert.equal(new MpProducer(inst.mem, inst.rxRingOffset(2)).enqueue(queued, 10), 10);
    const u32 = inst.u32;
    const slot = inst.slotWord(3);
    const burst = take(5);
    u32[slot + NS.inflight] = 5;
    burst.forEach((d, i) => {
      u32[slot + NS.inflight + 1 + i] = d;
    });
    const kept = take(3);
    u32[slot + inst.g.heldWord] = 3;
    kept.forEach((d, i) => {
      u32[slot + inst.g.heldWord + 1 + i] = d;
    });
    const lost = take(7);
    pool.setMeta(lost[0]!, 2, 1); // Meta.port: where it came from, for the report
    const jumbo = new Uint32Array(1);
    assert.equal(mgr.allocJumbo(jumbo, 1), 1);
    // A port holding 12 spares and the TX loop's cache 4 (the gauges the loops publish).
    inst.counters.set(CounterSet.portRx(1))[PortRxCounters.held] = 12;
    inst.counters.set(CounterSet.managerHeld)[ManagerHeldCounters.txCache] = 4;

    const c = countBuffers(inst, ['a', 'b'], mgr);
    assert.equal(c.total, total);
    assert.equal(c.free, total - 10 - 5 - 3 - 7 - 1);
    assert.equal(c.rings, 10);
    assert.deepEqual(c.nfs, [{ nfId: 3, held: 8 }]);
    assert.deepEqual(c.ports, [
      { port: 'a', held: 0 },
      { port: 'b', held: 12 },
    ]);
    assert.equal(c.manager, 4);
    // The 8 lost are in motion as far as a count can tell; the 16 gauge buffers were never taken.
    assert.equal(c.inMotion, 7 + 1 - 12 - 4);

    const a = auditBuffers(inst);
    assert.equal(a.total, total);
    assert.equal(a.free, c.free);
    assert.equal(a.elsewhere, 18);
    assert.equal(a.missing, 8);
    assert.equal(a.duplicates, 0);
    assert.equal(a.examples.length, 5);
    assert.match(a.examples[0]!, new RegExp(`^buffer ${lost[0]} is nowhere \\(len 0, port 1,`));

    // Whatever the caller still holds is a place too; a buffer freed twice is in two places.
    const inHand = auditBuffers(inst, (mark) => {
      for (const d of lost) mark(d);
      mark(jumbo[0]!);
    });
    assert.equal(inHand.missing, 0);
    mgr.freeOne(kept[0]!); // back on the free ring while NF 3's records still name it
    const twice = auditBuffers(inst, (mark) => {
      for (const d of lost) mark(d);
      mark(jumbo[0]!);
    });
    assert.equal(twice.duplicates, 1);
    assert.ok(
      twice.examples.some((e) => e.startsWith(`buffer ${kept[0]} is in two places`)),
      twice.examples.join('; '),
    );
  } finally {
    inst.dir.remove();
  }
});
