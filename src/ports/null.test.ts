/**
 * Tests for the null port and the trivial halves (idle RX, drop TX): nothing produced, every
 * buffer given to TX freed and counted. Every test checks that all buffers are back in the
 * pool afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NullPortConfig } from './config.js';
import { openDropTx, openIdleRx, openNullRx, openNullTx } from './null.js';
import { portRig, type PortRig } from '../../test/helpers/port-rig.js';

function rig(count = 128): PortRig {
  return portRig({ count, portId: 1, portName: 'sink' });
}

const cfg: NullPortConfig = { name: 'sink', driver: 'null' };

test('null RX never produces and is done from the start', () => {
  const r = rig();
  for (const rx of [openNullRx(cfg, r.ctx), openIdleRx()]) {
    assert.equal(rx.done, true);
    const descs = new Uint32Array(32).fill(7);
    assert.equal(rx.rxBurst(descs, 32), 0);
    assert.ok(
      descs.every((d) => d === 7),
      'descs untouched',
    );
    assert.equal(rx.rxNoBuffer, 0);
    rx.close();
  }
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});

test('null TX frees everything and counts it as sent', () => {
  const r = rig();
  const tx = openNullTx(cfg, r.ctx);
  const descs = new Uint32Array(32);
  for (const n of [32, 1, 0, 17]) {
    assert.equal(r.cache.alloc(descs, n), n);
    assert.equal(tx.txBurst(descs, n), n);
  }
  assert.equal(tx.sent, 50);
  assert.equal(tx.txDropped, 0);
  tx.flush();
  tx.close();
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});

test('drop TX frees everything and counts it in txDropped', () => {
  const r = rig();
  const tx = openDropTx(r.ctx);
  const descs = new Uint32Array(32);
  for (const n of [32, 5]) {
    assert.equal(r.cache.alloc(descs, n), n);
    assert.equal(tx.txBurst(descs, n), 0);
  }
  assert.equal(tx.txDropped, 37);
  tx.flush();
  tx.close();
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});
