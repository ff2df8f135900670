/**
 * Tests for PacketView's parse and getters: every getter on hand-built packets of every header
 * type (test/helpers/packet-builder.ts, which does not use src/), then absent and malformed
 * headers, offsets outside the buffer, and one view moved between packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketView } from './packet-view.js';
import { EtherType, IpProto, MacField, TcpFlags } from './protocol.js';
import { FlowKey } from './flow-key.js';
import {
  buildPacket,
  ipv4Num,
  refIpv4HeaderChecksum,
  refL4Checksum,
  samplePackets,
  storedL4Checksum,
  IPV4_OPTIONS,
  type BuiltPacket,
  type PacketSpec,
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
  macOut,
  place,
  sample,
  snapKey,
  snapshot,
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
    [
      'IHL 4',
      (b) => {
        b[14] = 0x44;
      },
    ],
    [
      'IHL 0',
      (b) => {
        b[14] = 0x40;
      },
    ],
    [
      'total length 19',
      (b) => {
        b[16] = 0;
        b[17] = 19;
      },
    ],
    [
      'version 5',
      (b) => {
        b[14] = 0x55;
      },
    ],
    [
      'IHL 15 beyond packet',
      (b) => {
        b[14] = 0x4f;
      },
    ],
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
    [
      'doff 4',
      (b: Uint8Array) => {
        b[34 + 12] = 0x40;
      },
    ],
    [
      'doff 15',
      (b: Uint8Array) => {
        b[34 + 12] = 0xf0;
      },
    ],
    [
      'IP length cuts the header',
      (b: Uint8Array) => {
        b[16] = 0;
        b[17] = 20 + 19;
      },
    ],
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
  const { view } = mutated('vlan-ipv4opt-udp', (b) => {
    b[50 + 4] = 0;
    b[50 + 5] = 200;
  });
  assert.equal(view.udpSrcPort, 5353);
  assert.equal(view.udpLength, 200);
  assert.equal(view.l4ChecksumOk(), false);
  assert.equal(view.fixL4Checksum(), false);
  const { view: v2 } = mutated('vlan-ipv4opt-udp', (b) => {
    b[50 + 4] = 0;
    b[50 + 5] = 7;
  });
  assert.equal(v2.l4ChecksumOk(), false);
});

test('ICMP: fewer than 4 bytes is absent; 4..7 bytes has type but no echo id', () => {
  const short = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'raw', proto: 1, payload: new Uint8Array([8, 0, 0]) },
  });
  const v = place(short.bytes).view;
  assert.equal(v.icmpType, -1);
  assert.equal(v.l4Offset, -1);
  const four = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'raw', proto: 1, payload: new Uint8Array([8, 0, 0xf7, 0xff, 0]) },
  });
  const w = place(four.bytes).view;
  assert.equal(w.icmpType, 8);
  assert.equal(w.icmpEchoId, -1);
  assert.equal(w.icmpEchoSeq, -1);
});

test('IPv6: wrong version, truncated header, cut or endless extension chain', () => {
  const { view } = mutated('ipv6-ext-udp', (b) => {
    b[14] = 0x40;
  });
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
    l3: {
      kind: 'ipv6',
      src: '::1',
      dst: '::2',
      ext: Array.from({ length: n }, (_, i) => ({ type: i % 2 === 0 ? 60 : 0 }) as const),
    },
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
  const { view } = mutated('arp-request', (b) => {
    b[14 + 5] = 6;
  });
  expectView(view, {
    ...ETH,
    ethDst: 0xffffffffffff,
    ethDstBytes: [255, 255, 255, 255, 255, 255],
    etherType: EtherType.ARP,
  });
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
  const three = buildPacket({
    eth: { vlans: [{ tpid: 0x88a8, id: 1 }, { id: 2 }, { id: 3 }] },
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
  });
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
  for (const [off, len] of [
    [-1, 10],
    [buf.length + 1, 10],
    [0, -5],
    [Number.NaN, 10],
    [1.5, 20],
    [0, Number.POSITIVE_INFINITY],
  ]) {
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
  samples.forEach((s, i) => {
    pool.set(s.p.bytes, i * slot);
  });
  const view = new PacketView(pool.buffer);
  for (let round = 0; round < 3; round++) {
    for (let i = samples.length - 1; i >= 0; i--) {
      const s = samples[i]!;
      view.reset(i * slot, s.p.bytes.length);
      assert.deepEqual(snapshot(view), snapshot(place(s.p.bytes).view), s.name);
    }
  }
});
