/**
 * Tests for what the software offloads (offload.ts) do besides segmenting: partial checksums are
 * completed (or left when there is none to complete), clean packets pass untouched in the
 * caller's own array, and linearize copies jumbos into ordinary buffers. Every test checks that
 * every buffer and jumbo is back in the pool afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gsoOffload, OFFLOAD_CSUM_PARTIAL, OffloadGso } from '../shm/pool-layout.js';
import { buildPacket, storedL4Checksum } from '../../test/helpers/packet-builder.js';
import {
  assertNoLeak,
  burst,
  collector,
  offload,
  pattern,
  place,
  pseudoPartial,
  rig,
  superFrame,
  TCP,
  UDP,
  V4,
  V6,
} from './offload-test-helpers.js';

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
