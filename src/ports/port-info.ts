/**
 * What an NF may know about the manager's ports: name, driver, MAC, MTU, link state and the
 * addresses the topology gives them (`ports[].ipv4` / `ipv6`). The manager describes each port
 * once, at start (describePorts), and sends the descriptions to every NF when it registers; the
 * link state changes, so the manager keeps it in a shared gauge (PortRxCounters.link), read with
 * readLink every second.
 *
 * Where the facts come from:
 *   af_packet, af_xdp   the interface, from /sys/class/net/<if>/{address,mtu,operstate,carrier}
 *   gen, pcap, null     `mac` in the topology, else a locally administered 02:00:00:00:00:<id+1>;
 *                       MTU 1500; always up
 *
 * Cold code: run at start and once a second; it allocates.
 */
import { readFileSync } from 'node:fs';
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

function sysfs(ifname: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${ifname}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
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
    const mac = ifname !== undefined ? sysfs(ifname, 'address') : cfg.mac;
    const mtu = ifname !== undefined ? Number(sysfs(ifname, 'mtu')) : SYNTHETIC_MTU;
    return {
      id,
      name: cfg.name,
      driver: cfg.driver,
      interface: ifname ?? '',
      mac: mac ?? syntheticMac(id),
      mtu: Number.isInteger(mtu) && mtu > 0 ? mtu : SYNTHETIC_MTU,
      ipv4: [...(cfg.ipv4 ?? [])],
      ipv6: [...(cfg.ipv6 ?? [])],
    };
  });
}

/**
 * Whether the port's link is up (cold): an interface is up when the kernel says so (operstate
 * "up", or "unknown" with carrier — as for some virtual devices); ports that are not interfaces
 * are always up.
 */
export function readLink(cfg: PortConfig): boolean {
  const ifname = portInterface(cfg);
  if (ifname === undefined) return true;
  const state = sysfs(ifname, 'operstate');
  if (state === 'up') return true;
  if (state === 'unknown') return sysfs(ifname, 'carrier') === '1';
  return false;
}
