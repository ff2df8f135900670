/**
 * Tests for the software offloads behind a pcap TX port: a super-frame is written as its
 * segments and a partial checksum completed (read back, and checked by tshark when it is
 * installed). Every test checks that every buffer and jumbo is back in the pool afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapReader, type PcapPacket } from '../pcap/pcap-reader.js';
import { PacketView } from '../packet/packet-view.js';
import { gsoOffload, OFFLOAD_CSUM_PARTIAL, OffloadGso } from '../shm/pool-layout.js';
import { openPcapTx } from './pcap.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';
import {
  assertNoLeak,
  burst,
  checkSegments,
  pattern,
  place,
  pseudoPartial,
  rig,
  superFrame,
  TCP,
  UDP,
  V4,
  V6,
  type Frame,
  type Rig,
  type Seen,
} from './offload-test-helpers.js';

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-offload-'));
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
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
