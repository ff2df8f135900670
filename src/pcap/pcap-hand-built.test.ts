/**
 * Tests for PcapReader on hand-built classic pcap and pcapng files in both byte orders: timestamp
 * resolutions, link types, several interfaces and sections, EPB/SPB/OPB and skipped blocks.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PcapReader } from './pcap-reader.js';
import {
  block,
  classicHeader,
  classicRecord,
  concat,
  epb,
  idb,
  opb,
  packetBytes,
  readAll,
  shb,
  spb,
  useTempDir,
  writeBytes,
} from './pcap-test-helpers.js';

useTempDir();

describe('classic pcap, hand-built', () => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      test(`${le ? 'little' : 'big'}-endian, ${nano ? 'nanosecond' : 'microsecond'}`, () => {
        const d1 = packetBytes(1, 60);
        const d2 = packetBytes(2, 33);
        const path = writeBytes(
          'hand.pcap',
          concat(
            classicHeader(le, nano, 262144, 113),
            classicRecord(le, 1_600_000_000, nano ? 999_999_999 : 999_999, d1, 60),
            classicRecord(le, 0xfffffff0, 1, d2, 1000),
          ),
        );
        const r = PcapReader.open(path);
        assert.equal(r.linkType, 113);
        assert.equal(r.snaplen, 262144);
        const [a, b, c] = [...r];
        r.close();
        assert.ok(a && b && c === undefined);
        assert.deepEqual(a, {
          tsSec: 1_600_000_000,
          tsNsec: 999_999_999 - (nano ? 0 : 999),
          capLen: 60,
          origLen: 60,
          linkType: 113,
          interfaceId: 0,
          data: d1,
        });
        assert.deepEqual(b, {
          tsSec: 0xfffffff0,
          tsNsec: nano ? 1 : 1000,
          capLen: 33,
          origLen: 1000,
          linkType: 113,
          interfaceId: 0,
          data: d2,
        });
      });
    }
  }

  test('FCS bits in the link-type word are not part of the link type', () => {
    const path = writeBytes('fcs.pcap', classicHeader(true, false, 65535, 0x1000_0001));
    const r = PcapReader.open(path);
    assert.equal(r.linkType, 1);
    assert.equal(r.next(), null);
    r.close();
  });
});

describe('pcapng, hand-built', () => {
  for (const le of [true, false]) {
    test(`${le ? 'little' : 'big'}-endian: interfaces, if_tsresol, if_tsoffset, EPB/SPB/OPB, unknown blocks`, () => {
      const d = [0, 1, 2, 3, 4, 5].map((i) => packetBytes(i, 40 + i * 17));
      const path = writeBytes(
        'hand.pcapng',
        concat(
          shb(le),
          idb(le, 1, 0), // default: microseconds
          block(le, 0x0000_0004, new Uint8Array(20)), // Name Resolution Block: skipped
          idb(le, 101, 1500, { tsresol: 9 }), // nanoseconds
          idb(le, 113, 0, { tsresol: 0x80 | 10, tsoffset: 100n }), // 1/1024 s, offset 100 s
          epb(le, 0, 1_700_000_000_123_456n, d[0]!),
          block(le, 0x4000_0bad, new Uint8Array(37)), // custom block: skipped
          epb(le, 1, 1_700_000_000_987_654_321n, d[1]!, 2000),
          epb(le, 2, 5n * 1024n + 512n, d[2]!),
          block(le, 0x0000_0005, new Uint8Array(16)), // Interface Statistics Block: skipped
          spb(le, d[3]!.length, d[3]!),
          opb(le, 1, 42_000_000_001n, d[4]!),
        ),
      );
      const r = PcapReader.open(path);
      assert.equal(r.format, 'pcapng');
      const got = [...r];
      assert.equal(r.count, 5);
      assert.equal(r.linkType, 1);
      r.close();
      assert.deepEqual(got, [
        {
          tsSec: 1_700_000_000,
          tsNsec: 123_456_000,
          capLen: d[0]!.length,
          origLen: d[0]!.length,
          linkType: 1,
          interfaceId: 0,
          data: d[0],
        },
        {
          tsSec: 1_700_000_000,
          tsNsec: 987_654_321,
          capLen: d[1]!.length,
          origLen: 2000,
          linkType: 101,
          interfaceId: 1,
          data: d[1],
        },
        {
          tsSec: 105,
          tsNsec: 500_000_000,
          capLen: d[2]!.length,
          origLen: d[2]!.length,
          linkType: 113,
          interfaceId: 2,
          data: d[2],
        },
        { tsSec: 0, tsNsec: 0, capLen: d[3]!.length, origLen: d[3]!.length, linkType: 1, interfaceId: 0, data: d[3] },
        {
          tsSec: 42,
          tsNsec: 1,
          capLen: d[4]!.length,
          origLen: d[4]!.length,
          linkType: 101,
          interfaceId: 1,
          data: d[4],
        },
      ]);
    });
  }

  test('several sections in different byte orders, each with its own interfaces', () => {
    const d1 = packetBytes(1, 64);
    const d2 = packetBytes(2, 70);
    const path = writeBytes(
      'sections.pcapng',
      concat(
        shb(true),
        idb(true, 1, 65535),
        epb(true, 0, 3_000_001n, d1),
        shb(false),
        idb(false, 228, 65535, { tsresol: 3 }),
        epb(false, 0, 7_250n, d2),
      ),
    );
    const got = readAll(path);
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], {
      tsSec: 3,
      tsNsec: 1000,
      capLen: 64,
      origLen: 64,
      linkType: 1,
      interfaceId: 0,
      data: d1,
    });
    assert.deepEqual(got[1], {
      tsSec: 7,
      tsNsec: 250_000_000,
      capLen: 70,
      origLen: 70,
      linkType: 228,
      interfaceId: 0,
      data: d2,
    });
  });

  test('SPB is cut to the interface snaplen', () => {
    const d = packetBytes(9, 100);
    const path = writeBytes('spb.pcapng', concat(shb(true), idb(true, 1, 64), spb(true, 100, d.subarray(0, 64))));
    const [p] = readAll(path);
    assert.ok(p);
    assert.equal(p.capLen, 64);
    assert.equal(p.origLen, 100);
    assert.deepEqual(p.data, d.subarray(0, 64));
  });

  test('timestamp conversion is exact for coarse, fine and very fine clocks', () => {
    // [if_tsresol, 64-bit timestamp, expected seconds, expected nanoseconds]
    const cases: [number, bigint, number, number][] = [
      [6, 0xffff_ffff_ffff_ffffn, 18_446_744_073_709, 551_615_000], // µs, largest value
      [9, 1_741_234_567_891_234_567n, 1_741_234_567, 891_234_567], // ns, above 2^53
      [9, 0xffff_ffff_ffff_ffffn, 18_446_744_073, 709_551_615],
      [0, 1_700_000_000n, 1_700_000_000, 0], // seconds
      [11, 100_000_000n * 10n ** 11n + 1_234_567_890n, 100_000_000, 12_345_678], // 10^-11 s
      [12, 10_000_000n * 10n ** 12n + 123_456_789_012n, 10_000_000, 123_456_789], // 10^-12 s: BigInt path
      [0x80 | 20, 3n * 1048576n + 524288n, 3, 500_000_000], // 2^-20 s
      [0x80 | 40, 7n * 2n ** 40n + 2n ** 38n, 7, 250_000_000], // 2^-40 s: BigInt path
    ];
    for (const [tsresol, ts, sec, nsec] of cases) {
      const path = writeBytes(
        'ts.pcapng',
        concat(shb(true), idb(true, 1, 0, { tsresol }), epb(true, 0, ts, new Uint8Array(4))),
      );
      const [p] = readAll(path);
      assert.ok(p);
      const units = tsresol & 0x80 ? 2n ** BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
      assert.equal(BigInt(sec), ts / units, `tsresol ${tsresol}: the expected seconds are right`);
      assert.equal(p.tsSec, sec, `tsresol ${tsresol} ts ${ts}: seconds`);
      assert.equal(p.tsNsec, nsec, `tsresol ${tsresol} ts ${ts}: nanoseconds`);
    }
  });
});
