/**
 * The NF engine: the loop that runs one NF instance inside its process. It dequeues a burst
 * from the NF's rx ring, calls the NF's handler for each packet (or once for the burst), and
 * routes each packet by its verdict (router.ts). It is also the NFContext the handler sees.
 *
 * Everything the NF holds is recorded in its slot of shared memory: the burst being handled
 * (inflight), kept and created packets (held), the pool cache, the router's stages and the
 * ring journal. The manager reads them if this process dies.
 *
 * Scheduling (docs/architecture.md, "Scheduling on two cores"): the loop runs in slices of a few milliseconds and returns to the
 * event loop between them (ticks, control messages). When the ring stays empty for SPIN polls
 * it sleeps: adaptive polling sets the ring's `sleeping` word and blocks on a futex (a
 * producer wakes it); busy polling keeps spinning.
 */
import { BURST } from '../shm/layout.js';
import { Meta } from '../shm/pool-layout.js';
import { NULL_DESC, type PacketPool } from '../shm/pool.js';
import { PoolCache, cacheStorageWords } from '../shm/pool-cache.js';
import { ScConsumer, SpscProducer } from '../shm/ring.js';
import { RW } from '../shm/ring-layout.js';
import { PacketView } from '../packet/packet-view.js';
import {
  CACHE_CAP,
  CounterSet,
  FREE_RING_ID,
  HELD_MAX,
  MAX_CHAINS,
  MAX_SERVICES,
  NfState,
  NS,
  RouteCounters,
  txRingId,
} from '../shm/instance-layout.js';
import type { InstanceView } from '../shm/instance.js';
import { Router } from '../chain/router.js';
import { NEXT, verdictAction, verdictDest } from '../chain/verdict.js';
import { native } from '../native.js';
import {
  instantiate,
  type Burst,
  type NFContext,
  type NFDefinition,
  type NFInstance,
  type OptionsSpec,
} from './define.js';
import { HeldTable } from './held-table.js';
import { Inbox, Messenger, type MessageResult, type MessageTarget } from '../chain/messages.js';
import type { FlowChainResult, ScaleResult } from './define.js';
import type { Reply, RequestBody } from '../protocol/messages.js';
import { FlowKey } from '../packet/flow-key.js';
import { NfcError } from '../errors.js';

/**
 * How long an adaptive NF keeps polling its empty ring before it sleeps (ms), and at least how
 * many polls. Time, not a count: a yield's length depends on who else runs, and what matters is
 * that a reply that follows a packet within this window (a ping's echo, a TCP ACK) finds the NF
 * awake instead of paying a wake-up (measured: tens of µs each on these VMs).
 */
const SPIN_MS = 0.2;
const SPIN = 16;
/** Empty polls after which an adaptive NF yields its core on each further empty poll. */
const YIELD_AFTER = 8;
/** Longest sleep before looking at the event loop again (ms). */
const SLEEP_MS = 5;
/** Longest slice of packet work before yielding to the event loop (ms). */
const SLICE_MS = 2;

export interface EngineOptions {
  inst: InstanceView;
  nfId: number;
  service: number;
  def: NFDefinition<OptionsSpec>;
  options: Record<string, unknown>;
  poll: 'adaptive' | 'busy';
  /** stop after this many seconds (0: never) */
  ttl: number;
  /** stop after this many packets (0: never) */
  limit: number;
  log: (line: string) => void;
  /** sends a request to the manager over the NF's control connection (scale); none: not connected */
  control?: ((req: RequestBody, timeoutMs: number) => Promise<Reply>) | undefined;
  /** chain names by id, as the manager reported them at registration */
  chains?: readonly string[] | undefined;
  /** where relative paths in the options are from (default: the working directory) */
  baseDir?: string | undefined;
}

const C = RouteCounters;

export class NfEngine implements NFContext<Record<string, unknown>> {
  readonly name: string;
  readonly service: number;
  readonly instance: number;
  readonly options: Record<string, unknown>;
  readonly pool: PacketPool;
  desc = 0;
  handled = 0;

  private readonly inst: InstanceView;
  private readonly def: NFDefinition<OptionsSpec>;
  /** the instance's hooks: what create() returned, or (module form) the definition itself */
  private impl: NFInstance = {};
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly slot: number;
  private readonly inflight: number;
  private readonly held: number;
  private readonly heldTable: HeldTable;
  private readonly messenger: Messenger;
  private readonly inbox: Inbox;
  private readonly rx: ScConsumer;
  private readonly router: Router;
  private readonly cache: PoolCache;
  private readonly view: PacketView;
  private readonly c: Float64Array;
  private readonly sleepWord: number;
  private readonly poll: 'adaptive' | 'busy';
  private readonly ttl: number;
  private readonly limit: number;
  private readonly logLine: (line: string) => void;
  private readonly burstDescs = new Uint32Array(BURST);
  private readonly burstVerdicts = new Int32Array(BURST);
  private readonly burst: Burst;
  private keptCurrent = false;
  private inHandle = false;
  private stopReason = '';
  private started = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private done: Promise<string>;
  private resolveDone: (reason: string) => void = () => {};
  private readonly control: EngineOptions['control'];
  readonly chains: readonly string[];
  readonly baseDir: string;
  private readonly flowKey = new FlowKey();

  constructor(o: EngineOptions) {
    this.inst = o.inst;
    this.def = o.def;
    this.name = o.def.name;
    this.service = o.service;
    this.instance = o.nfId;
    this.options = o.options;
    this.pool = o.inst.pool;
    this.u32 = o.inst.u32;
    this.i32 = o.inst.i32;
    this.slot = o.inst.slotWord(o.nfId);
    this.inflight = this.slot + NS.inflight;
    this.held = this.slot + o.inst.g.heldWord;
    this.heldTable = new HeldTable(this.pool, this.u32, this.held, HELD_MAX);
    this.messenger = new Messenger(o.inst, o.nfId, { words: this.i32, base: this.slot + NS.journal });
    this.inbox = new Inbox(o.inst, o.nfId);
    this.poll = o.poll;
    this.ttl = o.ttl;
    this.limit = o.limit;
    this.logLine = o.log;
    this.control = o.control;
    this.chains = o.chains ?? ['default'];
    this.baseDir = o.baseDir ?? process.cwd();
    const mem = o.inst.mem;
    const journalBase = this.slot + NS.journal;
    const cacheStart = this.slot + o.inst.g.cacheWord;
    this.cache = new PoolCache(this.pool, {
      capacity: CACHE_CAP,
      storage: this.u32.subarray(cacheStart, cacheStart + cacheStorageWords(CACHE_CAP)),
    });
    this.cache.setJournal(this.i32, journalBase, FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
    this.rx = new ScConsumer(mem, o.inst.rxRingOffset(o.nfId), `NF ${o.nfId} rx ring`);
    const tx = new SpscProducer(mem, o.inst.txRingOffset(o.nfId), `NF ${o.nfId} tx ring`);
    tx.setJournal(this.i32, journalBase, txRingId(o.nfId));
    this.c = o.inst.counters.set(CounterSet.nf(o.nfId));
    this.router = new Router({
      inst: o.inst,
      counters: this.c,
      cache: this.cache,
      staging: this.u32,
      stagingOff: this.slot + o.inst.g.stagingWord,
      tx,
      journal: this.i32,
      journalBase,
    });
    this.sleepWord = (o.inst.rxRingOffset(o.nfId) >> 2) + RW.sleeping;
    this.view = new PacketView(mem === this.pool.buffer ? mem : this.pool.buffer);
    this.burst = { descs: this.burstDescs, verdicts: this.burstVerdicts, n: 0, view: new PacketView(this.pool.buffer) };
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  // ---- NFContext ------------------------------------------------------------------------

  get inputPort(): number {
    return this.pool.meta(this.desc, Meta.port);
  }

  get heldCount(): number {
    return this.heldTable.count;
  }

  keep(): number {
    // Only inside handle(): there the current packet is known (handleBurst NFs keep nothing).
    if (!this.inHandle) return -1;
    if (this.keptCurrent) return this.desc;
    if (!this.heldTable.hold(this.desc)) return -1;
    this.keptCurrent = true;
    this.c[C.kept]!++;
    return this.desc;
  }

  newPacket(bytes?: Uint8Array): number {
    const t = this.heldTable;
    if (t.count >= t.max) return -1;
    // Allocate straight into the held table's next entry (shared memory): there is no moment
    // where the buffer is recorded nowhere. hold() then makes it count.
    const at = t.nextWord;
    if (this.cache.alloc(this.u32, 1, at) !== 1) {
      this.c[C.dropPoolEmpty]!++;
      return -1;
    }
    const d = this.u32[at]!;
    t.hold(d);
    if (bytes) this.pool.write(d, bytes);
    this.c[C.created]!++;
    return d;
  }

  send(desc: number, verdict: number): boolean {
    const idx = this.heldTable.index(desc);
    if (idx < 0) return false;
    const m = this.pool.metaIndex(desc);
    this.pool.words[m + Meta.action] = verdictAction(verdict);
    this.pool.words[m + Meta.destination] = verdictDest(verdict);
    this.router.routeOne(this.u32, this.held + 1 + idx, true);
    this.heldTable.remove(idx);
    return true;
  }

  drop(desc: number): boolean {
    const idx = this.heldTable.index(desc);
    if (idx < 0) return false;
    this.cache.freeOne(desc);
    this.u32[this.held + 1 + idx] = NULL_DESC;
    this.heldTable.remove(idx);
    return true;
  }

  sendMessage(to: MessageTarget, payload: unknown): MessageResult {
    return this.messenger.send(to, payload);
  }

  instances(service: number): number {
    if (!Number.isInteger(service) || service < 1 || service >= MAX_SERVICES) return 0;
    return Atomics.load(this.i32, this.inst.serviceWord(service));
  }

  setFlowChain(chain: number): FlowChainResult {
    if (!this.inHandle) return 'no-flow';
    if (
      !Number.isInteger(chain) ||
      chain < 0 ||
      chain >= MAX_CHAINS ||
      Atomics.load(this.i32, this.inst.chainWord(chain)) === 0
    ) {
      return 'no-chain';
    }
    const d = this.desc;
    const view = this.view;
    view.attach(this.pool, d);
    const key = this.flowKey;
    if (!view.flowKey(key)) return 'no-flow';
    const a = key.addr;
    const r = this.messenger.sendToManager({
      pin: chain,
      k: [key.family, key.proto, key.srcPort, key.dstPort, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!],
    });
    // This packet follows the new chain from its first hop (the router adds one to chainIndex),
    // pinned or not.
    const m = this.pool.metaIndex(d);
    this.pool.words[m + Meta.chainId] = chain;
    this.pool.words[m + Meta.chainIndex] = 0;
    return r === 'ok' ? 'ok' : 'ring-full';
  }

  chainId(name: string): number {
    return this.chains.indexOf(name);
  }

  async scale(instances: number, service?: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult> {
    if (!this.control) throw new NfcError('NFC_ERR_NF', 'scale(): this NF is not connected to a manager');
    const r = await this.control(
      { type: 'scale', service: service ?? this.service, instances, rebalance: opts?.rebalance === true },
      40_000,
    );
    if (r.type !== 'scaled') throw new NfcError('NFC_ERR_NF', `scale(): unexpected answer ${r.type}`);
    return { service: r.service, before: r.before, instances: r.instances, started: r.started, retired: r.retired };
  }

  log(message: string): void {
    this.logLine(message);
  }

  stop(reason = 'stopped by the NF'): void {
    if (!this.stopReason) this.stopReason = reason;
  }

  /** True once stop() was called (by anyone). */
  get stopping(): boolean {
    return this.stopReason !== '';
  }

  /**
   * The manager went away: from the next slice on, handle nothing (no packets, ticks or
   * messages) and hold what is held, recorded in the slot, so that a manager taking over can
   * count every buffer while this NF waits; the slot says PAUSED. Cold.
   */
  pause(): void {
    this.paused = true;
    this.pauseMarked = false;
  }

  /** A new manager took this NF back (it has set the slot RUNNING): carry on. Cold. */
  resume(): void {
    this.paused = false;
    Atomics.store(this.i32, this.slot + NS.state, NfState.RUNNING);
  }
  private paused = false;
  /** the slot says PAUSED (written once per pause: the manager taking over writes RUNNING) */
  private pauseMarked = false;

  now(): number {
    return performance.now() - this.started;
  }

  // ---- the loop ---------------------------------------------------------------------------

  /** Makes the instance (create(), or setup() in the module form); the NF is then ready to be put in service (cold). */
  async setup(): Promise<void> {
    this.started = performance.now();
    this.impl = await instantiate<NFInstance>(
      this.def as NFDefinition<OptionsSpec, never>,
      this as unknown as NFContext<never>,
    );
  }

  /** Starts the loop; resolves with the stop reason when the NF has stopped cleanly. */
  run(): Promise<string> {
    this.started = performance.now();
    const impl = this.impl;
    if (impl.tick) {
      const ms = this.def.tickInterval ?? 1000;
      this.tickTimer = setInterval(() => {
        if (this.paused) return;
        try {
          impl.tick!(this as unknown as NFContext<never>);
          this.router.flush();
        } catch (err) {
          this.logLine(`tick threw: ${(err as Error).stack ?? String(err)}`);
        }
      }, ms);
    }
    if (this.ttl > 0) setTimeout(() => this.stop(`TTL of ${this.ttl} s reached`), this.ttl * 1000).unref();
    setImmediate(() => this.slice());
    return this.done;
  }

  private slice(): void {
    if (this.stopReason) {
      void this.finish();
      return;
    }
    if (this.paused) {
      // Between two bursts: nothing in hand, every stage flushed.
      if (!this.pauseMarked) {
        this.router.flush();
        Atomics.store(this.i32, this.slot + NS.state, NfState.PAUSED);
        this.pauseMarked = true;
      }
      setTimeout(() => this.slice(), 10);
      return;
    }
    const t0 = performance.now();
    this.i32[this.slot + NS.heartbeat] = (Date.now() / 1000) | 0;
    this.i32[this.slot + NS.cpu] = native().getCpu();
    if (this.impl.message) this.deliverMessages();
    let idle = 0;
    let idleSince = 0;
    let loops = 0;
    for (;;) {
      const n = this.handleBurst();
      if (n > 0) {
        idle = 0;
        if (this.limit > 0 && this.handled >= this.limit) this.stop(`packet limit of ${this.limit} reached`);
        if (this.stopReason) break;
      } else if (idle++ === 0) {
        idleSince = performance.now();
      } else if (idle >= SPIN && performance.now() - idleSince >= SPIN_MS) {
        if (this.poll !== 'adaptive') break;
        this.sleep();
        // Woken: straight back to the ring (a turn of the event loop first would add its
        // latency to the packet that woke us), unless the slice is over.
        idle = 0;
        if (this.stopReason || performance.now() - t0 > SLICE_MS) break;
        continue;
      } else if (idle >= YIELD_AFTER && this.poll === 'adaptive') {
        // More processes than cores: an idle NF gives its core to one that has work before it
        // decides to sleep (measured: +30 % for 3 NFs on 2 cores).
        native().schedYield();
      }
      if ((++loops & 31) === 0 && performance.now() - t0 > SLICE_MS) break;
    }
    setImmediate(() => this.slice());
  }

  /** Hands waiting messages to message(), in order (cold: messages are control traffic). */
  private deliverMessages(): void {
    this.inbox.poll(16, (from, payload) => {
      try {
        this.impl.message!(payload, this as unknown as NFContext<never>, from);
      } catch (err) {
        this.logLine(`message() threw: ${(err as Error).stack ?? String(err)}`);
      }
    });
    this.router.flush();
  }

  /** Blocks on the ring's futex until a producer wakes us or SLEEP_MS passes. */
  private sleep(): void {
    const i32 = this.i32;
    Atomics.store(i32, this.sleepWord, 1);
    // Re-check after raising the flag: a producer that published just before would not wake us.
    if (this.rx.available(1) === 0) native().futexWait(i32, this.sleepWord, 1, SLEEP_MS);
    Atomics.store(i32, this.sleepWord, 0);
  }

  /** One burst: dequeue, handle, route. Returns the number of packets. Hot path: no allocation. */
  private handleBurst(): number {
    const rx = this.rx;
    const avail = rx.available(BURST);
    if (avail === 0) return 0;
    const u32 = this.u32;
    const slots = rx.slots;
    const mask = rx.mask;
    const pos = rx.position;
    const base = this.inflight + 1;
    let k = 0;
    for (let i = 0; i < avail; i++) {
      const d = slots[(pos + i) & mask]!;
      if (d !== NULL_DESC) u32[base + k++] = d;
    }
    u32[this.inflight] = k;
    rx.release(avail);
    this.c[C.rx]! += k;
    const impl = this.impl;
    const bv = this.burstVerdicts;
    // Called as a plain function, not impl.handle(...): the method call measured ~1.5 ns more per
    // packet (bench speed, 1 NF: 26.3 against 28-29 Mpps). instantiate() binds a class instance's hooks.
    const handle = impl.handle;
    if (handle) {
      const view = this.view;
      const pool = this.pool;
      this.inHandle = true;
      for (let i = 0; i < k; i++) {
        const d = u32[base + i]!;
        this.desc = d;
        this.keptCurrent = false;
        view.attach(pool, d);
        const v = handle(view, this as unknown as NFContext<never>);
        if (this.keptCurrent) {
          u32[base + i] = NULL_DESC;
          continue;
        }
        bv[i] = v;
      }
      this.inHandle = false;
    } else {
      const bd = this.burstDescs;
      for (let i = 0; i < k; i++) {
        bd[i] = u32[base + i]!;
        bv[i] = NEXT;
      }
      (this.burst as { n: number }).n = k;
      const handleBurst = impl.handleBurst!;
      handleBurst(this.burst, this as unknown as NFContext<never>);
    }
    const full = this.c[C.dropRingFull]!;
    this.router.routeVerdicts(u32, base, k, bv);
    // Backpressure: the next hop is full; let it run (see YIELD_AFTER).
    if (this.c[C.dropRingFull] !== full && this.poll === 'adaptive') native().schedYield();
    u32[this.inflight] = 0;
    this.handled += k;
    return k;
  }

  /** Marks this NF as stopping; the manager takes it out of service. */
  markStopping(): void {
    Atomics.store(this.i32, this.slot + NS.state, NfState.STOPPING);
  }

  /** Stops cleanly: hand back every buffer, call stop(), mark the slot STOPPED (cold). */
  private async finish(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.markStopping();
    this.router.flush();
    try {
      await this.impl.stop?.(this as unknown as NFContext<never>);
    } catch (err) {
      this.logLine(`stop() threw: ${(err as Error).stack ?? String(err)}`);
    }
    this.router.flush();
    // Held packets and whatever is still queued for us go back to the pool.
    const t = this.heldTable;
    while (t.count > 0) {
      this.cache.freeOne(t.at(t.count - 1));
      t.remove(t.count - 1);
    }
    this.drainRx();
    this.cache.flush();
    Atomics.store(this.i32, this.slot + NS.state, NfState.STOPPED);
    this.resolveDone(this.stopReason);
  }

  /** Frees everything waiting in the rx ring (cold). */
  private drainRx(): void {
    const rx = this.rx;
    for (;;) {
      const n = rx.available(BURST);
      if (n === 0) return;
      const pos = rx.position;
      for (let i = 0; i < n; i++) {
        const d = rx.slots[(pos + i) & rx.mask]!;
        if (d !== NULL_DESC) this.cache.freeOne(d);
      }
      rx.release(n);
    }
  }
}
