/**
 * The `pcap` port: a capture file as incoming traffic (RX) and a capture file as outgoing
 * traffic (TX) — chain golden tests (pcap in → chain → pcap out, compared), replaying real
 * traffic, and looking at a chain's output in Wireshark.
 *
 * RX (openPcapRx): reads `rx` (classic pcap or pcapng) with PcapReader. Only Ethernet captures
 * (link type 1) are accepted; anything else is an NfcError at open. Each packet's meta gets
 * the capture's timestamps (tsSec/tsNsec), so a chain that leaves them alone writes them back
 * out unchanged. Pacing by `speed`:
 *
 *   'max'       every burst takes as many packets as it has room for
 *   'realtime'  packet k is delivered once  now - start >= ts(k) - ts(first)
 *   m (number)  the same at m times the capture's pace:  (now - start) · m >= ts(k) - ts(first)
 *
 * `start` is the first rxBurst call, not open, so a slow start-up does not become a burst.
 * With `loop`, the file is reopened at its end and the next pass starts when the last packet of
 * the previous pass was due (no drift, no gap). Packets larger than the pool's data room are
 * cut to it and counted (`truncated`). Records of another link type inside a pcapng file with
 * several interfaces are skipped and counted (`skipped`).
 *
 * Replay is lossless: when the pool is empty the due packet waits for the next burst (counted
 * once per burst in rxNoBuffer), like tcpreplay from a file rather than a NIC. A capture that
 * turns out to be corrupt half-way is not an exception on the data path: the port stops
 * (`done`), and `error` holds the NfcError for the control plane to show.
 *
 * TX (openPcapTx): writes every packet to `tx` with PcapWriter (nanosecond pcap, so meta
 * timestamps survive exactly), stamped with the packet's meta timestamp, then frees it. A write
 * failure (disk full) stops the writer: later packets are freed and counted in txDropped, and
 * `error` holds the cause. A capture shows what a wire would carry, so offloads are done in
 * software first (offload.ts): a partial checksum is completed and a GSO super-frame is written
 * as its segments (`offload` counts both, and the super-frames dropped). txBurst's count and
 * txDropped are in packets as the chain handed them over (a super-frame is one, sent when all
 * its segments were written); `sent` counts the records written.
 *
 * Allocation: copying a packet between the reader's buffer (or the writer's) and the pool
 * takes one short-lived subarray view per packet — JS has no allocation-free bulk copy between
 * two typed arrays, and PcapReader/PcapWriter measured that faster than a byte loop at every
 * size (see their comments). Nothing else is allocated per packet or per burst.
 */
import { statSync } from 'node:fs';
import { NfcError } from '../errors.js';
import { PcapReader, MAX_CAPLEN, type PcapRecord } from '../pcap/pcap-reader.js';
import { PcapWriter } from '../pcap/pcap-writer.js';
import { Meta } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import type { PcapPortConfig } from './config.js';
import { SoftwareOffload, type OffloadCounters } from './offload.js';
import type { PortContext, RxPort, TxPort } from './port.js';

const LINKTYPE_ETHERNET = 1;

/** Names of link types people meet in practice, for the error message. */
const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'BSD loopback (NULL)',
  101: 'raw IP',
  105: 'IEEE 802.11',
  113: 'Linux cooked capture (SLL)',
  127: '802.11 radiotap',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked capture v2 (SLL2)',
};

/** The pcap port's RX half: the RxPort plus replay counters. */
export interface PcapRxPort extends RxPort {
  /** Packets delivered so far (all passes). */
  readonly received: number;
  /** Packets cut to the pool's data room. */
  readonly truncated: number;
  /** Records of another link type that were skipped (pcapng with several interfaces). */
  readonly skipped: number;
  /** Completed passes through the capture (grows with `loop`). */
  readonly passes: number;
  /** Why the port stopped early (corrupt capture, I/O error), else null. */
  readonly error: NfcError | null;
}

/** The pcap port's TX half: the TxPort plus what it wrote. */
export interface PcapTxPort extends TxPort {
  /** Records written so far (each segment of a super-frame is one). */
  readonly sent: number;
  /** Software offloads done before writing: checksums completed, super-frames segmented or dropped. */
  readonly offload: OffloadCounters;
  /** Why the writer stopped (write failure), else null. */
  readonly error: NfcError | null;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The OS-level reason inside an NfcError from PcapReader/PcapWriter (its cause), else its text. */
function reason(err: unknown): string {
  if (err instanceof NfcError && err.cause instanceof Error) return err.cause.message;
  return errText(err);
}

/** Re-labels an error from the capture layer with the port's name (cold). */
function portError(ctx: PortContext, err: unknown, what: string, fix: string): NfcError {
  const code = err instanceof NfcError ? err.code : 'NFC_ERR_PCAP_IO';
  return new NfcError(code, `port "${ctx.portName}" (pcap): ${what}`, { fix, cause: err });
}

/** Pace factor: 0 for 'max', else how many capture-seconds pass per wall-clock second. */
function paceFactor(cfg: PcapPortConfig, ctx: PortContext): number {
  const s = cfg.speed;
  if (s === 'max') return 0;
  if (s === 'realtime') return 1;
  if (typeof s === 'number' && Number.isFinite(s) && s > 0) return s;
  throw new NfcError(
    'NFC_ERR_INVALID_ARG',
    `port "${ctx.portName}" (pcap): speed ${JSON.stringify(s)} must be 'max', 'realtime' or a number > 0`,
    {
      fix: "use 'max' to read as fast as possible, 'realtime' for the capture's own pace, or e.g. 2 for twice that pace",
    },
  );
}

/** Read-buffer size for a capture: its size, between 4 KiB and 1 MiB (the reader grows it for a larger record). */
function readBufferSize(path: string): number {
  let size = 1 << 20;
  try {
    size = statSync(path).size;
  } catch {
    // PcapReader.open reports the problem with the path.
  }
  return Math.min(1 << 20, Math.max(4096, size));
}

class PcapRx implements PcapRxPort {
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly portId: number;
  private readonly ctx: PortContext;
  private readonly path: string;
  private readonly loop: boolean;
  private readonly bufferSize: number;
  private readonly factor: number;
  private readonly dataRoom: number;

  private reader: PcapReader | null;
  /** The next packet to deliver (a record of `reader`, valid until its next()), or null. */
  private pending: PcapRecord | null = null;
  private finished = false;

  /** Pacing: wall-clock ms of the current pass's start, capture time of its first packet. */
  private started = false;
  private startMs = 0;
  private baseSec = 0;
  private baseNsec = 0;
  /** Capture time of the last packet delivered (to start the next pass when it was due). */
  private lastSec = 0;
  private lastNsec = 0;
  private rebase = false;
  private passRecords = 0;

  private delivered = 0;
  private cut = 0;
  private skippedRecords = 0;
  private completedPasses = 0;
  private noBuffer = 0;
  private failure: NfcError | null = null;

  /** Setup: opens the capture and reads its first packet (cold, allocates). */
  constructor(cfg: PcapPortConfig, ctx: PortContext) {
    if (typeof cfg.rx !== 'string' || cfg.rx === '') {
      throw new NfcError('NFC_ERR_INVALID_ARG', `port "${ctx.portName}" (pcap): no capture to read (option rx)`, {
        fix: 'set rx to the path of a pcap or pcapng file, or leave the port transmit-only',
      });
    }
    this.factor = paceFactor(cfg, ctx);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.portId = ctx.portId;
    this.ctx = ctx;
    this.path = cfg.rx;
    this.loop = cfg.loop === true;
    this.dataRoom = ctx.pool.dataRoom;
    this.bufferSize = readBufferSize(this.path);
    const reader = this.openReader();
    this.reader = reader;
    let first: PcapRecord | null;
    try {
      // Classic pcap names its link type in the file header; pcapng in the first interface
      // block, which the first packet follows.
      first = reader.linkType === LINKTYPE_ETHERNET || reader.format === 'pcapng' ? reader.next() : null;
    } catch (err) {
      reader.close();
      throw portError(
        ctx,
        err,
        `cannot read capture ${this.path}: ${errText(err)}`,
        'check that the file is a complete pcap or pcapng capture (e.g. with `capinfos`)',
      );
    }
    const linkType = first !== null ? first.linkType : reader.linkType;
    if (linkType !== LINKTYPE_ETHERNET && linkType !== -1) {
      reader.close();
      const name = LINK_TYPE_NAMES[linkType];
      throw new NfcError(
        'NFC_ERR_PCAP_FORMAT',
        `port "${ctx.portName}" (pcap): capture ${this.path} has link type ${linkType}${name === undefined ? '' : ` (${name})`}; ` +
          'the pcap port reads Ethernet captures only (link type 1)',
        {
          fix:
            'capture on an Ethernet interface (e.g. `tcpdump -i eth0 -w file.pcap`, not `-i any`), or convert the capture ' +
            'to Ethernet, e.g. `tcprewrite --dlt=enet --infile=in.pcap --outfile=out.pcap`',
        },
      );
    }
    if (first === null) {
      this.finish();
    } else {
      this.pending = first;
      this.passRecords = 1;
      this.baseSec = first.tsSec;
      this.baseNsec = first.tsNsec;
    }
  }

  private openReader(): PcapReader {
    try {
      return PcapReader.open(this.path, { bufferSize: this.bufferSize });
    } catch (err) {
      if (err instanceof NfcError && err.code === 'NFC_ERR_PCAP_IO') {
        throw portError(
          this.ctx,
          err,
          `cannot open capture ${this.path} for reading: ${reason(err)}`,
          "check that the file exists and is readable, or change the port's rx path",
        );
      }
      throw portError(
        this.ctx,
        err,
        `cannot read capture ${this.path}: ${errText(err)}`,
        'check that the file is a complete pcap or pcapng capture (e.g. with `capinfos`)',
      );
    }
  }

  get done(): boolean {
    return this.finished && this.pending === null;
  }

  get rxNoBuffer(): number {
    return this.noBuffer;
  }

  /** Records whose sub-second timestamp field was a second or more, read as tcpdump reads them (all passes). */
  get normalized(): number {
    return this.normalizedBefore + (this.reader?.normalized ?? 0);
  }
  private normalizedBefore = 0;

  get received(): number {
    return this.delivered;
  }

  get truncated(): number {
    return this.cut;
  }

  get skipped(): number {
    return this.skippedRecords;
  }

  get passes(): number {
    return this.completedPasses;
  }

  get error(): NfcError | null {
    return this.failure;
  }

  /** True when `rec` is due at wall-clock `nowMs`. */
  private isDue(rec: PcapRecord, nowMs: number): boolean {
    const rel = (rec.tsSec - this.baseSec) * 1000 + (rec.tsNsec - this.baseNsec) / 1e6;
    return (nowMs - this.startMs) * this.factor >= rel;
  }

  /**
   * Reads the next Ethernet record, reopening the capture at its end when looping; null (and
   * `finished`) at the end. Never throws: a read error ends the replay and is kept in `error`.
   * Allocates: the reader, on a reopen (once per pass).
   */
  private advance(): PcapRecord | null {
    for (;;) {
      const reader = this.reader;
      if (reader === null) return null;
      let rec: PcapRecord | null;
      try {
        rec = reader.next();
      } catch (err) {
        this.fail(err, 'capture became unreadable');
        return null;
      }
      if (rec === null) {
        this.completedPasses++;
        // A pass without a single Ethernet packet would loop forever: stop instead.
        if (!this.loop || this.passRecords === 0) {
          this.finish();
          return null;
        }
        this.reopen();
        continue;
      }
      if (rec.linkType !== LINKTYPE_ETHERNET) {
        this.skippedRecords++;
        continue;
      }
      if (this.rebase) {
        // New pass: it starts when the previous pass's last packet was due.
        this.rebase = false;
        if (this.factor > 0) {
          this.startMs += ((this.lastSec - this.baseSec) * 1000 + (this.lastNsec - this.baseNsec) / 1e6) / this.factor;
        }
        this.baseSec = rec.tsSec;
        this.baseNsec = rec.tsNsec;
      }
      this.passRecords++;
      return rec;
    }
  }

  /** Cold: once per pass. */
  private reopen(): void {
    const old = this.reader;
    this.reader = null;
    this.normalizedBefore += old?.normalized ?? 0;
    try {
      old?.close();
      this.reader = PcapReader.open(this.path, { bufferSize: this.bufferSize });
    } catch (err) {
      this.fail(err, 'cannot reopen capture for the next loop pass');
      return;
    }
    this.passRecords = 0;
    this.rebase = true;
  }

  private finish(): void {
    this.finished = true;
    const r = this.reader;
    this.reader = null;
    try {
      r?.close();
    } catch {
      // Closing a file we only read cannot lose data; nothing to report.
    }
  }

  /** Cold: records why the replay stopped. */
  private fail(err: unknown, what: string): void {
    this.failure = portError(
      this.ctx,
      err,
      `${what}: ${errText(err)}`,
      'check the capture file (e.g. with `capinfos`); the port stopped at the bad record',
    );
    this.pending = null;
    this.finish();
  }

  /**
   * Delivers the due packets, up to `max`, into fresh buffers. Allocates: one subarray view
   * per packet for the copy (see the file comment).
   */
  rxBurst(descs: Uint32Array, max: number): number {
    let rec = this.pending;
    if (rec === null) return 0;
    let now = 0;
    if (this.factor > 0) {
      now = performance.now();
      if (!this.started) {
        this.started = true;
        this.startMs = now;
      }
      if (!this.isDue(rec, now)) return 0;
    }
    const got = this.cache.alloc(descs, max);
    if (got === 0) {
      this.noBuffer++;
      return 0;
    }
    const pool = this.pool;
    const u8 = pool.u8;
    const words = pool.words;
    const metaShift = pool.shift - 2;
    const room = this.dataRoom;
    let n = 0;
    for (;;) {
      const d = descs[n]!;
      let len = rec.capLen;
      if (len > room) {
        len = room;
        this.cut++;
      }
      u8.set(rec.bytes.subarray(rec.offset, rec.offset + len), pool.dataOffset(d));
      const m = d << metaShift;
      words[m + Meta.len] = len;
      words[m + Meta.port] = this.portId;
      words[m + Meta.tsSec] = rec.tsSec;
      words[m + Meta.tsNsec] = rec.tsNsec;
      this.lastSec = rec.tsSec;
      this.lastNsec = rec.tsNsec;
      n++;
      rec = this.advance();
      if (rec === null) break;
      if (this.factor > 0 && !this.isDue(rec, now)) break;
      if (n === got) {
        if (got < max) this.noBuffer++; // a due packet waits for a buffer
        break;
      }
    }
    this.pending = rec;
    for (let i = n; i < got; i++) this.cache.freeOne(descs[i]!);
    this.delivered += n;
    return n;
  }

  close(): void {
    this.pending = null;
    this.finish();
  }
}

class PcapTx implements PcapTxPort {
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly ctx: PortContext;
  private readonly path: string;
  private writer: PcapWriter | null;
  private written = 0;
  private dropped = 0;
  private failure: NfcError | null = null;
  private readonly soft: SoftwareOffload;

  /** Setup: creates the output file (cold, allocates the writer's buffer). */
  constructor(cfg: PcapPortConfig, ctx: PortContext) {
    if (typeof cfg.tx !== 'string' || cfg.tx === '') {
      throw new NfcError('NFC_ERR_INVALID_ARG', `port "${ctx.portName}" (pcap): no capture to write (option tx)`, {
        fix: 'set tx to the path of the pcap file to write, or leave the port receive-only',
      });
    }
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.ctx = ctx;
    this.path = cfg.tx;
    this.soft = new SoftwareOffload(ctx.pool, ctx.cache, (descs, n) => this.writeFrames(descs, n));
    // A packet may have grown into its headroom (encapsulation): allow the whole buffer.
    const snaplen = Math.min(MAX_CAPLEN, Math.max(65535, ctx.pool.stride));
    try {
      this.writer = PcapWriter.create(this.path, { nanosecond: true, snaplen });
    } catch (err) {
      throw portError(
        ctx,
        err,
        `cannot create capture ${this.path}: ${reason(err)}`,
        "check that the directory exists and is writable, or change the port's tx path",
      );
    }
  }

  get txDropped(): number {
    return this.dropped;
  }

  get sent(): number {
    return this.written;
  }

  get error(): NfcError | null {
    return this.failure;
  }

  get offload(): OffloadCounters {
    return this.soft;
  }

  /**
   * Writes the n packets (their segments, with checksums completed) and frees them.
   * Allocates: the writer's one subarray view per record (see the file comment).
   */
  txBurst(descs: Uint32Array, n: number): number {
    if (this.writer === null) {
      // Failed writer: nothing to complete or segment for.
      this.cache.free(descs, n);
      this.dropped += n;
      return 0;
    }
    const sent = this.soft.process(descs, n);
    this.dropped += n - sent;
    return sent;
  }

  /**
   * The offload's sink: writes frames descs[0..n) as records until the writer fails, frees all
   * of them, and returns how many were written (a prefix). Hot path: as txBurst.
   */
  private writeFrames(descs: Uint32Array, n: number): number {
    const w = this.writer;
    let sent = 0;
    if (w !== null) {
      const pool = this.pool;
      const u8 = pool.u8;
      const words = pool.words;
      const metaShift = pool.shift - 2;
      try {
        for (; sent < n; sent++) {
          const d = descs[sent]!;
          const m = d << metaShift;
          w.write(u8, pool.dataOffset(d), words[m + Meta.len]!, words[m + Meta.tsSec]!, words[m + Meta.tsNsec]!);
        }
      } catch (err) {
        this.fail(err);
      }
    }
    this.written += sent;
    this.cache.free(descs, n);
    return sent;
  }

  flush(): void {
    const w = this.writer;
    if (w === null) return;
    try {
      w.flush();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Flushes and closes the file (cold); a failure to do so throws. Idempotent. */
  close(): void {
    const w = this.writer;
    this.writer = null;
    if (w === null) return;
    try {
      w.close();
    } catch (err) {
      throw portError(
        this.ctx,
        err,
        `cannot finish capture ${this.path}: ${reason(err)}`,
        'check free disk space and permissions',
      );
    }
  }

  /** Cold: the writer failed; stop writing and keep the reason. */
  private fail(err: unknown): void {
    this.failure = portError(
      this.ctx,
      err,
      `writing capture ${this.path} failed: ${reason(err)}`,
      'check free disk space and permissions; the port drops packets until it is reopened',
    );
    const w = this.writer;
    this.writer = null;
    try {
      w?.close();
    } catch {
      // Already failing; the first error is the one to report.
    }
  }
}

/**
 * Opens the RX half of a pcap port: reads `cfg.rx` (cold). Errors: NFC_ERR_PCAP_IO (file
 * missing or unreadable), NFC_ERR_PCAP_FORMAT (not a capture, or not Ethernet),
 * NFC_ERR_INVALID_ARG (no rx path, bad speed) — each naming the port and the path.
 */
export function openPcapRx(cfg: PcapPortConfig, ctx: PortContext): PcapRxPort {
  return new PcapRx(cfg, ctx);
}

/**
 * Opens the TX half of a pcap port: creates (or truncates) `cfg.tx` (cold). Errors:
 * NFC_ERR_PCAP_IO naming the port and the path; NFC_ERR_INVALID_ARG without a tx path.
 */
export function openPcapTx(cfg: PcapPortConfig, ctx: PortContext): PcapTxPort {
  return new PcapTx(cfg, ctx);
}
