/**
 * Reclaiming a dead NF's buffers (crash safety). When an NF process dies — even by kill -9 in
 * the middle of a burst — every buffer it held is recorded in its slot of shared memory:
 *
 *   inflight   the burst it was handling          held     packets it kept or created
 *   cache      its pool cache (stack + count,     staging  per-destination stages
 *              and the jumbo stack + count)
 *   rx ring    what was queued for it             journal  a ring operation in progress
 *
 * The journal tells whether a stage was already handed to a ring (then it is not freed), and
 * lets the manager finish a ring operation the NF left half done, so that no ring stalls on
 * a reservation that will never be published: a reservation whose slots were written is
 * published as it is; one whose slots may be partly written is filled with NULL_DESC (which
 * consumers skip) and published. A buffer recorded in two places is freed once.
 */
import { Journal, JournalState } from '../shm/ring.js';
import { RW, RING_HEADER_BYTES } from '../shm/ring-layout.js';
import { CACHE_CAP, FREE_RING_ID, HELD_MAX, MAX_NFS, NS, STAGE_TX, STAGE_WORDS } from '../shm/instance-layout.js';
import { BURST } from '../shm/layout.js';
import { NULL_DESC } from '../shm/pool.js';
import { JUMBO_CACHE, type PoolCache } from '../shm/pool-cache.js';
import type { InstanceView } from '../shm/instance.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RingWords {
  w: Int32Array;
  slots: Uint32Array;
  mask: number;
}

/** A ring's header words and slots at `off` in `buffer` (cold). */
export function ringAt(buffer: ArrayBuffer, off: number): RingWords {
  const w = new Int32Array(buffer, off, RING_HEADER_BYTES >> 2);
  const cap = w[RW.capacity]!;
  return { w, slots: new Uint32Array(buffer, off + RING_HEADER_BYTES, cap), mask: cap - 1 };
}

/** Resolves a journal ring id to the ring's words (null for an unknown id). */
function journalRing(inst: InstanceView, nfId: number, ringId: number): { ring: RingWords; consumer: boolean } | null {
  if (ringId === FREE_RING_ID)
    return { ring: ringAt(inst.pool.buffer, inst.pool.freeProducer.byteOffset), consumer: false };
  if (ringId === FREE_RING_ID + 1)
    return { ring: ringAt(inst.pool.buffer, inst.pool.freeProducer.byteOffset), consumer: true };
  if (ringId === FREE_RING_ID + 2)
    return { ring: ringAt(inst.pool.buffer, inst.pool.jumboProducer.byteOffset), consumer: false };
  if (ringId >= 1 && ringId < 1 + MAX_NFS)
    return { ring: ringAt(inst.mem, inst.rxRingOffset(ringId - 1)), consumer: false };
  if (ringId === 100 + nfId) return { ring: ringAt(inst.mem, inst.txRingOffset(nfId)), consumer: false };
  // Another NF's inbox (a message send): a half-done one is finished or emptied like any ring.
  if (ringId >= 200 && ringId < 200 + MAX_NFS)
    return { ring: ringAt(inst.mem, inst.msgRingOffset(ringId - 200)), consumer: false };
  return null;
}

/**
 * Waits until the published counter `tailWord` reaches `head` (earlier reservations done).
 * Returns 'at' when it stays at head, 'past' when it moved beyond, 'timeout' otherwise.
 */
async function waitTail(w: Int32Array, tailWord: number, head: number, ms: number): Promise<'at' | 'past' | 'timeout'> {
  const end = Date.now() + ms;
  for (;;) {
    const d = (Atomics.load(w, tailWord) - head) | 0;
    if (d > 0) return 'past';
    if (d === 0 && Date.now() >= end) return 'at';
    if (Date.now() >= end) return 'timeout';
    await sleep(d === 0 ? 20 : 1);
  }
}

export interface ReclaimResult {
  freed: number;
  /** what the journal showed and what was done about it */
  journal: string;
}

/**
 * Finishes or undoes the ring operation journaled at word `jb` by a thread that died (an NF's
 * slot journal, or one of the manager's): a reservation whose slots were written is published,
 * one that may be partly written is filled with NULL_DESC and published, a consumer's
 * reservation is completed. `add` gets the descriptors that never reached the ring, read from
 * the cache stack at `cacheBase` in the slot (-1: the stack is not in shared memory; the
 * caller finds them otherwise). `ownTxRingId` is the journal id of the thread's own tx ring.
 */
export async function repairJournal(
  inst: InstanceView,
  jb: number,
  ownTxRingId: number,
  cacheBase: number,
  add: (d: number) => void,
): Promise<{ skipStage: number; journal: string }> {
  const u32 = inst.u32;
  const i32 = inst.i32;
  const jumboBase = cacheBase + CACHE_CAP + 1;
  const state = i32[jb + Journal.state]!;
  const ringId = i32[jb + Journal.ring]!;
  const head = i32[jb + Journal.head]!;
  const n = i32[jb + Journal.n]!;
  const src = i32[jb + Journal.src]!;
  let skipStage = -1;
  let journal = 'idle';
  const jr = state === JournalState.IDLE ? null : journalRing(inst, ownTxRingId - 100, ringId);
  if (jr && n > 0 && n <= Math.max(BURST, CACHE_CAP)) {
    const { w, slots, mask } = jr.ring;
    const isFreeRing = ringId === FREE_RING_ID;
    const isJumboRing = ringId === FREE_RING_ID + 2;
    // NF rx rings and the NF's own tx ring are fed from a staging array (Journal.src); the free
    // ring from the cache stack; inboxes from nothing that holds buffers.
    const staged = ringId < 200;
    if (!jr.consumer) {
      const published = async (): Promise<boolean> => {
        // COPIED: slots hold our descriptors; publish them as they are once it is our turn.
        const r = await waitTail(w, RW.prodTail, head, 0);
        if (r === 'past') return true;
        const r2 = await waitTail(w, RW.prodTail, head, 2000);
        if (r2 === 'past') return true;
        Atomics.store(w, RW.prodTail, (head + n) | 0);
        return true;
      };
      const nullAndPublish = async (confirmMs: number): Promise<boolean> => {
        // Our reservation (if it exists) blocks prodTail at `head`: then fill it with
        // NULL_DESC and publish. If prodTail moves past head, the reservation was not ours.
        const r = await waitTail(w, RW.prodTail, head, confirmMs);
        if (r !== 'at' || ((Atomics.load(w, RW.prodHead) - head) | 0) <= 0) return false;
        for (let i = 0; i < n; i++) slots[(head + i) & mask] = NULL_DESC;
        Atomics.store(w, RW.prodTail, (head + n) | 0);
        return true;
      };
      if (state === JournalState.PUBLISHED) {
        skipStage = staged ? src : -1;
        journal = `published ${n} to ring ${ringId}`;
      } else if (state === JournalState.COPIED) {
        await published();
        skipStage = staged ? src : -1;
        journal = `completed the publish of ${n} to ring ${ringId}`;
      } else if (state === JournalState.RESERVED || state === JournalState.INTENT) {
        const repaired = await nullAndPublish(state === JournalState.INTENT ? 1000 : 50);
        journal = repaired
          ? `filled and published a dead reservation of ${n} on ring ${ringId}`
          : `no reservation of its own on ring ${ringId}`;
        // The descriptors never reached the ring: free them from where they came from.
        if (isFreeRing && cacheBase >= 0)
          for (let i = 0; i < n && src + i < CACHE_CAP; i++) add(u32[cacheBase + src + i]!);
        if (isJumboRing && cacheBase >= 0)
          for (let i = 0; i < n && src + i < JUMBO_CACHE; i++) add(u32[jumboBase + src + i]!);
      }
    } else {
      // The free ring's consumer side (cache refill).
      if (state === JournalState.CONSUMED) {
        if (cacheBase >= 0) for (let i = 0; i < n && src + i < CACHE_CAP; i++) add(u32[cacheBase + src + i]!);
        journal = `took back ${n} buffers of a refill`;
      } else if (state === JournalState.RESERVED || state === JournalState.INTENT) {
        const r = await waitTail(w, RW.consTail, head, state === JournalState.INTENT ? 1000 : 50);
        if (r === 'at' && ((Atomics.load(w, RW.consHead) - head) | 0) > 0) {
          for (let i = 0; i < n; i++) add(slots[(head + i) & mask]!);
          Atomics.store(w, RW.consTail, (head + n) | 0);
          journal = `completed a dead refill of ${n}`;
        }
      }
    }
  }

  return { skipStage, journal };
}

/** Frees everything the dead NF `nfId` held and repairs its half-done ring operation. */
export async function reclaimNf(inst: InstanceView, nfId: number, cache: PoolCache): Promise<ReclaimResult> {
  const u32 = inst.u32;
  const slot = inst.slotWord(nfId);
  const g = inst.g;
  const found = new Set<number>();
  const add = (d: number): void => {
    if (d !== NULL_DESC && inst.pool.isValid(d)) found.add(d);
  };
  const stagingBase = slot + g.stagingWord;
  const cacheBase = slot + g.cacheWord;
  const jumboBase = cacheBase + CACHE_CAP + 1;

  // 1. The journal: a ring operation the NF may have left half done.
  const { skipStage, journal } = await repairJournal(inst, slot + NS.journal, 100 + nfId, cacheBase, add);

  // 2. Everything recorded in the slot.
  const inflight = slot + NS.inflight;
  for (let i = 0, c = Math.min(u32[inflight]!, BURST); i < c; i++) add(u32[inflight + 1 + i]!);
  const held = slot + g.heldWord;
  for (let i = 0, c = Math.min(u32[held]!, HELD_MAX); i < c; i++) add(u32[held + 1 + i]!);
  for (let i = 0, c = Math.min(u32[cacheBase + CACHE_CAP]!, CACHE_CAP); i < c; i++) add(u32[cacheBase + i]!);
  for (let i = 0, c = Math.min(u32[jumboBase + JUMBO_CACHE]!, JUMBO_CACHE); i < c; i++) add(u32[jumboBase + i]!);
  for (let s = STAGE_TX; s < MAX_NFS; s++) {
    if (s === skipStage) continue;
    const b = stagingBase + s * STAGE_WORDS;
    for (let i = 0, c = Math.min(u32[b]!, BURST); i < c; i++) add(u32[b + 1 + i]!);
  }
  // 3. What is queued in its rx ring (it was the only consumer).
  drainRing(inst, nfId, add);

  // 4. Free, then clear the records.
  const all = Uint32Array.from(found);
  cache.free(all, all.length);
  cache.flush();
  clearSlotRecords(inst, nfId);
  return { freed: all.length, journal };
}

/** Takes everything out of NF `nfId`'s rx ring (its consumer is gone); calls `take` for each. */
export function drainRing(inst: InstanceView, nfId: number, take: (d: number) => void): number {
  const { w, slots, mask } = ringAt(inst.mem, inst.rxRingOffset(nfId));
  const tail = Atomics.load(w, RW.consTail);
  const n = (Atomics.load(w, RW.prodTail) - tail) | 0;
  for (let i = 0; i < n; i++) take(slots[(tail + i) & mask]!);
  if (n > 0) Atomics.store(w, RW.consTail, (tail + n) | 0);
  return n;
}

/**
 * Takes everything out of every NF's tx ring and the RX → TX ring (their consumer, the TX
 * loop, has stopped); calls `take` for each. Returns how many (cold: the manager's stop).
 */
export function drainTxRings(inst: InstanceView, take: (d: number) => void): number {
  let total = 0;
  const offsets = [inst.rxToTxRingOffset];
  for (let id = 1; id < MAX_NFS; id++) offsets.push(inst.txRingOffset(id));
  for (const off of offsets) {
    const { w, slots, mask } = ringAt(inst.mem, off);
    const tail = Atomics.load(w, RW.consTail);
    const n = (Atomics.load(w, RW.prodTail) - tail) | 0;
    for (let i = 0; i < n; i++) take(slots[(tail + i) & mask]!);
    if (n > 0) Atomics.store(w, RW.consTail, (tail + n) | 0);
    total += n;
  }
  return total;
}

/** Zeroes a slot's records (counts and journal), before reuse. */
export function clearSlotRecords(inst: InstanceView, nfId: number): void {
  const u32 = inst.u32;
  const slot = inst.slotWord(nfId);
  const g = inst.g;
  for (let i = 0; i < 8; i++) u32[slot + NS.journal + i] = 0;
  u32[slot + NS.inflight] = 0;
  u32[slot + g.heldWord] = 0;
  u32[slot + g.cacheWord + CACHE_CAP] = 0;
  u32[slot + g.cacheWord + CACHE_CAP + 1 + JUMBO_CACHE] = 0;
  for (let s = 0; s < MAX_NFS; s++) u32[slot + g.stagingWord + s * STAGE_WORDS] = 0;
}
