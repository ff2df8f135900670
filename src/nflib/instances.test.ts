/**
 * The per-instance NF form: create(ctx) makes an instance's state and hooks; each call makes a
 * new instance with state of its own; the packet view carries the per-packet facts (desc,
 * inputPort); the two forms cannot be mixed; create() must return a handler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { DROP, NEXT, out } from '../chain/verdict.js';
import { defineNF } from './define.js';
import { runNF } from './harness.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function udp(i: number): Uint8Array {
  return buildPacket({
    l3: { kind: 'ipv4', src: `10.0.0.${i & 255}`, dst: '192.168.0.1' },
    l4: { kind: 'udp', sport: 1000 + i, dport: 53 },
    padTo: 60,
  }).bytes;
}

/** Counts packets per instance; drops every `every`-th one; sends the rest out of their input port. */
const counter = defineNF({
  name: 'counter',
  options: { every: { type: 'number', default: 0, integer: true, min: 0 } },
  create(ctx) {
    const every = ctx.options.every;
    let seen = 0;
    const descs: number[] = [];
    const ports: number[] = [];
    return {
      handle(pkt) {
        seen++;
        descs.push(pkt.desc);
        ports.push(pkt.inputPort);
        return every > 0 && seen % every === 0 ? DROP : out(pkt.inputPort);
      },
      get seen(): number {
        return seen;
      },
      descs,
      ports,
    };
  },
});

test('each create() makes an instance with state of its own, also when two run at once in one process', async () => {
  const pkts = Array.from({ length: 40 }, (_, i) => udp(i));
  const [a, b] = await Promise.all([
    runNF(counter, pkts.slice(0, 10), { options: { every: 2 } }),
    runNF(counter, pkts, { options: { every: 0 } }),
  ]);
  assert.equal(a.instance.seen, 10);
  assert.equal(b.instance.seen, 40);
  assert.equal(a.dropped, 5, 'the first instance drops every second packet: its own option');
  assert.equal(b.dropped, 0);
  const c = await runNF(counter, pkts.slice(0, 3));
  assert.equal(c.instance.seen, 3, 'a third instance starts from nothing');
});

test('the packet view carries the packet: pkt.desc and pkt.inputPort', async () => {
  const pkts = [udp(1), udp(2), udp(3)];
  const r = await runNF(counter, pkts, { inputPort: [2, 0, 5] });
  assert.deepEqual(r.instance.ports, [2, 0, 5]);
  assert.deepEqual(r.verdicts, [out(2), out(0), out(5)]);
  assert.equal(new Set(r.instance.descs).size, 3, 'three different buffers');
  assert.ok(r.instance.descs.every((d) => Number.isInteger(d) && d >= 0));
});

test('handleBurst in the per-instance form sees each packet through burst.view.attach', async () => {
  const nf = defineNF({
    name: 'burst-ports',
    create(ctx) {
      const ports: number[] = [];
      return {
        handleBurst(b) {
          for (let i = 0; i < b.n; i++) ports.push(b.view.attach(ctx.pool, b.descs[i]!).inputPort);
        },
        ports,
      };
    },
  });
  const r = await runNF(nf, [udp(1), udp(2)], { inputPort: [4, 1] });
  assert.deepEqual(r.instance.ports, [4, 1]);
  assert.deepEqual(r.verdicts, [NEXT, NEXT]);
});

test('the two forms cannot be mixed, and create() must return a handler', async () => {
  assert.throws(
    () =>
      defineNF({
        name: 'mixed',
        create: () => ({ handle: () => NEXT }),
        handle: () => NEXT,
      } as never),
    (e: unknown) =>
      e instanceof NfcError && e.code === 'NFC_ERR_NF' && /create\(\) and top-level handle/.test(e.message),
  );
  const empty = defineNF({ name: 'empty', create: () => ({}) });
  await assert.rejects(
    runNF(empty, [udp(1)]),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_NF' &&
      /create\(\) must return an object with handle/.test(e.message),
  );
  assert.throws(
    () => defineNF({ name: 'nothing' } as never),
    (e: unknown) => e instanceof NfcError && /give create\(ctx\) returning \{ handle \}/.test(e.message),
  );
});

test('a create() that throws is the NF failing to start, with its own error', async () => {
  const bad = defineNF({
    name: 'bad',
    create() {
      throw new NfcError('NFC_ERR_NF_OPTION', 'bad: no config');
    },
  });
  await assert.rejects(runNF(bad, [udp(1)]), (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION');
});

test('an instance made by a class keeps its `this` (its hooks are bound once, when it is made)', async () => {
  class Doubler {
    seen = 0;
    constructor(private readonly verdict: number) {}
    handle(): number {
      this.seen += 2;
      return this.verdict;
    }
  }
  const nf = defineNF({ name: 'doubler', create: () => new Doubler(DROP) });
  const r = await runNF(nf, [udp(1), udp(2), udp(3)]);
  assert.equal(r.instance.seen, 6);
  assert.deepEqual(r.verdicts, [DROP, DROP, DROP]);
});
