/**
 * The manager's data-plane loops, each in its own worker thread (they block in futex waits
 * when idle, which must not stall the manager's event loop).
 *
 *   RX: port rxBurst → flow hash + chain start in the meta → router → first hop's ring
 *   TX: every NF's tx ring (and the RX → TX ring) → group by output port → port txBurst
 *
 * The TX loop is in tx-loop.ts. Each worker maps the instance itself and opens its halves of the ports. The parent sends
 * { type: 'stop' }; the worker flushes, closes its ports, hands its cached buffers back and
 * answers { type: 'stopped' }. The RX worker also reports { type: 'rx-done' } when every
 * port has reached its end (capture read, count reached) or the packet limit was reached.
 */
import { parentPort, workerData, isMainThread } from 'node:worker_threads';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { attachInstance, type InstanceView } from '../shm/instance.js';
import {
  CounterSet,
  EPOCHS,
  FREE_RING_ID,
  IH,
  MAX_NFS,
  MSG_SLOTS,
  LoopCounters,
  ManagerHeldCounters,
  managerJournalWord,
  PortRxCounters,
  RouteCounters,
} from '../shm/instance-layout.js';
import { stampAt } from '../shm/latency.js';
import { BURST } from '../shm/layout.js';
import { Meta } from '../shm/pool-layout.js';
import { PoolCache } from '../shm/pool-cache.js';
import { SpscProducer } from '../shm/ring.js';
import { PacketView } from '../packet/packet-view.js';
import { openRx, type RxPort } from '../ports/index.js';
import type { PortConfig } from '../ports/config.js';
import { Router } from '../chain/router.js';
import { TxLoop } from './tx-loop.js';
import { pinThread } from '../util/cpus.js';
import { FlowDirector, MAX_CHAIN_ID, type FlowRule } from '../flow/director.js';
import { FlowAffinity } from '../flow/affinity.js';
import { flowTableGeometry } from '../flow/flow-table-layout.js';
import { FlowKey, hashFlowKey } from '../packet/flow-key.js';
import { Inbox, MANAGER_INBOX, isFlowPin } from '../chain/messages.js';
import type { FlowTableStats, MetricDecl } from '../protocol/messages.js';
import { metricDecls } from '../nflib/define.js';
import { Action } from '../chain/verdict.js';
import { native } from '../native.js';
import { NfState, NS, STAGE_WORDS } from '../shm/instance-layout.js';
import { startInline, type InlineConfig } from './inline.js';
import type { NfEngine } from '../nflib/engine.js';

export interface DataplaneConfig {
  /** the RX loop, the TX loop, or both in one thread (manager.dataplane "combined") */
  role: 'rx' | 'tx' | 'rxtx';
  instance: string;
  ports: PortConfig[];
  /** stop receiving after this many packets (0: no limit) */
  limit: number;
  /** the flow director's rules (none: every packet takes chain 0) */
  flows: FlowRule[];
  /** the RX loop's flow table (the director's cache): slots, and idle timeout in ms (also for the affinity slots, 16 × as many) */
  flowTable: { capacity: number; idleTimeoutMs: number };
  poll: 'adaptive' | 'busy';
  /**
   * Where the RX loop keeps a copy of the flow pins (rewritten at most every 200 ms when they
   * changed), so a manager taking over from this one can pin them again; `loadPins`: read it
   * first (takeover).
   */
  pinsFile: string;
  loadPins: boolean;
  /** the CPUs this loop's thread is pinned to (absent: not pinned) */
  cores?: number[] | undefined;
  /** an NF or fused group this (combined) loop runs between receiving and sending (inline.ts) */
  inline?: InlineConfig | undefined;
  /** stamp arrivals and record each chain's latency (manager.latency; default on) */
  latency: boolean;
}

/** stop; or new flow rules for the RX loop's director (applied between two bursts) */
export type WorkerMessage = { type: 'stop' } | { type: 'flows'; rules: FlowRule[] } | { type: 'flow-stats' };
export type WorkerReport =
  | {
      type: 'ready';
      pinsRestored: number;
      nf?: { metrics: MetricDecl[]; latency: boolean; options: Record<string, unknown> };
    }
  | { type: 'rx-done'; packets: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string }
  /** a line of an inline NF's output */
  | { type: 'nf-output'; line: string }
  | { type: 'flow-stats'; stats: FlowTableStats };

/**
 * How long (ms, and at least how many passes) an idle data-plane loop keeps polling before it
 * sleeps (see the NF engine's SPIN_MS: a reply that follows a packet finds the loop awake); the
 * longest sleep (ms) when a port cannot
 * be waited on (gen, pcap); and the longest wait in poll() on the ports' sockets (ms): that one
 * only bounds how late the worker sees a stop or a new rule set, since a packet ends it at once.
 */
const SPIN = 16;
const SPIN_MS = 0.2;
/**
 * The spin of a loop that does all the work itself (an inline NF, no NF process): no other loop
 * needs its core, and a sleeping loop is woken by an inter-processor interrupt, which costs
 * 30-50 µs on these VMs per direction of a round trip. Measured with ping (1 ms apart) through
 * an inline bridge: avg 141-167 µs spinning 0.2 ms, 98-114 µs spinning 2 ms. Traffic that stops
 * costs 2 ms of polling before the loop sleeps.
 */
const ALONE_SPIN_MS = 2;
const YIELD_AFTER = 4;
const IDLE_SLEEP_MS = 1;
const POLL_WAIT_MS = 20;

export class RxLoop {
  private readonly inst: InstanceView;
  private readonly ports: RxPort[] = [];
  private readonly counters: Float64Array[] = [];
  private readonly cache: PoolCache;
  /** this thread's ring journal (slot 0: the manager's), for a manager taking over */
  private readonly journal: number;
  private readonly router: Router;
  private readonly routeCounters: Float64Array;
  private readonly view: PacketView;
  private readonly burst = new Uint32Array(BURST);
  private readonly limit: number;
  private received = 0;
  /**
   * The flow director, made when there are rules or an NF pins a flow (until then every packet
   * takes chain 0 and pays no lookup); its exact-match cache is the manager's flow table.
   */
  private director: FlowDirector | null = null;
  private readonly flowTable: { capacity: number; idleTimeoutMs: number };
  /** each flow's affinity epoch (flow/affinity.ts), always kept: instances may join at any time */
  private readonly affinity: FlowAffinity;
  private readonly key = new FlowKey();
  /**
   * The idle sweeps: slots owed to each (the whole structure is scanned four times per idle
   * timeout) and the last pass's time. Time-based, so a sweep costs a few slots per ms whatever
   * the packet rate (slots are memory the packets do not need).
   */
  private readonly sweepPerMs: number;
  private affinityOwed = 0;
  private directorOwed = 0;
  private lastNow = performance.now() + 1;
  /** requests from NFs for the data path (flow pins): inbox 0 */
  private readonly inbox: Inbox;
  private readonly pinKey = new FlowKey();
  private now = 1;
  /** flow pins applied, and refused (the flow table was full or the request malformed) */
  pins = 0;
  pinsRefused = 0;
  private readonly onRequest = (_from: number, msg: unknown): void => {
    if (!isFlowPin(msg) || !Number.isInteger(msg.pin) || msg.pin < -1 || msg.pin > MAX_CHAIN_ID) {
      this.pinsRefused++;
      return;
    }
    const k = this.pinKey;
    const v = msg.k;
    k.family = v[0] === 6 ? 6 : 4;
    k.proto = v[1]! & 0xff;
    k.srcPort = v[2]! & 0xffff;
    k.dstPort = v[3]! & 0xffff;
    for (let i = 0; i < 8; i++) k.addr[i] = v[4 + i]!;
    if (this.directorNow().pin(k, msg.pin | 0, hashFlowKey(k, true), this.now)) {
      this.pins++;
      this.pinsChanged = true;
    } else {
      this.pinsRefused++;
    }
  };
  /** pins applied since the pins file was last written */
  private pinsChanged = false;
  private readonly pinsFile: string;

  /**
   * Writes every pinned flow to the pins file (cold: at most every 200 ms, when pins changed):
   * 13 words per flow — family, proto, source port, destination port, 8 address words, chain.
   */
  savePins(): void {
    if (!this.pinsChanged || this.director === null) return;
    this.pinsChanged = false;
    const rows: number[] = [];
    this.director.eachPin((k, chain) => {
      rows.push(k.family, k.proto, k.srcPort, k.dstPort, ...k.addr, chain);
    });
    const tmp = `${this.pinsFile}.tmp`;
    writeFileSync(tmp, new Uint8Array(Int32Array.from(rows).buffer));
    renameSync(tmp, this.pinsFile);
  }

  /** Pins the flows of the pins file again (cold: a manager taking over). Returns how many. */
  private loadPins(): number {
    let raw: Buffer;
    try {
      raw = readFileSync(this.pinsFile);
    } catch {
      return 0;
    }
    const w = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength >> 2);
    const k = this.pinKey;
    let n = 0;
    for (let i = 0; i + 13 <= w.length; i += 13) {
      k.family = w[i] === 6 ? 6 : 4;
      k.proto = w[i + 1]! & 0xff;
      k.srcPort = w[i + 2]! & 0xffff;
      k.dstPort = w[i + 3]! & 0xffff;
      for (let j = 0; j < 8; j++) k.addr[j] = w[i + 4 + j]!;
      const chain = w[i + 12]!;
      if (
        chain >= 0 &&
        chain <= MAX_CHAIN_ID &&
        this.directorNow().pin(k, chain, hashFlowKey(k, true), performance.now() + 1)
      )
        n++;
    }
    this.pinsChanged = true;
    return n;
  }
  /** flow pins read back from the pins file at start (takeover) */
  pinsRestored = 0;
  private reportedDone = false;

  constructor(cfg: DataplaneConfig) {
    this.inst = attachInstance(cfg.instance);
    const pool = this.inst.pool;
    this.cache = new PoolCache(pool, { capacity: 512 });
    this.journal = managerJournalWord(this.inst.g, 'rx');
    this.cache.setJournal(this.inst.i32, this.journal, FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
    cfg.ports.forEach((p, i) => {
      this.ports.push(openRx(p, { pool, cache: this.cache, portId: i, portName: p.name }));
      this.counters.push(this.inst.counters.set(CounterSet.portRx(i)));
    });
    const mem = this.inst.mem;
    this.routeCounters = this.inst.counters.set(CounterSet.managerRx);
    this.router = new Router({
      inst: this.inst,
      counters: this.routeCounters,
      cache: this.cache,
      staging: new Uint32Array((MAX_NFS + 1) * STAGE_WORDS),
      stagingOff: 0,
      tx: new SpscProducer(mem, this.inst.rxToTxRingOffset, 'manager RX → TX ring'),
      journal: this.inst.i32,
      journalBase: this.journal,
    });
    this.view = new PacketView(pool.buffer);
    this.limit = cfg.limit;
    this.flowTable = cfg.flowTable;
    this.affinity = new FlowAffinity(
      Math.min(1 << 24, cfg.flowTable.capacity * 16),
      cfg.flowTable.idleTimeoutMs,
      this.inst.i32,
      IH.epochFlows,
    );
    // Per ms: the fraction of a structure to scan (four times per idle timeout).
    this.sweepPerMs = cfg.flowTable.idleTimeoutMs > 0 ? 4 / cfg.flowTable.idleTimeoutMs : 0;
    if (cfg.flows.length > 0) this.directorNow().setRules(cfg.flows);
    this.pinsFile = cfg.pinsFile;
    if (cfg.loadPins) this.pinsRestored = this.loadPins();
    this.inbox = new Inbox(this.inst, MANAGER_INBOX);
    this.heldGauges = this.inst.counters.set(CounterSet.managerHeld);
    this.loopCounters = this.inst.counters.set(CounterSet.loopRx);
    this.latency = cfg.latency;
  }
  private readonly loopCounters: Float64Array;
  private readonly latency: boolean;

  /** The director, made at its first use (cold). */
  private directorNow(): FlowDirector {
    this.director ??= new FlowDirector({
      defaultChain: 0,
      cacheCapacity: this.flowTable.capacity,
      idleTimeoutMs: this.flowTable.idleTimeoutMs,
    });
    return this.director;
  }

  /**
   * Replaces the flow rules (cold). Runs between two bursts on this thread, so no packet sees
   * half a rule set; flows the change does not touch classify as before.
   */
  setFlows(rules: FlowRule[]): void {
    if (rules.length > 0 || this.director !== null) this.directorNow().setRules(rules);
  }

  /** The flow table's state (cold: counts pins over the whole table). */
  flowStats(): FlowTableStats {
    const d = this.director;
    const s = d?.stats();
    const i32 = this.inst.i32;
    const epochs: number[] = [];
    for (let e = 0; e < EPOCHS; e++) epochs.push(Atomics.load(i32, IH.epochFlows + e));
    return {
      director: d !== null,
      flows: s?.cacheEntries ?? 0,
      maxFlows: flowTableGeometry({ capacity: this.flowTable.capacity }).maxCount,
      pinned: d?.pinnedCount() ?? 0,
      expired: d?.expiredCount ?? 0,
      full: s?.cacheFull ?? 0,
      pins: this.pins,
      pinsRefused: this.pinsRefused,
      affinity: {
        slots: this.affinity.slots,
        tracked: this.affinity.tracked,
        expired: this.affinity.expired,
        epochs,
        epoch: Atomics.load(i32, IH.epoch),
      },
    };
  }

  /** One pass over every port. Returns packets received. Hot path: no allocation. */
  pass(): number {
    const pool = this.inst.pool;
    const words = pool.words;
    const ms = pool.shift - 2;
    const view = this.view;
    const burst = this.burst;
    let total = 0;
    const director = this.director;
    const affinity = this.affinity;
    const key = this.key;
    const now = performance.now() + 1; // never 0 (0 means "no clock" to the director)
    const sec = (now / 1000) | 0;
    const stamp = this.latency ? stampAt(now - 1) : 0;
    const lc = this.loopCounters;
    this.now = now;
    affinity.epoch = Atomics.load(this.inst.i32, IH.epoch);
    // Flow pins from NFs first, so the packets of this pass see them.
    this.inbox.poll(MSG_SLOTS, this.onRequest);
    // A slice of the flow structures: flows idle past the timeout leave them.
    if (this.sweepPerMs > 0) {
      const f = (now - this.lastNow) * this.sweepPerMs;
      this.lastNow = now;
      this.affinityOwed += f * affinity.slots;
      if (this.affinityOwed >= 256) {
        const n = Math.floor(this.affinityOwed);
        affinity.sweep(sec, n);
        this.affinityOwed -= n;
      }
      if (director !== null) {
        this.directorOwed += f * this.flowTable.capacity;
        if (this.directorOwed >= 64) {
          const n = Math.floor(this.directorOwed);
          director.expire(now, n);
          this.directorOwed -= n;
        }
      }
    }
    for (let p = 0; p < this.ports.length; p++) {
      const port = this.ports[p]!;
      if (port.done) continue;
      let max = BURST;
      if (this.limit > 0) {
        if (this.received >= this.limit) break;
        if (this.limit - this.received < max) max = this.limit - this.received;
      }
      const n = port.rxBurst(burst, max);
      if (n === 0) continue;
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const d = burst[i]!;
        const m = d << ms;
        const len = words[m + Meta.len]!;
        bytes += len;
        view.reset(pool.base + (d << pool.shift) + words[m + Meta.dataOff]!, len);
        const hash = view.flowHash();
        words[m + Meta.flowHash] = hash;
        // The flow's affinity epoch (which instances it uses), then its chain: the flow
        // director's (pin, exact-match cache, rules) when there is one; else, and for packets
        // without a 5-tuple, chain 0.
        words[m + Meta.epoch] = affinity.epochOf(hash, sec);
        words[m + Meta.chainId] =
          director !== null && view.flowKey(key)
            ? director.classify(key, p, view.vlanCount > 0 ? view.vlanId(0) : -1, hash, now, len)
            : 0;
        words[m + Meta.chainIndex] = 0;
        words[m + Meta.action] = Action.NEXT;
        words[m + Meta.arrival] = stamp;
      }
      lc[LoopCounters.bursts]!++;
      lc[LoopCounters.packets]! += n;
      const c = this.counters[p]!;
      c[PortRxCounters.rxPackets]! += n;
      c[PortRxCounters.rxBytes]! += bytes;
      const full = this.routeCounters[RouteCounters.dropRingFull]!;
      this.router.route(burst, 0, n, false);
      // Backpressure: the first hop is full, so give the core to the NFs that drain it
      // (with more threads than cores, receiving faster than the chain can take only burns
      // the CPU the chain needs).
      if (this.routeCounters[RouteCounters.dropRingFull] !== full) native().schedYield();
      this.received += n;
      total += n;
    }
    return total;
  }

  /**
   * Sleeps until a port has a packet or `timeoutMs` passes: in poll() on the ports' descriptors
   * when every open port has one (the kernel wakes it on the first frame), else for the
   * timeout. Cold: once per idle period.
   */
  idleWait(timeoutMs: number): void {
    let n = 0;
    for (const p of this.ports) {
      if (p.done) continue;
      if (p.pollFd === undefined || p.pollFd < 0) {
        Atomics.wait(this.idleWord, 0, 0, timeoutMs);
        return;
      }
      this.pollFds[n++] = p.pollFd;
    }
    if (n === 0) Atomics.wait(this.idleWord, 0, 0, timeoutMs);
    else native().pollIn(this.pollFds, n, POLL_WAIT_MS);
  }
  private readonly pollFds = new Int32Array(64);
  private readonly idleWord = new Int32Array(new SharedArrayBuffer(4));

  /** True when no port will produce more (or the limit is reached). */
  get finished(): boolean {
    if (this.limit > 0 && this.received >= this.limit) return true;
    for (const p of this.ports) if (!p.done) return false;
    return true;
  }

  checkDone(report: (r: WorkerReport) => void): void {
    if (!this.reportedDone && this.finished) {
      this.reportedDone = true;
      report({ type: 'rx-done', packets: this.received });
    }
  }

  close(): void {
    this.syncCounters();
    for (const p of this.ports) p.close();
    this.cache.flush();
    this.syncCounters(); // the buffer gauges, now 0
  }

  /** The buffer gauges: this loop's cache and what each port holds (cold; no syscall). */
  syncGauges(): void {
    this.heldGauges[ManagerHeldCounters.rxCache] = this.cache.cached + this.cache.cachedJumbos;
    for (let i = 0; i < this.ports.length; i++) this.counters[i]![PortRxCounters.held] = this.ports[i]!.held ?? 0;
  }
  private readonly heldGauges: Float64Array;

  syncCounters(): void {
    this.syncGauges();
    for (let i = 0; i < this.ports.length; i++) {
      const p = this.ports[i]!;
      const c = this.counters[i]!;
      c[PortRxCounters.rxNoBuffer] = p.rxNoBuffer;
      if (p.kernelDrops !== undefined) c[PortRxCounters.kernelDrops] = p.kernelDrops;
      if (p.oversize !== undefined) c[PortRxCounters.rxOversize] = p.oversize;
      if (p.malformed !== undefined) c[PortRxCounters.rxMalformed] = p.malformed;
      if (p.normalized !== undefined) c[PortRxCounters.tsNormalized] = p.normalized;
    }
  }
}

function runWorker(cfg: DataplaneConfig): void {
  const port = parentPort!;
  const report = (r: WorkerReport): void => port.postMessage(r);
  let stopping = false;
  port.on('message', (m: WorkerMessage) => {
    if (m.type === 'stop') stopping = true;
    else if (m.type === 'flows') rx?.setFlows(m.rules);
    else if (m.type === 'flow-stats' && rx) report({ type: 'flow-stats', stats: rx.flowStats() });
  });
  let rx: RxLoop | null = null;
  let tx: TxLoop | null = null;
  try {
    pinThread(cfg.cores, `the ${cfg.role.toUpperCase()} loop`);
    if (cfg.role !== 'tx') rx = new RxLoop(cfg);
    if (cfg.role !== 'rx') tx = new TxLoop(cfg);
  } catch (err) {
    report({ type: 'error', message: (err as Error).message });
    return;
  }
  const inst = ((rx ?? tx) as unknown as { inst: InstanceView }).inst;
  if (cfg.inline === undefined) {
    report({ type: 'ready', pinsRestored: rx?.pinsRestored ?? 0 });
    loop(cfg, rx, tx, null, inst, report, () => stopping);
    return;
  }
  // An inline NF: its modules load and its instances are made before the loop reports ready.
  startInline(cfg.inline, inst, (line) => report({ type: 'nf-output', line })).then(
    (engine) => {
      const metrics = metricDecls(engine.members.map((m) => ({ def: m.def, name: m.name })));
      const latency = engine.recordsLatency;
      const options =
        engine.members.length > 1
          ? Object.fromEntries(engine.members.map((m) => [m.name, m.options]))
          : engine.members[0]!.options;
      report({ type: 'ready', pinsRestored: rx?.pinsRestored ?? 0, nf: { metrics, latency, options } });
      loop(cfg, rx, tx, engine, inst, report, () => stopping);
    },
    (err: unknown) => {
      rx?.close();
      tx?.close();
      report({ type: 'error', message: `inline NF ${cfg.inline!.name}: ${(err as Error).message}` });
    },
  );
}

/** True when an NF slot other than `except` is in use: an NF process that may send to the TX loop (cold: idle only). */
function otherNfs(inst: InstanceView, except: number): boolean {
  for (let id = 1; id < MAX_NFS; id++) {
    if (id !== except && Atomics.load(inst.i32, inst.slotWord(id) + NS.state) !== NfState.FREE) return true;
  }
  return false;
}

/** The data-plane loop: receive, the inline NF (if any), send; sleep when idle. */
function loop(
  cfg: DataplaneConfig,
  rx: RxLoop | null,
  tx: TxLoop | null,
  nf: NfEngine | null,
  inst: InstanceView,
  report: (r: WorkerReport) => void,
  isStopping: () => boolean,
): void {
  const i32 = inst.i32;
  const idleWait = new Int32Array(new SharedArrayBuffer(4));
  const cpuWords = cfg.role === 'rx' ? [IH.rxCpu] : cfg.role === 'tx' ? [IH.txCpu] : [IH.rxCpu, IH.txCpu];
  const noteCpu = (): void => {
    const cpu = native().getCpu();
    for (const w of cpuWords) i32[w] = cpu;
  };
  noteCpu();
  let idle = 0;
  let idleSince = 0;
  let lastSync = 0;
  // Idle time (polling nothing, or asleep) into the loop's LoopCounters: from the first empty
  // pass to the first pass that moves packets (one clock read per idle period, none per pass).
  const loopSets = (
    cfg.role === 'rxtx'
      ? [CounterSet.loopRx, CounterSet.loopTx]
      : [cfg.role === 'rx' ? CounterSet.loopRx : CounterSet.loopTx]
  ).map((s) => inst.counters.set(s));
  let idleStart = -1;
  const addIdle = (ms: number): void => {
    for (const c of loopSets) c[LoopCounters.idleMs]! += ms;
  };
  // How long an idle loop polls before it sleeps: SPIN_MS, or, for the one loop that does all the
  // work (an inline NF and no NF process), ALONE_SPIN_MS (re-checked when it goes to sleep).
  let spinMs = SPIN_MS;
  // Work in slices so the worker's event loop sees the parent's messages (and an inline NF's ticks).
  const slice = (): void => {
    if (isStopping()) {
      const done = (): void => {
        rx?.close();
        tx?.close();
        report({ type: 'stopped' });
      };
      if (nf) void nf.close('the manager is stopping').then(done, done);
      else done();
      return;
    }
    nf?.housekeeping();
    const receiving = rx !== null && Atomics.load(i32, IH.rxEnabled) !== 0;
    // Acknowledge a pause (or its end) at a slice's start: no pass of this slice receives.
    if (rx !== null && i32[IH.rxPaused] !== (receiving ? 0 : 1)) Atomics.store(i32, IH.rxPaused, receiving ? 0 : 1);
    if (rx !== null && !receiving && tx === null) {
      // Not receiving (yet: `nfchain start` holds the input until every NF is in service; or
      // any more: the manager is stopping).
      rx.syncGauges();
      Atomics.wait(idleWait, 0, 0, 5);
      setImmediate(slice);
      return;
    }
    const t0 = performance.now();
    for (let iter = 0; ; iter++) {
      let n = 0;
      if (receiving) n += rx!.pass();
      if (nf !== null) n += nf.pollOnce();
      if (tx !== null) n += tx.pass();
      if (n > 0) {
        idle = 0;
        if (idleStart >= 0) {
          addIdle(performance.now() - idleStart);
          idleStart = -1;
        }
      } else if (idle++ === 0) {
        idleSince = performance.now();
        if (idleStart < 0) idleStart = idleSince;
      } else if (idle < SPIN || performance.now() - idleSince < spinMs) {
        // Like the NFs: an idle loop gives its core away before it sleeps.
        if (idle >= YIELD_AFTER && cfg.poll === 'adaptive') native().schedYield();
      } else {
        idle = 0;
        if (rx !== null) rx.checkDone(report);
        // Going to sleep: the buffer gauges are exact while idle.
        rx?.syncGauges();
        tx?.syncCounters();
        // With an inline NF and no NF process, nothing but the ports brings work: sleep on them.
        const alone = nf !== null && !otherNfs(inst, nf.nfId);
        spinMs = alone ? ALONE_SPIN_MS : SPIN_MS;
        if (tx !== null && !alone) {
          tx.flushPorts();
          if (cfg.poll === 'adaptive') {
            // NFs sending out wake this futex; receiving ports are polled every IDLE_SLEEP_MS.
            // Look at the rings again after raising the flag: an NF that published just
            // before saw no flag and did not wake us (that packet would wait for the timeout).
            Atomics.store(i32, IH.txSleeping, 1);
            if (!tx.pending())
              native().futexWait(i32, IH.txSleeping, 1, rx !== null && !rx.finished ? IDLE_SLEEP_MS : 5);
            Atomics.store(i32, IH.txSleeping, 0);
          }
        } else if (cfg.poll === 'adaptive') {
          tx?.flushPorts();
          if (rx!.finished) Atomics.wait(idleWait, 0, 0, 20);
          else rx!.idleWait(IDLE_SLEEP_MS);
        }
        // Woken: straight back to work (a turn of the event loop first would add its latency to
        // the packet that woke us), unless the slice is over.
        if (isStopping() || performance.now() - t0 > 5) break;
        continue;
      }
      if ((iter & 15) === 15 && performance.now() - t0 > 5) break;
    }
    if (idleStart >= 0) {
      // Still idle at the slice's end: count it so far (a reader sees a loop idle for minutes as idle).
      const t = performance.now();
      addIdle(t - idleStart);
      idleStart = t;
    }
    if (t0 - lastSync > 200) {
      lastSync = t0;
      noteCpu();
      tx?.syncCounters();
      if (rx !== null) {
        rx.syncCounters();
        rx.checkDone(report);
        rx.savePins();
      }
    }
    setImmediate(slice);
  };
  setImmediate(slice);
}

if (!isMainThread && (workerData as { nfchainDataplane?: boolean })?.nfchainDataplane) {
  runWorker((workerData as { cfg: DataplaneConfig }).cfg);
}
