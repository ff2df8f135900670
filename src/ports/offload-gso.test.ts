/**
 * Tests for GSO segmentation in the software offloads (offload.ts): super-frames (TCPv4, TCPv6,
 * UDP_L4 over both, VLAN tags, IP options, IPv6 extension headers, in jumbos and ordinary
 * buffers) become segments whose headers, payload and checksums are checked against the test
 * builder's independent reference code and PacketView. Every test checks that every buffer and
 * jumbo is back in the pool afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gsoOffload, OffloadGso } from '../shm/pool-layout.js';
import {
  assertNoLeak,
  burst,
  checkSegments,
  collector,
  offload,
  pattern,
  place,
  rig,
  segmentOne,
  superFrame,
  TCP,
  UDP,
  V4,
  V6,
} from './offload-test-helpers.js';

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
