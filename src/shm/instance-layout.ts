/**
 * Layout of a manager instance's control file (`/dev/shm/nfchain-<name>/instance`): the NF
 * table, the service table, the chain table, the counters, and every NF's rings. The packet
 * pool is a separate file (`pool`, see pool-layout.ts). NFs map both files.
 *
 *   byte 0      ┌────────────────────────────────────────────────────────────┐
 *               │ header: magic 'NFIN' version sizes offsets manager state   │ manager writes
 *   byte 64     ├────────────────────────────────────────────────────────────┤
 *               │ txSleeping (futex word: the manager TX loop is idle)       │ TX loop ⇄ NFs
 *   byte 128    ├────────────────────────────────────────────────────────────┤
 *               │ affinity epoch, flows per epoch (own line)                 │ manager / RX
 *   byte 192    ├────────────────────────────────────────────────────────────┤
 *               │ service table: MAX_SERVICES × 1088 B                       │ manager writes
 *               │   [count | nfId × MAX_INSTANCES | … | EPOCHS × 64 buckets] │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ chain table: MAX_CHAINS × CHAIN_BYTES                      │ manager writes
 *               │   [length | hop × MAX_HOPS]  hop = kind << 16 | id         │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ NF slots: MAX_NFS × NF_SLOT_BYTES (slot 0 unused)          │ one NF each
 *               │   line 0: state pid service nfId generation …             │
 *               │   journal (8 words)                                        │
 *               │   inflight: count + BURST descriptors                      │
 *               │   held: count + HELD_MAX descriptors                       │
 *               │   cache: CACHE_CAP descriptors + count, JUMBO_CACHE + count│
 *               │   staging: (MAX_NFS + 1) × (count + BURST)                 │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ counters block (see counters.ts)                           │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ NF metrics: per NF slot NF_METRICS_MAX declared counters   │ one NF each
 *               ├────────────────────────────────────────────────────────────┤
 *               │ latency histograms (latency.ts): per chain (TX loop), then │
 *               │   per NF slot (NFs that record their own)                  │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ rings: per NF slot an rx ring (MPSC) and a tx ring (SPSC); │
 *               │        the manager's RX → TX ring (SPSC)                   │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ messages: per NF slot an inbox ring and its message area   │
 *               ├────────────────────────────────────────────────────────────┤
 *               │ verdicts: per NF slot one Int32 per tx ring slot           │ read-only NFs
 *               └────────────────────────────────────────────────────────────┘
 *
 * Everything an NF holds is recorded in its slot (inflight burst, kept packets, pool cache,
 * per-destination staging, ring journal), so when its process dies the manager can account
 * for every buffer. Plain data: offsets only, no pointers.
 */
import { NfcError } from '../errors.js';
import { BURST, CACHE_LINE, alignUp, assertLayout, isPowerOfTwo, magic } from './layout.js';
import { ringBytes } from './ring-layout.js';
import { JOURNAL_WORDS } from './ring.js';
import { cacheStorageWords } from './pool-cache.js';
import { countersBytes, defineCounters } from './counters.js';
import { latencyBytes } from './latency.js';

export const INSTANCE_MAGIC = magic('NFIN');
export const INSTANCE_VERSION = 5;

/** NF ids are 1..MAX_NFS-1 (0 means "the manager"). */
export const MAX_NFS = 32;
/** Service ids are 1..MAX_SERVICES-1. */
export const MAX_SERVICES = 32;
export const MAX_INSTANCES = 8;
export const MAX_PORTS = 8;
export const MAX_CHAINS = 16;
export const MAX_HOPS = 32;
/** Packets one NF may keep (buffer) at once. */
export const HELD_MAX = 1024;
/** Each NF's pool cache. */
export const CACHE_CAP = 256;
/** Staging index of the NF's tx ring (NF ids use 1..MAX_NFS-1). */
export const STAGE_TX = 0;
export const STAGE_WORDS = 1 + BURST;
/** Messages waiting per NF, and the largest message (sender id + JSON payload). */
export const MSG_SLOTS = 64;
/** Counters and gauges one NF process (all members of a fused group) may declare. */
export const NF_METRICS_MAX = 64;
/** Latency histograms: one per chain (the TX loop writes them), then one per NF slot. */
export const LatencyHist = {
  chain: (c: number): number => c,
  nf: (id: number): number => MAX_CHAINS + id,
  count: MAX_CHAINS + MAX_NFS,
} as const;
export const MSG_BYTES = 1024;

/** Header words (Int32 indices). */
export const IH = {
  magic: 0,
  version: 1,
  nfRxCap: 2,
  nfTxCap: 3,
  ports: 4,
  /** ManagerState */
  managerState: 5,
  managerPid: 6,
  serviceOff: 7,
  chainOff: 8,
  slotOff: 9,
  slotBytes: 10,
  countersOff: 11,
  ringsOff: 12,
  totalBytes: 13,
  /** bumped on every change of the service table (readers may cache on it) */
  serviceVersion: 14,
  /** 1 once the RX loop may receive (nfchain start waits until every NF is in service) */
  rxEnabled: 15,
  /** futex word, own line: 1 while the manager TX loop sleeps */
  txSleeping: 16,
  /**
   * Own line (the RX loop writes it when flows start and end): the affinity epoch new flows
   * get (0..EPOCHS-1, the manager writes it), then per epoch the flows of the RX loop's flow
   * table that hold it (the RX loop writes them).
   */
  epoch: 32,
  epochFlows: 33,
  /** the CPU the RX and TX loops last ran on (written with their counters, every ~200 ms; -1: not yet) */
  rxCpu: 40,
  txCpu: 41,
  /**
   * The RX loop's answer to rxEnabled: 1 once it has seen rxEnabled 0 and stopped receiving
   * (nothing more is received until rxEnabled is 1 again), 0 while it receives (Manager.pauseRx)
   */
  rxPaused: 42,
} as const;
export const INSTANCE_HEADER_BYTES = 3 * CACHE_LINE;
/**
 * Affinity epochs: each service has EPOCHS indirection tables. A flow keeps the epoch it
 * started in (the RX loop's flow affinity slots remember it and it writes it into every packet's meta),
 * and routers pick its instance from that epoch's table. An instance joining makes a new
 * epoch (a copy of the tables with the join applied), so flows that started before keep their
 * instance; an instance leaving is applied to every epoch (only its own flows move).
 */
export const EPOCHS = 4;

export const ManagerState = { STARTING: 0, RUNNING: 1, STOPPING: 2 } as const;

/** NF slot states. */
export const NfState = {
  FREE: 0,
  /** registered, mapping memory, running setup() */
  STARTING: 1,
  RUNNING: 2,
  /** asked to stop or stopping by itself: still drains its ring */
  STOPPING: 3,
  /** exited cleanly; the manager reclaims and frees the slot */
  STOPPED: 4,
  /** died; the manager reclaims its buffers and frees the slot */
  DEAD: 5,
  /** its manager went away: handles nothing, holds what it held, until a new manager takes it back */
  PAUSED: 6,
} as const;
export const NF_STATE_NAMES = ['free', 'starting', 'running', 'stopping', 'stopped', 'dead', 'paused'] as const;

/** NF slot words (Int32 indices from the slot start). */
export const NS = {
  state: 0,
  pid: 1,
  service: 2,
  nfId: 3,
  generation: 4,
  /** ms since the epoch / 1000 of the last loop iteration (liveness, for status) */
  heartbeat: 5,
  /** the CPU the NF's loop last ran on (each slice; -1: not yet) */
  cpu: 6,
  /**
   * How the NF may touch packets (Access), written by the manager when it claims the slot. A
   * read-only NF maps the pool without write permission and hands every packet back to the
   * manager's TX loop on its tx ring with its verdict in the slot's verdict array; the TX loop
   * routes it.
   */
  access: 7,
  /** journal: JOURNAL_WORDS words */
  journal: 8,
  /** count, then BURST descriptors (lines 1..2) */
  inflight: 16,
} as const;

/** NS.access values. */
export const Access = { READ_WRITE: 0, READ_ONLY: 1 } as const;

/**
 * A service: [count, nfId × MAX_INSTANCES, …] in the first 16 words, then EPOCHS indirection
 * tables (chain/indirection.ts), each BUCKETS words (NF ids) from SERVICE_BUCKETS + epoch × 64.
 */
export const SERVICE_WORDS = 16 + EPOCHS * 64;
export const SERVICE_BUCKETS = 16;
export const CHAIN_WORDS = 1 + MAX_HOPS;
export const HopKind = { SERVICE: 1, PORT: 2 } as const;

/** Counter schemas. */
/** Port counters; `held` is a gauge: the buffers the port half holds now (spares, lent to the kernel). */
export const PortRxCounters = defineCounters([
  'rxPackets',
  'rxBytes',
  'rxNoBuffer',
  'kernelDrops',
  'rxOversize',
  'rxMalformed',
  'held',
  /** the port's link, a gauge the manager sets every second: LINK_UP, LINK_DOWN (0: not known yet) */
  'link',
  /** capture records whose timestamp was normalised (pcap: sub-second field of a second or more) */
  'tsNormalized',
] as const);
/** PortRxCounters.link values (ports/port-info.ts readLink). */
export const LINK_UP = 1;
export const LINK_DOWN = 2;
export const PortTxCounters = defineCounters(['txPackets', 'txBytes', 'txDropped', 'held'] as const);
/** What a router (an NF, or the manager's RX loop) counts. */
export const RouteCounters = defineCounters([
  'rx',
  'forwarded',
  'out',
  'dropVerdict',
  'dropRingFull',
  'dropNoInstance',
  'dropNotRunning',
  'dropPoolEmpty',
  'dropChainEnd',
  'dropBadDest',
  'dropTxFull',
  'created',
  'kept',
  'malformed',
  // fused groups: hops taken inside the process (a function call, no ring), and packets sent
  // round the group's own ring after MAX_GROUP_HOPS members in one burst (nflib/engine.ts)
  'fused',
  'yielded',
] as const);
export const TxLoopCounters = defineCounters(['fromNfs', 'dropBadPort'] as const);
/**
 * Gauges of the buffers in the manager's own pool caches, for the buffer census: each word has
 * one writer (the RX loop, the TX loop), refreshed every 200 ms, when the loop goes idle and when it stops.
 */
export const ManagerHeldCounters = defineCounters(['rxCache', 'txCache'] as const);
/**
 * A data-plane loop's work (the RX loop, the TX loop, each NF's): ms spent idle (polling
 * nothing or asleep), and the non-empty bursts it moved with their packets (packets / bursts:
 * how full a burst is). Busy fraction = 1 - idle ms / elapsed ms.
 */
export const LoopCounters = defineCounters(['idleMs', 'bursts', 'packets'] as const);
export const COUNTERS_PER_SET = 16;

/** Counter set indices. */
export const CounterSet = {
  managerRx: 0,
  managerTx: 1,
  portRx: (p: number): number => 2 + p,
  portTx: (p: number): number => 2 + MAX_PORTS + p,
  nf: (id: number): number => 2 + 2 * MAX_PORTS + id,
  /** NF slot 0 is never an NF's: its set holds ManagerHeldCounters */
  managerHeld: 2 + 2 * MAX_PORTS,
  /** LoopCounters of the RX loop, the TX loop, and NF `id`'s loop */
  loopRx: 2 + 2 * MAX_PORTS + MAX_NFS,
  loopTx: 3 + 2 * MAX_PORTS + MAX_NFS,
  loopNf: (id: number): number => 4 + 2 * MAX_PORTS + MAX_NFS + id,
  count: 4 + 2 * MAX_PORTS + 2 * MAX_NFS,
} as const;

export interface InstanceGeometry {
  nfRxCap: number;
  nfTxCap: number;
  ports: number;
  serviceOff: number;
  chainOff: number;
  slotOff: number;
  slotBytes: number;
  /** word offsets inside a slot */
  heldWord: number;
  cacheWord: number;
  stagingWord: number;
  countersOff: number;
  /** NF_METRICS_MAX counters per NF slot (a counters block) */
  metricsOff: number;
  /** LatencyHist.count histograms */
  latencyOff: number;
  ringsOff: number;
  rxRingBytes: number;
  txRingBytes: number;
  /** per NF: a message ring (MPSC, MSG_SLOTS) and its MSG_SLOTS × MSG_BYTES message area */
  msgOff: number;
  /**
   * per NF: nfTxCap Int32 verdicts, one per slot of its tx ring (read-only NFs: the verdict of
   * the packet at tx ring position p is at p & mask)
   */
  verdictsOff: number;
  totalBytes: number;
}

export function instanceGeometry(nfRxCap: number, nfTxCap: number, ports: number): InstanceGeometry {
  for (const [what, v] of [
    ['nfRx', nfRxCap],
    ['nfTx', nfTxCap],
  ] as const) {
    if (!isPowerOfTwo(v) || v < 64 || v > 65536) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `ring size ${what} = ${v} must be a power of two between 64 and 65536`);
    }
  }
  if (!Number.isInteger(ports) || ports < 1 || ports > MAX_PORTS) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `${ports} ports: nfchain handles 1 to ${MAX_PORTS}`);
  }
  const serviceOff = INSTANCE_HEADER_BYTES;
  const chainOff = serviceOff + MAX_SERVICES * SERVICE_WORDS * 4;
  const slotOff = alignUp(chainOff + MAX_CHAINS * CHAIN_WORDS * 4, CACHE_LINE);
  const heldWord = 16 * 4; // line 4 of the slot, after line 0 (header+journal) and inflight (lines 1..3)
  const cacheWord = alignUp(heldWord + 1 + HELD_MAX, 16);
  const stagingWord = alignUp(cacheWord + cacheStorageWords(CACHE_CAP), 16);
  const slotBytes = alignUp((stagingWord + (MAX_NFS + 1) * STAGE_WORDS) * 4, CACHE_LINE);
  const countersOff = alignUp(slotOff + MAX_NFS * slotBytes, CACHE_LINE);
  const metricsOff = alignUp(countersOff + countersBytes(CounterSet.count, COUNTERS_PER_SET), CACHE_LINE);
  const latencyOff = alignUp(metricsOff + countersBytes(MAX_NFS, NF_METRICS_MAX), CACHE_LINE);
  const ringsOff = alignUp(latencyOff + latencyBytes(LatencyHist.count), CACHE_LINE);
  const rxRingBytes = ringBytes(nfRxCap);
  const txRingBytes = ringBytes(nfTxCap);
  // Per slot: rx + tx ring; then the manager RX → TX ring (nfTx sized).
  const msgOff = alignUp(ringsOff + MAX_NFS * (rxRingBytes + txRingBytes) + txRingBytes, CACHE_LINE);
  const verdictsOff = alignUp(msgOff + MAX_NFS * (ringBytes(MSG_SLOTS) + MSG_SLOTS * MSG_BYTES), CACHE_LINE);
  const totalBytes = verdictsOff + MAX_NFS * nfTxCap * 4;
  return {
    nfRxCap,
    nfTxCap,
    ports,
    serviceOff,
    chainOff,
    slotOff,
    slotBytes,
    heldWord,
    cacheWord,
    stagingWord,
    countersOff,
    metricsOff,
    latencyOff,
    ringsOff,
    rxRingBytes,
    txRingBytes,
    msgOff,
    verdictsOff,
    totalBytes,
  };
}

/** Int32 word index of NF slot `id`'s verdict array (nfTxCap words). */
export function verdictsWord(g: InstanceGeometry, id: number): number {
  return (g.verdictsOff >> 2) + id * g.nfTxCap;
}

/** Byte offset of NF slot `id`'s rx ring. */
export function rxRingOffset(g: InstanceGeometry, id: number): number {
  return g.ringsOff + id * (g.rxRingBytes + g.txRingBytes);
}
export function txRingOffset(g: InstanceGeometry, id: number): number {
  return rxRingOffset(g, id) + g.rxRingBytes;
}
/** The manager RX loop's ring to the TX loop (packets whose first hop is a port). */
/** NF `id`'s message ring; its message area follows it. */
export function msgRingOffset(g: InstanceGeometry, id: number): number {
  return g.msgOff + id * (ringBytes(MSG_SLOTS) + MSG_SLOTS * MSG_BYTES);
}
export function msgAreaOffset(g: InstanceGeometry, id: number): number {
  return msgRingOffset(g, id) + ringBytes(MSG_SLOTS);
}

export function rxToTxRingOffset(g: InstanceGeometry): number {
  return g.ringsOff + MAX_NFS * (g.rxRingBytes + g.txRingBytes);
}

/**
 * Slot 0 is never an NF's: it holds the journals of the manager's three threads, so that a
 * manager taking over from one that died can finish or undo their ring operations: the RX
 * loop's in the slot's journal words, the TX loop's and the main thread's in its (unused)
 * held area. Returns the journal's first word index.
 */
export function managerJournalWord(g: InstanceGeometry, thread: 'rx' | 'tx' | 'main'): number {
  const slot0 = g.slotOff >> 2;
  return thread === 'rx' ? slot0 + NS.journal : slot0 + g.heldWord + (thread === 'tx' ? 0 : JOURNAL_WORDS);
}

/**
 * Ring ids used in journals: 1 + NF id for rx rings, 100 + NF id for tx rings, and
 * FREE_RING_ID for the pool's free ring (FREE_RING_ID + 1 its consumer side, FREE_RING_ID + 2
 * the jumbo ring).
 */
export const FREE_RING_ID = 1000;
export const rxRingId = (id: number): number => 1 + id;
export const txRingId = (id: number): number => 100 + id;
export const msgRingId = (id: number): number => 200 + id;

export function assertInstanceLayout(): void {
  assertLayout(
    'instance header',
    {
      magic: { offset: IH.magic * 4 },
      version: { offset: IH.version * 4 },
      managerState: { offset: IH.managerState * 4 },
      serviceVersion: { offset: IH.serviceVersion * 4 },
      txSleeping: { offset: IH.txSleeping * 4, lineAligned: true },
    },
    INSTANCE_HEADER_BYTES,
  );
  if (NS.journal + JOURNAL_WORDS > NS.inflight || NS.inflight + 1 + BURST > 64) {
    throw new NfcError('NFC_ERR_LAYOUT', 'NF slot: journal / inflight words overlap');
  }
  const g = instanceGeometry(4096, 4096, 1);
  if (g.slotBytes % CACHE_LINE !== 0 || g.slotOff % CACHE_LINE !== 0 || g.ringsOff % CACHE_LINE !== 0) {
    throw new NfcError('NFC_ERR_LAYOUT', 'instance: NF slots and rings must be cache-line aligned');
  }
}
assertInstanceLayout();
