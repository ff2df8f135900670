/**
 * basic-monitor: passes every packet on (NEXT) and keeps traffic statistics — packets, bytes,
 * IPv4 / IPv6 / non-IP, TCP / UDP / ICMP / other — printing a small table every `interval`
 * seconds with the rates since the previous one (OpenNetVM's basic_monitor).
 *
 * The counters are one Float64Array (exact integers up to 2^53), indexed by the constants in
 * `Stat`; the handler only adds to it. A second array holds the values at the last table, so
 * the "interval" column is a subtraction. Each instance has its own arrays (create()).
 */
import { defineNF, IpProto, NEXT } from 'nfchain';

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
    const counters = new Float64Array(STATS);
    const atLast = new Float64Array(STATS);
    let lastMs = ctx.now();
    let ticks = 0;
    return {
      /** Counts the packet by length and protocol, then passes it on. Hot path: no allocation. */
      handle(pkt) {
        const c = counters;
        c[P]!++;
        c[B]! += pkt.length;
        const v = pkt.ipVersion;
        if (v === 4) c[V4]!++;
        else if (v === 6) c[V6]!++;
        else {
          c[NON_IP]!++;
          return NEXT;
        }
        const proto = pkt.ipProtocol;
        if (proto === TCP) c[T]!++;
        else if (proto === UDP) c[U]!++;
        else if (proto === ICMP || proto === ICMPV6) c[I]!++;
        else c[O]!++;
        return NEXT;
      },

      /** Every `interval` ticks (one a second): the table. Cold. */
      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const now = ctx.now();
        const secs = (now - lastMs) / 1000;
        for (const line of formatTable(counters, atLast, secs)) ctx.log(line);
        atLast.set(counters);
        lastMs = now;
      },

      /**
       * `nfchain message --name X service:S '{"report":true}'` logs the table now (rates since
       * the last one); '{"reset":true}' sets every counter to 0 (and logs that it did). Anything
       * else is logged as not understood. Cold.
       */
      message(payload, ctx) {
        const p = payload as { report?: unknown; reset?: unknown } | null;
        if (p !== null && typeof p === 'object' && p.report === true) {
          const now = ctx.now();
          for (const line of formatTable(counters, atLast, (now - lastMs) / 1000)) ctx.log(line);
          atLast.set(counters);
          lastMs = now;
        } else if (p !== null && typeof p === 'object' && p.reset === true) {
          ctx.log(`basic-monitor: counters reset (${counters[P]} packets, ${counters[B]} bytes before)`);
          counters.fill(0);
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
        ctx.log(`basic-monitor: ${counters[P]} packets, ${counters[B]} bytes in all`);
      },

      /** A copy of the counters by name (cold; for tests and embedding programs). */
      stats(): Record<keyof typeof Stat, number> {
        const out = {} as Record<keyof typeof Stat, number>;
        for (const [name, k] of Object.entries(Stat) as [keyof typeof Stat, number][]) out[name] = counters[k]!;
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
