/**
 * Tests for the driver table (openRx / openTx): each driver's halves, gen and pcap halves
 * without a configured direction, and unknown drivers. Every test checks that all buffers
 * are back in the pool afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { PcapReader } from '../pcap/pcap-reader.js';
import { PcapWriter } from '../pcap/pcap-writer.js';
import type { PortConfig } from './config.js';
import { openRx, openTx } from './index.js';
import { portRig, type PortRig } from '../../test/helpers/port-rig.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-ports-'));
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function rig(count = 128): PortRig {
  return portRig({ count, portId: 2, portName: 'p' });
}

test('gen: RX generates; TX drops, frees and counts', () => {
  const r = rig();
  const c: PortConfig = { name: 'p', driver: 'gen', rate: 0, sizes: [64], flows: 4, tcp: 0, seed: 1, count: 10 };
  const rx = openRx(c, r.ctx);
  const tx = openTx(c, r.ctx);
  const descs = new Uint32Array(32);
  const n = rx.rxBurst(descs, 32);
  assert.equal(n, 10);
  assert.equal(rx.done, true);
  assert.equal(tx.txBurst(descs, n), 0);
  assert.equal(tx.txDropped, 10);
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});

test('pcap: rx and tx files; without rx an idle RX, without tx a dropping TX', () => {
  const r = rig();
  const inPath = join(dir, 'in.pcap');
  const outPath = join(dir, 'out.pcap');
  const w = PcapWriter.create(inPath);
  const frame = new Uint8Array(64);
  for (let i = 0; i < 3; i++) w.write(frame, 0, 64, 10 + i, 0);
  w.close();
  const both: PortConfig = { name: 'p', driver: 'pcap', rx: inPath, tx: outPath, speed: 'max', loop: false };
  const rx = openRx(both, r.ctx);
  const tx = openTx(both, r.ctx);
  const descs = new Uint32Array(32);
  const n = rx.rxBurst(descs, 32);
  assert.equal(n, 3);
  assert.equal(tx.txBurst(descs, n), 3);
  tx.close();
  rx.close();
  const reader = PcapReader.open(outPath);
  assert.deepEqual(
    [...reader].map((p) => p.tsSec),
    [10, 11, 12],
  );
  reader.close();

  const neither: PortConfig = { name: 'p', driver: 'pcap', speed: 'max', loop: false };
  const idle = openRx(neither, r.ctx);
  assert.equal(idle.done, true);
  assert.equal(idle.rxBurst(descs, 32), 0);
  const drop = openTx(neither, r.ctx);
  assert.equal(r.cache.alloc(descs, 5), 5);
  assert.equal(drop.txBurst(descs, 5), 0);
  assert.equal(drop.txDropped, 5);
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});

test('null: idle RX, sink TX', () => {
  const r = rig();
  const c: PortConfig = { name: 'p', driver: 'null' };
  const rx = openRx(c, r.ctx);
  const tx = openTx(c, r.ctx);
  assert.equal(rx.done, true);
  const descs = new Uint32Array(32);
  assert.equal(r.cache.alloc(descs, 32), 32);
  assert.equal(tx.txBurst(descs, 32), 32);
  assert.equal(tx.txDropped, 0);
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count);
});

test('an unknown driver is NFC_ERR_INVALID_ARG naming the port', () => {
  const r = rig();
  const c = { name: 'p', driver: 'dpdk' } as unknown as PortConfig;
  for (const open of [openRx, openTx]) {
    assert.throws(
      () => open(c, r.ctx),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG' && /port "p".*dpdk/.test(e.message),
    );
  }
});
