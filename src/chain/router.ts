/**
 * The router: moves a burst of packets to where their verdicts send them. Used by every NF
 * (after its handler ran) and by the manager's RX loop (for packets entering the chain).
 *
 *   DROP      → the pool (through the caller's cache)
 *   NEXT      → hop chainIndex + 1 of the packet's chain: a service or an output port
 *   TONF s    → an instance of service s, chosen by the flow hash: straight into its rx ring
 *   OUT p     → the caller's tx ring, to the manager's TX loop and port p
 *
 * A read-only NF (it cannot write the pool: not a meta word, not the free ring) routes nothing
 * itself: with `returns`, every packet goes to its tx ring whatever its verdict, the verdict in
 * the slot's verdict array at the packet's ring position, and the manager's TX loop routes it
 * (as this router, with the NF's counters). A full tx ring holds the NF up instead of dropping.
 *
 * Packets are staged per destination (BURST each) and each stage is enqueued with one ring
 * operation; what does not fit is dropped and counted by reason. Nothing here throws or
 * blocks. For NFs the stages live in the NF's slot of shared memory and each ring operation
 * is journaled, so the manager can account for every buffer if the NF dies mid-burst.
 *
 * Every method of Router is on the hot path and allocates nothing (the constructor allocates).
 */
import { BURST } from '../shm/layout.js';
import { Meta } from '../shm/pool-layout.js';
import { NULL_DESC } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import { Journal, JournalState, MpProducer, type SpscProducer } from '../shm/ring.js';
import { hopId, hopKind } from './chain-table.js';
import { RW } from '../shm/ring-layout.js';
import {
  CHAIN_WORDS,
  HopKind,
  IH,
  MAX_CHAINS,
  MAX_NFS,
  MAX_SERVICES,
  NfState,
  NS,
  RouteCounters,
  SERVICE_WORDS,
  STAGE_TX,
  STAGE_WORDS,
  rxRingId,
} from '../shm/instance-layout.js';
import type { InstanceView } from '../shm/instance.js';
import { native } from '../native.js';
import { Action, verdictAction, verdictDest } from './verdict.js';
import { bucketWord } from './service-table.js';

export interface RouterOptions {
  inst: InstanceView;
  /** the caller's RouteCounters set */
  counters: Float64Array;
  cache: PoolCache;
  /** (MAX_NFS + 1) stages of STAGE_WORDS words: [count, BURST descriptors] */
  staging: Uint32Array;
  stagingOff: number;
  /** where OUT packets go: the NF's tx ring, the manager's RX → TX ring, or the TX loop's ports */
  tx: DescSink;
  /** a read-only NF: hand every packet back on `tx` (its tx ring), verdicts into `verdicts` */
  returns?: { tx: SpscProducer; verdicts: Int32Array } | undefined;
  /** journal words of the caller's slot (NFs), or null */
  journal: Int32Array | null;
  journalBase: number;
}

/** Where OUT packets are handed (a ring producer, or the TX loop's port stages). */
export interface DescSink {
  /** takes up to n of src[srcOff..srcOff+n); returns how many */
  enqueue(src: Uint32Array, n: number, srcOff?: number): number;
}

const C = RouteCounters;

export class Router {
  private readonly inst: InstanceView;
  private readonly i32: Int32Array;
  private readonly words: Uint32Array;
  private readonly metaShift: number;
  private c: Float64Array;
  private readonly cache: PoolCache;
  private readonly st: Uint32Array;
  private readonly stOff: number;
  private readonly tx: DescSink;
  /** read-only NF: its tx ring and verdict array, and the verdicts of the STAGE_TX stage */
  private readonly ret: { tx: SpscProducer; verdicts: Int32Array } | null;
  private readonly retStage = new Int32Array(BURST);
  private readonly producers: MpProducer[] = [];
  /** sleeping words of every NF's rx ring (Int32 index in i32) */
  private readonly sleepWord = new Int32Array(MAX_NFS);
  private readonly slotState = new Int32Array(MAX_NFS);
  private readonly jw: Int32Array | null;
  private readonly jb: number;
  /** destinations staged during this burst */
  private readonly touched = new Uint8Array(MAX_NFS + 1);
  private readonly touchedList = new Int32Array(MAX_NFS + 1);
  private nTouched = 0;
  private readonly serviceBase: number;
  private readonly chainBase: number;

  constructor(o: RouterOptions) {
    this.inst = o.inst;
    this.i32 = o.inst.i32;
    this.words = o.inst.pool.words;
    this.metaShift = o.inst.pool.shift - 2;
    this.c = o.counters;
    this.cache = o.cache;
    this.st = o.staging;
    this.stOff = o.stagingOff;
    this.tx = o.tx;
    this.ret = o.returns ?? null;
    this.jw = o.journal;
    this.jb = o.journalBase;
    for (let id = 0; id < MAX_NFS; id++) {
      const off = o.inst.rxRingOffset(id);
      const p = new MpProducer(o.inst.mem, off, `NF ${id} rx ring`);
      if (o.journal) p.setJournal(o.journal, o.journalBase, rxRingId(id));
      this.producers.push(p);
      this.sleepWord[id] = (off + RW.sleeping * 4) >> 2;
      this.slotState[id] = o.inst.slotWord(id) + NS.state;
    }
    this.serviceBase = o.inst.serviceWord(0);
    this.chainBase = o.inst.chainWord(0);
  }

  /**
   * Routes descs[off..off+n) by each packet's meta (action, destination, chain position).
   * With `clearSource`, each source entry is overwritten with NULL_DESC once the packet has
   * been staged or freed (the source is a shared record such as the NF's inflight array).
   */
  route(descs: Uint32Array, off: number, n: number, clearSource: boolean): void {
    for (let i = 0; i < n; i++) this.routeOne(descs, off + i, clearSource);
    this.flush();
  }

  /**
   * Routes descs[off..off+n) by verdicts[0..n) (the NF engine's private array): the verdict
   * does not go through the packet's meta, so a hop that only forwards writes nothing to the
   * packet's meta line (which would then have to move between cores).
   */
  routeVerdicts(descs: Uint32Array, off: number, n: number, verdicts: Int32Array): void {
    if (this.ret !== null) {
      for (let i = 0; i < n; i++) this.returnOne(descs, off + i, verdicts[i]!);
      this.flush();
      return;
    }
    for (let i = 0; i < n; i++) {
      const v = verdicts[i]!;
      this.routeTo(descs, off + i, true, verdictAction(v), verdictDest(v));
    }
    this.flush();
  }

  /** The counters route decisions are counted in from now on (the TX loop routes for several read-only NFs). */
  useCounters(c: Float64Array): void {
    this.c = c;
  }

  /** Stages the packet at descs[at] by verdict `v` (no flush), and clears its source entry. */
  routeVerdict(descs: Uint32Array, at: number, v: number): void {
    if (this.ret !== null) {
      this.returnOne(descs, at, v);
      return;
    }
    this.routeTo(descs, at, true, verdictAction(v), verdictDest(v));
  }

  /**
   * Stages the packet at descs[at] by the action and destination in its meta (no flush: call
   * flush() at the end of the burst).
   */
  routeOne(descs: Uint32Array, at: number, clearSource: boolean): void {
    const d = descs[at]!;
    if (d === NULL_DESC) return;
    const m = d << this.metaShift;
    this.routeTo(descs, at, clearSource, this.words[m + Meta.action]!, this.words[m + Meta.destination]!);
  }

  /** A read-only NF: stages the packet at descs[at] for the tx ring with verdict `v`, clears the source entry. */
  private returnOne(descs: Uint32Array, at: number, v: number): void {
    const d = descs[at]!;
    if (d === NULL_DESC) return;
    const base = this.stOff + STAGE_TX * STAGE_WORDS;
    if (this.st[base] === BURST) this.flushStage(STAGE_TX);
    this.retStage[this.st[base]!] = v;
    this.stage(STAGE_TX, d);
    descs[at] = NULL_DESC;
  }

  /**
   * A read-only NF's STAGE_TX: the verdicts into the verdict array at the ring positions the
   * packets will take, then the packets (the publish orders the verdicts before them). Nothing
   * is dropped: while the ring is full, the manager's TX loop is woken and this waits for it.
   */
  private flushReturns(base: number, n: number): void {
    const r = this.ret!;
    const st = this.st;
    const vs = r.verdicts;
    const mask = r.tx.mask;
    let done = 0;
    for (;;) {
      const pos = r.tx.position;
      const room = r.tx.reserve(n - done);
      for (let i = 0; i < room; i++) vs[(pos + i) & mask] = this.retStage[done + i]!;
      const sent = r.tx.enqueue(st, room, base + 1 + done);
      done += sent;
      if (done === n) break;
      this.wake(STAGE_TX);
      native().schedYield();
    }
  }

  /** Stages the packet at descs[at] by (action, destination). */
  private routeTo(descs: Uint32Array, at: number, clearSource: boolean, action: number, destination: number): void {
    const d = descs[at]!;
    if (d === NULL_DESC) return;
    const w = this.words;
    const m = d << this.metaShift;
    const c = this.c;
    let dest = -1; // stage index, or -1 to drop
    if (action === Action.NEXT) {
      const chain = w[m + Meta.chainId]!;
      const ci = w[m + Meta.chainIndex]! + 1;
      const cw = this.chainBase + chain * CHAIN_WORDS;
      if (chain < MAX_CHAINS && ci <= this.i32[cw]!) {
        const hop = this.i32[cw + ci]!;
        w[m + Meta.chainIndex] = ci;
        if (hopKind(hop) === HopKind.SERVICE) {
          const svc = hopId(hop);
          dest = this.pick(svc, w[m + Meta.flowHash]!, w[m + Meta.epoch]!);
          w[m + Meta.service] = svc;
        } else {
          w[m + Meta.action] = Action.OUT;
          w[m + Meta.destination] = hopId(hop);
          dest = STAGE_TX;
        }
      } else {
        c[C.dropChainEnd]!++;
      }
    } else if (action === Action.TONF) {
      dest = this.pick(destination, w[m + Meta.flowHash]!, w[m + Meta.epoch]!);
      w[m + Meta.service] = destination;
    } else if (action === Action.OUT) {
      if (destination < this.inst.g.ports) {
        // The TX loop reads the port from the meta.
        w[m + Meta.action] = Action.OUT;
        w[m + Meta.destination] = destination;
        dest = STAGE_TX;
      } else {
        c[C.dropBadDest]!++;
      }
    } else if (action === Action.DROP) {
      c[C.dropVerdict]!++;
    } else {
      c[C.dropBadDest]!++;
    }
    if (dest >= 0) this.stage(dest, d);
    else this.cache.freeOne(d);
    if (clearSource) descs[at] = NULL_DESC;
  }

  /**
   * An instance of service `svc` for a packet with flow hash `hash` and affinity epoch
   * `epoch`: its NF id, or -1 (the reason counted).
   */
  private pick(svc: number, hash: number, epoch: number): number {
    const i32 = this.i32;
    if (svc <= 0 || svc >= MAX_SERVICES) {
      this.c[C.dropBadDest]!++;
      return -1;
    }
    // The flow's epoch's indirection table: its bucket names the instance (chain/indirection.ts).
    const id = i32[bucketWord(this.serviceBase + svc * SERVICE_WORDS, epoch, hash)]!;
    if (id <= 0) {
      this.c[C.dropNoInstance]!++;
      return -1;
    }
    if (i32[this.slotState[id]!] !== NfState.RUNNING) {
      this.c[C.dropNotRunning]!++;
      return -1;
    }
    return id;
  }

  /** Adds d to stage `dest`, flushing it first when full. */
  private stage(dest: number, d: number): void {
    const st = this.st;
    const base = this.stOff + dest * STAGE_WORDS;
    let n = st[base]!;
    if (n === BURST) {
      this.flushStage(dest);
      n = 0;
    }
    st[base + 1 + n] = d;
    st[base] = n + 1;
    if (this.touched[dest] === 0) {
      this.touched[dest] = 1;
      this.touchedList[this.nTouched++] = dest;
    }
  }

  /** Enqueues every non-empty stage. */
  flush(): void {
    for (let i = 0; i < this.nTouched; i++) {
      const dest = this.touchedList[i]!;
      this.touched[dest] = 0;
      this.flushStage(dest);
    }
    this.nTouched = 0;
  }

  private flushStage(dest: number): void {
    const st = this.st;
    const base = this.stOff + dest * STAGE_WORDS;
    const n = st[base]!;
    if (n === 0) return;
    if (this.jw !== null) this.jw[this.jb + Journal.src] = dest;
    let sent: number;
    if (dest === STAGE_TX && this.ret !== null) {
      this.flushReturns(base, n);
      sent = n;
    } else if (dest === STAGE_TX) {
      sent = this.tx.enqueue(st, n, base + 1);
      if (sent < n) this.c[C.dropTxFull]! += n - sent;
      this.c[C.out]! += sent;
    } else {
      sent = this.producers[dest]!.enqueue(st, n, base + 1);
      if (sent < n) this.c[C.dropRingFull]! += n - sent;
      this.c[C.forwarded]! += sent;
    }
    if (sent < n) this.cache.free(st, n - sent, base + 1 + sent);
    st[base] = 0;
    if (this.jw !== null) this.jw[this.jb + Journal.state] = JournalState.IDLE;
    if (sent > 0) this.wake(dest);
  }

  /** Wakes the consumer of stage `dest` if it sleeps. */
  private wake(dest: number): void {
    const i32 = this.i32;
    const word = dest === STAGE_TX ? IH.txSleeping : this.sleepWord[dest]!;
    if (Atomics.load(i32, word) !== 0) {
      Atomics.store(i32, word, 0);
      native().futexWake(i32, word, 1);
    }
  }
}
