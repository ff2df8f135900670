/**
 * Tests for PacketView's parse and getters: every getter on hand-built packets of every header
 * type (test/helpers/packet-builder.ts, which does not use src/), Ethernet to L4, at offsets
 * inside a larger buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtherType, IpProto, TcpFlags } from './protocol.js';
import { FlowKey } from './flow-key.js';
import {
  ipv4Num,
  refIpv4HeaderChecksum,
  refL4Checksum,
  storedL4Checksum,
  IPV4_OPTIONS,
} from '../../test/helpers/packet-builder.js';
import {
  ETH,
  SRC_MAC,
  V4_DST,
  V4_SRC,
  V6_DST,
  V6_SRC,
  expectView,
  hashOf,
  place,
  sample,
  snapKey,
  u16at,
} from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Every getter, per header type

test('Ethernet / IPv4 / TCP with options and payload, at an offset inside a larger buffer', () => {
  const p = sample('ipv4-tcp');
  const { view } = place(p.bytes);
  const b = p.bytes;
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV4,
    ipVersion: 4,
    ipProtocol: 6,
    fragmentOffset: 0,
    ipv4Ihl: 5,
    ipv4Tos: 0x10,
    ipv4TotalLength: 20 + 32 + 10,
    ipv4Id: 0x4321,
    ipv4Flags: 2,
    ipv4Ttl: 64,
    ipv4Protocol: 6,
    ipv4Checksum: u16at(b, 24),
    ipv4Src: V4_SRC,
    ipv4Dst: V4_DST,
    ipv4ChecksumOk: true,
    l4Offset: 34,
    srcPort: 40000,
    dstPort: 80,
    payloadOffset: 66,
    payloadLength: 10,
    tcpSrcPort: 40000,
    tcpDstPort: 80,
    tcpSeq: 0x89abcdef,
    tcpAck: 0x01020304,
    tcpDataOffset: 8,
    tcpFlags: TcpFlags.PSH | TcpFlags.ACK,
    tcpWindow: 29200,
    tcpChecksum: u16at(b, 34 + 16),
    l4ChecksumOk: true,
    flowKey: 'tcp 10.0.0.1:40000 -> 192.168.1.2:80',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 6, 40000, 80)),
  });
  assert.equal(view.byteOffset, 37);
  assert.equal(view.length, b.length);
  assert.equal(p.payloadOffset, 66);
  // The payload is where the view says.
  assert.equal(
    String.fromCharCode(...view.bytes.subarray(37 + view.payloadOffset, 37 + view.payloadOffset + 5)),
    'HELLO',
  );
  assert.equal(view.tcpChecksum, refL4Checksum(b, p));
  assert.equal(view.ipv4Checksum, refIpv4HeaderChecksum(b, 14));
});

test('VLAN / IPv4 with options (IHL 8) / UDP', () => {
  const p = sample('vlan-ipv4opt-udp');
  const { view } = place(p.bytes, 0);
  const b = p.bytes;
  expectView(view, {
    ...ETH,
    vlanCount: 1,
    vlanId0: 100,
    vlanPcp0: 5,
    etherType: EtherType.IPV4,
    l3Offset: 18,
    ipVersion: 4,
    ipProtocol: 17,
    fragmentOffset: 0,
    ipv4Ihl: 8,
    ipv4Tos: 0,
    ipv4TotalLength: 32 + 8 + 10,
    ipv4Id: 0x1234,
    ipv4Flags: 0,
    ipv4Ttl: 17,
    ipv4Protocol: 17,
    ipv4Checksum: u16at(b, 28),
    ipv4Src: V4_SRC,
    ipv4Dst: V4_DST,
    ipv4ChecksumOk: true,
    l4Offset: 50,
    srcPort: 5353,
    dstPort: 53,
    payloadOffset: 58,
    payloadLength: 10,
    udpSrcPort: 5353,
    udpDstPort: 53,
    udpLength: 18,
    udpChecksum: u16at(b, 56),
    l4ChecksumOk: true,
    flowKey: 'udp 10.0.0.1:5353 -> 192.168.1.2:53',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 17, 5353, 53)),
  });
  assert.equal(IPV4_OPTIONS.length, 9);
});

test('QinQ (0x88a8 + 0x8100) / IPv6 / TCP', () => {
  const p = sample('qinq-ipv6-tcp');
  const { view } = place(p.bytes, 3);
  const b = p.bytes;
  expectView(view, {
    ...ETH,
    vlanCount: 2,
    vlanId0: 10,
    vlanPcp0: 1,
    vlanId1: 20,
    vlanPcp1: 3,
    etherType: EtherType.IPV6,
    l3Offset: 22,
    ipVersion: 6,
    ipProtocol: 6,
    fragmentOffset: 0,
    ipv6TrafficClass: 0xb8,
    ipv6FlowLabel: 0xabcde,
    ipv6PayloadLength: 30,
    ipv6NextHeader: 6,
    ipv6HopLimit: 255,
    ipv6Src: V6_SRC,
    ipv6Dst: V6_DST,
    l4Offset: 62,
    srcPort: 443,
    dstPort: 51000,
    payloadOffset: 82,
    payloadLength: 10,
    tcpSrcPort: 443,
    tcpDstPort: 51000,
    tcpSeq: 1,
    tcpAck: 2,
    tcpDataOffset: 5,
    tcpFlags: TcpFlags.SYN | TcpFlags.ACK,
    tcpWindow: 1024,
    tcpChecksum: u16at(b, 62 + 16),
    l4ChecksumOk: true,
    flowKey: 'tcp [2001:db8::1]:443 -> [2001:db8:0:1::2]:51000',
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 6, 443, 51000)),
  });
});

test('IPv6 with hop-by-hop, routing and destination options headers / UDP', () => {
  const p = sample('ipv6-ext-udp');
  const { view } = place(p.bytes);
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV6,
    ipVersion: 6,
    ipProtocol: 17,
    fragmentOffset: 0,
    ipv6TrafficClass: 0,
    ipv6FlowLabel: 0,
    ipv6PayloadLength: 8 + 24 + 16 + 18,
    ipv6NextHeader: 0,
    ipv6HopLimit: 64,
    ipv6Src: V6_SRC,
    ipv6Dst: V6_DST,
    l4Offset: 54 + 48,
    srcPort: 1000,
    dstPort: 2000,
    payloadOffset: 110,
    payloadLength: 10,
    udpSrcPort: 1000,
    udpDstPort: 2000,
    udpLength: 18,
    udpChecksum: storedL4Checksum(p.bytes, p),
    l4ChecksumOk: true,
    flowKey: 'udp [2001:db8::1]:1000 -> [2001:db8:0:1::2]:2000',
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 17, 1000, 2000)),
  });
  assert.equal(view.udpChecksum, refL4Checksum(p.bytes, p));
});

test('IPv6 with an Authentication Header is walked too', () => {
  const p = sample('ipv6-ah-tcp');
  const { view } = place(p.bytes);
  assert.equal(view.ipv6NextHeader, IpProto.AH);
  assert.equal(view.ipProtocol, 6);
  assert.equal(view.l4Offset, 54 + 12);
  assert.equal(view.tcpDstPort, 60000);
  assert.equal(view.l4ChecksumOk(), true);
});

test('IPv6 fragments: first has ports but no checkable checksum; later has no L4', () => {
  const first = sample('ipv6-frag-first-udp');
  const { view } = place(first.bytes);
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV6,
    ipVersion: 6,
    ipProtocol: 17,
    isFragment: true,
    fragmentOffset: 0,
    ipv6TrafficClass: 0,
    ipv6FlowLabel: 0,
    ipv6PayloadLength: 8 + 18,
    ipv6NextHeader: 44,
    ipv6HopLimit: 64,
    ipv6Src: V6_SRC,
    ipv6Dst: V6_DST,
    l4Offset: 62,
    srcPort: 7,
    dstPort: 8,
    payloadOffset: 70,
    payloadLength: 10,
    udpSrcPort: 7,
    udpDstPort: 8,
    udpLength: 18,
    udpChecksum: storedL4Checksum(first.bytes, first),
    l4ChecksumOk: false, // the checksum covers the reassembled datagram
    flowKey: 'udp [2001:db8::1]:0 -> [2001:db8:0:1::2]:0', // all fragments share one key
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 17, 0, 0)),
  });
  assert.equal(view.fixL4Checksum(), false);

  const later = sample('ipv6-frag-later');
  const l = place(later.bytes).view;
  expectView(l, {
    ...ETH,
    etherType: EtherType.IPV6,
    ipVersion: 6,
    ipProtocol: 17,
    isFragment: true,
    fragmentOffset: 800,
    ipv6TrafficClass: 0,
    ipv6FlowLabel: 0,
    ipv6PayloadLength: 18,
    ipv6NextHeader: 44,
    ipv6HopLimit: 64,
    ipv6Src: V6_SRC,
    ipv6Dst: V6_DST,
    flowKey: 'udp [2001:db8::1]:0 -> [2001:db8:0:1::2]:0',
    flowHash: view.flowHash(),
  });
});

test('IPv4 fragments: first (MF) has TCP; later (offset 185*8) has none', () => {
  const first = sample('ipv4-frag-first-tcp');
  const { view } = place(first.bytes);
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV4,
    ipVersion: 4,
    ipProtocol: 6,
    isFragment: true,
    fragmentOffset: 0,
    ipv4Ihl: 5,
    ipv4Tos: 0,
    ipv4TotalLength: 50,
    ipv4Id: 99,
    ipv4Flags: 1,
    ipv4Ttl: 64,
    ipv4Protocol: 6,
    ipv4Checksum: u16at(first.bytes, 24),
    ipv4Src: V4_SRC,
    ipv4Dst: V4_DST,
    ipv4ChecksumOk: true,
    l4Offset: 34,
    srcPort: 1111,
    dstPort: 2222,
    payloadOffset: 54,
    payloadLength: 10,
    tcpSrcPort: 1111,
    tcpDstPort: 2222,
    tcpSeq: 1000,
    tcpAck: 0,
    tcpDataOffset: 5,
    tcpFlags: 0x18,
    tcpWindow: 65535,
    tcpChecksum: u16at(first.bytes, 50),
    flowKey: 'tcp 10.0.0.1:0 -> 192.168.1.2:0',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 6, 0, 0)),
  });
  const later = sample('ipv4-frag-later');
  const l = place(later.bytes).view;
  expectView(l, {
    ...ETH,
    etherType: EtherType.IPV4,
    ipVersion: 4,
    ipProtocol: 6,
    isFragment: true,
    fragmentOffset: 185 * 8,
    ipv4Ihl: 5,
    ipv4Tos: 0,
    ipv4TotalLength: 30,
    ipv4Id: 99,
    ipv4Flags: 0,
    ipv4Ttl: 64,
    ipv4Protocol: 6,
    ipv4Checksum: u16at(later.bytes, 24),
    ipv4Src: V4_SRC,
    ipv4Dst: V4_DST,
    ipv4ChecksumOk: true,
    flowKey: 'tcp 10.0.0.1:0 -> 192.168.1.2:0',
    flowHash: view.flowHash(),
  });
  // Port setters cannot reach a later fragment's (absent) header.
  assert.equal(l.setSrcPort(1), false);
});

test('ARP request (padded to 60 bytes)', () => {
  const p = sample('arp-request');
  const { view } = place(p.bytes);
  expectView(view, {
    ethDst: 0xffffffffffff,
    ethSrc: SRC_MAC,
    vlanCount: 0,
    ethDstBytes: [255, 255, 255, 255, 255, 255],
    l3Offset: 14,
    etherType: EtherType.ARP,
    arpOp: 1,
    arpSenderMac: SRC_MAC,
    arpTargetMac: 0,
    arpSenderIp: V4_SRC,
    arpTargetIp: ipv4Num('10.0.0.254'),
  });
  assert.equal(view.length, 60);
});

test('ICMP echo request and destination unreachable over IPv4', () => {
  const p = sample('ipv4-icmp-echo');
  const { view } = place(p.bytes);
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV4,
    ipVersion: 4,
    ipProtocol: 1,
    fragmentOffset: 0,
    ipv4Ihl: 5,
    ipv4Tos: 0,
    ipv4TotalLength: 38,
    ipv4Id: 0x1234,
    ipv4Flags: 0,
    ipv4Ttl: 64,
    ipv4Protocol: 1,
    ipv4Checksum: u16at(p.bytes, 24),
    ipv4Src: V4_SRC,
    ipv4Dst: V4_DST,
    ipv4ChecksumOk: true,
    l4Offset: 34,
    icmpType: 8,
    icmpCode: 0,
    icmpEchoId: 0x1234,
    icmpEchoSeq: 7,
    l4ChecksumOk: true,
    flowKey: 'icmp 10.0.0.1 -> 192.168.1.2',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 1, 0, 0)),
  });
  const u = place(sample('ipv4-icmp-unreach').bytes).view;
  assert.equal(u.icmpType, 3);
  assert.equal(u.icmpCode, 1);
  assert.equal(u.icmpEchoId, -1, 'not an echo');
  assert.equal(u.icmpEchoSeq, -1);
  assert.equal(u.l4ChecksumOk(), true);
});

test('ICMPv6 echo reply', () => {
  const p = sample('ipv6-icmp6-echo');
  const { view } = place(p.bytes);
  expectView(view, {
    ...ETH,
    etherType: EtherType.IPV6,
    ipVersion: 6,
    ipProtocol: 58,
    fragmentOffset: 0,
    ipv6TrafficClass: 0,
    ipv6FlowLabel: 0,
    ipv6PayloadLength: 18,
    ipv6NextHeader: 58,
    ipv6HopLimit: 1,
    ipv6Src: V6_SRC,
    ipv6Dst: V6_DST,
    l4Offset: 54,
    icmp6Type: 129,
    icmp6Code: 0,
    icmp6EchoId: 0xbeef,
    icmp6EchoSeq: 3,
    l4ChecksumOk: true,
    flowKey: 'icmpv6 [2001:db8::1] -> [2001:db8:0:1::2]',
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 58, 0, 0)),
  });
});

test('UDP over IPv4 without checksum (0) passes verification', () => {
  const { view } = place(sample('ipv4-udp-nocsum').bytes);
  assert.equal(view.udpChecksum, 0);
  assert.equal(view.l4ChecksumOk(), true);
});

test('Ethernet padding after a short datagram is not payload', () => {
  const p = sample('ipv4-udp-padded');
  const { view } = place(p.bytes);
  assert.equal(view.length, 60);
  assert.equal(view.ipv4TotalLength, 28);
  assert.equal(view.payloadLength, 0);
  assert.equal(view.udpLength, 8);
  assert.equal(view.l4ChecksumOk(), true);
  assert.equal(view.fixL4Checksum(), true);
  assert.equal(view.udpChecksum, refL4Checksum(p.bytes, p));
});

test('another IP protocol (GRE): l4Offset only', () => {
  const { view } = place(sample('ipv4-gre').bytes);
  assert.equal(view.ipProtocol, 47);
  assert.equal(view.l4Offset, 34);
  assert.equal(view.srcPort, -1);
  assert.equal(view.payloadOffset, -1);
  assert.equal(view.l4ChecksumOk(), false);
  assert.equal(view.fixL4Checksum(), false);
  assert.equal(view.flowKey(snapKey), true);
  assert.equal(snapKey.toString(), 'proto47 10.0.0.1 -> 192.168.1.2');
});

test('non-IP EtherType: only Ethernet fields', () => {
  const { view } = place(sample('non-ip').bytes);
  expectView(view, { ...ETH, etherType: 0x88b5 });
  assert.equal(view.flowKey(snapKey), false);
});
