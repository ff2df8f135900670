/**
 * Tests of the speed-tester NF with runNF: setup creates valid UDP packets, the launch sends
 * them to the destination, handle() sends every packet there again, `count` stops the NF, and
 * tick() reports the rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError, NOT_HANDLED, PacketView, runNF, toNF } from 'nfchain';
import tester from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const pkts = Array.from(
  { length: 100 },
  (_, i) =>
    buildPacket({
      l3: { kind: 'ipv4', src: '10.9.0.1', dst: '10.9.0.2' },
      l4: { kind: 'udp', sport: 7000 + i, dport: 9 },
      padTo: 60,
    }).bytes,
);

function parse(bytes: Uint8Array): PacketView {
  const copy = new Uint8Array(bytes);
  return new PacketView(copy.buffer).reset(0, copy.length);
}

test('setup creates the packets and holds them until the launch', async () => {
  const r = await runNF(tester, [], { service: 4 });
  assert.equal(r.held, 128, 'created in setup, not sent without a tick or a packet');
  assert.equal(r.outputs.length, 0);
});

test('the first tick sends them all to its own service: 128 valid 64-byte UDP frames', async () => {
  const r = await runNF(tester, [], { service: 4, ticks: 1 });
  assert.equal(r.held, 0);
  assert.equal(r.outputs.length, 128);
  const sports = new Set<number>();
  for (const o of r.outputs) {
    assert.equal(o.source, 'created');
    assert.equal(o.index, -1);
    assert.equal(o.verdict, toNF(4));
    assert.equal(o.bytes.length, 64);
    const v = parse(o.bytes);
    assert.equal(v.ipVersion, 4);
    assert.equal(v.udpDstPort, 9);
    assert.ok(v.ipv4ChecksumOk());
    assert.ok(v.l4ChecksumOk());
    sports.add(v.udpSrcPort);
  }
  assert.equal(sports.size, 128, 'one flow per packet');
});

test('packets, size and destination options', async () => {
  const r = await runNF(tester, [], { options: { packets: 10, size: 300, destination: 7 }, ticks: 1 });
  assert.equal(r.outputs.length, 10);
  assert.ok(r.outputs.every((o) => o.bytes.length === 300 && o.verdict === toNF(7) && parse(o.bytes).l4ChecksumOk()));
});

test('every packet received is sent on to the destination; the first one launches', async () => {
  const r = await runNF(tester, pkts.slice(0, 5), { options: { packets: 3, destination: 2 } });
  assert.deepEqual(r.verdicts, Array(5).fill(toNF(2)));
  assert.deepEqual(
    r.outputs.map((o) => o.source),
    ['created', 'created', 'created', 'input', 'input', 'input', 'input', 'input'],
  );
  assert.deepEqual(r.outputs[3]!.bytes, pkts[0]);
  assert.equal(r.instance.handled, 5);
  assert.deepEqual(r.metrics, { handled: 5, rateMpps: 0, circulating: 3 }, 'the declared counter and gauges');
});

test('count stops the NF after that many packets (at the end of the burst)', async () => {
  const r = await runNF(tester, pkts, { options: { count: 40 }, ticks: 5 });
  assert.equal(r.stopReason, 'stopped by the NF');
  assert.ok(r.logs.includes('speed-tester: count of 40 packets reached, stopping'));
  assert.equal(r.handled, 64);
  assert.equal(r.metrics.handled, 64, 'stop() copies the count though no tick ran');
  assert.equal(r.verdicts[63], toNF(1));
  assert.equal(r.verdicts[64], NOT_HANDLED);
  assert.equal(r.ticks, 0);
});

test('the rate: one line a second with a machine-readable twin', async () => {
  // The first packet launches at t = 0; 64 packets are handled in the first second (virtual
  // clock: ten ticks of 100 ms), none in the second.
  const r = await runNF(tester, pkts.slice(0, 64), { ticks: 21, options: { packets: 1 } });
  const rates = r.logs.filter((l) => l.startsWith('speed-tester rate_mpps='));
  assert.deepEqual(rates, ['speed-tester rate_mpps=0.000064', 'speed-tester rate_mpps=0.000000']);
  assert.ok(r.logs.includes('speed-tester: 0.000 Mpps (64 packets in 1.0 s)'));
  assert.equal(r.instance.lastRateMpps, 0);
  assert.deepEqual(r.metrics, { handled: 64, rateMpps: 0, circulating: 1 });
});

test('interval 0 is quiet', async () => {
  const r = await runNF(tester, pkts.slice(0, 4), { ticks: 30, options: { interval: 0 } });
  assert.deepEqual(r.logs, []);
});

test("a size larger than the pool's data room is refused at setup", async () => {
  await assert.rejects(runNF(tester, [], { options: { size: 4000 } }), (err: unknown) => {
    assert.ok(err instanceof NfcError);
    assert.equal(err.code, 'NFC_ERR_NF_OPTION');
    assert.match(err.message, /option "size" is 4000, larger than the pool's data room of 2048/);
    return true;
  });
  const r = await runNF(tester, [], { options: { size: 4000, packets: 2 }, dataRoom: 9216, ticks: 1 });
  assert.equal(r.outputs[0]!.bytes.length, 4000);
  await assert.rejects(runNF(tester, [], { options: { packets: 2000 } }), /must be at most 1024/);
});
