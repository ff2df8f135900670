/**
 * Tests for PcapReader and PcapWriter: round trips, hand-built classic pcap and pcapng files in
 * both byte orders, every malformed-file error with its byte offset, streaming through a small
 * buffer, and interoperability with tshark / tcpdump / editcap when they are installed.
 *
 * Capture files are built byte by byte here rather than kept as fixtures so that each test
 * shows exactly which header field it exercises.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { NfcError } from '../errors.js';
import { MAX_CAPLEN, PcapReader, type PcapPacket } from './pcap-reader.js';
import { PcapWriter } from './pcap-writer.js';

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-pcap-'));
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** A fresh path in the test directory. */
function tmp(name: string): string {
  return join(dir, `${seq++}-${name}`);
}

function writeBytes(name: string, bytes: Uint8Array): string {
  const p = tmp(name);
  writeFileSync(p, bytes);
  return p;
}

function readAll(path: string, bufferSize?: number): PcapPacket[] {
  const r = PcapReader.open(path, bufferSize === undefined ? {} : { bufferSize });
  try {
    return [...r];
  } finally {
    r.close();
  }
}

/** Packet bytes whose content encodes (seed, index) so corruption and reordering show up. */
function packetBytes(seed: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** Asserts fn throws NFC_ERR_PCAP_FORMAT whose message names the path and `byte <offset>:`. */
function assertFormatError(fn: () => unknown, path: string, offset: number, text?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NfcError, `expected NfcError, got ${String(err)}`);
    assert.equal(err.code, 'NFC_ERR_PCAP_FORMAT');
    assert.ok(err.message.startsWith(`${path}: byte ${offset}: `), `message: ${err.message}`);
    if (text) assert.match(err.message, text);
    return true;
  });
}

// ------------------------------------------------------------------------------------------------
// Byte builders

/** Growable byte sink with endian-aware stores. */
class Bytes {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  constructor(readonly le: boolean) {}

  private room(n: number): number {
    while (this.length + n > this.buf.length) {
      const g = new Uint8Array(this.buf.length * 2);
      g.set(this.buf);
      this.buf = g;
      this.dv = new DataView(g.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // room() may replace buf and dv, so it runs before they are read.
  u16(v: number): this {
    const at = this.room(2);
    this.dv.setUint16(at, v, this.le);
    return this;
  }
  u32(v: number): this {
    const at = this.room(4);
    this.dv.setUint32(at, v >>> 0, this.le);
    return this;
  }
  u64(v: bigint): this {
    const at = this.room(8);
    this.dv.setBigUint64(at, BigInt.asUintN(64, v), this.le);
    return this;
  }
  raw(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  pad4(): this {
    while (this.length % 4 !== 0) this.room(1);
    return this;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function classicHeader(le: boolean, nano: boolean, snaplen: number, linkType: number): Uint8Array {
  return new Bytes(le)
    .u32(nano ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(snaplen)
    .u32(linkType)
    .bytes();
}

function classicRecord(
  le: boolean,
  sec: number,
  sub: number,
  data: Uint8Array,
  origLen = data.length,
  capLen = data.length,
): Uint8Array {
  return new Bytes(le).u32(sec).u32(sub).u32(capLen).u32(origLen).raw(data).bytes();
}

/** A pcapng block: type, total length, body (padded to 4), total length. */
function block(
  le: boolean,
  type: number,
  body: Uint8Array,
  lenOverride?: { start?: number; end?: number },
): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const total = 12 + padded;
  return new Bytes(le)
    .u32(type)
    .u32(lenOverride?.start ?? total)
    .raw(body)
    .pad4()
    .u32(lenOverride?.end ?? total)
    .bytes();
}

function shb(le: boolean): Uint8Array {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u64(-1n).bytes();
  return block(le, 0x0a0d0d0a, body);
}

function idb(
  le: boolean,
  linkType: number,
  snaplen: number,
  opts: { tsresol?: number; tsoffset?: bigint } = {},
): Uint8Array {
  const b = new Bytes(le).u16(linkType).u16(0).u32(snaplen);
  // A comment option first, so the parser has to walk past an option it does not use.
  const comment = new TextEncoder().encode('nfchain test');
  b.u16(1).u16(comment.length).raw(comment).pad4();
  if (opts.tsresol !== undefined) b.u16(9).u16(1).raw(Uint8Array.of(opts.tsresol)).pad4();
  if (opts.tsoffset !== undefined) b.u16(14).u16(8).u64(opts.tsoffset);
  b.u16(0).u16(0);
  return block(le, 1, b.bytes());
}

function epb(le: boolean, ifId: number, ts: bigint, data: Uint8Array, origLen = data.length): Uint8Array {
  const b = new Bytes(le)
    .u32(ifId)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(origLen)
    .raw(data)
    .pad4();
  // An epb_flags option after the data, which the reader must not confuse with packet bytes.
  b.u16(2).u16(4).u32(1).u16(0).u16(0);
  return block(le, 6, b.bytes());
}

function opb(le: boolean, ifId: number, ts: bigint, data: Uint8Array): Uint8Array {
  const b = new Bytes(le)
    .u16(ifId)
    .u16(0)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(data.length)
    .raw(data);
  return block(le, 2, b.bytes());
}

function spb(le: boolean, origLen: number, data: Uint8Array): Uint8Array {
  return block(le, 3, new Bytes(le).u32(origLen).raw(data).bytes());
}

// ------------------------------------------------------------------------------------------------

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

  test('sub-second field out of range', () => {
    const path = writeBytes('usec.pcap', concat(hdr, classicRecord(le, 1, 1_000_000, packetBytes(0, 10))));
    assertFormatError(() => readAll(path), path, 24, /1000000 microseconds/);
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

describe('interoperability with Wireshark tools and tcpdump', () => {
  // tshark wants a writable profile directory and warns when run as root; neither matters here.
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, LC_ALL: 'C' });
  const has = (cmd: string, args: string[]): boolean =>
    spawnSync(cmd, args, { stdio: 'ignore', env: env() }).status === 0;
  const run = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: env(), maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const lengths = Array.from({ length: 300 }, (_, i) => (i === 7 ? 70_000 : 42 + ((i * 53) % 1473)));

  function writeSample(nanosecond: boolean): string {
    const path = tmp(`interop-${nanosecond ? 'ns' : 'us'}.pcap`);
    const w = PcapWriter.create(path, { nanosecond });
    lengths.forEach((len, i) => {
      w.write(packetBytes(i, len), 0, len, 1_700_000_000 + i, i * 1_000_003);
    });
    w.close();
    return path;
  }

  for (const nanosecond of [false, true]) {
    test(`tshark reads PcapWriter output (${nanosecond ? 'ns' : 'µs'}): counts, lengths and times match`, (t) => {
      if (!has('tshark', ['-v'])) {
        t.skip('tshark not installed: apt-get install tshark');
        return;
      }
      const path = writeSample(nanosecond);
      const out = run('tshark', [
        '-r',
        path,
        '-T',
        'fields',
        '-e',
        'frame.len',
        '-e',
        'frame.cap_len',
        '-e',
        'frame.time_epoch',
      ]);
      const rows = out
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      assert.equal(rows.length, lengths.length);
      rows.forEach(([len, cap, time], i) => {
        const want = lengths[i]!;
        assert.equal(Number(len), want, `frame ${i + 1} frame.len`);
        assert.equal(Number(cap), Math.min(want, 65535), `frame ${i + 1} frame.cap_len`);
        const ns = i * 1_000_003;
        const frac = nanosecond ? String(ns).padStart(9, '0') : String(Math.floor(ns / 1000)).padStart(6, '0');
        assert.ok(time?.startsWith(`${1_700_000_000 + i}.${frac}`), `frame ${i + 1} time ${time}`);
      });
    });
  }

  test('tcpdump reads PcapWriter output', (t) => {
    if (!has('tcpdump', ['--version'])) {
      t.skip('tcpdump not installed: apt-get install tcpdump');
      return;
    }
    const path = writeSample(false);
    // --count prints only "N packets"; decoding our synthetic bytes would print odd lines.
    const out = run('tcpdump', ['--count', '-r', path]);
    assert.match(out, new RegExp(`^${lengths.length} packets`, 'm'));
  });

  test('PcapReader reads pcapng written by editcap (nanosecond interface)', (t) => {
    if (!has('editcap', ['-v'])) {
      t.skip('editcap not installed: apt-get install tshark');
      return;
    }
    const src = writeSample(true);
    const ng = tmp('editcap.pcapng');
    run('editcap', ['-F', 'pcapng', src, ng]);
    const a = readAll(src);
    const b = readAll(ng);
    assert.equal(b.length, a.length);
    b.forEach((p, i) => {
      assert.deepEqual(p, a[i]);
    });
    assert.deepEqual([...readFileSync(ng).subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], 'editcap wrote pcapng');
  });
});
