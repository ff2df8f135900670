/**
 * `/metrics`: the manager's counters in the Prometheus text format (version 0.0.4), read from
 * shared memory at each scrape (cold).
 *
 * Written here rather than with prom-client: prom-client keeps its own values and is fed by
 * inc()/set()/observe() in the process that owns them, while every nfchain figure already lives
 * in shared memory, counted by other threads and processes, and a histogram arrives as its
 * bucket counts — prom-client can neither set a counter nor load buckets without reaching into
 * its internals. What is left is the text format itself, which is small and fixed.
 *
 * Names follow the Prometheus conventions: `nfchain_` prefix, base units (seconds, bytes),
 * `_total` on counters, labels for what varies (port, nf, instance, service, where, reason).
 * Latency histograms export their power-of-two boundaries (a bucket `le` counts the packets
 * below that many ns).
 */
import type { ManagerStatus } from '../protocol/messages.js';
import type { InstanceView } from '../shm/instance.js';
import { CounterSet, IH, LatencyHist, LoopCounters, MAX_NFS, PortRxCounters } from '../shm/instance-layout.js';
import { cumulative, HIST_WORDS, totals } from '../shm/latency.js';
import { RING_HEADER_BYTES, RW } from '../shm/ring-layout.js';
import { ROUTE_DROPS } from '../manager/observe.js';

type Labels = Record<string, string | number>;

/** Histogram boundaries: 2^9 ns (512 ns) to 2^32 ns (4.3 s). */
const LE_NS = Array.from({ length: 24 }, (_, i) => 2 ** (9 + i));

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

/** Text in the exposition format, family by family. */
class Exposition {
  private readonly out: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, l: Labels, v: number): void {
    this.out.push(`${name}${labels(l)} ${num(v)}`);
  }

  /** One histogram series from a snapshot (HIST_WORDS, ns). */
  histogram(name: string, l: Labels, h: Float64Array): void {
    const c = cumulative(
      h,
      LE_NS.map((le) => le - 1),
    );
    const t = totals(h);
    for (let i = 0; i < LE_NS.length; i++) this.sample(`${name}_bucket`, { ...l, le: num(LE_NS[i]! / 1e9) }, c[i]!);
    this.sample(`${name}_bucket`, { ...l, le: '+Inf' }, t.count);
    this.sample(`${name}_sum`, l, t.sumNs / 1e9);
    this.sample(`${name}_count`, l, t.count);
  }

  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

/** Descriptors waiting in the ring at byte `off` (any process, no lock: a moment's view). */
function occupancy(inst: InstanceView, off: number): number {
  const w = new Int32Array(inst.mem, off, RING_HEADER_BYTES >> 2);
  return (Atomics.load(w, RW.prodTail) - Atomics.load(w, RW.consTail)) >>> 0;
}

/** Every family, from an enriched status and the shared memory behind it. */
export function metricsText(s: ManagerStatus, inst: InstanceView, version: string): string {
  const x = new Exposition();
  x.family('nfchain_info', 'gauge', 'The manager: instance name and nfchain version (always 1).');
  x.sample('nfchain_info', { name: s.name, version }, 1);
  x.family('nfchain_uptime_seconds', 'gauge', 'Seconds since the manager started.');
  x.sample('nfchain_uptime_seconds', {}, s.uptime);

  // Ports.
  const portFamilies = [
    ['nfchain_port_rx_packets_total', 'Packets received on the port.', 'rxPackets'],
    ['nfchain_port_rx_bytes_total', 'Bytes received on the port.', 'rxBytes'],
    ['nfchain_port_tx_packets_total', 'Packets sent out of the port.', 'txPackets'],
    ['nfchain_port_tx_bytes_total', 'Bytes sent out of the port.', 'txBytes'],
  ] as const;
  for (const [name, help, key] of portFamilies) {
    x.family(name, 'counter', help);
    for (const p of s.ports) x.sample(name, { port: p.name, driver: p.driver }, p[key]);
  }
  x.family('nfchain_port_link_up', 'gauge', 'The port interface link: 1 up, 0 down (af_packet and af_xdp ports).');
  s.ports.forEach((p, i) => {
    if (p.driver !== 'af_packet' && p.driver !== 'af_xdp') return;
    const link = inst.counters.read(CounterSet.portRx(i), PortRxCounters.link);
    x.sample('nfchain_port_link_up', { port: p.name }, link === 1 ? 1 : 0);
  });

  // NFs.
  const nfLabels = (nf: ManagerStatus['nfs'][number]): Labels => ({
    nf: nf.name,
    instance: nf.nfId,
    service: nf.service,
  });
  x.family('nfchain_nf_rx_packets_total', 'counter', 'Packets an NF instance received.');
  for (const nf of s.nfs) x.sample('nfchain_nf_rx_packets_total', nfLabels(nf), nf.counters.rx ?? 0);
  x.family(
    'nfchain_nf_tx_packets_total',
    'counter',
    'Packets an NF instance sent on (to another NF or out of a port).',
  );
  for (const nf of s.nfs)
    x.sample('nfchain_nf_tx_packets_total', nfLabels(nf), (nf.counters.forwarded ?? 0) + (nf.counters.out ?? 0));
  x.family('nfchain_nf_created_packets_total', 'counter', 'Packets an NF instance made (newPacket).');
  for (const nf of s.nfs) x.sample('nfchain_nf_created_packets_total', nfLabels(nf), nf.counters.created ?? 0);
  x.family('nfchain_nf_up', 'gauge', 'An NF instance is running (1) or starting, stopping or paused (0).');
  for (const nf of s.nfs)
    x.sample('nfchain_nf_up', { ...nfLabels(nf), state: nf.state }, nf.state === 'running' ? 1 : 0);
  x.family('nfchain_nf_count_total', 'counter', 'A counter an NF declared (defineNF counters); `name` names it.');
  x.family('nfchain_nf_level', 'gauge', 'A gauge an NF declared (defineNF gauges); `name` names it.');
  for (const nf of s.nfs) {
    for (const m of nf.metrics ?? []) {
      const l: Labels = { ...nfLabels(nf), ...(m.member !== undefined ? { member: m.member } : {}) };
      if (m.kind === 'counter') x.sample('nfchain_nf_count_total', { ...l, name: m.name }, m.value);
      else x.sample('nfchain_nf_level', { ...l, name: m.name }, m.value);
    }
  }
  x.family('nfchain_service_instances', 'gauge', 'NF instances serving a service.');
  for (const t of s.serviceTotals ?? [])
    x.sample('nfchain_service_instances', { service: t.service, name: t.name }, t.instances);

  // Drops, wherever they happen.
  x.family(
    'nfchain_drops_total',
    'counter',
    'Packets dropped, by where (port:<name>, nf:<tag>, manager-rx, manager-tx) and reason.',
  );
  for (const d of s.drops ?? []) x.sample('nfchain_drops_total', { where: d.where, reason: d.reason }, d.count);

  // Buffers and rings.
  x.family('nfchain_pool_buffers', 'gauge', 'Buffers in the packet pool (ordinary and jumbo).');
  x.sample('nfchain_pool_buffers', {}, s.buffers.total);
  x.family('nfchain_pool_free_buffers', 'gauge', "Buffers on the pool's free rings.");
  x.sample('nfchain_pool_free_buffers', {}, s.buffers.free);
  x.family(
    'nfchain_ring_occupancy',
    'gauge',
    'Descriptors waiting in a ring (an NF rx or tx ring, the manager RX to TX ring).',
  );
  for (const nf of s.nfs) {
    x.sample('nfchain_ring_occupancy', { ring: 'rx', nf: nf.tag }, occupancy(inst, inst.rxRingOffset(nf.nfId)));
    x.sample('nfchain_ring_occupancy', { ring: 'tx', nf: nf.tag }, occupancy(inst, inst.txRingOffset(nf.nfId)));
  }
  x.sample('nfchain_ring_occupancy', { ring: 'rx-to-tx', nf: 'manager' }, occupancy(inst, inst.rxToTxRingOffset));

  // Loops.
  const loops: [string, number, number][] = [
    ['rx', CounterSet.loopRx, inst.i32[IH.rxCpu]!],
    ['tx', CounterSet.loopTx, inst.i32[IH.txCpu]!],
    ...s.nfs
      .filter((n) => !n.inline && n.nfId < MAX_NFS)
      .map((n): [string, number, number] => [n.tag, CounterSet.loopNf(n.nfId), n.cpu]),
  ];
  x.family(
    'nfchain_loop_idle_seconds_total',
    'counter',
    'Seconds a data-plane loop spent idle (polling nothing or asleep).',
  );
  for (const [loop, set] of loops)
    x.sample('nfchain_loop_idle_seconds_total', { loop }, inst.counters.read(set, LoopCounters.idleMs) / 1000);
  x.family('nfchain_loop_bursts_total', 'counter', 'Non-empty bursts a data-plane loop moved.');
  for (const [loop, set] of loops)
    x.sample('nfchain_loop_bursts_total', { loop }, inst.counters.read(set, LoopCounters.bursts));
  x.family(
    'nfchain_loop_packets_total',
    'counter',
    'Packets a data-plane loop moved (over bursts: packets per burst).',
  );
  for (const [loop, set] of loops)
    x.sample('nfchain_loop_packets_total', { loop }, inst.counters.read(set, LoopCounters.packets));
  x.family('nfchain_loop_busy_ratio', 'gauge', 'Fraction of the last second a data-plane loop spent moving packets.');
  x.family('nfchain_loop_packets_per_burst', 'gauge', 'Packets per non-empty burst over the last second.');
  x.family('nfchain_loop_cpu', 'gauge', 'The CPU a data-plane loop last ran on.');
  for (const l of s.loopStats ?? []) {
    if (l.busy !== undefined) x.sample('nfchain_loop_busy_ratio', { loop: l.loop }, l.busy);
    if (l.perBurst !== undefined) x.sample('nfchain_loop_packets_per_burst', { loop: l.loop }, l.perBurst);
    x.sample('nfchain_loop_cpu', { loop: l.loop }, l.cpu);
  }

  // Latency.
  x.family(
    'nfchain_latency_seconds',
    'histogram',
    "Packet latency on a chain: arrival at the manager's RX loop to departure from its TX loop.",
  );
  const buf = new Float64Array(HIST_WORDS);
  for (const c of s.chains ?? [{ id: 0, name: 'default', hops: [] }]) {
    inst.latency.snapshot(LatencyHist.chain(c.id), buf);
    x.histogram('nfchain_latency_seconds', { chain: c.name }, buf);
  }
  x.family(
    'nfchain_nf_latency_seconds',
    'histogram',
    'Packet age at an NF verdict (NFs that record it: defineNF latency).',
  );
  for (const nf of s.nfs) {
    if (nf.latency === undefined) continue;
    inst.latency.snapshot(LatencyHist.nf(nf.nfId), buf);
    x.histogram('nfchain_nf_latency_seconds', nfLabels(nf), buf);
  }
  return x.text();
}

/** The drop reasons a router counts, for documentation and tests. */
export const ROUTE_DROP_REASONS = ROUTE_DROPS.map(([, label]) => label);
