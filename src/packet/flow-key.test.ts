/**
 * Tests for FlowKey and hashFlowKey: equality, reverse, text form, symmetry of the hash and how
 * well it spreads flows over buckets (what decides NF instance load balance).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowKey, hashFlowKey } from './flow-key.js';
import { formatIpv4, formatIpv6 } from './address.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';

const u32 = (rnd: () => number): number => Math.floor(rnd() * 4294967296);
const u16 = (rnd: () => number): number => Math.floor(rnd() * 65536);

test('setIpv4 / setIpv6 / equals / copyFrom / clear', () => {
  const a = FlowKey.ipv4(0x0a000001, 0x0a000002, 6, 1234, 80);
  assert.equal(a.family, 4);
  assert.deepEqual([...a.addr], [0x0a000001, 0, 0, 0, 0x0a000002, 0, 0, 0]);
  const b = new FlowKey().copyFrom(a);
  assert.ok(a.equals(b));
  b.dstPort = 81;
  assert.ok(!a.equals(b));
  b.copyFrom(a).proto = 17;
  assert.ok(!a.equals(b));
  b.copyFrom(a).addr[4] = 3;
  assert.ok(!a.equals(b));

  const v6 = FlowKey.ipv6([0x20010db8, 0, 0, 1], [0x20010db8, 0, 0, 2], 17, 53, 5353);
  assert.equal(v6.family, 6);
  assert.deepEqual([...v6.addr], [0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2]);
  assert.ok(!v6.equals(a));
  // Reusing a v6 key for v4 must clear the upper words, or equals() would see stale data.
  v6.setIpv4(0x0a000001, 0x0a000002, 6, 1234, 80);
  assert.ok(v6.equals(a));
  v6.clear();
  assert.equal(v6.family, 0);
  assert.deepEqual([...v6.addr], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('reverse swaps endpoints in place and twice is identity', () => {
  const k = FlowKey.ipv6([1, 2, 3, 4], [5, 6, 7, 8], 6, 1000, 2000);
  const orig = new FlowKey().copyFrom(k);
  assert.equal(k.reverse(), k);
  assert.deepEqual([...k.addr], [5, 6, 7, 8, 1, 2, 3, 4]);
  assert.equal(k.srcPort, 2000);
  assert.equal(k.dstPort, 1000);
  assert.ok(k.reverse().equals(orig));
});

test('toString and address formatting', () => {
  assert.equal(FlowKey.ipv4(0x0a000001, 0xc0a80102, 6, 1234, 80).toString(), 'tcp 10.0.0.1:1234 -> 192.168.1.2:80');
  assert.equal(FlowKey.ipv4(0x0a000001, 0x0a000002, 1, 0, 0).toString(), 'icmp 10.0.0.1 -> 10.0.0.2');
  assert.equal(
    FlowKey.ipv6([0x20010db8, 0, 0, 1], [0x20010db8, 0, 0, 2], 17, 53, 5353).toString(),
    'udp [2001:db8::1]:53 -> [2001:db8::2]:5353',
  );
  assert.equal(FlowKey.ipv4(1, 2, 47, 0, 0).toString(), 'proto47 0.0.0.1 -> 0.0.0.2');
  assert.equal(new FlowKey().toString(), 'flow(empty)');
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
  assert.equal(formatIpv6([0, 0, 0, 1]), '::1');
  assert.equal(formatIpv6([0, 0, 0, 0]), '::');
  assert.equal(formatIpv6([0x20010db8, 0x00000001, 0x00000000, 0x00010000]), '2001:db8:0:1::1:0');
  assert.equal(formatIpv6([0x20010db8, 0x00010001, 0x00010001, 0x00010001]), '2001:db8:1:1:1:1:1:1');
  assert.equal(formatIpv6([0x20010000, 0x00000001, 0x00000000, 0x00000001]), '2001:0:0:1::1', 'longest run wins');
  assert.equal(formatIpv6([0xfe800000, 0, 0, 0]), 'fe80::');
  assert.equal(formatIpv6([1, 2, 3, 4, 0xffff0000, 0, 0, 1], 4), 'ffff::1', 'offset');
});

test('symmetric hash: key and reverse agree (v4 and v6, TCP and UDP, 20 000 random flows)', () => {
  const rnd = mulberry32(0x5eed);
  const k = new FlowKey();
  const src = new Uint32Array(4);
  const dst = new Uint32Array(4);
  for (let i = 0; i < 20_000; i++) {
    const proto = i % 2 === 0 ? 6 : 17;
    if (i % 4 < 2) {
      k.setIpv4(u32(rnd), u32(rnd), proto, u16(rnd), u16(rnd));
    } else {
      for (let j = 0; j < 4; j++) {
        src[j] = u32(rnd);
        dst[j] = j < 3 && i % 3 === 0 ? src[j]! : u32(rnd); // often equal prefixes
      }
      k.setIpv6(src, dst, proto, u16(rnd), u16(rnd));
    }
    if (i % 17 === 0) k.addr[4] = k.addr[0]!; // same host, ports decide
    const h = hashFlowKey(k, true);
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0x7fffffff, 'a 31-bit non-negative integer');
    k.reverse();
    assert.equal(hashFlowKey(k, true), h, k.toString());
  }
});

test('asymmetric hash separates the two directions; symmetric hash depends on every field', () => {
  const k = FlowKey.ipv4(0x0a000001, 0x0a000002, 6, 1234, 80);
  const fwd = hashFlowKey(k, false);
  assert.notEqual(hashFlowKey(new FlowKey().copyFrom(k).reverse(), false), fwd);
  const base = hashFlowKey(k, true);
  const variants = [
    FlowKey.ipv4(0x0a000001, 0x0a000002, 17, 1234, 80),
    FlowKey.ipv4(0x0a000001, 0x0a000002, 6, 1235, 80),
    FlowKey.ipv4(0x0a000001, 0x0a000002, 6, 1234, 81),
    FlowKey.ipv4(0x0a000001, 0x0a000003, 6, 1234, 80),
    FlowKey.ipv4(0x0a000001, 0x0a000002, 6, 80, 1234), // ports swapped but not addresses
    FlowKey.ipv6([0x0a000001, 0, 0, 0], [0x0a000002, 0, 0, 0], 6, 1234, 80),
  ];
  for (const v of variants) assert.notEqual(hashFlowKey(v, true), base, v.toString());
});

function spread(name: string, fill: (k: FlowKey, i: number) => void, symmetric: boolean): void {
  const N = 4096;
  const B = 1024;
  const buckets = new Uint32Array(B);
  const k = new FlowKey();
  for (let i = 0; i < N; i++) {
    fill(k, i);
    buckets[hashFlowKey(k, symmetric) & (B - 1)]!++;
  }
  const expect = N / B;
  let max = 0;
  let chi = 0;
  for (const c of buckets) {
    max = Math.max(max, c);
    chi += (c - expect) ** 2 / expect;
  }
  // Poisson(4): P(X >= 16) per bucket ~ 1e-6, so 16 is "wildly overloaded". Chi-square with 1023
  // degrees of freedom has mean 1023 and sd ~45: 1300 is a 6-sigma bound.
  assert.ok(max < 16, `${name}: max bucket ${max}`);
  assert.ok(chi < 1300, `${name}: chi-square ${chi.toFixed(0)}`);
}

test('hash spreads 4096 flows over 1024 buckets (random, sequential ports, sequential hosts, v6)', () => {
  const rnd = mulberry32(0xb0c4e7);
  spread('random v4', (k) => k.setIpv4(u32(rnd), u32(rnd), 6, u16(rnd), u16(rnd)), true);
  spread('random v4 asym', (k) => k.setIpv4(u32(rnd), u32(rnd), 17, u16(rnd), u16(rnd)), false);
  spread('client ports', (k, i) => k.setIpv4(0x0a000001, 0x0a000002, 6, 1024 + i, 80), true);
  spread('client hosts', (k, i) => k.setIpv4(0x0a000000 + i, 0xc0a80001, 17, 5000, 53), true);
  const a = new Uint32Array([0x20010db8, 0, 0, 0]);
  const b = new Uint32Array([0x20010db8, 0, 0, 1]);
  spread(
    'v6 hosts',
    (k, i) => {
      a[3] = 0x100 + i;
      k.setIpv6(a, b, 6, 40000, 443);
    },
    true,
  );
  spread(
    'random v6',
    (k) => {
      for (let j = 0; j < 4; j++) {
        a[j] = u32(rnd);
        b[j] = u32(rnd);
      }
      k.setIpv6(a, b, 17, u16(rnd), u16(rnd));
    },
    true,
  );
});
