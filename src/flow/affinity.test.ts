/**
 * Flow affinity: a flow keeps the epoch it started in, new flows take the current one, flows
 * are counted per epoch and uncounted when they go idle, slots are shared on a hash collision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowAffinity } from './affinity.js';
import { NfcError } from '../errors.js';

test('a flow keeps its epoch; new flows take the current one; counts per epoch follow', () => {
  const counts = new Int32Array(8);
  const a = new FlowAffinity(1024, 10_000, counts, 4);
  assert.equal(a.epochOf(0x1234, 100), 0);
  a.epoch = 2; // an instance joined
  assert.equal(a.epochOf(0x1234, 101), 0, 'the old flow keeps epoch 0');
  assert.equal(a.epochOf(0x2222, 101), 2, 'a new flow takes the current epoch');
  assert.equal(a.epochOf(0x2222 + 1024 * 7, 102), 2, 'a hash in the same slot shares its epoch');
  assert.deepEqual(Array.from(counts.subarray(4)), [1, 0, 1, 0]);
  assert.equal(a.tracked, 2);
});

test('idle slots are freed by the sweep at the timeout (whole seconds), and uncounted', () => {
  const counts = new Int32Array(4);
  const a = new FlowAffinity(1024, 2500, counts, 0); // 2.5 s: 3 whole seconds
  a.epochOf(1, 10);
  a.epoch = 1;
  a.epochOf(2, 11);
  assert.equal(a.sweep(12, 1024), 0);
  assert.equal(a.sweep(13, 1024), 1, 'flow 1, last seen at 10, is idle 3 s at 13');
  assert.deepEqual(Array.from(counts), [0, 1, 0, 0], 'epoch 0 is free again');
  a.epochOf(2, 13); // flow 2 is still talking
  assert.equal(a.sweep(15, 1024), 0);
  assert.equal(a.sweep(16, 1024), 1);
  assert.deepEqual(Array.from(counts), [0, 0, 0, 0]);
  a.epoch = 3;
  assert.equal(a.epochOf(1, 20), 3, 'a flow that went idle comes back as a new flow');
  assert.equal(a.expired, 2);
});

test('the sweep goes round a slice at a time; seconds wrap at 2^16; no timeout: never freed', () => {
  const counts = new Int32Array(4);
  const a = new FlowAffinity(1024, 1000, counts, 0);
  for (let h = 0; h < 1024; h += 64) a.epochOf(h, 65535);
  let freed = 0;
  for (let k = 0; k < 4; k++) freed += a.sweep(65536 + 1, 256); // second 1 after the wrap
  assert.equal(freed, 16, 'four slices of 256 cover every slot');
  const never = new FlowAffinity(1024, 0, counts, 0);
  never.epochOf(5, 1);
  assert.equal(never.sweep(60_000, 1024), 0);
  assert.throws(
    () => new FlowAffinity(1000, 0, counts, 0),
    (e: unknown) => e instanceof NfcError && /power of two/.test(e.message),
  );
});
