/**
 * flow-tracker: passes every packet on (NEXT) and keeps packet and byte counts per flow in a
 * symmetric flow table (both directions of a connection are one flow; IPv4 and IPv6), removes
 * flows idle for `idle-timeout` seconds, and every `interval` seconds logs the active flows,
 * the flows added and expired since the last report, the packets the full table could not
 * track, and the top `top` flows by bytes with their 5-tuples.
 *
 * The work that needs a clock lives in FlowTracker, whose methods take `now` (ms): the NF
 * passes its clock, a test passes any time it likes (expiry is tested without sleeping).
 *
 * Time. Reading the clock costs ~50 ns (performance.now(), measured on Node 20), more than
 * the flow lookup, so handle() does not read it: tick() runs every TICK_MS (100 ms), reads
 * ctx.now() into `clock`, and handle() stamps packets with that. A flow's lastSeen is then at
 * most one tick early, and each tick sweeps a tenth of the table, so an idle flow is removed
 * between its deadline and about 1.1 s after it.
 *
 * Each instance has its own FlowTracker (create()); `instance.tracker` is it. The NF's declared
 * counters and gauge (stats, /metrics, the console) are the tracker's totals, copied at every
 * tick (100 ms) and at stop: the packet path counts once, in the tracker.
 */
import {
  createFlowTable,
  defineNF,
  FlowKey,
  type FlowTable,
  flowTableFor,
  NEXT,
  NfcError,
  type PacketView,
} from 'nfchain';

/** tick() period: the resolution of the flow clock and of expiry. */
const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;
/** Most flows `capacity` may ask for (the table then has 2^23 slots, ~670 MB). */
const MAX_CAPACITY = 4 * 1024 * 1024;
/** Most flows a report may list. */
const MAX_TOP = 100;

/** Indices into FlowTracker.counters (the table keeps its own: adds, expired, full). */
export const Stat = {
  packets: 0,
  bytes: 1,
  /** not IPv4/IPv6, or an IP header the packet view finds malformed or cut short */
  nonIp: 2,
} as const;
const STATS = 3;
const P = Stat.packets,
  B = Stat.bytes,
  NON_IP = Stat.nonIp;

export interface FlowTrackerOptions {
  /** most flows tracked at once (1..MAX_CAPACITY) */
  capacity: number;
  /** remove a flow idle this long (ms); 0 = never */
  idleTimeoutMs: number;
}

/** One flow of a report (cold). */
export interface FlowSummary {
  /** the 5-tuple in the direction of the flow's first packet, e.g. `tcp 10.0.0.1:40000 -> 10.0.0.2:80` */
  flow: string;
  packets: number;
  bytes: number;
  /** ms, on the tracker's clock */
  firstSeen: number;
  lastSeen: number;
}

/** Totals since the tracker was made (cold). */
export interface TrackerStats {
  packets: number;
  bytes: number;
  nonIp: number;
  /** flows in the table now */
  active: number;
  /** flows ever added */
  flows: number;
  /** flows removed because they were idle */
  expired: number;
  /** packets of new flows that found the table full (not tracked) */
  tableFull: number;
}

/**
 * Per-flow counts over a FlowTable, with time passed in. Made in setup (cold: allocates the
 * table, a private ArrayBuffer); count() and expire() are the hot path and allocate nothing;
 * top(), flows(), stats() and report() are cold.
 */
export class FlowTracker {
  readonly table: FlowTable;
  /** packets, bytes, non-IP (Stat indices) */
  readonly counters = new Float64Array(STATS);
  /** the one key count() fills per packet */
  private readonly key = new FlowKey();
  /** baselines of the last report */
  private lastMs: number;
  private lastAdds = 0;
  private lastExpired = 0;
  private lastFull = 0;
  private lastNonIp = 0;

  /** Cold: allocates the table. `now` starts the first report's interval. */
  constructor(opts: FlowTrackerOptions, now = 0) {
    this.table = createFlowTable(
      flowTableFor(opts.capacity, { symmetric: true, idleTimeoutMs: opts.idleTimeoutMs }),
      'flow-tracker table',
    );
    this.lastMs = now;
  }

  /**
   * Counts one packet seen at `now` (ms) to its flow, adding the flow if new. Non-IP and
   * malformed packets are counted as such; a new flow that finds the table full is counted by
   * the table (fullCount) and not tracked. Never throws.
   */
  count(pkt: PacketView, now: number): void {
    const c = this.counters;
    const len = pkt.length;
    c[P]!++;
    c[B]! += len;
    const key = this.key;
    if (!pkt.flowKey(key)) {
      c[NON_IP]!++;
      return;
    }
    const t = this.table;
    const i = t.lookupOrAdd(key, now);
    if (i >= 0) t.touch(i, len, now);
  }

  /**
   * Removes the flows idle for the idle timeout at `now`, scanning at most `maxSlots` slots
   * from where the last call stopped (default: the whole table). Returns how many it removed.
   * Call it from tick().
   */
  expire(now: number, maxSlots?: number): number {
    return this.table.expire(now, undefined, maxSlots);
  }

  /** The `n` flows with the most bytes, most first (ties: table order). Cold. */
  top(n: number): FlowSummary[] {
    const t = this.table;
    const idx: number[] = [];
    if (n <= 0) return [];
    for (let i = t.nextUsed(0); i >= 0; i = t.nextUsed(i + 1)) {
      const b = t.bytes(i);
      if (idx.length === n && b <= t.bytes(idx[n - 1]!)) continue;
      let j = idx.length < n ? idx.length : n - 1;
      while (j > 0 && t.bytes(idx[j - 1]!) < b) {
        idx[j] = idx[j - 1]!;
        j--;
      }
      idx[j] = i;
    }
    const k = new FlowKey();
    return idx.map((i) => ({
      flow: t.keyAt(i, k).toString(),
      packets: t.packets(i),
      bytes: t.bytes(i),
      firstSeen: t.firstSeen(i),
      lastSeen: t.lastSeen(i),
    }));
  }

  /** Every flow in the table, in table order (cold; for tests and small tables). */
  flows(): FlowSummary[] {
    return this.top(this.table.count);
  }

  /** Totals since the tracker was made (cold). */
  stats(): TrackerStats {
    const c = this.counters;
    const t = this.table;
    return {
      packets: c[P]!,
      bytes: c[B]!,
      nonIp: c[NON_IP]!,
      active: t.count,
      flows: t.adds,
      expired: t.expiredCount,
      tableFull: t.fullCount,
    };
  }

  /**
   * The report at `now` (cold): one summary line for the time since the previous report, then
   * the top `topN` flows by bytes. Starts the next report's interval.
   *
   *   flow-tracker: 5.0 s: 3 active flows (max 65536), 3 new, 0 expired, 0 packets not tracked (table full), 1 non-IP packet
   *   top 2 flows by bytes:
   *     1  tcp 10.0.0.1:40000 -> 10.0.0.2:80  12 packets  15000 bytes
   *     2  udp [2001:db8::1]:5353 -> [2001:db8::2]:53  2 packets  180 bytes
   */
  report(now: number, topN: number): string[] {
    const s = this.stats();
    const secs = (now - this.lastMs) / 1000;
    const nonIp = s.nonIp - this.lastNonIp;
    const full = s.tableFull - this.lastFull;
    const lines = [
      `flow-tracker: ${secs.toFixed(1)} s: ${s.active} active flows (max ${this.table.maxCount}), ` +
        `${s.flows - this.lastAdds} new, ${s.expired - this.lastExpired} expired, ` +
        `${full} packet${full === 1 ? '' : 's'} not tracked (table full), ${nonIp} non-IP packet${nonIp === 1 ? '' : 's'}`,
    ];
    const top = this.top(topN);
    if (top.length > 0) {
      lines.push(`top ${top.length} flow${top.length === 1 ? '' : 's'} by bytes:`);
      top.forEach((f, i) => {
        lines.push(`${String(i + 1).padStart(3)}  ${f.flow}  ${f.packets} packets  ${f.bytes} bytes`);
      });
    }
    this.lastMs = now;
    this.lastAdds = s.flows;
    this.lastExpired = s.expired;
    this.lastFull = s.tableFull;
    this.lastNonIp = s.nonIp;
    return lines;
  }
}

export default defineNF({
  name: 'flow-tracker',
  description: 'passes every packet on and counts packets and bytes per flow, with idle expiry and a top-N report',
  tickInterval: TICK_MS,
  counters: {
    packets: 'packets seen (all pass on)',
    bytes: 'bytes of the frames seen',
    nonIp: 'packets not IPv4/IPv6, or with an IP header malformed or cut short (not tracked)',
    newFlows: 'flows added to the table',
    expired: 'flows removed after idle-timeout',
    tableFull: 'packets of new flows that found the table full (not tracked)',
  },
  gauges: {
    activeFlows: 'flows in the table now',
  },
  options: {
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_CAPACITY,
      help: 'most flows tracked at once; packets of new flows beyond it are counted, not tracked',
    },
    'idle-timeout': {
      type: 'number',
      default: 60,
      min: 0,
      help: 'seconds without a packet after which a flow is removed; 0 = never',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
    top: {
      type: 'number',
      default: 5,
      integer: true,
      min: 0,
      max: MAX_TOP,
      help: 'flows listed in each report, most bytes first',
    },
  },

  /** Cold: one instance: allocates its flow table (capacity / 0.75 slots rounded up to a power of two, 80 bytes each). */
  create(ctx) {
    const o = ctx.options;
    /** ms, ctx.now() at the last tick (or at creation): the time handle() stamps packets with */
    let clock = ctx.now();
    let tracker: FlowTracker;
    try {
      tracker = new FlowTracker({ capacity: o.capacity, idleTimeoutMs: o['idle-timeout'] * 1000 }, clock);
    } catch (err) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `flow-tracker: cannot allocate a table for ${o.capacity} flows: ${(err as Error).message}`,
        {
          fix: 'use a smaller capacity',
          cause: err,
        },
      );
    }
    /** slots each tick's expire() scans: the whole table once a second */
    const sweep = Math.ceil(tracker.table.capacity / TICKS_PER_SECOND);
    let ticks = 0;
    const packets = ctx.counter('packets');
    const bytes = ctx.counter('bytes');
    const nonIp = ctx.counter('nonIp');
    const newFlows = ctx.counter('newFlows');
    const expired = ctx.counter('expired');
    const tableFull = ctx.counter('tableFull');
    const activeFlows = ctx.gauge('activeFlows');
    /** The declared counters and gauge := the tracker's totals (cold: tick and stop). */
    const publish = (): void => {
      const c = tracker.counters;
      const t = tracker.table;
      packets.add(c[Stat.packets]! - packets.value);
      bytes.add(c[Stat.bytes]! - bytes.value);
      nonIp.add(c[Stat.nonIp]! - nonIp.value);
      newFlows.add(t.adds - newFlows.value);
      expired.add(t.expiredCount - expired.value);
      tableFull.add(t.fullCount - tableFull.value);
      activeFlows.set(t.count);
    };
    return {
      /** this instance's tracker (cold; for tests and embedding programs) */
      tracker,

      /** Counts the packet to its flow and passes it on. Hot path: no allocation. */
      handle(pkt) {
        tracker.count(pkt, clock);
        return NEXT;
      },

      /** Every 100 ms: the clock, an expiry slice; every `interval` seconds the report. Cold. */
      tick(ctx) {
        clock = ctx.now();
        tracker.expire(clock, sweep);
        publish();
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval * TICKS_PER_SECOND) return;
        ticks = 0;
        for (const line of tracker.report(clock, ctx.options.top)) ctx.log(line);
      },

      stop(ctx) {
        publish();
        if (ctx.options.interval === 0) return;
        const s = tracker.stats();
        ctx.log(
          `flow-tracker: ${s.packets} packets, ${s.bytes} bytes, ${s.flows} flows in all ` +
            `(${s.active} active, ${s.expired} expired), ${s.tableFull} packets not tracked, ${s.nonIp} non-IP`,
        );
      },
    };
  },
});
