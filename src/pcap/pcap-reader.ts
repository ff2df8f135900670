/**
 * PcapReader: streams packets out of a capture file (classic pcap or pcapng) for the pcap port,
 * chain golden tests and the benchmarks' traffic replay.
 *
 * Why it looks the way it does:
 * - Captures can be many GB, so the file is read in chunks into one reusable buffer (1 MiB by
 *   default) with positional `fs.readSync`; the buffer grows only when a single record is larger
 *   than it. Synchronous reads keep the RX loop a plain loop with no promise per packet.
 * - `next()` fills and returns ONE record object owned by the reader; its packet bytes are a
 *   window of the reader's buffer (`bytes`, `offset`, `capLen`), valid until the next call.
 *   `record.data` makes a view on first access (one small object), so hot code reads
 *   `bytes`/`offset` or copies with `readInto()` instead.
 * - Input is checked at this boundary: every malformed header or block becomes an
 *   NFC_ERR_PCAP_FORMAT naming the file, the byte offset of the bad header/block and what is
 *   wrong. Past the reader, consumers trust `capLen` and the timestamp fields.
 *
 * Formats (see docs/pcap.md):
 * - classic pcap: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ — magic 0xa1b2c3d4
 *   (microseconds) or 0xa1b23c4d (nanoseconds), written in the writer's byte order.
 * - pcapng: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/ — sections (SHB), each
 *   with its own byte order and interfaces (IDB); packets in EPB, SPB and the obsolete OPB.
 *   Other block types are skipped by their length without being read into memory.
 *
 * The file and its reusable buffer are capture-buffer.ts's (CaptureBuffer, this class's base);
 * a pcapng section's interfaces and their timestamp units are pcapng-interfaces.ts's; the
 * records it returns (PcapRecord, the reused record, PcapPacket) are pcap-record.ts's.
 *
 * Every method here is hot-path and allocation-free unless its comment says cold or
 * `Allocates:`.
 */

import { openSync } from 'node:fs';
import { NfcError } from '../errors.js';
import { CaptureBuffer, closeQuietly, errText } from './capture-buffer.js';
import { PcapngInterfaces, TWO_32 } from './pcapng-interfaces.js';
import { type PcapPacket, type PcapRecord, ReusedRecord } from './pcap-record.js';

export type { PcapPacket, PcapRecord } from './pcap-record.js';

/** Largest captured length we accept; anything bigger is a corrupt header, not a packet. */
export const MAX_CAPLEN = 256 * 1024;

/** Default size of the reusable read buffer. */
export const DEFAULT_READ_BUFFER = 1 << 20;

/** Largest pcapng block we read into memory (packet blocks and their options, SHB, IDB). */
const MAX_BUFFERED_BLOCK = 16 << 20;

// Classic pcap magics as read little-endian from the first four bytes.
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_US_SWAPPED = 0xd4c3b2a1;
const MAGIC_NS_SWAPPED = 0x4d3cb2a1;
const PCAP_GLOBAL_HEADER = 24;
const PCAP_RECORD_HEADER = 16;

// pcapng block types and constants.
const BT_SHB = 0x0a0d0d0a; // palindromic, so it reads the same in either byte order
const BT_IDB = 0x00000001;
const BT_OPB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/** Minimum total lengths of the blocks we parse: header, fixed fields, trailer. */
const MIN_LEN = { shb: 28, idb: 20, epb: 32, spb: 16, opb: 32 } as const;

export interface PcapReaderOptions {
  /** Initial read buffer size in bytes (default 1 MiB); grows for a larger record. */
  bufferSize?: number;
}

export class PcapReader extends CaptureBuffer {
  readonly format: 'pcap' | 'pcapng';
  /** records whose sub-second field was a second or more, carried into the seconds (classic pcap) */
  normalized = 0;

  private readonly rec: ReusedRecord;
  private records = 0;

  // Classic pcap state.
  private classicLittle = true;
  private classicNano = false;
  private classicSnaplen = 0;
  private classicLinkType = 0;

  // pcapng state: the current section.
  private little = true;
  private ifs = new PcapngInterfaces();

  /**
   * Opens a capture and reads its file header (classic) or first Section Header Block (pcapng).
   * Cold. Allocates: the reader and its read buffer.
   */
  static open(path: string, options: PcapReaderOptions = {}): PcapReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new NfcError('NFC_ERR_PCAP_IO', `${path}: cannot open capture for reading: ${errText(cause)}`, {
        fix: 'check that the file exists and is readable',
        cause,
      });
    }
    try {
      return new PcapReader(path, fd, options.bufferSize ?? DEFAULT_READ_BUFFER);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
  }

  /** Cold (see open). Allocates: the read buffer and the reused record. */
  private constructor(path: string, fd: number, bufferSize: number) {
    super(path, fd, bufferSize);
    this.rec = new ReusedRecord(this.buf);

    if (!this.fill(4)) {
      throw this.formatError(
        0,
        this.tail === 0
          ? 'file is empty (not a pcap or pcapng capture)'
          : `file ends inside the file header (${this.tail} bytes; truncated capture?)`,
      );
    }
    const magic = this.dv.getUint32(0, true);
    if (magic === BT_SHB) {
      this.format = 'pcapng';
      this.readSectionHeader();
      return;
    }
    this.format = 'pcap';
    switch (magic) {
      case MAGIC_US:
        this.classicLittle = true;
        this.classicNano = false;
        break;
      case MAGIC_NS:
        this.classicLittle = true;
        this.classicNano = true;
        break;
      case MAGIC_US_SWAPPED:
        this.classicLittle = false;
        this.classicNano = false;
        break;
      case MAGIC_NS_SWAPPED:
        this.classicLittle = false;
        this.classicNano = true;
        break;
      default: {
        const first = Array.from(this.buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
        throw this.formatError(
          0,
          `unknown magic number (first bytes ${first}); supported formats are ` +
            'classic pcap (a1b2c3d4 / a1b23c4d, either byte order) and pcapng (0a0d0d0a)',
        );
      }
    }
    if (!this.fill(PCAP_GLOBAL_HEADER)) {
      throw this.formatError(
        0,
        `file ends inside the pcap file header (${this.tail} of ${PCAP_GLOBAL_HEADER} bytes; truncated capture?)`,
      );
    }
    const le = this.classicLittle;
    const major = this.dv.getUint16(4, le);
    if (major !== 2)
      throw this.formatError(4, `unsupported pcap version ${major}.${this.dv.getUint16(6, le)} (expected 2.x)`);
    this.classicSnaplen = this.dv.getUint32(16, le);
    // The top bits of the link-type word carry FCS information; the link type is the low 16.
    this.classicLinkType = this.dv.getUint32(20, le) & 0xffff;
    this.head = PCAP_GLOBAL_HEADER;
  }

  /** Records returned so far. */
  get count(): number {
    return this.records;
  }

  /** Link type from the pcap header; for pcapng, of interface 0 once its IDB is read, else -1. */
  get linkType(): number {
    if (this.format === 'pcap') return this.classicLinkType;
    return this.ifs.linkType[0] ?? -1;
  }

  /** Snapshot length from the pcap header (0 = none); for pcapng, of interface 0, else -1. */
  get snaplen(): number {
    if (this.format === 'pcap') return this.classicSnaplen;
    return this.ifs.snaplen[0] ?? -1;
  }

  /** Whether classic pcap timestamps are in nanoseconds (pcapng: always false). */
  get nanosecond(): boolean {
    return this.format === 'pcap' && this.classicNano;
  }

  /** The reused record, as last filled by next() or readInto(). */
  get record(): PcapRecord {
    return this.rec;
  }

  /**
   * Reads the next packet, or returns null at the end of the file. The returned object is the
   * reader's one record, refilled on every call; its bytes are valid until the next call.
   * Allocates: nothing per packet; a larger buffer when a record does not fit the current one
   * (it then stays); for pcapng, each section's interface table as its blocks come by, and
   * BigInts for clocks finer than 2^-37 s.
   */
  next(): PcapRecord | null {
    if (this.fd < 0) throw new NfcError('NFC_ERR_PCAP_IO', `${this.path}: reader is closed`);
    const ok = this.format === 'pcap' ? this.nextClassic() : this.nextNg();
    if (!ok) return null;
    this.records++;
    return this.rec;
  }

  /**
   * Reads the next packet and copies up to `max` of its captured bytes into dst at dstOffset.
   * Returns the number of bytes copied, or -1 at the end of the file; timestamps and lengths
   * are in `reader.record`. Allocates: the one short-lived subarray view it copies through
   * (and what next() allocates), which measured faster than a byte loop for every packet size
   * (there is no allocation-free bulk copy between two typed arrays in JS).
   */
  readInto(dst: Uint8Array, dstOffset = 0, max = dst.length - dstOffset): number {
    const r = this.next();
    if (r === null) return -1;
    const n = r.capLen < max ? r.capLen : max;
    dst.set(this.buf.subarray(this.rec.offset, this.rec.offset + n), dstOffset);
    return n;
  }

  /** Iterates over copies of the remaining packets. Cold. Allocates: every packet's copy. */
  *[Symbol.iterator](): Generator<PcapPacket, void, undefined> {
    for (let r = this.next(); r !== null; r = this.next()) {
      yield {
        tsSec: r.tsSec,
        tsNsec: r.tsNsec,
        capLen: r.capLen,
        origLen: r.origLen,
        linkType: r.linkType,
        interfaceId: r.interfaceId,
        data: r.data.slice(),
      };
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Classic pcap

  private nextClassic(): boolean {
    const at = this.bufFilePos + this.head;
    if (!this.fill(PCAP_RECORD_HEADER)) {
      const have = this.tail - this.head;
      if (have === 0) return false;
      throw this.formatError(
        at,
        `file ends inside a record header (${have} of ${PCAP_RECORD_HEADER} bytes; truncated capture?)`,
      );
    }
    const dv = this.dv;
    const h = this.head;
    const le = this.classicLittle;
    const sec = dv.getUint32(h, le);
    const sub = dv.getUint32(h + 4, le);
    const capLen = dv.getUint32(h + 8, le);
    const origLen = dv.getUint32(h + 12, le);
    this.checkCapLen(at, capLen, this.classicSnaplen, 'record header');
    // A sub-second field of a whole second or more (some generators write them): read as tcpdump
    // and tshark do, carried into the seconds, and counted. (The captured length above is what
    // shows a misaligned record.)
    const unit = this.classicNano ? 1_000_000_000 : 1_000_000;
    let s = sec;
    let f = sub;
    if (f >= unit) {
      s += Math.floor(f / unit);
      f %= unit;
      this.normalized++;
    }
    if (!this.fill(PCAP_RECORD_HEADER + capLen)) {
      const have = this.tail - this.head - PCAP_RECORD_HEADER;
      throw this.formatError(
        at,
        `file ends inside a record body (header says ${capLen} captured bytes, ${have} present; truncated capture?)`,
      );
    }
    const rec = this.rec;
    rec.tsSec = s;
    rec.tsNsec = this.classicNano ? f : f * 1000;
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.linkType = this.classicLinkType;
    rec.interfaceId = 0;
    this.setData(this.head + PCAP_RECORD_HEADER);
    this.head += PCAP_RECORD_HEADER + capLen;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // pcapng

  /** Loops over blocks until one carries a packet; false at a clean end of file. */
  private nextNg(): boolean {
    for (;;) {
      const at = this.bufFilePos + this.head;
      if (!this.fill(8)) {
        const have = this.tail - this.head;
        if (have === 0) return false;
        throw this.formatError(at, `file ends inside a block header (${have} of 8 bytes; truncated capture?)`);
      }
      const type = this.dv.getUint32(this.head, this.little);
      if (type === BT_SHB) {
        this.readSectionHeader();
        continue;
      }
      const len = this.dv.getUint32(this.head + 4, this.little);
      this.checkBlockLength(at, type, len, 12);
      if (type !== BT_EPB && type !== BT_IDB && type !== BT_SPB && type !== BT_OPB) {
        this.skipBlock(at, type, len);
        continue;
      }
      this.loadBlock(at, type, len);
      switch (type) {
        case BT_EPB:
          this.parsePacketBlock(at, len, false);
          return true;
        case BT_OPB:
          this.parsePacketBlock(at, len, true);
          return true;
        case BT_SPB:
          this.parseSimplePacket(at, len);
          return true;
        default:
          this.parseInterface(at, len);
          break; // BT_IDB
      }
    }
  }

  /**
   * Reads an SHB at head: sets the section's byte order and clears its interface table. Cold.
   * Allocates: the section's interface table.
   */
  private readSectionHeader(): void {
    const at = this.bufFilePos + this.head;
    if (!this.fill(12)) {
      throw this.formatError(
        at,
        `file ends inside a Section Header Block (${this.tail - this.head} bytes; truncated capture?)`,
      );
    }
    const bom = this.dv.getUint32(this.head + 8, true);
    if (bom === BYTE_ORDER_MAGIC) this.little = true;
    else if (bom === 0x4d3c2b1a) this.little = false;
    else {
      throw this.formatError(
        at,
        `Section Header Block byte-order magic is 0x${hex(bom)}, expected 1a2b3c4d in either byte order`,
      );
    }
    const len = this.dv.getUint32(this.head + 4, this.little);
    this.checkBlockLength(at, BT_SHB, len, MIN_LEN.shb);
    this.loadBlock(at, BT_SHB, len);
    const major = this.dv.getUint16(this.head + 12, this.little);
    const minor = this.dv.getUint16(this.head + 14, this.little);
    if (major !== 1) throw this.formatError(at, `unsupported pcapng version ${major}.${minor} (expected 1.x)`);
    this.ifs = new PcapngInterfaces();
    this.head += len;
  }

  /** IDB: link type, snaplen and the timestamp options of one interface. Cold. Allocates: its table entries. */
  private parseInterface(at: number, len: number): void {
    if (len < MIN_LEN.idb)
      throw this.formatError(at, `Interface Description Block length ${len} is below the ${MIN_LEN.idb}-byte minimum`);
    const dv = this.dv;
    const le = this.little;
    const b = this.head;
    const linkType = dv.getUint16(b + 8, le);
    const snaplen = dv.getUint32(b + 12, le);
    let tsresol = 6; // default: microseconds
    let tsOffset = 0;
    const end = b + len - 4;
    let p = b + 16;
    while (p + 4 <= end) {
      const code = dv.getUint16(p, le);
      const olen = dv.getUint16(p + 2, le);
      if (code === OPT_ENDOFOPT) break;
      if (p + 4 + olen > end) {
        throw this.formatError(
          this.bufFilePos + p,
          `option ${code} of length ${olen} runs past the end of its Interface Description Block (block at byte ${at})`,
        );
      }
      if (code === IF_TSRESOL) {
        if (olen !== 1) throw this.formatError(this.bufFilePos + p, `if_tsresol option has length ${olen}, expected 1`);
        tsresol = this.buf[p + 4] ?? 6;
      } else if (code === IF_TSOFFSET) {
        if (olen !== 8)
          throw this.formatError(this.bufFilePos + p, `if_tsoffset option has length ${olen}, expected 8`);
        const lo = dv.getUint32(p + 4 + (le ? 0 : 4), le);
        const hi = dv.getInt32(p + 4 + (le ? 4 : 0), le);
        tsOffset = hi * TWO_32 + lo;
      }
      p += 4 + ((olen + 3) & ~3);
    }
    this.ifs.add(linkType, snaplen, tsresol, tsOffset);
    this.head += len;
  }

  /** EPB (or the obsolete OPB, which has a 16-bit interface id and a drop counter). */
  private parsePacketBlock(at: number, len: number, obsolete: boolean): void {
    const name = obsolete ? 'Packet Block' : 'Enhanced Packet Block';
    const min = obsolete ? MIN_LEN.opb : MIN_LEN.epb;
    if (len < min) throw this.formatError(at, `${name} length ${len} is below the ${min}-byte minimum`);
    const dv = this.dv;
    const le = this.little;
    const b = this.head;
    const ifId = obsolete ? dv.getUint16(b + 8, le) : dv.getUint32(b + 8, le);
    const tsHi = dv.getUint32(b + 12, le);
    const tsLo = dv.getUint32(b + 16, le);
    const capLen = dv.getUint32(b + 20, le);
    const origLen = dv.getUint32(b + 24, le);
    const ifs = this.ifs;
    if (ifId >= ifs.linkType.length) {
      throw this.formatError(
        at,
        `${name} refers to interface ${ifId} but this section describes ` +
          `${ifs.linkType.length} interface${ifs.linkType.length === 1 ? '' : 's'}`,
      );
    }
    this.checkCapLen(at, capLen, ifs.snaplen[ifId] ?? 0, name);
    if (28 + capLen + 4 > len) {
      throw this.formatError(
        at,
        `${name} says ${capLen} captured bytes but its length ${len} leaves room for ${len - 32}`,
      );
    }
    const rec = this.rec;
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.linkType = ifs.linkType[ifId] ?? 0;
    rec.interfaceId = ifId;
    ifs.setTimestamp(rec, tsHi, tsLo, ifId);
    this.setData(b + 28);
    this.head += len;
  }

  /** SPB: no timestamp and no interface id; it belongs to interface 0 and is cut to its snaplen. */
  private parseSimplePacket(at: number, len: number): void {
    if (len < MIN_LEN.spb)
      throw this.formatError(at, `Simple Packet Block length ${len} is below the ${MIN_LEN.spb}-byte minimum`);
    const ifs = this.ifs;
    if (ifs.linkType.length === 0) {
      throw this.formatError(at, 'Simple Packet Block refers to interface 0 but this section describes no interfaces');
    }
    const origLen = this.dv.getUint32(this.head + 8, this.little);
    const snaplen = ifs.snaplen[0] ?? 0;
    const capLen = snaplen !== 0 && origLen > snaplen ? snaplen : origLen;
    if (capLen > MAX_CAPLEN) {
      throw this.formatError(
        at,
        `Simple Packet Block says ${capLen} captured bytes, above the ${MAX_CAPLEN}-byte limit (corrupt block?)`,
      );
    }
    if (16 + capLen > len) {
      throw this.formatError(
        at,
        `Simple Packet Block says ${capLen} captured bytes but its length ${len} leaves room for ${len - 16}`,
      );
    }
    const rec = this.rec;
    rec.tsSec = 0;
    rec.tsNsec = 0;
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.linkType = ifs.linkType[0] ?? 0;
    rec.interfaceId = 0;
    this.setData(this.head + 12);
    this.head += len;
  }

  /** Block length sanity shared by every block type. */
  private checkBlockLength(at: number, type: number, len: number, min: number): void {
    if (len % 4 !== 0) {
      throw this.formatError(at, `block of type 0x${hex(type)} has length ${len}, which is not a multiple of 4`);
    }
    if (len < min) {
      throw this.formatError(at, `block of type 0x${hex(type)} has length ${len}, below the ${min}-byte minimum`);
    }
  }

  /** Brings a whole block into the buffer and checks its trailing length. */
  private loadBlock(at: number, type: number, len: number): void {
    if (len > MAX_BUFFERED_BLOCK) {
      throw this.formatError(
        at,
        `block of type 0x${hex(type)} has length ${len}, above the ${MAX_BUFFERED_BLOCK}-byte limit (corrupt block?)`,
      );
    }
    if (!this.fill(len)) {
      throw this.formatError(
        at,
        `file ends inside a block of type 0x${hex(type)} (length ${len}, ${this.tail - this.head} bytes present; truncated capture?)`,
      );
    }
    const trailer = this.dv.getUint32(this.head + len - 4, this.little);
    if (trailer !== len) {
      throw this.formatError(
        at,
        `block of type 0x${hex(type)} has length ${len} at its start but ${trailer} at its end`,
      );
    }
  }

  /** Skips a block we do not parse, seeking over it when it is not already buffered. */
  private skipBlock(at: number, type: number, len: number): void {
    const end = at + len;
    if (end > this.fileSize) {
      throw this.formatError(
        at,
        `file ends inside a block of type 0x${hex(type)} (length ${len}, ${this.fileSize - at} bytes present; truncated capture?)`,
      );
    }
    if (this.head + len <= this.tail) {
      this.head += len - 4;
    } else {
      // Drop the buffer and continue reading at the trailer.
      this.bufFilePos = end - 4;
      this.head = 0;
      this.tail = 0;
      if (!this.fill(4)) {
        throw this.formatError(
          at,
          `file ends inside a block of type 0x${hex(type)} (the file shrank while being read?)`,
        );
      }
    }
    const trailer = this.dv.getUint32(this.head, this.little);
    if (trailer !== len) {
      throw this.formatError(
        at,
        `block of type 0x${hex(type)} has length ${len} at its start but ${trailer} at its end`,
      );
    }
    this.head += 4;
  }

  private checkCapLen(at: number, capLen: number, snaplen: number, what: string): void {
    if (capLen > MAX_CAPLEN) {
      throw this.formatError(
        at,
        `${what} says ${capLen} captured bytes, above the ${MAX_CAPLEN}-byte limit (corrupt record?)`,
      );
    }
    if (snaplen !== 0 && capLen > snaplen) {
      throw this.formatError(at, `${what} says ${capLen} captured bytes but snaplen is ${snaplen}`);
    }
  }

  /** Points the record at buf[offset, offset + capLen). */
  private setData(offset: number): void {
    const rec = this.rec;
    rec.bytes = this.buf;
    rec.offset = offset;
    rec.view = null;
  }
}

/** 8 hex digits, for error messages. Allocates: the string. */
function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
