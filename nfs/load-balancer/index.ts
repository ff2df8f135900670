/**
 * load-balancer: spreads the flows sent to a virtual IP (VIP) over backends, round robin per
 * flow (OpenNetVM's load_balancer). The VIP and the backends come from a config file (YAML or
 * JSON, checked by config.ts).
 *
 *   client ──▶ VIP            a new flow takes the next backend (round robin) and keeps it:
 *                             the flow table remembers it. Destination IP := the backend's
 *                             (and destination MAC, if the config gives one); verdict
 *                             `server-port`.
 *   client ◀── backend        a reply of a known flow: source IP := the VIP (and destination
 *                             MAC := clientMac, if given); verdict `client-port`.
 *   anything else             the `other` verdict (NEXT or DROP), counted.
 *
 * The IPv4 header checksum and the TCP/UDP checksum are patched incrementally by the packet
 * view's address setters (RFC 1624); ports are not changed (backends serve the VIP's ports).
 * IPv4 only: IPv6 packets are "other".
 *
 * The flow table is symmetric and keyed by the client's side of the flow, client:port →
 * VIP:port, with the backend's index in value word 0. A reply backend:port → client:port is
 * looked up with its source replaced by the VIP, which is the stored key reversed; it must
 * come from the backend the flow was given to. Flows idle for `idle-timeout` are removed; a
 * flow that comes back after that is a new flow (and may get another backend).
 *
 * Time: as in flow-tracker, handle() does not read the clock (~50 ns); tick() runs every
 * 100 ms, reads ctx.now() into `clock` and sweeps a tenth of the table. The class
 * LoadBalancer takes `now` as an argument, so tests choose the time.
 *
 * Each instance has its own LoadBalancer (create()); `instance.balancer` is it. The NF's
 * declared counters and gauges (stats, /metrics, the console) are the balancer's, copied at every
 * tick (100 ms) and at stop: the packet path counts once, in the balancer.
 */
import {
  createFlowTable,
  defineNF,
  DROP,
  FlowKey,
  type FlowTable,
  flowTableFor,
  formatIpv4,
  NEXT,
  NfcError,
  out,
  type PacketView,
} from 'nfchain';
import { resolve } from 'node:path';
import { describeLbConfig, loadLbConfig, type LbConfig } from './config.js';

export { loadLbConfig, parseLbConfig, MAX_BACKENDS, type LbConfig, type LbBackend } from './config.js';

/** tick() period: the resolution of the flow clock and of expiry. */
const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;
/** Most flows `capacity` may ask for. */
const MAX_CAPACITY = 4 * 1024 * 1024;
/** Highest port id out() can name. */
const MAX_PORT = 7;

/** What route() found; also the indices of LoadBalancer.counters (packets per route). */
export const Route = {
  /** client → VIP: rewritten to its flow's backend */
  toBackend: 0,
  /** backend → client, of a known flow: source rewritten to the VIP */
  toClient: 1,
  /** neither to the VIP nor from a backend (includes IPv6 and non-IP): not changed */
  other: 2,
  /** from a backend, but of no known flow (expired, or not through the VIP): not changed */
  noFlow: 3,
  /** client → VIP, a new flow, and the table is full: not changed (the NF drops it) */
  tableFull: 4,
} as const;
const ROUTES = 5;
const TO_BACKEND = Route.toBackend,
  TO_CLIENT = Route.toClient,
  OTHER = Route.other;
const NO_FLOW = Route.noFlow,
  TABLE_FULL = Route.tableFull;

/** Per-backend counters: backend b's are at b * PER_BACKEND + one of these. */
export const BackendStat = {
  /** flows given to it */
  flows: 0,
  /** of those, in the table now */
  active: 1,
  packetsTo: 2,
  bytesTo: 3,
  /** replies */
  packetsFrom: 4,
  bytesFrom: 5,
} as const;
const PER_BACKEND = 6;
const FLOWS = BackendStat.flows,
  ACTIVE = BackendStat.active,
  PKTS_TO = BackendStat.packetsTo;
const BYTES_TO = BackendStat.bytesTo,
  PKTS_FROM = BackendStat.packetsFrom,
  BYTES_FROM = BackendStat.bytesFrom;

/** Value word of a flow entry that holds its backend's index. */
const W_BACKEND = 0;

export interface LoadBalancerOptions {
  /** most flows at once (1..MAX_CAPACITY) */
  capacity: number;
  /** remove a flow idle this long (ms); 0 = never */
  idleTimeoutMs: number;
}

/** A copy of the counters (cold; tests, reports). */
export interface LbStats {
  toBackend: number;
  toClient: number;
  other: number;
  noFlow: number;
  tableFull: number;
  activeFlows: number;
  expiredFlows: number;
  backends: {
    name: string;
    ip: string;
    flows: number;
    active: number;
    packetsTo: number;
    bytesTo: number;
    packetsFrom: number;
    bytesFrom: number;
  }[];
}

/**
 * The balancer over one config: route() classifies and rewrites a packet. Made in create()
 * (cold: allocates the flow table and the counters). backendOf, route, expire and
 * backendOfFlow are the hot path and allocate nothing; stats() is cold.
 */
export class LoadBalancer {
  readonly config: LbConfig;
  readonly table: FlowTable;
  /** packets per Route */
  readonly counters = new Float64Array(ROUTES);
  /** BackendStat per backend */
  readonly perBackend: Float64Array;

  /**
   * Addresses are kept and compared as int32 (`| 0`): an address of 128.0.0.0 or above is not
   * a small integer as an unsigned number, and passing it to a function that is not inlined
   * would box it (a heap allocation per packet; measured). The packet view takes either form.
   */
  private readonly vip: number;
  private readonly clientMac: number;
  private readonly n: number;
  private readonly ips: Int32Array;
  /** destination MAC per backend, -1 = leave it */
  private readonly macs: Float64Array;
  /** backend address → index + 1 (0 = empty): open addressing, linear probing */
  private readonly set: Int32Array;
  private readonly setMask: number;
  /** the backend the next new flow gets */
  private rr = 0;
  private readonly key = new FlowKey();
  /** expire()'s callback, made once: the flow's backend has one active flow less */
  private readonly onExpire: (idx: number) => void;

  constructor(config: LbConfig, opts: LoadBalancerOptions) {
    this.config = config;
    this.table = createFlowTable(
      flowTableFor(opts.capacity, { symmetric: true, idleTimeoutMs: opts.idleTimeoutMs, valueWords: 1 }),
      'load-balancer table',
    );
    const n = config.backends.length;
    this.n = n;
    this.vip = config.vip | 0;
    this.clientMac = config.clientMac;
    this.ips = Int32Array.from(config.backends, (b) => b.ip | 0);
    this.macs = Float64Array.from(config.backends, (b) => b.mac);
    this.perBackend = new Float64Array(n * PER_BACKEND);
    let size = 8;
    while (size < n * 4) size *= 2;
    this.set = new Int32Array(size);
    this.setMask = size - 1;
    for (let b = 0; b < n; b++) {
      let j = Math.imul(this.ips[b]!, 0x9e3779b1) & this.setMask;
      while (this.set[j] !== 0) j = (j + 1) & this.setMask;
      this.set[j] = b + 1;
    }
    const table = this.table;
    const per = this.perBackend;
    this.onExpire = (idx) => {
      per[table.value(idx, W_BACKEND) * PER_BACKEND + ACTIVE]! -= 1;
    };
  }

  /** Index of the backend with address `ip` (int32 or unsigned), or -1. */
  backendOf(ip: number): number {
    ip |= 0;
    const s = this.set;
    const m = this.setMask;
    const ips = this.ips;
    for (let j = Math.imul(ip, 0x9e3779b1) & m; ; j = (j + 1) & m) {
      const e = s[j]!;
      if (e === 0) return -1;
      if (ips[e - 1] === ip) return e - 1;
    }
  }

  /**
   * Classifies the packet seen at `now` (ms), rewrites it if it is a client → VIP packet or a
   * reply, counts it, and returns its Route. Never throws.
   */
  route(pkt: PacketView, now: number): number {
    const c = this.counters;
    const key = this.key;
    // Not IPv4, or a header too short or malformed for a 5-tuple: not ours to touch.
    if (pkt.ipVersion !== 4 || !pkt.flowKey(key)) {
      c[OTHER]!++;
      return OTHER;
    }
    const t = this.table;
    const per = this.perBackend;
    const len = pkt.length;
    if ((key.addr[4]! | 0) === this.vip) {
      const i = t.lookupOrAdd(key, now);
      if (i < 0) {
        c[TABLE_FULL]!++;
        return TABLE_FULL;
      }
      let b: number;
      if (t.lastAdded) {
        b = this.rr;
        this.rr = b + 1 === this.n ? 0 : b + 1;
        t.setValue(i, W_BACKEND, b);
        per[b * PER_BACKEND + FLOWS]!++;
        per[b * PER_BACKEND + ACTIVE]!++;
      } else {
        b = t.value(i, W_BACKEND);
      }
      t.touch(i, len, now);
      pkt.setIpv4Dst(this.ips[b]!);
      const mac = this.macs[b]!;
      if (mac >= 0) pkt.setEthDst(mac);
      per[b * PER_BACKEND + PKTS_TO]!++;
      per[b * PER_BACKEND + BYTES_TO]! += len;
      c[TO_BACKEND]!++;
      return TO_BACKEND;
    }
    const b = this.backendOf(key.addr[0]! | 0);
    if (b < 0) {
      c[OTHER]!++;
      return OTHER;
    }
    key.addr[0] = this.vip; // the reply as the client sees it: VIP → client, the stored key reversed
    const i = t.lookup(key);
    if (i < 0 || !t.lastReversed || t.value(i, W_BACKEND) !== b) {
      c[NO_FLOW]!++;
      return NO_FLOW;
    }
    t.touch(i, len, now);
    pkt.setIpv4Src(this.vip);
    if (this.clientMac >= 0) pkt.setEthDst(this.clientMac);
    per[b * PER_BACKEND + PKTS_FROM]!++;
    per[b * PER_BACKEND + BYTES_FROM]! += len;
    c[TO_CLIENT]!++;
    return TO_CLIENT;
  }

  /**
   * Removes the flows idle for the idle timeout at `now`, scanning at most `maxSlots` slots
   * from where the last call stopped (default: all). Returns how many.
   */
  expire(now: number, maxSlots?: number): number {
    return this.table.expire(now, this.onExpire, maxSlots);
  }

  /** The backend index of the flow of `key` (either direction, client side), or -1 (cold; tests). */
  backendOfFlow(key: FlowKey): number {
    const i = this.table.lookup(key);
    return i < 0 ? -1 : this.table.value(i, W_BACKEND);
  }

  /** A copy of the counters (cold). */
  stats(): LbStats {
    const c = this.counters;
    const per = this.perBackend;
    return {
      toBackend: c[TO_BACKEND]!,
      toClient: c[TO_CLIENT]!,
      other: c[OTHER]!,
      noFlow: c[NO_FLOW]!,
      tableFull: c[TABLE_FULL]!,
      activeFlows: this.table.count,
      expiredFlows: this.table.expiredCount,
      backends: this.config.backends.map((be, b) => {
        const o = b * PER_BACKEND;
        return {
          name: be.name,
          ip: formatIpv4(be.ip),
          flows: per[o + FLOWS]!,
          active: per[o + ACTIVE]!,
          packetsTo: per[o + PKTS_TO]!,
          bytesTo: per[o + BYTES_TO]!,
          packetsFrom: per[o + PKTS_FROM]!,
          bytesFrom: per[o + BYTES_FROM]!,
        };
      }),
    };
  }
}

/**
 * The report (cold): a line of packet counts by route since `prev` (a stats() copy taken at the
 * previous report) over `secs` seconds, then a table of totals per backend.
 *
 *   load-balancer: 5.0 s: 12 to backends, 10 to clients, 1 other, 0 no flow, 0 dropped (table full); 3 active flows
 *   backend                     flows  active   pkts to  bytes to  pkts from  bytes from
 *   web1 (192.168.1.11)             2       2         8       640          7         560
 */
export function formatReport(s: LbStats, prev: LbStats | undefined, secs: number): string[] {
  const d = (k: 'toBackend' | 'toClient' | 'other' | 'noFlow' | 'tableFull'): number => s[k] - (prev?.[k] ?? 0);
  const lines = [
    `load-balancer: ${secs.toFixed(1)} s: ${d('toBackend')} to backends, ${d('toClient')} to clients, ${d('other')} other, ` +
      `${d('noFlow')} no flow, ${d('tableFull')} dropped (table full); ${s.activeFlows} active flows`,
    `${'backend'.padEnd(26)}${'flows'.padStart(7)}${'active'.padStart(8)}${'pkts to'.padStart(10)}${'bytes to'.padStart(10)}` +
      `${'pkts from'.padStart(11)}${'bytes from'.padStart(12)}`,
  ];
  for (const b of s.backends) {
    const label = b.name === b.ip ? b.ip : `${b.name} (${b.ip})`;
    lines.push(
      `${label.padEnd(26)}${String(b.flows).padStart(7)}${String(b.active).padStart(8)}${String(b.packetsTo).padStart(10)}` +
        `${String(b.bytesTo).padStart(10)}${String(b.packetsFrom).padStart(11)}${String(b.bytesFrom).padStart(12)}`,
    );
  }
  return lines;
}

/** A port option's verdict: out(port), or NEXT for -1. */
function portVerdict(port: number): number {
  return port < 0 ? NEXT : out(port);
}

export default defineNF({
  name: 'load-balancer',
  description: 'spreads flows to a virtual IP over backends round robin, rewriting addresses both ways',
  tickInterval: TICK_MS,
  counters: {
    toBackend: "client → VIP packets rewritten to their flow's backend",
    toClient: 'backend → client replies of known flows, source rewritten to the VIP',
    other: 'packets neither to the VIP nor from a backend (IPv6, non-IP included): the other verdict',
    noFlow: 'packets from a backend of no known flow: the other verdict',
    tableFull: 'client → VIP packets of new flows when the table is full: dropped',
    newFlows: 'flows given a backend',
    expiredFlows: 'flows removed after idle-timeout',
  },
  gauges: {
    activeFlows: 'flows in the table now',
    backends: 'backends in the config',
  },
  options: {
    config: {
      type: 'string',
      default: '',
      help: 'the YAML or JSON file with the VIP and the backends (required; a relative path is from the topology file directory)',
    },
    'server-port': {
      type: 'number',
      default: -1,
      integer: true,
      min: -1,
      max: MAX_PORT,
      help: 'port that client → backend packets go out of; -1 = NEXT (the chain decides)',
    },
    'client-port': {
      type: 'number',
      default: -1,
      integer: true,
      min: -1,
      max: MAX_PORT,
      help: 'port that replies to clients go out of; -1 = NEXT (the chain decides)',
    },
    other: {
      type: 'string',
      default: 'next',
      choices: ['next', 'drop'],
      help: 'what happens to packets that are neither to the VIP nor replies of a known flow',
    },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_CAPACITY,
      help: 'most flows at once; new flows beyond it are dropped',
    },
    'idle-timeout': {
      type: 'number',
      default: 60,
      min: 0,
      help: 'seconds without a packet after which a flow is forgotten; 0 = never',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: one instance: reads the config, allocates its flow table, computes the verdicts. */
  create(ctx) {
    const o = ctx.options;
    if (o.config === '') {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        'load-balancer: option "config" is missing: the file with the VIP and the backends',
        {
          fix: 'pass e.g. --config lb.yaml, or options: { config: lb.yaml } in the topology (format: nfs/load-balancer/README.md)',
        },
      );
    }
    const config = loadLbConfig(resolve(ctx.baseDir, o.config));
    /** ms, ctx.now() at the last tick (or at creation): the time handle() stamps flows with */
    let clock = ctx.now();
    const lb = new LoadBalancer(config, { capacity: o.capacity, idleTimeoutMs: o['idle-timeout'] * 1000 });
    /** verdict per Route */
    const verdicts = new Int32Array(ROUTES);
    verdicts[TO_BACKEND] = portVerdict(o['server-port']);
    verdicts[TO_CLIENT] = portVerdict(o['client-port']);
    verdicts[OTHER] = o.other === 'drop' ? DROP : NEXT;
    verdicts[NO_FLOW] = verdicts[OTHER]!;
    verdicts[TABLE_FULL] = DROP;
    /** slots each tick's expire() scans: the whole table once a second */
    const sweep = Math.ceil(lb.table.capacity / TICKS_PER_SECOND);
    let ticks = 0;
    let lastReport: LbStats | undefined;
    let lastReportMs = clock;
    /** the declared counters, by Route index */
    const routeCells = [
      ctx.counter('toBackend'),
      ctx.counter('toClient'),
      ctx.counter('other'),
      ctx.counter('noFlow'),
      ctx.counter('tableFull'),
    ];
    const newFlows = ctx.counter('newFlows');
    const expiredFlows = ctx.counter('expiredFlows');
    const activeFlows = ctx.gauge('activeFlows');
    ctx.gauge('backends').set(config.backends.length);
    /** The declared counters and gauges := the balancer's (cold: tick and stop). */
    const publish = (): void => {
      const c = lb.counters;
      routeCells.forEach((cell, r) => {
        cell.add(c[r]! - cell.value);
      });
      newFlows.add(lb.table.adds - newFlows.value);
      expiredFlows.add(lb.table.expiredCount - expiredFlows.value);
      activeFlows.set(lb.table.count);
    };
    if (o.interval > 0) ctx.log(`load-balancer: ${describeLbConfig(config)}`);
    return {
      /** this instance's balancer (cold; for tests and embedding programs) */
      balancer: lb,

      /** Rewrites and steers the packet. Hot path: no allocation. */
      handle(pkt) {
        return verdicts[lb.route(pkt, clock)]!;
      },

      /** Every 100 ms: the clock and an expiry slice; every `interval` seconds the report. Cold. */
      tick(ctx) {
        clock = ctx.now();
        lb.expire(clock, sweep);
        publish();
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval * TICKS_PER_SECOND) return;
        ticks = 0;
        const s = lb.stats();
        for (const line of formatReport(s, lastReport, (clock - lastReportMs) / 1000)) ctx.log(line);
        lastReport = s;
        lastReportMs = clock;
      },

      stop(ctx) {
        publish();
        if (ctx.options.interval === 0) return;
        const s = lb.stats();
        ctx.log(
          `load-balancer: ${s.toBackend} packets to backends, ${s.toClient} to clients, ${s.other} other, ` +
            `${s.noFlow} no flow, ${s.tableFull} dropped (table full) in all`,
        );
      },
    };
  },
});
