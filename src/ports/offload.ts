/**
 * Software offloads for an egress that cannot take them: what the kernel's skb_gso_segment and
 * skb_checksum_help do for a device without TSO or checksum offload, done on pool buffers.
 *
 * Why: an af_packet RX port with offloads on delivers GSO super-frames (up to 64 KiB of TCP or
 * UDP in one jumbo buffer, Meta.offload naming the type and segment size) and partial checksums
 * (the field holds the pseudo-header sum only). The af_packet TX port hands both back to the
 * kernel, which finishes them. A capture file and an AF_XDP socket cannot: a pcap record is
 * what was on the wire, and AF_XDP sends the bytes as they are, from UMEM frames the size of an
 * ordinary buffer (jumbos lie outside the registered UMEM). So those TX halves run each burst
 * through a SoftwareOffload first:
 *
 *   - offload word 0: passes through, same descriptor.
 *   - partial checksum, not GSO: the TCP/UDP checksum is completed in place (PacketView
 *     fixL4Checksum, which clears the flag). A partial packet with no transport checksum to
 *     complete (no TCP/UDP/ICMP header, a later fragment, cut short) goes as it is, as the
 *     af_packet TX path sends it, and is counted.
 *   - GSO TCPV4, TCPV6 or UDP_L4 (with or without the ECN bit): split into segments, each in an
 *     ordinary buffer holding the headers (Ethernet and VLAN tags, IP with its options or
 *     extension headers, TCP/UDP) and at most gsoSize payload bytes. Per segment: the IPv4
 *     total length, id + i and header checksum, or the IPv6 payload length; the TCP sequence
 *     number advanced by the payload before it, FIN and PSH only on the last segment and CWR
 *     only on the first (as tcp_gso_segment does); the UDP length; a full TCP/UDP checksum
 *     (the super-frame's partial one is not needed); offload word 0; the super-frame's other
 *     meta (port, timestamps, chain state). The super-frame's buffer is freed.
 *   - dropped and counted by reason: a super-frame of another GSO type (UDP fragmentation
 *     offload, unknown types), one whose headers do not parse or do not match its GSO type,
 *     one whose segments do not fit an ordinary buffer, one for which the pool has too few
 *     buffers.
 *   - with `linearize` (AF_XDP): a packet left in a jumbo buffer is copied into an ordinary
 *     buffer when it fits (after its checksum is completed), else dropped and counted.
 *
 * A super-frame is all or nothing: its segment buffers are allocated in one call before any
 * is built, so when the pool runs short the ones obtained go straight back and nothing of the
 * super-frame is sent. That needs a scratch array for the most segments one super-frame may
 * make, MAX_SEGMENTS; a super-frame that would make more is dropped as malformed (that takes a
 * segment size under 32 bytes for 64 KiB; Linux's smallest TCP MSS is 48, and a UDP GSO sender
 * is limited to 128 segments).
 *
 * Output size: a burst of n packets can become many more frames (a 64 KiB super-frame with MSS
 * 536 is 123 segments), so the frames do not go into a caller's array of a guessed size. They
 * go to the `sink` given at construction, in chunks of at most `chunk` descriptors (the sink
 * owns them from then on: it sends each or frees it, and returns how many of the chunk it sent,
 * counting from the front). When no packet of a burst needs any work, the burst goes to the sink
 * as it is, in one call with the caller's own array and n (the common case costs one scan of
 * the offload words). process() returns how many of the n packets were sent: a super-frame
 * counts as one packet, sent when every one of its segments was — so the caller's sent + dropped
 * stay in the units the data plane counts (as for af_packet, where the kernel segments).
 *
 * Hot path: no allocation per packet or per burst (scratch arrays are made once; copies use
 * copyWithin on the pool's own views), no exceptions. The sink is called synchronously and must
 * not call process() again.
 */
import { l4ChecksumIpv4, l4ChecksumIpv6, ipv4HeaderChecksum } from '../packet/checksum.js';
import { PacketView } from '../packet/packet-view.js';
import { TcpFlags } from '../packet/protocol.js';
import { Meta, META_WORDS, OFFLOAD_CSUM_PARTIAL, OffloadGso } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';

/**
 * Receives frames to send: owns descs[0..n) from the call on (sends or frees every one) and
 * returns how many were sent. Called with the offload's own array and n <= its chunk, when the
 * sent frames must be descs[0..sent) (the offload works out from that which packets lost a
 * segment); or with the caller's whole burst when it needed no work, when only the count matters.
 */
export type OffloadSink = (descs: Uint32Array, n: number) => number;

export interface SoftwareOffloadOptions {
  /**
   * Copy every packet left in a jumbo buffer into an ordinary buffer (dropping, and counting,
   * one too large for it): for an egress that can only send from ordinary buffers (AF_XDP,
   * whose UMEM is the ordinary buffers). Default false.
   */
  linearize?: boolean;
  /** Most descriptors per sink call (default 64). */
  chunk?: number;
}

/** What a SoftwareOffload did; ports expose it read-only. */
export interface OffloadCounters {
  /** partial TCP/UDP checksums completed (packets that were not super-frames) */
  readonly checksumsCompleted: number;
  /** partial-checksum packets with no transport checksum to complete: sent as they were */
  readonly checksumsLeftPartial: number;
  /** super-frames split into segments */
  readonly segmented: number;
  /** segments made from them */
  readonly segmentsMade: number;
  /** packets copied out of a jumbo buffer into an ordinary one (linearize) */
  readonly copiedFromJumbo: number;
  /** super-frames of a GSO type this does not segment (UDP fragmentation offload, unknown types) */
  readonly droppedUnsupported: number;
  /**
   * super-frames whose headers do not parse, do not match the GSO type (TCPV4 on anything but
   * IPv4/TCP, ...), declare more bytes than the frame has, are IP fragments, have segment size
   * 0, or would make more than MAX_SEGMENTS segments
   */
  readonly droppedMalformed: number;
  /** super-frames whose segments, or jumbo packets (linearize) that, do not fit an ordinary buffer */
  readonly droppedOversize: number;
  /** packets dropped because the pool had too few buffers for their segments or copy */
  readonly droppedNoBuffer: number;
  /** all of the dropped* counters */
  readonly dropped: number;
}

/** Most segments one super-frame may make (see the file comment). */
export const MAX_SEGMENTS = 2048;

const DEFAULT_CHUNK = 64;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
/** Meta words copied from a super-frame to its segments: everything after len and dataOff. */
const META_COPY_FROM = Meta.port;

export class SoftwareOffload implements OffloadCounters {
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly sink: OffloadSink;
  private readonly linearize: boolean;
  private readonly chunk: number;
  private readonly view: PacketView;
  /** frames waiting for the sink, and the index (in the burst) of the packet each came from */
  private readonly out: Uint32Array;
  private readonly owner: Uint32Array;
  private nOut = 0;
  /** a super-frame's segment buffers, allocated all at once */
  private readonly segs = new Uint32Array(MAX_SEGMENTS);
  private readonly one = new Uint32Array(1);
  /** Room for packet data in a freshly allocated ordinary buffer. */
  private readonly segRoom: number;
  /** burst packets with a frame the sink did not send, and the last such packet's index */
  private failedInputs = 0;
  private lastFailed = -1;

  checksumsCompleted = 0;
  checksumsLeftPartial = 0;
  segmented = 0;
  segmentsMade = 0;
  copiedFromJumbo = 0;
  droppedUnsupported = 0;
  droppedMalformed = 0;
  droppedOversize = 0;
  droppedNoBuffer = 0;

  /** Setup (cold): allocates the scratch arrays and a PacketView over the pool. */
  constructor(pool: PacketPool, cache: PoolCache, sink: OffloadSink, opts: SoftwareOffloadOptions = {}) {
    this.pool = pool;
    this.cache = cache;
    this.sink = sink;
    this.linearize = opts.linearize === true;
    const chunk = opts.chunk ?? DEFAULT_CHUNK;
    this.chunk = Number.isInteger(chunk) && chunk >= 1 ? chunk : DEFAULT_CHUNK;
    this.out = new Uint32Array(this.chunk);
    this.owner = new Uint32Array(this.chunk);
    this.view = new PacketView(pool.buffer);
    this.segRoom = pool.stride - pool.defaultDataOff;
  }

  get dropped(): number {
    return this.droppedUnsupported + this.droppedMalformed + this.droppedOversize + this.droppedNoBuffer;
  }

  /**
   * Completes or segments the packets descs[0..n) as needed and hands the resulting frames to
   * the sink; takes ownership of all n (each is sent, replaced by its segments or copy, or freed
   * and counted). Returns how many of the n were sent (a super-frame: all its segments). The
   * caller's array is read, never written.
   */
  process(descs: Uint32Array, n: number): number {
    const pool = this.pool;
    const words = pool.words;
    const ms = pool.shift - 2;
    const jumboBase = this.linearize ? pool.jumboBase : 0xffffffff;
    let first = 0;
    while (first < n) {
      const d = descs[first]!;
      if (words[(d << ms) + Meta.offload] !== 0 || d >= jumboBase) break;
      first++;
    }
    // Nothing to do (the usual burst): the sink sends the caller's array as it is.
    if (first === n) return n > 0 ? this.sink(descs, n) : 0;

    this.nOut = 0;
    this.failedInputs = 0;
    this.lastFailed = -1;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      let d = descs[i]!;
      const word = words[(d << ms) + Meta.offload]!;
      if (word === 0 && d < jumboBase) {
        this.emit(d, i);
        continue;
      }
      if ((word & 0xff00) !== 0) {
        if (!this.segment(d, i)) dropped++;
        continue;
      }
      if ((word & OFFLOAD_CSUM_PARTIAL) !== 0) {
        if (this.view.attach(pool, d).fixL4Checksum()) this.checksumsCompleted++;
        else this.checksumsLeftPartial++;
      }
      if (d >= jumboBase) {
        d = this.copyOut(d);
        if (d < 0) {
          dropped++;
          continue;
        }
      }
      this.emit(d, i);
    }
    if (this.nOut > 0) this.flushOut();
    return n - dropped - this.failedInputs;
  }

  /** Queues frame d (from burst packet `from`) for the sink. */
  private emit(d: number, from: number): void {
    const k = this.nOut;
    this.out[k] = d;
    this.owner[k] = from;
    this.nOut = k + 1;
    if (k + 1 === this.chunk) this.flushOut();
  }

  /**
   * Hands the queued frames to the sink and notes which burst packets lost a frame. Frames are
   * queued in burst order, so counting changes of owner among the unsent counts each such packet
   * once, across chunks too.
   */
  private flushOut(): void {
    const k = this.nOut;
    this.nOut = 0;
    const sent = this.sink(this.out, k);
    for (let j = sent < 0 ? 0 : sent; j < k; j++) {
      const o = this.owner[j]!;
      if (o !== this.lastFailed) {
        this.lastFailed = o;
        this.failedInputs++;
      }
    }
  }

  /** Drops packet d: frees it. */
  private drop(d: number): false {
    this.cache.freeOne(d);
    return false;
  }

  /**
   * Splits super-frame d (burst packet `from`) into segments and queues them; frees d. False
   * (d freed, the reason counted) when it cannot.
   */
  private segment(d: number, from: number): boolean {
    const pool = this.pool;
    const view = this.view.attach(pool, d);
    const type = view.gsoType & ~OffloadGso.ECN;
    const mss = view.gsoSize;
    if (type !== OffloadGso.TCPV4 && type !== OffloadGso.TCPV6 && type !== OffloadGso.UDP_L4) {
      this.droppedUnsupported++;
      return this.drop(d);
    }
    // Where the headers end, and that they are what the GSO type says.
    const hdrLen = view.payloadOffset;
    const version = view.ipVersion;
    const proto = view.ipProtocol;
    const l3 = view.l3Offset;
    const l4 = view.l4Offset;
    const fits =
      type === OffloadGso.TCPV4
        ? version === 4 && proto === PROTO_TCP
        : type === OffloadGso.TCPV6
          ? version === 6 && proto === PROTO_TCP
          : proto === PROTO_UDP && (version === 4 || version === 6);
    if (!fits || hdrLen < 0 || view.isFragment || mss === 0) {
      this.droppedMalformed++;
      return this.drop(d);
    }
    // The datagram as its IP header declares it (bytes after it, if any, are not sent).
    const ipEnd = version === 4 ? l3 + view.ipv4TotalLength : l3 + 40 + view.ipv6PayloadLength;
    const len = view.length;
    if (ipEnd > len || ipEnd < hdrLen) {
      this.droppedMalformed++;
      return this.drop(d);
    }
    const payload = ipEnd - hdrLen;
    const nseg = payload === 0 ? 1 : Math.ceil(payload / mss);
    if (nseg > MAX_SEGMENTS) {
      this.droppedMalformed++;
      return this.drop(d);
    }
    if (hdrLen + (payload < mss ? payload : mss) > this.segRoom) {
      this.droppedOversize++;
      return this.drop(d);
    }
    // All buffers first: a pool that runs short costs nothing but this super-frame.
    const segs = this.segs;
    const got = this.cache.alloc(segs, nseg);
    if (got < nseg) {
      this.cache.free(segs, got);
      this.droppedNoBuffer++;
      return this.drop(d);
    }

    const tcp = proto === PROTO_TCP;
    const v4 = version === 4;
    const seq0 = tcp ? view.tcpSeq : 0;
    const flags0 = tcp ? view.tcpFlags : 0;
    const id0 = v4 ? view.ipv4Id : 0;
    const src = view.byteOffset;
    const u8 = pool.u8;
    const dv = pool.dv;
    const words = pool.words;
    const dm = pool.metaIndex(d);
    for (let k = 0; k < nseg; k++) {
      const s = segs[k]!;
      const sm = pool.metaIndex(s);
      const at = pool.dataOffset(s);
      const start = k * mss;
      const pay = k === nseg - 1 ? payload - start : mss;
      const segLen = hdrLen + pay;
      u8.copyWithin(at, src, src + hdrLen);
      u8.copyWithin(at + hdrLen, src + hdrLen + start, src + hdrLen + start + pay);
      words.copyWithin(sm + META_COPY_FROM, dm + META_COPY_FROM, dm + META_WORDS);
      words[sm + Meta.len] = segLen;
      words[sm + Meta.offload] = 0;
      const ip = at + l3;
      if (v4) {
        dv.setUint16(ip + 2, segLen - l3);
        dv.setUint16(ip + 4, (id0 + k) & 0xffff);
        dv.setUint16(ip + 10, ipv4HeaderChecksum(dv, ip));
      } else {
        dv.setUint16(ip + 4, segLen - l3 - 40);
      }
      const th = at + l4;
      const l4Len = segLen - l4;
      let field: number;
      if (tcp) {
        dv.setUint32(th + 4, (seq0 + start) >>> 0);
        let f = flags0;
        if (k > 0) f &= ~TcpFlags.CWR;
        if (k < nseg - 1) f &= ~(TcpFlags.FIN | TcpFlags.PSH);
        dv.setUint8(th + 13, f);
        field = th + 16;
      } else {
        dv.setUint16(th + 4, l4Len);
        field = th + 6;
      }
      dv.setUint16(field, v4 ? l4ChecksumIpv4(dv, ip, th, l4Len, proto) : l4ChecksumIpv6(dv, ip, th, l4Len, proto));
    }
    this.cache.freeOne(d);
    this.segmented++;
    this.segmentsMade += nseg;
    for (let k = 0; k < nseg; k++) this.emit(segs[k]!, from);
    return true;
  }

  /**
   * Copies jumbo packet d into an ordinary buffer (data and meta) and frees d; the new
   * descriptor, or -1 (d freed, counted) when it does not fit or no buffer is left.
   */
  private copyOut(d: number): number {
    const pool = this.pool;
    const len = pool.length(d);
    if (len > this.segRoom) {
      this.droppedOversize++;
      this.cache.freeOne(d);
      return -1;
    }
    if (this.cache.alloc(this.one, 1) === 0) {
      this.droppedNoBuffer++;
      this.cache.freeOne(d);
      return -1;
    }
    const s = this.one[0]!;
    const at = pool.dataOffset(s);
    const from = pool.dataOffset(d);
    pool.u8.copyWithin(at, from, from + len);
    const words = pool.words;
    const sm = pool.metaIndex(s);
    const dm = pool.metaIndex(d);
    words.copyWithin(sm + META_COPY_FROM, dm + META_COPY_FROM, dm + META_WORDS);
    words[sm + Meta.len] = len;
    this.cache.freeOne(d);
    this.copiedFromJumbo++;
    return s;
  }
}
