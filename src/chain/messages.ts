/**
 * Messages between the manager and NFs, and from NF to NF: each NF has an inbox in shared
 * memory — an MPSC ring of MSG_SLOTS slots, each slot's message (sender id + a JSON payload of
 * at most MSG_BYTES) in the area beside the ring. A sender reserves a slot with one
 * compareExchange (journaled, so a sender that dies mid-way cannot stall the inbox), writes the
 * message, publishes. A full inbox or a missing destination is a result the sender gets back
 * ('ring-full', 'no-destination'), never an exception and never a silent loss.
 *
 * Messages are control traffic (cold path): they allocate (JSON).
 */
import type { InstanceView } from '../shm/instance.js';
import {
  IH,
  MAX_NFS,
  MAX_SERVICES,
  MSG_BYTES,
  MSG_SLOTS,
  NfState,
  NS,
  msgAreaOffset,
  msgRingId,
} from '../shm/instance-layout.js';
import { MpReserver, ScConsumer } from '../shm/ring.js';
import { NULL_DESC } from '../shm/pool.js';
import { bucketWord } from './service-table.js';

/**
 * 'no-handler': the NF (the member serving the service, in a fused group) has no message() hook,
 * so the message would never be read (the manager knows once the NF is ready; NF-to-NF sends
 * cannot tell, and deliver it).
 */
export type MessageResult = 'ok' | 'no-destination' | 'ring-full' | 'too-large' | 'no-handler';
/** An NF by id, or a service (one of its instances, picked by `key` like a flow hash; default 0). */
export type MessageTarget = { instance: number } | { service: number; key?: number };

/** The inbox the manager's RX loop reads (slot 0 is never an NF). */
export const MANAGER_INBOX = 0;

/**
 * NF → RX loop: pin a flow to a chain. k = [family, proto, srcPort, dstPort, addr words 0..7]
 * (FlowKey's fields, the addresses as unsigned 32-bit numbers).
 */
export interface FlowPinMessage {
  pin: number;
  k: number[];
}

export function isFlowPin(x: unknown): x is FlowPinMessage {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as FlowPinMessage).pin === 'number' &&
    Array.isArray((x as FlowPinMessage).k) &&
    (x as FlowPinMessage).k.length === 12
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Messenger {
  private readonly inst: InstanceView;
  private readonly selfId: number;
  private readonly rings: (MpReserver | undefined)[] = [];
  private readonly journal: { words: Int32Array; base: number } | undefined;

  constructor(inst: InstanceView, selfId: number, journal?: { words: Int32Array; base: number }) {
    this.inst = inst;
    this.selfId = selfId;
    this.journal = journal;
  }

  private ring(id: number): MpReserver {
    let r = this.rings[id];
    if (!r) {
      r = new MpReserver(this.inst.mem, this.inst.msgRingOffset(id), `NF ${id} inbox`);
      if (this.journal) r.setJournal(this.journal.words, this.journal.base, msgRingId(id));
      this.rings[id] = r;
    }
    return r;
  }

  /** The NF a target names right now, or 0. */
  resolve(to: MessageTarget): number {
    const i32 = this.inst.i32;
    let id: number;
    if ('instance' in to) {
      id = to.instance;
    } else {
      if (!Number.isInteger(to.service) || to.service < 1 || to.service >= MAX_SERVICES) return 0;
      id = i32[bucketWord(this.inst.serviceWord(to.service), Atomics.load(i32, IH.epoch), to.key ?? 0)]!;
    }
    if (!Number.isInteger(id) || id < 1 || id >= MAX_NFS) return 0;
    const state = Atomics.load(i32, this.inst.slotWord(id) + NS.state);
    return state === NfState.RUNNING || state === NfState.STARTING ? id : 0;
  }

  send(to: MessageTarget, payload: unknown): MessageResult {
    const id = this.resolve(to);
    if (id === 0) return 'no-destination';
    // The service travels with the message: a fused group hands it to that member.
    return this.deliver(id, payload, 'service' in to ? to.service : 0);
  }

  /**
   * Sends to the manager's RX loop (inbox 0, which no NF slot uses): requests that act on the
   * data path, such as flow pins (FlowPinMessage).
   */
  sendToManager(payload: unknown): MessageResult {
    return this.deliver(MANAGER_INBOX, payload);
  }

  private deliver(id: number, payload: unknown, service = 0): MessageResult {
    let bytes: Uint8Array;
    try {
      bytes = encoder.encode(JSON.stringify(payload ?? null));
    } catch {
      return 'too-large'; // not serialisable (cycles, BigInt): nothing of it can be sent
    }
    if (bytes.length + 4 > MSG_BYTES) return 'too-large';
    const r = this.ring(id);
    const head = r.reserveAll(1);
    if (head === null) return 'ring-full';
    const slot = head & (MSG_SLOTS - 1);
    const area = msgAreaOffset(this.inst.g, id) + slot * MSG_BYTES;
    // Header: the sender's NF id (low 16 bits) and the service it was sent to (high 16; 0: by NF id).
    new DataView(this.inst.mem, area, MSG_BYTES).setUint32(0, (this.selfId | (service << 16)) >>> 0, true);
    new Uint8Array(this.inst.mem, area + 4, bytes.length).set(bytes);
    r.slots[slot] = bytes.length;
    r.publishReserved(head, 1);
    return 'ok';
  }
}

/** An NF's own inbox (its single consumer). */
export class Inbox {
  private readonly ring: ScConsumer;
  private readonly area: number;
  private readonly mem: ArrayBuffer;

  constructor(inst: InstanceView, id: number) {
    this.ring = new ScConsumer(inst.mem, inst.msgRingOffset(id), `NF ${id} inbox`);
    this.area = msgAreaOffset(inst.g, id);
    this.mem = inst.mem;
  }

  /**
   * Delivers up to `max` waiting messages in order; returns how many. `service` is the service
   * the message was sent to, or 0 when it was sent to this NF by id.
   */
  poll(max: number, deliver: (from: number, payload: unknown, service: number) => void): number {
    const n = this.ring.available(max);
    if (n === 0) return 0;
    const pos = this.ring.position;
    let delivered = 0;
    // Read every message before releasing the slots: a slot is not reused until released.
    for (let i = 0; i < n; i++) {
      const slot = (pos + i) & (MSG_SLOTS - 1);
      const len = this.ring.slots[slot]!;
      if (len === NULL_DESC || len > MSG_BYTES - 4) continue; // a slot a dead sender left empty
      const base = this.area + slot * MSG_BYTES;
      const head = new DataView(this.mem, base, 4).getUint32(0, true);
      let payload: unknown;
      try {
        payload = JSON.parse(decoder.decode(new Uint8Array(this.mem, base + 4, len)));
      } catch {
        continue;
      }
      delivered++;
      deliver(head & 0xffff, payload, head >>> 16);
    }
    this.ring.release(n);
    return delivered;
  }
}
