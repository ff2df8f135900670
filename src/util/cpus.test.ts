/**
 * Core placement helpers: CPU lists as text both ways, and pinning a thread (a worker pins
 * itself; the test's own thread is left alone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { NfcError } from '../errors.js';
import { allowedCpus, describeCpus, parseCpus, pinThread } from './cpus.js';

test('CPU lists as text: ranges both ways; bad text is a usage error naming the flag', () => {
  assert.equal(describeCpus([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
  assert.equal(describeCpus([3]), '3');
  assert.deepEqual(parseCpus('0-2,5', '--cores'), [0, 1, 2, 5]);
  assert.deepEqual(parseCpus('1', '--cores'), [1]);
  for (const bad of ['', 'a', '3-1', '1,,2', '2000']) {
    assert.throws(
      () => parseCpus(bad, '--cores'),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_USAGE' && e.message.startsWith('--cores: '),
      bad,
    );
  }
});

test('a thread pinned to one CPU runs there; a CPU it may not use is refused with the ones it may', async () => {
  const cpus = allowedCpus();
  assert.ok(cpus.length >= 1);
  const target = cpus[cpus.length - 1]!;
  const url = new URL('./cpus.js', import.meta.url).href;
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then((m) => {
      m.pinThread([workerData.target], 'test worker');
      let seen = -1;
      for (let i = 0; i < 1000; i++) seen = m.currentCpu();
      parentPort.postMessage(seen);
    });`;
  const seen = await new Promise<number>((resolve, reject) => {
    const w = new Worker(script, { eval: true, workerData: { url, target } });
    w.once('message', (v: number) => {
      resolve(v);
      void w.terminate();
    });
    w.once('error', reject);
  });
  assert.equal(seen, target);
  assert.throws(
    () => pinThread([4000], 'the RX loop'),
    (e: unknown) =>
      e instanceof NfcError &&
      /^the RX loop: CPU 4000 is not one it may run on/.test(e.message) &&
      /use CPUs from/.test(e.message),
  );
});
