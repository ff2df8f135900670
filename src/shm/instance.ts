/**
 * A process's view of a manager instance's shared memory: the control file (instance-layout.ts)
 * and the packet pool. The manager creates both (createInstance); NFs attach (attachInstance).
 */
import { NfcError } from '../errors.js';
import { CounterBlock, initCounters } from './counters.js';
import {
  CHAIN_WORDS,
  COUNTERS_PER_SET,
  CounterSet,
  IH,
  LatencyHist,
  NF_METRICS_MAX,
  INSTANCE_MAGIC,
  INSTANCE_VERSION,
  ManagerState,
  MAX_NFS,
  MSG_SLOTS,
  SERVICE_WORDS,
  instanceGeometry,
  msgRingOffset,
  rxRingOffset,
  rxToTxRingOffset,
  txRingOffset,
  type InstanceGeometry,
  INSTANCE_HEADER_BYTES,
} from './instance-layout.js';
import { initRing, RingKind } from './ring-layout.js';
import { LatencyBlock } from './latency.js';
import { initPool, PacketPool, poolBytes, type PoolOptions } from './pool.js';
import { ShmDir } from './shm-file.js';

export const POOL_FILE = 'pool';
export const INSTANCE_FILE = 'instance';

export class InstanceView {
  readonly dir: ShmDir;
  readonly mem: ArrayBuffer;
  readonly g: InstanceGeometry;
  readonly pool: PacketPool;
  /** the whole control file as Int32 / Uint32 words */
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly counters: CounterBlock;
  /** the counters and gauges NFs declare: one set per NF slot */
  readonly metrics: CounterBlock;
  /** latency histograms: per chain, then per NF slot (LatencyHist) */
  readonly latency: LatencyBlock;

  constructor(dir: ShmDir, mem: ArrayBuffer, poolMem: ArrayBuffer) {
    const h = new Int32Array(mem, 0, 32);
    if (Atomics.load(h, IH.magic) >>> 0 !== INSTANCE_MAGIC) {
      throw new NfcError('NFC_ERR_LAYOUT', `${dir.path}/${INSTANCE_FILE}: not an nfchain instance file (bad magic)`);
    }
    if (h[IH.version] !== INSTANCE_VERSION) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${dir.path}: instance version ${h[IH.version]}, this nfchain speaks ${INSTANCE_VERSION}`,
        {
          fix: 'run the manager and the NFs from the same nfchain build',
        },
      );
    }
    this.dir = dir;
    this.mem = mem;
    this.g = instanceGeometry(h[IH.nfRxCap]!, h[IH.nfTxCap]!, h[IH.ports]!);
    if (this.g.totalBytes !== h[IH.totalBytes] || mem.byteLength < this.g.totalBytes) {
      throw new NfcError('NFC_ERR_LAYOUT', `${dir.path}/${INSTANCE_FILE}: size does not match its header`);
    }
    this.pool = new PacketPool(poolMem, 0, `${dir.path}/${POOL_FILE}`);
    this.i32 = new Int32Array(mem, 0, this.g.totalBytes >> 2);
    this.u32 = new Uint32Array(mem, 0, this.g.totalBytes >> 2);
    this.counters = new CounterBlock(mem, this.g.countersOff, 'instance counters');
    this.metrics = new CounterBlock(mem, this.g.metricsOff, 'NF metrics');
    this.latency = new LatencyBlock(mem, this.g.latencyOff, LatencyHist.count);
  }

  /** Word index of NF slot `id`'s first word. */
  slotWord(id: number): number {
    return (this.g.slotOff + id * this.g.slotBytes) >> 2;
  }

  /** Word index of service `s`'s entry: [count, nfId × MAX_INSTANCES]. */
  serviceWord(s: number): number {
    return (this.g.serviceOff >> 2) + s * SERVICE_WORDS;
  }

  /** Word index of chain `c`'s entry: [length, hop × MAX_HOPS]. */
  chainWord(c: number): number {
    return (this.g.chainOff >> 2) + c * CHAIN_WORDS;
  }

  rxRingOffset(id: number): number {
    return rxRingOffset(this.g, id);
  }

  txRingOffset(id: number): number {
    return txRingOffset(this.g, id);
  }

  msgRingOffset(id: number): number {
    return msgRingOffset(this.g, id);
  }

  get rxToTxRingOffset(): number {
    return rxToTxRingOffset(this.g);
  }

  get managerState(): number {
    return Atomics.load(this.i32, IH.managerState);
  }
}

export interface InstanceOptions {
  name: string;
  pool: PoolOptions;
  nfRx: number;
  nfTx: number;
  ports: number;
}

/** Creates the shared files of a new instance (manager only, cold). */
export function createInstance(o: InstanceOptions): InstanceView {
  const g = instanceGeometry(o.nfRx, o.nfTx, o.ports);
  const dir = ShmDir.create(o.name);
  try {
    const poolMem = dir.createFile(POOL_FILE, poolBytes(o.pool));
    initPool(poolMem, 0, o.pool);
    const mem = dir.createFile(INSTANCE_FILE, g.totalBytes);
    const h = new Int32Array(mem, 0, 32);
    h[IH.version] = INSTANCE_VERSION;
    h[IH.nfRxCap] = g.nfRxCap;
    h[IH.nfTxCap] = g.nfTxCap;
    h[IH.ports] = g.ports;
    h[IH.managerState] = ManagerState.STARTING;
    h[IH.managerPid] = process.pid;
    h[IH.serviceOff] = g.serviceOff;
    h[IH.chainOff] = g.chainOff;
    h[IH.slotOff] = g.slotOff;
    h[IH.slotBytes] = g.slotBytes;
    h[IH.countersOff] = g.countersOff;
    h[IH.ringsOff] = g.ringsOff;
    h[IH.totalBytes] = g.totalBytes;
    const header = new Int32Array(mem, 0, INSTANCE_HEADER_BYTES >> 2);
    header[IH.rxCpu] = -1;
    header[IH.txCpu] = -1;
    initCounters(mem, g.countersOff, CounterSet.count, COUNTERS_PER_SET);
    initCounters(mem, g.metricsOff, MAX_NFS, NF_METRICS_MAX);
    for (let id = 0; id < MAX_NFS; id++) {
      initRing(mem, rxRingOffset(g, id), g.nfRxCap, RingKind.MPSC);
      initRing(mem, txRingOffset(g, id), g.nfTxCap, RingKind.SPSC);
    }
    initRing(mem, rxToTxRingOffset(g), g.nfTxCap, RingKind.SPSC);
    for (let id = 0; id < MAX_NFS; id++) initRing(mem, msgRingOffset(g, id), MSG_SLOTS, RingKind.MPSC);
    Atomics.store(h, IH.magic, INSTANCE_MAGIC | 0);
    return new InstanceView(dir, mem, poolMem);
  } catch (err) {
    dir.remove();
    throw err;
  }
}

/** Maps the files of a manager that died, as their new owner (takeover; cold). */
export function adoptInstance(name: string): InstanceView {
  const dir = ShmDir.adopt(name);
  return new InstanceView(dir, dir.openFile(INSTANCE_FILE), dir.openFile(POOL_FILE));
}

/**
 * Maps an existing instance (NFs, worker threads, CLI readers). `poolReadOnly`: the pool
 * without write permission (a read-only NF: a write to any packet kills its process).
 */
export function attachInstance(name: string, o: { poolReadOnly?: boolean } = {}): InstanceView {
  const dir = ShmDir.open(name);
  return new InstanceView(dir, dir.openFile(INSTANCE_FILE), dir.openFile(POOL_FILE, o.poolReadOnly === true));
}
