/**
 * PacketFields: the read accessors of PacketView, one per header field (Ethernet, VLAN, ARP,
 * IP, IPv4, IPv6, transport, TCP, UDP, ICMP, ICMPv6), over the offsets PacketParser recorded
 * (packet-parser.ts). Each returns -1 (or false) for an absent field: another protocol, a
 * truncated packet or a malformed header. The rewrites that keep checksums right, the checksum
 * checks and fix-ups and the flow key and hash are in PacketView (packet-view.ts).
 *
 * Every method here is on the hot path and allocates nothing unless its comment says
 * `Allocates:`.
 */
import { MacField } from './protocol.js';
import { LayerKind, PacketParser } from './packet-parser.js';

// Consts of this module, folded into the optimized code (an imported binding is loaded at each use: see LayerKind).
const { L3_ARP, L3_IPV4, L3_IPV6, L4_TCP, L4_UDP, L4_ICMP, L4_ICMPV6 } = LayerKind;

/** 2^32: a MAC as a 48-bit number is its high 16 bits * TWO_32 + its low 32 bits. */
const TWO_32 = 4294967296;

export class PacketFields extends PacketParser {
  // -------------------------------------------------------------------------------------------
  // Ethernet

  /** Destination MAC as a 48-bit number, -1 if the packet is shorter than an Ethernet header. */
  get ethDst(): number {
    return this.mac(MacField.ETH_DST);
  }

  /** Source MAC as a 48-bit number, or -1. */
  get ethSrc(): number {
    return this.mac(MacField.ETH_SRC);
  }

  /** Absolute offset of a MAC field, or -1 when absent. */
  protected macAt(field: MacField): number {
    if (!this.parsed) this.parse();
    switch (field) {
      case MacField.ETH_DST:
        return this.ethOk ? this.base : -1;
      case MacField.ETH_SRC:
        return this.ethOk ? this.base + 6 : -1;
      case MacField.ARP_SENDER:
        return this.l3Kind === L3_ARP ? this.l3 + 8 : -1;
      case MacField.ARP_TARGET:
        return this.l3Kind === L3_ARP ? this.l3 + 18 : -1;
      default:
        return -1;
    }
  }

  /** A MAC (Ethernet or ARP) as a 48-bit number, or -1. */
  mac(field: MacField): number {
    const o = this.macAt(field);
    if (o < 0) return -1;
    return this.data.getUint16(o) * TWO_32 + this.data.getUint32(o + 2);
  }

  /** Copy a MAC into out[outOffset..+5]. */
  copyMac(field: MacField, out: Uint8Array, outOffset = 0): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const b = this.bytes;
    for (let i = 0; i < 6; i++) out[outOffset + i] = b[o + i]!;
    return true;
  }

  /** Number of VLAN tags (0, 1 or 2); -1 without an Ethernet header. */
  get vlanCount(): number {
    if (!this.parsed) this.parse();
    return this.ethOk ? this.vlanN : -1;
  }

  /** 12-bit VLAN id of tag `i` (0 = outer), or -1. */
  vlanId(i: number): number {
    if (!this.parsed) this.parse();
    const o = i === 0 ? this.vlan0 : i === 1 ? this.vlan1 : -1;
    return o < 0 ? -1 : this.data.getUint16(o) & 0x0fff;
  }

  /** 3-bit priority (PCP) of tag `i`, or -1. */
  vlanPcp(i: number): number {
    if (!this.parsed) this.parse();
    const o = i === 0 ? this.vlan0 : i === 1 ? this.vlan1 : -1;
    return o < 0 ? -1 : this.data.getUint8(o) >>> 5;
  }

  /**
   * EtherType after the VLAN tags (the TPID itself when a tag is cut short or a third tag
   * follows), or -1.
   */
  get etherType(): number {
    if (!this.parsed) this.parse();
    return this.etype;
  }

  /** Where the L3 header starts, relative to the packet; -1 without Ethernet. */
  get l3Offset(): number {
    if (!this.parsed) this.parse();
    return this.l3 < 0 ? -1 : this.l3 - this.base;
  }

  // -------------------------------------------------------------------------------------------
  // ARP (Ethernet / IPv4 only)

  /** 1 request, 2 reply; -1 when not a well-formed Ethernet/IPv4 ARP packet. */
  get arpOp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint16(this.l3 + 6) : -1;
  }

  get arpSenderMac(): number {
    return this.mac(MacField.ARP_SENDER);
  }

  get arpTargetMac(): number {
    return this.mac(MacField.ARP_TARGET);
  }

  get arpSenderIp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint32(this.l3 + 14) : -1;
  }

  get arpTargetIp(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_ARP ? this.data.getUint32(this.l3 + 24) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // IP, either version

  /** 4 or 6 when a valid IP header is present, else -1. */
  get ipVersion(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? 4 : this.l3Kind === L3_IPV6 ? 6 : -1;
  }

  /**
   * Upper-layer protocol: the IPv4 protocol field, or the IPv6 next header after the extension
   * headers; known for every fragment. -1 without IP or when the extension chain is cut short
   * or too long.
   */
  get ipProtocol(): number {
    if (!this.parsed) this.parse();
    return this.proto;
  }

  /** True for any fragment (IPv4 MF or offset, IPv6 Fragment header). */
  get isFragment(): boolean {
    if (!this.parsed) this.parse();
    return this.frag;
  }

  /**
   * Fragment offset in bytes (0 for the first fragment and unfragmented packets; the transport
   * header is only in the fragment at offset 0). -1 without IP.
   */
  get fragmentOffset(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 || this.l3Kind === L3_IPV6 ? this.fragOff : -1;
  }

  // -------------------------------------------------------------------------------------------
  // IPv4

  get ipv4Ihl(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.ipHdrLen >>> 2 : -1;
  }

  get ipv4Tos(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 1) : -1;
  }

  get ipv4TotalLength(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 2) : -1;
  }

  get ipv4Id(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 4) : -1;
  }

  /** The 3 flag bits (0x2 = DF, 0x1 = MF). */
  get ipv4Flags(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 6) >>> 5 : -1;
  }

  get ipv4Ttl(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 8) : -1;
  }

  get ipv4Protocol(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint8(this.l3 + 9) : -1;
  }

  get ipv4Checksum(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint16(this.l3 + 10) : -1;
  }

  /** Source address as an unsigned 32-bit number, or -1. */
  get ipv4Src(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint32(this.l3 + 12) : -1;
  }

  get ipv4Dst(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 ? this.data.getUint32(this.l3 + 16) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // IPv6

  get ipv6TrafficClass(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? (this.data.getUint16(this.l3) >>> 4) & 0xff : -1;
  }

  get ipv6FlowLabel(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint32(this.l3) & 0xfffff : -1;
  }

  get ipv6PayloadLength(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint16(this.l3 + 4) : -1;
  }

  /** Next header of the fixed header (the first extension header, if any). */
  get ipv6NextHeader(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint8(this.l3 + 6) : -1;
  }

  get ipv6HopLimit(): number {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV6 ? this.data.getUint8(this.l3 + 7) : -1;
  }

  /** Copy the source address into out[0..3] (network-order words). */
  ipv6Src(out: Uint32Array): boolean {
    return this.copyIpv6(8, out);
  }

  /** Copy the destination address into out[0..3]. */
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

  // -------------------------------------------------------------------------------------------
  // Transport, either protocol

  /**
   * Where the transport header starts, relative to the packet: for TCP/UDP/ICMP/ICMPv6 only when
   * their header is whole; for other protocols whenever it starts inside the datagram. -1 for
   * later fragments and non-IP packets.
   */
  get l4Offset(): number {
    if (!this.parsed) this.parse();
    return this.l4 < 0 ? -1 : this.l4 - this.base;
  }

  /** Source port of TCP or UDP, else -1. */
  get srcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.data.getUint16(this.l4) : -1;
  }

  /** Destination port of TCP or UDP, else -1. */
  get dstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** Payload start (after the TCP or UDP header), relative to the packet; -1 otherwise. */
  get payloadOffset(): number {
    if (!this.parsed) this.parse();
    if (this.l4Kind !== L4_TCP && this.l4Kind !== L4_UDP) return -1;
    return this.l4 + this.l4HdrLen - this.base;
  }

  /**
   * Payload bytes after the TCP or UDP header that are inside both the datagram (IP length;
   * Ethernet padding excluded) and the packet (a truncated capture has fewer); -1 otherwise.
   */
  get payloadLength(): number {
    if (!this.parsed) this.parse();
    if (this.l4Kind !== L4_TCP && this.l4Kind !== L4_UDP) return -1;
    return this.ipEnd - (this.l4 + this.l4HdrLen);
  }

  // -------------------------------------------------------------------------------------------
  // TCP

  get tcpSrcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4) : -1;
  }

  get tcpDstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** Sequence number (unsigned 32-bit). */
  get tcpSeq(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint32(this.l4 + 4) : -1;
  }

  get tcpAck(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint32(this.l4 + 8) : -1;
  }

  /** Data offset in 32-bit words (5..15). */
  get tcpDataOffset(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.l4HdrLen >>> 2 : -1;
  }

  /** The flags byte (see TcpFlags). */
  get tcpFlags(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint8(this.l4 + 13) : -1;
  }

  get tcpWindow(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 14) : -1;
  }

  get tcpChecksum(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.data.getUint16(this.l4 + 16) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // UDP

  get udpSrcPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4) : -1;
  }

  get udpDstPort(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 2) : -1;
  }

  /** The UDP length field as sent. */
  get udpLength(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 4) : -1;
  }

  /** 0 over IPv4 means the sender computed none. */
  get udpChecksum(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.data.getUint16(this.l4 + 6) : -1;
  }

  // -------------------------------------------------------------------------------------------
  // ICMP (IPv4) and ICMPv6

  get icmpType(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMP ? this.data.getUint8(this.l4) : -1;
  }

  get icmpCode(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMP ? this.data.getUint8(this.l4 + 1) : -1;
  }

  /** Identifier of an echo request (8) or reply (0), else -1. */
  get icmpEchoId(): number {
    return this.echoField(L4_ICMP, 4);
  }

  /** Sequence number of an echo request or reply, else -1. */
  get icmpEchoSeq(): number {
    return this.echoField(L4_ICMP, 6);
  }

  get icmp6Type(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMPV6 ? this.data.getUint8(this.l4) : -1;
  }

  get icmp6Code(): number {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_ICMPV6 ? this.data.getUint8(this.l4 + 1) : -1;
  }

  /** Identifier of an echo request (128) or reply (129), else -1. */
  get icmp6EchoId(): number {
    return this.echoField(L4_ICMPV6, 4);
  }

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
}
