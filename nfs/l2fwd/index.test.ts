/**
 * Tests of l2fwd with runNF: default and named pairs, MAC rewriting (DPDK's default, one MAC,
 * per port, off), unpaired ports and runts dropped and counted, reports, option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NfcError, out, runNF, type PortSpec } from 'nfchain';
import l2fwd from './index.js';
import { buildPacket, macBytes } from '../../test/helpers/packet-builder.js';

const PORTS: PortSpec[] = [
  { name: 'lan', mac: '02:00:00:00:01:00' },
  { name: 'wan', mac: '02:00:00:00:01:01' },
  { name: 'dmz-a', mac: '02:00:00:00:01:02' },
  { name: 'dmz-b', mac: '02:00:00:00:01:03' },
  { name: 'spare', mac: '02:00:00:00:01:04' },
];
const frame = (v6 = false) =>
  buildPacket({
    eth: { dst: '02:11:11:11:11:11', src: '02:22:22:22:22:22' },
    l3: v6 ? { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' } : { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 1000, dport: 2000, payload: new Uint8Array(10).fill(7) },
  }).bytes;

const dstOf = (b: Uint8Array) => [...b.subarray(0, 6)];
const srcOf = (b: Uint8Array) => [...b.subarray(6, 12)];

test('default pairs 0↔1, 2↔3; MACs as DPDK: dst 02:00:00:00:00:<egress>, src the egress MAC; the rest untouched', async () => {
  const pkts = [frame(), frame(), frame(true), frame()];
  const r = await runNF(l2fwd, pkts, { ports: PORTS, inputPort: [0, 1, 2, 3] });
  assert.deepEqual(r.verdicts, [out(1), out(0), out(3), out(2)]);
  const eg = [1, 0, 3, 2];
  for (let i = 0; i < 4; i++) {
    const b = r.outputs[i]!.bytes;
    assert.deepEqual(dstOf(b), macBytes(`02:00:00:00:00:0${eg[i]}`));
    assert.deepEqual(srcOf(b), macBytes(PORTS[eg[i]!]!.mac!));
    assert.deepEqual([...b.subarray(12)], [...pkts[i]!.subarray(12)], 'beyond the MACs nothing changes');
  }
  assert.equal(r.instance.counters.forwarded, 4);
  assert.equal(r.metrics.forwarded, 4);
  assert.deepEqual([...r.instance.counters.perPort.subarray(0, 4)], [1, 1, 1, 1]);
});

test('an unpaired port (odd one out, or beyond the ports) and runts: DROP, counted', async () => {
  const r = await runNF(l2fwd, [frame(), frame(), new Uint8Array(10), frame()], {
    ports: PORTS,
    inputPort: [4, 9, 0, 70000 & 0xffff],
  });
  assert.deepEqual(r.verdicts, [DROP, DROP, DROP, DROP]);
  assert.equal(r.instance.counters.unpaired, 3);
  assert.equal(r.instance.counters.malformed, 1);
  assert.equal(r.instance.counters.forwarded, 0);
  assert.deepEqual(r.metrics, { forwarded: 0, unpaired: 3, malformed: 1 }, 'the declared counters');
});

test('pairs by name (names with "-") and by id', async () => {
  const r = await runNF(l2fwd, [frame(), frame(), frame()], {
    ports: PORTS,
    inputPort: [0, 2, 3],
    options: { pairs: 'lan-spare, dmz-a-wan' },
  });
  assert.deepEqual(r.verdicts, [out(4), out(1), DROP]);
  const r2 = await runNF(l2fwd, [frame()], { ports: PORTS, inputPort: 3, options: { pairs: '3-0' } });
  assert.deepEqual(r2.verdicts, [out(0)]);
});

test('dst-mac: one MAC for all, or per port (others keep the default)', async () => {
  const all = await runNF(l2fwd, [frame(), frame()], {
    ports: PORTS,
    inputPort: [0, 1],
    options: { 'dst-mac': '02:00:00:00:be:ef' },
  });
  for (const o of all.outputs) assert.deepEqual(dstOf(o.bytes), macBytes('02:00:00:00:be:ef'));
  const per = await runNF(l2fwd, [frame(), frame()], {
    ports: PORTS,
    inputPort: [0, 1],
    options: { 'dst-mac': 'wan=02:00:00:00:00:aa' },
  });
  assert.deepEqual(dstOf(per.outputs[0]!.bytes), macBytes('02:00:00:00:00:aa'));
  assert.deepEqual(dstOf(per.outputs[1]!.bytes), macBytes('02:00:00:00:00:00'));
});

test('mac-updating false forwards the frame unchanged', async () => {
  const f = frame();
  const r = await runNF(l2fwd, [f], { ports: PORTS, inputPort: 1, options: { 'mac-updating': false } });
  assert.deepEqual(r.verdicts, [out(0)]);
  assert.deepEqual(r.outputs[0]!.bytes, f);
});

test('interval: pairs at start, a line per interval, totals at stop', async () => {
  const r = await runNF(l2fwd, [frame(), frame(), frame()], {
    ports: PORTS.slice(0, 2),
    inputPort: [0, 1, 0],
    options: { interval: 1 },
    ticks: 1,
  });
  assert.equal(r.logs[0], 'l2fwd: pairs 0↔1 (dst 02:00:00:00:00:01 / 02:00:00:00:00:00)');
  assert.equal(r.logs[1], 'l2fwd: last 1 s: 3 forwarded (3 pps); in all 3 forwarded, 0 unpaired, 0 malformed');
  assert.equal(r.logs[2], 'l2fwd: in all 3 forwarded, 0 unpaired, 0 malformed; out per port 1/2');
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp, PortSpec[]?][] = [
    [{ pairs: 'lan-nowhere' }, /option "pairs": "lan-nowhere" is not two ports joined by "-"/],
    [{ pairs: '0-0' }, /option "pairs": "0-0" pairs port 0 with itself/],
    [{ pairs: '0-1,1-2' }, /option "pairs": port 1 is in two pairs/],
    [{}, /option "pairs": no pair: the manager has 1 port/, [{ name: 'only' }]],
    [{ 'dst-mac': 'zz' }, /option "dst-mac": "zz" \(in "zz"\) is not a MAC address/],
    [{ 'dst-mac': 'wan=02:00:00:00:00:01,lan' }, /option "dst-mac": "lan" has no "="/],
    [{ 'dst-mac': 'moon=02:00:00:00:00:01' }, /option "dst-mac": "moon" .* is not a port/],
    [{ 'mac-updating': 'maybe' }, /option "mac-updating" must be true or false/],
    [{ interval: 1.5 }, /option "interval" must be an integer/],
  ];
  for (const [options, re, ports] of cases) {
    await assert.rejects(
      runNF(l2fwd, [], { options, ports: ports ?? PORTS }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      JSON.stringify(options),
    );
  }
});
