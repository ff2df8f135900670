/**
 * Protocol numbers and field names of the headers the packet view parses: EtherTypes, IP
 * protocol numbers, TCP flag bits, which MAC address a MAC accessor works on, and the bound on
 * the IPv6 extension-header walk. Constants only; the parser (packet-parser.ts) and PacketView
 * use them, and so do NFs.
 */

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
