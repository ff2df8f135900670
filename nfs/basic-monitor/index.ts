/**
 * basic-monitor: passes every packet on (NEXT) and keeps traffic statistics — packets, bytes,
 * IPv4 / IPv6 / non-IP, TCP / UDP / ICMP / other — printing a small table every `interval`
 * seconds with the rates since the previous one (OpenNetVM's basic_monitor).
 *
 * The counters are the NF's declared counters (defineNF `counters`: in shared memory, so
 * `nfchain stats`, /metrics and the console show them), indexed by the constants in `Stat`; the
 * handler only adds to them. They never go back: the reset message moves a baseline (`base`),
 * which the table and stats() subtract. A second array holds the values at the last table, so
 * the "interval" column is a subtraction. Each instance has its own (create()).
 */
import { defineNF, IpProto, NEXT, type NFContext } from 'nfchain';

/** Indices into the counters. */
export const Stat = {
  packets: 0,
  bytes: 1,
  ipv4: 2,
  ipv6: 3,
  /** not IPv4/IPv6, or an IP header the packet view finds malformed or cut short */
  nonIp: 4,
  tcp: 5,
  udp: 6,
  /** ICMP and ICMPv6 */
  icmp: 7,
  /** any other upper-layer protocol (GRE, ESP, ...), or an IPv6 extension chain too long to walk */
  otherL4: 8,
} as const;
const STATS = 9;
/** The declared counters' names, by Stat index. */
const STAT_NAMES = (Object.entries(Stat) as [keyof typeof Stat, number][]).sort((a, b) => a[1] - b[1]).map(([n]) => n);
/** A declared counter (ctx.counter). */
type Cell = ReturnType<NFContext['counter']>;
const ROWS: readonly [string, number][] = [
  ['packets', Stat.packets],
  ['bytes', Stat.bytes],
  ['IPv4', Stat.ipv4],
  ['IPv6', Stat.ipv6],
  ['non-IP', Stat.nonIp],
  ['TCP', Stat.tcp],
  ['UDP', Stat.udp],
  ['ICMP', Stat.icmp],
  ['other L4', Stat.otherL4],
];

// Module-level copies of the constants: the hot path reads plain bindings, not object fields.
const P = Stat.packets,
  B = Stat.bytes,
  V4 = Stat.ipv4,
  V6 = Stat.ipv6,
  NON_IP = Stat.nonIp;
const T = Stat.tcp,
  U = Stat.udp,
  I = Stat.icmp,
  O = Stat.otherL4;
const TCP = IpProto.TCP,
  UDP = IpProto.UDP,
  ICMP = IpProto.ICMP,
  ICMPV6 = IpProto.ICMPV6;

export default defineNF({
  name: 'basic-monitor',
  description: 'passes every packet on and prints packet, byte and protocol statistics',
  counters: {
    packets: 'packets seen (all pass on)',
    bytes: 'bytes of the frames seen',
    ipv4: 'IPv4 packets',
    ipv6: 'IPv6 packets',
    nonIp: 'packets not IPv4/IPv6, or with an IP header malformed or cut short',
    tcp: 'TCP packets (IPv4 and IPv6)',
    udp: 'UDP packets',
    icmp: 'ICMP and ICMPv6 packets',
    otherL4: 'IP packets of another protocol (GRE, ESP, ...)',
  },
  options: {
    interval: {
      type: 'number',
      default: 1,
      integer: true,
      min: 0,
      help: 'seconds between statistics tables; 0 = quiet',
    },
  },

  /** Cold: one instance: its counters. */
  create(ctx) {
    /** the declared counters, by Stat index */
    const cells: Cell[] = STAT_NAMES.map((n) => ctx.counter(n));
    const cPackets = cells[P]!;
    const cBytes = cells[B]!;
    const cV4 = cells[V4]!;
    const cV6 = cells[V6]!;
    const cNonIp = cells[NON_IP]!;
    const cTcp = cells[T]!;
    const cUdp = cells[U]!;
    const cIcmp = cells[I]!;
    const cOther = cells[O]!;
    /** the counters' values at the last reset (they never go back) */
    const base = new Float64Array(STATS);
    /** the counters since the last reset, by Stat index (cold) */
    const current = (): Float64Array => Float64Array.from(cells, (c, k) => c.value - base[k]!);
    const atLast = new Float64Array(STATS);
    let lastMs = ctx.now();
    let ticks = 0;
    return {
      /** Counts the packet by length and protocol, then passes it on. Hot path: no allocation. */
      handle(pkt) {
        cPackets.add();
        cBytes.add(pkt.length);
        const v = pkt.ipVersion;
        if (v === 4) cV4.add();
        else if (v === 6) cV6.add();
        else {
          cNonIp.add();
          return NEXT;
        }
        const proto = pkt.ipProtocol;
        if (proto === TCP) cTcp.add();
        else if (proto === UDP) cUdp.add();
        else if (proto === ICMP || proto === ICMPV6) cIcmp.add();
        else cOther.add();
        return NEXT;
      },

      /** Every `interval` ticks (one a second): the table. Cold. */
      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const now = ctx.now();
        const secs = (now - lastMs) / 1000;
        const c = current();
        for (const line of formatTable(c, atLast, secs)) ctx.log(line);
        atLast.set(c);
        lastMs = now;
      },

      /**
       * `nfchain message --name X service:S '{"report":true}'` logs the table now (rates since
       * the last one); '{"reset":true}' sets every counter of the table and stats() to 0 (and
       * logs that it did); the declared counters (stats, /metrics) go on counting, as counters
       * do. Anything else is logged as not understood. Cold.
       */
      message(payload, ctx) {
        const p = payload as { report?: unknown; reset?: unknown } | null;
        if (p !== null && typeof p === 'object' && p.report === true) {
          const now = ctx.now();
          const c = current();
          for (const line of formatTable(c, atLast, (now - lastMs) / 1000)) ctx.log(line);
          atLast.set(c);
          lastMs = now;
        } else if (p !== null && typeof p === 'object' && p.reset === true) {
          const c = current();
          ctx.log(`basic-monitor: counters reset (${c[P]} packets, ${c[B]} bytes before)`);
          cells.forEach((cell, k) => {
            base[k] = cell.value;
          });
          atLast.fill(0);
          lastMs = ctx.now();
        } else {
          ctx.log(
            `basic-monitor: message not understood: ${JSON.stringify(payload)} (send {"report":true} or {"reset":true})`,
          );
        }
      },

      stop(ctx) {
        if (ctx.options.interval === 0) return;
        const c = current();
        ctx.log(`basic-monitor: ${c[P]} packets, ${c[B]} bytes in all`);
      },

      /** A copy of the counters by name (cold; for tests and embedding programs). */
      stats(): Record<keyof typeof Stat, number> {
        const out = {} as Record<keyof typeof Stat, number>;
        const c = current();
        for (const [name, k] of Object.entries(Stat) as [keyof typeof Stat, number][]) out[name] = c[k]!;
        return out;
      },
    };
  },
});

/**
 * The statistics table (cold): totals, the change since `prev`, and packet and bit rates over
 * `secs` seconds.
 *
 *   basic-monitor: 1.0 s, 1000 pps, 0.512 Mbps
 *   counter          total   last 1.0 s
 *   packets           1000         1000
 *   ...
 */
export function formatTable(now: Float64Array, prev: Float64Array, secs: number): string[] {
  const dp = now[P]! - prev[P]!;
  const db = now[B]! - prev[B]!;
  const pps = secs > 0 ? dp / secs : 0;
  const mbps = secs > 0 ? (db * 8) / secs / 1e6 : 0;
  const lines = [
    `basic-monitor: ${secs.toFixed(1)} s, ${Math.round(pps)} pps, ${mbps.toFixed(3)} Mbps`,
    `${'counter'.padEnd(10)}${'total'.padStart(14)}${`last ${secs.toFixed(1)} s`.padStart(14)}`,
  ];
  for (const [label, k] of ROWS) {
    lines.push(`${label.padEnd(10)}${String(now[k]!).padStart(14)}${String(now[k]! - prev[k]!).padStart(14)}`);
  }
  return lines;
}
