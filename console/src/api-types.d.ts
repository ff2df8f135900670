/**
 * What the console reads from the manager's HTTP endpoint: the parts of src/protocol/messages.ts
 * it uses, restated here because the console is compiled on its own (a declaration file: no
 * output). test/console.test.ts checks at compile time that the manager's types fit these.
 */

export interface PortRates {
  rxPps: number;
  txPps: number;
  rxBps: number;
  txBps: number;
  dropPps: number;
}

export interface PortStatus {
  id: number;
  name: string;
  driver: string;
  rxPackets: number;
  rxBytes: number;
  rxNoBuffer: number;
  kernelDrops: number;
  rxOversize: number;
  rxMalformed: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  link?: { interface: string; up: boolean; running: boolean; mtu: number; mac: string };
  rates?: PortRates;
}

export interface NfRates {
  rxPps: number;
  txPps: number;
  dropPps: number;
}

export interface NfMetric {
  name: string;
  kind: 'counter' | 'gauge';
  help: string;
  value: number;
  member?: string;
}

export interface LatencySummary {
  name: string;
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoopStats {
  loop: string;
  cpu: number;
  busy?: number;
  perBurst?: number;
}

export interface GraphNode {
  id: string;
  kind: 'port' | 'service';
  label: string;
  nfs?: string[];
  dropPps?: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  chains: string[];
  pps?: number;
}

export interface DropEntry {
  where: string;
  reason: string;
  count: number;
  pps?: number;
}

export interface ManagerEvent {
  seq: number;
  time: number;
  type: string;
  message: string;
  nf?: string;
  nfId?: number;
  service?: number;
  port?: string;
  chain?: string;
  reclaimed?: number;
  detail?: Record<string, unknown>;
}

export interface NfStatus {
  nfId: number;
  name: string;
  tag: string;
  service: number;
  state: string;
  pid: number;
  cpu: number;
  counters: Record<string, number>;
  members?: { name: string; service: number }[];
  inline?: true;
  rates?: NfRates;
  metrics?: NfMetric[];
  options?: Record<string, unknown>;
  latency?: LatencySummary;
}

export interface ManagerStatus {
  name: string;
  pid: number;
  uptime: number;
  /** seconds since the epoch */
  time: number;
  pool: { count: number; free: number };
  ports: PortStatus[];
  nfs: NfStatus[];
  services: { service: number; nfs: number[] }[];
  chain: string[];
  chains?: { id: number; name: string; hops: string[] }[];
  latency?: LatencySummary[];
  loopStats?: LoopStats[];
  drops?: DropEntry[];
  graph?: { nodes: GraphNode[]; edges: GraphEdge[] };
}

/** GET /api/history: one sample a second, the newest last; a series that starts later is null before. */
export interface History {
  interval: number;
  time: number[];
  series: Record<string, (number | null)[]>;
}
