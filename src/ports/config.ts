/**
 * Port configurations: plain data, produced by the topology loader (validated there) and
 * handed to the data-plane threads, which open the port halves from them.
 */

/** What the topology may say of any port's addresses (ports[].ipv4 / ipv6 / mac); NFs learn them (port-info.ts). */
export interface PortAddressing {
  /** "a.b.c.d/len", canonical text */
  ipv4?: string[] | undefined;
  /** "x:y::z/len", canonical text (RFC 5952) */
  ipv6?: string[] | undefined;
  /** aa:bb:cc:dd:ee:ff, for ports that are not interfaces (gen, pcap, null) */
  mac?: string | undefined;
}

export interface GenPortConfig extends PortAddressing {
  name: string;
  driver: 'gen';
  /** packets per second; 0 = as fast as possible */
  rate: number;
  /** frame sizes in bytes (without FCS), used in rotation; each 60..dataRoom */
  sizes: number[];
  /** number of distinct flows (5-tuples), >= 1 */
  flows: number;
  /** share of TCP flows, 0..1 (the rest UDP) */
  tcp: number;
  /** PRNG seed: the same seed gives the same packets */
  seed: number;
  /** stop after this many packets; 0 = never */
  count: number;
  /** seconds to reach `rate` from the first packet (a linear ramp); 0 or absent = full rate at once */
  ramp?: number | undefined;
}

export interface PcapPortConfig extends PortAddressing {
  name: string;
  driver: 'pcap';
  /** capture to read as incoming traffic (absolute path), if any */
  rx?: string;
  /** capture to write outgoing traffic to (absolute path), if any */
  tx?: string;
  /** 'max': as fast as possible; 'realtime': at the capture's own pace; a number: that many times the capture's pace */
  speed: 'max' | 'realtime' | number;
  /** start the capture again at its end */
  loop: boolean;
}

export interface NullPortConfig extends PortAddressing {
  name: string;
  driver: 'null';
}

/** A Linux interface through an AF_PACKET socket pair (TPACKET_V2 receive ring, sendmmsg). */
export interface AfPacketPortConfig extends PortAddressing {
  name: string;
  driver: 'af_packet';
  /** the interface, e.g. veth0 or eth1 */
  interface: string;
  /** receive ring frames (each holds one frame of up to 64 KiB with offloads, else one MTU) */
  frames: number;
  /** carry the hosts' offloads (PACKET_VNET_HDR: GSO super-frames, partial checksums) */
  offloads: boolean;
}

/** A Linux interface through an AF_XDP socket whose UMEM is the packet pool (libxdp). */
export interface AfXdpPortConfig extends PortAddressing {
  name: string;
  driver: 'af_xdp';
  interface: string;
  /** the interface's queue to bind to */
  queue: number;
  /** size of each of the socket's four rings (power of two) */
  ringSize: number;
}

export type PortConfig = GenPortConfig | PcapPortConfig | NullPortConfig | AfPacketPortConfig | AfXdpPortConfig;
export type PortDriverName = PortConfig['driver'];

export const PORT_DRIVERS: readonly PortDriverName[] = ['gen', 'pcap', 'null', 'af_packet', 'af_xdp'];
