/**
 * Helpers shared by the PacketView tests (packet-view-*.test.ts): a packet placed inside a larger
 * buffer with a view on it, a snapshot of every getter by name, what that snapshot is for a
 * packet with nothing in it, and the addresses of the builder's sample packets
 * (test/helpers/packet-builder.ts, which does not use src/).
 */
import assert from 'node:assert/strict';
import { PacketView } from './packet-view.js';
import { MacField } from './protocol.js';
import { FlowKey, hashFlowKey } from './flow-key.js';
import { ipv4Num, ipv6Words, macNum, samplePackets, type BuiltPacket } from '../../test/helpers/packet-builder.js';

/** Copy a packet into a fresh buffer at `offset`, surrounded by 0xEE, and point a view at it. */
export function place(bytes: Uint8Array, offset = 37): { view: PacketView; buf: Uint8Array; off: number } {
  const buf = new Uint8Array(offset + bytes.length + 64).fill(0xee);
  buf.set(bytes, offset);
  const view = new PacketView(buf.buffer).reset(offset, bytes.length);
  return { view, buf, off: offset };
}

const s6 = new Uint32Array(4);
const d6 = new Uint32Array(4);
export const macOut = new Uint8Array(6);
export const snapKey = new FlowKey();

/** Every getter (and the read-only checks) of the view, by name. */
export function snapshot(v: PacketView): Record<string, unknown> {
  return {
    ethDst: v.ethDst,
    ethSrc: v.ethSrc,
    vlanCount: v.vlanCount,
    vlanId0: v.vlanId(0),
    vlanId1: v.vlanId(1),
    vlanId2: v.vlanId(2),
    vlanPcp0: v.vlanPcp(0),
    vlanPcp1: v.vlanPcp(1),
    etherType: v.etherType,
    l3Offset: v.l3Offset,
    ethDstBytes: v.copyMac(MacField.ETH_DST, macOut) ? [...macOut] : null,
    arpOp: v.arpOp,
    arpSenderMac: v.arpSenderMac,
    arpTargetMac: v.arpTargetMac,
    arpSenderIp: v.arpSenderIp,
    arpTargetIp: v.arpTargetIp,
    ipVersion: v.ipVersion,
    ipProtocol: v.ipProtocol,
    isFragment: v.isFragment,
    fragmentOffset: v.fragmentOffset,
    ipv4Ihl: v.ipv4Ihl,
    ipv4Tos: v.ipv4Tos,
    ipv4TotalLength: v.ipv4TotalLength,
    ipv4Id: v.ipv4Id,
    ipv4Flags: v.ipv4Flags,
    ipv4Ttl: v.ipv4Ttl,
    ipv4Protocol: v.ipv4Protocol,
    ipv4Checksum: v.ipv4Checksum,
    ipv4Src: v.ipv4Src,
    ipv4Dst: v.ipv4Dst,
    ipv4ChecksumOk: v.ipv4ChecksumOk(),
    ipv6TrafficClass: v.ipv6TrafficClass,
    ipv6FlowLabel: v.ipv6FlowLabel,
    ipv6PayloadLength: v.ipv6PayloadLength,
    ipv6NextHeader: v.ipv6NextHeader,
    ipv6HopLimit: v.ipv6HopLimit,
    ipv6Src: v.ipv6Src(s6) ? [...s6] : null,
    ipv6Dst: v.ipv6Dst(d6) ? [...d6] : null,
    l4Offset: v.l4Offset,
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    payloadOffset: v.payloadOffset,
    payloadLength: v.payloadLength,
    tcpSrcPort: v.tcpSrcPort,
    tcpDstPort: v.tcpDstPort,
    tcpSeq: v.tcpSeq,
    tcpAck: v.tcpAck,
    tcpDataOffset: v.tcpDataOffset,
    tcpFlags: v.tcpFlags,
    tcpWindow: v.tcpWindow,
    tcpChecksum: v.tcpChecksum,
    udpSrcPort: v.udpSrcPort,
    udpDstPort: v.udpDstPort,
    udpLength: v.udpLength,
    udpChecksum: v.udpChecksum,
    icmpType: v.icmpType,
    icmpCode: v.icmpCode,
    icmpEchoId: v.icmpEchoId,
    icmpEchoSeq: v.icmpEchoSeq,
    icmp6Type: v.icmp6Type,
    icmp6Code: v.icmp6Code,
    icmp6EchoId: v.icmp6EchoId,
    icmp6EchoSeq: v.icmp6EchoSeq,
    l4ChecksumOk: v.l4ChecksumOk(),
    flowKey: v.flowKey(snapKey) ? snapKey.toString() : null,
    flowHash: v.flowHash(),
  };
}

/** What snapshot() gives for a packet with nothing in it. */
const ABSENT: Record<string, unknown> = Object.freeze({
  ethDst: -1,
  ethSrc: -1,
  vlanCount: -1,
  vlanId0: -1,
  vlanId1: -1,
  vlanId2: -1,
  vlanPcp0: -1,
  vlanPcp1: -1,
  etherType: -1,
  l3Offset: -1,
  ethDstBytes: null,
  arpOp: -1,
  arpSenderMac: -1,
  arpTargetMac: -1,
  arpSenderIp: -1,
  arpTargetIp: -1,
  ipVersion: -1,
  ipProtocol: -1,
  isFragment: false,
  fragmentOffset: -1,
  ipv4Ihl: -1,
  ipv4Tos: -1,
  ipv4TotalLength: -1,
  ipv4Id: -1,
  ipv4Flags: -1,
  ipv4Ttl: -1,
  ipv4Protocol: -1,
  ipv4Checksum: -1,
  ipv4Src: -1,
  ipv4Dst: -1,
  ipv4ChecksumOk: false,
  ipv6TrafficClass: -1,
  ipv6FlowLabel: -1,
  ipv6PayloadLength: -1,
  ipv6NextHeader: -1,
  ipv6HopLimit: -1,
  ipv6Src: null,
  ipv6Dst: null,
  l4Offset: -1,
  srcPort: -1,
  dstPort: -1,
  payloadOffset: -1,
  payloadLength: -1,
  tcpSrcPort: -1,
  tcpDstPort: -1,
  tcpSeq: -1,
  tcpAck: -1,
  tcpDataOffset: -1,
  tcpFlags: -1,
  tcpWindow: -1,
  tcpChecksum: -1,
  udpSrcPort: -1,
  udpDstPort: -1,
  udpLength: -1,
  udpChecksum: -1,
  icmpType: -1,
  icmpCode: -1,
  icmpEchoId: -1,
  icmpEchoSeq: -1,
  icmp6Type: -1,
  icmp6Code: -1,
  icmp6EchoId: -1,
  icmp6EchoSeq: -1,
  l4ChecksumOk: false,
  flowKey: null,
  flowHash: 0,
});

export const DST_MAC = macNum('02:00:00:00:00:02');
export const SRC_MAC = macNum('02:00:00:00:00:01');
/** Ethernet fields of a plain (untagged) builder packet. */
export const ETH = { ethDst: DST_MAC, ethSrc: SRC_MAC, vlanCount: 0, ethDstBytes: [2, 0, 0, 0, 0, 2], l3Offset: 14 };
export const V4_SRC = ipv4Num('10.0.0.1');
export const V4_DST = ipv4Num('192.168.1.2');
export const V6_SRC = [...ipv6Words('2001:db8::1')];
export const V6_DST = [...ipv6Words('2001:db8:0:1::2')];

export function u16at(b: Uint8Array, o: number): number {
  return b[o]! * 256 + b[o + 1]!;
}

export function expectView(v: PacketView, fields: Record<string, unknown>, msg?: string): void {
  for (const k of Object.keys(fields)) assert.ok(k in ABSENT, `unknown field in expectation: ${k}`);
  assert.deepEqual(snapshot(v), { ...ABSENT, ...fields }, msg);
}

export function hashOf(k: FlowKey): number {
  return hashFlowKey(k, true);
}

export function sample(name: string): BuiltPacket {
  const s = samplePackets().find((x) => x.name === name);
  assert.ok(s, name);
  return s.p;
}
