/**
 * Tests of the scaling-example NF with runNF (its requests answered by onScale): fixed mode
 * asks once, autoscaling asks for what the rate needs within min..max and respects the
 * cooldown, and a refused request is logged. The end-to-end test (a real manager starting
 * processes) is in test/manager.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEXT, NfcError, runNF, type ScaleResult } from 'nfchain';
import scaler, { scaleStep } from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const pkt = buildPacket({
  l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
  l4: { kind: 'udp', sport: 1, dport: 2 },
  padTo: 60,
}).bytes;
const grant = (instances: number, service: number | string): ScaleResult => ({
  service: Number(service),
  before: 1,
  instances,
  started: Array.from({ length: instances - 1 }, (_, i) => i + 2),
  retired: [],
});
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('scaleStep: one more above up-pps, one less below down-pps, within min and max', () => {
  assert.equal(scaleStep(150_000, 1, 100_000, 30_000, 1, 4), 2);
  assert.equal(scaleStep(150_000, 4, 100_000, 30_000, 1, 4), 4, 'at most max');
  assert.equal(scaleStep(50_000, 2, 100_000, 30_000, 1, 4), 2, 'between the two: stay');
  assert.equal(scaleStep(10_000, 3, 100_000, 30_000, 1, 4), 2);
  assert.equal(scaleStep(10_000, 2, 100_000, 30_000, 2, 4), 2, 'at least min');
  assert.equal(scaleStep(0, 1, 100_000, 30_000, 2, 4), 2, 'below min: up to min');
  assert.equal(scaleStep(0, 6, 100_000, 30_000, 1, 4), 4, 'above max: down to max');
});

test('fixed mode: forwards every packet and asks once for the configured count', async () => {
  const r = await runNF(scaler, Array(100).fill(pkt), { options: { instances: 3 }, ticks: 3, onScale: grant });
  await settle();
  assert.ok(r.verdicts.every((v) => v === NEXT));
  assert.equal(r.instance.forwarded, 100);
  assert.deepEqual(r.scaleRequests, [{ instances: 3, service: 1, rebalance: false }]);
  assert.ok(r.logs.includes('asking for 3 instances of service 1 (instances: 3)'), r.logs.join('\n'));
  assert.ok(r.logs.includes('service 1: 1 → 3 instances, started #2 #3'), r.logs.join('\n'));
});

test('autoscaling: one more when this instance is over up-pps, with rebalance; then the cooldown', async () => {
  // 5000 packets in the first (virtual) second at up-pps 1000: one more instance.
  const r = await runNF(scaler, Array(5000).fill(pkt), {
    options: { 'up-pps': 1000, 'down-pps': 100, cooldown: 3 },
    ticks: 3,
    poolCount: 8192,
    onScale: grant,
  });
  await settle();
  assert.deepEqual(
    r.scaleRequests,
    [{ instances: 2, service: 1, rebalance: true }],
    'one request: the next ticks are inside the cooldown',
  );
  // the declared counters and gauges: one request; the rate of the last tick (no packets in it)
  assert.deepEqual(r.metrics, { scaleRequests: 1, scaleFailures: 0, pps: 0, instances: 1 });
  assert.ok(
    r.logs.includes('asking for 2 instances of service 1 (this instance: 5000 pps, 1 instance)'),
    r.logs.join('\n'),
  );
  // Quiet traffic at min 1: nothing to ask (runNF counts one instance).
  const q = await runNF(scaler, Array(10).fill(pkt), {
    options: { 'up-pps': 1000, 'down-pps': 100 },
    ticks: 2,
    onScale: grant,
  });
  assert.deepEqual(q.scaleRequests, []);
  // Below min (runNF has one instance): up to min at once.
  const m = await runNF(scaler, [pkt], { options: { min: 3 }, ticks: 1, onScale: grant });
  assert.deepEqual(m.scaleRequests, [{ instances: 3, service: 1, rebalance: true }]);
  assert.deepEqual([m.metrics.scaleRequests, m.metrics.pps, m.metrics.instances], [1, 1, 1], '1 packet in 1 s');
});

test('down-pps above half of up-pps, or min above max, is refused in setup', async () => {
  await assert.rejects(
    runNF(scaler, [pkt], { options: { 'up-pps': 1000, 'down-pps': 600 } }),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_NF_OPTION' &&
      /down-pps 600 is more than half of up-pps 1000/.test(e.message),
  );
  await assert.rejects(runNF(scaler, [pkt], { options: { min: 4, max: 2 } }), /min 4 is more than max 2/);
});

test('a refused request is logged, not thrown', async () => {
  const r = await runNF(scaler, [pkt], {
    options: { instances: 8 },
    ticks: 1,
    onScale: () => {
      throw new NfcError('NFC_ERR_SCALE', 'service 1 has no NF to start more of');
    },
  });
  await settle();
  assert.deepEqual(r.scaleRequests, [{ instances: 8, service: 1, rebalance: false }]);
  assert.ok(
    r.logs.some((l) => l === 'scaling failed: service 1 has no NF to start more of'),
    r.logs.join('\n'),
  );
  // the failure came after stop (r.metrics is a copy taken then): the counter itself has it
  assert.equal(r.ctx.counter('scaleRequests').value, 1);
  assert.equal(r.ctx.counter('scaleFailures').value, 1);
});
