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
import { LatencyRecorder, stampNow } from '../shm/latency.js';
import { memberCells } from './metrics.js';
import {
  CACHE_CAP,
  CHAIN_WORDS,
  CounterSet,
  FREE_RING_ID,
  HELD_MAX,
  HopKind,
  LINK_DOWN,
  MAX_CHAINS,
  MAX_SERVICES,
  LatencyHist,
  LoopCounters,
  NfState,
  NS,
  verdictsWord,
  PortRxCounters,
  RouteCounters,
  txRingId,
} from '../shm/instance-layout.js';
import type { InstanceView } from '../shm/instance.js';
import { Router } from '../chain/router.js';
import { Action, DROP, NEXT, verdictAction, verdictDest } from '../chain/verdict.js';
import { hopId, hopKind } from '../chain/chain-table.js';
import { native } from '../native.js';
import {
  instantiate,
  type Burst,
  type FlowChainResult,
  type NFContext,
  type NFDefinition,
  type NFInstance,
  type OptionsSpec,
  type ScaleResult,
} from './define.js';
import { Member, type MemberHost } from './member.js';
import { HeldTable } from './held-table.js';
import { Inbox, Messenger, type MessageResult, type MessageTarget } from '../chain/messages.js';

import type { Reply, RequestBody } from '../protocol/messages.js';
import type { PortDescription } from '../ports/port-info.js';
import { PortInfo } from './ports.js';
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

/** One member of the process: an NF definition with its options, for one service. */
export interface MemberSpec {
  def: NFDefinition<OptionsSpec>;
  options: Record<string, unknown>;
  service: number;
  /** the name shown in logs and status (default: the definition's name) */
  name?: string | undefined;
}

export interface EngineOptions {
  inst: InstanceView;
  nfId: number;
  /** the NFs this process runs: one, or the members of a fused group in their order */
  members: MemberSpec[];
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
  /** the manager's ports, as its registered reply described them (none: no ports known) */
  ports?: readonly PortDescription[] | undefined;
  /**
   * read-only: the pool is mapped without write permission (attachInstance poolReadOnly); every
   * packet goes back to the manager with its verdict (router.ts `returns`); keep(), new packets
   * and fused groups are not available
   */
  access?: 'read-write' | 'read-only' | undefined;
}

const C = RouteCounters;
/** toNF(0), no such service: how a packet sent to a service this group does not run is dropped (counted as a bad destination). */
const DROP_BAD_DEST = Action.TONF;

/**
 * Most members one packet passes in one burst of a fused group, the first member included;
 * then it goes once round the group's own rx ring (counted: yielded), so that a packet that
 * circles among members (a speed test, a verdict loop) does not hold up the loop.
 */
export const MAX_GROUP_HOPS = 64;

/**
 * Checks the NFs one process is to run (cold): one at least, each service once, a read-only NF
 * alone (group members hand packets on by writing them), and no NF in the
 * module form twice (it keeps its state at module scope: two members would share it).
 */
export function checkMembers(members: readonly MemberSpec[], access: EngineOptions['access'] = 'read-write'): void {
  if (members.length === 0) throw new NfcError('NFC_ERR_NF', 'an NF process runs at least one NF');
  if (access === 'read-only' && members.length > 1) {
    throw new NfcError('NFC_ERR_NF', 'a fused group cannot be read-only: its members hand packets on by writing them', {
      fix: 'run the read-only NF as a process of its own',
    });
  }
  members.forEach((m, i) => {
    if (members.findIndex((x) => x.service === m.service) !== i) {
      throw new NfcError('NFC_ERR_NF', `fused group: two members have service ${m.service}`, {
        fix: 'give each member its own service',
      });
    }
    if (!m.def.create && members.findIndex((x) => x.def === m.def) !== i) {
      throw new NfcError(
        'NFC_ERR_NF',
        `fused group: NF ${m.def.name} appears twice, but it keeps its state at module scope (no create())`,
        { fix: 'give the NF the per-instance form, create(ctx) returning its hooks (docs/nf-guide.md)' },
      );
    }
  });
}

/**
 * True when a process of these members records arrival-to-verdict latency: one NF that asks
 * (defineNF latency: true). A fused group does not record it yet (its packets leave at
 * different members).
 */
export function recordsLatency(members: readonly { def: { latency?: boolean | undefined } }[]): boolean {
  return members.length === 1 && members[0]!.def.latency === true;
}

export class NfEngine implements MemberHost {
  readonly nfId: number;
  readonly pool: PacketPool;
  /** the NFs of this process (one, or a fused group's members) */
  readonly members: Member[];
  handled = 0;

  private readonly inst: InstanceView;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly words: Uint32Array;
  private readonly metaShift: number;
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
  /** fused groups: member index by service (-1: not in this process) */
  private readonly memberOf = new Int8Array(MAX_SERVICES).fill(-1);
  /** fused groups, per packet of the burst: the member it is at (-1: gone), members passed */
  private readonly at = new Int8Array(BURST);
  private readonly hops = new Uint8Array(BURST);
  /** fused groups: the burst positions a member handles in this pass */
  private readonly idx = new Int32Array(BURST);
  private readonly chainBase: number;
  private stopReason = '';
  private started = 0;
  private readonly tickTimers: NodeJS.Timeout[] = [];
  private done: Promise<string>;
  private resolveDone: (reason: string) => void = () => {};
  private readonly control: EngineOptions['control'];
  readonly chains: readonly string[];
  readonly baseDir: string;
  /** the manager's ports (ctx.ports): link state from each port's PortRxCounters.link gauge */
  readonly ports: readonly PortInfo[];
  private readonly flowKey = new FlowKey();
  /** this loop's LoopCounters (idle time, bursts, packets) */
  private readonly loop: Float64Array;
  /** arrival to verdict, when a member asked for it (defineNF latency: true) */
  private readonly latency: LatencyRecorder | null;
  /** read-only: packets go back to the manager, nothing is written to the pool */
  readonly readOnly: boolean;

  constructor(o: EngineOptions) {
    this.inst = o.inst;
    this.nfId = o.nfId;
    this.pool = o.inst.pool;
    this.u32 = o.inst.u32;
    this.i32 = o.inst.i32;
    this.words = this.pool.words;
    this.metaShift = this.pool.shift - 2;
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
    this.ports = (o.ports ?? []).map((d) => {
      const c = o.inst.counters.set(CounterSet.portRx(d.id));
      return new PortInfo(d, () => c[PortRxCounters.link] !== LINK_DOWN);
    });
    this.chainBase = o.inst.chainWord(0);
    checkMembers(o.members, o.access);
    const group = o.members.length > 1;
    this.readOnly = o.access === 'read-only';
    this.members = o.members.map((m, i) => {
      const name = m.name ?? m.def.name;
      this.memberOf[m.service] = i;
      return new Member(this, m.def, name, m.service, m.options, group ? `${name}: ` : '');
    });
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
    this.loop = o.inst.counters.set(CounterSet.loopNf(o.nfId));
    const cells = memberCells(
      this.members.map((m) => ({ def: m.def, name: m.name })),
      o.inst.metrics.set(o.nfId),
    );
    this.members.forEach((m, i) => {
      m.metrics = cells[i]!;
    });
    const lb = o.inst.latency;
    this.latency = recordsLatency(this.members) ? new LatencyRecorder(lb.words, lb.base(LatencyHist.nf(o.nfId))) : null;
    this.router = new Router({
      inst: o.inst,
      counters: this.c,
      cache: this.cache,
      staging: this.u32,
      stagingOff: this.slot + o.inst.g.stagingWord,
      tx,
      journal: this.i32,
      journalBase,
      returns: this.readOnly
        ? { tx, verdicts: new Int32Array(mem, verdictsWord(o.inst.g, o.nfId) * 4, o.inst.g.nfTxCap) }
        : undefined,
    });
    this.sleepWord = (o.inst.rxRingOffset(o.nfId) >> 2) + RW.sleeping;
    this.view = new PacketView(mem === this.pool.buffer ? mem : this.pool.buffer);
    this.burst = { descs: this.burstDescs, verdicts: this.burstVerdicts, n: 0, view: new PacketView(this.pool.buffer) };
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  /** True when this process records its latency (recordsLatency). */
  get recordsLatency(): boolean {
    return this.latency !== null;
  }

  /** The first member (the only one of a process that is not a fused group). */
  get main(): Member {
    return this.members[0]!;
  }

  // ---- what members ask of the process (MemberHost) ----------------------------------------

  get heldCount(): number {
    return this.heldTable.count;
  }

  hold(desc: number): boolean {
    if (this.readOnly || !this.heldTable.hold(desc)) return false;
    this.c[C.kept]!++;
    return true;
  }

  newPacket(bytes?: Uint8Array): number {
    const t = this.heldTable;
    if (this.readOnly || t.count >= t.max) return -1;
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

  setFlowChain(d: number, chain: number): FlowChainResult {
    if (
      !Number.isInteger(chain) ||
      chain < 0 ||
      chain >= MAX_CHAINS ||
      Atomics.load(this.i32, this.inst.chainWord(chain)) === 0
    ) {
      return 'no-chain';
    }
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

  async scale(instances: number, service: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult> {
    if (!this.control) throw new NfcError('NFC_ERR_NF', 'scale(): this NF is not connected to a manager');
    const r = await this.control({ type: 'scale', service, instances, rebalance: opts?.rebalance === true }, 40_000);
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

  /** Makes the instances (create(), or setup() in the module form); the NF is then ready to be put in service (cold). */
  async setup(): Promise<void> {
    this.started = performance.now();
    for (const m of this.members) {
      m.impl = await instantiate<NFInstance>(
        m.def as NFDefinition<OptionsSpec, never>,
        m as unknown as NFContext<never>,
      );
    }
  }

  /** Starts the loop; resolves with the stop reason when the NF has stopped cleanly. */
  run(): Promise<string> {
    this.startTimers();
    setImmediate(() => this.slice());
    return this.done;
  }

  /** Ticks and the TTL (cold; run() does it, an inline group's loop calls it itself). */
  startTimers(): void {
    this.started = performance.now();
    for (const m of this.members) {
      const tick = m.impl.tick;
      if (!tick) continue;
      const ms = m.def.tickInterval ?? 1000;
      this.tickTimers.push(
        setInterval(() => {
          if (this.paused) return;
          try {
            tick(m as unknown as NFContext<never>);
            this.router.flush();
          } catch (err) {
            m.log(`tick threw: ${(err as Error).stack ?? String(err)}`);
          }
        }, ms),
      );
    }
    if (this.ttl > 0) setTimeout(() => this.stop(`TTL of ${this.ttl} s reached`), this.ttl * 1000).unref();
  }

  /**
   * For a loop that drives this engine itself (an inline group in the manager's data-plane
   * thread): the liveness words and waiting messages, once per slice (cold)...
   */
  housekeeping(): void {
    this.i32[this.slot + NS.heartbeat] = (Date.now() / 1000) | 0;
    this.i32[this.slot + NS.cpu] = native().getCpu();
    this.deliverMessages();
  }

  /** ...and one burst from the rx ring: handled, routed, staged rings flushed. Hot path. */
  pollOnce(): number {
    return this.members.length === 1 ? this.handleBurst() : this.handleGroupBurst();
  }

  /** Stops an engine driven from outside: stop() hooks, every buffer handed back (cold). */
  close(reason: string): Promise<string> {
    this.stop(reason);
    void this.finish();
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
    this.deliverMessages();
    const single = this.members.length === 1;
    let idle = 0;
    let idleSince = 0;
    let loops = 0;
    // Idle time into LoopCounters: from the first empty poll to the next burst (see the manager's loop).
    let idleStart = -1;
    for (;;) {
      const n = single ? this.handleBurst() : this.handleGroupBurst();
      if (n > 0) {
        idle = 0;
        if (idleStart >= 0) {
          this.loop[LoopCounters.idleMs]! += performance.now() - idleStart;
          idleStart = -1;
        }
        if (this.limit > 0 && this.handled >= this.limit) this.stop(`packet limit of ${this.limit} reached`);
        if (this.stopReason) break;
      } else if (idle++ === 0) {
        idleSince = performance.now();
        if (idleStart < 0) idleStart = idleSince;
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
    if (idleStart >= 0) this.loop[LoopCounters.idleMs]! += performance.now() - idleStart;
    setImmediate(() => this.slice());
  }

  /**
   * Hands waiting messages to message(), in order (cold: messages are control traffic). In a
   * fused group, a message sent to a service goes to that member; one sent to the process's NF
   * id goes to every member that has message().
   */
  private deliverMessages(): void {
    this.inbox.poll(16, (from, payload, service) => {
      const only = service > 0 && service < MAX_SERVICES ? this.memberOf[service]! : -1;
      for (let i = 0; i < this.members.length; i++) {
        const m = this.members[i]!;
        if ((only >= 0 && i !== only) || !m.impl.message) continue;
        try {
          m.impl.message(payload, m as unknown as NFContext<never>, from);
        } catch (err) {
          m.log(`message() threw: ${(err as Error).stack ?? String(err)}`);
        }
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

  /**
   * Dequeues up to a burst into the slot's inflight record (where the manager finds it if this
   * process dies) and returns its size. Hot path: no allocation.
   */
  private take(): number {
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
    this.loop[LoopCounters.bursts]!++;
    this.loop[LoopCounters.packets]! += k;
    return k;
  }

  /** One burst of a process of one NF: dequeue, handle, route. Returns the number of packets. Hot path: no allocation. */
  private handleBurst(): number {
    const k = this.take();
    if (k === 0) return 0;
    const u32 = this.u32;
    const base = this.inflight + 1;
    const m = this.members[0]!;
    const bv = this.burstVerdicts;
    // Called as a plain function, not impl.handle(...): the method call measured ~1.5 ns more per
    // packet (bench speed, 1 NF: 26.3 against 28-29 Mpps). instantiate() binds a class instance's hooks.
    const handle = m.impl.handle;
    if (handle) {
      const view = this.view;
      const pool = this.pool;
      m.inHandle = true;
      for (let i = 0; i < k; i++) {
        const d = u32[base + i]!;
        m.desc = d;
        m.kept = false;
        view.attach(pool, d);
        const v = handle(view, m as unknown as NFContext<never>);
        if (m.kept) {
          u32[base + i] = NULL_DESC;
          continue;
        }
        bv[i] = v;
      }
      m.inHandle = false;
    } else {
      const bd = this.burstDescs;
      for (let i = 0; i < k; i++) {
        bd[i] = u32[base + i]!;
        bv[i] = NEXT;
      }
      (this.burst as { n: number }).n = k;
      const handleBurst = m.impl.handleBurst!;
      handleBurst(this.burst, m as unknown as NFContext<never>);
    }
    if (this.latency !== null) this.recordLatency(base, k);
    const full = this.c[C.dropRingFull]!;
    this.router.routeVerdicts(u32, base, k, bv);
    // Backpressure: the next hop is full; let it run (see YIELD_AFTER).
    if (this.c[C.dropRingFull] !== full && this.poll === 'adaptive') native().schedYield();
    u32[this.inflight] = 0;
    m.handled += k;
    this.handled += k;
    return k;
  }

  /** Each packet's age at its verdict into the NF's histogram (one clock read per burst). Hot path. */
  private recordLatency(base: number, k: number): void {
    const rec = this.latency!;
    const u32 = this.u32;
    const w = this.words;
    const shift = this.metaShift;
    const now = stampNow();
    for (let i = 0; i < k; i++) {
      const d = u32[base + i]!;
      if (d === NULL_DESC) continue;
      const a = w[(d << shift) + Meta.arrival]!;
      if (a !== 0) rec.add((now - a) >>> 0);
    }
    rec.flush();
  }

  /**
   * One burst of a fused group (docs/architecture.md, "Fused groups"). Each packet enters the
   * member of the service it was sent to (Meta.service); members run in their order, each over
   * the packets at it, and a verdict that names another member (NEXT to a member's service hop,
   * toNF of a member's service) moves the packet there: a function call, no ring. Packets leave
   * through the router as from any NF. Packets stay in the slot's inflight record until they
   * leave, so a crash loses none. Hot path: no allocation.
   */
  private handleGroupBurst(): number {
    const k = this.take();
    if (k === 0) return 0;
    const u32 = this.u32;
    const w = this.words;
    const shift = this.metaShift;
    const base = this.inflight + 1;
    const at = this.at;
    const hops = this.hops;
    const memberOf = this.memberOf;
    const router = this.router;
    const c = this.c;
    let pending = 0;
    for (let i = 0; i < k; i++) {
      const svc = w[(u32[base + i]! << shift) + Meta.service]!;
      const mi = svc < MAX_SERVICES ? memberOf[svc]! : -1;
      hops[i] = 1;
      at[i] = mi;
      if (mi >= 0) pending++;
      else router.routeVerdict(u32, base + i, DROP_BAD_DEST);
    }
    const full = c[C.dropRingFull]!;
    const members = this.members;
    const bv = this.burstVerdicts;
    const idx = this.idx;
    // In-group hops, added to the shared counter once per burst (not a shared write per packet).
    let fusedHops = 0;
    while (pending > 0) {
      for (let mi = 0; mi < members.length && pending > 0; mi++) {
        let n = 0;
        for (let i = 0; i < k; i++) if (at[i] === mi) idx[n++] = i;
        if (n === 0) continue;
        const m = members[mi]!;
        const handle = m.impl.handle;
        if (handle) {
          const view = this.view;
          const pool = this.pool;
          m.inHandle = true;
          for (let j = 0; j < n; j++) {
            const i = idx[j]!;
            const d = u32[base + i]!;
            m.desc = d;
            m.kept = false;
            view.attach(pool, d);
            bv[i] = handle(view, m as unknown as NFContext<never>);
            if (m.kept) {
              u32[base + i] = NULL_DESC;
              at[i] = -1;
              pending--;
            }
          }
          m.inHandle = false;
        } else {
          const bd = this.burstDescs;
          const vs = this.burstVerdicts;
          for (let j = 0; j < n; j++) {
            bd[j] = u32[base + idx[j]!]!;
            vs[j] = NEXT;
          }
          (this.burst as { n: number }).n = n;
          m.impl.handleBurst!(this.burst, m as unknown as NFContext<never>);
          // Verdicts back to burst positions, last first: vs[j] and bv[idx[j]] share the array.
          for (let j = n - 1; j >= 0; j--) bv[idx[j]!] = vs[j]!;
        }
        m.handled += n;
        for (let j = 0; j < n; j++) {
          const i = idx[j]!;
          if (at[i] !== mi) continue; // kept
          const v = bv[i]!;
          const next = this.memberFor(u32[base + i]!, v);
          if (next < 0) {
            router.routeVerdict(u32, base + i, v);
          } else if (++hops[i]! > MAX_GROUP_HOPS) {
            // Enough of this packet for one burst: once round the ring (to the member it is
            // going to; the next burst carries on). A verdict loop then circles as it would
            // between processes, and never holds up the loop.
            c[C.yielded]!++;
            router.routeVerdict(u32, base + i, Action.TONF | (w[(u32[base + i]! << shift) + Meta.service]! << 8));
          } else {
            at[i] = next;
            fusedHops++;
            continue;
          }
          at[i] = -1;
          pending--;
        }
      }
    }
    c[C.fused]! += fusedHops;
    router.flush();
    if (c[C.dropRingFull] !== full && this.poll === 'adaptive') native().schedYield();
    u32[this.inflight] = 0;
    this.handled += k;
    return k;
  }

  /**
   * The member a verdict sends packet `d` to inside this process, or -1 when it leaves (or is
   * dropped). For a NEXT that stays, the packet's chain position moves on, as the router would
   * move it. Hot path.
   */
  private memberFor(d: number, v: number): number {
    const action = verdictAction(v);
    const w = this.words;
    const m = d << this.metaShift;
    if (action === Action.NEXT) {
      const chain = w[m + Meta.chainId]!;
      const ci = w[m + Meta.chainIndex]! + 1;
      if (chain >= MAX_CHAINS) return -1;
      const cw = this.chainBase + chain * CHAIN_WORDS;
      if (ci > this.i32[cw]!) return -1;
      const hop = this.i32[cw + ci]!;
      if (hopKind(hop) !== HopKind.SERVICE) return -1;
      const svc = hopId(hop);
      const next = svc < MAX_SERVICES ? this.memberOf[svc]! : -1;
      if (next >= 0) {
        w[m + Meta.chainIndex] = ci;
        w[m + Meta.service] = svc;
      }
      return next;
    }
    if (action === Action.TONF) {
      const svc = verdictDest(v);
      const next = svc < MAX_SERVICES ? this.memberOf[svc]! : -1;
      if (next >= 0) w[m + Meta.service] = svc;
      return next;
    }
    return -1;
  }

  /** The services of this process whose instance has a message() hook (cold: after setup). */
  listening(): number[] {
    return this.members.filter((m) => typeof m.impl.message === 'function').map((m) => m.service);
  }

  /** Marks this NF as stopping; the manager takes it out of service. */
  markStopping(): void {
    Atomics.store(this.i32, this.slot + NS.state, NfState.STOPPING);
  }

  /** Stops cleanly: hand back every buffer, call stop(), mark the slot STOPPED (cold). */
  private async finish(): Promise<void> {
    for (const t of this.tickTimers) clearInterval(t);
    this.markStopping();
    this.router.flush();
    for (const m of this.members) {
      try {
        await m.impl.stop?.(m as unknown as NFContext<never>);
      } catch (err) {
        m.log(`stop() threw: ${(err as Error).stack ?? String(err)}`);
      }
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

  /** Frees everything waiting in the rx ring (cold); a read-only NF hands it back to the manager to drop. */
  private drainRx(): void {
    const rx = this.rx;
    if (this.readOnly) {
      const base = this.inflight + 1;
      this.burstVerdicts.fill(DROP);
      for (let k = this.take(); k > 0; k = this.take()) {
        this.router.routeVerdicts(this.u32, base, k, this.burstVerdicts);
        this.u32[this.inflight] = 0;
      }
      return;
    }
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
