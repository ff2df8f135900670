/**
 * The service table in the instance file: one owner for its changes (cold; the routers read it
 * per packet). Service s is [count, nfId × MAX_INSTANCES, …] at `inst.serviceWord(s)`, then one
 * indirection table (indirection.ts) per affinity epoch from SERVICE_BUCKETS. Every change ends
 * with `serviceVersion` advanced, which routers watch to refresh what they cache.
 */
import type { InstanceView } from '../shm/instance.js';
import { EPOCHS, IH, MAX_SERVICES, SERVICE_BUCKETS } from '../shm/instance-layout.js';
import { BUCKETS, join, leave } from './indirection.js';

/** Word index of epoch `epoch`'s indirection table of the service at word `sw`. */
export function tableWord(sw: number, epoch: number): number {
  return sw + SERVICE_BUCKETS + (epoch & (EPOCHS - 1)) * BUCKETS;
}

/**
 * Word index of the bucket that picks the instance for `key` (a flow hash) in epoch `epoch` of
 * the service at word `sw`. Hot path: the routers call it per packet (V8 inlines it).
 */
export function bucketWord(sw: number, epoch: number, key: number): number {
  return sw + SERVICE_BUCKETS + (epoch & (EPOCHS - 1)) * BUCKETS + (key & (BUCKETS - 1));
}

/** True when NF `id` is a member of `service`. */
export function isMember(inst: InstanceView, service: number, id: number): boolean {
  const i32 = inst.i32;
  const sw = inst.serviceWord(service);
  for (let i = 0; i < i32[sw]!; i++) if (i32[sw + 1 + i] === id) return true;
  return false;
}

export interface Joined {
  /** the epoch NF `id` joined in */
  epoch: number;
  /** the epoch current before; when it differs, its flows keep their instances */
  previous: number;
  /** flows held by `previous` */
  heldFlows: number;
  /** every epoch held flows: the oldest was reused and its flows may move */
  reusedOldest: { epoch: number; flows: number } | null;
}

/**
 * NF `id` joins `service`: in a new affinity epoch (a copy of the current one for every
 * service, with the join applied) when other instances serve flows of the current one and
 * `inPlace` is false, so those flows keep their instances; else in the current epoch.
 */
export function addMember(inst: InstanceView, service: number, id: number, inPlace: boolean): Joined {
  const i32 = inst.i32;
  const sw = inst.serviceWord(service);
  const count = i32[sw]!;
  i32[sw + 1 + count] = id;
  Atomics.store(i32, sw, count + 1);
  const members = Array.from(i32.subarray(sw + 1, sw + 2 + count));
  const cur = Atomics.load(i32, IH.epoch);
  const heldFlows = Atomics.load(i32, IH.epochFlows + cur);
  let epoch = cur;
  let reusedOldest: Joined['reusedOldest'] = null;
  if (count > 0 && heldFlows > 0 && !inPlace) {
    epoch = -1;
    for (let k = 1; k < EPOCHS && epoch < 0; k++) {
      const c = (cur + k) % EPOCHS;
      if (Atomics.load(i32, IH.epochFlows + c) === 0) epoch = c;
    }
    if (epoch < 0) {
      epoch = (cur + 1) % EPOCHS;
      reusedOldest = { epoch, flows: Atomics.load(i32, IH.epochFlows + epoch) };
    }
    for (let s = 1; s < MAX_SERVICES; s++) {
      const sw2 = inst.serviceWord(s);
      i32.copyWithin(tableWord(sw2, epoch), tableWord(sw2, cur), tableWord(sw2, cur) + BUCKETS);
    }
  }
  join(i32, tableWord(sw, epoch), members, id);
  if (epoch !== cur) Atomics.store(i32, IH.epoch, epoch);
  Atomics.add(i32, IH.serviceVersion, 1);
  return { epoch, previous: cur, heldFlows, reusedOldest };
}

/**
 * NF `id` leaves `service`: its buckets go to the remaining instances first, in every epoch,
 * so no flow is ever sent to it by the table; then the member list, the shorter count
 * published first so readers never index past it.
 */
export function removeMember(inst: InstanceView, service: number, id: number): void {
  const i32 = inst.i32;
  const sw = inst.serviceWord(service);
  const count = i32[sw]!;
  const remaining = Array.from(i32.subarray(sw + 1, sw + 1 + count)).filter((x) => x !== id);
  for (let epoch = 0; epoch < EPOCHS; epoch++) leave(i32, tableWord(sw, epoch), remaining, id);
  for (let i = 0; i < count; i++) {
    if (i32[sw + 1 + i] === id) {
      i32[sw + 1 + i] = i32[sw + count]!;
      Atomics.store(i32, sw, count - 1);
      break;
    }
  }
  Atomics.add(i32, IH.serviceVersion, 1);
}
