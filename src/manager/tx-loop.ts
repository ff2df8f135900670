/**
 * The manager's TX loop (runs in a data-plane worker, dataplane.ts): every NF's tx ring and the
 * RX → TX ring → staged by output port → the port's txBurst. Its ring operations are journaled
 * in slot 0 (the manager's 'tx' journal), so a manager taking over can finish them.
 */
import { attachInstance, type InstanceView } from '../shm/instance.js';
import {
  CounterSet,
  FREE_RING_ID,
  LatencyHist,
  LoopCounters,
  ManagerHeldCounters,
  MAX_CHAINS,
  MAX_NFS,
  managerJournalWord,
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

export class TxLoop {
  private readonly inst: InstanceView;
  private readonly ports: TxPort[] = [];
  private readonly counters: Float64Array[] = [];
  private readonly loopCounters: Float64Array;
  private readonly cache: PoolCache;
  private readonly journal: number;
  private readonly rings: ScConsumer[] = [];
  private readonly burst = new Uint32Array(BURST);
  /** per-port staging of descriptors to send */
  private readonly stage: Uint32Array[] = [];
  private readonly staged: Int32Array;
  private readonly stagedBytes: Float64Array;
  private readonly heldGauges: Float64Array;
  private readonly loop: Float64Array;
  /** per chain (Meta.chainId): arrival to departure; null when latency is off */
  private readonly latency: LatencyRecorder[] | null;

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
  }

  /** One pass over every tx ring. Returns packets moved. Hot path: no allocation. */
  pass(): number {
    const pool = this.inst.pool;
    const words = pool.words;
    const ms = pool.shift - 2;
    const nports = this.ports.length;
    const lat = this.latency;
    let total = 0;
    let stamp = 0;
    for (let r = 0; r < this.rings.length; r++) {
      const n = this.rings[r]!.dequeue(this.burst, BURST);
      if (n === 0) continue;
      total += n;
      this.loopCounters[TxLoopCounters.fromNfs]! += n;
      this.loop[LoopCounters.bursts]!++;
      this.loop[LoopCounters.packets]! += n;
      if (lat !== null && stamp === 0) stamp = stampNow();
      for (let i = 0; i < n; i++) {
        const d = this.burst[i]!;
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
    }
    for (let p = 0; p < nports; p++) if (this.staged[p]! > 0) this.sendPort(p);
    if (stamp !== 0) for (let c = 0; c < MAX_CHAINS; c++) lat![c]!.flush();
    return total;
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
