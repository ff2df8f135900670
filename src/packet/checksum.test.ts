/**
 * Tests for the Internet checksum helpers, cross-checked against the byte-by-byte reference in
 * test/helpers/packet-builder.ts and against published examples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  csumFold,
  csumUpdate16,
  csumUpdate32,
  internetChecksum,
  ipv4HeaderChecksum,
  ipv4HeaderChecksumOk,
  l4ChecksumIpv4,
  l4ChecksumIpv4Ok,
  l4ChecksumIpv6,
  l4ChecksumIpv6Ok,
  onesSum,
  pseudoSumIpv4,
  pseudoSumIpv4At,
  transportChecksum,
  transportChecksumOk,
} from './checksum.js';
import { buildPacket, refChecksum, refSum, type BuiltPacket } from '../../test/helpers/packet-builder.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';

function dvOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

test('RFC 1071 §3 example: sum of 0001 f203 f4f5 f6f7 is ddf2', () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(onesSum(dvOf(b), 0, 8, 0), 0xddf2);
  assert.equal(internetChecksum(b), 0x220d);
});

test('known IPv4 header checksum (b861)', () => {
  const h = new Uint8Array([
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00,
    0xc7,
  ]);
  const dv = dvOf(h);
  assert.equal(ipv4HeaderChecksum(dv, 0), 0xb861);
  assert.equal(ipv4HeaderChecksumOk(dv, 0), true);
  h[11] = 0x62;
  assert.equal(ipv4HeaderChecksumOk(dv, 0), false);
  assert.equal(ipv4HeaderChecksum(dv, 0), 0xb861, 'computed as if the field were zero');
});

test('csumFold', () => {
  assert.equal(csumFold(0), 0);
  assert.equal(csumFold(0xffff), 0xffff);
  assert.equal(csumFold(0x10000), 1);
  assert.equal(csumFold(0x1fffe), 0xffff);
  assert.equal(csumFold(2 ** 48 + 5), 6, '2^48 ≡ 1 (mod 2^16-1)');
  assert.equal(csumFold(2 ** 40 + 5), 261, '2^40 ≡ 2^8');
  assert.equal(csumFold(Number.MAX_SAFE_INTEGER), 31, '2^53 - 1 = 2^48 * 32 - 1 ≡ 31');
});

test('onesSum equals the byte-by-byte reference for every length 0..300 and odd offsets', () => {
  const rnd = mulberry32(0xc0ffee);
  const b = new Uint8Array(400);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  const dv = dvOf(b);
  for (let off = 0; off < 4; off++) {
    for (let n = 0; n <= 300; n++) {
      assert.equal(onesSum(dv, off, n, 0), refSum(b, off, off + n), `off ${off} len ${n}`);
      assert.equal(internetChecksum(b, off, n), refChecksum(b, off, off + n));
    }
  }
  // With an initial value.
  assert.equal(onesSum(dv, 0, 20, 0x12345), refSum(b, 0, 20, csumFold(0x12345)));
});

test('all-0xff data, all-zero data and a multi-MiB buffer fold correctly', () => {
  const ff = new Uint8Array(64).fill(0xff);
  assert.equal(onesSum(dvOf(ff), 0, 64, 0), 0xffff);
  assert.equal(onesSum(dvOf(new Uint8Array(64)), 0, 64, 0), 0);
  const big = new Uint8Array(3 * (1 << 20) + 6);
  const rnd = mulberry32(7);
  for (let i = 0; i < big.length; i++) big[i] = Math.floor(rnd() * 256);
  assert.equal(onesSum(dvOf(big), 1, big.length - 1, 0), refSum(big, 1, big.length));
  assert.equal(onesSum(dvOf(big.fill(0xff)), 0, big.length, 0), 0xffff);
});

test('internetChecksum accepts a DataView and a subarray', () => {
  const b = new Uint8Array([9, 9, 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(internetChecksum(b.subarray(2)), 0x220d);
  assert.equal(internetChecksum(dvOf(b), 2, 8), 0x220d);
});

test('csumUpdate16 equals a full recompute (10 000 random edits)', () => {
  const rnd = mulberry32(0x1624);
  const b = new Uint8Array(40);
  const dv = dvOf(b);
  for (let t = 0; t < 10_000; t++) {
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
    if (t % 10 === 0) b.fill(0xff, 0, 38); // edge sums near 0xffff
    dv.setUint16(38, 0);
    const c0 = internetChecksum(b);
    dv.setUint16(38, c0);
    const w = Math.floor(rnd() * 19) * 2;
    const oldWord = dv.getUint16(w);
    const newWord = t % 7 === 0 ? ~oldWord & 0xffff : Math.floor(rnd() * 65536);
    dv.setUint16(w, newWord);
    const inc = csumUpdate16(c0, oldWord, newWord);
    dv.setUint16(38, 0);
    assert.equal(inc, internetChecksum(b), `trial ${t}`);
  }
});

test('csumUpdate32 equals a full recompute (10 000 random edits)', () => {
  const rnd = mulberry32(0x3232);
  const b = new Uint8Array(40);
  const dv = dvOf(b);
  for (let t = 0; t < 10_000; t++) {
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
    dv.setUint16(36, 0);
    const c0 = internetChecksum(b);
    dv.setUint16(36, c0);
    const w = Math.floor(rnd() * 9) * 4;
    const oldV = dv.getUint32(w);
    const newV = Math.floor(rnd() * 4294967296);
    dv.setUint32(w, newV);
    const inc = csumUpdate32(c0, oldV, newV);
    dv.setUint16(36, 0);
    assert.equal(inc, internetChecksum(b), `trial ${t}`);
  }
});

test('pseudo-header sums: explicit addresses equal reading them from the header', () => {
  const p = buildPacket({
    l3: { kind: 'ipv4', src: '192.168.1.10', dst: '10.20.30.40' },
    l4: { kind: 'tcp', sport: 1, dport: 2 },
  });
  const dv = dvOf(p.bytes);
  const a = csumFold(pseudoSumIpv4(0xc0a8010a, 0x0a141e28, 6, 20));
  assert.equal(csumFold(pseudoSumIpv4At(dv, p.l3Offset, 6, 20)), a);
  // Bytes: c0a8 010a 0a14 1e28 0006 0014
  assert.equal(a, refSum([0xc0, 0xa8, 0x01, 0x0a, 0x0a, 0x14, 0x1e, 0x28, 0, 6, 0, 20]));
});

function l4Cases(): Array<{ name: string; p: BuiltPacket }> {
  const pay = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  return [
    {
      name: 'tcp/ipv4',
      p: buildPacket({
        l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
        l4: { kind: 'tcp', sport: 1234, dport: 80, payload: pay },
      }),
    },
    {
      name: 'udp/ipv4',
      p: buildPacket({
        l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
        l4: { kind: 'udp', sport: 53, dport: 5353, payload: pay },
      }),
    },
    {
      name: 'icmp/ipv4',
      p: buildPacket({
        l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
        l4: { kind: 'icmp', type: 8, code: 0, id: 7, seq: 1, payload: pay },
      }),
    },
    {
      name: 'tcp/ipv6',
      p: buildPacket({
        l3: { kind: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2' },
        l4: { kind: 'tcp', sport: 1234, dport: 80, payload: pay },
      }),
    },
    {
      name: 'udp/ipv6',
      p: buildPacket({
        l3: { kind: 'ipv6', src: '2001:db8::1', dst: 'fe80::1:2:3:4' },
        l4: { kind: 'udp', sport: 53, dport: 5353, payload: pay },
      }),
    },
    {
      name: 'icmp6/ipv6',
      p: buildPacket({
        l3: { kind: 'ipv6', src: 'fe80::1', dst: 'ff02::1' },
        l4: { kind: 'icmp6', type: 128, code: 0, id: 9, seq: 2, payload: pay },
      }),
    },
  ];
}

test('TCP/UDP/ICMP/ICMPv6 checksums over IPv4 and IPv6 match the reference', () => {
  for (const { name, p } of l4Cases()) {
    const dv = dvOf(p.bytes);
    const field = p.l4Offset + (p.proto === 6 ? 16 : p.proto === 17 ? 6 : 2);
    const stored = dv.getUint16(field);
    const v6 = p.family === 6;
    const compute = v6 ? l4ChecksumIpv6 : l4ChecksumIpv4;
    const ok = v6 ? l4ChecksumIpv6Ok : l4ChecksumIpv4Ok;
    assert.equal(compute(dv, p.l3Offset, p.l4Offset, p.l4Length, p.proto), stored, name);
    assert.equal(ok(dv, p.l3Offset, p.l4Offset, p.l4Length, p.proto), true, name);
    dv.setUint8(p.bytes.length - 1, dv.getUint8(p.bytes.length - 1) ^ 0x10);
    assert.equal(ok(dv, p.l3Offset, p.l4Offset, p.l4Length, p.proto), false, `${name} corrupted`);
  }
});

test('UDP checksum 0: "none" over IPv4 passes, invalid over IPv6; a computed 0 is sent as ffff', () => {
  const v4 = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 1, dport: 2, noChecksum: true },
  });
  assert.equal(l4ChecksumIpv4Ok(dvOf(v4.bytes), v4.l3Offset, v4.l4Offset, v4.l4Length, 17), true);
  const v6 = buildPacket({
    l3: { kind: 'ipv6', src: '::1', dst: '::2' },
    l4: { kind: 'udp', sport: 1, dport: 2, noChecksum: true },
  });
  assert.equal(l4ChecksumIpv6Ok(dvOf(v6.bytes), v6.l3Offset, v6.l4Offset, v6.l4Length, 17), false);

  // Find a payload word that makes the UDP sum come out as 0xffff (computed checksum 0).
  const p = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(2) },
  });
  const dv = dvOf(p.bytes);
  const payOff = p.payloadOffset;
  dv.setUint16(p.l4Offset + 6, 0);
  const partial = csumFold(pseudoSumIpv4At(dv, p.l3Offset, 17, p.l4Length) + onesSum(dv, p.l4Offset, p.l4Length, 0));
  dv.setUint16(payOff, (0xffff - partial) & 0xffff);
  assert.equal(l4ChecksumIpv4(dv, p.l3Offset, p.l4Offset, p.l4Length, 17), 0xffff);
  dv.setUint16(p.l4Offset + 6, 0xffff);
  assert.equal(l4ChecksumIpv4Ok(dv, p.l3Offset, p.l4Offset, p.l4Length, 17), true);
});

test('all-zero data around the field checksums to ffff, not 0 (found by the fuzz)', () => {
  // An ICMP header of zeros (no pseudo header) with a stale checksum field, odd length.
  const b = new Uint8Array([0x45, 0, 0, 25, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0xff, 0xfc, 0]);
  const dv = dvOf(b);
  assert.equal(l4ChecksumIpv4(dv, 0, 20, 5, 1), 0xffff);
  assert.equal(transportChecksum(dv, 20, 5, 2, 0), 0xffff);
  dv.setUint16(22, 0xffff);
  assert.equal(l4ChecksumIpv4Ok(dv, 0, 20, 5, 1), true);
  // Same for an IPv4 header (cannot occur with version 4, but the helper takes any range).
  const h = new Uint8Array(20);
  h[0] = 0x05; // IHL 5, version 0
  h[10] = 0x12;
  assert.equal(ipv4HeaderChecksum(dvOf(h), 0), ~0x0500 & 0xffff);
});

test('other protocols: compute gives -1 and verify gives false', () => {
  const dv = new DataView(new ArrayBuffer(64));
  assert.equal(l4ChecksumIpv4(dv, 0, 20, 20, 47), -1);
  assert.equal(l4ChecksumIpv4Ok(dv, 0, 20, 20, 47), false);
  assert.equal(l4ChecksumIpv4(dv, 0, 20, 20, 58), -1, 'ICMPv6 is not an IPv4 protocol');
  assert.equal(l4ChecksumIpv6(dv, 0, 40, 20, 1), -1, 'ICMPv4 is not an IPv6 protocol');
  assert.equal(l4ChecksumIpv6Ok(dv, 0, 40, 20, 1), false);
});

test('transportChecksum / transportChecksumOk with an explicit pseudo sum', () => {
  const p = l4Cases()[0]!.p;
  const dv = dvOf(p.bytes);
  const ps = pseudoSumIpv4At(dv, p.l3Offset, 6, p.l4Length);
  assert.equal(transportChecksum(dv, p.l4Offset, p.l4Length, 16, ps), dv.getUint16(p.l4Offset + 16));
  assert.equal(transportChecksumOk(dv, p.l4Offset, p.l4Length, ps), true);
  assert.equal(transportChecksumOk(dv, p.l4Offset, p.l4Length, ps + 1), false);
});
