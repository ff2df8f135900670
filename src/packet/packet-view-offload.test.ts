/**
 * Tests for PacketView with offloads (Meta.offload, read by attach()): partial checksums kept a
 * pseudo-header sum through rewrites and completed by fixL4Checksum, GSO super-frames, reset()
 * after attach(), and completeIfPartial for packets whose offload state is unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketView } from './packet-view.js';
import {
  buildPacket,
  ipv4Num,
  refL4Checksum,
  refSum,
  storedL4Checksum,
  type BuiltPacket,
  type L3Spec,
} from '../../test/helpers/packet-builder.js';
import { Meta, OFFLOAD_CSUM_PARTIAL, OffloadGso, gsoOffload } from '../shm/pool-layout.js';
import { initPool, PacketPool, poolBytes } from '../shm/pool.js';
import { PoolCache } from '../shm/pool-cache.js';
import { csumFold, pseudoSumIpv4At, pseudoSumIpv6At } from './checksum.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';
import { place, sample, u16at } from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Offloads: partial checksums and GSO super-frames, read from the pool buffer's meta by attach()

/** The pseudo-header sum (folded, not complemented) of a built packet's current bytes, the slow way. */
function refPseudoSum(pkt: Uint8Array, p: BuiltPacket): number {
  const n = p.l4Length;
  const pseudo =
    p.family === 4
      ? [...pkt.subarray(p.l3Offset + 12, p.l3Offset + 20), 0, p.proto, n >> 8, n & 0xff]
      : [
          ...pkt.subarray(p.l3Offset + 8, p.l3Offset + 40),
          (n >>> 24) & 0xff,
          (n >>> 16) & 0xff,
          (n >>> 8) & 0xff,
          n & 0xff,
          0,
          0,
          0,
          p.proto,
        ];
  return refSum(pseudo);
}

/** Where a built TCP/UDP packet's checksum field is. */
function l4Field(p: BuiltPacket): number {
  return p.l4Offset + (p.proto === 6 ? 16 : p.proto === 17 ? 6 : 2);
}

/**
 * The packet as Linux hands it over with CHECKSUM_PARTIAL: the TCP/UDP field holds the folded
 * pseudo-header sum (with the L4 length), not complemented. Cross-checked against checksum.ts.
 */
function partialForm(p: BuiltPacket): Uint8Array {
  const b = p.bytes.slice();
  const ps = refPseudoSum(b, p);
  const dv = new DataView(b.buffer);
  const viaSrc =
    p.family === 4
      ? csumFold(pseudoSumIpv4At(dv, p.l3Offset, p.proto, p.l4Length))
      : csumFold(pseudoSumIpv6At(dv, p.l3Offset, p.proto, p.l4Length));
  assert.equal(ps, viaSrc, 'pseudo-header sum: reference = checksum.ts');
  b[l4Field(p)] = ps >> 8;
  b[l4Field(p) + 1] = ps & 0xff;
  return b;
}

/** A pool (count 64, and `jumbos`) holding `bytes` as packet d, with `offload` in d's meta; a view attached to it. */
function poolPacket(bytes: Uint8Array, offload: number, jumbos = 0): { pool: PacketPool; d: number; view: PacketView } {
  const buf = new ArrayBuffer(poolBytes({ count: 64, jumbos }));
  initPool(buf, 0, { count: 64, jumbos });
  const pool = new PacketPool(buf, 0);
  const cache = new PoolCache(pool, { capacity: 8 });
  const b = new Uint32Array(1);
  assert.equal(bytes.length > pool.dataRoom ? cache.allocJumbo(b, 1) : cache.alloc(b, 1), 1);
  const d = b[0]!;
  assert.equal(pool.write(d, bytes), true);
  pool.setMeta(d, Meta.offload, offload);
  return { pool, d, view: new PacketView(buf).attach(pool, d) };
}

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function v6Text(w: Uint32Array): string {
  return [...w].flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]).join(':');
}

const OFFLOAD_PAYLOAD = new Uint8Array(301).map((_, i) => (i * 37 + 11) & 0xff);

interface OffloadCase {
  name: string;
  family: 4 | 6;
  proto: 'tcp' | 'udp';
}
const OFFLOAD_CASES: OffloadCase[] = [
  { name: 'TCP/IPv4', family: 4, proto: 'tcp' },
  { name: 'UDP/IPv4', family: 4, proto: 'udp' },
  { name: 'TCP/IPv6', family: 6, proto: 'tcp' },
  { name: 'UDP/IPv6', family: 6, proto: 'udp' },
];

/** Addresses and ports of a packet (IPv4 addresses as one word). */
interface Endpoints {
  src: Uint32Array;
  dst: Uint32Array;
  sport: number;
  dport: number;
}

function buildCase(c: OffloadCase, e: Endpoints): BuiltPacket {
  const l3: L3Spec =
    c.family === 4
      ? { kind: 'ipv4', src: v4Text(e.src[0]!), dst: v4Text(e.dst[0]!), id: 0x2222, ttl: 63 }
      : { kind: 'ipv6', src: v6Text(e.src), dst: v6Text(e.dst), flowLabel: 0x12345 };
  return buildPacket({
    l3,
    l4:
      c.proto === 'tcp'
        ? { kind: 'tcp', sport: e.sport, dport: e.dport, seq: 0x01020304, flags: 0x18, payload: OFFLOAD_PAYLOAD }
        : { kind: 'udp', sport: e.sport, dport: e.dport, payload: OFFLOAD_PAYLOAD },
  });
}

function randomEndpoints(c: OffloadCase, rnd: () => number): Endpoints {
  const w = (): number => Math.floor(rnd() * 2 ** 32);
  const n = c.family === 4 ? 1 : 4;
  return {
    src: Uint32Array.from({ length: n }, w),
    dst: Uint32Array.from({ length: n }, w),
    sport: Math.floor(rnd() * 65536),
    dport: Math.floor(rnd() * 65536),
  };
}

/** Rewrites addresses and ports through the setters; `check` runs after each setter. */
function rewrite(view: PacketView, c: OffloadCase, e: Endpoints, check: (what: string) => void): void {
  if (c.family === 4) {
    assert.equal(view.setIpv4Src(e.src[0]!), true);
    check('src');
    assert.equal(view.setIpv4Dst(e.dst[0]!), true);
    check('dst');
  } else {
    assert.equal(view.setIpv6Src(e.src), true);
    check('src');
    assert.equal(view.setIpv6Dst(e.dst), true);
    check('dst');
  }
  assert.equal(view.setSrcPort(e.sport), true);
  check('sport');
  assert.equal(view.setDstPort(e.dport), true);
  check('dport');
}

for (const c of OFFLOAD_CASES) {
  test(`partial checksum, ${c.name}: address and port rewrites keep the field the pseudo-header sum; fixL4Checksum completes it to the checksum of the rewritten packet and clears the meta's partial bit`, () => {
    const rnd = mulberry32(0x0ff10ad + c.family * 10 + (c.proto === 'tcp' ? 1 : 2));
    for (let round = 0; round < 60; round++) {
      const first = randomEndpoints(c, rnd);
      const p = buildCase(c, first);
      const { pool, d, view } = poolPacket(partialForm(p), OFFLOAD_CSUM_PARTIAL);
      assert.equal(view.offload, OFFLOAD_CSUM_PARTIAL);
      assert.equal(view.checksumPartial, true);
      assert.equal(view.isGso, false);
      assert.equal(view.gsoSize, 0);
      assert.equal(view.gsoType, 0);
      assert.equal(view.l4ChecksumOk(), true, 'a partial TCP/UDP checksum is trusted');
      const at = view.byteOffset;
      const field = (): number => view.data.getUint16(at + l4Field(p));
      // Several rewrites in a row, then the final one whose packet we build for comparison.
      let last = first;
      for (let k = 0; k < 3; k++) {
        last = randomEndpoints(c, rnd);
        rewrite(view, c, last, (what) => {
          const now = view.bytes.subarray(at, at + p.bytes.length);
          assert.equal(
            field(),
            refPseudoSum(now, p),
            `round ${round}.${k} ${what}: the field is exactly the pseudo-header sum`,
          );
          if (c.family === 4)
            assert.equal(view.ipv4ChecksumOk(), true, `round ${round}.${k} ${what}: IPv4 header checksum`);
        });
      }
      assert.equal(view.checksumPartial, true);
      assert.equal(view.fixL4Checksum(), true);
      assert.equal(view.checksumPartial, false);
      assert.equal(view.offload, 0);
      assert.equal(pool.meta(d, Meta.offload) & OFFLOAD_CSUM_PARTIAL, 0, 'the meta lost its partial bit');
      const want = buildCase(c, last);
      assert.equal(
        field(),
        storedL4Checksum(want.bytes, want),
        `round ${round}: completed checksum = a packet built with the final addresses and ports`,
      );
      assert.deepEqual(pool.bytes(d), want.bytes, `round ${round}: the whole packet`);
      assert.equal(view.l4ChecksumOk(), true);
      assert.equal(
        new PacketView(pool.buffer).reset(at, p.bytes.length).l4ChecksumOk(),
        true,
        'verifies with no offload state',
      );
      // Re-attached: the meta says complete now.
      assert.equal(view.attach(pool, d).checksumPartial, false);
    }
  });

  test(`no partial checksum, ${c.name}: the same rewrites keep a full checksum right (regression)`, () => {
    const rnd = mulberry32(0xf011 + c.family * 10 + (c.proto === 'tcp' ? 1 : 2));
    for (let round = 0; round < 60; round++) {
      const p = buildCase(c, randomEndpoints(c, rnd));
      const { pool, d, view } = poolPacket(p.bytes, 0);
      assert.equal(view.checksumPartial, false);
      assert.equal(view.offload, 0);
      const at = view.byteOffset;
      let last: Endpoints | null = null;
      for (let k = 0; k < 3; k++) {
        last = randomEndpoints(c, rnd);
        rewrite(view, c, last, (what) => {
          const now = view.bytes.slice(at, at + p.bytes.length);
          assert.equal(
            storedL4Checksum(now, p),
            refL4Checksum(now, p),
            `round ${round}.${k} ${what}: incremental = recompute`,
          );
          assert.equal(view.l4ChecksumOk(), true);
        });
      }
      assert.deepEqual(
        pool.bytes(d),
        buildCase(c, last!).bytes,
        `round ${round}: equals the packet built with the final fields`,
      );
      const before = pool.bytes(d).slice();
      assert.equal(view.fixL4Checksum(), true);
      assert.deepEqual(pool.bytes(d), before, 'fixL4Checksum changes nothing on a correct packet');
      assert.equal(pool.meta(d, Meta.offload), 0);
    }
  });
}

test('a partial checksum survives TCP- and UDP-specific port setters and TTL / hop-limit changes untouched', () => {
  for (const c of OFFLOAD_CASES) {
    const p = buildCase(c, randomEndpoints(c, mulberry32(7)));
    const { view } = poolPacket(partialForm(p), OFFLOAD_CSUM_PARTIAL);
    const o = view.byteOffset + l4Field(p);
    const before = view.data.getUint16(o);
    if (c.proto === 'tcp') {
      assert.equal(view.setTcpSrcPort(1), true);
      assert.equal(view.setTcpDstPort(2), true);
    } else {
      assert.equal(view.setUdpSrcPort(1), true);
      assert.equal(view.setUdpDstPort(2), true);
    }
    assert.equal(view.decrementTtl(), true);
    if (c.family === 4) assert.equal(view.ipv4ChecksumOk(), true);
    assert.equal(view.data.getUint16(o), before, c.name);
  }
});

test('isGso / gsoSize / gsoType from gsoOffload(OffloadGso.TCPV4 | OffloadGso.ECN, 1448); attach reads the data offset and length too', () => {
  const word = gsoOffload(OffloadGso.TCPV4 | OffloadGso.ECN, 1448);
  assert.equal(word, 0x05a88101, 'bit 0 partial, bits 8..15 type 0x81, bits 16..31 size 1448');
  const p = buildCase(OFFLOAD_CASES[0]!, randomEndpoints(OFFLOAD_CASES[0]!, mulberry32(1)));
  const { pool, d, view } = poolPacket(partialForm(p), word);
  assert.equal(view.offload, word);
  assert.equal(view.isGso, true);
  assert.equal(view.gsoSize, 1448);
  assert.equal(view.gsoType, OffloadGso.TCPV4 | OffloadGso.ECN);
  assert.equal(view.gsoType & ~OffloadGso.ECN, OffloadGso.TCPV4);
  assert.equal(view.checksumPartial, true, "a super-frame's checksum is partial");
  assert.equal(view.byteOffset, pool.dataOffset(d));
  assert.equal(view.length, p.bytes.length);
  assert.equal(view.tcpSrcPort, u16at(p.bytes, p.l4Offset));
  // Other types and the largest size: unsigned throughout.
  for (const [type, size] of [
    [OffloadGso.TCPV6, 65535],
    [OffloadGso.UDP_L4, 1200],
    [OffloadGso.UDP, 8],
    [OffloadGso.TCPV6 | OffloadGso.ECN, 32768],
  ] as const) {
    pool.setMeta(d, Meta.offload, gsoOffload(type, size));
    view.attach(pool, d);
    assert.equal(view.offload, gsoOffload(type, size));
    assert.ok(view.offload >= 0);
    assert.equal(view.gsoSize, size);
    assert.equal(view.gsoType, type);
    assert.equal(view.isGso, true);
  }
  // A moved data offset (prepend) is followed by attach.
  pool.setMeta(d, Meta.offload, 0);
  assert.equal(pool.prepend(d, 4), true);
  view.attach(pool, d);
  assert.equal(view.byteOffset, pool.dataOffset(d));
  assert.equal(view.length, p.bytes.length + 4);
  assert.equal(view.isGso, false);
  assert.equal(view.gsoSize, 0);
  assert.equal(view.gsoType, 0);
  assert.equal(view.checksumPartial, false);
});

test('fixL4Checksum on a GSO super-frame returns false and changes nothing (bytes, view offloads, meta)', () => {
  for (const c of OFFLOAD_CASES) {
    const p = buildCase(c, randomEndpoints(c, mulberry32(2)));
    const type = c.proto === 'udp' ? OffloadGso.UDP_L4 : c.family === 4 ? OffloadGso.TCPV4 : OffloadGso.TCPV6;
    const word = gsoOffload(type, 1400);
    const { pool, d, view } = poolPacket(partialForm(p), word);
    const before = pool.bytes(d).slice();
    assert.equal(view.fixL4Checksum(), false, c.name);
    assert.deepEqual(pool.bytes(d), before, c.name);
    assert.equal(view.offload, word);
    assert.equal(pool.meta(d, Meta.offload), word);
    assert.equal(view.checksumPartial, true);
    assert.equal(view.l4ChecksumOk(), true, 'partial: trusted');
    // An address rewrite on a super-frame keeps its partial field a pseudo-header sum.
    const e = randomEndpoints(c, mulberry32(3));
    if (c.family === 4) view.setIpv4Dst(e.dst[0]!);
    else view.setIpv6Dst(e.dst);
    const now = pool.bytes(d);
    assert.equal(u16at(now, l4Field(p)), refPseudoSum(now, p), c.name);
    assert.equal(view.fixL4Checksum(), false);
    assert.equal(pool.meta(d, Meta.offload), word);
  }
});

test('a 64 KiB GSO super-frame in a jumbo: attach, address rewrite as a pseudo-header sum; completed only once it is not GSO', () => {
  const payload = new Uint8Array(64_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  const mk = (dst: string): BuiltPacket =>
    buildPacket({
      l3: { kind: 'ipv4', src: '10.1.1.1', dst },
      l4: { kind: 'tcp', sport: 5001, dport: 40000, payload },
    });
  const p = mk('10.2.2.2');
  const word = gsoOffload(OffloadGso.TCPV4, 1448);
  const { pool, d, view } = poolPacket(partialForm(p), word, 1);
  assert.equal(pool.isJumbo(d), true);
  assert.equal(view.length, p.bytes.length);
  assert.equal(view.payloadLength, 64_000);
  assert.equal(view.isGso, true);
  assert.equal(view.setIpv4Dst(ipv4Num('10.3.3.3')), true);
  assert.equal(u16at(pool.bytes(d), l4Field(p)), refPseudoSum(pool.bytes(d), p));
  assert.equal(view.fixL4Checksum(), false);
  // Marked partial only (as if one segment of it): now it completes, to the builder's checksum.
  pool.setMeta(d, Meta.offload, OFFLOAD_CSUM_PARTIAL);
  view.attach(pool, d);
  assert.equal(view.fixL4Checksum(), true);
  assert.equal(pool.meta(d, Meta.offload), 0);
  assert.deepEqual(pool.bytes(d), mk('10.3.3.3').bytes);
});

test('reset() clears the offload state of a view reused after attach; attach replaces it', () => {
  const c = OFFLOAD_CASES[2]!;
  const p = buildCase(c, randomEndpoints(c, mulberry32(4)));
  const word = gsoOffload(OffloadGso.TCPV6, 1440);
  const { pool, d, view } = poolPacket(partialForm(p), word);
  assert.equal(view.isGso, true);
  const at = view.byteOffset;
  view.reset(at, p.bytes.length);
  assert.equal(view.offload, 0);
  assert.equal(view.isGso, false);
  assert.equal(view.gsoSize, 0);
  assert.equal(view.gsoType, 0);
  assert.equal(view.checksumPartial, false);
  assert.equal(view.l4ChecksumOk(), false, 'without the offload state a partial field does not verify');
  // Treated as an ordinary packet now: fixL4Checksum computes, and writes no meta.
  assert.equal(view.fixL4Checksum(), true);
  assert.equal(view.l4ChecksumOk(), true);
  assert.equal(pool.meta(d, Meta.offload), word, 'the buffer the view was attached to keeps its meta');
  // Setters after reset treat the field as a full checksum.
  const e = randomEndpoints(c, mulberry32(5));
  view.setIpv6Src(e.src);
  view.setSrcPort(e.sport);
  assert.equal(view.l4ChecksumOk(), true);
  const now = pool.bytes(d).slice();
  assert.equal(storedL4Checksum(now, p), refL4Checksum(now, p));
  // attach reads the meta again; attaching another buffer replaces the state.
  assert.equal(view.attach(pool, d).offload, word);
  const other = poolPacket(p.bytes, 0);
  const v2 = new PacketView(pool.buffer);
  v2.attach(pool, d);
  assert.equal(v2.isGso, true);
  pool.setMeta(d, Meta.offload, OFFLOAD_CSUM_PARTIAL);
  assert.equal(v2.offload, word, 'the view keeps what attach read until the next attach');
  assert.equal(v2.attach(pool, d).offload, OFFLOAD_CSUM_PARTIAL);
  assert.equal(other.view.offload, 0);
});

for (const c of OFFLOAD_CASES) {
  test(`completeIfPartial, ${c.name}: completes a partial packet (then l4ChecksumOk with a plain reset); false and unchanged for a correct or a corrupt packet`, () => {
    const rnd = mulberry32(0xc0 + c.family * 10 + (c.proto === 'tcp' ? 1 : 2));
    for (let round = 0; round < 20; round++) {
      const p = buildCase(c, randomEndpoints(c, rnd));
      // Partial, offload state unknown (a plain reset, as for AF_XDP).
      const { view, buf, off } = place(partialForm(p));
      assert.equal(view.l4ChecksumOk(), false);
      assert.equal(view.completeIfPartial(), true);
      assert.deepEqual(buf.subarray(off, off + p.bytes.length), p.bytes, 'completed to the full checksum');
      assert.equal(view.checksumPartial, false);
      assert.equal(view.reset(off, p.bytes.length).l4ChecksumOk(), true);
      assert.equal(view.completeIfPartial(), false, 'once complete, nothing to do');
      // Attached with an offload word of 0: completed, and the meta stays 0.
      const a = poolPacket(partialForm(p), 0);
      assert.equal(a.view.completeIfPartial(), true);
      assert.deepEqual(a.pool.bytes(a.d), p.bytes);
      assert.equal(a.pool.meta(a.d, Meta.offload), 0);
      // Correct packet: false, unchanged.
      const ok = place(p.bytes);
      assert.equal(ok.view.completeIfPartial(), false);
      assert.deepEqual(ok.buf.subarray(ok.off, ok.off + p.bytes.length), p.bytes);
      // Corrupt, not partial: a payload byte changed. False, unchanged, still does not verify.
      const bad = p.bytes.slice();
      bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x5a;
      const cb = place(bad);
      assert.equal(cb.view.l4ChecksumOk(), false);
      assert.equal(cb.view.completeIfPartial(), false);
      assert.deepEqual(cb.buf.subarray(cb.off, cb.off + bad.length), bad);
      assert.equal(cb.view.l4ChecksumOk(), false);
    }
  });
}

test('completeIfPartial is false (and writes nothing) for non-TCP/UDP packets, fragments, UDP without checksum', () => {
  for (const name of [
    'ipv4-icmp-echo',
    'ipv6-icmp6-echo',
    'ipv4-gre',
    'arp-request',
    'non-ip',
    'ipv4-frag-first-tcp',
    'ipv4-frag-later',
    'ipv6-frag-first-udp',
    'ipv4-udp-nocsum',
  ]) {
    const p = sample(name);
    const { view, buf } = place(p.bytes);
    const before = buf.slice();
    assert.equal(view.completeIfPartial(), false, name);
    assert.deepEqual(buf, before, name);
  }
  // ICMPv6 has a pseudo header too, but no partial checksum: a field equal to it is left alone.
  const p = sample('ipv6-icmp6-echo');
  const b = p.bytes.slice();
  const ps = refPseudoSum(b, p);
  b[l4Field(p)] = ps >> 8;
  b[l4Field(p) + 1] = ps & 0xff;
  const { view, buf } = place(b);
  const before = buf.slice();
  assert.equal(view.completeIfPartial(), false);
  assert.deepEqual(buf, before);
  // A first fragment whose TCP field is the pseudo-header sum: not checkable, so not completed.
  const f = sample('ipv4-frag-first-tcp');
  const fb = partialForm(f);
  const fv = place(fb);
  const fbefore = fv.buf.slice();
  assert.equal(fv.view.completeIfPartial(), false);
  assert.deepEqual(fv.buf, fbefore);
});
