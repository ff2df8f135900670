/**
 * Tests for PacketView's setters and checksum fix-ups: every setter checked against a
 * from-scratch checksum recompute (test/helpers/packet-builder.ts, which does not use src/),
 * setters on the wrong protocol, MACs, and fixIpv4Checksum / fixL4Checksum on corrupted packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MacField } from './protocol.js';
import type { PacketView } from './packet-view.js';
import {
  ipv4Num,
  refIpv4HeaderChecksum,
  refL4Checksum,
  samplePackets,
  storedL4Checksum,
  type BuiltPacket,
} from '../../test/helpers/packet-builder.js';
import { formatMac } from './address.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';
import { macOut, place, sample } from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Setters: incremental checksums equal a from-scratch recompute

/** After a setter: both checksums verify and equal the builder's full recompute. */
function assertChecksums(view: PacketView, off: number, p: BuiltPacket, what: string): void {
  const b = view.bytes.slice(off, off + p.bytes.length);
  if (p.family === 4) {
    assert.equal(view.ipv4ChecksumOk(), true, `${what}: ipv4ChecksumOk`);
    assert.equal(view.ipv4Checksum, refIpv4HeaderChecksum(b, p.l3Offset), `${what}: IPv4 checksum = recompute`);
  }
  if (p.l4Offset >= 0 && !(p.proto === 17 && p.family === 4 && storedL4Checksum(b, p) === 0)) {
    assert.equal(view.l4ChecksumOk(), true, `${what}: l4ChecksumOk`);
    assert.equal(storedL4Checksum(b, p), refL4Checksum(b, p), `${what}: L4 checksum = recompute`);
  }
}

test('IPv4 setters (src, dst, ttl, tos, decrementTtl) and port setters over TCP, UDP and ICMP', () => {
  const rnd = mulberry32(0x5e77e5);
  for (const name of ['ipv4-tcp', 'vlan-ipv4opt-udp', 'ipv4-icmp-echo']) {
    const p = sample(name);
    const { view, buf, off } = place(p.bytes);
    for (let t = 0; t < 300; t++) {
      const src = Math.floor(rnd() * 2 ** 32);
      const dst = Math.floor(rnd() * 2 ** 32);
      const ttl = Math.floor(rnd() * 256);
      const tos = Math.floor(rnd() * 256);
      assert.equal(view.setIpv4Src(src), true);
      assert.equal(view.ipv4Src, src);
      assertChecksums(view, off, p, `${name} src`);
      assert.equal(view.setIpv4Dst(dst), true);
      assert.equal(view.ipv4Dst, dst);
      assertChecksums(view, off, p, `${name} dst`);
      assert.equal(view.setIpv4Ttl(ttl), true);
      assert.equal(view.ipv4Ttl, ttl);
      assertChecksums(view, off, p, `${name} ttl`);
      assert.equal(view.setIpv4Tos(tos), true);
      assert.equal(view.ipv4Tos, tos);
      assertChecksums(view, off, p, `${name} tos`);
      assert.equal(view.decrementTtl(), ttl > 0);
      assert.equal(view.ipv4Ttl, ttl > 0 ? ttl - 1 : 0);
      assertChecksums(view, off, p, `${name} decrementTtl`);
      const isPorts = view.srcPort >= 0;
      const sp = Math.floor(rnd() * 65536);
      const dp = Math.floor(rnd() * 65536);
      assert.equal(view.setSrcPort(sp), isPorts);
      assert.equal(view.setDstPort(dp), isPorts);
      if (isPorts) {
        assert.equal(view.srcPort, sp);
        assert.equal(view.dstPort, dp);
      }
      assertChecksums(view, off, p, `${name} ports`);
    }
    // Nothing outside the packet was written.
    assert.ok(buf.subarray(0, off).every((x) => x === 0xee));
    assert.ok(buf.subarray(off + p.bytes.length).every((x) => x === 0xee));
  }
});

test('TCP- and UDP-specific port setters only act on their protocol', () => {
  const t = place(sample('ipv4-tcp').bytes);
  assert.equal(t.view.setUdpSrcPort(1), false);
  assert.equal(t.view.setUdpDstPort(1), false);
  assert.equal(t.view.setTcpSrcPort(1234), true);
  assert.equal(t.view.setTcpDstPort(8080), true);
  assert.equal(t.view.tcpSrcPort, 1234);
  assert.equal(t.view.tcpDstPort, 8080);
  assertChecksums(t.view, t.off, sample('ipv4-tcp'), 'tcp ports');
  const u = place(sample('vlan-ipv4opt-udp').bytes);
  assert.equal(u.view.setTcpSrcPort(1), false);
  assert.equal(u.view.setUdpSrcPort(1), true);
  assert.equal(u.view.setUdpDstPort(65535), true);
  assert.equal(u.view.udpDstPort, 65535);
  assertChecksums(u.view, u.off, sample('vlan-ipv4opt-udp'), 'udp ports');
});

test('UDP over IPv4 with checksum 0 keeps 0 through every setter; fixL4Checksum fills it', () => {
  const p = sample('ipv4-udp-nocsum');
  const { view, off } = place(p.bytes);
  view.setIpv4Src(0x01020304);
  view.setIpv4Dst(0x05060708);
  view.setSrcPort(1);
  view.setDstPort(2);
  view.setIpv4Ttl(1);
  assert.equal(view.udpChecksum, 0);
  assert.equal(view.l4ChecksumOk(), true);
  assert.equal(view.ipv4ChecksumOk(), true);
  assert.equal(view.fixL4Checksum(), true);
  assert.notEqual(view.udpChecksum, 0);
  assertChecksums(view, off, p, 'after fix');
});

test('a UDP checksum that becomes 0 is written as 0xffff', () => {
  // Search port values until the incremental result is the "zero" case; verify against recompute.
  const p = sample('vlan-ipv4opt-udp');
  const { view, off } = place(p.bytes);
  let hits = 0;
  for (let port = 0; port < 65536 && hits < 3; port++) {
    view.setUdpSrcPort(port);
    assert.notEqual(view.udpChecksum, 0);
    if (view.udpChecksum === 0xffff) {
      hits++;
      assertChecksums(view, off, p, `port ${port}`);
    }
  }
  assert.ok(hits > 0, 'found a port giving checksum 0xffff');
});

test('IPv6 setters (src, dst, hop limit) and ports over TCP, UDP with extension headers, ICMPv6', () => {
  const rnd = mulberry32(0x6666);
  const a = new Uint32Array(4);
  const got = new Uint32Array(4);
  for (const name of ['qinq-ipv6-tcp', 'ipv6-ext-udp', 'ipv6-icmp6-echo', 'ipv6-ah-tcp']) {
    const p = sample(name);
    const { view, buf, off } = place(p.bytes);
    for (let t = 0; t < 200; t++) {
      for (let i = 0; i < 4; i++) a[i] = t % 5 === 0 && i < 3 ? got[i]! : Math.floor(rnd() * 2 ** 32);
      assert.equal(view.setIpv6Src(a), true);
      view.ipv6Src(got);
      assert.deepEqual([...got], [...a]);
      assertChecksums(view, off, p, `${name} src`);
      for (let i = 0; i < 4; i++) a[i] = Math.floor(rnd() * 2 ** 32);
      assert.equal(view.setIpv6Dst(a), true);
      view.ipv6Dst(got);
      assert.deepEqual([...got], [...a]);
      assertChecksums(view, off, p, `${name} dst`);
      const hl = Math.floor(rnd() * 256);
      assert.equal(view.setIpv6HopLimit(hl), true);
      assert.equal(view.ipv6HopLimit, hl);
      assert.equal(view.decrementTtl(), hl > 0);
      assert.equal(view.ipv6HopLimit, hl > 0 ? hl - 1 : 0);
      if (view.srcPort >= 0) {
        view.setSrcPort(Math.floor(rnd() * 65536));
        view.setDstPort(Math.floor(rnd() * 65536));
        assertChecksums(view, off, p, `${name} ports`);
      }
    }
    assert.ok(buf.subarray(0, off).every((x) => x === 0xee));
    assert.ok(buf.subarray(off + p.bytes.length).every((x) => x === 0xee));
  }
  // A short address array is refused.
  const { view } = place(sample('qinq-ipv6-tcp').bytes);
  assert.equal(view.setIpv6Src(new Uint32Array(3)), false);
});

test('setters on the wrong protocol return false and write nothing', () => {
  for (const s of samplePackets()) {
    const { view, buf } = place(s.p.bytes);
    const before = buf.slice();
    const v4 = view.ipVersion === 4;
    const v6 = view.ipVersion === 6;
    const arp = view.arpOp >= 0;
    if (!v4) {
      assert.equal(view.setIpv4Src(1), false, s.name);
      assert.equal(view.setIpv4Dst(1), false);
      assert.equal(view.setIpv4Ttl(1), false);
      assert.equal(view.setIpv4Tos(1), false);
      assert.equal(view.fixIpv4Checksum(), false);
      assert.equal(view.ipv4ChecksumOk(), false);
    }
    if (!v6) {
      assert.equal(view.setIpv6Src(new Uint32Array(4)), false, s.name);
      assert.equal(view.setIpv6Dst(new Uint32Array(4)), false);
      assert.equal(view.setIpv6HopLimit(1), false);
    }
    if (!v4 && !v6) assert.equal(view.decrementTtl(), false);
    if (!arp) {
      assert.equal(view.setArpOp(2), false);
      assert.equal(view.setArpSenderIp(1), false);
      assert.equal(view.setArpTargetIp(1), false);
      assert.equal(view.setMac(MacField.ARP_TARGET, 1), false);
      assert.equal(view.writeMac(MacField.ARP_SENDER, macOut), false);
      assert.equal(view.copyMac(MacField.ARP_SENDER, macOut), false);
    }
    if (view.tcpSrcPort < 0) assert.equal(view.setTcpSrcPort(1) || view.setTcpDstPort(1), false);
    if (view.udpSrcPort < 0) assert.equal(view.setUdpSrcPort(1) || view.setUdpDstPort(1), false);
    if (view.srcPort < 0) assert.equal(view.setSrcPort(1) || view.setDstPort(1), false);
    assert.equal(view.mac(99 as MacField), -1);
    assert.deepEqual(buf, before, s.name);
  }
});

test('MAC getters and setters: numbers, copyMac / writeMac, ARP fields', () => {
  const p = sample('arp-request');
  const { view } = place(p.bytes);
  const mac = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
  assert.equal(view.writeMac(MacField.ETH_DST, mac), true);
  assert.equal(view.ethDst, 0xdeadbeef0001);
  assert.equal(view.setEthSrc(0xa0b0c0d0e0f0), true);
  const out = new Uint8Array(8);
  assert.equal(view.copyMac(MacField.ETH_SRC, out, 2), true);
  assert.deepEqual([...out], [0, 0, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0]);
  assert.equal(view.setEthDst(0xffffffffffff), true);
  assert.equal(view.mac(MacField.ETH_DST), 0xffffffffffff);

  assert.equal(view.setArpOp(2), true);
  assert.equal(view.arpOp, 2);
  assert.equal(view.setMac(MacField.ARP_TARGET, 0x020000000001), true);
  assert.equal(view.writeMac(MacField.ARP_SENDER, out, 2), true);
  assert.equal(view.arpSenderMac, 0xa0b0c0d0e0f0);
  assert.equal(view.arpTargetMac, 0x020000000001);
  assert.equal(view.setArpSenderIp(ipv4Num('10.0.0.254')), true);
  assert.equal(view.setArpTargetIp(ipv4Num('10.0.0.1')), true);
  assert.equal(view.arpSenderIp, ipv4Num('10.0.0.254'));
  assert.equal(view.arpTargetIp, ipv4Num('10.0.0.1'));
  assert.equal(formatMac(view.arpSenderMac), 'a0:b0:c0:d0:e0:f0');
});

test('fixIpv4Checksum / fixL4Checksum repair corrupted packets of every kind', () => {
  for (const s of samplePackets()) {
    const p = s.p;
    if (p.family === 0) continue;
    const b = p.bytes.slice();
    const { view, off } = place(b);
    const checkable = view.l4ChecksumOk();
    // Corrupt both checksums and the last payload byte.
    if (p.family === 4) view.data.setUint16(off + p.l3Offset + 10, 0xbad0);
    if (checkable) {
      view.bytes[off + b.length - 1] = view.bytes[off + b.length - 1]! ^ 0x5a;
      view.data.setUint16(off + p.l4Offset + (p.proto === 6 ? 16 : p.proto === 17 ? 6 : 2), 0x1234);
      assert.equal(view.l4ChecksumOk(), false, s.name);
    }
    assert.equal(view.fixIpv4Checksum(), p.family === 4, s.name);
    assert.equal(view.fixL4Checksum(), checkable, s.name);
    assertChecksums(view, off, { ...p, l4Offset: checkable ? p.l4Offset : -1 }, s.name);
  }
});
