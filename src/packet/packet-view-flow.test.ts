/**
 * Tests for PacketView's flow key and symmetric flow hash: both directions of a flow hash the
 * same, the hash equals hashFlowKey(key, true), and non-IP packets leave the key untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowKey, hashFlowKey } from './flow-key.js';
import { buildPacket, type L3Spec } from '../../test/helpers/packet-builder.js';
import { place, sample } from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Flow key and symmetric hash

test('flowHash is symmetric (A→B == B→A) for IPv4/IPv6, TCP/UDP, and equals hashFlowKey(key, true)', () => {
  const combos: Array<[string, string, 'tcp' | 'udp']> = [
    ['10.1.2.3', '172.16.0.9', 'tcp'],
    ['10.1.2.3', '172.16.0.9', 'udp'],
    ['2001:db8::a', '2001:db8::b', 'tcp'],
    ['fe80::1:2', 'fe80::1:1', 'udp'],
    ['10.0.0.1', '10.0.0.1', 'tcp'], // same host, ports decide the order
  ];
  const ka = new FlowKey();
  const kb = new FlowKey();
  for (const [x, y, l4] of combos) {
    const l3 = (s: string, d: string): L3Spec =>
      x.includes(':') ? { kind: 'ipv6', src: s, dst: d } : { kind: 'ipv4', src: s, dst: d };
    const ab = buildPacket({ l3: l3(x, y), l4: { kind: l4, sport: 33000, dport: 443 } });
    const ba = buildPacket({ l3: l3(y, x), l4: { kind: l4, sport: 443, dport: 33000 } });
    const va = place(ab.bytes).view;
    const vb = place(ba.bytes, 5).view;
    assert.equal(va.flowKey(ka), true);
    assert.equal(vb.flowKey(kb), true);
    assert.ok(ka.reverse().equals(kb), `${x} ${y} ${l4}: keys are reverses`);
    ka.reverse();
    assert.equal(va.flowHash(), vb.flowHash(), `${x} ${y} ${l4}`);
    assert.equal(va.flowHash(), hashFlowKey(ka, true));
    assert.notEqual(hashFlowKey(ka, false), hashFlowKey(kb, false), 'the asymmetric hash tells directions apart');
    // A different flow between the same hosts hashes differently.
    const other = place(buildPacket({ l3: l3(x, y), l4: { kind: l4, sport: 33001, dport: 443 } }).bytes).view;
    assert.notEqual(other.flowHash(), va.flowHash());
  }
});

test('flowKey leaves the key untouched for non-IP packets; flowHash is 0', () => {
  const k = FlowKey.ipv4(1, 2, 6, 3, 4);
  const copy = new FlowKey().copyFrom(k);
  for (const name of ['arp-request', 'non-ip']) {
    const { view } = place(sample(name).bytes);
    assert.equal(view.flowKey(k), false);
    assert.ok(k.equals(copy));
    assert.equal(view.flowHash(), 0);
  }
});
