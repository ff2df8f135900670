/**
 * Tests for PacketView's parse of absent and malformed headers (too short, bad lengths and
 * versions, truncated or endless extension chains), reset() with offsets outside the buffer, and
 * one view moved between packets. Packets come from test/helpers/packet-builder.ts, which does
 * not use src/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketView } from './packet-view.js';
import { EtherType, MacField } from './protocol.js';
import {
  buildPacket,
  ipv4Num,
  refL4Checksum,
  samplePackets,
  storedL4Checksum,
  type BuiltPacket,
  type PacketSpec,
} from '../../test/helpers/packet-builder.js';
import { ETH, expectView, macOut, place, sample, snapKey, snapshot } from './packet-view-test-helpers.js';

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
