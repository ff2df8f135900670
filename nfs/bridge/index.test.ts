/**
 * Tests of the bridge NF with runNF: 0 ↔ 1 by default, pairs with more ports, the odd port
 * out, and the option range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { out, runNF } from 'nfchain';
import bridge from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const pkt = (i: number): Uint8Array =>
  buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'tcp', sport: 5000 + i, dport: 80 },
    padTo: 60,
  }).bytes;

test('two ports: 0 goes out of 1 and 1 out of 0, bytes unchanged', async () => {
  const pkts = [pkt(0), pkt(1), pkt(2), pkt(3)];
  const r = await runNF(bridge, pkts, { inputPort: [0, 1, 1, 0] });
  assert.deepEqual(r.verdicts, [out(1), out(0), out(0), out(1)]);
  r.outputs.forEach((o, i) => {
    assert.deepEqual(o.bytes, pkts[i]);
  });
  assert.deepEqual(r.instance.counts().slice(0, 2), [2, 2]);
  assert.deepEqual(r.metrics, { bridged: 4, sentBack: 0 });
  assert.equal(r.logs.at(-1), 'bridge: packets by input port 0→1: 2, 1→0: 2');
});

test('more ports pair up as p ^ 1; an odd last port goes back out of itself', async () => {
  const ports = [0, 1, 2, 3, 4];
  const r = await runNF(bridge, ports.map(pkt), { inputPort: ports, options: { ports: 5 } });
  assert.deepEqual(r.verdicts, [out(1), out(0), out(3), out(2), out(4)]);
  assert.deepEqual(r.metrics, { bridged: 4, sentBack: 1 }, 'port 4 has no pair');
  const r4 = await runNF(bridge, ports.slice(0, 4).map(pkt), { inputPort: [0, 1, 2, 3], options: { ports: 4 } });
  assert.deepEqual(r4.verdicts, [out(1), out(0), out(3), out(2)]);
});

test('with ports: 2, a packet from port 2 (no pair) goes back out of 2', async () => {
  const r = await runNF(bridge, [pkt(0)], { inputPort: 2 });
  assert.deepEqual(r.verdicts, [out(2)]);
});

test('ports must be 1..8', async () => {
  await assert.rejects(runNF(bridge, [], { options: { ports: 9 } }), /option "ports" must be at most 8/);
  await assert.rejects(runNF(bridge, [], { options: { ports: 0 } }), /must be at least 1/);
  const r = await runNF(bridge, [pkt(0)], { options: { ports: 1 } });
  assert.deepEqual(r.verdicts, [out(0)]);
});
