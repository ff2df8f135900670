/**
 * The manager's ports as an NF sees them (ctx.ports, ctx.port(name)): what the manager described
 * when the NF registered (ports/port-info.ts), with the addresses parsed once into numbers for
 * the data path, and the link state read from the manager's shared gauge.
 *
 *   const wan = ctx.port(ctx.options.wan);          // in create(): throws naming the ports there are
 *   wan.mac, wan.macBytes, wan.mtu, wan.up
 *   wan.ipv4[0].addr / .prefix / .mask / .network   // numbers (unsigned 32-bit)
 *   wan.ipv6[0].words                               // Uint32Array(4), network order
 *   ctx.send(d, out(wan.id))                        // a packet the NF made, out of that port
 *
 * Cold: made when the NF starts; `up` is one read of a shared number.
 */
import { NfcError } from '../errors.js';
import { parseIpv4, parseIpv6, parseMac } from '../packet/address.js';
import type { PortDescription } from '../ports/port-info.js';
import { SYNTHETIC_MTU, syntheticMac } from '../ports/port-info.js';
import { didYouMean } from '../util/names.js';

/** An IPv4 address of a port. */
export interface PortIpv4 {
  /** "10.0.1.1" */
  readonly address: string;
  /** the address as an unsigned 32-bit number */
  readonly addr: number;
  readonly prefix: number;
  /** the prefix's mask and network, unsigned 32-bit */
  readonly mask: number;
  readonly network: number;
}

/** An IPv6 address of a port. */
export interface PortIpv6 {
  /** "fd00:1::1" */
  readonly address: string;
  /** four 32-bit words, network order */
  readonly words: Uint32Array;
  readonly prefix: number;
}

export class PortInfo {
  readonly id: number;
  readonly name: string;
  readonly driver: string;
  /** the Linux interface, or '' (gen, pcap, null) */
  readonly interface: string;
  /** "aa:bb:cc:dd:ee:ff" */
  readonly mac: string;
  /** the MAC as six bytes (copy it into a frame: bytes.set(port.macBytes, at)) */
  readonly macBytes: Uint8Array;
  readonly mtu: number;
  readonly ipv4: readonly PortIpv4[];
  readonly ipv6: readonly PortIpv6[];
  private readonly linkOf: () => boolean;

  constructor(d: PortDescription, linkOf: () => boolean) {
    this.id = d.id;
    this.name = d.name;
    this.driver = d.driver;
    this.interface = d.interface;
    this.mac = d.mac;
    const m = parseMac(d.mac);
    this.macBytes = new Uint8Array(6);
    for (let i = 0; i < 6; i++) this.macBytes[i] = Math.floor(m / 2 ** (8 * (5 - i))) & 0xff;
    this.mtu = d.mtu;
    this.ipv4 = d.ipv4.map((text) => {
      const [a, len] = splitCidr(text);
      const addr = parseIpv4(a);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return { address: a, addr, prefix: len, mask, network: (addr & mask) >>> 0 };
    });
    this.ipv6 = d.ipv6.map((text) => {
      const [a, len] = splitCidr(text);
      return { address: a, words: parseIpv6(a), prefix: len };
    });
    this.linkOf = linkOf;
  }

  /** The link is up (interfaces: as the kernel says, checked every second; other ports: always). */
  get up(): boolean {
    return this.linkOf();
  }

  /** True when `addr` (unsigned 32-bit) is one of this port's IPv4 addresses. Hot-path safe. */
  hasIpv4(addr: number): boolean {
    const list = this.ipv4;
    for (let i = 0; i < list.length; i++) if (list[i]!.addr === addr >>> 0) return true;
    return false;
  }

  /** The port's IPv4 address on the same subnet as `addr`, else its first, else undefined. */
  ipv4For(addr: number): PortIpv4 | undefined {
    for (const a of this.ipv4) if ((addr & a.mask) >>> 0 === a.network) return a;
    return this.ipv4[0];
  }

  toJSON(): PortDescription {
    return {
      id: this.id,
      name: this.name,
      driver: this.driver as PortDescription['driver'],
      interface: this.interface,
      mac: this.mac,
      mtu: this.mtu,
      ipv4: this.ipv4.map((a) => `${a.address}/${a.prefix}`),
      ipv6: this.ipv6.map((a) => `${a.address}/${a.prefix}`),
    };
  }
}

function splitCidr(text: string): [string, number] {
  const slash = text.indexOf('/');
  return slash < 0 ? [text, -1] : [text.slice(0, slash), Number(text.slice(slash + 1))];
}

/**
 * ctx.port(name): the port of that name, or a throw that names the ports there are (cold). With
 * `option` (the NF option that named the port), the error is that option's (NFC_ERR_NF_OPTION).
 */
export function findPort(ports: readonly PortInfo[], name: string | number, who: string, option?: string): PortInfo {
  const p = typeof name === 'number' ? ports.find((x) => x.id === name) : ports.find((x) => x.name === name);
  if (p !== undefined) return p;
  const names = ports.map((x) => x.name);
  const guess = typeof name === 'string' ? didYouMean(name, names) : undefined;
  throw new NfcError(
    option !== undefined ? 'NFC_ERR_NF_OPTION' : 'NFC_ERR_NF',
    `${who}: ${option !== undefined ? `option --${option}: ` : ''}no port ${typeof name === 'number' ? `with id ${name}` : `"${name}"`}${guess !== undefined ? `; did you mean "${guess}"?` : ''}`,
    { fix: names.length > 0 ? `the manager's ports: ${names.join(', ')}` : 'the manager has no ports' },
  );
}

/** What a test (runNF) may say of a port; everything but the name has a default. */
export interface PortSpec {
  name: string;
  driver?: string;
  mac?: string;
  mtu?: number;
  ipv4?: string | string[];
  ipv6?: string | string[];
  /** link state (default up); a function is read at each access */
  up?: boolean | (() => boolean);
}

/** Ports for runNF (cold): one port "port0" when none are given. */
export function portsFromSpecs(specs: readonly PortSpec[] | undefined): PortInfo[] {
  const list = specs ?? [{ name: 'port0' }];
  return list.map((s, id) => {
    const up = s.up ?? true;
    const list4 = s.ipv4 === undefined ? [] : typeof s.ipv4 === 'string' ? [s.ipv4] : s.ipv4;
    const list6 = s.ipv6 === undefined ? [] : typeof s.ipv6 === 'string' ? [s.ipv6] : s.ipv6;
    for (const a of [...list4, ...list6]) {
      if (!/\/\d{1,3}$/.test(a))
        throw new NfcError('NFC_ERR_INVALID_ARG', `runNF: ports[${id}] (${s.name}): "${a}" has no prefix length`, {
          fix: 'write addresses with their prefix length, e.g. 10.0.1.1/24',
        });
    }
    return new PortInfo(
      {
        id,
        name: s.name,
        driver: (s.driver ?? 'null') as PortDescription['driver'],
        interface: '',
        mac: s.mac ?? syntheticMac(id),
        mtu: s.mtu ?? SYNTHETIC_MTU,
        ipv4: list4,
        ipv6: list6,
      },
      typeof up === 'function' ? up : () => up,
    );
  });
}
