/**
 * Tests of the simple-forward NF with runNF: the verdict (NEXT or toNF), the packet count,
 * the summary line and its interval, and option checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEXT, runNF, toNF } from 'nfchain';
import forward from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const pkts = Array.from(
  { length: 40 },
  (_, i) =>
    buildPacket({
      l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
      l4: { kind: 'udp', sport: 1000 + i, dport: 53 },
      padTo: 60,
    }).bytes,
);

test('by default every packet goes to the next hop, unchanged, and nothing is logged', async () => {
  const r = await runNF(forward, pkts, { ticks: 3 });
  assert.ok(r.verdicts.every((v) => v === NEXT));
  assert.equal(r.outputs.length, 40);
  r.outputs.forEach((o, i) => {
    assert.equal(o.source, 'input');
    assert.equal(o.index, i);
    assert.deepEqual(o.bytes, pkts[i]);
  });
  assert.equal(r.dropped, 0);
  assert.equal(r.instance.forwarded, 40);
  assert.deepEqual(r.logs, []);
});

test('destination sends every packet to that service', async () => {
  const r = await runNF(forward, pkts.slice(0, 5), { options: { destination: 7 } });
  assert.deepEqual(r.verdicts, Array(5).fill(toNF(7)));
  assert.equal(r.instance.forwarded, 5, 'each instance counts its own');
});

test('interval logs a summary every interval seconds, and a total at stop', async () => {
  const r = await runNF(forward, pkts, { options: { interval: 2 }, ticks: 5 });
  assert.deepEqual(r.logs, [
    'simple-forward: 40 packets, +40 in 2.0 s (20 pps)',
    'simple-forward: 40 packets, +0 in 2.0 s (0 pps)',
    'simple-forward: 40 packets forwarded in all',
  ]);
});

test('bad options are refused with the option named', async () => {
  await assert.rejects(runNF(forward, [], { options: { destination: 32 } }), /option "destination" must be at most 31/);
  await assert.rejects(
    runNF(forward, [], { options: { destinaton: 2 } }),
    /unknown option "destinaton"; did you mean "destination"\?/,
  );
  await assert.rejects(runNF(forward, [], { options: { interval: -1 } }), /option "interval" must be at least 0/);
});
