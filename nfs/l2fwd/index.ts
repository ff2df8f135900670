/**
 * l2fwd: sends each packet out of its input port's pair (DPDK's and OpenNetVM's l2fwd): ports
 * are paired (`pairs`, default 0↔1, 2↔3, ...), and a packet that came in on one port of a pair
 * leaves by the other, with (unless `mac-updating` is off) destination MAC := the egress port's
 * `dst-mac` (default 02:00:00:00:00:<egress port id>, as DPDK's l2fwd) and source MAC := the
 * egress port's MAC. A packet from an unpaired port, or too short for an Ethernet header, is
 * counted and dropped.
 */
import { defineNF, DROP, formatMac, NfcError, out, parseMac, type PortInfo } from 'nfchain';

/** Ports out() can name: 0..7. */
const MAX_PORTS = 8;

/** Resolves a port by name or id (cold); -1 when there is none. */
function portIndex(ports: readonly PortInfo[], text: string): number {
  const byName = ports.find((p) => p.name === text);
  if (byName) return byName.id;
  if (/^\d+$/.test(text)) {
    const byId = ports.find((p) => p.id === Number(text));
    if (byId) return byId.id;
  }
  return -1;
}

const optionError = (option: string, what: string, fix: string): NfcError =>
  new NfcError('NFC_ERR_NF_OPTION', `l2fwd: option "${option}": ${what}`, { fix });

/**
 * The `pairs` option (cold): egress port per input port, -1 = unpaired. `""` pairs the ports
 * in order (0↔1, 2↔3; an odd last one stays unpaired). Throws naming the option and the pair.
 */
export function parsePairs(text: string, ports: readonly PortInfo[]): Int32Array {
  const pairOf = new Int32Array(MAX_PORTS).fill(-1);
  const usable = ports.filter((p) => p.id < MAX_PORTS);
  const names = usable.map((p) => `${p.id} (${p.name})`).join(', ') || 'none';
  if (text.trim() === '') {
    for (let i = 0; i + 1 < usable.length; i += 2) {
      pairOf[usable[i]!.id] = usable[i + 1]!.id;
      pairOf[usable[i + 1]!.id] = usable[i]!.id;
    }
    return pairOf;
  }
  for (const raw of text.split(',')) {
    const item = raw.trim();
    // Names may contain "-": take the one split where both sides are ports.
    const splits: [number, number][] = [];
    for (let at = item.indexOf('-'); at >= 0; at = item.indexOf('-', at + 1)) {
      const a = portIndex(usable, item.slice(0, at).trim());
      const b = portIndex(usable, item.slice(at + 1).trim());
      if (a >= 0 && b >= 0) splits.push([a, b]);
    }
    if (splits.length !== 1)
      throw optionError(
        'pairs',
        splits.length === 0
          ? `"${item}" is not two ports joined by "-"`
          : `"${item}" can be read ${splits.length} ways (port names with "-")`,
        `write pairs as a-b,c-d with port ids or names; the ports: ${names}`,
      );
    const [a, b] = splits[0]!;
    if (a === b) throw optionError('pairs', `"${item}" pairs port ${a} with itself`, 'pair two different ports');
    for (const p of [a, b])
      if (pairOf[p] !== -1)
        throw optionError('pairs', `port ${p} is in two pairs (again in "${item}")`, 'put each port in one pair');
    pairOf[a] = b;
    pairOf[b] = a;
  }
  return pairOf;
}

/**
 * The `dst-mac` option (cold): destination MAC per egress port, as 6 bytes each. `""`: DPDK's
 * 02:00:00:00:00:<port id>; one MAC: every port; `port=MAC,...`: those ports (others default).
 */
export function parseDstMacs(text: string, ports: readonly PortInfo[]): Uint8Array {
  const bytes = new Uint8Array(MAX_PORTS * 6);
  const set = (port: number, mac: number): void => {
    for (let k = 0; k < 6; k++) bytes[port * 6 + k] = Math.floor(mac / 2 ** (8 * (5 - k))) & 0xff;
  };
  for (let p = 0; p < MAX_PORTS; p++) set(p, 0x020000000000 + p);
  const mac = (t: string, item: string): number => {
    try {
      return parseMac(t);
    } catch {
      throw optionError(
        'dst-mac',
        `"${t}" (in "${item}") is not a MAC address`,
        'write aa:bb:cc:dd:ee:ff, six hex pairs',
      );
    }
  };
  const s = text.trim();
  if (s === '') return bytes;
  if (!s.includes('=')) {
    const m = mac(s, s);
    for (let p = 0; p < MAX_PORTS; p++) set(p, m);
    return bytes;
  }
  for (const raw of s.split(',')) {
    const item = raw.trim();
    const eq = item.indexOf('=');
    if (eq < 0)
      throw optionError('dst-mac', `"${item}" has no "="`, 'give one MAC for every port, or a list port=MAC,port=MAC');
    const p = portIndex(
      ports.filter((x) => x.id < MAX_PORTS),
      item.slice(0, eq).trim(),
    );
    if (p < 0)
      throw optionError(
        'dst-mac',
        `"${item.slice(0, eq)}" (in "${item}") is not a port`,
        `the ports: ${ports.map((x) => `${x.id} (${x.name})`).join(', ')}`,
      );
    set(p, mac(item.slice(eq + 1).trim(), item));
  }
  return bytes;
}

export default defineNF({
  name: 'l2fwd',
  description: "sends each packet out of its input port's pair, rewriting the MACs as DPDK's l2fwd",
  counters: {
    forwarded: "packets sent out of their input port's pair",
    unpaired: 'packets from a port with no pair: dropped',
    malformed: 'packets too short for an Ethernet header: dropped',
  },
  options: {
    pairs: {
      type: 'string',
      default: '',
      help: 'port pairs "0-1,2-3" or by name "lan-wan"; empty = the ports in order, 0↔1, 2↔3, ...',
    },
    'dst-mac': {
      type: 'string',
      default: '',
      help: 'destination MAC written on egress: one MAC for all ports, or "port=MAC,..."; empty = 02:00:00:00:00:<egress port id>',
    },
    'mac-updating': {
      type: 'boolean',
      default: true,
      help: 'rewrite the MACs (false: forward the frames unchanged)',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: resolves the pairs and MACs into typed arrays; allocates them and the counters. */
  create(ctx) {
    const o = ctx.options;
    const pairOf = parsePairs(o.pairs, ctx.ports);
    const dst = parseDstMacs(o['dst-mac'], ctx.ports);
    /** per egress port: 12 bytes, destination MAC then source MAC (the port's own) */
    const macs = new Uint8Array(MAX_PORTS * 12);
    for (let p = 0; p < MAX_PORTS; p++) macs.set(dst.subarray(p * 6, p * 6 + 6), p * 12);
    for (const p of ctx.ports) if (p.id < MAX_PORTS) macs.set(p.macBytes, p.id * 12 + 6);
    const verdicts = new Int32Array(MAX_PORTS);
    for (let p = 0; p < MAX_PORTS; p++) verdicts[p] = pairOf[p]! < 0 ? DROP : out(pairOf[p]!);
    const updating = o['mac-updating'];
    if (!pairOf.some((p) => p >= 0))
      throw optionError(
        'pairs',
        `no pair: the manager has ${ctx.ports.length} port${ctx.ports.length === 1 ? '' : 's'}`,
        'l2fwd needs at least two ports; give the manager two, or name them in "pairs"',
      );

    const forwarded = ctx.counter('forwarded');
    const unpaired = ctx.counter('unpaired');
    const malformed = ctx.counter('malformed');
    /** the declared counters (read through), and packets sent out of each port */
    const counters = {
      get forwarded(): number {
        return forwarded.value;
      },
      get unpaired(): number {
        return unpaired.value;
      },
      get malformed(): number {
        return malformed.value;
      },
      /** packets sent out of each port */
      perPort: new Float64Array(MAX_PORTS),
    };
    let lastForwarded = 0;
    let ticks = 0;
    const pairsText = (): string =>
      [...pairOf]
        .map((b, a) => [a, b])
        .filter(([a, b]) => b! > a!)
        .map(([a, b]) => {
          const mac = (p: number) => formatMac(dst.subarray(p * 6, p * 6 + 6).reduce((n, x) => n * 256 + x, 0));
          return `${a}↔${b}${updating ? ` (dst ${mac(b!)} / ${mac(a!)})` : ''}`;
        })
        .join(', ');
    if (o.interval > 0) ctx.log(`l2fwd: pairs ${pairsText()}`);

    return {
      counters,

      /** Hot path: no allocation. */
      handle(pkt) {
        const p = pkt.inputPort;
        const v = p < MAX_PORTS ? verdicts[p]! : DROP;
        if (v === DROP) {
          unpaired.add();
          return DROP;
        }
        if (pkt.length < 14) {
          malformed.add();
          return DROP;
        }
        const e = pairOf[p]!;
        if (updating) {
          const b = pkt.bytes;
          const base = pkt.byteOffset;
          const m = e * 12;
          for (let i = 0; i < 12; i++) b[base + i] = macs[m + i]!;
        }
        forwarded.add();
        counters.perPort[e]!++;
        return v;
      },

      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const d = counters.forwarded - lastForwarded;
        lastForwarded = counters.forwarded;
        ctx.log(
          `l2fwd: last ${interval} s: ${d} forwarded (${Math.round(d / interval)} pps); in all ${counters.forwarded} forwarded, ${counters.unpaired} unpaired, ${counters.malformed} malformed`,
        );
      },

      stop(ctx) {
        if (ctx.options.interval > 0)
          ctx.log(
            `l2fwd: in all ${counters.forwarded} forwarded, ${counters.unpaired} unpaired, ${counters.malformed} malformed; out per port ${[...counters.perPort].slice(0, ctx.ports.length).join('/')}`,
          );
      },
    };
  },
});
