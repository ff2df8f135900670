/**
 * Tests for drops and accounting in the software offloads (offload.ts): unsupported, malformed
 * and oversize super-frames and an exhausted pool are dropped and counted, and a sink that sends
 * only part of a chunk is accounted per packet. Every test checks that every buffer and jumbo is
 * back in the pool afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gsoOffload, OffloadGso } from '../shm/pool-layout.js';
import { MAX_SEGMENTS } from './offload.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';
import {
  assertNoLeak,
  burst,
  checkSegments,
  collector,
  offload,
  pattern,
  place,
  rig,
  superFrame,
  TCP,
  UDP,
  V4,
  V6,
} from './offload-test-helpers.js';

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
