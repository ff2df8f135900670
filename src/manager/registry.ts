/**
 * The NF registry (cold): which NF holds which slot, on which connection and in which process;
 * putting NFs in and out of service; and supervision — an NF that stops, dies or must go is
 * taken out of service at once, and its buffers come back only once its process is certainly
 * gone (docs/architecture.md, "Supervision").
 *
 * The invariant: a buffer is given back only when no process can still write it. So a process
 * is waited for (EXIT_GRACE_MS when it said it is stopping, DYING_GRACE_MS when its connection
 * closed or it is being removed) and then killed through its pidfd, which no reused pid can
 * fool; the reclaim starts when the pidfd says the process has exited. A process that outlives
 * SIGKILL by KILL_WAIT_MS is quarantined: its slot is never reused, its buffers never freed.
 */
import { closeSync } from 'node:fs';
import { native } from '../native.js';
import { NfcError } from '../errors.js';
import type { GroupMember, MetricDecl, ReattachRequest, RegisterRequest } from '../protocol/messages.js';
import type { InstanceView } from '../shm/instance.js';
import {
  Access,
  CounterSet,
  EPOCHS,
  LatencyHist,
  MAX_INSTANCES,
  MAX_NFS,
  MAX_SERVICES,
  NF_METRICS_MAX,
  NfState,
  NS,
  RouteCounters,
} from '../shm/instance-layout.js';
import type { EventFields } from './events.js';
import { ROUTE_DROPS } from './observe.js';
import type { EventType } from '../protocol/messages.js';
import { NULL_DESC } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import { RING_HEADER_BYTES, RW } from '../shm/ring-layout.js';
import { addMember, isMember, removeMember } from '../chain/service-table.js';
import { DYING_GRACE_MS, EXIT_GRACE_MS, KILL_WAIT_MS, killAndWait, otherPidNamespace, type Conn } from './processes.js';
import { clearSlotRecords, drainRing, reclaimNf } from './reclaim.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The services whose instance list names NF `id` (one, or a fused group's; cold). */
export function servicesOf(inst: InstanceView, id: number): number[] {
  const out: number[] = [];
  for (let s = 1; s < MAX_SERVICES; s++) if (isMember(inst, s, id)) out.push(s);
  return out;
}

/**
 * An NF's totals as it leaves, as OpenNetVM's NFs print them on exit: received, sent on, dropped
 * by reason, its declared counters, and its time in service (cold).
 */
export function exitSummary(inst: InstanceView, e: NfEntry): { text: string; counts: Record<string, number> } {
  const set = CounterSet.nf(e.nfId);
  const c = (n: keyof typeof RouteCounters): number => inst.counters.read(set, RouteCounters[n] as number);
  const secs = (Date.now() - e.since) / 1000;
  const rx = c('rx');
  const sent = c('forwarded') + c('out');
  const byReason = ROUTE_DROPS.map(([k, label]) => [k, label, c(k)] as const).filter(([, , v]) => v > 0);
  const dropped = byReason.reduce((s, [, , v]) => s + v, 0);
  const counts: Record<string, number> = { rx, sent, dropped, seconds: Math.round(secs * 10) / 10 };
  for (const [k, , v] of byReason) counts[k] = v;
  const own = (e.metrics ?? []).map((d, i) => `${d.name} ${inst.metrics.read(e.nfId, i)}`);
  const text =
    `in ${secs.toFixed(1)} s: rx ${rx}, sent ${sent}, dropped ${dropped}` +
    (byReason.length ? ` (${byReason.map(([, label, v]) => `${label} ${v}`).join(', ')})` : '') +
    (secs > 0 ? `, ${Math.round(rx / secs)} pps on average` : '') +
    (own.length ? `; ${own.join(', ')}` : '');
  return { text, counts };
}

/** What a register or reattach request says the manager shows of the NF: options (as parsed), counters, latency. */
export function described(req: RegisterRequest | ReattachRequest): Pick<NfEntry, 'options' | 'metrics' | 'latency'> {
  return {
    options:
      req.parsedOptions && typeof req.parsedOptions === 'object' && !Array.isArray(req.parsedOptions)
        ? req.parsedOptions
        : req.options,
    metrics: checkDecls(req.metrics),
    latency: req.latency === true,
  };
}

/** The metric declarations of a register request: kept only when well formed (cold). */
function checkDecls(d: unknown): MetricDecl[] | undefined {
  if (!Array.isArray(d) || d.length > NF_METRICS_MAX) return undefined;
  const ok = d.every(
    (x: MetricDecl) =>
      typeof x === 'object' &&
      x !== null &&
      typeof x.name === 'string' &&
      x.name.length <= 64 &&
      (x.kind === 'counter' || x.kind === 'gauge') &&
      typeof x.help === 'string' &&
      (x.member === undefined || typeof x.member === 'string'),
  );
  return ok ? d.map((x: MetricDecl) => ({ ...x, help: x.help.slice(0, 200) })) : undefined;
}

export interface NfEntry {
  nfId: number;
  name: string;
  /** its (first) service */
  service: number;
  /** every service it serves: [service], or a fused group's members' services */
  services: number[];
  /** a fused group's members (absent: one NF) */
  members?: GroupMember[] | undefined;
  /** the process, as the kernel names it to the manager (SO_PEERCRED), and a pidfd on it */
  pid: number;
  pidfd: number;
  generation: number;
  /** when it registered (ms since the epoch) */
  since: number;
  /** the stall watch: its rx ring's consumer counter when last seen, and since when it has not moved (0: moving) */
  lastCons?: number;
  stalledSince?: number;
  /** the connection it registered on: the only one its lifecycle requests are taken from (null: inline) */
  conn: Conn | null;
  /** it runs in the manager's data-plane thread (registerInline): no process, no connection */
  inline?: boolean | undefined;
  module: string;
  /** the services it serves whose instance has a message() hook (from its `ready`; absent: not known) */
  listening?: number[] | undefined;
  /** its options (as given: the topology's, or its command line's) */
  options?: Record<string, unknown> | undefined;
  /** the counters and gauges it declared, in the order of their words in its metrics set */
  metrics?: MetricDecl[] | undefined;
  /** it records its own latency (LatencyHist.nf) */
  latency?: boolean | undefined;
  /** put in the service table */
  inService: boolean;
  /** scaled down: out of service and asked to stop */
  retired: boolean;
  gone: boolean;
}

/** What the registry needs of its manager: the instance, a buffer cache, the log. */
export interface RegistryHost {
  readonly inst: InstanceView;
  readonly cache: PoolCache;
  log(line: string): void;
  /** an event (events.ts): logged, and sent to whoever follows events */
  event(type: EventType, message: string, fields?: EventFields): void;
  /** ms an NF may leave packets waiting without taking one (manager.stallTimeout); 0: no limit */
  readonly stallMs: number;
}

export class Registry {
  readonly nfs = new Map<number, NfEntry>();
  /** each slot's generation: a new NF in a slot gets the next one */
  readonly generations = new Int32Array(MAX_NFS);
  /** slots whose rx ring the manager keeps draining (no consumer) */
  readonly orphanRings = new Set<number>();
  /** slots whose process could not be made to exit: never reused, their buffers never freed */
  readonly quarantined = new Map<number, { pid: number; pidfd: number; name: string }>();
  /** services being scaled up with rebalance: their new instances join the current epoch in place */
  readonly rebalancing = new Set<number>();
  /** NFs being taken away (waiting for their process to be gone, then reclaiming) */
  private readonly leaving = new Set<Promise<void>>();

  constructor(private readonly host: RegistryHost) {}

  /** The instances of a service (NFs, and fused groups that run it) that are neither gone nor retired. */
  instances(service: number): NfEntry[] {
    return [...this.nfs.values()].filter((e) => e.services.includes(service) && !e.gone && !e.retired);
  }

  /**
   * Gives an NF a slot (cold). The process is who the kernel says is connected, not who the
   * request says it is; it must be another process than the manager, and one NF per connection.
   */
  register(req: RegisterRequest, conn: Conn): NfEntry {
    if (conn.nfId)
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `this connection already registered NF ${conn.nfId}: one NF per connection`,
      );
    const peer = conn.peer;
    if (peer === null || peer.pid <= 0) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        'register refused: the kernel does not name the process on this connection (SO_PEERCRED)',
      );
    }
    if (peer.pid === process.pid)
      throw new NfcError('NFC_ERR_CONTROL', 'register refused: an NF runs in a process of its own, not in the manager');
    if (req.pid !== peer.pid && !otherPidNamespace(peer.pid)) {
      this.host.log(`refused a register for pid ${req.pid} from process ${peer.pid}`);
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `register for pid ${req.pid} refused: the request came from process ${peer.pid}`,
        {
          fix: 'an NF registers itself, from its own process',
        },
      );
    }
    const members = req.members;
    if (members !== undefined && (members.length < 2 || members[0]!.service !== req.service)) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        'register refused: a fused group lists two members or more, the first for the service registered',
      );
    }
    const services = members ? members.map((m) => m.service) : [req.service];
    for (const svc of services) {
      if (!Number.isInteger(svc) || svc < 1 || svc >= MAX_SERVICES) {
        throw new NfcError('NFC_ERR_INVALID_ARG', `service ${svc} is out of range 1..${MAX_SERVICES - 1}`);
      }
      if (services.indexOf(svc) !== services.lastIndexOf(svc)) {
        throw new NfcError(
          'NFC_ERR_INVALID_ARG',
          `a fused group runs each service once; service ${svc} is given twice`,
        );
      }
      const inService = [...this.nfs.values()].filter((e) => e.services.includes(svc) && !e.gone).length;
      if (inService >= MAX_INSTANCES) {
        throw new NfcError('NFC_ERR_LIMIT', `service ${svc} already has ${MAX_INSTANCES} instances`);
      }
    }
    let pidfd: number;
    try {
      pidfd = native().pidfdOpen(peer.pid);
    } catch (err) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `register refused: process ${peer.pid} cannot be supervised (pidfd_open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    let e: NfEntry;
    try {
      e = this.claim(
        req.nfId,
        { name: req.name, service: req.service, services, members, module: req.module },
        peer.pid,
        req.access === 'read-only',
      );
    } catch (err) {
      closeSync(pidfd);
      throw err;
    }
    e.pidfd = pidfd;
    e.conn = conn;
    Object.assign(e, described(req));
    conn.nfId = e.nfId;
    const what = members
      ? `fused group of ${members.map((m) => `${m.name} (service ${m.service})`).join(', ')}`
      : `service ${req.service}`;
    this.host.event(
      'nf-registered',
      `NF ${req.name}#${e.nfId} registered (${what}, pid ${peer.pid}${req.pid !== peer.pid ? `, ${req.pid} in its own pid namespace` : ''})`,
      { nf: `${req.name}#${e.nfId}`, nfId: e.nfId, service: req.service, detail: { pid: peer.pid, services } },
    );
    return e;
  }

  /**
   * An NF (or fused group) that runs inline, in the manager's own data-plane thread: a slot like
   * any NF's, no process of its own to supervise (it lives and dies with the manager). Cold.
   */
  registerInline(l: { name: string; service: number; module: string; members?: GroupMember[] | undefined }): NfEntry {
    const services = l.members ? l.members.map((m) => m.service) : [l.service];
    const e = this.claim(0, { ...l, services }, process.pid);
    e.inline = true;
    this.host.event(
      'nf-registered',
      `NF ${l.name}#${e.nfId} runs inline in the manager's loop (services ${services.join(', ')})`,
      { nf: `${l.name}#${e.nfId}`, nfId: e.nfId, service: l.service, detail: { inline: true, services } },
    );
    return e;
  }

  /** Gives a free slot (or the one asked for) to an NF, cleared of anything an earlier NF left (cold). */
  private claim(
    wanted: number,
    nf: Pick<NfEntry, 'name' | 'service' | 'services' | 'members' | 'module'>,
    pid: number,
    readOnly = false,
  ): NfEntry {
    const { inst, cache } = this.host;
    const i32 = inst.i32;
    const free = (n: number): boolean =>
      !this.nfs.has(n) && !this.quarantined.has(n) && i32[inst.slotWord(n) + NS.state] === NfState.FREE;
    let id = wanted;
    if (id) {
      if (id < 1 || id >= MAX_NFS) throw new NfcError('NFC_ERR_NF_ID', `NF id ${id} is out of range 1..${MAX_NFS - 1}`);
      if (!free(id)) throw new NfcError('NFC_ERR_NF_ID', `NF id ${id} is in use`);
    } else {
      for (id = 1; id < MAX_NFS && !free(id); id++);
      if (id >= MAX_NFS) throw new NfcError('NFC_ERR_LIMIT', `no free NF slot (${MAX_NFS - 1} NFs at most)`);
    }
    // Take the slot over: nothing may be left in it from an earlier NF.
    this.orphanRings.delete(id);
    drainRing(inst, id, (d) => {
      if (d !== NULL_DESC) cache.freeOne(d);
    });
    cache.flush();
    clearSlotRecords(inst, id);
    // Messages left for an earlier NF in this slot are not for the new one.
    const inbox = new Int32Array(inst.mem, inst.msgRingOffset(id), RING_HEADER_BYTES >> 2);
    Atomics.store(inbox, RW.consTail, Atomics.load(inbox, RW.prodTail));
    const slot = inst.slotWord(id);
    const gen = ++this.generations[id]!;
    i32[slot + NS.pid] = pid;
    i32[slot + NS.cpu] = -1;
    i32[slot + NS.service] = nf.service;
    i32[slot + NS.nfId] = id;
    i32[slot + NS.generation] = gen;
    i32[slot + NS.access] = readOnly ? Access.READ_ONLY : Access.READ_WRITE;
    inst.counters.reset(CounterSet.nf(id));
    inst.counters.reset(CounterSet.loopNf(id));
    inst.metrics.reset(id);
    inst.latency.reset(LatencyHist.nf(id));
    Atomics.store(i32, slot + NS.state, NfState.STARTING);
    const e: NfEntry = {
      nfId: id,
      ...nf,
      pid,
      pidfd: -1,
      generation: gen,
      since: Date.now(),
      conn: null,
      inService: false,
      retired: false,
      gone: false,
    };
    this.nfs.set(id, e);
    return e;
  }

  /** Takes back an NF of a manager that died, on the connection it came back on (cold). */
  readmit(e: Omit<NfEntry, 'inService' | 'retired' | 'gone' | 'conn'> & { conn: Conn }): void {
    const inService = e.services.some((s) => isMember(this.host.inst, s, e.nfId));
    this.nfs.set(e.nfId, { ...e, inService, retired: false, gone: false });
    e.conn.nfId = e.nfId;
  }

  /** The NF a lifecycle request names, if it is this connection's own (cold). */
  own(nfId: number, conn: Conn, what: string): NfEntry {
    const e = this.nfs.get(nfId);
    if (!e || e.gone) throw new NfcError('NFC_ERR_NOT_FOUND', `NF ${nfId} is not registered`);
    if (e.conn !== conn) {
      this.host.log(
        `refused "${what}" for NF ${e.name}#${nfId} from another connection (process ${conn.peer?.pid ?? 'unknown'})`,
      );
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `"${what}" for NF ${nfId} refused: only the connection that registered it may send it`,
        {
          fix: 'an NF process sends its own lifecycle requests; to stop an NF, stop its process (or scale its service down)',
        },
      );
    }
    return e;
  }

  /**
   * Puts a ready NF in service. It joins its service's indirection table in a new affinity
   * epoch when flows hold the current one (they keep their instances: only flows that start
   * from now on may go to the new instance), else in the current epoch in place.
   */
  putInService(e: NfEntry): void {
    const inst = this.host.inst;
    Atomics.store(inst.i32, inst.slotWord(e.nfId) + NS.state, NfState.RUNNING);
    // A fused group joins every member's service; all of them in one epoch change.
    const rebalance = e.services.some((s) => this.rebalancing.has(s));
    for (const svc of e.services) {
      const j = addMember(inst, svc, e.nfId, rebalance);
      if (j.reusedOldest) {
        this.host.log(
          `warning: all ${EPOCHS} affinity epochs hold flows; ${j.reusedOldest.flows} flows of ` +
            `epoch ${j.reusedOldest.epoch} may move to other instances (they started before ${EPOCHS - 1} joins ago)`,
        );
      }
      if (j.epoch !== j.previous) {
        this.host.log(
          `affinity epoch ${j.epoch}: new flows of service ${svc} may use NF ${e.name}#${e.nfId}; ` +
            `${j.heldFlows} flows keep their instances`,
        );
      }
    }
    e.inService = true;
    this.host.event(
      'nf-started',
      `NF ${e.name}#${e.nfId} in service (${e.services.length > 1 ? 'services' : 'service'} ${e.services.join(', ')})`,
      { nf: `${e.name}#${e.nfId}`, nfId: e.nfId, service: e.service },
    );
  }

  takeOutOfService(e: Pick<NfEntry, 'nfId' | 'services' | 'inService'>): void {
    if (!e.inService) return;
    for (const svc of e.services) removeMember(this.host.inst, svc, e.nfId);
    e.inService = false;
  }

  /**
   * An NF stopped, died or must go: out of service at once (no new packet reaches it); then,
   * once its process is certainly gone, its buffers back and its slot free (cold).
   */
  gone(nfId: number, why: string, announced = false): void {
    const e = this.nfs.get(nfId);
    if (!e || e.gone) return;
    e.gone = true;
    const inst = this.host.inst;
    const stateWord = inst.slotWord(nfId) + NS.state;
    const clean = Atomics.load(inst.i32, stateWord) === NfState.STOPPED;
    if (!clean) Atomics.store(inst.i32, stateWord, NfState.DEAD);
    this.takeOutOfService(e);
    const p = this.reclaimWhenGone(e, clean, why, announced ? EXIT_GRACE_MS : DYING_GRACE_MS).finally(() =>
      this.leaving.delete(p),
    );
    this.leaving.add(p);
  }

  /** Resolves when every NF being taken away has been reclaimed (or quarantined). */
  async settled(): Promise<void> {
    while (this.leaving.size > 0) await Promise.all([...this.leaving]);
  }

  private async reclaimWhenGone(e: NfEntry, clean: boolean, why: string, graceMs: number): Promise<void> {
    const { inst, cache } = this.host;
    const nfId = e.nfId;
    const stateWord = inst.slotWord(nfId) + NS.state;
    const exited = (): boolean => native().pidfdExited(e.pidfd);
    const waitExit = async (ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (!exited()) {
        if (Date.now() >= end) return false;
        await sleep(5);
      }
      return true;
    };
    let killed = false;
    if (!exited() && !(await waitExit(graceMs))) {
      this.host.log(
        `NF ${e.name}#${nfId} (pid ${e.pid}) is still running ${graceMs} ms after ${why}: killing it before its buffers are reused`,
      );
      native().pidfdSignal(e.pidfd, 9);
      killed = true;
      if (!(await waitExit(KILL_WAIT_MS))) {
        // Its buffers may still be written: they stay where they are, and so does the slot.
        this.host.log(
          `error: NF ${e.name}#${nfId} (pid ${e.pid}) did not exit ${KILL_WAIT_MS} ms after SIGKILL; its slot and buffers are quarantined`,
        );
        this.quarantined.set(nfId, { pid: e.pid, pidfd: e.pidfd, name: e.name });
        this.nfs.delete(nfId);
        return;
      }
    }
    closeSync(e.pidfd);
    const tag = `${e.name}#${nfId}`;
    const summary = exitSummary(inst, e);
    if (clean && !killed) {
      drainRing(inst, nfId, (d) => {
        if (d !== NULL_DESC) cache.freeOne(d);
      });
      cache.flush();
      clearSlotRecords(inst, nfId);
      this.host.event(
        'nf-stopped',
        `NF ${tag} stopped: ${why.replace(/^it stopped \((.*)\)$/, '$1')}; ${summary.text}`,
        {
          nf: tag,
          nfId,
          service: e.service,
          detail: summary.counts,
        },
      );
    } else {
      if (!killed) await sleep(10); // a slot the NF was writing as it died: its last stores land first
      const r = await reclaimNf(inst, nfId, cache);
      this.host.event(
        'nf-crashed',
        `NF ${tag} ${killed ? 'killed' : 'died'} (${why}): reclaimed ${r.freed} buffers; journal: ${r.journal}; ${summary.text}`,
        {
          nf: tag,
          nfId,
          service: e.service,
          reclaimed: r.freed,
          detail: { ...summary.counts, killed, journal: r.journal },
        },
      );
    }
    this.orphanRings.add(nfId);
    Atomics.store(inst.i32, stateWord, NfState.FREE);
    this.nfs.delete(nfId);
  }

  /**
   * Takes a slot of a dead manager's whose NF will not come back: out of service, its process
   * killed if it still runs, then its buffers back and the slot free (cold).
   */
  async reclaimSlot(id: number, pid: number, why: string): Promise<void> {
    const { inst, cache } = this.host;
    this.takeOutOfService({ nfId: id, services: servicesOf(inst, id), inService: true });
    if (!(await killAndWait(pid))) {
      this.host.log(
        `error: takeover: NF #${id} (pid ${pid}) did not exit ${KILL_WAIT_MS} ms after SIGKILL; its slot and buffers are quarantined`,
      );
      this.quarantined.set(id, { pid, pidfd: native().pidfdOpen(pid), name: `#${id}` });
      return;
    }
    const r = await reclaimNf(inst, id, cache);
    Atomics.store(inst.i32, inst.slotWord(id) + NS.state, NfState.FREE);
    this.orphanRings.add(id);
    this.host.log(`takeover: NF #${id} reclaimed (${why}): ${r.freed} buffers; journal: ${r.journal}`);
  }

  /** Every 100 ms: NFs whose process is gone are taken away; late packets in orphan rings freed. */
  supervise(): void {
    const { inst, cache } = this.host;
    for (const e of this.nfs.values()) {
      if (!e.gone && !e.inline && native().pidfdExited(e.pidfd)) this.gone(e.nfId, `process ${e.pid} is gone`);
    }
    if (this.host.stallMs > 0) this.watchStalls(Date.now());
    for (const id of this.orphanRings) {
      drainRing(inst, id, (d) => {
        if (d !== NULL_DESC) cache.freeOne(d);
      });
    }
    cache.flush();
  }

  /**
   * NFs that leave packets waiting in their rx ring and take none for stallMs (a handler that
   * spins or blocks, a process stopped with SIGSTOP): killed, their buffers taken back, their
   * service's packets going to the other instances. Counted in the event, logged with the NF.
   */
  private watchStalls(now: number): void {
    const { inst } = this.host;
    for (const e of this.nfs.values()) {
      if (e.gone || e.inline || e.retired) continue;
      if (Atomics.load(inst.i32, inst.slotWord(e.nfId) + NS.state) !== NfState.RUNNING) {
        e.stalledSince = 0;
        continue;
      }
      const ring = inst.rxRingOffset(e.nfId) >> 2;
      const cons = Atomics.load(inst.i32, ring + RW.consTail);
      const waiting = (Atomics.load(inst.i32, ring + RW.prodTail) - cons) | 0;
      if (waiting === 0 || cons !== e.lastCons) {
        e.lastCons = cons;
        e.stalledSince = 0;
        continue;
      }
      const since = e.stalledSince ?? 0;
      if (since === 0) e.stalledSince = now;
      else if (now - since >= this.host.stallMs) {
        const secs = (now - since) / 1000;
        const tag = `${e.name}#${e.nfId}`;
        this.host.event(
          'nf-stalled',
          `NF ${tag} stalled: ${waiting} packets waiting, none taken for ${secs.toFixed(1)} s (manager.stallTimeout): killing it`,
          { nf: tag, nfId: e.nfId, service: e.service, detail: { waiting, seconds: secs } },
        );
        this.gone(e.nfId, `it stalled for ${secs.toFixed(1)} s`);
      }
    }
  }

  /** At the end of a stop: what quarantined processes hold is not returned; their pidfds close. */
  closeQuarantined(): void {
    for (const q of this.quarantined.values()) {
      this.host.log(
        `warning: NF ${q.name} (pid ${q.pid}) never exited after SIGKILL; the buffers it held are not returned`,
      );
      closeSync(q.pidfd);
    }
  }
}
