/**
 * PacketParser: where the headers of the current packet are. It is the base of PacketView
 * (packet-view.ts), the class NFs use, and owns the packet's place in the buffer, its offloads
 * (Meta.offload) and the one-time parse whose results the accessors read.
 *
 * reset() and attach() only store where the packet is. The first accessor calls parse(), which
 * walks Ethernet → VLAN → L3 → IPv6 extension headers → L4 once and keeps absolute offsets and
 * layer kinds in the protected fields below until the next reset(). The field accessors
 * (PacketFields, packet-fields.ts) and the rewrites (PacketView) read only offsets recorded here,
 * and each stage records what it found only after checking that the bytes it needs lie inside
 * the packet: so no accessor reads at or beyond byteOffset + length, nor outside the buffer.
 *
 * Every method here is on the hot path and allocates nothing unless its comment says
 * `Allocates:`.
 */
import { EtherType, IpProto, MAX_IPV6_EXT_HEADERS } from './protocol.js';
import { Meta, OFFLOAD_CSUM_PARTIAL } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';

// Parsed layer kinds (private numbering). Consts of this module, not exports: V8 folds a module's own `const` into
// the optimized code, but loads an exported or imported binding from its cell at every use (measured with the
// kinds exported and imported: a parse plus a few getters ~9 % slower). packet-fields.ts and packet-view.ts copy
// LayerKind into consts of their own for the same reason.
const L3_NONE = 0;
const L3_ARP = 1;
const L3_IPV4 = 2;
const L3_IPV6 = 3;

const L4_NONE = 0;
const L4_TCP = 1;
const L4_UDP = 2;
const L4_ICMP = 3;
const L4_ICMPV6 = 4;
/** An upper-layer protocol the view does not parse: only l4Offset is given. */
const L4_OTHER = 5;

/** The layer kinds, for the subclasses' modules (not exported by the package). */
export const LayerKind = {
  L3_NONE,
  L3_ARP,
  L3_IPV4,
  L3_IPV6,
  L4_NONE,
  L4_TCP,
  L4_UDP,
  L4_ICMP,
  L4_ICMPV6,
  L4_OTHER,
} as const;

export class PacketParser {
  /** The whole buffer, byte by byte (index with byteOffset + a relative offset). */
  readonly bytes: Uint8Array;
  /** The whole buffer, for big-endian reads of fields the view does not name. */
  readonly data: DataView;

  protected readonly bufLen: number;
  protected base = 0;
  protected len = 0;
  protected parsed = false;
  /** the packet's offload word (Meta.offload), and where it lives in `metaWords` (-1: nowhere) */
  protected off = 0;
  private metaWords: Uint32Array | null = null;
  private metaAt = -1;
  /** the pool descriptor of the packet (attach), or -1 (reset) */
  private dsc = -1;

  // Parse results; absolute offsets into the buffer, -1 when absent.
  protected end = 0;
  protected ethOk = false;
  protected vlanN = 0;
  protected vlan0 = -1;
  protected vlan1 = -1;
  protected etype = -1;
  protected l3 = -1;
  protected l3Kind = L3_NONE;
  protected ipHdrLen = 0;
  /** End of the IP datagram as its header declares it (may lie beyond `end` if truncated). */
  protected ipDeclEnd = 0;
  /** min(ipDeclEnd, end): where the readable part of the datagram stops. */
  protected ipEnd = 0;
  protected frag = false;
  /** Fragment offset in bytes (0 when not a fragment). */
  protected fragOff = 0;
  /** Upper-layer protocol, or -1 when unknown (IPv6 extension chain not walkable). */
  protected proto = -1;
  protected l4 = -1;
  protected l4Kind = L4_NONE;
  protected l4HdrLen = 0;

  /** Setup. Allocates: the two views over `buffer` (once). */
  constructor(buffer: ArrayBufferLike) {
    this.bytes = new Uint8Array(buffer);
    this.data = new DataView(buffer);
    this.bufLen = this.bytes.length;
  }

  /**
   * Point the view at the packet of `length` bytes at `byteOffset`, with no offloads (a buffer
   * that is not a pool packet, or whose meta the caller keeps).
   */
  reset(byteOffset: number, length: number): this {
    this.base = byteOffset;
    this.len = length;
    this.parsed = false;
    this.off = 0;
    this.metaAt = -1;
    this.dsc = -1;
    return this;
  }

  /**
   * Point the view at pool packet d: its data, length and offloads from its meta (the view's
   * buffer must be the pool's).
   */
  attach(pool: PacketPool, d: number): this {
    const w = pool.words;
    const m = pool.metaIndex(d);
    this.base = pool.base + (d << pool.shift) + w[m + Meta.dataOff]!;
    this.len = w[m + Meta.len]!;
    this.parsed = false;
    this.off = w[m + Meta.offload]!;
    this.metaWords = w;
    this.metaAt = m;
    this.dsc = d;
    return this;
  }

  /** The packet's pool descriptor (what keep(), send() and drop() take); -1 when not a pool packet. */
  get desc(): number {
    return this.dsc;
  }

  /** The port the packet came in on (Meta.port); -1 when not a pool packet. */
  get inputPort(): number {
    return this.metaAt >= 0 ? this.metaWords![this.metaAt + Meta.port]! : -1;
  }

  /** The offload word (Meta.offload) of the packet. */
  get offload(): number {
    return this.off;
  }

  /** True when the packet is a GSO super-frame: the sender's kernel segments it on the way out. */
  get isGso(): boolean {
    return (this.off & 0xff00) !== 0;
  }

  /** Payload bytes per segment of a GSO super-frame (its MSS for TCP); 0 when not one. */
  get gsoSize(): number {
    return this.off >>> 16;
  }

  /** The GSO type (OffloadGso: TCPV4, TCPV6, UDP_L4, or-ed with ECN); 0 when not a super-frame. */
  get gsoType(): number {
    return (this.off >>> 8) & 0xff;
  }

  /** True when the TCP/UDP checksum field holds only the pseudo-header sum (completed on send). */
  get checksumPartial(): boolean {
    return (this.off & OFFLOAD_CSUM_PARTIAL) !== 0;
  }

  /** The checksum is whole now: clear the partial flag (and the meta's, when attached). */
  protected checksumCompleted(): void {
    this.off &= ~OFFLOAD_CSUM_PARTIAL;
    if (this.metaAt >= 0) this.metaWords![this.metaAt + Meta.offload] = this.off >>> 0;
  }

  /** Start of the current packet in the buffer. */
  get byteOffset(): number {
    return this.base;
  }

  /** Length of the current packet as given to reset(). */
  get length(): number {
    return this.len;
  }

  // -------------------------------------------------------------------------------------------
  // Parser: runs once per reset, on the first getter. Each stage records what it found only
  // after checking that the bytes it needs lie inside [base, end).

  protected parse(): void {
    this.parsed = true;
    this.ethOk = false;
    this.vlanN = 0;
    this.vlan0 = -1;
    this.vlan1 = -1;
    this.etype = -1;
    this.l3 = -1;
    this.l3Kind = L3_NONE;
    this.ipHdrLen = 0;
    this.ipDeclEnd = 0;
    this.ipEnd = 0;
    this.frag = false;
    this.fragOff = 0;
    this.proto = -1;
    this.l4 = -1;
    this.l4Kind = L4_NONE;
    this.l4HdrLen = 0;

    const off = this.base;
    const n = this.len;
    if (!Number.isInteger(off) || !Number.isInteger(n) || off < 0 || n < 0 || off > this.bufLen) {
      this.end = 0;
      return;
    }
    const end = off + n > this.bufLen ? this.bufLen : off + n;
    this.end = end;
    if (end - off < 14) return;
    this.ethOk = true;

    const dv = this.data;
    let p = off + 12; // position of the (next) EtherType / TPID
    let et = dv.getUint16(p);
    if ((et === EtherType.VLAN || et === EtherType.QINQ) && p + 6 <= end) {
      this.vlan0 = p + 2;
      this.vlanN = 1;
      p += 4;
      et = dv.getUint16(p);
      if (et === EtherType.VLAN && p + 6 <= end) {
        this.vlan1 = p + 2;
        this.vlanN = 2;
        p += 4;
        et = dv.getUint16(p);
      }
    }
    this.etype = et;
    const l3 = p + 2;
    this.l3 = l3;
    if (et === EtherType.IPV4) this.parseIpv4(l3, end);
    else if (et === EtherType.IPV6) this.parseIpv6(l3, end);
    else if (et === EtherType.ARP) this.parseArp(l3, end);
  }

  private parseArp(l3: number, end: number): void {
    const dv = this.data;
    // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
    if (l3 + 28 > end) return;
    if (dv.getUint16(l3) !== 1 || dv.getUint16(l3 + 2) !== EtherType.IPV4 || dv.getUint16(l3 + 4) !== 0x0604) return;
    this.l3Kind = L3_ARP;
  }

  private parseIpv4(l3: number, end: number): void {
    const dv = this.data;
    if (l3 + 20 > end) return;
    const vihl = dv.getUint8(l3);
    if (vihl >>> 4 !== 4) return;
    const hl = (vihl & 0x0f) << 2;
    if (hl < 20 || l3 + hl > end) return;
    const total = dv.getUint16(l3 + 2);
    if (total < hl) return;
    this.l3Kind = L3_IPV4;
    this.ipHdrLen = hl;
    const declEnd = l3 + total;
    this.ipDeclEnd = declEnd;
    const ipEnd = declEnd < end ? declEnd : end;
    this.ipEnd = ipEnd;
    const fo = dv.getUint16(l3 + 6);
    const fragOff = (fo & 0x1fff) << 3;
    this.frag = (fo & 0x2000) !== 0 || fragOff !== 0;
    this.fragOff = fragOff;
    const proto = dv.getUint8(l3 + 9);
    this.proto = proto;
    // A later fragment carries the middle of the datagram, not a transport header.
    if (fragOff === 0) this.parseL4(proto, l3 + hl, ipEnd, false);
  }

  private parseIpv6(l3: number, end: number): void {
    const dv = this.data;
    if (l3 + 40 > end) return;
    if (dv.getUint8(l3) >>> 4 !== 6) return;
    this.l3Kind = L3_IPV6;
    this.ipHdrLen = 40;
    const declEnd = l3 + 40 + dv.getUint16(l3 + 4);
    this.ipDeclEnd = declEnd;
    const ipEnd = declEnd < end ? declEnd : end;
    this.ipEnd = ipEnd;
    let nh = dv.getUint8(l3 + 6);
    let cur = l3 + 40;
    for (let i = 0; ; i++) {
      if (
        nh !== IpProto.HOPOPT &&
        nh !== IpProto.IPV6_ROUTING &&
        nh !== IpProto.IPV6_DSTOPTS &&
        nh !== IpProto.AH &&
        nh !== IpProto.IPV6_FRAGMENT
      ) {
        this.proto = nh;
        this.parseL4(nh, cur, ipEnd, true);
        return;
      }
      // One extension header more than the bound, or one cut short: protocol unknown, no L4.
      if (i === MAX_IPV6_EXT_HEADERS || cur + 8 > ipEnd) return;
      let hlen: number;
      if (nh === IpProto.IPV6_FRAGMENT) {
        this.frag = true;
        this.fragOff = dv.getUint16(cur + 2) & 0xfff8;
        if (this.fragOff !== 0) {
          // Later fragment: what follows is data, but the protocol is known.
          this.proto = dv.getUint8(cur);
          return;
        }
        hlen = 8;
      } else if (nh === IpProto.AH) {
        hlen = (dv.getUint8(cur + 1) + 2) << 2; // RFC 4302: in 4-byte units, minus 2
      } else {
        hlen = (dv.getUint8(cur + 1) + 1) << 3; // RFC 8200: in 8-byte units, minus the first
      }
      if (cur + hlen > ipEnd) return;
      nh = dv.getUint8(cur);
      cur += hlen;
    }
  }

  private parseL4(proto: number, l4: number, ipEnd: number, v6: boolean): void {
    const dv = this.data;
    if (proto === IpProto.TCP) {
      if (l4 + 20 > ipEnd) return;
      const hl = (dv.getUint8(l4 + 12) >>> 4) << 2;
      if (hl < 20 || l4 + hl > ipEnd) return;
      this.l4Kind = L4_TCP;
      this.l4HdrLen = hl;
    } else if (proto === IpProto.UDP) {
      if (l4 + 8 > ipEnd) return;
      this.l4Kind = L4_UDP;
      this.l4HdrLen = 8;
    } else if (proto === (v6 ? IpProto.ICMPV6 : IpProto.ICMP)) {
      if (l4 + 4 > ipEnd) return;
      this.l4Kind = v6 ? L4_ICMPV6 : L4_ICMP;
      this.l4HdrLen = 4;
    } else {
      if (l4 > ipEnd) return;
      this.l4Kind = L4_OTHER;
    }
    this.l4 = l4;
  }
}
