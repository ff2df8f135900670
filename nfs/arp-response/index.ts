/**
 * arp-response: answers ARP requests for configured IPv4 addresses out of the port they came in
 * on (OpenNetVM's arp_response), so that hosts on a link can resolve the addresses NFs behind
 * nfchain serve (a VIP, a router's interface).
 *
 *   ARP request "who has A? tell B"   A configured (and allowed on this port): the request is
 *                                     turned into the reply in place — Ethernet dst := B's MAC,
 *                                     src := the answering MAC; op := reply; sender := (MAC, A);
 *                                     target := (B's MAC, B's IP) — and leaves by out(ingress).
 *   any other ARP packet              (replies, requests for other addresses, gratuitous ARP):
 *                                     ignored, counted; the `other` verdict (NEXT or DROP).
 *   ARP that is not Ethernet/IPv4     (truncated, another hardware or protocol type, a
 *                                     multicast sender): malformed, counted; `other`.
 *   not ARP                           the `other` verdict, counted.
 *
 * Addresses (`addresses`): `ports` (the default) takes every port's topology IPv4 addresses,
 * each answered only on its own port with that port's MAC; a list `10.0.0.1,10.0.0.2=02:...`
 * answers on any port, with the ingress port's MAC or the MAC given. Both may be mixed
 * (`ports,10.0.0.9`).
 *
 * The reply is the request rewritten in place (no new packet, no copy), VLAN tags kept.
 */
import { defineNF, DROP, EtherType, formatIpv4, formatMac, NEXT, NfcError, out, parseIpv4, parseMac } from 'nfchain';

/** Highest port id out() can name, +1. */
const MAX_PORTS = 8;
const TWO_32 = 4294967296;
const ARP = EtherType.ARP;
/** One configured address. */
interface Entry {
  ip: number;
  /** answering MAC (48-bit), or -1: the ingress port's */
  mac: number;
  /** the only port it is answered on, or -1: any */
  port: number;
}

/** Reads the `addresses` option (cold). Throws NFC_ERR_NF_OPTION naming the option and the item. */
export function parseAddresses(
  text: string,
  ports: readonly { id: number; name: string; ipv4: readonly { addr: number }[] }[],
): Entry[] {
  const bad = (what: string, fix: string): never => {
    throw new NfcError('NFC_ERR_NF_OPTION', `arp-response: option "addresses": ${what}`, { fix });
  };
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    bad(
      'is empty',
      'give "ports" (the ports\' topology addresses) or a list such as 10.0.0.1,10.0.0.2=02:00:00:00:00:aa',
    );
  const list: Entry[] = [];
  for (const item of items) {
    if (item === 'ports') {
      let n = 0;
      for (const p of ports) {
        if (p.id >= MAX_PORTS) continue;
        for (const a of p.ipv4) {
          list.push({ ip: a.addr >>> 0, mac: -1, port: p.id });
          n++;
        }
      }
      if (n === 0)
        bad(
          '"ports" names no address: no port has an IPv4 address in the topology',
          'give the ports addresses (ports[].ipv4: "10.0.1.1/24" in the topology), or list the addresses: addresses: 10.0.1.1',
        );
      continue;
    }
    const eq = item.indexOf('=');
    const ipText = eq < 0 ? item : item.slice(0, eq);
    let ip = -1;
    try {
      ip = parseIpv4(ipText);
    } catch {
      bad(`"${ipText}" (in "${item}") is not an IPv4 address`, 'write a.b.c.d, or a.b.c.d=aa:bb:cc:dd:ee:ff');
    }
    let mac = -1;
    if (eq >= 0) {
      const macText = item.slice(eq + 1);
      try {
        mac = parseMac(macText);
      } catch {
        bad(`"${macText}" (in "${item}") is not a MAC address`, 'write the MAC as aa:bb:cc:dd:ee:ff, six hex pairs');
      }
      if (Math.floor(mac / TWO_32) & 0x100)
        bad(`${macText} (in "${item}") is a multicast MAC`, 'answer with a unicast MAC (first byte even)');
    }
    if (list.some((e) => e.ip === ip && e.port === -1))
      bad(`${formatIpv4(ip)} is listed twice`, 'list each address once');
    list.push({ ip, mac, port: -1 });
  }
  return list;
}

export default defineNF({
  name: 'arp-response',
  description: 'answers ARP requests for configured IPv4 addresses out of the ingress port',
  counters: {
    answered: 'ARP requests answered (the reply sent out of the ingress port)',
    ignored: 'ARP packets not answered: replies, gratuitous ARP, requests for other addresses',
    malformed: 'ARP that is not Ethernet/IPv4, cut short, or from a multicast sender',
    notArp: 'packets that are not ARP',
  },
  gauges: {
    addresses: 'addresses answered for',
  },
  options: {
    addresses: {
      type: 'string',
      default: 'ports',
      help: 'addresses to answer for: "ports" (every port\'s topology IPv4 addresses, each on its own port) and/or a comma list a.b.c.d[=MAC]',
    },
    other: {
      type: 'string',
      default: 'next',
      choices: ['next', 'drop'],
      help: 'verdict of packets not answered (non-ARP, other ARP, malformed)',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: parses the addresses into a small open-addressing table; allocates it and the counters. */
  create(ctx) {
    const o = ctx.options;
    const entries = parseAddresses(o.addresses, ctx.ports);
    let size = 8;
    while (size < entries.length * 4) size *= 2;
    const mask = size - 1;
    /** slot → entry index + 1 (0 = empty) */
    const slots = new Int32Array(size);
    const ips = Int32Array.from(entries, (e) => e.ip | 0);
    const macs = Float64Array.from(entries, (e) => e.mac);
    const onPort = Int32Array.from(entries, (e) => e.port);
    for (let i = 0; i < entries.length; i++) {
      let j = (Math.imul(ips[i]!, 0x9e3779b1) >>> 0) & mask;
      while (slots[j] !== 0) j = (j + 1) & mask;
      slots[j] = i + 1;
    }
    /** each port's MAC (48-bit), -1 for ports the manager does not have */
    const portMac = new Float64Array(MAX_PORTS).fill(-1);
    const portMacBytes = new Uint8Array(MAX_PORTS * 6);
    for (const p of ctx.ports)
      if (p.id < MAX_PORTS) {
        portMac[p.id] = parseMac(p.mac);
        portMacBytes.set(p.macBytes, p.id * 6);
      }
    /** each entry's MAC as bytes (when it has one) */
    const macBytes = new Uint8Array(entries.length * 6);
    for (let i = 0; i < entries.length; i++) {
      const m = entries[i]!.mac;
      if (m >= 0) for (let k = 0; k < 6; k++) macBytes[i * 6 + k] = Math.floor(m / 2 ** (8 * (5 - k))) & 0xff;
    }
    const other = o.other === 'drop' ? DROP : NEXT;

    const answered = ctx.counter('answered');
    const ignored = ctx.counter('ignored');
    const malformed = ctx.counter('malformed');
    const notArp = ctx.counter('notArp');
    ctx.gauge('addresses').set(entries.length);
    /** the declared counters, read through (tests, reports) */
    const counters = {
      get answered(): number {
        return answered.value;
      },
      get ignored(): number {
        return ignored.value;
      },
      get malformed(): number {
        return malformed.value;
      },
      get notArp(): number {
        return notArp.value;
      },
    };
    let last = { ...counters };
    let ticks = 0;
    const line = (c: typeof counters, prefix: string): string =>
      `arp-response: ${prefix}${c.answered} answered, ${c.ignored} ignored, ${c.malformed} malformed, ${c.notArp} not ARP`;

    if (o.interval > 0)
      ctx.log(
        `arp-response: answering for ${entries
          .map(
            (e) =>
              `${formatIpv4(e.ip)}${e.port >= 0 ? ` on ${ctx.ports.find((p) => p.id === e.port)?.name}` : ''}${e.mac >= 0 ? ` as ${formatMac(e.mac)}` : ''}`,
          )
          .join(', ')}`,
      );

    return {
      counters,

      /** Answers or classifies. Hot path: no allocation. */
      handle(pkt) {
        if (pkt.etherType !== ARP) {
          notArp.add();
          return other;
        }
        const op = pkt.arpOp;
        if (op < 0) {
          malformed.add(); // not Ethernet/IPv4 ARP, or cut short
          return other;
        }
        if (op !== 1) {
          ignored.add(); // a reply, or another operation
          return other;
        }
        // Raw bytes from here (the parser has checked that the 28 bytes of ARP are there): a MAC
        // as a 48-bit number, or an address of 2^31 or more, would be a heap number when passed on.
        const b = pkt.bytes;
        const dv = pkt.data;
        const base = pkt.byteOffset;
        const l3 = base + pkt.l3Offset;
        if ((b[l3 + 8]! & 1) !== 0) {
          malformed.add(); // a multicast sender cannot be answered
          return other;
        }
        const senderIp = dv.getInt32(l3 + 14);
        const t = dv.getInt32(l3 + 24);
        if (senderIp === t) {
          ignored.add(); // gratuitous ARP: an announcement, not a question
          return other;
        }
        const port = pkt.inputPort;
        if (port >= MAX_PORTS) {
          ignored.add(); // a port out() cannot name: nowhere to answer
          return other;
        }
        let found = -1;
        for (let j = (Math.imul(t, 0x9e3779b1) >>> 0) & mask; ; j = (j + 1) & mask) {
          const e = slots[j]!;
          if (e === 0) break;
          if (ips[e - 1] === t && (onPort[e - 1] === -1 || onPort[e - 1] === port)) {
            found = e - 1;
            break;
          }
        }
        if (found < 0) {
          ignored.add();
          return other;
        }
        // The answering MAC: the entry's, else the ingress port's.
        let src = macBytes;
        let at = found * 6;
        if (macs[found]! < 0) {
          if (portMac[port]! < 0) {
            ignored.add(); // an input port the manager does not describe: no MAC to answer with
            return other;
          }
          src = portMacBytes;
          at = port * 6;
        }
        for (let i = 0; i < 6; i++) {
          const asker = b[l3 + 8 + i]!;
          const mine = src[at + i]!;
          b[base + i] = asker; // Ethernet dst := the asker
          b[l3 + 18 + i] = asker; // target MAC := the asker
          b[base + 6 + i] = mine; // Ethernet src := the answering MAC
          b[l3 + 8 + i] = mine; // sender MAC := the answering MAC
        }
        b[l3 + 6] = 0;
        b[l3 + 7] = 2; // op := reply
        dv.setInt32(l3 + 14, t); // sender IP := the address asked for
        dv.setInt32(l3 + 24, senderIp); // target IP := the asker's
        answered.add();
        return out(port);
      },

      /** Every `interval` seconds: the counts since the last line. Cold. */
      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const d = {
          answered: counters.answered - last.answered,
          ignored: counters.ignored - last.ignored,
          malformed: counters.malformed - last.malformed,
          notArp: counters.notArp - last.notArp,
        };
        last = { ...counters };
        ctx.log(line(d, `last ${interval} s: `));
      },

      stop(ctx) {
        if (ctx.options.interval > 0) ctx.log(line(counters, 'in all: '));
      },
    };
  },
});
