import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterBlock, countersBytes, defineCounters, initCounters } from './counters.js';
import { ShmDir } from './shm-file.js';
import { uniqueName } from '../../test/helpers/procs.js';

const PortCounters = defineCounters(['rxPackets', 'rxBytes', 'txPackets', 'dropRingFull'] as const);

test('schema gives stable indices', () => {
  assert.equal(PortCounters.rxPackets, 0);
  assert.equal(PortCounters.dropRingFull, 3);
  assert.deepEqual(PortCounters.names, ['rxPackets', 'rxBytes', 'txPackets', 'dropRingFull']);
});

test('sets live on separate cache lines and a second mapping reads them without locks', () => {
  const name = uniqueName('ctr');
  const dir = ShmDir.create(name);
  try {
    const size = countersBytes(3, PortCounters.names.length);
    initCounters(dir.createFile('c', size), 0, 3, PortCounters.names.length);
    const writer = new CounterBlock(ShmDir.open(name).openFile('c'), 0);
    const reader = new CounterBlock(ShmDir.open(name).openFile('c'), 0);
    const s0 = writer.set(0);
    const s2 = writer.set(2);
    assert.equal((s2.byteOffset - s0.byteOffset) % 64, 0);
    s0[PortCounters.rxPackets]! += 32;
    s2[PortCounters.dropRingFull]! += 2 ** 40; // beyond u32, exact in float64
    s2[PortCounters.dropRingFull]! += 1;
    assert.equal(reader.read(0, PortCounters.rxPackets), 32);
    assert.equal(reader.read(2, PortCounters.dropRingFull), 2 ** 40 + 1);
    assert.equal(reader.read(1, PortCounters.rxPackets), 0);
    const snap = reader.snapshot(2, new Float64Array(4));
    assert.equal(snap[3], 2 ** 40 + 1);
    writer.reset(2);
    assert.equal(reader.read(2, PortCounters.dropRingFull), 0);
    assert.throws(() => writer.set(3), /out of range/);
  } finally {
    dir.remove();
  }
});

test('a block that is not a counters block is refused', () => {
  assert.throws(() => new CounterBlock(new ArrayBuffer(1024), 0), /no counters block/);
});
