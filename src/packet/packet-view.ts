/**
 * PacketView: the one reusable object through which an NF reads and rewrites a packet in place.
 *
 * Packets live in the shared packet pool; an NF gets descriptors, not objects. So
 * an NF keeps ONE PacketView over the whole pool mapping and points it at packet after packet
 * with reset(offset, length) — no object per packet, no copy.
 *
 * Contract, because packets come from the wire and may be anything:
 * - reset() only stores two numbers. The first header getter parses Ethernet → VLAN → L3 → IPv6
 *   extension headers → L4 once, caching offsets until the next reset().
 * - Getters return -1 (or false) for an absent field: another protocol, a truncated packet, or
 *   a malformed header (IHL < 5, total length < header length, TCP data offset < 5, ...).
 *   They never throw and never read at or beyond byteOffset + length, nor outside the buffer:
 *   every read goes to an offset the parser has checked.
 * - Setters write only fields the parser found, keep the IPv4 header checksum and the TCP/UDP
 *   (and ICMPv6) checksum right with RFC 1624 incremental updates, and return false (writing
 *   nothing) when the field is absent.
 * - Offsets exposed to callers (l3Offset, l4Offset, payloadOffset) are relative to the start of
 *   the packet; add byteOffset to index `bytes` / `data`, which cover the whole buffer.
 *
 * Offloads: a packet received from a host whose interface keeps its offloads on may be a GSO
 * super-frame (up to 64 KiB of TCP that the kernel segments on the way out, `isGso`, `gsoSize`)
 * and its TCP/UDP checksum may be partial (`checksumPartial`: the field holds the sum of the
 * pseudo header only, not complemented; whoever sends the packet completes it). attach(pool, d)
 * reads this from the buffer's meta (Meta.offload). The setters keep such a packet right: an
 * address change updates a partial field as a pseudo-header sum, a port change leaves it alone
 * (ports are summed when the checksum is completed), and fixL4Checksum() completes it and
 * clears the flag in the meta.
 *
 * Hot path rules: DataView big-endian reads, no allocation, closures, strings, BigInt, Map or
 * exceptions per packet. The string helpers at the bottom are cold (logs, config, tests).
 */
import { NfcError } from '../errors.js';
import { tryParseIpv4, tryParseIpv6 } from './address.js';
import { FlowKey, hashFlowKey, formatIpv4, formatIpv6, endpointHash, foldIpv6, combineEndpoints } from './flow-key.js';
import {
  csumFold, csumUpdate16, csumUpdate32, ipv4HeaderChecksum, ipv4HeaderChecksumOk, pseudoSumIpv4At, pseudoSumIpv6At,
  l4ChecksumIpv4, l4ChecksumIpv4Ok, l4ChecksumIpv6, l4ChecksumIpv6Ok,
} from './checksum.js';
import { Meta, OFFLOAD_CSUM_PARTIAL } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';

export { formatIpv4, formatIpv6 };

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
} as const;

export const IpProto = {
  HOPOPT: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTING: 43,
  IPV6_FRAGMENT: 44,
  AH: 51,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_DSTOPTS: 60,
} as const;

/** Bits of PacketView.tcpFlags (byte 13 of the TCP header). */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Which MAC address copyMac / writeMac / mac / setMac work on. */
export const MacField = {
  ETH_DST: 0,
  ETH_SRC: 1,
  ARP_SENDER: 2,
  ARP_TARGET: 3,
} as const;
export type MacField = (typeof MacField)[keyof typeof MacField];

/** At most this many IPv6 extension headers are walked; a longer chain leaves L4 absent. */
export const MAX_IPV6_EXT_HEADERS = 8;

// Parsed layer kinds (private numbering).
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

const TWO_32 = 4294967296;

export class PacketView {
  /** The whole buffer, byte by byte (index with byteOffset + a relative offset). */
  readonly bytes: Uint8Array;
  /** The whole buffer, for big-endian reads of fields the view does not name. */
  readonly data: DataView;

  private readonly bufLen: number;
  private base = 0;
  private len = 0;
  private parsed = false;
  /** the packet's offload word (Meta.offload), and where it lives in `metaWords` (-1: nowhere) */
  private off = 0;
  private metaWords: Uint32Array | null = null;
  private metaAt = -1;

  // Parse results; absolute offsets into the buffer, -1 when absent.
  private end = 0;
  private ethOk = false;
  private vlanN = 0;
  private vlan0 = -1;
  private vlan1 = -1;
  private etype = -1;
  private l3 = -1;
  private l3Kind = L3_NONE;
  private ipHdrLen = 0;
  /** End of the IP datagram as its header declares it (may lie beyond `end` if truncated). */
  private ipDeclEnd = 0;
  /** min(ipDeclEnd, end): where the readable part of the datagram stops. */
  private ipEnd = 0;
  private frag = false;
  /** Fragment offset in bytes (0 when not a fragment). */
  private fragOff = 0;
  /** Upper-layer protocol, or -1 when unknown (IPv6 extension chain not walkable). */
  private proto = -1;
  private l4 = -1;
  private l4Kind = L4_NONE;
  private l4HdrLen = 0;

  /** Filled by flowHash(); preallocated so hashing allocates nothing. */
  private readonly scratchKey = new FlowKey();

  /** Setup (allocates the two views once). */
  constructor(buffer: ArrayBufferLike) {
    this.bytes = new Uint8Array(buffer);
    this.data = new DataView(buffer);
    this.bufLen = this.bytes.length;
  }

  /**
   * Point the view at the packet of `length` bytes at `byteOffset`, with no offloads (a buffer
   * that is not a pool packet, or whose meta the caller keeps). Hot path: no allocation.
   */
  reset(byteOffset: number, length: number): this {
    this.base = byteOffset;
    this.len = length;
    this.parsed = false;
    this.off = 0;
    this.metaAt = -1;
    return this;
  }

  /**
   * Point the view at pool packet d: its data, length and offloads from its meta (the view's
   * buffer must be the pool's). Hot path: no allocation.
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
    return this;
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
  private checksumCompleted(): void {
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

  private parse(): void {
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
    if (dv.getUint16(l3) !== 1 || dv.getUint16(l3 + 2) !== EtherType.IPV4 ||
      dv.getUint16(l3 + 4) !== 0x0604) return;
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
      if (nh !== IpProto.HOPOPT && nh !== IpProto.IPV6_ROUTING && nh !== IpProto.IPV6_DSTOPTS &&
        nh !== IpProto.AH && nh !== IpProto.IPV6_FRAGMENT) {
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

  // -------------------------------------------------------------------------------------------
  // Ethernet

  /** Destination MAC as a 48-bit number, -1 if the packet is shorter than an Ethernet header. Hot path: no allocation. */
  get ethDst(): number {
    return this.mac(MacField.ETH_DST);
  }

  /** Source MAC as a 48-bit number, or -1. Hot path: no allocation. */
  get ethSrc(): number {
    return this.mac(MacField.ETH_SRC);
  }

  /** Hot path: no allocation. */
  setEthDst(mac: number): boolean {
    return this.setMac(MacField.ETH_DST, mac);
  }

  /** Hot path: no allocation. */
  setEthSrc(mac: number): boolean {
    return this.setMac(MacField.ETH_SRC, mac);
  }

  /** Absolute offset of a MAC field, or -1 when absent. */
  private macAt(field: MacField): number {
    if (!this.parsed) this.parse();
    switch (field) {
      case MacField.ETH_DST: return this.ethOk ? this.base : -1;
      case MacField.ETH_SRC: return this.ethOk ? this.base + 6 : -1;
      case MacField.ARP_SENDER: return this.l3Kind === L3_ARP ? this.l3 + 8 : -1;
      case MacField.ARP_TARGET: return this.l3Kind === L3_ARP ? this.l3 + 18 : -1;
      default: return -1;
    }
  }

  /** A MAC (Ethernet or ARP) as a 48-bit number, or -1. Hot path: no allocation. */
  mac(field: MacField): number {
    const o = this.macAt(field);
    if (o < 0) return -1;
    return this.data.getUint16(o) * TWO_32 + this.data.getUint32(o + 2);
  }

  /** Write a MAC from a 48-bit number. Hot path: no allocation. */
  setMac(field: MacField, mac: number): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const hi = Math.floor(mac / TWO_32);
    this.data.setUint16(o, hi);
    this.data.setUint32(o + 2, mac - hi * TWO_32);
    return true;
  }

  /** Copy a MAC into out[outOffset..+5]. Hot path: no allocation. */
  copyMac(field: MacField, out: Uint8Array, outOffset = 0): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const b = this.bytes;
    for (let i = 0; i < 6; i++) out[outOffset + i] = b[o + i]!;
    return true;
  }

  /** Write a MAC from mac[macOffset..+5]. Hot path: no allocation. */
  writeMac(field: MacField, mac: Uint8Array, macOffset = 0): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const b = this.bytes;
    for (let i = 0; i < 6; i++) b[o + i] = mac[macOffset + i] ?? 0;
    return true;
  }

  /** Number of VLAN tags (0, 1 or 2); -1 without an Ethernet header. Hot path: no allocation. */
  get vlanCount(): number {
    if (!this.parsed) this.parse();
    return this.ethOk ? this.vlanN : -1;
  }

  /** 12-bit VLAN id of tag `i` (0 = outer), or -1. Hot path: no allocation. */
  vlanId(i: number): number {
    if (!this.parsed) this.parse();
    const o = i === 0 ? this.vlan0 : i === 1 ? this.vlan1 : -1;
    return o < 0 ? -1 : this.data.getUint16(o) & 0x0fff;
  }

  /** 3-bit priority (PCP) of tag `i`, or -1. Hot path: no allocation. */
  vlanPcp(i: number): number {
    if (!this.parsed) this.parse();
    const o = i === 0 ? this.vlan0 : i === 1 ? this.vlan1 : -1;
    return o < 0 ? -1 : this.data.getUint8(o) >>> 5;
  }

  /**
   * EtherType after the VLAN tags (the TPID itself when a tag is cut short or a third tag
   * follows), or -1. Hot path: no allocation.
   */
  get etherType(): number {
    if (!this.parsed) this.parse();
    return this.etype;
  }

  /** Where the L3 header starts, relative to the packet; -1 without Ethernet. Hot path: no allocation. */
  get l3Offset(): number {
    if (!this.parsed) this.parse();
    return this.l3 < 0 ? -1 : this.l3 - this.base;
  }

  // -------------------------------------------------------------------------------------------
  // ARP (Ethernet / IPv4 only)

  /** 1 request, 2 reply; -1 when not a well-formed Ethernet/IPv4 ARP packet. Hot path: no allocation. */
  get arpOp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint16(this.l3 + 6) : -1;
  }

  /** Hot path: no allocation. */
  get arpSenderMac(): number {
    return this.mac(MacField.ARP_SENDER);
  }

  /** Hot path: no allocation. */
  get arpTargetMac(): number {
    return this.mac(MacField.ARP_TARGET);
  }

  /** Hot path: no allocation. */
  get arpSenderIp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint32(this.l3 + 14) : -1;
  }

  /** Hot path: no allocation. */
  get arpTargetIp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint32(this.l3 + 24) : -1;
  }

  /** Hot path: no allocation. */
  setArpOp(op: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint16(this.l3 + 6, op);
    return true;
  }

  /** Hot path: no allocation. */
  setArpSenderIp(ip: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint32(this.l3 + 14, ip >>> 0);
    return true;
  }

  /** Hot path: no allocation. */
  setArpTargetIp(ip: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint32(this.l3 + 24, ip >>> 0);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // IP, either version

  /** 4 or 6 when a valid IP header is present, else -1. Hot path: no allocation. */
  get ipVersion(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? 4 : this.l3Kind === L3_IPV6 ? 6 : -1;
  }

  /**
   * Upper-layer protocol: the IPv4 protocol field, or the IPv6 next header after the extension
   * headers; known for every fragment. -1 without IP or when the extension chain is cut short
   * or too long. Hot path: no allocation.
   */
  get ipProtocol(): number {
    if (!this.parsed) this.parse();
    return this.proto;
  }

  /** True for any fragment (IPv4 MF or offset, IPv6 Fragment header). Hot path: no allocation. */
  get isFragment(): boolean {
    if (!this.parsed) this.parse();
    return this.frag;
  }

  /**
   * Fragment offset in bytes (0 for the first fragment and unfragmented packets; the transport
   * header is only in the fragment at offset 0). -1 without IP. Hot path: no allocation.
   */
  get fragmentOffset(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 || this.l3Kind === L3_IPV6 ? this.fragOff : -1;
  }

  // -------------------------------------------------------------------------------------------
  // IPv4

  /** Hot path: no allocation. */
  get ipv4Ihl(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.ipHdrLen >>> 2 : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Tos(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 1) : -1;
  }

  /** Hot path: no allocation. */
  get ipv4TotalLength(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 2) : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Id(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 4) : -1;
  }

  /** The 3 flag bits (0x2 = DF, 0x1 = MF). Hot path: no allocation. */
  get ipv4Flags(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 6) >>> 5 : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Ttl(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 8) : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Protocol(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 9) : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Checksum(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 10) : -1;
  }

  /** Source address as an unsigned 32-bit number, or -1. Hot path: no allocation. */
  get ipv4Src(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint32(this.l3 + 12) : -1;
  }

  /** Hot path: no allocation. */
  get ipv4Dst(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint32(this.l3 + 16) : -1;
  }

  /** Rewrite the source address; fixes the IPv4 and TCP/UDP checksums incrementally. Hot path: no allocation. */
  setIpv4Src(addr: number): boolean {
    return this.setIpv4Addr(12, addr);
  }

  /** Rewrite the destination address; fixes the IPv4 and TCP/UDP checksums incrementally. Hot path: no allocation. */
  setIpv4Dst(addr: number): boolean {
    return this.setIpv4Addr(16, addr);
  }

  private setIpv4Addr(field: number, addr: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV4) return false;
    const dv = this.data;
    const o = this.l3 + field;
    // Int32 throughout: an unsigned value of 2^31 or more is a heap number in V8 when a call
    // is not inlined (an allocation per packet); the checksum helpers take either form.
    const v = addr | 0;
    const old = dv.getInt32(o);
    if (old === v) return true;
    dv.setInt32(o, v);
    dv.setUint16(this.l3 + 10, csumUpdate32(dv.getUint16(this.l3 + 10), old, v));
    this.pseudoUpdate32(old, v);
    return true;
  }

  /** Hot path: no allocation. */
  setIpv4Ttl(ttl: number): boolean {
    return this.setIpv4Byte(8, ttl);
  }

  /** Hot path: no allocation. */
  setIpv4Tos(tos: number): boolean {
    return this.setIpv4Byte(1, tos);
  }

  /** Write one byte of the IPv4 header and fix its checksum through the enclosing 16-bit word. */
  private setIpv4Byte(field: number, value: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV4) return false;
    const dv = this.data;
    const w = this.l3 + (field & ~1);
    const oldWord = dv.getUint16(w);
    dv.setUint8(this.l3 + field, value);
    const newWord = dv.getUint16(w);
    if (newWord !== oldWord) {
      dv.setUint16(this.l3 + 10, csumUpdate16(dv.getUint16(this.l3 + 10), oldWord, newWord));
    }
    return true;
  }

  /**
   * Decrement the TTL (router behaviour). False, and nothing written, when absent or the TTL is
   * already 0. Hot path: no allocation.
   */
  decrementTtl(): boolean {
    const ttl = this.ipv4Ttl;
    if (ttl > 0) return this.setIpv4Byte(8, ttl - 1);
    const hl = this.ipv6HopLimit;
    if (hl > 0) return this.setIpv6HopLimit(hl - 1);
    return false;
  }

  /** True when the IPv4 header checksum is correct; false when wrong or no IPv4. Hot path: no allocation. */
  ipv4ChecksumOk(): boolean {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 && ipv4HeaderChecksumOk(this.data, this.l3);
  }

  /** Recompute the IPv4 header checksum. Hot path: no allocation. */
  fixIpv4Checksum(): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV4) return false;
    this.data.setUint16(this.l3 + 10, ipv4HeaderChecksum(this.data, this.l3));
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // IPv6

  /** Hot path: no allocation. */
  get ipv6TrafficClass(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? (this.data.getUint16(this.l3) >>> 4) & 0xff : -1;
  }

  /** Hot path: no allocation. */
  get ipv6FlowLabel(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint32(this.l3) & 0xfffff : -1;
  }

  /** Hot path: no allocation. */
  get ipv6PayloadLength(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint16(this.l3 + 4) : -1;
  }

  /** Next header of the fixed header (the first extension header, if any). Hot path: no allocation. */
  get ipv6NextHeader(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint8(this.l3 + 6) : -1;
  }

  /** Hot path: no allocation. */
  get ipv6HopLimit(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint8(this.l3 + 7) : -1;
  }

  /** Hot path: no allocation. */
  setIpv6HopLimit(hopLimit: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV6) return false;
    this.data.setUint8(this.l3 + 7, hopLimit);
    return true;
  }

  /** Copy the source address into out[0..3] (network-order words). Hot path: no allocation. */
  ipv6Src(out: Uint32Array): boolean {
    return this.copyIpv6(8, out);
  }

  /** Copy the destination address into out[0..3]. Hot path: no allocation. */
  ipv6Dst(out: Uint32Array): boolean {
    return this.copyIpv6(24, out);
  }

  private copyIpv6(field: number, out: Uint32Array): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV6) return false;
    const dv = this.data;
    const o = this.l3 + field;
    out[0] = dv.getUint32(o);
    out[1] = dv.getUint32(o + 4);
    out[2] = dv.getUint32(o + 8);
    out[3] = dv.getUint32(o + 12);
    return true;
  }

  /** Rewrite the source address from addr[0..3]; fixes TCP/UDP/ICMPv6 checksums. Hot path: no allocation. */
  setIpv6Src(addr: Uint32Array): boolean {
    return this.setIpv6Addr(8, addr);
  }

  /** Rewrite the destination address from addr[0..3]; fixes TCP/UDP/ICMPv6 checksums. Hot path: no allocation. */
  setIpv6Dst(addr: Uint32Array): boolean {
    return this.setIpv6Addr(24, addr);
  }

  private setIpv6Addr(field: number, addr: Uint32Array): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV6 || addr.length < 4) return false;
    const dv = this.data;
    for (let i = 0; i < 4; i++) {
      const o = this.l3 + field + (i << 2);
      const old = dv.getInt32(o);
      const v = addr[i]! | 0;
      if (old !== v) {
        dv.setInt32(o, v);
        this.pseudoUpdate32(old, v);
      }
    }
    return true;
  }

  /**
   * A 32-bit word of the pseudo header changed: patch the transport checksum. Only a transport
   * header the parser found (so never in a later fragment, whose checksum is in the first one);
   * ICMPv4 has no pseudo header; a UDP-over-IPv4 checksum of 0 means "none" and stays 0.
   */
  private pseudoUpdate32(oldValue: number, newValue: number): void {
    const k = this.l4Kind;
    const dv = this.data;
    let o: number;
    if (k === L4_TCP) o = this.l4 + 16;
    else if (k === L4_UDP) o = this.l4 + 6;
    else if (k === L4_ICMPV6) o = this.l4 + 2;
    else return;
    const c = dv.getUint16(o);
    if ((this.off & OFFLOAD_CSUM_PARTIAL) !== 0) {
      // A partial field is the pseudo-header sum itself (not complemented): update it as one.
      dv.setUint16(o, ~csumUpdate32(~c & 0xffff, oldValue, newValue) & 0xffff);
      return;
    }
    if (k === L4_UDP) {
      if (c === 0 && this.l3Kind === L3_IPV4) return;
      const n = csumUpdate32(c, oldValue, newValue);
      dv.setUint16(o, n === 0 ? 0xffff : n);
    } else {
      dv.setUint16(o, csumUpdate32(c, oldValue, newValue));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Transport, either protocol

  /**
   * Where the transport header starts, relative to the packet: for TCP/UDP/ICMP/ICMPv6 only when
   * their header is whole; for other protocols whenever it starts inside the datagram. -1 for
   * later fragments and non-IP packets. Hot path: no allocation.
   */
  get l4Offset(): number {
    if (!this.parsed) this.parse();
    return this.l4 < 0 ? -1 : this.l4 - this.base;
  }

  /** Source port of TCP or UDP, else -1. Hot path: no allocation. */
  get srcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.data.getUint16(this.l4) : -1;
  }

  /** Destination port of TCP or UDP, else -1. Hot path: no allocation. */
  get dstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** Set the TCP or UDP source port (checksum fixed). Hot path: no allocation. */
  setSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.setPort(0, port) : false;
  }

  /** Set the TCP or UDP destination port (checksum fixed). Hot path: no allocation. */
  setDstPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.setPort(2, port) : false;
  }

  /** Write a port of the parsed TCP/UDP header and patch its checksum. */
  private setPort(field: number, port: number): boolean {
    const dv = this.data;
    const o = this.l4 + field;
    const old = dv.getUint16(o);
    const v = port & 0xffff;
    if (old === v) return true;
    dv.setUint16(o, v);
    // A partial checksum does not cover the ports yet: they are summed when it is completed.
    if ((this.off & OFFLOAD_CSUM_PARTIAL) !== 0) return true;
    if (this.l4Kind === L4_TCP) {
      dv.setUint16(this.l4 + 16, csumUpdate16(dv.getUint16(this.l4 + 16), old, v));
    } else {
      const c = dv.getUint16(this.l4 + 6);
      if (c === 0 && this.l3Kind === L3_IPV4) return true;
      const n = csumUpdate16(c, old, v);
      dv.setUint16(this.l4 + 6, n === 0 ? 0xffff : n);
    }
    return true;
  }

  /** Payload start (after the TCP or UDP header), relative to the packet; -1 otherwise. Hot path: no allocation. */
  get payloadOffset(): number {
    if (!this.parsed) this.parse();
    if (this.l4Kind !== L4_TCP && this.l4Kind !== L4_UDP) return -1;
    return this.l4 + this.l4HdrLen - this.base;
  }

  /**
   * Payload bytes after the TCP or UDP header that are inside both the datagram (IP length;
   * Ethernet padding excluded) and the packet (a truncated capture has fewer); -1 otherwise.
   * Hot path: no allocation.
   */
  get payloadLength(): number {
    if (!this.parsed) this.parse();
    if (this.l4Kind !== L4_TCP && this.l4Kind !== L4_UDP) return -1;
    return this.ipEnd - (this.l4 + this.l4HdrLen);
  }

  // -------------------------------------------------------------------------------------------
  // TCP

  /** Hot path: no allocation. */
  get tcpSrcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4) : -1;
  }

  /** Hot path: no allocation. */
  get tcpDstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** Hot path: no allocation. */
  setTcpSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.setPort(0, port) : false;
  }

  /** Hot path: no allocation. */
  setTcpDstPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.setPort(2, port) : false;
  }

  /** Sequence number (unsigned 32-bit). Hot path: no allocation. */
  get tcpSeq(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint32(this.l4 + 4) : -1;
  }

  /** Hot path: no allocation. */
  get tcpAck(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint32(this.l4 + 8) : -1;
  }

  /** Data offset in 32-bit words (5..15). Hot path: no allocation. */
  get tcpDataOffset(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.l4HdrLen >>> 2 : -1;
  }

  /** The flags byte (see TcpFlags). Hot path: no allocation. */
  get tcpFlags(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint8(this.l4 + 13) : -1;
  }

  /** Hot path: no allocation. */
  get tcpWindow(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 14) : -1;
  }

  /** Hot path: no allocation. */
  get tcpChecksum(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 16) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // UDP

  /** Hot path: no allocation. */
  get udpSrcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4) : -1;
  }

  /** Hot path: no allocation. */
  get udpDstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** Hot path: no allocation. */
  setUdpSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.setPort(0, port) : false;
  }

  /** Hot path: no allocation. */
  setUdpDstPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.setPort(2, port) : false;
  }

  /** The UDP length field as sent. Hot path: no allocation. */
  get udpLength(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 4) : -1;
  }

  /** 0 over IPv4 means the sender computed none. Hot path: no allocation. */
  get udpChecksum(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 6) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // ICMP (IPv4) and ICMPv6

  /** Hot path: no allocation. */
  get icmpType(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMP ? this.data.getUint8(this.l4) : -1;
  }

  /** Hot path: no allocation. */
  get icmpCode(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMP ? this.data.getUint8(this.l4 + 1) : -1;
  }

  /** Identifier of an echo request (8) or reply (0), else -1. Hot path: no allocation. */
  get icmpEchoId(): number {
    return this.echoField(L4_ICMP, 4);
  }

  /** Sequence number of an echo request or reply, else -1. Hot path: no allocation. */
  get icmpEchoSeq(): number {
    return this.echoField(L4_ICMP, 6);
  }

  /** Hot path: no allocation. */
  get icmp6Type(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMPV6 ? this.data.getUint8(this.l4) : -1;
  }

  /** Hot path: no allocation. */
  get icmp6Code(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMPV6 ? this.data.getUint8(this.l4 + 1) : -1;
  }

  /** Identifier of an echo request (128) or reply (129), else -1. Hot path: no allocation. */
  get icmp6EchoId(): number {
    return this.echoField(L4_ICMPV6, 4);
  }

  /** Hot path: no allocation. */
  get icmp6EchoSeq(): number {
    return this.echoField(L4_ICMPV6, 6);
  }

  private echoField(kind: number, field: number): number {
    if (!this.parsed) this.parse();
    if (this.l4Kind !== kind || this.l4 + 8 > this.ipEnd) return -1;
    const type = this.data.getUint8(this.l4);
    const echo = kind === L4_ICMP ? type === 0 || type === 8 : type === 128 || type === 129;
    return echo ? this.data.getUint16(this.l4 + field) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // Full transport checksum. Needs the whole segment: false for fragments (the checksum covers
  // the reassembled datagram) and for captures cut short of the IP length.

  /** Length the transport checksum covers, or -1 when it cannot be checked. */
  private l4CsumLength(): number {
    const k = this.l4Kind;
    if (k === L4_NONE || k === L4_OTHER || this.frag || this.ipDeclEnd > this.end) return -1;
    const n = this.ipDeclEnd - this.l4;
    if (k === L4_UDP) {
      // The UDP length field decides (RFC 768); it must fit in the datagram.
      const u = this.data.getUint16(this.l4 + 4);
      return u >= 8 && u <= n ? u : -1;
    }
    return n;
  }

  /**
   * True when the TCP, UDP, ICMP or ICMPv6 checksum is correct (a UDP-over-IPv4 checksum of 0,
   * "none", passes). False when wrong or when it cannot be checked. Hot path: no allocation.
   */
  l4ChecksumOk(): boolean {
    if (!this.parsed) this.parse();
    // Partial: not computed yet, by design (the kernel's CHECKSUM_PARTIAL is trusted).
    if ((this.off & OFFLOAD_CSUM_PARTIAL) !== 0 && (this.l4Kind === L4_TCP || this.l4Kind === L4_UDP)) return true;
    const n = this.l4CsumLength();
    if (n < 0) return false;
    if (this.l3Kind === L3_IPV4) return l4ChecksumIpv4Ok(this.data, this.l3, this.l4, n, this.proto);
    return l4ChecksumIpv6Ok(this.data, this.l3, this.l4, n, this.proto);
  }

  /**
   * Recompute the TCP, UDP, ICMP or ICMPv6 checksum over the whole segment and write it. Unlike
   * the setters, this also fills a UDP-over-IPv4 checksum that was 0 ("none"): asking for a
   * fix means asking for a checksum (packet generators zero the field, then call this). False
   * when it cannot be computed. Hot path: no allocation.
   */
  fixL4Checksum(): boolean {
    if (!this.parsed) this.parse();
    // A super-frame's checksum is per segment: the sender (kernel or software GSO) makes it.
    if ((this.off & 0xff00) !== 0) return false;
    const n = this.l4CsumLength();
    if (n < 0) return false;
    const dv = this.data;
    const k = this.l4Kind;
    const field = this.l4 + (k === L4_TCP ? 16 : k === L4_UDP ? 6 : 2);
    const c = this.l3Kind === L3_IPV4
      ? l4ChecksumIpv4(dv, this.l3, this.l4, n, this.proto)
      : l4ChecksumIpv6(dv, this.l3, this.l4, n, this.proto);
    if (c < 0) return false;
    dv.setUint16(field, c);
    if ((this.off & OFFLOAD_CSUM_PARTIAL) !== 0) this.checksumCompleted();
    return true;
  }

  /**
   * For a packet whose offload state is unknown (AF_XDP gives none): completes its TCP/UDP
   * checksum when it was left partial by the sender — the field holds exactly the pseudo-header
   * sum and the segment does not verify — and returns true. Exact, and cheap for ordinary
   * packets: the full sum is taken only when the field equals the pseudo-header sum (a
   * complete checksum does so by chance once in 65536). Hot path: no allocation.
   */
  completeIfPartial(): boolean {
    if (!this.parsed) this.parse();
    const k = this.l4Kind;
    if (k !== L4_TCP && k !== L4_UDP) return false;
    const n = this.l4CsumLength();
    if (n < 0) return false;
    const dv = this.data;
    const field = dv.getUint16(this.l4 + (k === L4_TCP ? 16 : 6));
    const ps = this.l3Kind === L3_IPV4 ? pseudoSumIpv4At(dv, this.l3, this.proto, n) : pseudoSumIpv6At(dv, this.l3, this.proto, n);
    if (field !== csumFold(ps)) return false;
    if (this.l3Kind === L3_IPV4 ? l4ChecksumIpv4Ok(dv, this.l3, this.l4, n, this.proto) : l4ChecksumIpv6Ok(dv, this.l3, this.l4, n, this.proto)) return false;
    this.off |= OFFLOAD_CSUM_PARTIAL;
    return this.fixL4Checksum();
  }

  // -------------------------------------------------------------------------------------------
  // Flow

  /**
   * Fill `out` with the packet's 5-tuple; false (out untouched) when not IPv4/IPv6. Ports are 0
   * for protocols other than TCP/UDP and for every fragment, so all fragments of a datagram
   * have the same key. proto is 255 when the IPv6 extension chain cannot be walked.
   * Hot path: no allocation.
   */
  flowKey(out: FlowKey): boolean {
    if (!this.parsed) this.parse();
    const k = this.l3Kind;
    if (k !== L3_IPV4 && k !== L3_IPV6) return false;
    const dv = this.data;
    const proto = this.proto < 0 ? 255 : this.proto;
    let sp = 0;
    let dp = 0;
    if ((this.l4Kind === L4_TCP || this.l4Kind === L4_UDP) && !this.frag) {
      sp = dv.getUint16(this.l4);
      dp = dv.getUint16(this.l4 + 2);
    }
    if (k === L3_IPV4) {
      out.setIpv4(dv.getUint32(this.l3 + 12), dv.getUint32(this.l3 + 16), proto, sp, dp);
    } else {
      out.family = 6;
      out.proto = proto;
      out.srcPort = sp;
      out.dstPort = dp;
      const a = out.addr;
      for (let i = 0; i < 8; i++) a[i] = dv.getUint32(this.l3 + 8 + (i << 2));
    }
    return true;
  }

  /**
   * Symmetric flow hash (same for both directions): hashFlowKey(flowKey, true); 0 for non-IP
   * packets. Hot path: no allocation.
   */
  flowHash(): number {
    // Numbers are written as literals here: loads of EtherType.X / IpProto.X cost ~6 % of the
    // whole call in V8 (measured), and the named constants are in the comments.
    // Fast path: straight-line reads for plain and VLAN-tagged IPv4 and IPv6 (no extension
    // headers), without running the full parse or filling a key. It applies exactly the
    // checks parse() applies (the fuzz test compares the two), and leaves anything unusual —
    // extension headers, truncation at a boundary, non-IP — to the general path.
    const off = this.base;
    const n = this.len;
    const end = off + n;
    if ((off | 0) !== off || (n | 0) !== n || off < 0 || n < 34 || end > this.bufLen) {
      return this.flowHashSlow();
    }
    const dv = this.data;
    let p = off + 12;
    let et = dv.getUint16(p);
    if (et === 0x8100 /* VLAN */ || et === 0x88a8 /* QinQ */) {
      if (p + 6 > end) return this.flowHashSlow();
      p += 4;
      et = dv.getUint16(p);
      if (et === 0x8100 /* VLAN */) {
        if (p + 6 > end) return this.flowHashSlow();
        p += 4;
        et = dv.getUint16(p);
      }
    }
    const l3 = p + 2;
    let proto: number;
    let l4: number;
    let ipEnd: number;
    let a: number;
    let z: number;
    let seed: number;
    if (et === 0x0800 /* IPv4 */) {
      if (l3 + 20 > end) return this.flowHashSlow();
      // Whole 32-bit words: version/IHL/TOS/total length, id/flags/offset, TTL/protocol/checksum.
      const w0 = dv.getUint32(l3);
      const hl = (w0 >>> 22) & 0x3c;
      const total = w0 & 0xffff;
      if (w0 >>> 28 !== 4 || hl < 20 || l3 + hl > end || total < hl) return this.flowHashSlow();
      ipEnd = l3 + total < end ? l3 + total : end;
      proto = (dv.getUint32(l3 + 8) >>> 16) & 0xff;
      // Ports only for a whole datagram (no MF flag, offset 0), as flowKey() does.
      l4 = (dv.getUint32(l3 + 4) & 0x3fff) === 0 ? l3 + hl : -1;
      a = dv.getUint32(l3 + 12);
      z = dv.getUint32(l3 + 16);
      seed = -1640531527; // FLOW_SEED4 (the fuzz test checks they agree)
    } else if (et === 0x86dd /* IPv6 */) {
      if (l3 + 40 > end || dv.getUint8(l3) >>> 4 !== 6) return this.flowHashSlow();
      proto = dv.getUint8(l3 + 6);
      if (proto === 0 /* hop-by-hop */ || proto === 43 /* routing */ || proto === 60 /* dest opts */ ||
        proto === 51 /* AH */ || proto === 44 /* fragment */) return this.flowHashSlow();
      const declEnd = l3 + 40 + dv.getUint16(l3 + 4);
      ipEnd = declEnd < end ? declEnd : end;
      l4 = l3 + 40;
      a = foldIpv6(dv.getUint32(l3 + 8), dv.getUint32(l3 + 12), dv.getUint32(l3 + 16), dv.getUint32(l3 + 20));
      z = foldIpv6(dv.getUint32(l3 + 24), dv.getUint32(l3 + 28), dv.getUint32(l3 + 32), dv.getUint32(l3 + 36));
      seed = -1640531521; // FLOW_SEED6
    } else {
      return this.flowHashSlow();
    }
    // Both ports in one 32-bit read.
    let ports = 0;
    if (l4 >= 0) {
      if (proto === 6 /* TCP */) {
        if (l4 + 20 <= ipEnd) {
          const thl = (dv.getUint8(l4 + 12) >>> 4) << 2;
          if (thl >= 20 && l4 + thl <= ipEnd) ports = dv.getUint32(l4);
        }
      } else if (proto === 17 /* UDP */ && l4 + 8 <= ipEnd) {
        ports = dv.getUint32(l4);
      }
    }
    return combineEndpoints(endpointHash(seed, a, ports >>> 16), endpointHash(seed, z, ports & 0xffff), proto, true);
  }

  /** The general path: full parse, key, hash. Hot path: no allocation. */
  private flowHashSlow(): number {
    return this.flowKey(this.scratchKey) ? hashFlowKey(this.scratchKey, true) : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helpers: text forms of addresses, for logs, configuration and tests. They allocate.

/** `aa:bb:cc:dd:ee:ff` from a 48-bit number. */
export function formatMac(mac: number): string {
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) & 0xff;
    s += (b < 16 ? '0' : '') + b.toString(16) + (i > 0 ? ':' : '');
  }
  return s;
}

/** 48-bit number from `aa:bb:cc:dd:ee:ff` (or `-` separated). Throws NFC_ERR_INVALID_ARG. */
export function parseMac(text: string): number {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `not a MAC address: "${text}"`, { fix: 'write it as aa:bb:cc:dd:ee:ff' });
  }
  return parts.reduce((acc, p) => acc * 256 + parseInt(p, 16), 0);
}

/** Unsigned 32-bit number from a dotted quad. Throws NFC_ERR_INVALID_ARG. */
export function parseIpv4(text: string): number {
  const v = tryParseIpv4(text);
  if (v === undefined) throw new NfcError('NFC_ERR_INVALID_ARG', `not an IPv4 address: "${text}"`, { fix: 'write it as a.b.c.d with each part 0..255' });
  return v;
}

/** Parse IPv6 text (with `::`, optionally a dotted-quad tail) into out[0..3]. Throws NFC_ERR_INVALID_ARG. */
export function parseIpv6(text: string, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  const v = tryParseIpv6(text, out);
  if (v === undefined) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `not an IPv6 address: "${text}"`, { fix: 'write it as eight hex groups separated by ":", with at most one "::"' });
  }
  return v;
}
