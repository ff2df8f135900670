/**
 * What an NF may know about the manager's ports: name, driver, MAC, MTU, link state and the
 * addresses the topology gives them (`ports[].ipv4` / `ipv6`). The manager describes each port
 * once, at start (describePorts), and sends the descriptions to every NF when it registers; the
 * link state changes, so the manager keeps it in a shared gauge (PortRxCounters.link), read with
 * readLink every second.
 *
 * Where the facts come from:
 *   af_packet, af_xdp   the interface, from the kernel (native linkInfo: flags, MTU, MAC)
 *   gen, pcap, null     `mac` in the topology, else a locally administered 02:00:00:00:00:<id+1>;
 *                       MTU 1500; always up
 *
 * Cold code: run at start and once a second; it allocates.
 */
import { native } from '../native.js';
import { formatMac } from '../packet/address.js';
import type { PortConfig } from './config.js';

/** One port as an NF learns it (JSON: it travels in the manager's `registered` reply). */
export interface PortDescription {
  /** the port id (its index in the topology's `ports`): what out(port) takes */
  id: number;
  name: string;
  driver: PortConfig['driver'];
  /** the Linux interface (af_packet, af_xdp), or '' */
  interface: string;
  /** aa:bb:cc:dd:ee:ff */
  mac: string;
  mtu: number;
  /** the port's IPv4 addresses with their prefix length, "10.0.1.1/24" (topology `ipv4`) */
  ipv4: string[];
  /** the port's IPv6 addresses with their prefix length, "fd00:1::1/64" (topology `ipv6`) */
  ipv6: string[];
}

/** MTU reported for ports that are not interfaces. */
export const SYNTHETIC_MTU = 1500;

/** The MAC of a port without an interface and without `mac` in the topology (locally administered). */
export function syntheticMac(id: number): string {
  return formatMac(0x020000000000 + id + 1);
}

/** An interface's state as the kernel gives it (SIOCGIF* ioctls in the addon); all down when it is gone. */
export function interfaceLink(ifname: string): {
  interface: string;
  up: boolean;
  running: boolean;
  mtu: number;
  mac: string;
} {
  try {
    const l = native().linkInfo(ifname);
    return { interface: ifname, up: l.up, running: l.running, mtu: l.mtu, mac: l.mac };
  } catch {
    return { interface: ifname, up: false, running: false, mtu: 0, mac: '' };
  }
}

/** The interface a port runs on, or undefined (gen, pcap, null). */
export function portInterface(cfg: PortConfig): string | undefined {
  return cfg.driver === 'af_packet' || cfg.driver === 'af_xdp' ? cfg.interface : undefined;
}

/** Describes every port (cold: at start). */
export function describePorts(ports: readonly PortConfig[]): PortDescription[] {
  return ports.map((cfg, id) => {
    const ifname = portInterface(cfg);
    const link = ifname !== undefined ? interfaceLink(ifname) : undefined;
    return {
      id,
      name: cfg.name,
      driver: cfg.driver,
      interface: ifname ?? '',
      mac: link?.mac || (cfg.mac ?? syntheticMac(id)),
      mtu: link !== undefined && link.mtu > 0 ? link.mtu : SYNTHETIC_MTU,
      ipv4: [...(cfg.ipv4 ?? [])],
      ipv6: [...(cfg.ipv6 ?? [])],
    };
  });
}

/**
 * Whether the port's link is up (cold): an interface is up when it is administratively up and
 * has carrier (IFF_UP and IFF_RUNNING); ports that are not interfaces are always up.
 */
export function readLink(cfg: PortConfig): boolean {
  const ifname = portInterface(cfg);
  if (ifname === undefined) return true;
  const l = interfaceLink(ifname);
  return l.up && l.running;
}
