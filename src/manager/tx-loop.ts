/**
 * The manager's TX loop (runs in a data-plane worker, dataplane.ts): every NF's tx ring and the
 * RX → TX ring → staged by output port → the port's txBurst. Its ring operations are journaled
 * in slot 0 (the manager's 'tx' journal), so a manager taking over can finish them.
 *
 * A read-only NF (NS.access) hands back every packet on its tx ring, its verdict in the slot's
 * verdict array at the packet's ring position: the TX loop routes those as the NF would have
 * (its router counts in the NF's counters), sending OUT packets to its own port stages.
 */
import { attachInstance, type InstanceView } from '../shm/instance.js';
import {
  CounterSet,
  FREE_RING_ID,
  LatencyHist,
  LoopCounters,
  ManagerHeldCounters,
  MAX_CHAINS,
  RouteCounters,
  MAX_NFS,
  managerJournalWord,
  Access,
  NS,
  STAGE_WORDS,
  verdictsWord,
  PortTxCounters,
  TxLoopCounters,
} from '../shm/instance-layout.js';
import { BURST } from '../shm/layout.js';
import { Meta } from '../shm/pool-layout.js';
import { NULL_DESC } from '../shm/pool.js';
import { PoolCache } from '../shm/pool-cache.js';
import { ScConsumer } from '../shm/ring.js';
import { LatencyRecorder, stampNow } from '../shm/latency.js';
import { openTx, type TxPort } from '../ports/index.js';
import type { DataplaneConfig } from './dataplane.js';
import { Router } from '../chain/router.js';

export class TxLoop {
  private readonly inst: InstanceView;
  private readonly ports: TxPort[] = [];
  private readonly counters: Float64Array[] = [];
  private readonly loopCounters: Float64Array;
  private readonly cache: PoolCache;
  private readonly journal: number;
  private readonly rings: ScConsumer[] = [];
  private readonly burst = new Uint32Array(BURST);
  /** the verdicts of a read-only NF's burst */
  private readonly verdicts = new Int32Array(BURST);
  /** per-port staging of descriptors to send */
  private readonly stage: Uint32Array[] = [];
  private readonly staged: Int32Array;
  private readonly stagedBytes: Float64Array;
  private readonly heldGauges: Float64Array;
  private readonly loop: Float64Array;
  /** per chain (Meta.chainId): arrival to departure; null when latency is off */
  private readonly latency: LatencyRecorder[] | null;
  /** routes read-only NFs' packets by the verdicts they hand back */
  private readonly router: Router;
  /** per NF id: its route counters, the word of its access, its verdict array (Int32 word) */
  private readonly nfCounters: Float64Array[] = [];
  private readonly accessWord = new Int32Array(MAX_NFS);
  private readonly verdictBase = new Int32Array(MAX_NFS);
  /** this pass's clock stamp (0: not read yet) */
  private stamp = 0;

  constructor(cfg: DataplaneConfig) {
    this.inst = attachInstance(cfg.instance);
    const pool = this.inst.pool;
    this.cache = new PoolCache(pool, { capacity: 512 });
    this.journal = managerJournalWord(this.inst.g, 'tx');
    this.cache.setJournal(this.inst.i32, this.journal, FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
    cfg.ports.forEach((p, i) => {
      this.ports.push(openTx(p, { pool, cache: this.cache, portId: i, portName: p.name }));
      this.counters.push(this.inst.counters.set(CounterSet.portTx(i)));
      this.stage.push(new Uint32Array(BURST));
    });
    this.staged = new Int32Array(cfg.ports.length);
    this.stagedBytes = new Float64Array(cfg.ports.length);
    this.loopCounters = this.inst.counters.set(CounterSet.managerTx);
    this.heldGauges = this.inst.counters.set(CounterSet.managerHeld);
    this.loop = this.inst.counters.set(CounterSet.loopTx);
    const lb = this.inst.latency;
    this.latency = cfg.latency
      ? Array.from({ length: MAX_CHAINS }, (_, c) => new LatencyRecorder(lb.words, lb.base(LatencyHist.chain(c))))
      : null;
    const mem = this.inst.mem;
    for (let id = 1; id < MAX_NFS; id++)
      this.rings.push(new ScConsumer(mem, this.inst.txRingOffset(id), `NF ${id} tx ring`));
    this.rings.push(new ScConsumer(mem, this.inst.rxToTxRingOffset, 'manager RX → TX ring'));
    for (let id = 0; id < MAX_NFS; id++) {
      this.nfCounters.push(this.inst.counters.set(CounterSet.nf(id)));
      this.accessWord[id] = this.inst.slotWord(id) + NS.access;
      this.verdictBase[id] = verdictsWord(this.inst.g, id);
    }
    // OUT from a read-only NF's verdict: straight into this loop's port stages.
    const ports = { enqueue: (src: Uint32Array, n: number, off = 0): number => this.outMany(src, n, off) };
    this.router = new Router({
      inst: this.inst,
      counters: this.nfCounters[0]!,
      cache: this.cache,
      staging: new Uint32Array((MAX_NFS + 1) * STAGE_WORDS),
      stagingOff: 0,
      tx: ports,
      journal: this.inst.i32,
      journalBase: this.journal,
    });
  }

  /** One pass over every tx ring. Returns packets moved. Hot path: no allocation. */
  pass(): number {
    const i32 = this.inst.i32;
    const nrings = this.rings.length;
    let total = 0;
    this.stamp = 0;
    for (let r = 0; r < nrings; r++) {
      const ring = this.rings[r]!;
      // Ring r is NF r + 1's (the last one is the RX loop's).
      const id = r + 1;
      const readOnly = id < MAX_NFS && i32[this.accessWord[id]!] === Access.READ_ONLY;
      const n = readOnly ? this.takeReturned(id, ring) : ring.dequeue(this.burst, BURST);
      if (n === 0) continue;
      total += n;
      this.loopCounters[TxLoopCounters.fromNfs]! += n;
      this.loop[LoopCounters.bursts]!++;
      this.loop[LoopCounters.packets]! += n;
      if (readOnly) this.routeReturned(id, n);
      else this.outMany(this.burst, n, 0);
    }
    const nports = this.ports.length;
    for (let p = 0; p < nports; p++) if (this.staged[p]! > 0) this.sendPort(p);
    if (this.stamp !== 0) for (let c = 0; c < MAX_CHAINS; c++) this.latency![c]!.flush();
    return total;
  }

  /**
   * Takes up to a burst from read-only NF `id`'s tx ring with the verdicts at the same ring
   * positions (both copied before the slots are released: the NF reuses them after). Hot path.
   */
  private takeReturned(id: number, ring: ScConsumer): number {
    const n = ring.available(BURST);
    if (n === 0) return 0;
    const pos = ring.position;
    const mask = ring.mask;
    const slots = ring.slots;
    const vs = this.inst.i32;
    const vb = this.verdictBase[id]!;
    for (let i = 0; i < n; i++) {
      const at = (pos + i) & mask;
      this.burst[i] = slots[at]!;
      this.verdicts[i] = vs[vb + at]!;
    }
    ring.release(n);
    return n;
  }

  /** Routes a burst a read-only NF handed back, by its verdicts. Hot path. */
  private routeReturned(id: number, n: number): void {
    const pool = this.inst.pool;
    const router = this.router;
    router.useCounters(this.nfCounters[id]!);
    for (let i = 0; i < n; i++) {
      const d = this.burst[i]!;
      if (d === NULL_DESC) continue;
      if (!pool.isValid(d)) {
        // Not a buffer of the pool: counted, never followed.
        this.nfCounters[id]![RouteCounters.dropBadDest]!++;
        this.burst[i] = NULL_DESC;
        continue;
      }
      router.routeVerdict(this.burst, i, this.verdicts[i]!);
    }
    router.flush();
  }

  /** Stages src[off..off+n) to their output ports (Meta.destination); returns n. Hot path. */
  private outMany(src: Uint32Array, n: number, off: number): number {
    const words = this.inst.pool.words;
    const ms = this.inst.pool.shift - 2;
    const nports = this.ports.length;
    const lat = this.latency;
    if (lat !== null && this.stamp === 0) this.stamp = stampNow();
    const stamp = this.stamp;
    for (let i = off; i < off + n; i++) {
      const d = src[i]!;
      if (d === NULL_DESC) continue;
      const m = d << ms;
      if (lat !== null) {
        const a = words[m + Meta.arrival]!;
        if (a !== 0) lat[words[m + Meta.chainId]! & (MAX_CHAINS - 1)]!.add((stamp - a) >>> 0);
      }
      const port = words[m + Meta.destination]!;
      if (port >= nports) {
        this.loopCounters[TxLoopCounters.dropBadPort]!++;
        this.cache.freeOne(d);
        continue;
      }
      let k = this.staged[port]!;
      if (k === BURST) {
        this.sendPort(port);
        k = 0;
      }
      this.stage[port]![k] = d;
      this.staged[port] = k + 1;
      this.stagedBytes[port]! += words[m + Meta.len]!;
    }
    return n;
  }

  /** True when a ring holds something (cold: the last look before sleeping). */
  pending(): boolean {
    for (let r = 0; r < this.rings.length; r++) if (this.rings[r]!.available(1) > 0) return true;
    return false;
  }

  private sendPort(p: number): void {
    const n = this.staged[p]!;
    const port = this.ports[p]!;
    const sent = port.txBurst(this.stage[p]!, n);
    const c = this.counters[p]!;
    c[PortTxCounters.txPackets]! += sent;
    c[PortTxCounters.txBytes]! += sent === n ? this.stagedBytes[p]! : 0;
    c[PortTxCounters.txDropped] = port.txDropped;
    this.staged[p] = 0;
    this.stagedBytes[p] = 0;
  }

  flushPorts(): void {
    for (const p of this.ports) p.flush();
  }

  /** The buffer gauges (cold: every 200 ms, when the loop goes idle, and at close). */
  syncCounters(): void {
    this.heldGauges[ManagerHeldCounters.txCache] = this.cache.cached + this.cache.cachedJumbos;
    for (let i = 0; i < this.ports.length; i++) this.counters[i]![PortTxCounters.held] = this.ports[i]!.held ?? 0;
  }

  close(): void {
    this.pass();
    for (const p of this.ports) {
      p.flush();
      p.close();
    }
    this.cache.flush();
    this.syncCounters();
  }
}
