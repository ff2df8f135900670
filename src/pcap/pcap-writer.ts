/**
 * PcapWriter: writes packets to a classic pcap file (the pcap port's TX side, chain golden
 * outputs, captures taken by the console) that tcpdump, tshark and PcapReader read.
 *
 * Why it looks the way it does:
 * - Classic pcap rather than pcapng: every tool reads it, and one record is a fixed 16-byte
 *   header plus the bytes, so a write is two stores and one copy.
 * - Little-endian always (the host order on the x86 and arm64 machines we run on); readers
 *   detect the order from the magic, so this is never ambiguous.
 * - Records go into one reusable buffer (1 MiB by default) flushed with fs.writeSync when the
 *   next record would not fit, so the TX loop makes one system call per ~1 MiB, not per packet.
 *
 * The hot path is write() (the TX loop calls it per packet) and the flush() it makes when the
 * buffer is full; create() and close() are cold. Nothing here allocates unless its comment says
 * `Allocates:` (a thrown NfcError aside).
 *
 * Record layout (draft-ietf-opsawg-pcap):
 *
 *   0          4          8          12         16
 *   +----------+----------+----------+----------+-------------------------
 *   | ts sec   | ts µs/ns | cap len  | orig len | cap len bytes of packet
 *   +----------+----------+----------+----------+-------------------------
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { NfcError } from '../errors.js';
import { MAX_CAPLEN } from './pcap-reader.js';

/** Default size of the reusable output buffer. */
export const DEFAULT_WRITE_BUFFER = 1 << 20;

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;

export interface PcapWriterOptions {
  /** LINKTYPE_* written in the file header (default 1, Ethernet). */
  linkType?: number;
  /** Longest captured length; longer packets are truncated (default 65535). */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds (default false). */
  nanosecond?: boolean;
  /** Output buffer size in bytes (default 1 MiB; at least one full record). */
  bufferSize?: number;
}

export class PcapWriter {
  readonly path: string;
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanosecond: boolean;

  private fd: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;
  private records = 0;
  private truncatedRecords = 0;

  /**
   * Creates (or truncates) `path` and writes the pcap file header. Cold. Allocates: the writer
   * and its buffer.
   */
  static create(path: string, options: PcapWriterOptions = {}): PcapWriter {
    const linkType = options.linkType ?? 1;
    const snaplen = options.snaplen ?? 65535;
    const nanosecond = options.nanosecond ?? false;
    const bufferSize = options.bufferSize ?? DEFAULT_WRITE_BUFFER;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `PcapWriter: linkType must be an integer 0..65535, got ${linkType}`);
    }
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_CAPLEN) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `PcapWriter: snaplen must be an integer 1..${MAX_CAPLEN}, got ${snaplen}`,
      );
    }
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `PcapWriter: bufferSize must be a positive integer, got ${bufferSize}`);
    }
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (cause) {
      throw new NfcError('NFC_ERR_PCAP_IO', `${path}: cannot create capture: ${errText(cause)}`, {
        fix: 'check that the directory exists and is writable',
        cause,
      });
    }
    return new PcapWriter(path, fd, linkType, snaplen, nanosecond, Math.max(bufferSize, RECORD_HEADER + snaplen));
  }

  private constructor(
    path: string,
    fd: number,
    linkType: number,
    snaplen: number,
    nanosecond: boolean,
    bufferSize: number,
  ) {
    this.path = path;
    this.fd = fd;
    this.linkType = linkType;
    this.snaplen = snaplen;
    this.nanosecond = nanosecond;
    this.buf = new Uint8Array(bufferSize);
    this.dv = new DataView(this.buf.buffer);
    const dv = this.dv;
    dv.setUint32(0, nanosecond ? MAGIC_NS : MAGIC_US, true);
    dv.setUint16(4, 2, true); // version 2.4
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone: timestamps are UTC
    dv.setUint32(12, 0, true); // sigfigs
    dv.setUint32(16, snaplen, true);
    dv.setUint32(20, linkType, true);
    this.used = GLOBAL_HEADER;
  }

  /** Records written so far. */
  get count(): number {
    return this.records;
  }

  /** Records cut to snaplen so far. */
  get truncated(): number {
    return this.truncatedRecords;
  }

  /**
   * Appends one packet: bytes[offset, offset + length) stamped tsSec + tsNsec (nanoseconds,
   * written as microseconds unless the file is nanosecond). Captured length is
   * min(length, snaplen); origLen defaults to length. Inputs are trusted (hot path).
   * Allocates: the one short-lived subarray view the copy needs when the packet is not the
   * whole of `bytes` (measured faster than a byte loop at every size).
   */
  write(
    bytes: Uint8Array,
    offset: number,
    length: number,
    tsSec: number,
    tsNsec: number,
    origLen: number = length,
  ): void {
    if (this.fd < 0) throw new NfcError('NFC_ERR_PCAP_IO', `${this.path}: writer is closed`);
    let capLen = length;
    if (capLen > this.snaplen) {
      capLen = this.snaplen;
      this.truncatedRecords++;
    }
    if (this.used + RECORD_HEADER + capLen > this.buf.length) this.flush();
    const dv = this.dv;
    const at = this.used;
    dv.setUint32(at, tsSec >>> 0, true);
    dv.setUint32(at + 4, this.nanosecond ? tsNsec >>> 0 : (tsNsec / 1000) >>> 0, true);
    dv.setUint32(at + 8, capLen, true);
    dv.setUint32(at + 12, origLen >>> 0, true);
    if (offset === 0 && capLen === bytes.length) this.buf.set(bytes, at + RECORD_HEADER);
    else this.buf.set(bytes.subarray(offset, offset + capLen), at + RECORD_HEADER);
    this.used = at + RECORD_HEADER + capLen;
    this.records++;
  }

  /** Writes the buffered records to the file. */
  flush(): void {
    if (this.fd < 0) return;
    let done = 0;
    try {
      while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    } catch (cause) {
      throw new NfcError('NFC_ERR_PCAP_IO', `${this.path}: write failed: ${errText(cause)}`, {
        fix: 'check free disk space and permissions',
        cause,
      });
    }
    this.used = 0;
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    // The file is closed even when the flush fails; the flush's error is the one reported.
    let flushError: unknown;
    try {
      this.flush();
    } catch (err) {
      flushError = err;
    }
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch (cause) {
      if (flushError === undefined) {
        throw new NfcError('NFC_ERR_PCAP_IO', `${this.path}: cannot close capture: ${errText(cause)}`, { cause });
      }
    }
    if (flushError !== undefined) throw flushError;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
