/**
 * route-table.ts against a slow reference LPM (a scan of every route), over thousands of seeded
 * random routes and addresses, through inserts, replacements and deletes; IPv4 and IPv6.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipv4RouteTable, Ipv6RouteTable } from './route-table.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const mask4 = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** Reference IPv4 LPM: the longest route whose network contains `a`. */
function ref4(routes: Map<string, { addr: number; len: number; nh: number }>, a: number): number {
  let best = -1;
  let bestLen = -1;
  for (const r of routes.values()) {
    if (r.len > bestLen && (a & mask4(r.len)) >>> 0 === r.addr) {
      best = r.nh;
      bestLen = r.len;
    }
  }
  return best;
}

test('IPv4: random routes, lookups agree with a reference LPM through inserts, replacements and deletes', () => {
  const next = rng(12345);
  const t = new Ipv4RouteTable({ blocks: 4 }); // small: the block array must grow
  const routes = new Map<string, { addr: number; len: number; nh: number }>();
  // Clustered: few first octets, so prefixes nest (a /8 over /16s over /24s over /28s).
  const firsts = [10, 172, 192, 44];
  const randomRoute = (): { addr: number; len: number } => {
    const x = next() % 100;
    const len = x < 5 ? 8 : x < 20 ? 16 + (next() % 8) : x < 55 ? 24 : x < 95 ? 25 + (next() % 8) : next() % 8;
    const a = ((firsts[next() & 3]! << 24) | (next() & 0x0303ff) | ((next() & 0xf) << 4)) >>> 0;
    return { addr: (a & mask4(len)) >>> 0, len };
  };
  const addresses = (): number[] => {
    const out: number[] = [];
    for (const r of routes.values()) {
      const host = r.len === 32 ? 0 : next() & ~mask4(r.len);
      out.push((r.addr | host) >>> 0);
      if (out.length > 3000) break;
    }
    for (let i = 0; i < 2000; i++) out.push(((firsts[next() & 3]! << 24) | (next() & 0x0303ff)) >>> 0);
    for (let i = 0; i < 500; i++) out.push(next());
    return out;
  };
  const check = (what: string): void => {
    for (const a of addresses()) {
      const want = ref4(routes, a);
      const got = t.lookup4(a);
      if (got !== want)
        assert.fail(`${what}: ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}: got ${got}, want ${want}`);
      assert.equal(t.lookup4(a | 0), want, 'the int32 form of the address gives the same');
    }
    assert.equal(t.size, routes.size);
  };
  for (let i = 0; i < 3000; i++) {
    const r = randomRoute();
    const nh = next() % 5000;
    t.insert(r.addr, r.len, nh);
    routes.set(`${r.addr}/${r.len}`, { ...r, nh });
  }
  check('after 3000 inserts');
  // Replacements: the same prefixes, new next hops.
  let n = 0;
  for (const r of routes.values()) {
    if (n++ % 3 !== 0) continue;
    r.nh = next() % 5000;
    t.insert(r.addr, r.len, r.nh);
  }
  check('after replacing a third');
  // Deletes, half of them, in random order; and deleting an absent route says so.
  const keys = [...routes.keys()].sort(() => (next() & 1) - 0.5);
  for (const k of keys.slice(0, keys.length >> 1)) {
    const r = routes.get(k)!;
    assert.equal(t.delete(r.addr, r.len), true);
    routes.delete(k);
  }
  assert.equal(t.delete(0x01020300, 24), false);
  check('after deleting half');
  // Everything deleted: no route anywhere, and the tbl8 blocks are all given back.
  for (const r of [...routes.values()]) t.delete(r.addr, r.len);
  routes.clear();
  check('after deleting all');
  assert.equal(t.blocksInUse, 0, 'uniform blocks are folded back and freed');
});

test('IPv4: a default route, /32 host routes, and /25s that cover a /24 between them', () => {
  const t = new Ipv4RouteTable();
  assert.equal(t.lookup4(0x0a000001), -1, 'empty table: no route');
  t.insert(0, 0, 7);
  assert.equal(t.lookup4(0x0a000001), 7);
  assert.equal(t.lookup4(0xffffffff), 7);
  t.insert(0x0a000105, 32, 1);
  assert.equal(t.lookup4(0x0a000105), 1);
  assert.equal(t.lookup4(0x0a000104), 7);
  t.insert(0x0a000200, 25, 2);
  t.insert(0x0a000280, 25, 3);
  t.insert(0x0a000200, 24, 4); // shorter: hidden under the two /25s
  assert.equal(t.lookup4(0x0a000201), 2);
  assert.equal(t.lookup4(0x0a0002ff), 3);
  const len = new Int32Array(1);
  assert.equal(t.lookup4Len(0x0a0002ff, len), 3);
  assert.equal(len[0], 25);
  t.delete(0x0a000280, 25);
  assert.equal(t.lookup4(0x0a0002ff), 4, 'the /24 shows through once a /25 is gone');
  assert.equal(t.get(0x0a000200, 24), 4);
  assert.equal(t.get(0x0a000200, 23), -1);
  t.delete(0, 0);
  assert.equal(t.lookup4(0x0b000001), -1);
  assert.equal(t.lookup4Len(0x0b000001, len), -1);
  assert.equal(len[0], -1);
  assert.deepEqual(
    t
      .routes()
      .map((r) => `${r.addr}/${r.length}`)
      .sort(),
    [`${0x0a000105}/32`, `${0x0a000200}/25`, `${0x0a000200}/24`].sort(),
  );
  assert.throws(() => t.insert(0, 33, 1), /prefix length 33/);
  assert.throws(() => t.insert(0, 8, -1), /next hop -1/);
});

// ---------------------------------------------------------------------------------------------
// IPv6

const ALL = (1n << 128n) - 1n;
const mask6 = (len: number): bigint => (len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL);
const words = (v: bigint): Uint32Array =>
  Uint32Array.of(
    Number((v >> 96n) & 0xffffffffn),
    Number((v >> 64n) & 0xffffffffn),
    Number((v >> 32n) & 0xffffffffn),
    Number(v & 0xffffffffn),
  );

test('IPv6: random routes, lookups (words and bytes) agree with a reference LPM through inserts and deletes', () => {
  const next = rng(777);
  const t = new Ipv6RouteTable({ blocks: 2 });
  const routes = new Map<string, { p: bigint; len: number; nh: number }>();
  const rnd128 = (): bigint => {
    // Clustered under a few /16s and /32s so prefixes nest.
    const top = [0x2001n, 0xfd00n, 0x2a02n][next() % 3]!;
    const second = BigInt(next() & 0x3);
    return (
      (top << 112n) | (second << 96n) | (BigInt(next() & 0xff0f) << 80n) | (BigInt(next()) << 32n) | BigInt(next())
    );
  };
  const lengths = [0, 8, 16, 20, 24, 32, 33, 40, 47, 48, 56, 64, 65, 96, 120, 127, 128];
  const ref = (a: bigint): number => {
    let best = -1;
    let bestLen = -1;
    for (const r of routes.values()) if (r.len > bestLen && (a & mask6(r.len)) === r.p) [best, bestLen] = [r.nh, r.len];
    return best;
  };
  const bytes = new Uint8Array(20);
  const check = (what: string): void => {
    const addrs: bigint[] = [];
    for (const r of routes.values()) {
      addrs.push(r.p | (rnd128() & ~mask6(r.len) & ALL));
      if (addrs.length > 1500) break;
    }
    for (let i = 0; i < 1500; i++) addrs.push(rnd128());
    for (const a of addrs) {
      const want = ref(a);
      const w = words(a);
      const got = t.lookup6(w);
      if (got !== want) assert.fail(`${what}: ${a.toString(16)}: got ${got}, want ${want}`);
      new DataView(bytes.buffer).setUint32(2, w[0]!);
      new DataView(bytes.buffer).setUint32(6, w[1]!);
      new DataView(bytes.buffer).setUint32(10, w[2]!);
      new DataView(bytes.buffer).setUint32(14, w[3]!);
      assert.equal(t.lookup6At(bytes, 2), want);
    }
  };
  for (let i = 0; i < 2000; i++) {
    const len = lengths[next() % lengths.length]!;
    const p = rnd128() & mask6(len);
    const nh = next() % 1000;
    t.insert(words(p), len, nh);
    routes.set(`${p}/${len}`, { p, len, nh });
  }
  check('after 2000 inserts');
  const keys = [...routes.keys()];
  for (let i = 0; i < keys.length; i += 2) {
    const r = routes.get(keys[i]!)!;
    assert.equal(t.delete(words(r.p), r.len), true);
    routes.delete(keys[i]!);
  }
  check('after deleting half');
  for (const r of [...routes.values()]) t.delete(words(r.p), r.len);
  routes.clear();
  check('after deleting all');
  assert.equal(t.blocksInUse, 0);
  assert.equal(t.size, 0);
});
