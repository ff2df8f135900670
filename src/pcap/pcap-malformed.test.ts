/**
 * Tests for PcapReader on malformed classic pcap and pcapng files: every format error is
 * NFC_ERR_PCAP_FORMAT naming the file and the byte offset where the problem is.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CAPLEN, PcapReader } from './pcap-reader.js';
import {
  assertFormatError,
  block,
  Bytes,
  classicHeader,
  classicRecord,
  concat,
  epb,
  idb,
  packetBytes,
  readAll,
  shb,
  useTempDir,
  writeBytes,
} from './pcap-test-helpers.js';

useTempDir();

describe('malformed captures give NFC_ERR_PCAP_FORMAT with the byte offset', () => {
  const le = true;
  const hdr = classicHeader(le, false, 65535, 1);
  const rec100 = classicRecord(le, 1, 2, packetBytes(0, 100)); // 116 bytes

  test('empty file', () => {
    const path = writeBytes('empty.pcap', new Uint8Array(0));
    assertFormatError(() => PcapReader.open(path), path, 0, /empty/);
  });

  test('truncated global header', () => {
    const path = writeBytes('short-hdr.pcap', hdr.subarray(0, 10));
    assertFormatError(() => PcapReader.open(path), path, 0, /file header \(10 of 24 bytes/);
  });

  test('bad magic names the first bytes and the supported formats', () => {
    const path = writeBytes('magic.pcap', new TextEncoder().encode('GIF89a this is not a capture'));
    assertFormatError(() => PcapReader.open(path), path, 0, /first bytes 47 49 46 38.*pcap.*pcapng/);
  });

  test('truncated record header', () => {
    const path = writeBytes('short-rec.pcap', concat(hdr, rec100, rec100.subarray(0, 9)));
    const r = PcapReader.open(path);
    assert.ok(r.next());
    assertFormatError(() => r.next(), path, 24 + 116, /inside a record header \(9 of 16 bytes; truncated capture\?\)/);
    r.close();
  });

  test('truncated record body', () => {
    const path = writeBytes('short-body.pcap', concat(hdr, rec100, rec100, rec100.subarray(0, 50)));
    const r = PcapReader.open(path);
    assert.ok(r.next());
    assert.ok(r.next());
    assertFormatError(() => r.next(), path, 24 + 2 * 116, /record body \(header says 100 captured bytes, 34 present/);
    r.close();
  });

  test('caplen greater than snaplen', () => {
    const path = writeBytes(
      'snap.pcap',
      concat(
        classicHeader(le, false, 64, 1),
        classicRecord(le, 1, 0, packetBytes(0, 64)),
        classicRecord(le, 1, 0, packetBytes(0, 70)),
      ),
    );
    const r = PcapReader.open(path);
    assert.ok(r.next());
    assertFormatError(() => r.next(), path, 24 + 80, /record header says 70 captured bytes but snaplen is 64/);
    r.close();
  });

  test('caplen above 256 KiB even without a snaplen', () => {
    const path = writeBytes(
      'huge.pcap',
      concat(
        classicHeader(le, false, 0, 1),
        new Bytes(le)
          .u32(1)
          .u32(0)
          .u32(MAX_CAPLEN + 1)
          .u32(MAX_CAPLEN + 1)
          .bytes(),
      ),
    );
    assertFormatError(() => readAll(path), path, 24, /262145 captured bytes, above the 262144-byte limit/);
  });

  test('a sub-second field of a second or more is carried into the seconds and counted, as tcpdump reads it', () => {
    const path = writeBytes(
      'usec.pcap',
      concat(
        hdr,
        classicRecord(le, 1, 1_000_000, packetBytes(0, 10)),
        classicRecord(le, 5, 2_500_001, packetBytes(1, 10)),
        classicRecord(le, 9, 999_999, packetBytes(2, 10)),
      ),
    );
    const r = PcapReader.open(path);
    try {
      const got = [...r].map((p) => [p.tsSec, p.tsNsec]);
      assert.deepEqual(got, [
        [2, 0],
        [7, 500_001_000],
        [9, 999_999_000],
      ]);
      assert.equal(r.normalized, 2);
    } finally {
      r.close();
    }
  });

  test('pcapng: block length not a multiple of 4', () => {
    const path = writeBytes(
      'len4.pcapng',
      concat(shb(le), idb(le, 1, 0), block(le, 6, new Uint8Array(28), { start: 42 })),
    );
    const at = shb(le).length + idb(le, 1, 0).length;
    assertFormatError(() => readAll(path), path, at, /length 42, which is not a multiple of 4/);
  });

  test('pcapng: trailing length mismatch (parsed and skipped blocks)', () => {
    const head = concat(shb(le), idb(le, 1, 0));
    const bad = concat(
      head,
      block(le, 6, new Bytes(le).u32(0).u32(0).u32(0).u32(4).u32(4).u32(0).bytes(), { end: 40 }),
    );
    const p1 = writeBytes('trail.pcapng', bad);
    assertFormatError(() => readAll(p1), p1, head.length, /length 36 at its start but 40 at its end/);
    const p2 = writeBytes('trail-skip.pcapng', concat(head, block(le, 0x4000_0001, new Uint8Array(8), { end: 8 })));
    assertFormatError(
      () => readAll(p2),
      p2,
      head.length,
      /type 0x40000001 has length 20 at its start but 8 at its end/,
    );
  });

  test('pcapng: EPB refers to an unknown interface id', () => {
    const head = concat(shb(le), idb(le, 1, 0), idb(le, 1, 0), epb(le, 1, 0n, packetBytes(0, 8)));
    const path = writeBytes('ifid.pcapng', concat(head, epb(le, 2, 0n, packetBytes(0, 8))));
    const r = PcapReader.open(path);
    assert.ok(r.next());
    assertFormatError(
      () => r.next(),
      path,
      head.length,
      /refers to interface 2 but this section describes 2 interfaces/,
    );
    r.close();
  });

  test('pcapng: interfaces do not carry over into a new section', () => {
    const head = concat(shb(le), idb(le, 1, 0), shb(false));
    const path = writeBytes('ifid2.pcapng', concat(head, epb(false, 0, 0n, packetBytes(0, 8))));
    assertFormatError(() => readAll(path), path, head.length, /describes 0 interfaces/);
  });

  test('pcapng: truncated blocks, bad byte-order magic, EPB data overrunning its block', () => {
    const head = concat(shb(le), idb(le, 1, 0));
    const e = epb(le, 0, 0n, packetBytes(0, 100));
    const p1 = writeBytes('ng-trunc.pcapng', concat(head, e.subarray(0, 60)));
    assertFormatError(
      () => readAll(p1),
      p1,
      head.length,
      new RegExp(`file ends inside a block of type 0x00000006 \\(length ${e.length}, 60 bytes present`),
    );
    const p2 = writeBytes(
      'ng-trunc-skip.pcapng',
      concat(head, block(le, 0x0bad, new Uint8Array(5000)).subarray(0, 3000)),
    );
    assertFormatError(() => readAll(p2, 1024), p2, head.length, /file ends inside a block of type 0x00000bad/);
    const p3 = writeBytes('ng-trunc-hdr.pcapng', concat(head, e.subarray(0, 5)));
    assertFormatError(() => readAll(p3), p3, head.length, /inside a block header \(5 of 8 bytes/);
    const badBom = shb(le);
    badBom[8] = 0x99;
    const p4 = writeBytes('ng-bom.pcapng', badBom);
    assertFormatError(() => PcapReader.open(p4), p4, 0, /byte-order magic/);
    const over = new Bytes(le).u32(0).u32(0).u32(0).u32(200).u32(200).raw(packetBytes(0, 100)).bytes();
    const p5 = writeBytes('ng-over.pcapng', concat(head, block(le, 6, over)));
    assertFormatError(
      () => readAll(p5),
      p5,
      head.length,
      /says 200 captured bytes but its length 132 leaves room for 100/,
    );
    const p6 = writeBytes('ng-snap.pcapng', concat(shb(le), idb(le, 1, 50), e));
    assertFormatError(() => readAll(p6), p6, head.length, /says 100 captured bytes but snaplen is 50/);
  });
});
