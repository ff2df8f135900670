/**
 * Tests of runNF (harness.ts) itself, with tiny inline NFs: verdicts pass through, keep and
 * send, newPacket, handleBurst, stop, the virtual clock, option errors and input checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { Meta } from '../shm/pool-layout.js';
import { PacketView } from '../packet/packet-view.js';
import { HELD_MAX } from '../shm/instance-layout.js';
import { DROP, NEXT, out, toNF } from '../chain/verdict.js';
import { defineNF } from './define.js';
import { NOT_HANDLED, openNF, runNF } from './harness.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function udp(i: number, dport = 53): Uint8Array {
  return buildPacket({
    l3: { kind: 'ipv4', src: `10.0.0.${i & 255}`, dst: '192.168.0.1' },
    l4: { kind: 'udp', sport: 1000 + i, dport },
    padTo: 60,
  }).bytes;
}
function tcp(i: number): Uint8Array {
  return buildPacket({
    l3: { kind: 'ipv4', src: '10.1.0.1', dst: '10.2.0.2' },
    l4: { kind: 'tcp', sport: 2000 + i, dport: 80 },
    padTo: 60,
  }).bytes;
}
function hashOf(bytes: Uint8Array): number {
  const copy = new Uint8Array(bytes);
  return new PacketView(copy.buffer).reset(0, copy.length).flowHash();
}
function nfcCode(code: string, re?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof NfcError, `expected an NfcError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (re) assert.match(err.message, re);
    return true;
  };
}

test('verdicts pass through: per input packet, outputs in order with copies of the bytes', async () => {
  const seen: { port: number; hash: number; len: number }[] = [];
  const nf = defineNF({
    name: 'classify',
    handle(pkt, ctx) {
      seen.push({ port: ctx.inputPort, hash: ctx.pool.meta(ctx.desc, Meta.flowHash), len: pkt.length });
      if (pkt.udpDstPort === 53) return DROP;
      if (pkt.tcpDstPort === 80) {
        pkt.setIpv4Ttl(7); // the output is the packet as it left
        return toNF(3);
      }
      return pkt.udpDstPort === 123 ? out(1) : NEXT;
    },
  });
  const pkts = [udp(1), tcp(2), udp(3, 123), udp(4, 9), udp(5)];
  const r = await runNF(nf, pkts, { inputPort: [0, 1, 2, 3, 4] });
  assert.deepEqual(r.verdicts, [DROP, toNF(3), out(1), NEXT, DROP]);
  assert.equal(r.dropped, 2);
  assert.equal(r.held, 0);
  assert.equal(r.handled, 5);
  assert.equal(r.ctx.handled, 5);
  assert.deepEqual(
    r.outputs.map((o) => [o.source, o.index, o.verdict]),
    [
      ['input', 1, toNF(3)],
      ['input', 2, out(1)],
      ['input', 3, NEXT],
    ],
  );
  const tcpOut = r.outputs[0]!.bytes;
  assert.equal(tcpOut.length, pkts[1]!.length);
  assert.equal(tcpOut[14 + 8], 7, 'TTL rewritten in the copy');
  assert.deepEqual(r.outputs[1]!.bytes, pkts[2]);
  assert.deepEqual(
    seen.map((s) => s.port),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    seen.map((s) => s.hash),
    pkts.map(hashOf),
  );
  assert.ok(seen.every((s) => s.len === 60));
});

test('inputPort as one number applies to every packet; options default', async () => {
  const ports: number[] = [];
  const nf = defineNF({
    name: 'ports',
    options: { x: { type: 'number', default: 5 } },
    handle(_pkt, ctx) {
      ports.push(ctx.inputPort);
      return ctx.options.x === 5 ? NEXT : DROP;
    },
  });
  const r = await runNF(nf, [udp(1), udp(2)], { inputPort: 6, service: 9, instance: 4 });
  assert.deepEqual(ports, [6, 6]);
  assert.deepEqual(r.verdicts, [NEXT, NEXT]);
  assert.equal(r.ctx.options.x, 5);
  assert.equal(r.ctx.service, 9);
  assert.equal(r.ctx.instance, 4);
  assert.equal(r.ctx.name, 'ports');
});

test('keep() holds packets (verdict ignored, -1); send() in tick releases them', async () => {
  const nf = defineNF({
    name: 'buffer',
    handle(_pkt, ctx) {
      assert.equal(ctx.keep(), ctx.desc);
      assert.equal(ctx.keep(), ctx.desc, 'keeping twice is the same keep');
      return DROP; // ignored
    },
    tick(ctx) {
      // On the first tick only, send whatever is held (send() is false for buffers not held).
      if (ctx.now() !== 1000) return;
      let sent = 0;
      for (let d = 0; d < ctx.pool.count; d++) if (ctx.send(d, NEXT)) sent++;
      ctx.log(`sent ${sent}`);
    },
  });
  const r = await runNF(nf, [udp(1), udp(2), udp(3)], { ticks: 2 });
  assert.deepEqual(r.verdicts, [-1, -1, -1]);
  assert.equal(r.ticks, 2);
  assert.deepEqual(r.logs, ['sent 3']);
  assert.deepEqual(
    r.outputs.map((o) => o.source),
    ['kept', 'kept', 'kept'],
  );
  assert.deepEqual(r.outputs.map((o) => o.index).sort(), [0, 1, 2]);
  assert.equal(r.dropped, 0);
  assert.equal(r.held, 0);
});

test('held packets: send with DROP and drop() count as drops; what is left is freed', async () => {
  const kept: number[] = [];
  const nf = defineNF({
    name: 'hold',
    handle(_pkt, ctx) {
      kept.push(ctx.keep());
      return NEXT;
    },
    tick(ctx) {
      assert.equal(ctx.heldCount, 4);
      assert.equal(ctx.send(kept[0]!, out(2)), true);
      assert.equal(ctx.send(kept[0]!, out(2)), false, 'no longer held');
      assert.equal(ctx.send(kept[1]!, DROP), true);
      assert.equal(ctx.drop(kept[2]!), true);
      assert.equal(ctx.drop(kept[2]!), false);
      assert.equal(ctx.drop(123456), false, 'not a descriptor');
      assert.equal(ctx.heldCount, 1);
    },
  });
  const r = await runNF(nf, [udp(1), udp(2), udp(3), udp(4)], { ticks: 1 });
  assert.deepEqual(
    r.outputs.map((o) => [o.source, o.index, o.verdict]),
    [['kept', 0, out(2)]],
  );
  assert.equal(r.dropped, 2);
  assert.equal(r.held, 1);
});

test('keep() outside handle() has no packet to keep', async () => {
  const got: number[] = [];
  const nf = defineNF({
    name: 'nokeep',
    setup(ctx) {
      got.push(ctx.keep());
    },
    handleBurst(_b, ctx) {
      got.push(ctx.keep());
    },
    tick(ctx) {
      got.push(ctx.keep());
    },
  });
  const r = await runNF(nf, [udp(1)], { ticks: 1 });
  assert.deepEqual(got, [-1, -1, -1]);
  assert.deepEqual(r.verdicts, [NEXT]);
});

test('newPacket() in setup and handle: held until sent, bytes and source "created"', async () => {
  const reply = udp(99, 7);
  const nf = defineNF({
    name: 'maker',
    setup(ctx) {
      const d = ctx.newPacket(reply);
      assert.ok(d >= 0);
      assert.equal(ctx.heldCount, 1);
      assert.equal(ctx.pool.length(d), reply.length);
      assert.equal(ctx.send(d, toNF(2)), true);
      assert.equal(ctx.heldCount, 0);
      ctx.newPacket(); // never sent: freed at the end
    },
    handle(_pkt, ctx) {
      const d = ctx.newPacket(reply);
      ctx.send(d, out(0));
      return NEXT;
    },
  });
  const r = await runNF(nf, [udp(1), udp(2)]);
  assert.deepEqual(
    r.outputs.map((o) => [o.source, o.index, o.verdict]),
    [
      ['created', -1, toNF(2)],
      ['created', -1, out(0)],
      ['input', 0, NEXT],
      ['created', -1, out(0)],
      ['input', 1, NEXT],
    ],
  );
  assert.deepEqual(r.outputs[0]!.bytes, reply);
  assert.equal(r.held, 1);
  assert.equal(r.dropped, 0);
});

test('newPacket() returns -1 once HELD_MAX packets are held', async () => {
  let last = 0;
  const nf = defineNF({
    name: 'hoarder',
    setup(ctx) {
      for (let i = 0; i < HELD_MAX; i++) assert.ok(ctx.newPacket() >= 0);
      last = ctx.newPacket();
    },
    handle: () => NEXT,
  });
  const r = await runNF(nf, [udp(1)]);
  assert.equal(last, -1);
  assert.equal(r.held, HELD_MAX);
  assert.deepEqual(r.verdicts, [NEXT]);
});

test('handleBurst: bursts of 32, verdicts preset to NEXT', async () => {
  const sizes: number[] = [];
  const nf = defineNF({
    name: 'bursty',
    handleBurst(b, ctx) {
      sizes.push(b.n);
      for (let i = 0; i < b.n; i++) {
        assert.equal(b.verdicts[i], NEXT);
        const d = b.descs[i]!;
        b.view.reset(ctx.pool.dataOffset(d), ctx.pool.length(d));
        if (b.view.udpDstPort === 53) b.verdicts[i] = DROP;
        else if (i === 0) b.verdicts[i] = toNF(5);
      }
    },
  });
  const pkts = Array.from({ length: 70 }, (_, i) => udp(i, i % 2 ? 53 : 9));
  const r = await runNF(nf, pkts);
  assert.deepEqual(sizes, [32, 32, 6]);
  assert.equal(r.handled, 70);
  assert.equal(r.dropped, 35);
  assert.equal(r.outputs.length, 35);
  assert.deepEqual(r.verdicts.slice(0, 4), [toNF(5), DROP, NEXT, DROP]);
  assert.equal(r.verdicts[32], toNF(5));
  assert.equal(r.verdicts[64], toNF(5));
  assert.deepEqual(
    r.outputs.map((o) => o.index),
    pkts.map((_, i) => i).filter((i) => i % 2 === 0),
  );
});

test('ctx.stop() ends the run after the current burst; stop() still runs, no more ticks', async () => {
  let stopped = 0;
  let ticks = 0;
  const nf = defineNF({
    name: 'stopper',
    handle(_pkt, ctx) {
      if (ctx.handled === 32) ctx.stop(); // ctx.handled counts whole bursts, as in the engine
      return NEXT;
    },
    tick() {
      ticks++;
    },
    stop() {
      stopped++;
    },
  });
  const pkts = Array.from({ length: 100 }, (_, i) => udp(i));
  const r = await runNF(nf, pkts, { ticks: 3 });
  assert.equal(r.handled, 64);
  assert.equal(r.stopReason, 'stopped by the NF');
  assert.equal(r.verdicts[63], NEXT);
  assert.equal(r.verdicts[64], NOT_HANDLED);
  assert.equal(r.verdicts[99], NOT_HANDLED);
  assert.equal(r.outputs.length, 64);
  assert.equal(ticks, 0);
  assert.equal(r.ticks, 0);
  assert.equal(stopped, 1);
});

test('stop in setup: no packet is handled', async () => {
  const nf = defineNF({
    name: 'early',
    setup(ctx) {
      ctx.stop();
    },
    handle: () => NEXT,
  });
  const r = await runNF(nf, [udp(1)]);
  assert.deepEqual(r.verdicts, [NOT_HANDLED]);
  assert.equal(r.stopReason, 'stopped by the NF');
});

test('virtual clock: now() is 0 for packets and moves by tickInterval per tick', async () => {
  const times: number[] = [];
  const nf = defineNF({
    name: 'clock',
    tickInterval: 250,
    setup(ctx) {
      times.push(ctx.now());
    },
    handle(_p, ctx) {
      times.push(ctx.now());
      return NEXT;
    },
    tick(ctx) {
      times.push(ctx.now());
    },
  });
  await runNF(nf, [udp(1)], { ticks: 3 });
  assert.deepEqual(times, [0, 0, 250, 500, 750]);
  times.length = 0;
  await runNF(nf, [], { ticks: 1, clock: 'real' });
  assert.ok(times.every((t) => t >= 0 && t < 60_000));
});

test('async setup and stop are awaited; log lines are echoed with a prefix', async () => {
  const order: string[] = [];
  const echoed: string[] = [];
  const nf = defineNF({
    name: 'async',
    async setup(ctx) {
      await new Promise((r) => setTimeout(r, 5));
      order.push('setup');
      ctx.log('hello');
    },
    handle() {
      order.push('handle');
      return NEXT;
    },
    async stop() {
      await new Promise((r) => setTimeout(r, 5));
      order.push('stop');
    },
  });
  const r = await runNF(nf, [udp(1)], { instance: 3, log: (l) => echoed.push(l) });
  assert.deepEqual(order, ['setup', 'handle', 'stop']);
  assert.deepEqual(r.logs, ['hello']);
  assert.deepEqual(echoed, ['[async#3] hello']);
});

test('options are parsed as a topology would: unknown and bad values are NFC_ERR_NF_OPTION', async () => {
  const nf = defineNF({
    name: 'opts',
    options: {
      interval: { type: 'number', default: 1, min: 0, integer: true },
      mode: { type: 'string', default: 'a', choices: ['a', 'b'] },
      verbose: { type: 'boolean', default: false },
    },
    handle: () => NEXT,
  });
  await assert.rejects(
    runNF(nf, [], { options: { intervl: 2 } }),
    nfcCode('NFC_ERR_NF_OPTION', /runNF: unknown option "intervl"; did you mean "interval"\?/),
  );
  await assert.rejects(
    runNF(nf, [], { options: { interval: -1 } }),
    nfcCode('NFC_ERR_NF_OPTION', /option "interval" must be at least 0/),
  );
  await assert.rejects(
    runNF(nf, [], { options: { interval: 1.5 } }),
    nfcCode('NFC_ERR_NF_OPTION', /must be an integer/),
  );
  await assert.rejects(runNF(nf, [], { options: { mode: 'c' } }), nfcCode('NFC_ERR_NF_OPTION', /must be one of a, b/));
  await assert.rejects(runNF(nf, [], { options: { verbose: 'maybe' } }), nfcCode('NFC_ERR_NF_OPTION', /true or false/));
  const r = await runNF(nf, [], { options: { interval: '3', verbose: 'yes' } });
  assert.deepEqual({ ...r.ctx.options }, { interval: 3, mode: 'a', verbose: true });
});

test('bad inputs are NFC_ERR_INVALID_ARG; a definition is checked', async () => {
  const nf = defineNF({ name: 'x', handle: () => NEXT });
  await assert.rejects(
    runNF(nf, [udp(1)], { inputPort: [0, 1] }),
    nfcCode('NFC_ERR_INVALID_ARG', /inputPort has 2 entries for 1 packets/),
  );
  await assert.rejects(
    runNF(nf, [new Uint8Array(5000)]),
    nfcCode('NFC_ERR_INVALID_ARG', /5000 bytes; the pool's data room is 2048/),
  );
  await assert.rejects(runNF(nf, [udp(1)], { ticks: -1 }), nfcCode('NFC_ERR_INVALID_ARG'));
  await assert.rejects(runNF({ name: 'nothing' } as never, []), nfcCode('NFC_ERR_NF'));
  // a larger data room takes jumbo frames
  const r = await runNF(nf, [new Uint8Array(5000)], { dataRoom: 9216 });
  assert.equal(r.outputs[0]!.bytes.length, 5000);
});

test('a pool too small for what the NF keeps is reported, not silently dropped', async () => {
  const nf = defineNF({
    name: 'keeper',
    handle(_p, ctx) {
      ctx.keep();
      return NEXT;
    },
  });
  const pkts = Array.from({ length: 100 }, (_, i) => udp(i));
  await assert.rejects(
    runNF(nf, pkts, { poolCount: 64 }),
    nfcCode('NFC_ERR_INVALID_ARG', /pool of 64 buffers ran out/),
  );
  const r = await runNF(nf, pkts, { poolCount: 128 });
  assert.equal(r.held, 100);
});

test('many packets through a small pool: every buffer comes back', async () => {
  const nf = defineNF({ name: 'fwd', handle: (p) => (p.length > 0 ? NEXT : DROP) });
  const pkts = Array.from({ length: 1000 }, (_, i) => udp(i));
  const r = await runNF(nf, pkts, { poolCount: 64 });
  assert.equal(r.outputs.length, 1000);
  assert.equal(r.held, 0);
});

test('pump(): cycles through the templates with the RX meta, counts what leaves, records nothing', async () => {
  const a = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  }).bytes;
  const b = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.3', dst: '10.0.0.4' },
    l4: { kind: 'tcp', sport: 3, dport: 4 },
  }).bytes;
  const seen: number[] = [];
  const hashes: number[] = [];
  const nf = defineNF({
    name: 'pumped',
    create: (ctx) => ({
      handle(pkt) {
        seen.push(pkt.length);
        hashes.push(ctx.pool.meta(pkt.desc, Meta.flowHash));
        if (pkt.inputPort !== 7) return DROP;
        return pkt.ipProtocol === 6 ? DROP : NEXT;
      },
    }),
  });
  const s = await openNF(nf);
  const r = s.pump([a, b], 5, 7);
  assert.deepEqual(r, { handled: 5, passed: 3, dropped: 2, bytes: 3 * a.length + 2 * b.length });
  assert.deepEqual(seen, [a.length, b.length, a.length, b.length, a.length]);
  const view = new PacketView(a.buffer);
  assert.equal(hashes[0], view.reset(a.byteOffset, a.length).flowHash(), 'the flow hash the RX loop would write');
  // The next pump goes on where the last one stopped in the cycle.
  seen.length = 0;
  s.pump([a, b], 1, 7);
  assert.deepEqual(seen, [b.length]);
  assert.equal(s.outputs.length, 0, 'pump() records no outputs');
  assert.throws(() => s.pump([], 1), /at least one template/);
  const res = await s.stop();
  assert.equal(res.handled, 6);
});
