/**
 * The validated topology: what the manager is told to build (pool, rings, ports, NFs and the
 * default service chain). Plain data, produced only by the loader (src/topology/load.ts) after
 * every check has passed, so code past the boundary trusts it: paths are absolute, defaults are
 * filled in, and chain hops are resolved to service ids and port ids.
 *
 * The file format that becomes a Topology is described in docs/topology.md.
 */
import type { PortConfig } from '../ports/config.js';

export type { PortConfig, GenPortConfig, PcapPortConfig, NullPortConfig } from '../ports/config.js';

/** Name given as `file` to topologies made in code rather than read from a file. */
export const BUILT_IN_TOPOLOGY = '<built-in>';

export interface Topology {
  /** absolute path of the file (BUILT_IN_TOPOLOGY, '<built-in>', for topologies made in code) */
  file: string;
  /** manager instance name ([A-Za-z0-9_.-]{1,32}); names the shared-memory directory */
  name: string;
  /** packet pool geometry: buffer count (power of two), data room and headroom in bytes, jumbo buffers (64 KiB) */
  pool: { count: number; dataRoom: number; headroom: number; jumbos: number };
  /** capacities (slots, powers of two) of each NF instance's RX and TX descriptor rings */
  rings: { nfRx: number; nfTx: number };
  manager: {
    /** seconds to run; 0 = no limit */
    ttl: number;
    /** packets to receive before stopping; 0 = no limit */
    limit: number;
    /** seconds between stats lines; 0 = quiet */
    statsInterval: number;
    /** 'adaptive': spin, then sleep on a futex when idle; 'busy': always spin */
    poll: 'adaptive' | 'busy';
    /**
     * The RX and TX loops in two threads ('split') or one ('combined'); 'auto' (the default)
     * combines them when that gives every packet loop a core of its own and no input port wakes
     * the RX loop on arrival (gen, pcap), so that combining delays no packet (manager/placement.ts).
     */
    dataplane?: 'auto' | 'split' | 'combined' | undefined;
    /**
     * 'auto' (the default): with no cores given anywhere and a CPU for every packet loop, each
     * loop is pinned to its own CPU (manager/placement.ts); 'none': the kernel places them.
     */
    placement?: 'auto' | 'none' | undefined;
    /** slots of the manager's flow table (the flow director's cache), a power of two */
    flowTable: number;
    /** seconds without a packet before a flow leaves the flow table; 0 = never */
    flowIdleTimeout: number;
    /**
     * seconds an NF in service may leave packets waiting in its rx ring without taking one
     * before the manager kills it and takes its buffers back (a handler that spins or blocks);
     * 0: never (default 5)
     */
    stallTimeout?: number | undefined;
    /** the CPUs the RX and TX loops are pinned to (absent: not pinned) */
    cores?: { rx?: number[] | undefined; tx?: number[] | undefined } | undefined;
    /** stamp arrivals and record each chain's latency (default true) */
    latency?: boolean | undefined;
    /** the HTTP endpoint (http/options.ts parses it); absent or false: off */
    http?: HttpSetting | undefined;
    /** the events log file (absolute once loaded); false: none; absent: the default (<run dir>/<name>.events.jsonl) */
    events?: string | false | undefined;
  };
  /** the ports; the index in this list is the port id. pcap rx/tx paths are absolute. */
  ports: PortConfig[];
  /** the NFs, in file order; service ids are unique */
  nfs: NfConfig[];
  /** fused groups: NFs that run together in one process (each NF in at most one) */
  groups: FusedGroupConfig[];
  /** the default service chain (chain 0), 1..32 hops */
  chain: Hop[];
  /** named chains; chain id = index + 1 (1..15) */
  chains: { name: string; hops: Hop[] }[];
  /** flow rules of the flow director: which chain a flow takes (misses take chain 0) */
  flows: FlowRule[];
}

export interface NfConfig {
  /** unique NF name, [a-z0-9][a-z0-9_-]{0,31} */
  name: string;
  /** absolute path of the NF module (.ts, .mts, .js or .mjs); the file exists */
  module: string;
  /** service id, 1..31; no two NFs share one */
  service: number;
  /** number of processes running this NF, 1..8 */
  instances: number;
  /** the CPUs its processes are pinned to (absent: not pinned) */
  cores?: number[] | undefined;
  /** the NF's options, unchecked here: checked against the NF's own option spec when it starts */
  options: Record<string, unknown>;
  /** the fused group it runs in (absent: a process of its own) */
  fuse?: string | undefined;
  /**
   * true: it runs in the manager's data-plane thread (with its fused group, if any), between
   * receiving and sending: no hand-off between threads (manager/inline.ts). At most one NF or
   * fused group; one instance; the loop's cores.
   */
  inline?: boolean | undefined;
  /**
   * read-only: its processes map the packet pool without write permission (a write kills the
   * process) and hand every packet back to the manager with its verdict (docs/security.md)
   */
  access?: 'read-only' | undefined;
  /**
   * sandbox: its processes run in a bubblewrap sandbox — no network, no other processes, only
   * the files they need (manager/sandbox.ts, docs/security.md)
   */
  isolation?: 'sandbox' | undefined;
}

/**
 * A fused group: NFs that run in one process, one slot and one rx ring, a verdict that moves a
 * packet from one member to another being a function call (docs/architecture.md, "Fused groups").
 */
export interface FusedGroupConfig {
  /** the group's name (labels its process in logs and status) */
  name: string;
  /** its NFs' names, in the order a packet meets them on the default chain (then file order); 2 or more */
  members: string[];
  /** processes running the whole group (every member's instances) */
  instances: number;
  /** the CPUs its processes are pinned to (the members' cores, which agree) */
  cores?: number[] | undefined;
}

/** One step of a service chain: hand the packet to a service, or send it out a port. */
import type { FlowRule } from '../flow/director.js';

export type Hop = { kind: 'service'; service: number } | { kind: 'port'; port: number };

/** Limits the schema enforces, shared with code that builds topologies by hand. */
export const TOPOLOGY_LIMITS = {
  maxPorts: 8,
  maxNfs: 32,
  maxService: 31,
  maxInstances: 8,
  maxChainHops: 32, // MAX_HOPS of the chain table (shm/instance-layout.ts)
} as const;

/** manager.http as written: "[host:]port", a port, or a mapping; false: off. */
export type HttpSetting =
  | false
  | string
  | number
  | {
      listen: string | number;
      token?: string | undefined;
      tokenFile?: string | undefined;
      remote?: boolean | undefined;
    };
