/**
 * Synthetic packets: writes well-formed Ethernet frames of several shapes straight into a
 * buffer (a pool buffer, or any byte array), for the `gen` port, benchmarks and tests.
 *
 * Shapes cover what the packet view must handle: IPv4 and IPv6, UDP and TCP, one and two
 * VLAN tags, IPv4 options. Checksums (IPv4 header, UDP/TCP) are filled in, so a receiver
 * that verifies them accepts the packets.
 */
import type { PacketView } from '../packet/packet-view.js';

export const SynthKind = {
  IPV4_UDP: 0,
  IPV4_TCP: 1,
  IPV6_UDP: 2,
  IPV6_TCP: 3,
  VLAN_IPV4_UDP: 4,
  QINQ_IPV4_TCP: 5,
  IPV4_OPTIONS_UDP: 6,
} as const;
export type SynthKind = (typeof SynthKind)[keyof typeof SynthKind];
export const SYNTH_KINDS = Object.values(SynthKind) as SynthKind[];

export interface SynthFlow {
  kind: SynthKind;
  /** IPv4 address, or the last word of an IPv6 address under 2001:db8::/64 */
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
}

const SRC_MAC_HI = 0x0200; // locally administered
const DST_MAC_HI = 0x0200;

/** Smallest frame (without FCS) for each kind, headers only. */
export function synthMinLength(kind: SynthKind): number {
  const l2 = 14 + (kind === SynthKind.VLAN_IPV4_UDP ? 4 : kind === SynthKind.QINQ_IPV4_TCP ? 8 : 0);
  const l3 =
    kind === SynthKind.IPV6_UDP || kind === SynthKind.IPV6_TCP ? 40 : kind === SynthKind.IPV4_OPTIONS_UDP ? 28 : 20;
  const l4 = kind === SynthKind.IPV4_TCP || kind === SynthKind.IPV6_TCP || kind === SynthKind.QINQ_IPV4_TCP ? 20 : 8;
  return l2 + l3 + l4;
}

/**
 * Writes one frame of `size` bytes (raised to the kind's minimum) at `off` of `u8` and
 * returns its length. `view` is a PacketView over the same buffer, used to fill checksums.
 * Cold-ish: a few dozen stores per packet, no allocation.
 */
export function writeSynth(
  dv: DataView,
  u8: Uint8Array,
  view: PacketView,
  off: number,
  size: number,
  f: SynthFlow,
): number {
  const len = Math.max(size, synthMinLength(f.kind), 60);
  u8.fill(0, off, off + len);
  // Ethernet: dst 02:00:00:00:00:02, src 02:00:<src ip>
  dv.setUint16(off, DST_MAC_HI);
  dv.setUint32(off + 2, 2);
  dv.setUint16(off + 6, SRC_MAC_HI);
  dv.setUint32(off + 8, f.src);
  let p = off + 12;
  if (f.kind === SynthKind.VLAN_IPV4_UDP) {
    dv.setUint16(p, 0x8100);
    dv.setUint16(p + 2, 100);
    p += 4;
  } else if (f.kind === SynthKind.QINQ_IPV4_TCP) {
    dv.setUint16(p, 0x88a8);
    dv.setUint16(p + 2, 200);
    dv.setUint16(p + 4, 0x8100);
    dv.setUint16(p + 6, 10);
    p += 8;
  }
  const v6 = f.kind === SynthKind.IPV6_UDP || f.kind === SynthKind.IPV6_TCP;
  const tcp = f.kind === SynthKind.IPV4_TCP || f.kind === SynthKind.IPV6_TCP || f.kind === SynthKind.QINQ_IPV4_TCP;
  dv.setUint16(p, v6 ? 0x86dd : 0x0800);
  p += 2;
  const l3 = p;
  let l4: number;
  if (v6) {
    dv.setUint32(l3, 0x60000000);
    dv.setUint16(l3 + 4, off + len - (l3 + 40));
    u8[l3 + 6] = tcp ? 6 : 17;
    u8[l3 + 7] = 64;
    dv.setUint32(l3 + 8, 0x20010db8);
    dv.setUint32(l3 + 20, f.src);
    dv.setUint32(l3 + 24, 0x20010db8);
    dv.setUint32(l3 + 36, f.dst);
    l4 = l3 + 40;
  } else {
    const ihl = f.kind === SynthKind.IPV4_OPTIONS_UDP ? 7 : 5;
    u8[l3] = 0x40 | ihl;
    dv.setUint16(l3 + 2, off + len - l3);
    dv.setUint16(l3 + 4, f.srcPort ^ f.dstPort);
    dv.setUint16(l3 + 6, 0x4000); // DF
    u8[l3 + 8] = 64;
    u8[l3 + 9] = tcp ? 6 : 17;
    dv.setUint32(l3 + 12, f.src);
    dv.setUint32(l3 + 16, f.dst);
    if (ihl === 7) {
      // Record Route, one empty slot, then NOPs to the 4-byte boundary.
      u8[l3 + 20] = 7;
      u8[l3 + 21] = 7;
      u8[l3 + 22] = 4;
      u8[l3 + 27] = 1;
    }
    l4 = l3 + ihl * 4;
  }
  dv.setUint16(l4, f.srcPort);
  dv.setUint16(l4 + 2, f.dstPort);
  if (tcp) {
    dv.setUint32(l4 + 4, 1000);
    u8[l4 + 12] = 5 << 4;
    u8[l4 + 13] = 0x10; // ACK
    dv.setUint16(l4 + 14, 65535);
  } else {
    dv.setUint16(l4 + 4, off + len - l4);
  }
  view.reset(off, len);
  view.fixL4Checksum();
  if (!v6) view.fixIpv4Checksum();
  return len;
}

/** Deterministic flow `i` of a set (cold): kinds rotate, addresses and ports vary. */
export function synthFlow(i: number, kinds: readonly SynthKind[] = SYNTH_KINDS): SynthFlow {
  return {
    kind: kinds[i % kinds.length]!,
    src: (0x0a000000 | ((i * 2654435761) >>> 8)) >>> 0,
    dst: (0xc0a80000 | (i & 0xffff)) >>> 0,
    srcPort: 1024 + ((i * 7919) % 60000),
    dstPort: [53, 80, 443, 8080][i & 3]!,
  };
}
