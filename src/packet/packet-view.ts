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
 * exceptions per packet. Every method of PacketView and of its bases is on the hot path and
 * allocates nothing unless its comment says `Allocates:`. The text forms of addresses (formatMac,
 * parseIpv4, ...) are cold and live in address.ts.
 *
 * The class is built in three steps, each extending the one before: PacketParser
 * (packet-parser.ts: the packet's place in the buffer, its offloads, the one-time parse),
 * PacketFields (packet-fields.ts: the read accessors), and PacketView here: the setters that
 * keep checksums right, the checksum checks and fix-ups, the flow key and the flow hash. The
 * protocol constants (EtherType, IpProto, TcpFlags, MacField) are in protocol.ts.
 */
import { FlowKey, hashFlowKey, endpointHash, foldIpv6, combineEndpoints } from './flow-key.js';
import {
  csumFold,
  csumUpdate16,
  csumUpdate32,
  ipv4HeaderChecksum,
  ipv4HeaderChecksumOk,
  pseudoSumIpv4At,
  pseudoSumIpv6At,
  l4ChecksumIpv4,
  l4ChecksumIpv4Ok,
  l4ChecksumIpv6,
  l4ChecksumIpv6Ok,
} from './checksum.js';
import { MacField } from './protocol.js';
import { LayerKind } from './packet-parser.js';
import { PacketFields } from './packet-fields.js';
import { OFFLOAD_CSUM_PARTIAL } from '../shm/pool-layout.js';

// Consts of this module, folded into the optimized code (an imported binding is loaded at each use: see LayerKind).
const { L3_ARP, L3_IPV4, L3_IPV6, L4_NONE, L4_OTHER, L4_TCP, L4_UDP, L4_ICMPV6 } = LayerKind;

/** 2^32: a MAC as a 48-bit number is its high 16 bits * TWO_32 + its low 32 bits (as in packet-fields.ts). */
const TWO_32 = 4294967296;

export class PacketView extends PacketFields {
  /** Filled by flowHash(); preallocated so hashing allocates nothing. Allocates: one FlowKey, at construction. */
  private readonly scratchKey = new FlowKey();

  // -------------------------------------------------------------------------------------------
  // Ethernet

  setEthDst(mac: number): boolean {
    return this.setMac(MacField.ETH_DST, mac);
  }

  setEthSrc(mac: number): boolean {
    return this.setMac(MacField.ETH_SRC, mac);
  }

  /** Write a MAC from a 48-bit number. */
  setMac(field: MacField, mac: number): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const hi = Math.floor(mac / TWO_32);
    this.data.setUint16(o, hi);
    this.data.setUint32(o + 2, mac - hi * TWO_32);
    return true;
  }

  /** Write a MAC from mac[macOffset..+5]. */
  writeMac(field: MacField, mac: Uint8Array, macOffset = 0): boolean {
    const o = this.macAt(field);
    if (o < 0) return false;
    const b = this.bytes;
    for (let i = 0; i < 6; i++) b[o + i] = mac[macOffset + i] ?? 0;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // ARP (Ethernet / IPv4 only)

  setArpOp(op: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint16(this.l3 + 6, op);
    return true;
  }

  setArpSenderIp(ip: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint32(this.l3 + 14, ip >>> 0);
    return true;
  }

  setArpTargetIp(ip: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_ARP) return false;
    this.data.setUint32(this.l3 + 24, ip >>> 0);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // IPv4

  /** Rewrite the source address; fixes the IPv4 and TCP/UDP checksums incrementally. */
  setIpv4Src(addr: number): boolean {
    return this.setIpv4Addr(12, addr);
  }

  /** Rewrite the destination address; fixes the IPv4 and TCP/UDP checksums incrementally. */
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

  setIpv4Ttl(ttl: number): boolean {
    return this.setIpv4Byte(8, ttl);
  }

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
   * already 0.
   */
  decrementTtl(): boolean {
    const ttl = this.ipv4Ttl;
    if (ttl > 0) return this.setIpv4Byte(8, ttl - 1);
    const hl = this.ipv6HopLimit;
    if (hl > 0) return this.setIpv6HopLimit(hl - 1);
    return false;
  }

  /** True when the IPv4 header checksum is correct; false when wrong or no IPv4. */
  ipv4ChecksumOk(): boolean {
    if (!this.parsed) this.parse();
    return this.l3Kind === L3_IPV4 && ipv4HeaderChecksumOk(this.data, this.l3);
  }

  /** Recompute the IPv4 header checksum. */
  fixIpv4Checksum(): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV4) return false;
    this.data.setUint16(this.l3 + 10, ipv4HeaderChecksum(this.data, this.l3));
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // IPv6

  setIpv6HopLimit(hopLimit: number): boolean {
    if (!this.parsed) this.parse();
    if (this.l3Kind !== L3_IPV6) return false;
    this.data.setUint8(this.l3 + 7, hopLimit);
    return true;
  }

  /** Rewrite the source address from addr[0..3]; fixes TCP/UDP/ICMPv6 checksums. */
  setIpv6Src(addr: Uint32Array): boolean {
    return this.setIpv6Addr(8, addr);
  }

  /** Rewrite the destination address from addr[0..3]; fixes TCP/UDP/ICMPv6 checksums. */
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

  /** Set the TCP or UDP source port (checksum fixed). */
  setSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP || this.l4Kind === L4_UDP ? this.setPort(0, port) : false;
  }

  /** Set the TCP or UDP destination port (checksum fixed). */
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

  // -------------------------------------------------------------------------------------------
  // TCP

  setTcpSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.setPort(0, port) : false;
  }

  setTcpDstPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_TCP ? this.setPort(2, port) : false;
  }

  // -------------------------------------------------------------------------------------------
  // UDP

  setUdpSrcPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.setPort(0, port) : false;
  }

  setUdpDstPort(port: number): boolean {
    if (!this.parsed) this.parse();
    return this.l4Kind === L4_UDP ? this.setPort(2, port) : false;
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
   * "none", passes). False when wrong or when it cannot be checked.
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
   * when it cannot be computed.
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
    const c =
      this.l3Kind === L3_IPV4
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
   * complete checksum does so by chance once in 65536).
   */
  completeIfPartial(): boolean {
    if (!this.parsed) this.parse();
    const k = this.l4Kind;
    if (k !== L4_TCP && k !== L4_UDP) return false;
    const n = this.l4CsumLength();
    if (n < 0) return false;
    const dv = this.data;
    const field = dv.getUint16(this.l4 + (k === L4_TCP ? 16 : 6));
    const ps =
      this.l3Kind === L3_IPV4
        ? pseudoSumIpv4At(dv, this.l3, this.proto, n)
        : pseudoSumIpv6At(dv, this.l3, this.proto, n);
    if (field !== csumFold(ps)) return false;
    if (
      this.l3Kind === L3_IPV4
        ? l4ChecksumIpv4Ok(dv, this.l3, this.l4, n, this.proto)
        : l4ChecksumIpv6Ok(dv, this.l3, this.l4, n, this.proto)
    )
      return false;
    this.off |= OFFLOAD_CSUM_PARTIAL;
    return this.fixL4Checksum();
  }

  // -------------------------------------------------------------------------------------------
  // Flow

  /**
   * Fill `out` with the packet's 5-tuple; false (out untouched) when not IPv4/IPv6. Ports are 0
   * for protocols other than TCP/UDP and for every fragment, so all fragments of a datagram
   * have the same key. proto is 255 when the IPv6 extension chain cannot be walked.
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
   * packets.
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
      if (
        proto === 0 /* hop-by-hop */ ||
        proto === 43 /* routing */ ||
        proto === 60 /* dest opts */ ||
        proto === 51 /* AH */ ||
        proto === 44 /* fragment */
      )
        return this.flowHashSlow();
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

  /** The general path: full parse, key, hash. */
  private flowHashSlow(): number {
    return this.flowKey(this.scratchKey) ? hashFlowKey(this.scratchKey, true) : 0;
  }
}
