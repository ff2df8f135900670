/**
 * Tests for the flow director: wildcards, each match field, IPv4/IPv6 prefixes (/0, /32, /128,
 * a prefix across a word boundary), port ranges, priorities and ties, defaultChain on a miss,
 * the exact-match cache (same answers as the uncached scan and as a plain reference classifier
 * over seeded random rules and flows, both directions, a full cache), invalidation after
 * add/remove/compile, and validation errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { mulberry32 } from '../util/prng.js';
import { FlowKey, hashFlowKey } from '../packet/flow-key.js';
import { FlowDirector, type FlowRule } from './director.js';

const TCP = 6;
const UDP = 17;

function ip4(s: string): number {
  return s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
}

const k4 = (src: string, dst: string, proto = TCP, sp = 1234, dp = 80): FlowKey =>
  FlowKey.ipv4(ip4(src), ip4(dst), proto, sp, dp);
const k6 = (src: number[], dst: number[], proto = TCP, sp = 1234, dp = 80): FlowKey =>
  FlowKey.ipv6(src, dst, proto, sp, dp);

/** classify through the cache, the way the RX path calls it. */
function cls(d: FlowDirector, k: FlowKey, inPort = 0, vlan = -1): number {
  return d.classify(k, inPort, vlan, hashFlowKey(k, true));
}

/** Both paths must agree; returns the answer. */
function both(d: FlowDirector, k: FlowKey, inPort = 0, vlan = -1): number {
  const u = d.classifyUncached(k, inPort, vlan);
  const c = cls(d, k, inPort, vlan);
  assert.equal(c, u, `cached ${c} vs uncached ${u} for ${k.toString()} port ${inPort} vlan ${vlan}`);
  return c;
}

function assertInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NfcError, `expected NfcError, got ${String(err)}`);
    assert.equal(err.code, 'NFC_ERR_INVALID_ARG');
    assert.match(err.message, re);
    assert.ok(err.fix, 'an error says how to fix it');
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// A plain reference classifier: bit by bit, no masks precomputed, no compiled arrays.

function prefixBits(text: string): { v6: boolean; bits: number[]; len: number } {
  const [addr, lenText] = text.split('/') as [string, string | undefined];
  const bits: number[] = [];
  if (addr.includes(':')) {
    const [h, t] = addr.split('::') as [string, string | undefined];
    const hg = h === '' ? [] : h.split(':');
    const tg = t === undefined || t === '' ? [] : t.split(':');
    const groups = [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg].map((g) => parseInt(g, 16));
    for (const g of groups) for (let i = 15; i >= 0; i--) bits.push((g >> i) & 1);
    return { v6: true, bits, len: lenText === undefined ? 128 : Number(lenText) };
  }
  for (const p of addr.split('.')) for (let i = 7; i >= 0; i--) bits.push((Number(p) >> i) & 1);
  return { v6: false, bits, len: lenText === undefined ? 32 : Number(lenText) };
}

function keyBits(k: FlowKey, dst: boolean): number[] {
  const words = k.family === 6 ? 4 : 1;
  const bits: number[] = [];
  for (let w = 0; w < words; w++) {
    const x = k.addr[(dst ? 4 : 0) + w]!;
    for (let i = 31; i >= 0; i--) bits.push(Math.floor(x / 2 ** i) % 2);
  }
  return bits;
}

function refPrefix(text: string | undefined, k: FlowKey, dst: boolean): boolean {
  if (text === undefined) return true;
  const p = prefixBits(text);
  if (k.family !== (p.v6 ? 6 : 4)) return false;
  const kb = keyBits(k, dst);
  for (let i = 0; i < p.len; i++) if (kb[i] !== p.bits[i]) return false;
  return true;
}

function refMatch(r: FlowRule, k: FlowKey, inPort: number, vlan: number): boolean {
  if (r.proto !== undefined && r.proto !== k.proto) return false;
  if (r.inPort !== undefined && r.inPort !== inPort) return false;
  if (r.vlan !== undefined && r.vlan !== vlan) return false;
  if (r.srcPorts && (k.srcPort < r.srcPorts[0] || k.srcPort > r.srcPorts[1])) return false;
  if (r.dstPorts && (k.dstPort < r.dstPorts[0] || k.dstPort > r.dstPorts[1])) return false;
  // A rule with prefixes of one family matches keys of that family only.
  if (r.srcPrefix !== undefined && !refPrefix(r.srcPrefix, k, false)) return false;
  if (r.dstPrefix !== undefined && !refPrefix(r.dstPrefix, k, true)) return false;
  return true;
}

function refClassify(rules: FlowRule[], defaultChain: number, k: FlowKey, inPort: number, vlan: number): number {
  let best: FlowRule | undefined;
  for (const r of rules)
    if (refMatch(r, k, inPort, vlan) && (best === undefined || r.priority > best.priority)) best = r;
  return best ? best.chain : defaultChain;
}

// ---------------------------------------------------------------------------------------------

test('no rules: every packet gets defaultChain; a wildcard rule matches everything', () => {
  const d = new FlowDirector({ defaultChain: 3 });
  assert.equal(both(d, k4('1.2.3.4', '5.6.7.8')), 3);
  assert.equal(both(d, k6([0x20010db8, 0, 0, 1], [0x20010db8, 0, 0, 2])), 3);
  d.add({ priority: 0, chain: 7 });
  assert.equal(both(d, k4('1.2.3.4', '5.6.7.8')), 7);
  assert.equal(both(d, k6([0x20010db8, 0, 0, 1], [0x20010db8, 0, 0, 2])), 7);
  assert.equal(both(d, new FlowKey(), 3, 100), 7, 'even a non-IP (empty) key');
});

test('each field on its own', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  d.add({ priority: 1, chain: 1, proto: UDP });
  d.add({ priority: 1, chain: 2, inPort: 5 });
  d.add({ priority: 1, chain: 3, vlan: 100 });
  d.add({ priority: 1, chain: 4, srcPorts: [5000, 5000] });
  d.add({ priority: 1, chain: 5, dstPorts: [443, 443] });
  d.add({ priority: 1, chain: 6, srcPrefix: '10.1.0.0/16' });
  d.add({ priority: 1, chain: 7, dstPrefix: '192.0.2.0/24' });
  const base = (): FlowKey => k4('1.1.1.1', '2.2.2.2', TCP, 1234, 80);
  assert.equal(both(d, base()), 0);
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', UDP, 1234, 80)), 1);
  assert.equal(both(d, base(), 5), 2);
  assert.equal(both(d, base(), 4), 0);
  assert.equal(both(d, base(), 0, 100), 3);
  assert.equal(both(d, base(), 0, 101), 0);
  assert.equal(both(d, base(), 0, -1), 0, 'untagged matches no vlan rule');
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP, 5000, 80)), 4);
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP, 1234, 443)), 5);
  assert.equal(both(d, k4('10.1.200.3', '2.2.2.2')), 6);
  assert.equal(both(d, k4('10.2.0.1', '2.2.2.2')), 0);
  assert.equal(both(d, k4('1.1.1.1', '192.0.2.255')), 7);
  assert.equal(both(d, k4('1.1.1.1', '192.0.3.0')), 0);
});

test('IPv4 prefixes: /0 matches every IPv4 key (and no IPv6 key), /32 one address, /1 the top bit', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  d.add({ priority: 30, chain: 3, srcPrefix: '203.0.113.9/32' });
  d.add({ priority: 25, chain: 4, dstPrefix: '198.51.100.7' });
  d.add({ priority: 20, chain: 2, srcPrefix: '128.0.0.0/1' });
  d.add({ priority: 10, chain: 1, srcPrefix: '0.0.0.0/0' });
  assert.equal(both(d, k4('203.0.113.9', '1.1.1.1')), 3);
  assert.equal(both(d, k4('203.0.113.8', '1.1.1.1')), 2);
  assert.equal(both(d, k4('1.0.0.0', '198.51.100.7')), 4, 'no length = host');
  assert.equal(both(d, k4('255.255.255.255', '1.1.1.1')), 2);
  assert.equal(both(d, k4('127.255.255.255', '1.1.1.1')), 1);
  assert.equal(both(d, k4('0.0.0.0', '0.0.0.0')), 1);
  assert.equal(both(d, k6([0xffffffff, 0, 0, 0], [0, 0, 0, 1])), 0, '/0 of IPv4 does not match IPv6');
});

test('IPv6 prefixes: /0, /128, /32 and a /65 across a word boundary', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  d.add({ priority: 40, chain: 4, srcPrefix: '2001:db8::1/128' });
  d.add({ priority: 30, chain: 3, srcPrefix: '2001:db8:0:1:8000::/65' });
  d.add({ priority: 20, chain: 2, dstPrefix: '2001:db8::/32' });
  d.add({ priority: 10, chain: 1, srcPrefix: '::/0' });
  const other = [0xfd000000, 0, 0, 9];
  assert.equal(both(d, k6([0x20010db8, 0, 0, 1], other)), 4);
  assert.equal(both(d, k6([0x20010db8, 0, 0, 2], other)), 1);
  assert.equal(both(d, k6([0x20010db8, 1, 0x80000000, 0], other)), 3);
  assert.equal(both(d, k6([0x20010db8, 1, 0xffffffff, 0xffffffff], other)), 3);
  assert.equal(both(d, k6([0x20010db8, 1, 0x7fffffff, 0], other)), 1, 'bit 65 clear');
  assert.equal(both(d, k6(other, [0x20010db8, 0xffff, 0, 0])), 2);
  assert.equal(both(d, k6(other, [0x20010db9, 0, 0, 0])), 1);
  assert.equal(both(d, k4('32.1.13.184', '0.0.0.1')), 0, 'IPv6 rules never match IPv4 keys');
  assert.equal(both(d, k6([0, 0, 0xffff, 0x01020304], other)), 1, 'v4-mapped address is plain IPv6 here');
  d.add({ priority: 50, chain: 5, srcPrefix: '::ffff:1.2.3.4/128' });
  assert.equal(both(d, k6([0, 0, 0xffff, 0x01020304], other)), 5, 'dotted-quad tail parses');
});

test('port ranges are inclusive at both ends', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  d.add({ priority: 2, chain: 2, dstPorts: [1000, 1999], srcPorts: [0, 1023] });
  d.add({ priority: 1, chain: 1, dstPorts: [0, 65535] });
  for (const [dp, sp, want] of [
    [999, 0, 1],
    [1000, 0, 2],
    [1999, 1023, 2],
    [2000, 0, 1],
    [1500, 1024, 1],
    [65535, 65535, 1],
  ] as const) {
    assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', UDP, sp, dp)), want, `sp ${sp} dp ${dp}`);
  }
});

test('priorities: higher wins whatever the order added; ties go to the rule added first', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  d.add({ priority: 1, chain: 1, proto: TCP });
  const hi = d.add({ priority: 100, chain: 9, dstPorts: [80, 80] });
  d.add({ priority: 100, chain: 8, dstPorts: [80, 80] });
  d.add({ priority: -5, chain: 5 });
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP, 1, 80)), 9);
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP, 1, 81)), 1);
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', UDP, 1, 81)), 5);
  assert.ok(d.remove(hi));
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP, 1, 80)), 8);
  assert.deepEqual(
    d.rules().map((r) => [r.priority, r.chain]),
    [
      [100, 8],
      [1, 1],
      [-5, 5],
    ],
  );
});

test('cache: repeated flows hit; the reply direction and another inPort get their own answers', () => {
  const d = new FlowDirector({ defaultChain: 0, cacheCapacity: 1024 });
  d.add({ priority: 10, chain: 1, srcPrefix: '10.0.0.0/8', inPort: 0 });
  d.add({ priority: 5, chain: 2, dstPrefix: '10.0.0.0/8' });
  const fwd = k4('10.0.0.1', '192.0.2.1', TCP, 40000, 80);
  const rev = k4('192.0.2.1', '10.0.0.1', TCP, 80, 40000);
  assert.equal(cls(d, fwd), 1);
  assert.equal(cls(d, fwd), 1);
  assert.equal(cls(d, rev), 2, 'reverse direction: same cache entry, its own answer');
  assert.equal(cls(d, rev), 2);
  assert.equal(cls(d, fwd), 1);
  assert.equal(cls(d, fwd, 1), 0, 'another input port is not answered from the cache');
  assert.equal(cls(d, fwd, 0), 1);
  const s = d.stats();
  assert.equal(s.cacheEntries, 1);
  assert.equal(s.cacheMisses, 4);
  assert.equal(s.cacheHits, 3);
});

test('cache invalidation: add, remove and compile change answers at once', () => {
  const d = new FlowDirector({ defaultChain: 0, cacheCapacity: 64 });
  const k = k4('10.0.0.1', '192.0.2.1', UDP, 5353, 53);
  const a = d.add({ priority: 1, chain: 1, proto: UDP });
  assert.equal(cls(d, k), 1);
  assert.equal(cls(d, k), 1);
  const b = d.add({ priority: 2, chain: 2, dstPorts: [53, 53] });
  assert.equal(cls(d, k), 2, 'after add');
  assert.equal(cls(d, k), 2);
  assert.ok(d.remove(b));
  assert.equal(cls(d, k), 1, 'after remove');
  assert.ok(d.remove(a));
  assert.equal(cls(d, k), 0, 'after removing all rules');
  assert.equal(d.remove(a), false, 'a removed id is gone');
  const g = d.generation;
  d.compile();
  assert.ok(d.generation !== g);
  assert.equal(d.stats().cacheEntries, 1, 'compile keeps the flow (its epoch and pin); the answer is computed again');
  assert.equal(cls(d, k), 0);
});

test('seeded random: 60 rules, 1500 flows — cached, uncached (with and without the port index) and reference agree; a full cache only counts', () => {
  const rnd = mulberry32(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length]!;
  // Addresses from a few small pools so that rules and flows overlap.
  const v4Bases = [ip4('10.0.0.0'), ip4('10.1.0.0'), ip4('192.0.2.0'), ip4('198.51.100.0')];
  const v6Bases = [
    [0x20010db8, 0, 0, 0],
    [0x20010db8, 1, 0, 0],
    [0xfd000000, 0, 0, 0],
  ];
  const fmt4 = (a: number): string => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  const randPrefix = (v6: boolean): string => {
    if (!v6) {
      const len = pick([0, 8, 16, 20, 24, 28, 32]);
      const a = (pick(v4Bases) + (rnd() & 0x3f)) >>> 0;
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return `${fmt4((a & mask) >>> 0)}/${len}`;
    }
    const len = pick([0, 16, 32, 48, 64, 96, 120, 128]);
    const w = [...pick(v6Bases)];
    w[3] = rnd() & 0x3f;
    const out: string[] = [];
    for (let i = 0; i < 4; i++) {
      const bits = Math.max(0, Math.min(32, len - 32 * i));
      const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const x = (w[i]! & m) >>> 0;
      out.push((x >>> 16).toString(16), (x & 0xffff).toString(16));
    }
    return `${out.join(':')}/${len}`;
  };
  const randPorts = (): [number, number] => {
    const lo = pick([0, 53, 80, 443, 1000, 5000]);
    return [lo, lo + pick([0, 0, 10, 1000])];
  };
  const rules: FlowRule[] = [];
  for (let i = 0; i < 60; i++) {
    const r: FlowRule = { priority: rnd() % 8, chain: rnd() % 16 };
    const v6 = (rnd() & 3) === 0;
    if (rnd() % 2) r.srcPrefix = randPrefix(v6);
    if (rnd() % 2) r.dstPrefix = randPrefix(v6);
    if (rnd() % 3 === 0) r.srcPorts = randPorts();
    if (rnd() % 3 === 0) r.dstPorts = randPorts();
    if (rnd() % 3 === 0) r.proto = pick([TCP, UDP]);
    if (rnd() % 5 === 0) r.inPort = rnd() % 3;
    if (rnd() % 5 === 0) r.vlan = pick([10, 20]);
    rules.push(r);
  }
  const flows: Array<{ k: FlowKey; inPort: number; vlan: number }> = [];
  for (let i = 0; i < 1500; i++) {
    const proto = pick([TCP, UDP, 1]);
    const sp = proto === 1 ? 0 : pick([53, 80, 443, 1005, 5000, 40000 + (rnd() % 1000)]);
    const dp = proto === 1 ? 0 : pick([53, 80, 443, 1005, 5000, 6000]);
    let k: FlowKey;
    if ((rnd() & 3) === 0) {
      const s = [...pick(v6Bases)];
      const t = [...pick(v6Bases)];
      s[3] = rnd() & 0x3f;
      t[3] = rnd() & 0x3f;
      k = FlowKey.ipv6(s, t, proto, sp, dp);
    } else {
      k = FlowKey.ipv4((pick(v4Bases) + (rnd() & 0x3f)) >>> 0, (pick(v4Bases) + (rnd() & 0x3f)) >>> 0, proto, sp, dp);
    }
    flows.push({ k, inPort: rnd() % 3, vlan: pick([-1, 10, 20]) });
  }
  for (const capacity of [65536, 256])
    for (const index of [true, false]) {
      const d = new FlowDirector({ defaultChain: 15, cacheCapacity: capacity, index });
      for (const r of rules) d.add(r);
      d.compile();
      let nonDefault = 0;
      for (let round = 0; round < 3; round++) {
        for (const f of flows) {
          const want = refClassify(rules, 15, f.k, f.inPort, f.vlan);
          if (want !== 15) nonDefault++;
          assert.equal(
            d.classifyUncached(f.k, f.inPort, f.vlan),
            want,
            `uncached (index ${index}) ${f.k.toString()} port ${f.inPort} vlan ${f.vlan}`,
          );
          assert.equal(cls(d, f.k, f.inPort, f.vlan), want, `cached (round ${round}) ${f.k.toString()}`);
          const rev = new FlowKey().copyFrom(f.k).reverse();
          assert.equal(
            cls(d, rev, f.inPort, f.vlan),
            refClassify(rules, 15, rev, f.inPort, f.vlan),
            `reverse ${rev.toString()}`,
          );
        }
      }
      assert.ok(nonDefault > 600, `rules should match a good share of flows (${nonDefault})`);
      const s = d.stats();
      if (capacity === 256) {
        assert.ok(s.cacheFull > 0, 'a small cache fills up and counts it');
        assert.ok(s.cacheHits > 0 && s.cacheEntries === 192, `hits ${s.cacheHits}, entries ${s.cacheEntries}`);
      } else {
        assert.equal(s.cacheFull, 0);
        assert.ok(
          s.cacheHits > 5500,
          `hits ${s.cacheHits} (rounds 2 and 3 hit in both directions, but for flows whose 5-tuple recurs with another inPort or vlan)`,
        );
      }
    }
});

test('the port index: narrow ranges get their own lists, wide ones and port-less rules are checked for every port, in priority order', () => {
  const d = new FlowDirector({ defaultChain: 0, cacheCapacity: 0, index: true });
  d.setRules([
    { priority: 5, chain: 1, dstPorts: [80, 80] },
    { priority: 9, chain: 2, dstPorts: [1000, 9000], proto: TCP }, // wide: general
    { priority: 7, chain: 3, proto: UDP }, // no port: general
    { priority: 3, chain: 4, dstPorts: [53, 60] },
    { priority: 8, chain: 5, dstPorts: [80, 81], srcPrefix: '10.9.0.0/16' },
  ]);
  assert.equal(d.classifyUncached(k4('10.0.0.1', '10.0.0.2', TCP, 1, 80), 0, -1), 1);
  assert.equal(
    d.classifyUncached(k4('10.9.0.1', '10.0.0.2', TCP, 1, 80), 0, -1),
    5,
    'a higher-priority rule of the same port',
  );
  assert.equal(d.classifyUncached(k4('10.9.0.1', '10.0.0.2', UDP, 1, 80), 0, -1), 5);
  assert.equal(
    d.classifyUncached(k4('10.0.0.1', '10.0.0.2', UDP, 1, 80), 0, -1),
    3,
    'a general rule above a port rule',
  );
  assert.equal(d.classifyUncached(k4('10.0.0.1', '10.0.0.2', TCP, 1, 5000), 0, -1), 2, 'a wide range');
  assert.equal(d.classifyUncached(k4('10.0.0.1', '10.0.0.2', TCP, 1, 55), 0, -1), 4);
  assert.equal(d.classifyUncached(k4('10.0.0.1', '10.0.0.2', TCP, 1, 61), 0, -1), 0, 'no rule: the default');
  assert.equal(d.classifyUncached(FlowKey.ipv4(ip4('10.0.0.1'), ip4('10.0.0.2'), 1, 0, 0), 0, -1), 0, 'ICMP (port 0)');
});

test('a cache of capacity 0: no cache, same answers', () => {
  const d = new FlowDirector({ defaultChain: 1, cacheCapacity: 0 });
  d.add({ priority: 1, chain: 2, proto: UDP });
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', UDP)), 2);
  assert.equal(both(d, k4('1.1.1.1', '2.2.2.2', TCP)), 1);
  assert.equal(d.stats().cacheHits, 0);
});

test('validation errors name the field and the fix', () => {
  const d = new FlowDirector({ defaultChain: 0 });
  const bad = (r: unknown): FlowRule => r as FlowRule;
  assertInvalid(() => d.add(bad({ priority: 1, chain: 16 })), /chain 16 must be an integer chain id from 0 to 15/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: -1 })), /chain -1/);
  assertInvalid(() => d.add(bad({ priority: 1.5, chain: 1 })), /priority 1.5 must be an integer/);
  assertInvalid(() => d.add(bad({ chain: 1 })), /priority undefined/);
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, srcPrefix: '10.0.0.1/8' })),
    /srcPrefix "10.0.0.1\/8" has bits set beyond the \/8 prefix[\s\S]*10\.0\.0\.0\/8/,
  );
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, srcPrefix: '10.0.0.256/32' })),
    /srcPrefix "10.0.0.256\/32" is not an IPv4 address/,
  );
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, dstPrefix: '10.0.0.0/33' })),
    /dstPrefix "10.0.0.0\/33": prefix length "33" must be 0..32/,
  );
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, dstPrefix: '2001:db8::/129' })), /0..128 for IPv6/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, dstPrefix: '2001:db8:::1/64' })), /is not an IPv6 address/);
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, dstPrefix: '2001:db8::1/32' })),
    /beyond the \/32 prefix[\s\S]*2001:db8:0:0:0:0:0:0\/32/,
  );
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, dstPrefix: 42 })), /dstPrefix must be a string/);
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, srcPrefix: '10.0.0.0/8', dstPrefix: '2001:db8::/32' })),
    /srcPrefix is IPv4 but dstPrefix is IPv6/,
  );
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, dstPorts: [80, 70000] })),
    /dstPorts\[1\] 70000 must be an integer from 0 to 65535/,
  );
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, dstPorts: [90, 80] })), /dstPorts \[90, 80\] is empty/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, srcPorts: 80 })), /srcPorts must be a \[lo, hi\] pair/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, proto: 256 })), /proto 256/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, inPort: -1 })), /inPort -1/);
  assertInvalid(() => d.add(bad({ priority: 1, chain: 1, vlan: 4096 })), /vlan 4096 must be an integer from 0 to 4095/);
  assertInvalid(
    () => d.add(bad({ priority: 1, chain: 1, dstPort: [80, 80] })),
    /unknown field "dstPort"[\s\S]*did you mean "dstPorts"/,
  );
  assertInvalid(() => new FlowDirector({ defaultChain: 20 }), /defaultChain 20/);
  assertInvalid(
    () => new FlowDirector({ defaultChain: 0, cacheCapacity: 1000 }),
    /cacheCapacity 1000 must be 0 \(no cache\) or a power of two/,
  );
  assert.equal(d.rules().length, 0, 'rejected rules are not added');
});

test('pins: a pinned flow takes its chain in both directions, above every rule, and keeps it across rule changes', () => {
  const d = new FlowDirector({ defaultChain: 0, cacheCapacity: 64 });
  d.setRules([{ priority: 9, chain: 1, proto: TCP }]);
  const k = k4('10.0.0.1', '10.0.0.2', TCP, 1000, 80);
  const r = k4('10.0.0.2', '10.0.0.1', TCP, 80, 1000);
  const other = k4('10.0.0.3', '10.0.0.2', TCP, 1001, 80);
  assert.equal(cls(d, k), 1);
  assert.ok(d.pin(k, 5, hashFlowKey(k, true)));
  assert.equal(cls(d, k), 5, 'the pin wins over the rule');
  assert.equal(cls(d, r), 5, 'and holds for the reply direction');
  assert.equal(cls(d, other), 1, 'other flows still follow the rules');
  d.setRules([{ priority: 9, chain: 2, proto: TCP }]);
  assert.equal(cls(d, k), 5, 'a rule change keeps the pin');
  assert.equal(cls(d, other), 2, 'and re-answers the others');
  assert.equal(d.pinned(k, hashFlowKey(k, true)), 5);
  assert.ok(d.pin(k, -1, hashFlowKey(k, true)));
  assert.equal(cls(d, k), 2, 'unpinned: the rules again');
  assert.throws(() => d.pin(k, 16, hashFlowKey(k, true)), /chain id from 0 to 15/);
  const none = new FlowDirector({ defaultChain: 0, cacheCapacity: 0 });
  assert.equal(none.pin(k, 1, hashFlowKey(k, true)), false, 'no cache: nothing to pin in');
});

test('idle flows leave the cache (and their pins with them) at the idle timeout', () => {
  const d = new FlowDirector({ defaultChain: 0, cacheCapacity: 64, idleTimeoutMs: 1000 });
  const a = k4('10.0.0.1', '10.0.0.2', UDP, 1, 2);
  const b = k4('10.0.0.3', '10.0.0.4', UDP, 3, 4);
  d.classify(a, 0, -1, hashFlowKey(a, true), 100, 64);
  assert.ok(d.pin(b, 3, hashFlowKey(b, true), 300));
  assert.equal(d.classify(b, 0, -1, hashFlowKey(b, true), 500, 64), 3);
  assert.equal(d.expire(1099), 0, 'a was seen at 100: not idle for 1 s yet');
  assert.equal(d.expire(1100), 1);
  assert.equal(d.stats().cacheEntries, 1);
  assert.equal(d.pinnedCount(), 1);
  assert.equal(d.expire(1500), 1, 'b, last seen at 500');
  assert.equal(d.expiredCount, 2);
  assert.equal(d.pinnedCount(), 0);
  assert.equal(d.classify(b, 0, -1, hashFlowKey(b, true), 1600, 64), 0, 'b came back: a new flow, no pin');
});
