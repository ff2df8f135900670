/**
 * What the manager shows of itself beyond its counters (cold): rates, latency percentiles, loop
 * load, per-service totals, drops by cause, the graph the console draws, and a history of it
 * all. The manager takes a sample every SAMPLE_MS; a status is the counters now, with rates
 * against the newest sample at least RATE_MIN_MS old (a change shows within half a second), and
 * loop load against the newest at least a second old (the loops refresh those counters every
 * 200 ms: a shorter window would mostly measure that).
 *
 * History: one point a second for an hour, as columns (`time`, and a series per port, NF, drop
 * total and chain latency), which is what the console's charts take. A series that appears late
 * is null before; one that ends is null after.
 */
import type {
  DropEntry,
  GraphEdge,
  GraphNode,
  LatencySummary,
  LoopStats,
  ManagerStatus,
  NfRates,
  NfStatus,
  PortStatus,
  ServiceTotals,
} from '../protocol/messages.js';
import type { InstanceView } from '../shm/instance.js';
import { CounterSet, LatencyHist, LoopCounters, MAX_CHAINS } from '../shm/instance-layout.js';
import { HIST_WORDS, percentiles, type Percentiles } from '../shm/latency.js';
import type { Topology } from '../topology/types.js';
import type { NfEntry } from './registry.js';

/** Points kept: an hour at one a second. */
export const HISTORY_POINTS = 3600;
/** How often the manager takes a sample (ms). */
export const SAMPLE_MS = 250;
/** Rates are taken against the newest sample at least this old (ms). */
const RATE_MIN_MS = 250;
/** Loop load is taken against the newest sample at least this old (ms); history points are this far apart. */
const SLOW_MIN_MS = 1000;
/** Samples kept: enough to reach SLOW_MIN_MS back, with one to spare. */
const SAMPLES_KEPT = SLOW_MIN_MS / SAMPLE_MS + 2;

/** Port drop counters, by reason. */
const PORT_DROPS = [
  ['rxNoBuffer', 'no buffer'],
  ['kernelDrops', 'kernel'],
  ['rxOversize', 'oversize'],
  ['rxMalformed', 'malformed'],
  ['txDropped', 'tx drop'],
] as const;
/** Router drop counters (NFs, the manager's RX loop), by reason. */
export const ROUTE_DROPS = [
  ['dropVerdict', 'verdict'],
  ['dropRingFull', 'ring full'],
  ['dropNoInstance', 'no instance'],
  ['dropNotRunning', 'not running'],
  ['dropPoolEmpty', 'pool empty'],
  ['dropChainEnd', 'chain end'],
  ['dropBadDest', 'bad dest'],
  ['dropTxFull', 'tx full'],
] as const;

export interface ObserveSources {
  topo: Topology;
  inst: InstanceView;
  /** every chain with its hops ('service 2', 'port:out') */
  chains(): { id: number; name: string; hops: string[] }[];
  /** the registry's entries by NF id */
  entries: ReadonlyMap<number, NfEntry>;
}

/** A sample: the status and the raw figures rates and windows are taken from. */
interface Sample {
  at: number;
  status: ManagerStatus;
  loops: Map<string, { idleMs: number; bursts: number; packets: number }>;
  /** per chain histogram copies */
  hist: Float64Array[];
}

const portDrops = (p: PortStatus): number => PORT_DROPS.reduce((s, [k]) => s + p[k], 0);
const routeDrops = (c: Record<string, number>): number => ROUTE_DROPS.reduce((s, [k]) => s + (c[k] ?? 0), 0);
const nfTx = (c: Record<string, number>): number => (c.forwarded ?? 0) + (c.out ?? 0);

function summary(name: string, p: Percentiles): LatencySummary {
  return { name, count: p.count, mean: p.mean, p50: p.p50, p90: p.p90, p99: p.p99, p999: p.p999, max: p.max };
}

export class Observer {
  private readonly samples: Sample[] = [];
  /** the sample the newest history point was taken at */
  private lastPoint: Sample | undefined;
  private readonly time: number[] = [];
  private readonly series = new Map<string, (number | null)[]>();

  constructor(private readonly src: ObserveSources) {}

  /** Takes a sample from `status` (the counters now); adds a point to the history once a second. */
  sample(status: ManagerStatus): void {
    const s = this.take(status);
    this.samples.push(s);
    if (this.samples.length > SAMPLES_KEPT) this.samples.shift();
    const prev = this.lastPoint;
    // A point a second (a timer a little early still counts).
    if (prev !== undefined && s.at - prev.at < SLOW_MIN_MS - SAMPLE_MS / 2) return;
    this.lastPoint = s;
    if (prev === undefined) return;
    this.point(this.enrichFrom(s, prev, prev), s, prev);
  }

  /** `status` with everything shown beyond the counters (rates against a recent sample). */
  enrich(status: ManagerStatus): ManagerStatus {
    const now = this.take(status);
    const newest = (minMs: number): Sample | undefined => {
      for (let i = this.samples.length - 1; i >= 0; i--)
        if (now.at - this.samples[i]!.at >= minMs) return this.samples[i];
      return undefined;
    };
    const ref = newest(RATE_MIN_MS);
    return this.enrichFrom(now, ref, newest(SLOW_MIN_MS) ?? ref);
  }

  /** The history as columns (the newest point last). */
  history(): { interval: number; time: number[]; series: Record<string, (number | null)[]> } {
    return { interval: 1, time: this.time, series: Object.fromEntries(this.series) };
  }

  // ---- samples ------------------------------------------------------------------------------

  private take(status: ManagerStatus): Sample {
    const { inst } = this.src;
    const loops = new Map<string, { idleMs: number; bursts: number; packets: number }>();
    const read = (set: number) => ({
      idleMs: inst.counters.read(set, LoopCounters.idleMs),
      bursts: inst.counters.read(set, LoopCounters.bursts),
      packets: inst.counters.read(set, LoopCounters.packets),
    });
    loops.set('rx', read(CounterSet.loopRx));
    loops.set('tx', read(CounterSet.loopTx));
    for (const nf of status.nfs) loops.set(nf.tag, read(CounterSet.loopNf(nf.nfId)));
    const hist: Float64Array[] = [];
    for (let c = 0; c < MAX_CHAINS; c++)
      hist.push(inst.latency.snapshot(LatencyHist.chain(c), new Float64Array(HIST_WORDS)));
    return { at: status.time * 1000, status, loops, hist };
  }

  /** The status of `now` with rates against `ref` and loop load against `slow`. */
  private enrichFrom(now: Sample, ref: Sample | undefined, slow: Sample | undefined): ManagerStatus {
    const { inst, entries } = this.src;
    const st = now.status;
    const dt = ref ? Math.max(1e-3, (now.at - ref.at) / 1000) : 0;
    const per = (a: number, b: number | undefined): number => (b === undefined ? 0 : Math.max(0, (a - b) / dt));
    const old = ref?.status;
    const ports: PortStatus[] = st.ports.map((p) => {
      const o = old?.ports.find((x) => x.id === p.id);
      if (!o) return p;
      return {
        ...p,
        rates: {
          rxPps: per(p.rxPackets, o.rxPackets),
          txPps: per(p.txPackets, o.txPackets),
          rxBps: per(p.rxBytes, o.rxBytes) * 8,
          txBps: per(p.txBytes, o.txBytes) * 8,
          dropPps: per(portDrops(p), portDrops(o)),
        },
      };
    });
    const nfRates = (nf: NfStatus): NfRates | undefined => {
      const o = old?.nfs.find((x) => x.nfId === nf.nfId && x.pid === nf.pid);
      if (!o) return undefined;
      return {
        rxPps: per(nf.counters.rx ?? 0, o.counters.rx),
        txPps: per(nfTx(nf.counters), nfTx(o.counters)),
        dropPps: per(routeDrops(nf.counters), routeDrops(o.counters)),
      };
    };
    const nfs: NfStatus[] = st.nfs.map((nf) => {
      const e = entries.get(nf.nfId);
      const out: NfStatus = { ...nf };
      const r = nfRates(nf);
      if (r) out.rates = r;
      if (e?.metrics?.length) {
        out.metrics = e.metrics.map((d, i) => ({
          name: d.name,
          kind: d.kind,
          help: d.help,
          value: inst.metrics.read(nf.nfId, i),
          ...(d.member !== undefined ? { member: d.member } : {}),
        }));
      }
      if (e?.options) out.options = e.options;
      if (e?.latency) out.latency = summary(nf.tag, percentiles(inst.latency.snapshot(LatencyHist.nf(nf.nfId))));
      return out;
    });
    const chains = this.src.chains();
    const latency: LatencySummary[] = [];
    for (const c of chains) {
      const p = percentiles(now.hist[c.id]!);
      if (p.count > 0) latency.push(summary(c.name, p));
    }
    const loopStats: LoopStats[] = [];
    const loopOf = (name: string, cpu: number): void => {
      const a = now.loops.get(name);
      const b = slow?.loops.get(name);
      const l: LoopStats = { loop: name, cpu };
      if (a && b && slow) {
        const ms = Math.max(1, now.at - slow.at);
        l.busy = Math.min(1, Math.max(0, 1 - (a.idleMs - b.idleMs) / ms));
        const bursts = a.bursts - b.bursts;
        if (bursts > 0) l.perBurst = (a.packets - b.packets) / bursts;
      }
      loopStats.push(l);
    };
    loopOf('rx', st.loops.rx.cpu);
    loopOf('tx', st.loops.tx.cpu);
    for (const nf of nfs) if (!nf.inline) loopOf(nf.tag, nf.cpu);
    const serviceTotals: ServiceTotals[] = st.services.map(({ service, nfs: ids }) => {
      const mine = nfs.filter((n) => ids.includes(n.nfId));
      const sum = (f: (n: NfStatus) => number): number => mine.reduce((s, n) => s + f(n), 0);
      const t: ServiceTotals = {
        service,
        name: serviceName(mine, service),
        instances: mine.length,
        rx: sum((n) => n.counters.rx ?? 0),
        tx: sum((n) => nfTx(n.counters)),
        drops: sum((n) => routeDrops(n.counters)),
      };
      if (ref && mine.every((n) => n.rates))
        t.rates = {
          rxPps: sum((n) => n.rates!.rxPps),
          txPps: sum((n) => n.rates!.txPps),
          dropPps: sum((n) => n.rates!.dropPps),
        };
      return t;
    });
    const drops: DropEntry[] = [];
    const drop = (where: string, reason: string, count: number, before: number | undefined): void => {
      if (count > 0) drops.push({ where, reason, count, ...(ref ? { pps: per(count, before ?? 0) } : {}) });
    };
    for (const p of ports) {
      const o = old?.ports.find((x) => x.id === p.id);
      for (const [k, label] of PORT_DROPS) drop(`port:${p.name}`, label, p[k], o?.[k]);
    }
    for (const nf of nfs) {
      const o = old?.nfs.find((x) => x.nfId === nf.nfId && x.pid === nf.pid);
      for (const [k, label] of ROUTE_DROPS) drop(`nf:${nf.tag}`, label, nf.counters[k] ?? 0, o?.counters[k]);
    }
    for (const [k, label] of ROUTE_DROPS) drop('manager-rx', label, st.rx[k] ?? 0, old?.rx[k]);
    drop('manager-tx', 'bad port', st.tx.dropBadPort ?? 0, old?.tx.dropBadPort);
    return {
      ...st,
      ports,
      nfs,
      chains,
      latency,
      loopStats,
      serviceTotals,
      drops,
      graph: this.graph(ports, nfs, chains, serviceTotals, ref !== undefined),
    };
  }

  /**
   * The ports and services, and the hops of every chain between them. Packets enter a chain at
   * any port that receives; a chain that ends at an NF leaves by the NF's out() verdicts, drawn
   * to the ports that send. An edge's rate is what its far end takes in: a service's instances'
   * received packets, a port's sent packets (so two chains into one service show the same rate).
   */
  private graph(
    ports: readonly PortStatus[],
    nfs: readonly NfStatus[],
    chains: readonly { id: number; name: string; hops: string[] }[],
    services: readonly ServiceTotals[],
    rated: boolean,
  ): { nodes: GraphNode[]; edges: GraphEdge[] } {
    const topo = this.src.topo;
    const nodes = new Map<string, GraphNode>();
    for (const p of ports) {
      nodes.set(`port:${p.name}`, {
        id: `port:${p.name}`,
        kind: 'port',
        label: `${p.name} (${p.driver})`,
        ...(rated && p.rates ? { dropPps: p.rates.dropPps } : {}),
      });
    }
    const svcNode = (svc: number): string => {
      const id = `svc:${svc}`;
      if (!nodes.has(id)) {
        const t = services.find((x) => x.service === svc);
        const tags = nfs
          .filter((n) => t !== undefined && (n.service === svc || n.members?.some((m) => m.service === svc)))
          .map((n) => n.tag);
        const topoName = topo.nfs.find((n) => n.service === svc)?.name;
        nodes.set(id, {
          id,
          kind: 'service',
          label: `${t?.name ?? topoName ?? 'service'} (service ${svc})`,
          nfs: tags,
          ...(rated && t?.rates ? { dropPps: t.rates.dropPps } : {}),
        });
      }
      return id;
    };
    const inputs = topo.ports
      .filter((p) => p.driver !== 'null' && !(p.driver === 'pcap' && !p.rx))
      .map((p) => `port:${p.name}`);
    const edges = new Map<string, GraphEdge>();
    const rateInto = (to: string): number | undefined => {
      if (!rated) return undefined;
      if (to.startsWith('port:')) return ports.find((p) => `port:${p.name}` === to)?.rates?.txPps;
      return services.find((s) => `svc:${s.service}` === to)?.rates?.rxPps;
    };
    const edge = (from: string, to: string, chain: string): void => {
      const k = `${from}->${to}`;
      const e = edges.get(k);
      if (e) {
        if (!e.chains.includes(chain)) e.chains.push(chain);
        return;
      }
      const pps = rateInto(to);
      edges.set(k, { from, to, chains: [chain], ...(pps !== undefined ? { pps } : {}) });
    };
    for (const c of chains) {
      const ids = c.hops.map((h) => (h.startsWith('port:') ? h : svcNode(Number(h.replace(/^service /, '')))));
      if (ids.length === 0) continue;
      for (const i of inputs) edge(i, ids[0]!, c.name);
      for (let k = 1; k < ids.length; k++) edge(ids[k - 1]!, ids[k]!, c.name);
      const last = ids[ids.length - 1]!;
      if (!last.startsWith('port:')) for (const p of ports) if (p.txPackets > 0) edge(last, `port:${p.name}`, c.name);
    }
    for (const nf of nfs) svcNode(nf.service);
    return { nodes: [...nodes.values()], edges: [...edges.values()] };
  }

  // ---- history ------------------------------------------------------------------------------

  private point(full: ManagerStatus, now: Sample, prev: Sample): void {
    const values = new Map<string, number>();
    for (const p of full.ports) {
      if (!p.rates) continue;
      values.set(`port:${p.name}:rx`, p.rates.rxPps);
      values.set(`port:${p.name}:tx`, p.rates.txPps);
    }
    let dropPps = 0;
    for (const d of full.drops ?? []) dropPps += d.pps ?? 0;
    values.set('drops', dropPps);
    for (const nf of full.nfs) {
      if (!nf.rates) continue;
      values.set(`nf:${nf.tag}:rx`, nf.rates.rxPps);
      values.set(`nf:${nf.tag}:tx`, nf.rates.txPps);
      values.set(`nf:${nf.tag}:drop`, nf.rates.dropPps);
    }
    for (const c of full.chains ?? []) {
      const p = percentiles(now.hist[c.id]!, prev.hist[c.id]);
      if (p.count === 0) continue;
      values.set(`latency:${c.name}:p50`, p.p50);
      values.set(`latency:${c.name}:p99`, p.p99);
    }
    const n = this.time.length;
    this.time.push(Math.round(now.at) / 1000);
    for (const [k, v] of values) {
      let s = this.series.get(k);
      if (!s) {
        s = new Array<number | null>(n).fill(null);
        this.series.set(k, s);
      }
      s.push(Math.round(v * 1000) / 1000);
    }
    for (const [k, s] of this.series) {
      if (!values.has(k)) s.push(null);
      if (s.every((x) => x === null)) this.series.delete(k);
    }
    if (this.time.length > HISTORY_POINTS) {
      this.time.shift();
      for (const s of this.series.values()) s.shift();
    }
  }
}

/** A service's name: its instances' NF name (a group member's, for a group). */
function serviceName(nfs: readonly NfStatus[], service: number): string {
  for (const n of nfs) {
    const m = n.members?.find((x) => x.service === service);
    if (m) return m.name;
    if (n.service === service) return n.name;
  }
  return `service ${service}`;
}
