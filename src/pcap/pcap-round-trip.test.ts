/**
 * Tests for PcapWriter → PcapReader round trips (both timestamp resolutions, snaplen, readInto,
 * bad options) and for streaming many records, and large skipped pcapng blocks, through a small
 * read buffer.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MAX_CAPLEN, PcapReader } from './pcap-reader.js';
import { PcapWriter } from './pcap-writer.js';
import {
  block,
  concat,
  dir,
  epb,
  idb,
  packetBytes,
  readAll,
  shb,
  tmp,
  useTempDir,
  writeBytes,
} from './pcap-test-helpers.js';

useTempDir();

describe('PcapWriter → PcapReader round trip', () => {
  const lengths = [60, 64, 1514, 1, 0, 9000, 65535, 128];

  for (const nanosecond of [false, true]) {
    test(`${nanosecond ? 'nanosecond' : 'microsecond'} timestamps and lengths are exact`, () => {
      const path = tmp(`rt-${nanosecond ? 'ns' : 'us'}.pcap`);
      const w = PcapWriter.create(path, { nanosecond });
      const stamps: [number, number][] = [];
      lengths.forEach((len, i) => {
        const sec = 1_700_000_000 + i * 3601;
        const nsec = (i * 123_456_789 + 987) % 1_000_000_000;
        stamps.push([sec, nsec]);
        w.write(packetBytes(i, len), 0, len, sec, nsec);
      });
      assert.equal(w.count, lengths.length);
      w.close();
      w.close(); // idempotent

      const r = PcapReader.open(path);
      assert.equal(r.format, 'pcap');
      assert.equal(r.linkType, 1);
      assert.equal(r.snaplen, 65535);
      assert.equal(r.nanosecond, nanosecond);
      let i = 0;
      for (let rec = r.next(); rec !== null; rec = r.next(), i++) {
        const len = lengths[i]!;
        const [sec, nsec] = stamps[i]!;
        assert.equal(rec.tsSec, sec);
        assert.equal(rec.tsNsec, nanosecond ? nsec : Math.floor(nsec / 1000) * 1000);
        assert.equal(rec.capLen, len);
        assert.equal(rec.origLen, len);
        assert.equal(rec.linkType, 1);
        assert.equal(rec.interfaceId, 0);
        assert.deepEqual(rec.data, packetBytes(i, len));
        assert.deepEqual(rec.bytes.subarray(rec.offset, rec.offset + rec.capLen), packetBytes(i, len));
      }
      assert.equal(i, lengths.length);
      assert.equal(r.count, lengths.length);
      assert.equal(r.next(), null); // stays at the end
      r.close();
    });
  }

  test('snaplen truncates, origLen is kept, a sub-range of a larger buffer is written', () => {
    const path = tmp('snap.pcap');
    const w = PcapWriter.create(path, { snaplen: 100, linkType: 101 });
    const pool = packetBytes(7, 4096);
    w.write(pool, 1000, 300, 1, 2000);
    w.write(pool, 10, 50, 2, 3000, 1500);
    assert.equal(w.truncated, 1);
    w.close();
    const [a, b] = readAll(path);
    assert.ok(a && b);
    assert.equal(a.capLen, 100);
    assert.equal(a.origLen, 300);
    assert.equal(a.linkType, 101);
    assert.deepEqual(a.data, pool.subarray(1000, 1100));
    assert.equal(b.capLen, 50);
    assert.equal(b.origLen, 1500);
    assert.deepEqual(b.data, pool.subarray(10, 60));
  });

  test('readInto copies at most max bytes and returns -1 at the end', () => {
    const path = tmp('readinto.pcap');
    const w = PcapWriter.create(path);
    w.write(packetBytes(1, 200), 0, 200, 5, 0);
    w.write(packetBytes(2, 40), 0, 40, 6, 0);
    w.close();
    const r = PcapReader.open(path);
    const dst = new Uint8Array(256);
    assert.equal(r.readInto(dst, 8, 100), 100);
    assert.deepEqual(dst.subarray(8, 108), packetBytes(1, 200).subarray(0, 100));
    assert.equal(r.record.capLen, 200);
    assert.equal(r.readInto(dst), 40);
    assert.deepEqual(dst.subarray(0, 40), packetBytes(2, 40));
    assert.equal(r.record.tsSec, 6);
    assert.equal(r.readInto(dst), -1);
    r.close();
    assert.throws(() => r.next(), { code: 'NFC_ERR_PCAP_IO' });
  });

  test('writer rejects bad options and unwritable paths; reader reports missing files', () => {
    assert.throws(() => PcapWriter.create(tmp('x.pcap'), { snaplen: 0 }), { code: 'NFC_ERR_INVALID_ARG' });
    assert.throws(() => PcapWriter.create(tmp('x.pcap'), { snaplen: MAX_CAPLEN + 1 }), { code: 'NFC_ERR_INVALID_ARG' });
    assert.throws(() => PcapWriter.create(tmp('x.pcap'), { linkType: 70000 }), { code: 'NFC_ERR_INVALID_ARG' });
    assert.throws(() => PcapWriter.create(join(dir, 'no-such-dir', 'x.pcap')), { code: 'NFC_ERR_PCAP_IO' });
    assert.throws(() => PcapReader.open(join(dir, 'missing.pcap')), { code: 'NFC_ERR_PCAP_IO' });
    const w = PcapWriter.create(tmp('closed.pcap'));
    w.close();
    assert.throws(() => w.write(new Uint8Array(4), 0, 4, 0, 0), { code: 'NFC_ERR_PCAP_IO' });
  });
});

describe('streaming', () => {
  test('200 000 records stream through a 4 KiB buffer, growing for records larger than it', () => {
    const path = tmp('big.pcap');
    const n = 200_000;
    const lenOf = (i: number): number => (i % 10_007 === 0 ? 9000 : 40 + ((i * 37) % 1500));
    const pool = packetBytes(3, 16384);
    const w = PcapWriter.create(path, { nanosecond: true, bufferSize: 64 * 1024 });
    for (let i = 0; i < n; i++) {
      const len = lenOf(i);
      pool[i % 1000] = i & 0xff; // makes each packet's bytes depend on i
      w.write(pool, i % 1000, len, i, i * 7, len + 4);
    }
    w.close();

    const r = PcapReader.open(path, { bufferSize: 4096 });
    let i = 0;
    let sum = 0;
    for (let rec = r.next(); rec !== null; rec = r.next(), i++) {
      const len = lenOf(i);
      if (rec.tsSec !== i || rec.tsNsec !== i * 7 || rec.capLen !== len || rec.origLen !== len + 4) {
        assert.fail(`record ${i}: ${rec.tsSec}.${rec.tsNsec} cap ${rec.capLen} orig ${rec.origLen}`);
      }
      if (rec.bytes[rec.offset] !== (i & 0xff)) assert.fail(`record ${i}: first byte ${rec.bytes[rec.offset]}`);
      sum += rec.bytes[rec.offset + rec.capLen - 1]!;
    }
    r.close();
    assert.equal(i, n);
    assert.equal(r.count, n);
    assert.ok(sum > 0);
  });

  test('pcapng: unknown blocks larger than the buffer are skipped by seeking', () => {
    const le = true;
    const parts: Uint8Array[] = [shb(le), idb(le, 1, 0, { tsresol: 9 })];
    for (let i = 0; i < 500; i++) {
      parts.push(epb(le, 0, BigInt(i) * 1_000_000_001n, packetBytes(i, 60 + (i % 200))));
      if (i % 50 === 0) parts.push(block(le, 0x4000_0000 | i, new Uint8Array(20_000 + i)));
    }
    const path = writeBytes('skip.pcapng', concat(...parts));
    const got = readAll(path, 1024);
    assert.equal(got.length, 500);
    got.forEach((p, i) => {
      assert.equal(p.tsSec, i);
      assert.equal(p.tsNsec, i);
      assert.deepEqual(p.data, packetBytes(i, 60 + (i % 200)));
    });
  });
});
