/**
 * Tests for PacketView: every getter on hand-built packets of every header type, every setter
 * checked against a from-scratch checksum recompute (test/helpers/packet-builder.ts, which does
 * not use src/), the symmetric flow hash, malformed packets, and a seeded fuzz proving that no
 * getter or setter throws, reads outside the packet or writes outside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EtherType, IpProto, MacField, PacketView, TcpFlags, formatIpv4, formatIpv6, formatMac, parseIpv4,
  parseIpv6, parseMac,
} from './packet-view.js';
import { FlowKey, hashFlowKey } from './flow-key.js';
import { NfcError } from '../errors.js';
import {
  buildPacket, ipv4Num, ipv6Words, macNum, refIpv4HeaderChecksum, refL4Checksum, refSum, samplePackets,
  storedL4Checksum, IPV4_OPTIONS, type BuiltPacket, type L3Spec, type PacketSpec,
} from '../../test/helpers/packet-builder.js';
import { Meta, OFFLOAD_CSUM_PARTIAL, OffloadGso, gsoOffload } from '../shm/pool-layout.js';
import { initPool, PacketPool, PoolCache, poolBytes } from '../shm/pool.js';
import { csumFold, pseudoSumIpv4At, pseudoSumIpv6At } from './checksum.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Copy a packet into a fresh buffer at `offset`, surrounded by 0xEE, and point a view at it. */
function place(bytes: Uint8Array, offset = 37): { view: PacketView; buf: Uint8Array; off: number } {
  const buf = new Uint8Array(offset + bytes.length + 64).fill(0xee);
  buf.set(bytes, offset);
  const view = new PacketView(buf.buffer).reset(offset, bytes.length);
  return { view, buf, off: offset };
}

const s6 = new Uint32Array(4);
const d6 = new Uint32Array(4);
const macOut = new Uint8Array(6);
const snapKey = new FlowKey();

/** Every getter (and the read-only checks) of the view, by name. */
function snapshot(v: PacketView): Record<string, unknown> {
  return {
    ethDst: v.ethDst, ethSrc: v.ethSrc, vlanCount: v.vlanCount,
    vlanId0: v.vlanId(0), vlanId1: v.vlanId(1), vlanId2: v.vlanId(2), vlanPcp0: v.vlanPcp(0), vlanPcp1: v.vlanPcp(1),
    etherType: v.etherType, l3Offset: v.l3Offset,
    ethDstBytes: v.copyMac(MacField.ETH_DST, macOut) ? [...macOut] : null,
    arpOp: v.arpOp, arpSenderMac: v.arpSenderMac, arpTargetMac: v.arpTargetMac,
    arpSenderIp: v.arpSenderIp, arpTargetIp: v.arpTargetIp,
    ipVersion: v.ipVersion, ipProtocol: v.ipProtocol, isFragment: v.isFragment, fragmentOffset: v.fragmentOffset,
    ipv4Ihl: v.ipv4Ihl, ipv4Tos: v.ipv4Tos, ipv4TotalLength: v.ipv4TotalLength, ipv4Id: v.ipv4Id,
    ipv4Flags: v.ipv4Flags, ipv4Ttl: v.ipv4Ttl, ipv4Protocol: v.ipv4Protocol, ipv4Checksum: v.ipv4Checksum,
    ipv4Src: v.ipv4Src, ipv4Dst: v.ipv4Dst, ipv4ChecksumOk: v.ipv4ChecksumOk(),
    ipv6TrafficClass: v.ipv6TrafficClass, ipv6FlowLabel: v.ipv6FlowLabel, ipv6PayloadLength: v.ipv6PayloadLength,
    ipv6NextHeader: v.ipv6NextHeader, ipv6HopLimit: v.ipv6HopLimit,
    ipv6Src: v.ipv6Src(s6) ? [...s6] : null, ipv6Dst: v.ipv6Dst(d6) ? [...d6] : null,
    l4Offset: v.l4Offset, srcPort: v.srcPort, dstPort: v.dstPort,
    payloadOffset: v.payloadOffset, payloadLength: v.payloadLength,
    tcpSrcPort: v.tcpSrcPort, tcpDstPort: v.tcpDstPort, tcpSeq: v.tcpSeq, tcpAck: v.tcpAck,
    tcpDataOffset: v.tcpDataOffset, tcpFlags: v.tcpFlags, tcpWindow: v.tcpWindow, tcpChecksum: v.tcpChecksum,
    udpSrcPort: v.udpSrcPort, udpDstPort: v.udpDstPort, udpLength: v.udpLength, udpChecksum: v.udpChecksum,
    icmpType: v.icmpType, icmpCode: v.icmpCode, icmpEchoId: v.icmpEchoId, icmpEchoSeq: v.icmpEchoSeq,
    icmp6Type: v.icmp6Type, icmp6Code: v.icmp6Code, icmp6EchoId: v.icmp6EchoId, icmp6EchoSeq: v.icmp6EchoSeq,
    l4ChecksumOk: v.l4ChecksumOk(),
    flowKey: v.flowKey(snapKey) ? snapKey.toString() : null,
    flowHash: v.flowHash(),
  };
}

/** What snapshot() gives for a packet with nothing in it. */
const ABSENT: Record<string, unknown> = Object.freeze({
  ethDst: -1, ethSrc: -1, vlanCount: -1, vlanId0: -1, vlanId1: -1, vlanId2: -1, vlanPcp0: -1, vlanPcp1: -1,
  etherType: -1, l3Offset: -1, ethDstBytes: null,
  arpOp: -1, arpSenderMac: -1, arpTargetMac: -1, arpSenderIp: -1, arpTargetIp: -1,
  ipVersion: -1, ipProtocol: -1, isFragment: false, fragmentOffset: -1,
  ipv4Ihl: -1, ipv4Tos: -1, ipv4TotalLength: -1, ipv4Id: -1, ipv4Flags: -1, ipv4Ttl: -1, ipv4Protocol: -1,
  ipv4Checksum: -1, ipv4Src: -1, ipv4Dst: -1, ipv4ChecksumOk: false,
  ipv6TrafficClass: -1, ipv6FlowLabel: -1, ipv6PayloadLength: -1, ipv6NextHeader: -1, ipv6HopLimit: -1,
  ipv6Src: null, ipv6Dst: null,
  l4Offset: -1, srcPort: -1, dstPort: -1, payloadOffset: -1, payloadLength: -1,
  tcpSrcPort: -1, tcpDstPort: -1, tcpSeq: -1, tcpAck: -1, tcpDataOffset: -1, tcpFlags: -1, tcpWindow: -1, tcpChecksum: -1,
  udpSrcPort: -1, udpDstPort: -1, udpLength: -1, udpChecksum: -1,
  icmpType: -1, icmpCode: -1, icmpEchoId: -1, icmpEchoSeq: -1,
  icmp6Type: -1, icmp6Code: -1, icmp6EchoId: -1, icmp6EchoSeq: -1,
  l4ChecksumOk: false, flowKey: null, flowHash: 0,
});

const DST_MAC = macNum('02:00:00:00:00:02');
const SRC_MAC = macNum('02:00:00:00:00:01');
/** Ethernet fields of a plain (untagged) builder packet. */
const ETH = { ethDst: DST_MAC, ethSrc: SRC_MAC, vlanCount: 0, ethDstBytes: [2, 0, 0, 0, 0, 2], l3Offset: 14 };
const V4_SRC = ipv4Num('10.0.0.1');
const V4_DST = ipv4Num('192.168.1.2');
const V6_SRC = [...ipv6Words('2001:db8::1')];
const V6_DST = [...ipv6Words('2001:db8:0:1::2')];

function u16at(b: Uint8Array, o: number): number {
  return b[o]! * 256 + b[o + 1]!;
}

function expectView(v: PacketView, fields: Record<string, unknown>, msg?: string): void {
  for (const k of Object.keys(fields)) assert.ok(k in ABSENT, `unknown field in expectation: ${k}`);
  assert.deepEqual(snapshot(v), { ...ABSENT, ...fields }, msg);
}

function hashOf(k: FlowKey): number {
  return hashFlowKey(k, true);
}

function sample(name: string): BuiltPacket {
  const s = samplePackets().find((x) => x.name === name);
  assert.ok(s, name);
  return s.p;
}

// ---------------------------------------------------------------------------------------------
// Every getter, per header type

test('Ethernet / IPv4 / TCP with options and payload, at an offset inside a larger buffer', () => {
  const p = sample('ipv4-tcp');
  const { view } = place(p.bytes);
  const b = p.bytes;
  expectView(view, {
    ...ETH, etherType: EtherType.IPV4,
    ipVersion: 4, ipProtocol: 6, fragmentOffset: 0,
    ipv4Ihl: 5, ipv4Tos: 0x10, ipv4TotalLength: 20 + 32 + 10, ipv4Id: 0x4321, ipv4Flags: 2, ipv4Ttl: 64,
    ipv4Protocol: 6, ipv4Checksum: u16at(b, 24), ipv4Src: V4_SRC, ipv4Dst: V4_DST, ipv4ChecksumOk: true,
    l4Offset: 34, srcPort: 40000, dstPort: 80, payloadOffset: 66, payloadLength: 10,
    tcpSrcPort: 40000, tcpDstPort: 80, tcpSeq: 0x89abcdef, tcpAck: 0x01020304, tcpDataOffset: 8,
    tcpFlags: TcpFlags.PSH | TcpFlags.ACK, tcpWindow: 29200, tcpChecksum: u16at(b, 34 + 16),
    l4ChecksumOk: true,
    flowKey: 'tcp 10.0.0.1:40000 -> 192.168.1.2:80',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 6, 40000, 80)),
  });
  assert.equal(view.byteOffset, 37);
  assert.equal(view.length, b.length);
  assert.equal(p.payloadOffset, 66);
  // The payload is where the view says.
  assert.equal(String.fromCharCode(...view.bytes.subarray(37 + view.payloadOffset, 37 + view.payloadOffset + 5)), 'HELLO');
  assert.equal(view.tcpChecksum, refL4Checksum(b, p));
  assert.equal(view.ipv4Checksum, refIpv4HeaderChecksum(b, 14));
});

test('VLAN / IPv4 with options (IHL 8) / UDP', () => {
  const p = sample('vlan-ipv4opt-udp');
  const { view } = place(p.bytes, 0);
  const b = p.bytes;
  expectView(view, {
    ...ETH, vlanCount: 1, vlanId0: 100, vlanPcp0: 5, etherType: EtherType.IPV4, l3Offset: 18,
    ipVersion: 4, ipProtocol: 17, fragmentOffset: 0,
    ipv4Ihl: 8, ipv4Tos: 0, ipv4TotalLength: 32 + 8 + 10, ipv4Id: 0x1234, ipv4Flags: 0, ipv4Ttl: 17,
    ipv4Protocol: 17, ipv4Checksum: u16at(b, 28), ipv4Src: V4_SRC, ipv4Dst: V4_DST, ipv4ChecksumOk: true,
    l4Offset: 50, srcPort: 5353, dstPort: 53, payloadOffset: 58, payloadLength: 10,
    udpSrcPort: 5353, udpDstPort: 53, udpLength: 18, udpChecksum: u16at(b, 56),
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
    ...ETH, vlanCount: 2, vlanId0: 10, vlanPcp0: 1, vlanId1: 20, vlanPcp1: 3, etherType: EtherType.IPV6, l3Offset: 22,
    ipVersion: 6, ipProtocol: 6, fragmentOffset: 0,
    ipv6TrafficClass: 0xb8, ipv6FlowLabel: 0xabcde, ipv6PayloadLength: 30, ipv6NextHeader: 6, ipv6HopLimit: 255,
    ipv6Src: V6_SRC, ipv6Dst: V6_DST,
    l4Offset: 62, srcPort: 443, dstPort: 51000, payloadOffset: 82, payloadLength: 10,
    tcpSrcPort: 443, tcpDstPort: 51000, tcpSeq: 1, tcpAck: 2, tcpDataOffset: 5, tcpFlags: TcpFlags.SYN | TcpFlags.ACK,
    tcpWindow: 1024, tcpChecksum: u16at(b, 62 + 16), l4ChecksumOk: true,
    flowKey: 'tcp [2001:db8::1]:443 -> [2001:db8:0:1::2]:51000',
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 6, 443, 51000)),
  });
});

test('IPv6 with hop-by-hop, routing and destination options headers / UDP', () => {
  const p = sample('ipv6-ext-udp');
  const { view } = place(p.bytes);
  expectView(view, {
    ...ETH, etherType: EtherType.IPV6,
    ipVersion: 6, ipProtocol: 17, fragmentOffset: 0,
    ipv6TrafficClass: 0, ipv6FlowLabel: 0, ipv6PayloadLength: 8 + 24 + 16 + 18, ipv6NextHeader: 0, ipv6HopLimit: 64,
    ipv6Src: V6_SRC, ipv6Dst: V6_DST,
    l4Offset: 54 + 48, srcPort: 1000, dstPort: 2000, payloadOffset: 110, payloadLength: 10,
    udpSrcPort: 1000, udpDstPort: 2000, udpLength: 18, udpChecksum: storedL4Checksum(p.bytes, p), l4ChecksumOk: true,
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
    ...ETH, etherType: EtherType.IPV6,
    ipVersion: 6, ipProtocol: 17, isFragment: true, fragmentOffset: 0,
    ipv6TrafficClass: 0, ipv6FlowLabel: 0, ipv6PayloadLength: 8 + 18, ipv6NextHeader: 44, ipv6HopLimit: 64,
    ipv6Src: V6_SRC, ipv6Dst: V6_DST,
    l4Offset: 62, srcPort: 7, dstPort: 8, payloadOffset: 70, payloadLength: 10,
    udpSrcPort: 7, udpDstPort: 8, udpLength: 18, udpChecksum: storedL4Checksum(first.bytes, first),
    l4ChecksumOk: false, // the checksum covers the reassembled datagram
    flowKey: 'udp [2001:db8::1]:0 -> [2001:db8:0:1::2]:0', // all fragments share one key
    flowHash: hashOf(FlowKey.ipv6(V6_SRC, V6_DST, 17, 0, 0)),
  });
  assert.equal(view.fixL4Checksum(), false);

  const later = sample('ipv6-frag-later');
  const l = place(later.bytes).view;
  expectView(l, {
    ...ETH, etherType: EtherType.IPV6,
    ipVersion: 6, ipProtocol: 17, isFragment: true, fragmentOffset: 800,
    ipv6TrafficClass: 0, ipv6FlowLabel: 0, ipv6PayloadLength: 18, ipv6NextHeader: 44, ipv6HopLimit: 64,
    ipv6Src: V6_SRC, ipv6Dst: V6_DST,
    flowKey: 'udp [2001:db8::1]:0 -> [2001:db8:0:1::2]:0',
    flowHash: view.flowHash(),
  });
});

test('IPv4 fragments: first (MF) has TCP; later (offset 185*8) has none', () => {
  const first = sample('ipv4-frag-first-tcp');
  const { view } = place(first.bytes);
  expectView(view, {
    ...ETH, etherType: EtherType.IPV4,
    ipVersion: 4, ipProtocol: 6, isFragment: true, fragmentOffset: 0,
    ipv4Ihl: 5, ipv4Tos: 0, ipv4TotalLength: 50, ipv4Id: 99, ipv4Flags: 1, ipv4Ttl: 64, ipv4Protocol: 6,
    ipv4Checksum: u16at(first.bytes, 24), ipv4Src: V4_SRC, ipv4Dst: V4_DST, ipv4ChecksumOk: true,
    l4Offset: 34, srcPort: 1111, dstPort: 2222, payloadOffset: 54, payloadLength: 10,
    tcpSrcPort: 1111, tcpDstPort: 2222, tcpSeq: 1000, tcpAck: 0, tcpDataOffset: 5, tcpFlags: 0x18, tcpWindow: 65535,
    tcpChecksum: u16at(first.bytes, 50),
    flowKey: 'tcp 10.0.0.1:0 -> 192.168.1.2:0',
    flowHash: hashOf(FlowKey.ipv4(V4_SRC, V4_DST, 6, 0, 0)),
  });
  const later = sample('ipv4-frag-later');
  const l = place(later.bytes).view;
  expectView(l, {
    ...ETH, etherType: EtherType.IPV4,
    ipVersion: 4, ipProtocol: 6, isFragment: true, fragmentOffset: 185 * 8,
    ipv4Ihl: 5, ipv4Tos: 0, ipv4TotalLength: 30, ipv4Id: 99, ipv4Flags: 0, ipv4Ttl: 64, ipv4Protocol: 6,
    ipv4Checksum: u16at(later.bytes, 24), ipv4Src: V4_SRC, ipv4Dst: V4_DST, ipv4ChecksumOk: true,
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
    ethDst: 0xffffffffffff, ethSrc: SRC_MAC, vlanCount: 0, ethDstBytes: [255, 255, 255, 255, 255, 255], l3Offset: 14,
    etherType: EtherType.ARP,
    arpOp: 1, arpSenderMac: SRC_MAC, arpTargetMac: 0, arpSenderIp: V4_SRC, arpTargetIp: ipv4Num('10.0.0.254'),
  });
  assert.equal(view.length, 60);
});

test('ICMP echo request and destination unreachable over IPv4', () => {
  const p = sample('ipv4-icmp-echo');
  const { view } = place(p.bytes);
  expectView(view, {
    ...ETH, etherType: EtherType.IPV4,
    ipVersion: 4, ipProtocol: 1, fragmentOffset: 0,
    ipv4Ihl: 5, ipv4Tos: 0, ipv4TotalLength: 38, ipv4Id: 0x1234, ipv4Flags: 0, ipv4Ttl: 64, ipv4Protocol: 1,
    ipv4Checksum: u16at(p.bytes, 24), ipv4Src: V4_SRC, ipv4Dst: V4_DST, ipv4ChecksumOk: true,
    l4Offset: 34, icmpType: 8, icmpCode: 0, icmpEchoId: 0x1234, icmpEchoSeq: 7, l4ChecksumOk: true,
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
    ...ETH, etherType: EtherType.IPV6,
    ipVersion: 6, ipProtocol: 58, fragmentOffset: 0,
    ipv6TrafficClass: 0, ipv6FlowLabel: 0, ipv6PayloadLength: 18, ipv6NextHeader: 58, ipv6HopLimit: 1,
    ipv6Src: V6_SRC, ipv6Dst: V6_DST,
    l4Offset: 54, icmp6Type: 129, icmp6Code: 0, icmp6EchoId: 0xbeef, icmp6EchoSeq: 3, l4ChecksumOk: true,
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

// ---------------------------------------------------------------------------------------------
// Absent and malformed

function mutated(name: string, edit: (b: Uint8Array, p: BuiltPacket) => void): { view: PacketView; p: BuiltPacket } {
  const p = sample(name);
  const b = p.bytes.slice();
  edit(b, p);
  return { view: place(b).view, p };
}

test('too short for Ethernet: everything absent; exactly 14 bytes: Ethernet only', () => {
  const p = sample('ipv4-tcp');
  for (let n = 0; n < 14; n++) {
    const { view } = place(p.bytes.subarray(0, n));
    expectView(view, {}, `length ${n}`);
    assert.equal(view.setEthDst(1), false);
    assert.equal(view.writeMac(MacField.ETH_SRC, macOut), false);
  }
  expectView(place(p.bytes.subarray(0, 14)).view, { ...ETH, etherType: EtherType.IPV4 });
});

test('IPv4: IHL < 5, total length < header, wrong version, truncated header: IPv4 absent', () => {
  const cases: Array<[string, (b: Uint8Array) => void]> = [
    ['IHL 4', (b) => { b[14] = 0x44; }],
    ['IHL 0', (b) => { b[14] = 0x40; }],
    ['total length 19', (b) => { b[16] = 0; b[17] = 19; }],
    ['version 5', (b) => { b[14] = 0x55; }],
    ['IHL 15 beyond packet', (b) => { b[14] = 0x4f; }],
  ];
  for (const [name, edit] of cases) {
    const { view } = mutated('ipv4-gre', edit);
    expectView(view, { ...ETH, etherType: EtherType.IPV4 }, name);
    assert.equal(view.setIpv4Src(1), false);
    assert.equal(view.setIpv4Ttl(1), false);
    assert.equal(view.fixIpv4Checksum(), false);
    assert.equal(view.flowHash(), 0);
  }
  const p = sample('ipv4-tcp');
  expectView(place(p.bytes.subarray(0, 33)).view, { ...ETH, etherType: EtherType.IPV4 }, 'header cut at 19 bytes');
});

test('TCP: data offset < 5, beyond the datagram, header truncated: TCP absent, IP present', () => {
  for (const [name, edit] of [
    ['doff 4', (b: Uint8Array) => { b[34 + 12] = 0x40; }],
    ['doff 15', (b: Uint8Array) => { b[34 + 12] = 0xf0; }],
    ['IP length cuts the header', (b: Uint8Array) => { b[16] = 0; b[17] = 20 + 19; }],
  ] as const) {
    const { view } = mutated('ipv4-tcp', edit);
    assert.equal(view.ipVersion, 4, name);
    assert.equal(view.ipProtocol, 6, name);
    assert.equal(view.l4Offset, -1, name);
    assert.equal(view.tcpSrcPort, -1, name);
    assert.equal(view.srcPort, -1, name);
    assert.equal(view.tcpDataOffset, -1, name);
    assert.equal(view.payloadLength, -1, name);
    assert.equal(view.setTcpDstPort(1), false, name);
    assert.equal(view.l4ChecksumOk(), false, name);
    assert.equal(view.fixL4Checksum(), false, name);
    assert.equal(view.flowKey(snapKey), true);
    assert.equal(snapKey.srcPort, 0);
  }
  const p = sample('ipv4-tcp');
  const { view } = place(p.bytes.subarray(0, 34 + 19));
  assert.equal(view.tcpSrcPort, -1, 'captured bytes cut the header');
});

test('a capture cut short inside the payload: headers readable, checksum not checkable', () => {
  const p = sample('ipv4-tcp');
  const { view } = place(p.bytes.subarray(0, p.bytes.length - 4));
  assert.equal(view.tcpDstPort, 80);
  assert.equal(view.ipv4TotalLength, 62);
  assert.equal(view.payloadLength, 6, 'only what is in the packet');
  assert.equal(view.ipv4ChecksumOk(), true);
  assert.equal(view.l4ChecksumOk(), false);
  assert.equal(view.fixL4Checksum(), false);
  // Address setters still patch the transport checksum incrementally.
  assert.equal(view.setIpv4Dst(ipv4Num('1.2.3.4')), true);
  const full = p.bytes.slice();
  full.set(view.bytes.subarray(37, 37 + p.bytes.length - 4));
  assert.equal(storedL4Checksum(full, p), refL4Checksum(full, p));
});

test('UDP: header present but length field wrong: ports readable, checksum not checkable', () => {
  const { view } = mutated('vlan-ipv4opt-udp', (b) => { b[50 + 4] = 0; b[50 + 5] = 200; });
  assert.equal(view.udpSrcPort, 5353);
  assert.equal(view.udpLength, 200);
  assert.equal(view.l4ChecksumOk(), false);
  assert.equal(view.fixL4Checksum(), false);
  const { view: v2 } = mutated('vlan-ipv4opt-udp', (b) => { b[50 + 4] = 0; b[50 + 5] = 7; });
  assert.equal(v2.l4ChecksumOk(), false);
});

test('ICMP: fewer than 4 bytes is absent; 4..7 bytes has type but no echo id', () => {
  const short = buildPacket({ l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' }, l4: { kind: 'raw', proto: 1, payload: new Uint8Array([8, 0, 0]) } });
  const v = place(short.bytes).view;
  assert.equal(v.icmpType, -1);
  assert.equal(v.l4Offset, -1);
  const four = buildPacket({ l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' }, l4: { kind: 'raw', proto: 1, payload: new Uint8Array([8, 0, 0xf7, 0xff, 0]) } });
  const w = place(four.bytes).view;
  assert.equal(w.icmpType, 8);
  assert.equal(w.icmpEchoId, -1);
  assert.equal(w.icmpEchoSeq, -1);
});

test('IPv6: wrong version, truncated header, cut or endless extension chain', () => {
  const { view } = mutated('ipv6-ext-udp', (b) => { b[14] = 0x40; });
  expectView(view, { ...ETH, etherType: EtherType.IPV6 }, 'version 4 in an IPv6 frame');
  const p = sample('ipv6-ext-udp');
  expectView(place(p.bytes.subarray(0, 53)).view, { ...ETH, etherType: EtherType.IPV6 }, '39-byte header');

  const cut = place(p.bytes.subarray(0, 54 + 8 + 20)).view; // routing header cut short
  assert.equal(cut.ipVersion, 6);
  assert.equal(cut.ipProtocol, -1);
  assert.equal(cut.l4Offset, -1);
  assert.equal(cut.flowKey(snapKey), true);
  assert.equal(snapKey.proto, 255, 'unknown protocol');
  assert.equal(snapKey.srcPort, 0);

  const ext = (n: number): PacketSpec => ({
    l3: { kind: 'ipv6', src: '::1', dst: '::2', ext: Array.from({ length: n }, (_, i) => ({ type: i % 2 === 0 ? 60 : 0 } as const)) },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  });
  const eight = place(buildPacket(ext(8)).bytes).view;
  assert.equal(eight.ipProtocol, 17, '8 extension headers are walked');
  assert.equal(eight.udpDstPort, 2);
  assert.equal(eight.l4ChecksumOk(), true);
  const nine = place(buildPacket(ext(9)).bytes).view;
  assert.equal(nine.ipProtocol, -1, 'the 9th is not');
  assert.equal(nine.udpDstPort, -1);

  const zeroLen = place(buildPacket({ l3: { kind: 'ipv6', src: '::1', dst: '::2' } }).bytes).view;
  assert.equal(zeroLen.ipProtocol, 59, 'no next header');
  assert.equal(zeroLen.l4Offset, 54);
});

test('ARP that is not Ethernet/IPv4 is absent', () => {
  const { view } = mutated('arp-request', (b) => { b[14 + 5] = 6; });
  expectView(view, { ...ETH, ethDst: 0xffffffffffff, ethDstBytes: [255, 255, 255, 255, 255, 255], etherType: EtherType.ARP });
  assert.equal(view.setArpOp(2), false);
  assert.equal(view.setMac(MacField.ARP_SENDER, 1), false);
  const short = place(sample('arp-request').bytes.subarray(0, 14 + 27)).view;
  assert.equal(short.arpOp, -1);
});

test('VLAN: a tag cut short, and a third tag', () => {
  const p = sample('vlan-ipv4opt-udp');
  const cut = place(p.bytes.subarray(0, 16)).view;
  assert.equal(cut.vlanCount, 0);
  assert.equal(cut.etherType, EtherType.VLAN);
  assert.equal(cut.vlanId(0), -1);
  assert.equal(cut.ipVersion, -1);
  const three = buildPacket({ eth: { vlans: [{ tpid: 0x88a8, id: 1 }, { id: 2 }, { id: 3 }] }, l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' } });
  const v = place(three.bytes).view;
  assert.equal(v.vlanCount, 2);
  assert.equal(v.vlanId(1), 2);
  assert.equal(v.etherType, EtherType.VLAN);
  assert.equal(v.l3Offset, 22);
  assert.equal(v.ipVersion, -1);
  assert.equal(v.vlanId(-1), -1);
  assert.equal(v.vlanId(2), -1);
});

test('reset() with offsets outside the buffer never throws and sees nothing', () => {
  const p = sample('ipv4-tcp');
  const { view, buf } = place(p.bytes);
  for (const [off, len] of [[-1, 10], [buf.length + 1, 10], [0, -5], [Number.NaN, 10], [1.5, 20], [0, Number.POSITIVE_INFINITY]]) {
    view.reset(off!, len!);
    expectView(view, {}, `reset(${off}, ${len})`);
  }
  // A length running past the buffer is clamped to the buffer.
  view.reset(37, 100_000);
  assert.equal(view.tcpDstPort, 80);
  view.reset(buf.length - 10, 100);
  assert.equal(view.ethDst, -1);
});

test('one view over a pool: reset() moves between packets and drops the cached parse', () => {
  const samples = samplePackets();
  const slot = 256;
  const pool = new Uint8Array(slot * samples.length);
  samples.forEach((s, i) => pool.set(s.p.bytes, i * slot));
  const view = new PacketView(pool.buffer);
  for (let round = 0; round < 3; round++) {
    for (let i = samples.length - 1; i >= 0; i--) {
      const s = samples[i]!;
      view.reset(i * slot, s.p.bytes.length);
      assert.deepEqual(snapshot(view), snapshot(place(s.p.bytes).view), s.name);
    }
  }
});

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

// ---------------------------------------------------------------------------------------------
// Flow key and symmetric hash

test('flowHash is symmetric (A→B == B→A) for IPv4/IPv6, TCP/UDP, and equals hashFlowKey(key, true)', () => {
  const combos: Array<[string, string, 'tcp' | 'udp']> = [
    ['10.1.2.3', '172.16.0.9', 'tcp'], ['10.1.2.3', '172.16.0.9', 'udp'],
    ['2001:db8::a', '2001:db8::b', 'tcp'], ['fe80::1:2', 'fe80::1:1', 'udp'],
    ['10.0.0.1', '10.0.0.1', 'tcp'], // same host, ports decide the order
  ];
  const ka = new FlowKey();
  const kb = new FlowKey();
  for (const [x, y, l4] of combos) {
    const l3 = (s: string, d: string): L3Spec => (x.includes(':') ? { kind: 'ipv6', src: s, dst: d } : { kind: 'ipv4', src: s, dst: d });
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

// ---------------------------------------------------------------------------------------------
// Cold helpers

test('format and parse helpers', () => {
  assert.equal(formatMac(0x020000000001), '02:00:00:00:00:01');
  assert.equal(parseMac('02:00:00:00:00:01'), 0x020000000001);
  assert.equal(parseMac('FF-ff-FF-ff-FF-ff'), 0xffffffffffff);
  assert.equal(parseIpv4('192.168.1.2'), V4_DST);
  assert.equal(formatIpv4(parseIpv4('255.0.10.1')), '255.0.10.1');
  assert.deepEqual([...parseIpv6('2001:db8:0:1::2')], V6_DST);
  assert.deepEqual([...parseIpv6('::')], [0, 0, 0, 0]);
  assert.deepEqual([...parseIpv6('::ffff:10.0.0.1')], [0, 0, 0xffff, 0x0a000001]);
  assert.deepEqual([...parseIpv6('1:2:3:4:5:6:7:8')], [0x10002, 0x30004, 0x50006, 0x70008]);
  assert.equal(formatIpv6(parseIpv6('fe80::1')), 'fe80::1');
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '']) {
    assert.throws(() => parseIpv4(bad), (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG', bad);
  }
  for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4::5:6:7:8']) {
    assert.throws(() => parseIpv6(bad), (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG', bad);
  }
  for (const bad of ['02:00:00:00:00', '02:00:00:00:00:0g', '020000000001']) {
    assert.throws(() => parseMac(bad), (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG', bad);
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz: truncated and corrupted packets


const FUZZ_SEED = (Number(process.env['NFC_FUZZ_SEED'] ?? 0x6e66c0de) >>> 0);
const FUZZ_N = Number(process.env['NFC_FUZZ_N'] ?? 100_000);

/** Byte values that steer the parser into its branches more often than uniform noise would. */
const INTERESTING = [0x00, 0x01, 0xff, 0x40, 0x45, 0x4f, 0x44, 0x60, 0x81, 0x88, 0xa8, 0x86, 0xdd, 0x08, 0x06,
  0x11, 0x3a, 0x2c, 0x2b, 0x3c, 0x33, 0x50, 0xf0, 0x20, 0x3b];

/** What must hold for any packet: offsets inside it, lengths non-negative, fields in range. */
function checkInvariants(o: Record<string, unknown>, len: number, where: () => string): void {
  const n = (k: string): number => o[k] as number;
  const bad = (what: string): never => assert.fail(`${what} at ${where()}`);
  if (n('l3Offset') > len) bad('l3Offset beyond the packet');
  if (n('l4Offset') > len) bad('l4Offset beyond the packet');
  if (n('l4Offset') >= 0 && n('l4Offset') < n('l3Offset') + 20) bad('l4Offset inside the L3 header');
  if (n('payloadOffset') >= 0) {
    if (n('payloadLength') < 0) bad('negative payloadLength');
    if (n('payloadOffset') + n('payloadLength') > len) bad('payload beyond the packet');
    if (n('payloadOffset') < n('l4Offset') + 8) bad('payload inside the L4 header');
  } else if (n('payloadLength') !== -1) {
    bad('payloadLength without payloadOffset');
  }
  const td = n('tcpDataOffset');
  if (td !== -1 && (td < 5 || td > 15 || n('l4Offset') + td * 4 > len)) bad('TCP header beyond the packet');
  const ihl = n('ipv4Ihl');
  if (ihl !== -1 && (ihl < 5 || n('ipv4TotalLength') < ihl * 4 || n('l3Offset') + ihl * 4 > len)) bad('bad IPv4 header accepted');
  if ((n('srcPort') === -1) !== (n('tcpSrcPort') === -1 && n('udpSrcPort') === -1)) bad('srcPort disagrees with TCP/UDP');
}

test(`fuzz: ${FUZZ_N} truncated/corrupted packets — no throw, no read or write outside the packet (seed 0x${FUZZ_SEED.toString(16)})`, (t) => {
  const started = Date.now();
  const rnd = mulberry32(FUZZ_SEED);
  const ri = (n: number): number => Math.floor(rnd() * n);
  const templates = samplePackets();
  // A few more seeds with deep structure.
  templates.push({ name: 'ipv6-8ext', p: buildPacket({ l3: { kind: 'ipv6', src: '::1', dst: '::2', ext: Array.from({ length: 8 }, () => ({ type: 60 } as const)) }, l4: { kind: 'tcp', sport: 1, dport: 2 } }) });
  templates.push({ name: 'qinq-ipv4-icmp', p: buildPacket({ eth: { vlans: [{ tpid: 0x88a8, id: 1 }, { id: 2 }] }, l3: { kind: 'ipv4', src: '1.2.3.4', dst: '5.6.7.8', options: [1, 1, 1, 1] }, l4: { kind: 'icmp', type: 0, code: 0, id: 1, seq: 2 } }) });

  const maxTemplate = Math.max(...templates.map((t) => t.p.bytes.length));
  const MAXLEN = maxTemplate + 24;
  const PAD = 48;
  // A and B: the packet at the same offset amid two complementary fills. C: the packet flush
  // against the end of its ArrayBuffer, so any read past the end would throw a RangeError.
  const sizeAB = PAD + MAXLEN + PAD;
  const FILL_A = 0xa5;
  const FILL_B = 0x5a;
  const FILL_C = 0xc3;
  const bufA = new Uint8Array(sizeAB);
  const bufB = new Uint8Array(sizeAB);
  const bufC = new Uint8Array(PAD + MAXLEN);
  const vA = new PacketView(bufA.buffer);
  const vB = new PacketView(bufB.buffer);
  const vC = new PacketView(bufC.buffer);
  const pkt = new Uint8Array(MAXLEN);
  const v6a = new Uint32Array(4);
  const v6b = new Uint32Array(4);
  const macBytes = new Uint8Array(6);
  const fuzzKey = new FlowKey();
  const results = [new Array<boolean>(0), new Array<boolean>(0), new Array<boolean>(0)];
  let withL4Ok = 0;
  let withIpOk = 0;

  const outsideUntouched = (buf: Uint8Array, from: number, to: number, fill: number): boolean => {
    for (let i = 0; i < from; i++) if (buf[i] !== fill) return false;
    for (let i = to; i < buf.length; i++) if (buf[i] !== fill) return false;
    return true;
  };

  for (let iter = 0; iter < FUZZ_N; iter++) {
    const t = templates[ri(templates.length)]!;
    const base = t.p.bytes;
    pkt.set(base);
    for (let i = base.length; i < MAXLEN; i++) pkt[i] = ri(256);
    // Corrupt: a few random bytes, biased to the first 80 (the headers), with interesting values.
    const nCorrupt = ri(5);
    for (let c = 0; c < nCorrupt; c++) {
      const pos = rnd() < 0.7 ? ri(Math.min(80, base.length)) : ri(base.length);
      pkt[pos] = rnd() < 0.5 ? INTERESTING[ri(INTERESTING.length)]! : ri(256);
    }
    const mode = rnd();
    const len = mode < 0.45 ? base.length : mode < 0.9 ? ri(base.length + 1) : base.length + 1 + ri(MAXLEN - base.length);
    const off = ri(PAD + 1);
    const offC = bufC.length - len;
    bufA.fill(FILL_A);
    bufB.fill(FILL_B);
    bufC.fill(FILL_C);
    bufA.set(pkt.subarray(0, len), off);
    bufB.set(pkt.subarray(0, len), off);
    bufC.set(pkt.subarray(0, len), offC);

    const where = (): string => `iteration ${iter} (seed 0x${FUZZ_SEED.toString(16)}): template ${t.name}, length ${len}, ` +
      `packet ${Buffer.from(pkt.subarray(0, len)).toString('hex')}`;

    // 1. Getters: identical whatever surrounds the packet.
    let sA: string;
    let sB: string;
    let sC: string;
    try {
      // The fast flowHash on a fresh view: same answer whatever surrounds the packet, and the
      // same as hashing the key the full parse gives.
      const hA = vA.reset(off, len).flowHash();
      const hB = vB.reset(off, len).flowHash();
      const hC = vC.reset(offC, len).flowHash();
      if (hA !== hB || hA !== hC) assert.fail(`flowHash read outside the packet at ${where()}`);
      const hKey = vA.flowKey(fuzzKey) ? hashFlowKey(fuzzKey, true) : 0;
      if (hA !== hKey) assert.fail(`fast flowHash ${hA} != hashFlowKey(flowKey) ${hKey} at ${where()}`);
      const o = snapshot(vA.reset(off, len));
      checkInvariants(o, len, where);
      sA = JSON.stringify(o);
      sB = JSON.stringify(snapshot(vB.reset(off, len)));
      sC = JSON.stringify(snapshot(vC.reset(offC, len)));
    } catch (e) {
      assert.fail(`getter threw ${String(e)} at ${where()}`);
    }
    if (sA !== sB || sA !== sC) {
      assert.deepEqual(JSON.parse(sB), JSON.parse(sA), `getters read outside the packet at ${where()}`);
      assert.deepEqual(JSON.parse(sC), JSON.parse(sA), `getters read outside the packet at ${where()}`);
    }

    // 2. Setters with the same random values on all three: same return values, same packet
    // bytes afterwards, nothing written outside, checksums that verified still verify.
    const ipOk = vA.ipv4ChecksumOk();
    const l4Ok = vA.l4ChecksumOk();
    if (ipOk) withIpOk++;
    if (l4Ok) withL4Ok++;
    const mac = Math.floor(rnd() * 2 ** 48);
    for (let i = 0; i < 6; i++) macBytes[i] = ri(256);
    const ip1 = ri(2 ** 32);
    const ip2 = ri(2 ** 32);
    const p1 = ri(65536);
    const p2 = ri(65536);
    const small = ri(256);
    for (let i = 0; i < 4; i++) {
      v6a[i] = ri(2 ** 32);
      v6b[i] = ri(2 ** 32);
    }
    const views = [vA, vB, vC];
    try {
      for (let k = 0; k < 3; k++) {
        const v = views[k]!;
        const r = results[k]!;
        r.length = 0;
        r.push(
          v.setEthDst(mac), v.setEthSrc(mac + 1), v.writeMac(MacField.ARP_SENDER, macBytes), v.setMac(MacField.ARP_TARGET, mac),
          v.setArpOp(small), v.setArpSenderIp(ip1), v.setArpTargetIp(ip2),
          v.setIpv4Src(ip1), v.setIpv4Dst(ip2), v.setIpv4Ttl(small), v.setIpv4Tos(small ^ 0x5a), v.decrementTtl(),
          v.setIpv6Src(v6a), v.setIpv6Dst(v6b), v.setIpv6HopLimit(small),
          v.setSrcPort(p1), v.setDstPort(p2), v.setTcpSrcPort(p2), v.setTcpDstPort(p1), v.setUdpSrcPort(p2), v.setUdpDstPort(p1),
        );
        if (k === 0) {
          // Incremental updates keep a verifying checksum verifying.
          if (ipOk && !v.ipv4ChecksumOk()) assert.fail(`IPv4 checksum broken by setters at ${where()}`);
          if (l4Ok && !v.l4ChecksumOk()) assert.fail(`L4 checksum broken by setters at ${where()}`);
        }
        const fixedIp = v.fixIpv4Checksum();
        const fixedL4 = v.fixL4Checksum();
        r.push(fixedIp, fixedL4);
        if (fixedIp && !v.ipv4ChecksumOk()) assert.fail(`fixIpv4Checksum did not fix at ${where()}`);
        if (fixedL4 && !v.l4ChecksumOk()) assert.fail(`fixL4Checksum did not fix at ${where()}`);
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`setter threw ${String(e)} at ${where()}`);
    }
    assert.deepEqual(results[1], results[0], `setter results differ at ${where()}`);
    assert.deepEqual(results[2], results[0], `setter results differ at ${where()}`);
    if (!outsideUntouched(bufA, off, off + len, FILL_A) || !outsideUntouched(bufB, off, off + len, FILL_B) ||
      !outsideUntouched(bufC, offC, offC + len, FILL_C)) {
      assert.fail(`a setter wrote outside the packet at ${where()}`);
    }
    for (let i = 0; i < len; i++) {
      if (bufA[off + i] !== bufB[off + i] || bufA[off + i] !== bufC[offC + i]) {
        assert.fail(`setters wrote differently depending on outside bytes (byte ${i}) at ${where()}`);
      }
    }
    // 3. The parse cached before the setters still describes the packet.
    const cached = JSON.stringify(snapshot(vA));
    const fresh = JSON.stringify(snapshot(vA.reset(off, len)));
    if (cached !== fresh) assert.deepEqual(JSON.parse(cached), JSON.parse(fresh), `setters invalidated the parse at ${where()}`);
  }
  const ms = Date.now() - started;
  // The fuzz must reach the interesting states, not just bounce off malformed headers.
  assert.ok(withIpOk > FUZZ_N / 10, `only ${withIpOk} packets with a valid IPv4 header`);
  assert.ok(withL4Ok > FUZZ_N / 10, `only ${withL4Ok} packets with a valid L4 checksum`);
  // Timings are not tests: the duration is reported, never asserted.
  t.diagnostic(`fuzz of ${FUZZ_N} packets took ${ms} ms`);
});

// ---------------------------------------------------------------------------------------------
// Offloads: partial checksums and GSO super-frames, read from the pool buffer's meta by attach()

/** The pseudo-header sum (folded, not complemented) of a built packet's current bytes, the slow way. */
function refPseudoSum(pkt: Uint8Array, p: BuiltPacket): number {
  const n = p.l4Length;
  const pseudo = p.family === 4
    ? [...pkt.subarray(p.l3Offset + 12, p.l3Offset + 20), 0, p.proto, n >> 8, n & 0xff]
    : [...pkt.subarray(p.l3Offset + 8, p.l3Offset + 40), (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0, 0, 0, p.proto];
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
  const viaSrc = p.family === 4 ? csumFold(pseudoSumIpv4At(dv, p.l3Offset, p.proto, p.l4Length)) : csumFold(pseudoSumIpv6At(dv, p.l3Offset, p.proto, p.l4Length));
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
  const l3: L3Spec = c.family === 4
    ? { kind: 'ipv4', src: v4Text(e.src[0]!), dst: v4Text(e.dst[0]!), id: 0x2222, ttl: 63 }
    : { kind: 'ipv6', src: v6Text(e.src), dst: v6Text(e.dst), flowLabel: 0x12345 };
  return buildPacket({ l3, l4: c.proto === 'tcp'
    ? { kind: 'tcp', sport: e.sport, dport: e.dport, seq: 0x01020304, flags: 0x18, payload: OFFLOAD_PAYLOAD }
    : { kind: 'udp', sport: e.sport, dport: e.dport, payload: OFFLOAD_PAYLOAD } });
}

function randomEndpoints(c: OffloadCase, rnd: () => number): Endpoints {
  const w = (): number => Math.floor(rnd() * 2 ** 32);
  const n = c.family === 4 ? 1 : 4;
  return {
    src: Uint32Array.from({ length: n }, w), dst: Uint32Array.from({ length: n }, w),
    sport: Math.floor(rnd() * 65536), dport: Math.floor(rnd() * 65536),
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
          assert.equal(field(), refPseudoSum(now, p), `round ${round}.${k} ${what}: the field is exactly the pseudo-header sum`);
          if (c.family === 4) assert.equal(view.ipv4ChecksumOk(), true, `round ${round}.${k} ${what}: IPv4 header checksum`);
        });
      }
      assert.equal(view.checksumPartial, true);
      assert.equal(view.fixL4Checksum(), true);
      assert.equal(view.checksumPartial, false);
      assert.equal(view.offload, 0);
      assert.equal(pool.meta(d, Meta.offload) & OFFLOAD_CSUM_PARTIAL, 0, 'the meta lost its partial bit');
      const want = buildCase(c, last);
      assert.equal(field(), storedL4Checksum(want.bytes, want), `round ${round}: completed checksum = a packet built with the final addresses and ports`);
      assert.deepEqual(pool.bytes(d), want.bytes, `round ${round}: the whole packet`);
      assert.equal(view.l4ChecksumOk(), true);
      assert.equal(new PacketView(pool.buffer).reset(at, p.bytes.length).l4ChecksumOk(), true, 'verifies with no offload state');
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
          assert.equal(storedL4Checksum(now, p), refL4Checksum(now, p), `round ${round}.${k} ${what}: incremental = recompute`);
          assert.equal(view.l4ChecksumOk(), true);
        });
      }
      assert.deepEqual(pool.bytes(d), buildCase(c, last!).bytes, `round ${round}: equals the packet built with the final fields`);
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
  assert.equal(view.checksumPartial, true, 'a super-frame\'s checksum is partial');
  assert.equal(view.byteOffset, pool.dataOffset(d));
  assert.equal(view.length, p.bytes.length);
  assert.equal(view.tcpSrcPort, u16at(p.bytes, p.l4Offset));
  // Other types and the largest size: unsigned throughout.
  for (const [type, size] of [[OffloadGso.TCPV6, 65535], [OffloadGso.UDP_L4, 1200], [OffloadGso.UDP, 8], [OffloadGso.TCPV6 | OffloadGso.ECN, 32768]] as const) {
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
  const mk = (dst: string): BuiltPacket => buildPacket({ l3: { kind: 'ipv4', src: '10.1.1.1', dst }, l4: { kind: 'tcp', sport: 5001, dport: 40000, payload } });
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
  for (const name of ['ipv4-icmp-echo', 'ipv6-icmp6-echo', 'ipv4-gre', 'arp-request', 'non-ip', 'ipv4-frag-first-tcp', 'ipv4-frag-later', 'ipv6-frag-first-udp', 'ipv4-udp-nocsum']) {
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
