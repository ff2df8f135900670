/**
 * Where every buffer of the pool is (cold). Two forms:
 *
 *   countBuffers   while traffic flows: counts per place — free rings, descriptor rings, each
 *                  NF's slot records, the ports and the manager's caches (gauges the data-plane
 *                  loops refresh every 200 ms and when they go idle). Buffers move while it counts, so the remainder
 *                  (`inMotion`) is those caught between two places, not a leak.
 *   auditBuffers   when nothing moves (the manager's stop, after the loops and NFs are gone):
 *                  visits every descriptor in every place and marks it, so a buffer that is
 *                  nowhere is named (with what its meta says of its last trip), and one found
 *                  twice (freed twice: the pool would hand it to two owners) is named too.
 */
import type { InstanceView } from '../shm/instance.js';
import type { BufferCount } from '../protocol/messages.js';
import {
  CACHE_CAP,
  CounterSet,
  HELD_MAX,
  ManagerHeldCounters,
  MAX_NFS,
  NS,
  PortRxCounters,
  PortTxCounters,
  STAGE_TX,
  STAGE_WORDS,
} from '../shm/instance-layout.js';
import { BURST } from '../shm/layout.js';
import { NULL_DESC } from '../shm/pool.js';
import { JUMBO_CACHE, type PoolCache } from '../shm/pool-cache.js';
import { Meta } from '../shm/pool-layout.js';
import { RW } from '../shm/ring-layout.js';
import { ringAt, type RingWords } from './reclaim.js';

export interface BufferAudit {
  total: number;
  free: number;
  /** in rings, NF slots or the caches passed in */
  elsewhere: number;
  /** in no place at all: lost */
  missing: number;
  /** found in two places (e.g. freed twice) */
  duplicates: number;
  /** up to 5 missing or duplicated buffers with their last meta, for the log */
  examples: string[];
}

function occupancy(r: RingWords): number {
  return (Atomics.load(r.w, RW.prodTail) - Atomics.load(r.w, RW.consTail)) | 0;
}

/** Calls `f` for every descriptor between the consumer and producer tails (cold). */
function eachInRing(r: RingWords, f: (d: number) => void): void {
  const tail = Atomics.load(r.w, RW.consTail);
  const n = (Atomics.load(r.w, RW.prodTail) - tail) | 0;
  for (let i = 0; i < n; i++) f(r.slots[(tail + i) & r.mask]!);
}

function descriptorRings(inst: InstanceView): RingWords[] {
  const out: RingWords[] = [];
  for (let id = 1; id < MAX_NFS; id++)
    out.push(ringAt(inst.mem, inst.rxRingOffset(id)), ringAt(inst.mem, inst.txRingOffset(id)));
  out.push(ringAt(inst.mem, inst.rxToTxRingOffset));
  return out;
}

/** Calls `f` for every descriptor NF slot `id` records (cold). */
function eachInSlot(inst: InstanceView, id: number, f: (d: number) => void): void {
  const u32 = inst.u32;
  const slot = inst.slotWord(id);
  const g = inst.g;
  const list = (base: number, max: number): void => {
    for (let i = 0, c = Math.min(u32[base]!, max); i < c; i++) f(u32[base + 1 + i]!);
  };
  list(slot + NS.inflight, BURST);
  list(slot + g.heldWord, HELD_MAX);
  const cache = slot + g.cacheWord;
  for (let i = 0, c = Math.min(u32[cache + CACHE_CAP]!, CACHE_CAP); i < c; i++) f(u32[cache + i]!);
  const jumbo = cache + CACHE_CAP + 1;
  for (let i = 0, c = Math.min(u32[jumbo + JUMBO_CACHE]!, JUMBO_CACHE); i < c; i++) f(u32[jumbo + i]!);
  for (let s = STAGE_TX; s < MAX_NFS; s++) list(slot + g.stagingWord + s * STAGE_WORDS, BURST);
}

/** Counts per place while traffic flows (cold; a few thousand reads). */
export function countBuffers(
  inst: InstanceView,
  portNames: readonly string[],
  managerCache: PoolCache | undefined,
): BufferCount {
  const pool = inst.pool;
  const total = pool.count + pool.jumbos;
  const free = pool.ringFreeCount() + pool.jumboFreeCount();
  let rings = 0;
  for (const r of descriptorRings(inst)) rings += occupancy(r);
  const nfs: BufferCount['nfs'] = [];
  for (let id = 1; id < MAX_NFS; id++) {
    let held = 0;
    eachInSlot(inst, id, (d) => {
      if (d !== NULL_DESC) held++;
    });
    if (held > 0) nfs.push({ nfId: id, held });
  }
  const cb = inst.counters;
  const ports = portNames.map((port, i) => ({
    port,
    held: cb.read(CounterSet.portRx(i), PortRxCounters.held) + cb.read(CounterSet.portTx(i), PortTxCounters.held),
  }));
  const manager =
    cb.read(CounterSet.managerHeld, ManagerHeldCounters.rxCache) +
    cb.read(CounterSet.managerHeld, ManagerHeldCounters.txCache) +
    (managerCache ? managerCache.cached + managerCache.cachedJumbos : 0);
  const placed = free + rings + nfs.reduce((a, x) => a + x.held, 0) + ports.reduce((a, x) => a + x.held, 0) + manager;
  return { total, free, rings, nfs, ports, manager, inMotion: total - placed };
}

/**
 * Visits every place a buffer can be and marks each descriptor (cold: when nothing moves).
 * `more` names further places the caller holds (a cache's stack, say); `nowhere` gets each
 * buffer found in no place (a manager taking over frees those: the dead manager held them).
 */
export function auditBuffers(
  inst: InstanceView,
  more: (mark: (d: number) => void) => void = () => {},
  nowhere?: (d: number) => void,
): BufferAudit {
  const pool = inst.pool;
  const total = pool.count + pool.jumbos;
  const seen = new Uint8Array(total);
  const span = pool.jumboSpan;
  const indexOf = (d: number): number => {
    if (d < pool.count) return d;
    const j = d - pool.count;
    return j % span === 0 && j / span < pool.jumbos ? pool.count + j / span : -1;
  };
  let duplicates = 0;
  const dupes: number[] = [];
  const mark = (d: number): void => {
    if (d === NULL_DESC) return;
    const i = indexOf(d);
    if (i < 0) return;
    if (seen[i] === 1) {
      duplicates++;
      if (dupes.length < 5) dupes.push(d);
    }
    seen[i] = 1;
  };
  eachInRing(ringAt(pool.buffer, pool.freeProducer.byteOffset), mark);
  eachInRing(ringAt(pool.buffer, pool.jumboProducer.byteOffset), mark);
  let free = 0;
  for (let i = 0; i < total; i++) free += seen[i]!;
  for (const r of descriptorRings(inst)) eachInRing(r, mark);
  for (let id = 1; id < MAX_NFS; id++) eachInSlot(inst, id, mark);
  more(mark);
  let placed = 0;
  const examples: string[] = [];
  const describe = (d: number, what: string): string => {
    const m = pool.metaIndex(d);
    const w = pool.words;
    return `buffer ${d} ${what} (len ${w[m + Meta.len]}, port ${w[m + Meta.port]}, chain hop ${w[m + Meta.chainIndex]}, action ${w[m + Meta.action]}, destination ${w[m + Meta.destination]})`;
  };
  for (let i = 0; i < total; i++) {
    if (seen[i] === 1) {
      placed++;
      continue;
    }
    const d = i < pool.count ? i : pool.count + (i - pool.count) * span;
    if (examples.length < 5) examples.push(describe(d, 'is nowhere'));
    nowhere?.(d);
  }
  for (const d of dupes) if (examples.length < 5) examples.push(describe(d, 'is in two places'));
  return { total, free, elsewhere: placed - free, missing: total - placed, duplicates, examples };
}
