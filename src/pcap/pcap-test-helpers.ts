/**
 * Helpers shared by the PcapReader / PcapWriter tests (pcap-*.test.ts): a temporary directory
 * for the capture files, reading a whole capture, deterministic packet bytes, the check for a
 * format error at a byte offset, and builders for classic pcap and pcapng files.
 *
 * Capture files are built byte by byte here rather than kept as fixtures so that each test
 * shows exactly which header field it exercises.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { PcapReader, type PcapPacket } from './pcap-reader.js';

/** The test file's temporary directory, set by the `before` hook that useTempDir() registers. */
export let dir = '';
let seq = 0;

/** Registers hooks that create `dir` before the file's tests and remove it after them. */
export function useTempDir(): void {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nfchain-pcap-'));
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
}

/** A fresh path in the test directory. */
export function tmp(name: string): string {
  assert.notEqual(dir, '', 'call useTempDir() at the top of the test file');
  return join(dir, `${seq++}-${name}`);
}

export function writeBytes(name: string, bytes: Uint8Array): string {
  const p = tmp(name);
  writeFileSync(p, bytes);
  return p;
}

export function readAll(path: string, bufferSize?: number): PcapPacket[] {
  const r = PcapReader.open(path, bufferSize === undefined ? {} : { bufferSize });
  try {
    return [...r];
  } finally {
    r.close();
  }
}

/** Packet bytes whose content encodes (seed, index) so corruption and reordering show up. */
export function packetBytes(seed: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** Asserts fn throws NFC_ERR_PCAP_FORMAT whose message names the path and `byte <offset>:`. */
export function assertFormatError(fn: () => unknown, path: string, offset: number, text?: RegExp): void {
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
export class Bytes {
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

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function classicHeader(le: boolean, nano: boolean, snaplen: number, linkType: number): Uint8Array {
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

export function classicRecord(
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
export function block(
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

export function shb(le: boolean): Uint8Array {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u64(-1n).bytes();
  return block(le, 0x0a0d0d0a, body);
}

export function idb(
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

export function epb(le: boolean, ifId: number, ts: bigint, data: Uint8Array, origLen = data.length): Uint8Array {
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

export function opb(le: boolean, ifId: number, ts: bigint, data: Uint8Array): Uint8Array {
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

export function spb(le: boolean, origLen: number, data: Uint8Array): Uint8Array {
  return block(le, 3, new Bytes(le).u32(origLen).raw(data).bytes());
}
