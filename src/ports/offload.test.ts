/**
 * Tests for the software offloads (offload.ts): GSO super-frames (TCPv4, TCPv6, UDP_L4 over
 * both, VLAN tags, IP options, IPv6 extension headers) become segments whose headers, payload and
 * checksums are checked against the test builder's independent reference code and PacketView;
 * partial checksums are completed; clean packets pass untouched; unsupported, malformed,
 * oversize super-frames and an exhausted pool are dropped and counted; a sink that sends only
 * part of a chunk is accounted per packet; linearize copies jumbos; and a pcap TX port writes a
 * super-frame as its segments (read back, and checked by tshark when it is installed). Every test
 * checks that every buffer and jumbo is back in the pool afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapReader, type PcapPacket } from '../pcap/pcap-reader.js';
import { PacketView } from '../packet/packet-view.js';
import { TcpFlags } from '../packet/protocol.js';
import { gsoOffload, Meta, OFFLOAD_CSUM_PARTIAL, OffloadGso } from '../shm/pool-layout.js';
import { initPool, PacketPool, PoolCache, poolBytes } from '../shm/pool.js';
import { MAX_SEGMENTS, SoftwareOffload, type OffloadSink, type SoftwareOffloadOptions } from './offload.js';
import { openPcapTx } from './pcap.js';
import type { PortContext } from './port.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  refSum,
  storedL4Checksum,
  type BuiltPacket,
  type EthSpec,
  type Ipv4Spec,
  type Ipv6Spec,
  type TcpSpec,
  type UdpSpec,
} from '../../test/helpers/packet-builder.js';

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-offload-'));
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  pool: PacketPool;
  cache: PoolCache;
  view: PacketView;
  ctx: PortContext;
}

function rig(count = 1024, jumbos = 8, cacheCapacity?: number): Rig {
  const opts = { count, jumbos };
  const mem = new ArrayBuffer(poolBytes(opts));
  initPool(mem, 0, opts);
  const pool = new PacketPool(mem, 0);
  const cache = new PoolCache(pool, cacheCapacity === undefined ? {} : { capacity: cacheCapacity });
  return { pool, cache, view: new PacketView(mem), ctx: { pool, cache, portId: 3, portName: 'cap' } };
}

/** Every buffer and jumbo back on its free ring. */
function assertNoLeak(r: Rig): void {
  r.cache.flush();
  assert.equal(r.pool.ringFreeCount(), r.pool.count, 'every buffer is back in the pool');
  assert.equal(r.pool.jumboFreeCount(), r.pool.jumbos, 'every jumbo is back in the pool');
}

// ---------------------------------------------------------------------------------------------
// Super-frames, built as Linux hands them over: full IP lengths, the TCP/UDP checksum field
// holding the pseudo-header sum over the whole L4 length, folded and NOT complemented.

interface Frame {
  bytes: Uint8Array;
  /** headers of the super-frame as the builder laid them out */
  hdr: BuiltPacket;
  hdrLen: number;
  payload: Uint8Array;
}

function pattern(n: number, salt = 0): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 131 + (i >>> 8) * 7 + salt) & 0xff;
  return p;
}

/** The Linux partial-checksum value for an L4 segment of `l4Len` bytes: fold(pseudo header). */
function pseudoPartial(bytes: Uint8Array, b: BuiltPacket, l4Len: number): number {
  if (b.family === 4) {
    return refSum([...bytes.subarray(b.l3Offset + 12, b.l3Offset + 20), 0, b.proto, (l4Len >> 8) & 0xff, l4Len & 0xff]);
  }
  return refSum([
    ...bytes.subarray(b.l3Offset + 8, b.l3Offset + 40),
    (l4Len >>> 24) & 0xff,
    (l4Len >>> 16) & 0xff,
    (l4Len >>> 8) & 0xff,
    l4Len & 0xff,
    0,
    0,
    0,
    b.proto,
  ]);
}

function superFrame(eth: EthSpec, l3: Ipv4Spec | Ipv6Spec, l4: TcpSpec | UdpSpec, payload: Uint8Array): Frame {
  // Headers from the builder (no payload: keeps its arrays small), payload appended here.
  const hdr = buildPacket({ eth, l3, l4: { ...l4, payload: new Uint8Array(0) } });
  const hdrLen = hdr.payloadOffset;
  const bytes = new Uint8Array(hdrLen + payload.length);
  bytes.set(hdr.bytes.subarray(0, hdrLen));
  bytes.set(payload, hdrLen);
  const dv = new DataView(bytes.buffer);
  const l4Len = bytes.length - hdr.l4Offset;
  if (hdr.family === 4) {
    dv.setUint16(hdr.l3Offset + 2, bytes.length - hdr.l3Offset);
    dv.setUint16(hdr.l3Offset + 10, refIpv4HeaderChecksum(bytes, hdr.l3Offset));
  } else {
    dv.setUint16(hdr.l3Offset + 4, bytes.length - hdr.l3Offset - 40);
  }
  if (hdr.proto === 17) dv.setUint16(hdr.l4Offset + 4, l4Len & 0xffff);
  dv.setUint16(hdr.l4Offset + (hdr.proto === 6 ? 16 : 6), pseudoPartial(bytes, hdr, l4Len));
  return { bytes, hdr, hdrLen, payload };
}

const V4: Ipv4Spec = { kind: 'ipv4', src: '10.1.2.3', dst: '192.168.200.7', id: 0xfffe, flags: 2, ttl: 63 };
const V6: Ipv6Spec = {
  kind: 'ipv6',
  src: '2001:db8::10',
  dst: '2001:db8:ffff::abcd',
  flowLabel: 0x12345,
  hopLimit: 60,
};
const TCP: TcpSpec = {
  kind: 'tcp',
  sport: 40001,
  dport: 443,
  seq: 0xfffff000,
  ack: 0x11223344,
  window: 501,
  flags: TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN | TcpFlags.CWR | TcpFlags.ECE,
};
const UDP: UdpSpec = { kind: 'udp', sport: 4433, dport: 5544 };

/** Puts bytes in a new buffer (a jumbo when `jumbo`) with the given offload word and meta. */
function place(r: Rig, bytes: Uint8Array, offload: number, jumbo = true): number {
  const one = new Uint32Array(1);
  const got = jumbo ? r.cache.allocJumbo(one, 1) : r.cache.alloc(one, 1);
  assert.equal(got, 1, 'a buffer for the test packet');
  const d = one[0]!;
  assert.ok(r.pool.write(d, bytes), 'the test packet fits its buffer');
  r.pool.setMeta(d, Meta.offload, offload);
  r.pool.setMeta(d, Meta.port, 2);
  r.pool.setMeta(d, Meta.tsSec, 1_700_000_123);
  r.pool.setMeta(d, Meta.tsNsec, 456_789_012);
  r.pool.setMeta(d, Meta.chainId, 9);
  return d;
}

/** What the sink saw of one frame (taken before the sink frees it). */
interface Seen {
  d: number;
  bytes: Uint8Array;
  offload: number;
  port: number;
  tsSec: number;
  tsNsec: number;
  chainId: number;
  ipOk: boolean;
  l4Ok: boolean;
}

interface Collector {
  sink: OffloadSink;
  seen: Seen[];
  calls: number[];
  arrays: Uint32Array[];
}

/**
 * A sink that records every frame, then frees them all; `sends(call, n)` says how many of each
 * call's frames count as sent (default all).
 */
function collector(r: Rig, sends: (call: number, n: number) => number = (_c, n) => n): Collector {
  const c: Collector = { sink: () => 0, seen: [], calls: [], arrays: [] };
  const view = new PacketView(r.pool.buffer);
  c.sink = (descs, n) => {
    const sent = sends(c.calls.length, n);
    c.calls.push(n);
    c.arrays.push(descs);
    for (let i = 0; i < n; i++) {
      const d = descs[i]!;
      view.attach(r.pool, d);
      if (i < sent) {
        c.seen.push({
          d,
          bytes: r.pool.bytes(d).slice(),
          offload: r.pool.meta(d, Meta.offload),
          port: r.pool.meta(d, Meta.port),
          tsSec: r.pool.meta(d, Meta.tsSec),
          tsNsec: r.pool.meta(d, Meta.tsNsec),
          chainId: r.pool.meta(d, Meta.chainId),
          ipOk: view.ipv4ChecksumOk(),
          l4Ok: view.l4ChecksumOk(),
        });
      }
    }
    r.cache.free(descs, n);
    return sent;
  };
  return c;
}

function offload(r: Rig, c: Collector, opts: SoftwareOffloadOptions = {}): SoftwareOffload {
  return new SoftwareOffload(r.pool, r.cache, c.sink, opts);
}

function burst(...descs: number[]): Uint32Array {
  return Uint32Array.from(descs);
}

/** Checks segments against the super-frame they came from: headers, payload, checksums, meta. */
function checkSegments(f: Frame, segs: Seen[], mss: number): void {
  const h = f.hdr;
  const v4 = h.family === 4;
  const tcp = h.proto === 6;
  const n = Math.ceil(f.payload.length / mss);
  assert.equal(segs.length, n, 'segment count');
  const orig = new DataView(f.bytes.buffer);
  const flags0 = tcp ? orig.getUint8(h.l4Offset + 13) : 0;
  const seq0 = tcp ? orig.getUint32(h.l4Offset + 4) : 0;
  const id0 = v4 ? orig.getUint16(h.l3Offset + 4) : 0;
  const joined = new Uint8Array(f.payload.length);
  let at = 0;
  segs.forEach((s, k) => {
    const b = s.bytes;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const pay = k < n - 1 ? mss : f.payload.length - (n - 1) * mss;
    assert.equal(b.length, f.hdrLen + pay, `segment ${k} length`);
    assert.deepEqual(
      b.subarray(0, h.l3Offset),
      f.bytes.subarray(0, h.l3Offset),
      'Ethernet header and VLAN tags copied',
    );
    if (v4) {
      assert.equal(dv.getUint16(h.l3Offset + 2), b.length - h.l3Offset, 'IPv4 total length');
      assert.equal(dv.getUint16(h.l3Offset + 4), (id0 + k) & 0xffff, 'IPv4 id + k');
      assert.equal(dv.getUint16(h.l3Offset + 10), refIpv4HeaderChecksum(b, h.l3Offset), 'IPv4 header checksum');
      assert.ok(s.ipOk, 'PacketView: IPv4 header checksum ok');
    } else {
      assert.equal(dv.getUint16(h.l3Offset + 4), b.length - h.l3Offset - 40, 'IPv6 payload length');
    }
    if (tcp) {
      assert.equal(dv.getUint32(h.l4Offset + 4), (seq0 + k * mss) >>> 0, `TCP seq of segment ${k}`);
      let want = flags0;
      if (k > 0) want &= ~TcpFlags.CWR;
      if (k < n - 1) want &= ~(TcpFlags.FIN | TcpFlags.PSH);
      assert.equal(dv.getUint8(h.l4Offset + 13), want, `TCP flags of segment ${k}`);
      assert.equal(dv.getUint32(h.l4Offset + 8), orig.getUint32(h.l4Offset + 8), 'TCP ack unchanged');
    } else {
      assert.equal(dv.getUint16(h.l4Offset + 4), b.length - h.l4Offset, 'UDP length');
    }
    const ref: BuiltPacket = { ...h, bytes: b, l4Length: b.length - h.l4Offset, payloadLength: pay };
    assert.equal(storedL4Checksum(b, ref), refL4Checksum(b, ref), `L4 checksum of segment ${k} (reference)`);
    assert.ok(s.l4Ok, `PacketView: L4 checksum of segment ${k} ok`);
    assert.equal(s.offload, 0, 'segments carry no offload');
    assert.equal(s.port, 2);
    assert.equal(s.tsSec, 1_700_000_123);
    assert.equal(s.tsNsec, 456_789_012);
    assert.equal(s.chainId, 9);
    joined.set(b.subarray(f.hdrLen), at);
    at += pay;
  });
  assert.equal(at, f.payload.length);
  assert.deepEqual(joined, f.payload, 'segments carry the payload in order');
}

/** One super-frame through an offload; its segments checked. */
function segmentOne(
  f: Frame,
  type: number,
  mss: number,
  opts: SoftwareOffloadOptions = {},
): { r: Rig; c: Collector; o: SoftwareOffload } {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c, opts);
  const d = place(r, f.bytes, gsoOffload(type, mss));
  assert.equal(o.process(burst(d), 1), 1, 'the super-frame counts as one packet sent');
  checkSegments(f, c.seen, mss);
  for (const s of c.seen) assert.ok(!r.pool.isJumbo(s.d), 'segments are ordinary buffers');
  assert.equal(o.segmented, 1);
  assert.equal(o.segmentsMade, c.seen.length);
  assert.equal(o.dropped, 0);
  assertNoLeak(r);
  return { r, c, o };
}

// ---------------------------------------------------------------------------------------------

test('TCPv4 super-frame of 10 000 bytes, MSS 1448: 7 segments, seq (wrapping), ids, flags, checksums', () => {
  const f = superFrame({}, V4, TCP, pattern(10_000));
  const { c } = segmentOne(f, OffloadGso.TCPV4, 1448);
  assert.equal(c.seen.length, 7);
  const flags = c.seen.map((s) => s.bytes[f.hdr.l4Offset + 13]);
  assert.deepEqual(
    flags,
    [0xd0, 0x50, 0x50, 0x50, 0x50, 0x50, 0x59],
    'CWR on the first only, FIN and PSH on the last only',
  );
});

test('TCPv6 super-frame with the ECN bit, payload an exact multiple of the MSS', () => {
  const f = superFrame({}, V6, { ...TCP, options: [2, 4, 0x05, 0xa0, 1, 1, 4, 2] }, pattern(5000, 3));
  const { c } = segmentOne(f, OffloadGso.TCPV6 | OffloadGso.ECN, 1000);
  assert.equal(c.seen.length, 5);
  assert.equal(c.seen[4]!.bytes.length, f.hdrLen + 1000);
});

test('UDP_L4 over IPv4 and over IPv6 with an extension header: UDP length and checksum per segment', () => {
  segmentOne(superFrame({}, V4, UDP, pattern(4000, 5)), OffloadGso.UDP_L4, 1400);
  const { c } = segmentOne(
    superFrame({}, { ...V6, ext: [{ type: 60, length: 16 }] }, UDP, pattern(3000, 7)),
    OffloadGso.UDP_L4,
    1200,
  );
  assert.equal(c.seen.length, 3);
});

test('VLAN tags (QinQ), IPv4 options and TCP options are copied into every segment', () => {
  const f = superFrame(
    { vlans: [{ tpid: 0x88a8, id: 100, pcp: 3 }, { id: 200 }] },
    { ...V4, options: [1, 1, 7, 7, 4, 0, 0, 0, 0] },
    { ...TCP, options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2] },
    pattern(7000, 11),
  );
  assert.equal(f.hdr.l3Offset, 22);
  const { c } = segmentOne(f, OffloadGso.TCPV4, 1400);
  assert.equal(c.seen.length, 5);
});

test('a 64 KiB super-frame with MSS 536: 123 segments, handed to the sink in chunks of at most 64', () => {
  const payload = pattern(65535 - 20 - 20, 13);
  const f = superFrame({}, { ...V4, id: 7 }, TCP, payload);
  assert.equal(f.bytes.length, 14 + 65535);
  const { c } = segmentOne(f, OffloadGso.TCPV4, 536);
  assert.equal(c.seen.length, 123);
  assert.deepEqual(c.calls, [64, 59]);
});

test('a super-frame in an ordinary buffer, and one whose payload is under one MSS, are segmented too', () => {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c);
  const small = superFrame({}, V4, TCP, pattern(1000));
  const mid = superFrame({}, V6, TCP, pattern(3000));
  const d1 = place(r, small.bytes, gsoOffload(OffloadGso.TCPV4, 1448), false);
  const d2 = place(r, mid.bytes, gsoOffload(OffloadGso.TCPV6, 1448), false);
  assert.equal(o.process(burst(d1, d2), 2), 2);
  checkSegments(small, c.seen.slice(0, 1), 1448);
  checkSegments(mid, c.seen.slice(1), 1448);
  assert.equal(o.segmentsMade, 4);
  assertNoLeak(r);
});

test('a partial checksum (not GSO) is completed in place; the same descriptor passes', () => {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c);
  const tcp = buildPacket({ l3: V4, l4: { ...TCP, payload: pattern(300) } });
  const udp = buildPacket({ eth: { vlans: [{ id: 5 }] }, l3: V6, l4: { ...UDP, payload: pattern(77) } });
  const want = [storedL4Checksum(tcp.bytes, tcp), storedL4Checksum(udp.bytes, udp)];
  const ds: number[] = [];
  for (const p of [tcp, udp]) {
    const bytes = p.bytes.slice();
    new DataView(bytes.buffer).setUint16(p.l4Offset + (p.proto === 6 ? 16 : 6), pseudoPartial(bytes, p, p.l4Length));
    ds.push(place(r, bytes, OFFLOAD_CSUM_PARTIAL, false));
  }
  assert.equal(o.process(Uint32Array.from(ds), 2), 2);
  assert.deepEqual(
    c.seen.map((s) => s.d),
    ds,
    'same descriptors, same order',
  );
  assert.deepEqual([storedL4Checksum(c.seen[0]!.bytes, tcp), storedL4Checksum(c.seen[1]!.bytes, udp)], want);
  for (const s of c.seen) {
    assert.equal(s.offload, 0, 'the partial flag is cleared');
    assert.ok(s.l4Ok);
  }
  assert.equal(o.checksumsCompleted, 2);
  assertNoLeak(r);
});

test('a partial packet with no checksum to complete (GRE, a later fragment) goes as it is, counted', () => {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c);
  const gre = buildPacket({ l3: V4, l4: { kind: 'raw', proto: 47, payload: pattern(40) } });
  const frag = buildPacket({
    l3: { ...V4, flags: 0, fragOffset: 100, proto: 6 },
    l4: { kind: 'raw', proto: 6, payload: pattern(64) },
  });
  const ds = burst(place(r, gre.bytes, OFFLOAD_CSUM_PARTIAL, false), place(r, frag.bytes, OFFLOAD_CSUM_PARTIAL, false));
  assert.equal(o.process(ds, 2), 2);
  assert.deepEqual(
    c.seen.map((s) => s.bytes),
    [gre.bytes, frag.bytes],
  );
  assert.equal(o.checksumsLeftPartial, 2);
  assert.equal(o.checksumsCompleted, 0);
  assertNoLeak(r);
});

test("packets with offload word 0 are untouched: the sink gets the caller's own array", () => {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c);
  const pkts = [
    buildPacket({ l3: V4, l4: { ...TCP, payload: pattern(100) } }),
    buildPacket({ l3: V6, l4: { ...UDP, payload: pattern(1500) } }),
  ];
  // A jumbo with a plain frame passes too when not linearizing.
  const ds = burst(place(r, pkts[0]!.bytes, 0, false), place(r, pkts[1]!.bytes, 0, true));
  assert.equal(o.process(ds, 2), 2);
  assert.equal(c.arrays[0], ds, 'no copy of the burst');
  assert.deepEqual(
    c.seen.map((s) => s.d),
    [...ds],
  );
  assert.deepEqual(
    c.seen.map((s) => s.bytes),
    pkts.map((p) => p.bytes),
  );
  assert.equal(o.process(ds, 0), 0);
  assert.equal(c.calls.length, 1, 'an empty burst does not call the sink');
  assertNoLeak(r);
});

test('unsupported GSO type, garbage, mismatched headers and oversize segments: dropped, counted, nothing leaks', () => {
  const r = rig(1024, 12);
  const c = collector(r);
  const o = offload(r, c);
  const tcp4 = superFrame({}, V4, TCP, pattern(6000));
  const udp4 = superFrame({}, V4, UDP, pattern(6000));
  const garbage = pattern(3000, 99);
  const truncated = tcp4.bytes.subarray(0, 4000); // IP total length says 6040
  const keep = buildPacket({ l3: V4, l4: { ...TCP, payload: pattern(10) } });
  const ds = burst(
    place(r, keep.bytes, 0, false),
    place(r, udp4.bytes, gsoOffload(OffloadGso.UDP, 1400)), // UFO: IP fragmentation, not done here
    place(r, tcp4.bytes, gsoOffload(0x42, 1400)), // unknown type
    place(r, garbage, gsoOffload(OffloadGso.TCPV4, 1400)),
    place(r, tcp4.bytes, gsoOffload(OffloadGso.TCPV6, 1400)), // TCPV6 on an IPv4 frame
    place(r, udp4.bytes, gsoOffload(OffloadGso.TCPV4, 1400)), // TCP type on UDP
    place(r, tcp4.bytes, gsoOffload(OffloadGso.TCPV4, 0) | (OffloadGso.TCPV4 << 8)), // size 0
    place(r, truncated, gsoOffload(OffloadGso.TCPV4, 1400)),
    place(r, tcp4.bytes, gsoOffload(OffloadGso.TCPV4, 4000)), // segments larger than a buffer
    place(r, tcp4.bytes, gsoOffload(OffloadGso.TCPV4, 2)), // 3000 segments > MAX_SEGMENTS
  );
  assert.ok(6000 / 2 > MAX_SEGMENTS);
  assert.equal(o.process(ds, ds.length), 1, 'only the plain packet is sent');
  assert.equal(c.seen.length, 1);
  assert.deepEqual(c.seen[0]!.bytes, keep.bytes);
  assert.equal(o.droppedUnsupported, 2);
  assert.equal(o.droppedMalformed, 6);
  assert.equal(o.droppedOversize, 1);
  assert.equal(o.droppedNoBuffer, 0);
  assert.equal(o.dropped, 9);
  assert.equal(o.segmented, 0);
  assertNoLeak(r);
});

test('pool exhaustion: the super-frame is dropped whole, the buffers it got go back', () => {
  const r = rig(64, 2, 8);
  const c = collector(r);
  const o = offload(r, c);
  const f = superFrame({}, V4, TCP, pattern(10_000));
  const plainA = place(r, buildPacket({ l3: V4, l4: TCP }).bytes, 0, false);
  const sf = place(r, f.bytes, gsoOffload(OffloadGso.TCPV4, 1448));
  const plainB = place(r, buildPacket({ l3: V6, l4: UDP }).bytes, 0, false);
  // Hold all but 3 free buffers: 7 segments cannot be had.
  const held = new Uint32Array(64);
  let nHeld = 0;
  while (r.pool.ringFreeCount() + r.cache.cached > 3) nHeld += r.cache.alloc(held, 1, nHeld);
  const ds = burst(plainA, sf, plainB);
  assert.equal(o.process(ds, 3), 2);
  assert.equal(o.droppedNoBuffer, 1);
  assert.equal(o.segmented, 0);
  assert.equal(c.seen.length, 2);
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, 3 + 2, 'the 3 buffers tried, and the 2 sent, are free again');
  r.cache.free(held, nHeld);
  assertNoLeak(r);

  // With the buffers back, the same super-frame goes through.
  const sf2 = place(r, f.bytes, gsoOffload(OffloadGso.TCPV4, 1448));
  c.seen.length = 0;
  assert.equal(o.process(burst(sf2), 1), 1);
  checkSegments(f, c.seen, 1448);
  assertNoLeak(r);
});

test('a sink that sends part of a chunk: each packet that lost a frame counts once, across chunks', () => {
  const r = rig();
  // chunk 4: frames are A s0 s1 s2 | s3 s4 s5 s6 | B. Call 0 sends 3 of 4 (s2 lost), call 1
  // sends none (s3..s6 lost), call 2 sends all: the super-frame failed, A and B were sent.
  const c = collector(r, (call, n) => (call === 0 ? 3 : call === 1 ? 0 : n));
  const o = offload(r, c, { chunk: 4 });
  const f = superFrame({}, V4, TCP, pattern(10_000));
  const a = place(r, buildPacket({ l3: V4, l4: TCP }).bytes, 0, false);
  const sf = place(r, f.bytes, gsoOffload(OffloadGso.TCPV4, 1448));
  const b = place(r, buildPacket({ l3: V6, l4: UDP }).bytes, 0, false);
  assert.equal(o.process(burst(a, sf, b), 3), 2);
  assert.deepEqual(c.calls, [4, 4, 1]);
  assert.equal(o.segmentsMade, 7);
  assertNoLeak(r);

  // The whole burst refused on the fast path: nothing sent.
  const r2 = rig();
  const c2 = collector(r2, () => 0);
  const o2 = offload(r2, c2);
  const p = buildPacket({ l3: V4, l4: TCP }).bytes;
  assert.equal(o2.process(burst(place(r2, p, 0, false), place(r2, p, 0, false)), 2), 0);
  assertNoLeak(r2);
});

test('linearize: a jumbo packet is copied into an ordinary buffer (checksum completed first), one too large is dropped', () => {
  const r = rig();
  const c = collector(r);
  const o = offload(r, c, { linearize: true });
  const fits = buildPacket({ l3: V4, l4: { ...TCP, payload: pattern(3000) } });
  const partial = buildPacket({ l3: V6, l4: { ...UDP, payload: pattern(2500) } });
  const partialBytes = partial.bytes.slice();
  new DataView(partialBytes.buffer).setUint16(
    partial.l4Offset + 6,
    pseudoPartial(partialBytes, partial, partial.l4Length),
  );
  const big = buildPacket({ l3: V4, l4: { ...UDP, payload: pattern(5000) } });
  const ds = burst(
    place(r, fits.bytes, 0, true),
    place(r, partialBytes, OFFLOAD_CSUM_PARTIAL, true),
    place(r, big.bytes, 0, true),
    place(r, superFrame({}, V4, TCP, pattern(4000)).bytes, gsoOffload(OffloadGso.TCPV4, 1448), true),
  );
  assert.equal(o.process(ds, 4), 3);
  assert.equal(c.seen.length, 2 + 3);
  for (const s of c.seen) {
    assert.ok(!r.pool.isJumbo(s.d), 'only ordinary buffers reach the sink');
    assert.equal(s.offload, 0);
    assert.ok(s.l4Ok);
    assert.equal(s.tsSec, 1_700_000_123, 'meta copied');
  }
  assert.deepEqual(c.seen[0]!.bytes, fits.bytes);
  assert.deepEqual(c.seen[1]!.bytes, partial.bytes, 'copied with its checksum completed');
  assert.equal(o.copiedFromJumbo, 2);
  assert.equal(o.checksumsCompleted, 1);
  assert.equal(o.droppedOversize, 1);
  assert.equal(o.segmentsMade, 3);
  assertNoLeak(r);
});

// ---------------------------------------------------------------------------------------------
// The pcap TX port

function readAll(path: string): PcapPacket[] {
  const rd = PcapReader.open(path);
  try {
    return [...rd];
  } finally {
    rd.close();
  }
}

/** Writes, through a pcap TX port, one of each kind of offloaded packet; returns the frames. */
function writeOffloaded(r: Rig, path: string): { frames: Frame[]; port: ReturnType<typeof openPcapTx> } {
  const port = openPcapTx({ name: 'cap', driver: 'pcap', speed: 'max', loop: false, tx: path }, r.ctx);
  const frames = [
    superFrame({}, V4, TCP, pattern(10_000)),
    superFrame({ vlans: [{ id: 42 }] }, V6, TCP, pattern(9000, 1)),
    superFrame({}, V4, UDP, pattern(5000, 2)),
    superFrame({}, { ...V6, ext: [{ type: 0 }] }, UDP, pattern(4100, 3)),
  ];
  const types = [OffloadGso.TCPV4, OffloadGso.TCPV6 | OffloadGso.ECN, OffloadGso.UDP_L4, OffloadGso.UDP_L4];
  const partial = buildPacket({ l3: V4, l4: { ...TCP, payload: pattern(200) } });
  const partialBytes = partial.bytes.slice();
  new DataView(partialBytes.buffer).setUint16(
    partial.l4Offset + 16,
    pseudoPartial(partialBytes, partial, partial.l4Length),
  );
  const ds = burst(
    place(r, partialBytes, OFFLOAD_CSUM_PARTIAL, false),
    ...frames.map((f, i) => place(r, f.bytes, gsoOffload(types[i]!, 1448))),
    place(r, frames[0]!.bytes, gsoOffload(OffloadGso.UDP, 1448)), // dropped: UFO
  );
  assert.equal(port.txBurst(ds, ds.length), 5, 'five packets sent, the UFO one dropped');
  assert.equal(port.txDropped, 1);
  return { frames, port };
}

test('pcap TX port: a super-frame is written as its segments, a partial checksum completed', () => {
  const r = rig();
  const path = join(dir, `${seq++}-segments.pcap`);
  const { frames, port } = writeOffloaded(r, path);
  const made = frames.map((f) => Math.ceil(f.payload.length / 1448));
  assert.equal(
    port.offload.segmentsMade,
    made.reduce((a, b) => a + b, 0),
  );
  assert.equal(port.offload.segmented, 4);
  assert.equal(port.offload.checksumsCompleted, 1);
  assert.equal(port.offload.droppedUnsupported, 1);
  assert.equal(port.sent, 1 + port.offload.segmentsMade, 'records written');
  port.close();
  assertNoLeak(r);

  const recs = readAll(path);
  assert.equal(recs.length, port.sent);
  let at = 1;
  frames.forEach((f, i) => {
    const mine = recs.slice(at, at + made[i]!);
    at += made[i]!;
    const seen: Seen[] = mine.map((p) => {
      const v = new PacketView(p.data.buffer).reset(p.data.byteOffset, p.data.length);
      return {
        d: -1,
        bytes: p.data,
        offload: 0,
        port: 2,
        tsSec: p.tsSec,
        tsNsec: p.tsNsec,
        chainId: 9,
        ipOk: v.ipv4ChecksumOk(),
        l4Ok: v.l4ChecksumOk(),
      };
    });
    checkSegments(f, seen, 1448);
  });
  const first = recs[0]!;
  const v = new PacketView(first.data.buffer).reset(first.data.byteOffset, first.data.length);
  assert.ok(v.l4ChecksumOk(), 'the partial checksum was completed before writing');
});

const tshark = ((): string | null => {
  try {
    return execFileSync('which', ['tshark'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();

test('tshark reads the segments with no checksum errors', {
  skip: tshark === null ? 'tshark is not installed' : false,
}, () => {
  const r = rig();
  const path = join(dir, `${seq++}-tshark.pcap`);
  const { port } = writeOffloaded(r, path);
  const records = port.sent;
  port.close();
  assertNoLeak(r);
  const run = (filter: string): string[] =>
    execFileSync(
      tshark!,
      [
        '-r',
        path,
        '-o',
        'tcp.check_checksum:TRUE',
        '-o',
        'udp.check_checksum:TRUE',
        '-o',
        'ip.check_checksum:TRUE',
        '-Y',
        filter,
        '-T',
        'fields',
        '-e',
        'frame.number',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .split('\n')
      .filter((l) => l !== '');
  assert.deepEqual(
    run('tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || ip.checksum.status == "Bad"'),
    [],
  );
  // And the checks did run: every record's L4 checksum was found good.
  assert.equal(run('tcp.checksum.status == "Good" || udp.checksum.status == "Good"').length, records);
});
