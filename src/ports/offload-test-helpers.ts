/**
 * Helpers shared by the software offload tests (offload-*.test.ts): a pool rig and the leak
 * check, GSO super-frames built as Linux hands them over, placing a packet in a buffer with its
 * offload word and meta, a sink that records what it is given, and the check of segments against
 * the test builder's independent reference code (test/helpers/packet-builder.ts) and PacketView.
 */
import assert from 'node:assert/strict';
import { PacketView } from '../packet/packet-view.js';
import { TcpFlags } from '../packet/protocol.js';
import { gsoOffload, Meta } from '../shm/pool-layout.js';
import { initPool, PacketPool, poolBytes } from '../shm/pool.js';
import { PoolCache } from '../shm/pool-cache.js';
import { SoftwareOffload, type OffloadSink, type SoftwareOffloadOptions } from './offload.js';
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

export interface Rig {
  pool: PacketPool;
  cache: PoolCache;
  view: PacketView;
  ctx: PortContext;
}

export function rig(count = 1024, jumbos = 8, cacheCapacity?: number): Rig {
  const opts = { count, jumbos };
  const mem = new ArrayBuffer(poolBytes(opts));
  initPool(mem, 0, opts);
  const pool = new PacketPool(mem, 0);
  const cache = new PoolCache(pool, cacheCapacity === undefined ? {} : { capacity: cacheCapacity });
  return { pool, cache, view: new PacketView(mem), ctx: { pool, cache, portId: 3, portName: 'cap' } };
}

/** Every buffer and jumbo back on its free ring. */
export function assertNoLeak(r: Rig): void {
  r.cache.flush();
  assert.equal(r.pool.ringFreeCount(), r.pool.count, 'every buffer is back in the pool');
  assert.equal(r.pool.jumboFreeCount(), r.pool.jumbos, 'every jumbo is back in the pool');
}

// ---------------------------------------------------------------------------------------------
// Super-frames, built as Linux hands them over: full IP lengths, the TCP/UDP checksum field
// holding the pseudo-header sum over the whole L4 length, folded and NOT complemented.

export interface Frame {
  bytes: Uint8Array;
  /** headers of the super-frame as the builder laid them out */
  hdr: BuiltPacket;
  hdrLen: number;
  payload: Uint8Array;
}

export function pattern(n: number, salt = 0): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 131 + (i >>> 8) * 7 + salt) & 0xff;
  return p;
}

/** The Linux partial-checksum value for an L4 segment of `l4Len` bytes: fold(pseudo header). */
export function pseudoPartial(bytes: Uint8Array, b: BuiltPacket, l4Len: number): number {
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

export function superFrame(eth: EthSpec, l3: Ipv4Spec | Ipv6Spec, l4: TcpSpec | UdpSpec, payload: Uint8Array): Frame {
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

export const V4: Ipv4Spec = { kind: 'ipv4', src: '10.1.2.3', dst: '192.168.200.7', id: 0xfffe, flags: 2, ttl: 63 };
export const V6: Ipv6Spec = {
  kind: 'ipv6',
  src: '2001:db8::10',
  dst: '2001:db8:ffff::abcd',
  flowLabel: 0x12345,
  hopLimit: 60,
};
export const TCP: TcpSpec = {
  kind: 'tcp',
  sport: 40001,
  dport: 443,
  seq: 0xfffff000,
  ack: 0x11223344,
  window: 501,
  flags: TcpFlags.ACK | TcpFlags.PSH | TcpFlags.FIN | TcpFlags.CWR | TcpFlags.ECE,
};
export const UDP: UdpSpec = { kind: 'udp', sport: 4433, dport: 5544 };

/** Puts bytes in a new buffer (a jumbo when `jumbo`) with the given offload word and meta. */
export function place(r: Rig, bytes: Uint8Array, offload: number, jumbo = true): number {
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
export interface Seen {
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

export interface Collector {
  sink: OffloadSink;
  seen: Seen[];
  calls: number[];
  arrays: Uint32Array[];
}

/**
 * A sink that records every frame, then frees them all; `sends(call, n)` says how many of each
 * call's frames count as sent (default all).
 */
export function collector(r: Rig, sends: (call: number, n: number) => number = (_c, n) => n): Collector {
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

export function offload(r: Rig, c: Collector, opts: SoftwareOffloadOptions = {}): SoftwareOffload {
  return new SoftwareOffload(r.pool, r.cache, c.sink, opts);
}

export function burst(...descs: number[]): Uint32Array {
  return Uint32Array.from(descs);
}

/** Checks segments against the super-frame they came from: headers, payload, checksums, meta. */
export function checkSegments(f: Frame, segs: Seen[], mss: number): void {
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
export function segmentOne(
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
