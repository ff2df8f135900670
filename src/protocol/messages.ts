/**
 * The control protocol between the manager, its NFs and the CLI: one JSON object per line on
 * the manager's Unix socket. Requests carry an `id`; the answer carries the same `id`. One
 * discriminated union, checked with an exhaustive switch on each side; an unknown `type` is
 * an error answer, never ignored.
 */
import type { PortDescription } from '../ports/port-info.js';

/** NF → manager */
export interface RegisterRequest {
  type: 'register';
  id: number;
  /** the NF definition's name */
  name: string;
  service: number;
  /** the NF id asked for (--instance), or 0 for any free one */
  nfId: number;
  pid: number;
  module: string;
  /** how it maps the pool: read-only NFs hand every packet back with its verdict (default read-write) */
  access?: 'read-write' | 'read-only';
  /** the NF's options (so the manager can start more instances like it) */
  options?: Record<string, unknown>;
  /**
   * A fused group: every NF the process runs, the first being the one above; each member's
   * service is served by this one process (one slot, one rx ring).
   */
  members?: GroupMember[];
  /** the counters and gauges its NFs declare, in the order of their words in the slot's metrics set */
  metrics?: MetricDecl[];
  /** it records arrival-to-verdict latency into its slot's histogram */
  latency?: boolean;
  /** its options as it parsed them, defaults included (a fused group: by member name), for status and the console */
  parsedOptions?: Record<string, unknown>;
}
/** A counter or gauge an NF declares (defineNF counters / gauges). */
export interface MetricDecl {
  name: string;
  kind: 'counter' | 'gauge';
  help: string;
  /** in a fused group: the member that declared it */
  member?: string;
}
/** One NF of a fused group process: what it runs, for which service. */
export interface GroupMember {
  name: string;
  module: string;
  service: number;
  options: Record<string, unknown>;
}
export interface ReadyRequest {
  type: 'ready';
  id: number;
  nfId: number;
  /** the services of this process whose instance has a message() hook (`nfchain message` to the others is refused) */
  listening?: number[];
}
/**
 * NF → a manager that took over from one that died: "I am NF nfId of that generation, paused,
 * holding my slot". Answered (type 'ok') once the new manager runs; the NF then resumes.
 */
export interface ReattachRequest {
  type: 'reattach';
  id: number;
  nfId: number;
  generation: number;
  pid: number;
  name: string;
  service: number;
  module: string;
  options?: Record<string, unknown>;
  members?: GroupMember[];
  /** as in its register request: what it declares and how it parsed its options */
  metrics?: MetricDecl[];
  latency?: boolean;
  parsedOptions?: Record<string, unknown>;
}
export interface StoppingRequest {
  type: 'stopping';
  id: number;
  nfId: number;
  reason: string;
}
/** CLI → manager */
export interface StatusRequest {
  type: 'status';
  id: number;
}
export interface ShutdownRequest {
  type: 'shutdown';
  id: number;
}
/** CLI → manager → an NF's inbox */
/** CLI → manager: flow rules and chains, applied while traffic flows */
export interface FlowAddRequest {
  type: 'flow-add';
  id: number;
  rule: FlowRuleSpec;
}
export interface FlowDelRequest {
  type: 'flow-del';
  id: number;
  ruleId: number;
}
export interface FlowListRequest {
  type: 'flow-list';
  id: number;
}
export interface ChainSetRequest {
  type: 'chain-set';
  id: number;
  name: string;
  hops: (string | number)[];
}
export interface ChainListRequest {
  type: 'chain-list';
  id: number;
}
/** A flow rule as the CLI writes it: the chain and the input port by name. */
export interface FlowRuleSpec {
  priority?: number;
  chain: string;
  srcPrefix?: string;
  dstPrefix?: string;
  srcPorts?: [number, number];
  dstPorts?: [number, number];
  proto?: number;
  inPort?: string;
  vlan?: number;
}
/** CLI or NF → manager: run `instances` instances of a service (by id or NF name), starting or retiring some */
export interface ScaleRequest {
  type: 'scale';
  id: number;
  service: number | string;
  instances: number;
  /** new instances take their share of existing flows too (default: only new flows) */
  rebalance?: boolean;
}
export interface MessageRequest {
  type: 'message';
  id: number;
  to: { instance: number } | { service: number; key?: number };
  payload: unknown;
}

export type Request =
  | RegisterRequest
  | ReadyRequest
  | ReattachRequest
  | StoppingRequest
  | StatusRequest
  | ShutdownRequest
  | MessageRequest
  | FlowAddRequest
  | FlowDelRequest
  | FlowListRequest
  | ChainSetRequest
  | ChainListRequest
  | ScaleRequest
  | EventsRequest;
/**
 * The events kept after `since` (a sequence number; 0: all kept), answered at once; with
 * `follow`, every later event comes as an EventNotice on the same connection until it closes.
 */
export interface EventsRequest {
  type: 'events';
  id: number;
  since?: number;
  follow?: boolean;
}
export interface EventsReply {
  type: 'events';
  id: number;
  events: ManagerEvent[];
}
export interface EventNotice {
  type: 'event';
  event: ManagerEvent;
}
/** A request before the client numbers it. */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

export interface RegisteredReply {
  type: 'registered';
  id: number;
  nfId: number;
  /** shared-memory instance name to attach */
  instance: string;
  generation: number;
  poll: 'adaptive' | 'busy';
  /** chain names by id, when the NF registered */
  chains: string[];
  /** the manager's ports: name, MAC, MTU, addresses (link state: the PortRxCounters.link gauge) */
  ports: PortDescription[];
}
export interface OkReply {
  type: 'ok';
  id: number;
}
export interface ErrorReply {
  type: 'error';
  id: number;
  code: string;
  message: string;
}
export interface StatusReply {
  type: 'status';
  id: number;
  status: ManagerStatus;
}
export interface MessageReply {
  type: 'message-result';
  id: number;
  result: 'ok' | 'no-destination' | 'ring-full' | 'too-large' | 'no-handler';
}

/** The manager's flow table (the RX loop's), for `nfchain flow list`. */
export interface FlowTableStats {
  /** false until there are rules or an NF pinned a flow: no flow table, every packet takes chain 0 */
  director: boolean;
  /** flows in the flow director's table, the most it holds, and those pinned */
  flows: number;
  maxFlows: number;
  pinned: number;
  /** flows removed by the idle timeout; flows classified without an entry (table full) */
  expired: number;
  full: number;
  /** pins applied and refused (table full or a malformed request) */
  pins: number;
  pinsRefused: number;
  /**
   * Flow affinity (flow/affinity.ts): hash slots, slots in use (≈ flows; flows sharing a slot
   * count once), freed by the idle timeout, in use per epoch, and the current epoch.
   */
  affinity: { slots: number; tracked: number; expired: number; epochs: number[]; epoch: number };
}
export interface FlowListReply {
  type: 'flows';
  id: number;
  rules: (FlowRuleSpec & { id: number })[];
  table?: FlowTableStats;
}
export interface ChainListReply {
  type: 'chains';
  id: number;
  chains: { id: number; name: string; hops: string[] }[];
}
export interface FlowAddedReply {
  type: 'flow-added';
  id: number;
  ruleId: number;
}
/** The outcome of a scale request, once the new instances are in service (or failed to start). */
export interface ScaleResult {
  service: number;
  /** instances before and now (running or starting) */
  before: number;
  instances: number;
  /** NF ids put in service, and NF ids retired (taken out of service and asked to stop) */
  started: number[];
  retired: number[];
}
export interface ScaledReply extends ScaleResult {
  type: 'scaled';
  id: number;
}
export type Reply =
  | ScaledReply
  | RegisteredReply
  | OkReply
  | ErrorReply
  | StatusReply
  | MessageReply
  | FlowListReply
  | ChainListReply
  | FlowAddedReply
  | EventsReply;

/** manager → NF, unsolicited */
export interface StopNotice {
  type: 'stop';
  reason: string;
}
export type Notice = StopNotice | EventNotice;

export interface PortStatus {
  id: number;
  name: string;
  driver: string;
  rxPackets: number;
  rxBytes: number;
  rxNoBuffer: number;
  /** frames the kernel dropped before the port saw them (real interfaces) */
  kernelDrops: number;
  /** frames larger than any buffer (a jumbo included, or none free): dropped, counted */
  rxOversize: number;
  /** frames whose offload description does not match their headers: dropped, counted */
  rxMalformed: number;
  /** capture records whose timestamp was normalised (pcap: a sub-second field of a second or more, read as tcpdump does) */
  rxTsNormalized: number;
  /** interface state of af_packet / af_xdp ports */
  link?: { interface: string; up: boolean; running: boolean; mtu: number; mac: string };
  txPackets: number;
  txBytes: number;
  txDropped: number;
  /** per-second rates since the previous snapshot the manager took (absent in the first) */
  rates?: PortRates;
}

/** A port's rates per second: packets, bits, and packets lost at the port (no buffer, kernel, tx drop, malformed, oversize). */
export interface PortRates {
  rxPps: number;
  txPps: number;
  rxBps: number;
  txBps: number;
  dropPps: number;
}

/** An NF's rates per second: received, sent on (to an NF or a port), dropped (every reason). */
export interface NfRates {
  rxPps: number;
  txPps: number;
  dropPps: number;
}

/** A counter or gauge an NF declared (`defineNF({ counters, gauges })`), with its value now. */
export interface NfMetric {
  name: string;
  kind: 'counter' | 'gauge';
  help: string;
  value: number;
  /** in a fused group: the member NF that declared it */
  member?: string;
}

/**
 * Latency percentiles from a log-linear histogram (buckets 12.5 % wide): arrival at the RX
 * loop to departure from the TX loop, per chain; or arrival to the verdict, for an NF that
 * records it. Microseconds.
 */
export interface LatencySummary {
  /** the chain's name, or the NF's tag */
  name: string;
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** A data-plane loop: where it runs, how busy it is and how full its bursts are (since the previous snapshot). */
export interface LoopStats {
  /** 'rx', 'tx', or an NF's tag */
  loop: string;
  cpu: number;
  /** fraction of time spent moving packets (0..1; absent in the first snapshot) */
  busy?: number;
  /** packets per non-empty burst (absent when none) */
  perBurst?: number;
}

/** One element of the graph the console draws. */
export interface GraphNode {
  /** 'port:<name>', 'svc:<id>' */
  id: string;
  kind: 'port' | 'service';
  label: string;
  /** service nodes: the NF instances (and groups) serving it, by tag */
  nfs?: string[];
  /** drops where this node is, per second (absent in the first snapshot) */
  dropPps?: number;
}

/** A hop of some chain: packets per second along it (absent in the first snapshot). */
export interface GraphEdge {
  from: string;
  to: string;
  /** the chains this hop belongs to */
  chains: string[];
  pps?: number;
}

/** A drop counter, where it is and why: `where` is 'port:<name>', 'nf:<tag>', 'manager-rx' or 'manager-tx'. */
export interface DropEntry {
  where: string;
  reason: string;
  count: number;
  pps?: number;
}

/** A service's instances summed. */
export interface ServiceTotals {
  service: number;
  /** the NF name serving it (the first instance's) */
  name: string;
  instances: number;
  rx: number;
  tx: number;
  drops: number;
  rates?: NfRates;
}

/** Something that happened, as `/api/events`, the events log and `nfchain events` give it. */
export interface ManagerEvent {
  /** 1, 2, ... since the manager started */
  seq: number;
  /** ms since the epoch */
  time: number;
  type: EventType;
  /** one line, as the manager's log prints it */
  message: string;
  nf?: string;
  nfId?: number;
  service?: number;
  port?: string;
  chain?: string;
  /** crashed: buffers taken back */
  reclaimed?: number;
  /** anything else the event carries */
  detail?: Record<string, unknown>;
}
export type EventType =
  | 'manager-started'
  | 'manager-stopping'
  | 'nf-registered'
  | 'nf-started'
  | 'nf-stopped'
  | 'nf-crashed'
  | 'nf-stalled'
  | 'nf-scaled'
  | 'chain-set'
  | 'flow-rule-added'
  | 'flow-rule-removed'
  | 'port-link';

export interface NfStatus {
  nfId: number;
  name: string;
  tag: string;
  service: number;
  state: string;
  pid: number;
  /** the CPU its packet loop last ran on (-1: not known yet) */
  cpu: number;
  counters: Record<string, number>;
  /** a fused group: its members in order (name and service); absent for one NF */
  members?: { name: string; service: number }[];
  /** it runs inline, in the manager's data-plane loop (pid is the manager's) */
  inline?: true;
  /** it maps the packets read-only and hands them back with its verdicts (nfs[].access) */
  access?: 'read-only';
  /** per-second rates since the previous snapshot (absent in the first) */
  rates?: NfRates;
  /** the counters and gauges it declared */
  metrics?: NfMetric[];
  /** its options as it parsed them (absent for an NF that registered by itself without them) */
  options?: Record<string, unknown>;
  /** arrival to verdict, when the NF records latency (`defineNF({ latency: true })`) */
  latency?: LatencySummary;
}

/** Where the pool's buffers are, counted while traffic flows (manager/census.ts). */
export interface BufferCount {
  /** ordinary buffers and jumbos */
  total: number;
  /** on the pool's free rings */
  free: number;
  /** queued in descriptor rings (NF rx and tx rings, the manager's RX → TX ring) */
  rings: number;
  /** recorded in NF slots (burst in hand, kept, pool cache, staging), by NF id */
  nfs: { nfId: number; held: number }[];
  /** held by the ports (spares, frames lent to the kernel), by port name */
  ports: { port: string; held: number }[];
  /** in the manager's pool caches (RX loop, TX loop, main thread) */
  manager: number;
  /** total minus everything above: buffers caught between two places as they were counted */
  inMotion: number;
}

/** Where a loop runs: the CPU it last ran on (-1: not known yet), the CPUs it is pinned to (absent: not pinned). */
export interface LoopPlace {
  cpu: number;
  cores?: number[];
}

export interface ManagerStatus {
  name: string;
  pid: number;
  uptime: number;
  /** seconds since the epoch (float) when this was taken */
  time: number;
  pool: { count: number; free: number };
  ports: PortStatus[];
  nfs: NfStatus[];
  services: { service: number; nfs: number[] }[];
  chain: string[];
  /** manager RX routing counters and TX loop counters */
  rx: Record<string, number>;
  /** control requests refused because their connection went beyond its budget (docs/security.md, Limits) */
  controlRefused?: number;
  tx: Record<string, number>;
  /** the manager's RX and TX loops: the CPU each last ran on (-1: not yet), and where they are pinned */
  loops: { rx: LoopPlace; tx: LoopPlace };
  /** where every buffer is */
  buffers: BufferCount;
  /** every chain the manager routes by (the default chain first), as `chain list` shows them */
  chains?: { id: number; name: string; hops: string[] }[];
  /** per chain that carried packets: arrival to departure */
  latency?: LatencySummary[];
  /** the data-plane loops (the manager's and every NF's) */
  loopStats?: LoopStats[];
  /** per service, its instances summed */
  serviceTotals?: ServiceTotals[];
  /** every drop counter that is not zero */
  drops?: DropEntry[];
  /** the ports and services, and the hops of the chains between them */
  graph?: { nodes: GraphNode[]; edges: GraphEdge[] };
  /** the HTTP endpoint, when it is on */
  http?: { url: string };
  /** where events are written (absent: nowhere) */
  eventsLog?: string;
}

export function isRequest(x: unknown): x is Request {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { type?: unknown }).type === 'string' &&
    typeof (x as { id?: unknown }).id === 'number'
  );
}
