/**
 * What `nfchain status` shows (cold): ports with their links, NFs with their states and
 * counters, the service table, the chain, the loops' counters and where every buffer is.
 */
import { interfaceLink } from '../ports/port-info.js';
import type { BufferCount, LoopPlace, ManagerStatus, NfStatus, PortStatus } from '../protocol/messages.js';
import type { InstanceView } from '../shm/instance.js';
import {
  Access,
  CounterSet,
  IH,
  MAX_SERVICES,
  NF_STATE_NAMES,
  NS,
  PortRxCounters,
  PortTxCounters,
  RouteCounters,
  TxLoopCounters,
} from '../shm/instance-layout.js';
import type { PoolCache } from '../shm/pool-cache.js';
import type { Topology } from '../topology/types.js';
import { countBuffers } from './census.js';

/** What the status is made from. */
export interface StatusSources {
  topo: Topology;
  inst: InstanceView;
  nfs: Iterable<{
    nfId: number;
    name: string;
    service: number;
    pid: number;
    members?: readonly { name: string; service: number }[] | undefined;
    inline?: boolean | undefined;
  }>;
  startedAt: number;
  cache: PoolCache | undefined;
}

/** An interface's state for status (cold); a vanished interface shows as down. */
function loopPlace(cpu: number, cores: number[] | undefined): LoopPlace {
  return cores !== undefined ? { cpu, cores } : { cpu };
}

export function managerStatus(m: StatusSources): ManagerStatus {
  const inst = m.inst;
  const cb = inst.counters;
  const ports: PortStatus[] = m.topo.ports.map((p, i) => ({
    id: i,
    name: p.name,
    driver: p.driver,
    ...(p.driver === 'af_packet' || p.driver === 'af_xdp' ? { link: interfaceLink(p.interface) } : {}),
    rxPackets: cb.read(CounterSet.portRx(i), PortRxCounters.rxPackets),
    rxBytes: cb.read(CounterSet.portRx(i), PortRxCounters.rxBytes),
    rxNoBuffer: cb.read(CounterSet.portRx(i), PortRxCounters.rxNoBuffer),
    kernelDrops: cb.read(CounterSet.portRx(i), PortRxCounters.kernelDrops),
    rxOversize: cb.read(CounterSet.portRx(i), PortRxCounters.rxOversize),
    rxMalformed: cb.read(CounterSet.portRx(i), PortRxCounters.rxMalformed),
    rxTsNormalized: cb.read(CounterSet.portRx(i), PortRxCounters.tsNormalized),
    txPackets: cb.read(CounterSet.portTx(i), PortTxCounters.txPackets),
    txBytes: cb.read(CounterSet.portTx(i), PortTxCounters.txBytes),
    txDropped: cb.read(CounterSet.portTx(i), PortTxCounters.txDropped),
  }));
  const routeCounters = (set: number): Record<string, number> => {
    const o: Record<string, number> = {};
    RouteCounters.names.forEach((n, j) => {
      o[n] = cb.read(set, j);
    });
    return o;
  };
  const nfs: NfStatus[] = [...m.nfs].map((e) => ({
    nfId: e.nfId,
    name: e.name,
    tag: `${e.name}#${e.nfId}`,
    service: e.service,
    state: NF_STATE_NAMES[inst.i32[inst.slotWord(e.nfId) + NS.state]!] ?? 'unknown',
    pid: e.pid,
    cpu: inst.i32[inst.slotWord(e.nfId) + NS.cpu]!,
    counters: routeCounters(CounterSet.nf(e.nfId)),
    ...(e.members ? { members: e.members.map((x) => ({ name: x.name, service: x.service })) } : {}),
    ...(e.inline ? { inline: true as const } : {}),
    ...(inst.i32[inst.slotWord(e.nfId) + NS.access] === Access.READ_ONLY ? { access: 'read-only' as const } : {}),
  }));
  const services: { service: number; nfs: number[] }[] = [];
  for (let s = 1; s < MAX_SERVICES; s++) {
    const sw = inst.serviceWord(s);
    const n = inst.i32[sw]!;
    if (n > 0) services.push({ service: s, nfs: Array.from(inst.i32.subarray(sw + 1, sw + 1 + n)) });
  }
  const tx: Record<string, number> = {};
  TxLoopCounters.names.forEach((n, j) => {
    tx[n] = cb.read(CounterSet.managerTx, j);
  });
  return {
    name: m.topo.name,
    pid: process.pid,
    uptime: (Date.now() - m.startedAt) / 1000,
    time: Date.now() / 1000,
    pool: { count: inst.pool.count, free: inst.pool.ringFreeCount() },
    ports,
    nfs,
    services,
    chain: m.topo.chain.map((h) =>
      h.kind === 'service' ? `service ${h.service}` : `port ${m.topo.ports[h.port]?.name ?? h.port}`,
    ),
    rx: routeCounters(CounterSet.managerRx),
    tx,
    loops: {
      rx: loopPlace(inst.i32[IH.rxCpu]!, m.topo.manager.cores?.rx),
      tx: loopPlace(inst.i32[IH.txCpu]!, m.topo.manager.cores?.tx),
    },
    buffers: countBuffers(
      inst,
      m.topo.ports.map((p) => p.name),
      m.cache,
    ),
  };
}

/** The buffer count as one log line: free, rings, NFs, ports, manager, in motion (cold). */
export function describeCount(b: BufferCount, nfs: readonly NfStatus[]): string {
  const tag = (id: number): string => nfs.find((n) => n.nfId === id)?.tag ?? `#${id}`;
  const list = <T>(xs: T[], f: (x: T) => string): string => (xs.length ? ` (${xs.map(f).join(', ')})` : '');
  const nfHeld = b.nfs.reduce((s, x) => s + x.held, 0);
  const portHeld = b.ports.reduce((s, x) => s + x.held, 0);
  return (
    `${b.free} of ${b.total} free, ${b.rings} in rings, ${nfHeld} in NFs${list(b.nfs, (x) => `${tag(x.nfId)} ${x.held}`)}, ` +
    `${portHeld} in ports${list(
      b.ports.filter((x) => x.held > 0),
      (x) => `${x.port} ${x.held}`,
    )}, ${b.manager} in the manager's caches, ${b.inMotion} in motion`
  );
}
