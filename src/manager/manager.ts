/**
 * The manager: owns an instance's shared memory, its ports (through the RX and TX data-plane
 * workers), the NF registry and service table, and the control socket. NFs register, are put
 * in service when ready, and are taken out of service — and have their buffers reclaimed —
 * when they stop or die (socket closed, or their pid gone).
 *
 * Cold code: the data path lives in the workers (dataplane.ts) and the NFs (nflib/engine.ts).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { closeSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DYING_GRACE_MS, EXIT_GRACE_MS, KILL_WAIT_MS, killAndWait, otherPidNamespace, peerOf, processRunning, stalePid, type Conn } from './processes.js';
import { SHM_ROOT } from '../shm/shm-file.js';
import { native } from '../native.js';
import type { Socket } from 'node:net';
import { NfcError } from '../errors.js';
import { ensureNotRunning, listenControl, send, type ControlServer } from '../control/socket.js';
import type {
  FlowRuleSpec, FlowTableStats, ManagerStatus, ReattachRequest, Request, Reply, RegisterRequest, ScaleResult,
} from '../protocol/messages.js';
import { createInstance, type InstanceView } from '../shm/instance.js';
import {
  CounterSet, EPOCHS, FREE_RING_ID, IH, managerJournalWord, MAX_CHAINS, MAX_HOPS, MAX_INSTANCES, MAX_NFS, MAX_SERVICES, ManagerState, NfState, NS,
} from '../shm/instance-layout.js';
import { NULL_DESC, PoolCache } from '../shm/pool.js';
import { RING_HEADER_BYTES, RW } from '../shm/ring-layout.js';
import { BUILT_IN_TOPOLOGY, type Topology } from '../topology/types.js';
import type { DataplaneConfig, WorkerReport } from './dataplane.js';
import { clearSlotRecords, drainRing, drainTxRings, reclaimNf } from './reclaim.js';
import { auditBuffers } from './census.js';
import { describeCount, managerStatus } from './status.js';
import { readChain, writeChain, type Hop } from '../chain/chain-table.js';
import { ruleFromSpec, specFromRule } from './rules.js';
import { addMember, isMember, removeMember } from '../chain/service-table.js';
import { adoptFiles, PINS_FILE, REATTACH_WAIT_MS, repairManagerThreads, writeState, type Adopted } from './takeover.js';
import { formatStats } from './stats.js';
import { Messenger } from '../chain/messages.js';
import { FlowDirector, type FlowRule } from '../flow/director.js';
import { NfLauncher, type NfLaunch } from './launcher.js';


interface NfEntry {
  nfId: number;
  name: string;
  service: number;
  /** the process, as the kernel names it to the manager (SO_PEERCRED), and a pidfd on it */
  pid: number;
  pidfd: number;
  generation: number;
  /** the connection it registered on: the only one its lifecycle requests are taken from */
  conn: Conn;
  sock: Socket;
  module: string;
  /** put in the service table */
  inService: boolean;
  /** scaled down: out of service and asked to stop */
  retired: boolean;
  gone: boolean;
}

export interface ManagerOptions {
  topology: Topology;
  /** stop once every RX port is finished and the chain has drained */
  untilDone?: boolean;
  /** where log lines go (default: stdout) */
  log?: ((line: string) => void) | undefined;
  /** do not receive until enableRx() (nfchain start: until every NF is in service) */
  holdRx?: boolean;
  /** where the periodic stats tables go (default: stdout); null: nowhere */
  stats?: ((text: string) => void) | null | undefined;
  /** where the output of NF processes the manager starts goes (default: stdout) */
  nfOutput?: ((line: string) => void) | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Manager {
  readonly topo: Topology;
  inst!: InstanceView;
  private control: ControlServer | undefined;
  private readonly workers: { worker: Worker; role: 'rx' | 'tx'; stopped: Promise<void> }[] = [];
  private readonly nfs = new Map<number, NfEntry>();
  private readonly generations = new Int32Array(MAX_NFS);
  /** slots whose rx ring the manager keeps draining (no consumer) */
  private readonly orphanRings = new Set<number>();
  private cache!: PoolCache;
  /** sends the CLI's messages (sender id 0) */
  private messenger: Messenger | undefined;
  /** flow rules with their ids (the RX loop holds the compiled copy) */
  private flowRules: { id: number; rule: FlowRule }[] = [];
  private nextRuleId = 1;
  /** chain names by id; 0 is the default chain */
  private chainNames: string[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly log: (line: string) => void;
  private readonly statsOut: ((text: string) => void) | null;
  private stopping: Promise<string> | undefined;
  private resolveDone: (reason: string) => void = () => {};
  /** resolves with the reason when the manager has stopped and removed its files */
  readonly done: Promise<string>;
  private startedAt = 0;
  private rxDone = false;
  private lastSnapshot: ManagerStatus | undefined;
  readonly untilDone: boolean;
  private readonly holdRx: boolean;
  /** accounting at shutdown: buffers not back in the pool (0 when nothing leaked) */
  missingAtExit = -1;
  /** buffers found in two places at shutdown (freed twice); 0 when sound */
  duplicatesAtExit = -1;
  /** the status taken when stopping began (NFs still registered), for tests and reports */
  finalStatus: ManagerStatus | undefined;
  /** starts NF processes (nfchain start, scaling up); they are stopped with the manager */
  readonly launcher: NfLauncher;
  /** what each service's instances run (from the topology, or from a registering NF) */
  private readonly launches = new Map<number, NfLaunch>();
  /** the scale request being carried out (they run one after another) */
  private scaling: Promise<unknown> = Promise.resolve();
  /** services being scaled up with rebalance: their new instances join the current epoch in place */
  private readonly rebalancing = new Set<number>();
  /** NFs being taken away (waiting for their process to be gone, then reclaiming) */
  private readonly leaving = new Set<Promise<void>>();
  /**
   * While taking over from a manager that died: the NFs it had, by id, waiting to come back
   * (reattach); null when this manager started afresh.
   */
  private takenOver: Map<number, { pid: number; generation: number; service: number; back: boolean; answer?: () => void }> | null = null;
  /** slots whose process could not be made to exit: never reused, their buffers never freed */
  private readonly quarantined = new Map<number, { pid: number; pidfd: number; name: string }>();

  constructor(o: ManagerOptions) {
    this.topo = o.topology;
    this.untilDone = o.untilDone ?? false;
    this.holdRx = o.holdRx ?? false;
    this.chainNames = ['default', ...o.topology.chains.map((c) => c.name)];
    this.flowRules = o.topology.flows.map((rule) => ({ id: this.nextRuleId++, rule }));
    this.log = o.log ?? ((l) => process.stdout.write(`[manager] ${l}\n`));
    this.statsOut = o.stats === undefined ? (t) => process.stdout.write(t) : o.stats;
    this.done = new Promise((r) => { this.resolveDone = r; });
    const out = o.nfOutput ?? ((l: string) => process.stdout.write(`${l}\n`));
    const baseDir = o.topology.file === BUILT_IN_TOPOLOGY ? process.cwd() : dirname(o.topology.file);
    this.launcher = new NfLauncher(o.topology.name, out, this.log, baseDir);
    for (const nf of o.topology.nfs) this.launches.set(nf.service, nf);
  }

  get name(): string {
    return this.topo.name;
  }

  /** True when this manager took over the NFs and state of one that died. */
  get tookOver(): boolean {
    return this.takenOver !== null;
  }

  /** True once stop() has been called. */
  get stoppingNow(): boolean {
    return this.stopping !== undefined;
  }

  /** Creates the shared memory, starts the workers and the control socket (cold). */
  async start(): Promise<void> {
    const t = this.topo;
    this.startedAt = Date.now();
    // Is a manager of this name alive? If not, shared files of that name were left by one
    // that did not stop cleanly, and are removed. The socket opens last, once all is ready.
    await ensureNotRunning(t.name);
    checkBusyPoll(t.manager.poll, t.nfs.reduce((n, nf) => n + nf.instances, 0));
    try {
      const stale = join(SHM_ROOT, `nfchain-${t.name}`);
      const owner = stalePid(stale);
      if (owner > 0) {
        throw new NfcError('NFC_ERR_CONTROL', `a manager named "${t.name}" (pid ${owner}) is starting or running`, {
          fix: 'wait for it, stop it, or use another name',
        });
      }
      const adopted = existsSync(stale) ? this.adopt(stale) : null;
      if (adopted) {
        await this.takeOver(adopted);
      } else {
        if (existsSync(stale)) {
          rmSync(stale, { recursive: true, force: true });
          this.log(`removed ${stale}, left by a manager that did not stop cleanly`);
        }
        this.inst = createInstance({
          name: t.name, pool: t.pool, nfRx: t.rings.nfRx, nfTx: t.rings.nfTx, ports: t.ports.length,
        });
        this.cache = new PoolCache(this.inst.pool, { capacity: 256 });
        this.cache.setJournal(this.inst.i32, managerJournalWord(this.inst.g, 'main'), FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
        this.writeChains();
        this.saveState();
        for (const role of ['tx', 'rx'] as const) await this.startWorker(role);
        this.control = await listenControl(t.name, (sock, onMessage) => this.onClient(sock, onMessage));
      }
    } catch (err) {
      await this.teardown();
      throw err;
    }
    Atomics.store(this.inst.i32, IH.managerState, ManagerState.RUNNING);
    if (this.takenOver) this.resumeTakenOver();
    if (!this.holdRx || this.takenOver) this.enableRx();
    this.timers.push(setInterval(() => void this.supervise(), 100));
    if (t.manager.ttl > 0) this.timers.push(setTimeout(() => void this.stop(`TTL of ${t.manager.ttl} s reached`), t.manager.ttl * 1000));
    if (t.manager.statsInterval > 0 && this.statsOut) {
      this.timers.push(setInterval(() => this.printStats(), t.manager.statsInterval * 1000));
    }
    this.log(`instance "${t.name}": ${t.pool.count} buffers, ${t.ports.length} port(s), control socket ${this.control!.path}`);
  }

  // ---- taking over from a manager that died ------------------------------------------------

  /** What shared memory does not hold, for a manager that may take over (cold: on each change). */
  private saveState(): void {
    writeState(this.inst.dir.path, {
      version: 1, ports: this.topo.ports.map((p) => p.name), chainNames: this.chainNames,
      rules: this.flowRules.map((r) => ({ id: r.id, spec: this.specFromRule(r.rule) })), nextRuleId: this.nextRuleId,
      launches: [...this.launches.values()],
    });
  }

  /** The files of a manager that died, if they fit this topology; else null, the reason logged (cold). */
  private adopt(dir: string): Adopted | null {
    const a = adoptFiles(this.topo, dir);
    if (typeof a === 'string') {
      this.log(`cannot take over from the manager that died: ${a}`);
      return null;
    }
    return a;
  }

  /**
   * Takes over the instance of a manager that died (cold): finishes or undoes its threads'
   * half-done ring operations, takes back its live NFs (they paused and reattach; a dead one
   * is reclaimed), frees every buffer that is in no place (the dead manager's caches, ports
   * and packets in flight), and restores chains, rules, launches and flow pins.
   */
  private async takeOver(a: Adopted): Promise<void> {
    const t0 = Date.now();
    const inst = a.inst;
    this.inst = inst;
    const i32 = inst.i32;
    const oldPid = i32[IH.managerPid];
    // 1. The dead threads' ring operations, before this manager's own use their journals.
    for (const line of await repairManagerThreads(inst)) this.log(`takeover: ${line}`);
    this.cache = new PoolCache(inst.pool, { capacity: 256 });
    this.cache.setJournal(i32, managerJournalWord(inst.g, 'main'), FREE_RING_ID, FREE_RING_ID + 1, FREE_RING_ID + 2);
    // 2. State: chains (the table is in shared memory; their names here), rules, launches.
    this.chainNames = a.state.chainNames;
    this.flowRules = a.state.rules.map((r) => ({ id: r.id, rule: this.ruleFromSpec(r.spec) }));
    this.nextRuleId = a.state.nextRuleId;
    for (const l of a.state.launches) this.launches.set(l.service, l);
    // 3. The NFs: live ones are waited for; dead ones are reclaimed.
    const waiting = new Map<number, { pid: number; generation: number; service: number; back: boolean; answer?: () => void }>();
    for (let id = 1; id < MAX_NFS; id++) {
      const slot = inst.slotWord(id);
      const state = Atomics.load(i32, slot + NS.state);
      if (state === NfState.FREE) continue;
      const pid = i32[slot + NS.pid]!;
      const service = i32[slot + NS.service]!;
      this.generations[id] = i32[slot + NS.generation]!;
      if (processRunning(pid) && state !== NfState.STOPPED && state !== NfState.DEAD) {
        waiting.set(id, { pid, generation: this.generations[id]!, service, back: false });
      } else {
        await this.reclaimSlot(id, service, pid, `its process ${pid} is gone or stopping`);
      }
    }
    this.takenOver = waiting;
    this.control = await listenControl(this.topo.name, (sock, onMessage) => this.onClient(sock, onMessage));
    const end = Date.now() + REATTACH_WAIT_MS;
    const pending = (): number[] => [...waiting].filter(([id, w]) => !w.back || Atomics.load(i32, inst.slotWord(id) + NS.state) !== NfState.PAUSED).map(([id]) => id);
    while (pending().length > 0 && Date.now() < end) {
      // An NF that was stopping when the manager died exits instead of coming back.
      for (const id of pending()) {
        const w = waiting.get(id)!;
        if (!w.back && !processRunning(w.pid)) {
          waiting.delete(id);
          await this.reclaimSlot(id, w.service, w.pid, `its process ${w.pid} exited`);
        }
      }
      await sleep(5);
    }
    for (const id of pending()) {
      const w = waiting.get(id)!;
      waiting.delete(id);
      const e = this.nfs.get(id);
      if (e) {
        this.nfGone(id, 'it did not pause when the manager died');
      } else {
        this.log(`takeover: NF #${id} (pid ${w.pid}) did not come back within ${REATTACH_WAIT_MS} ms: killing it`);
        await this.reclaimSlot(id, w.service, w.pid, 'it did not come back');
      }
    }
    while (this.leaving.size > 0) await Promise.all([...this.leaving]);
    // 4. Every NF is paused or gone: what is in no place was the dead manager's.
    let lost = 0;
    const audit = auditBuffers(inst, () => {}, (d) => { this.cache.freeOne(d); lost++; });
    this.cache.flush();
    if (audit.duplicates > 0) this.log(`warning: takeover: ${audit.duplicates} buffers are in two places (freed twice): ${audit.examples.join('; ')}`);
    // The RX → TX ring and the NFs' tx rings keep their packets: the new TX loop sends them.
    for (const role of ['tx', 'rx'] as const) await this.startWorker(role);
    this.saveState();
    this.log(`took over from manager pid ${oldPid}: ${waiting.size} NF(s) back, ${lost} buffers the dead manager held reclaimed ` +
      `(its caches, ports and packets in flight), ${this.flowRules.length} flow rule(s), ${this.chainNames.length} chain(s); ${Date.now() - t0} ms`);
  }

  /**
   * Takes a slot of the dead manager's whose NF will not come back: out of service, its process
   * killed if it still runs, then its buffers back and the slot free (cold).
   */
  private async reclaimSlot(id: number, service: number, pid: number, why: string): Promise<void> {
    this.takeOutOfService({ nfId: id, service, inService: isMember(this.inst, service, id) } as NfEntry);
    if (!await killAndWait(pid)) {
      this.log(`error: takeover: NF #${id} (pid ${pid}) did not exit ${KILL_WAIT_MS} ms after SIGKILL; its slot and buffers are quarantined`);
      this.quarantined.set(id, { pid, pidfd: native().pidfdOpen(pid), name: `#${id}` });
      return;
    }
    const r = await reclaimNf(this.inst, id, this.cache);
    Atomics.store(this.inst.i32, this.inst.slotWord(id) + NS.state, NfState.FREE);
    this.orphanRings.add(id);
    this.log(`takeover: NF #${id} reclaimed (${why}): ${r.freed} buffers; journal: ${r.journal}`);
  }

  /** An NF of the manager that died comes back on a new connection (cold). */
  private reattach(req: ReattachRequest, conn: Conn): Promise<Reply> {
    const w = this.takenOver?.get(req.nfId);
    if (!w || w.back) throw new NfcError('NFC_ERR_CONTROL', `reattach of NF ${req.nfId} refused: this manager did not take it over`);
    const peer = conn.peer;
    if (peer === null || peer.pid !== w.pid) {
      throw new NfcError('NFC_ERR_CONTROL', `reattach of NF ${req.nfId} refused: its slot names process ${w.pid}, the request came from ${peer?.pid ?? 'an unknown process'}`);
    }
    if (req.generation !== w.generation || req.service !== w.service) {
      throw new NfcError('NFC_ERR_CONTROL', `reattach of NF ${req.nfId} refused: generation ${req.generation}, service ${req.service} do not match its slot`);
    }
    const pidfd = native().pidfdOpen(peer.pid);
    this.nfs.set(req.nfId, {
      nfId: req.nfId, name: req.name, service: req.service, pid: peer.pid, pidfd, generation: w.generation, conn, sock: conn.sock,
      module: req.module, inService: isMember(this.inst, req.service, req.nfId), retired: false, gone: false,
    });
    conn.nfId = req.nfId;
    w.back = true;
    if (!this.launches.has(req.service)) this.launches.set(req.service, { name: req.name, module: req.module, service: req.service, options: req.options ?? {} });
    // Answered once the takeover is complete: the NF resumes then.
    return new Promise((resolve) => { w.answer = () => resolve({ type: 'ok', id: req.id }); });
  }

  /** The takeover is complete: the NFs that came back run again (cold). */
  private resumeTakenOver(): void {
    for (const [id, w] of this.takenOver ?? []) {
      if (!w.back || this.nfs.get(id)?.gone !== false) continue;
      Atomics.store(this.inst.i32, this.inst.slotWord(id) + NS.state, NfState.RUNNING);
      w.answer?.();
    }
  }

  /** The RX loop's flow table and affinity counts, asked of the RX worker (cold; undefined if it does not answer within 1 s). */
  flowStats(): Promise<FlowTableStats | undefined> {
    const rx = this.workers.find((w) => w.role === 'rx');
    if (!rx) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const t = setTimeout(() => { rx.worker.off('message', on); resolve(undefined); }, 1000);
      const on = (r: WorkerReport): void => {
        if (r.type !== 'flow-stats') return;
        clearTimeout(t);
        rx.worker.off('message', on);
        resolve(r.stats);
      };
      rx.worker.on('message', on);
      rx.worker.postMessage({ type: 'flow-stats' });
    });
  }

  /** Sends the current flow rules to the RX loop, which swaps them in between two bursts. */
  private pushFlows(): void {
    const rules = this.flowRules.map((r) => r.rule);
    for (const w of this.workers) if (w.role === 'rx') w.worker.postMessage({ type: 'flows', rules });
  }

  private ruleFromSpec(s: FlowRuleSpec): FlowRule {
    return ruleFromSpec(s, this.chainNames, this.topo.ports.map((p) => p.name));
  }

  private specFromRule(r: FlowRule): FlowRuleSpec {
    return specFromRule(r, this.chainNames, this.topo.ports.map((p) => p.name));
  }

  /** Sets (or makes) a named chain while traffic flows: hops first, then the length. */
  private setChain(name: string, hops: (string | number)[]): void {
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) throw new NfcError('NFC_ERR_MANAGER', `chain name "${name}": use [a-z0-9][a-z0-9_-]{0,31}`);
    if (hops.length < 1 || hops.length > MAX_HOPS) throw new NfcError('NFC_ERR_MANAGER', `a chain has 1..${MAX_HOPS} hops`);
    const parsed = hops.map((h): Hop => {
      if (typeof h === 'number' || /^\d+$/.test(h)) {
        const s = Number(h);
        if (s < 1 || s >= MAX_SERVICES) throw new NfcError('NFC_ERR_MANAGER', `hop ${h}: services are 1..${MAX_SERVICES - 1}`);
        return { kind: 'service', id: s };
      }
      if (h.startsWith('port:')) {
        const p = this.topo.ports.findIndex((x) => x.name === h.slice(5));
        if (p < 0) throw new NfcError('NFC_ERR_MANAGER', `hop ${h}: no such port`);
        return { kind: 'port', id: p };
      }
      const nf = this.topo.nfs.find((x) => x.name === h);
      if (!nf) throw new NfcError('NFC_ERR_MANAGER', `hop ${h}: not a service id, an NF name or port:<name>`);
      return { kind: 'service', id: nf.service };
    });
    let c = this.chainNames.indexOf(name);
    if (c < 0) {
      if (this.chainNames.length >= MAX_CHAINS) throw new NfcError('NFC_ERR_MANAGER', `at most ${MAX_CHAINS} chains`);
      c = this.chainNames.length;
      this.chainNames.push(name);
    }
    writeChain(this.inst, c, parsed);
    this.saveState();
    this.log(`chain ${name} (${c}) set: ${hops.join(' → ')}`);
  }

  private chainHops(c: number): string[] {
    return readChain(this.inst, c).map((h) => (h.kind === 'service' ? `service ${h.id}` : `port:${this.topo.ports[h.id]?.name ?? h.id}`));
  }

  /** Lets the RX loop receive. */
  enableRx(): void {
    Atomics.store(this.inst.i32, IH.rxEnabled, 1);
  }

  /** The default chain (chain 0) and the named chains (1..) into the chain table. */
  private writeChains(): void {
    const all = [this.topo.chain, ...this.topo.chains.map((c) => c.hops)];
    all.forEach((hops, c) => writeChain(this.inst, c, hops.map((h): Hop => (h.kind === 'service' ? { kind: 'service', id: h.service } : { kind: 'port', id: h.port }))));
  }

  private startWorker(role: 'rx' | 'tx'): Promise<void> {
    const cfg: DataplaneConfig = {
      role, instance: this.topo.name, ports: this.topo.ports, limit: this.topo.manager.limit, poll: this.topo.manager.poll,
      flows: this.flowRules.map((r) => r.rule),
      flowTable: { capacity: this.topo.manager.flowTable, idleTimeoutMs: this.topo.manager.flowIdleTimeout * 1000 },
      pinsFile: join(this.inst.dir.path, PINS_FILE), loadPins: this.takenOver !== null,
    };
    const worker = new Worker(new URL('./dataplane.js', import.meta.url), { workerData: { nfchainDataplane: true, cfg } });
    let stoppedResolve: () => void = () => {};
    const stopped = new Promise<void>((r) => { stoppedResolve = r; });
    this.workers.push({ worker, role, stopped });
    return new Promise((resolve, reject) => {
      worker.on('message', (r: WorkerReport) => {
        switch (r.type) {
          case 'ready':
            if (r.pinsRestored > 0) this.log(`takeover: ${r.pinsRestored} flow pins restored`);
            resolve();
            break;
          case 'error': reject(new NfcError('NFC_ERR_MANAGER', `${role} loop: ${r.message}`)); break;
          case 'stopped': stoppedResolve(); break;
          case 'rx-done':
            this.rxDone = true;
            this.log(`input finished after ${r.packets} packets`);
            break;
        }
      });
      worker.on('error', (err) => {
        this.log(`${role} loop failed: ${err.stack ?? err.message}`);
        reject(err);
        void this.stop(`${role} loop failed`);
      });
      worker.on('exit', () => stoppedResolve());
    });
  }

  // ---- control socket -----------------------------------------------------------------------

  private onClient(sock: Socket, onMessage: (cb: (msg: unknown) => void) => void): void {
    const conn: Conn = { sock, peer: peerOf(sock), nfId: 0 };
    onMessage((msg) => {
      const req = msg as Request;
      void this.handle(req, conn).then((reply) => {
        send(sock, reply);
      }, (err: unknown) => {
        const e = err as NfcError;
        send(sock, { type: 'error', id: typeof req?.id === 'number' ? req.id : 0, code: e.code ?? 'NFC_ERR_MANAGER', message: e.message });
      });
    });
    sock.on('close', () => {
      // The process may live on (a bug, a socket error): nfGone kills it before reclaiming.
      if (conn.nfId) this.nfGone(conn.nfId, 'its control connection closed');
    });
  }

  /** The NF a lifecycle request names, if it is this connection's own (cold). */
  private ownNf(nfId: number, conn: Conn, what: string): NfEntry {
    const e = this.nfs.get(nfId);
    if (!e || e.gone) throw new NfcError('NFC_ERR_MANAGER', `NF ${nfId} is not registered`);
    if (e.conn !== conn) {
      this.log(`refused "${what}" for NF ${e.name}#${nfId} from another connection (process ${conn.peer?.pid ?? 'unknown'})`);
      throw new NfcError('NFC_ERR_CONTROL', `"${what}" for NF ${nfId} refused: only the connection that registered it may send it`, {
        fix: 'an NF process sends its own lifecycle requests; to stop an NF, stop its process (or scale its service down)',
      });
    }
    return e;
  }

  private async handle(req: Request, conn: Conn): Promise<Reply> {
    if (!this.inst) throw new NfcError('NFC_ERR_MANAGER', 'the manager is still starting');
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') {
      throw new NfcError('NFC_ERR_CONTROL', 'malformed request: expected a JSON object with type and id');
    }
    switch (req.type) {
      case 'register': return this.register(req, conn);
      case 'reattach': return this.reattach(req, conn);
      case 'ready': {
        const e = this.ownNf(req.nfId, conn, 'ready');
        if (!e.inService) this.putInService(e);
        return { type: 'ok', id: req.id };
      }
      case 'stopping': {
        const e = this.ownNf(req.nfId, conn, 'stopping');
        this.log(`NF ${e.name}#${e.nfId} stopping: ${req.reason}`);
        // Answered at once: the NF exits after the answer, and its buffers are taken back
        // only once the process is gone.
        this.nfGone(req.nfId, `it stopped (${req.reason})`, true);
        return { type: 'ok', id: req.id };
      }
      case 'status':
        return { type: 'status', id: req.id, status: this.status() };
      case 'shutdown':
        setImmediate(() => void this.stop('shutdown requested'));
        return { type: 'ok', id: req.id };
      case 'message':
        this.messenger ??= new Messenger(this.inst, 0, { words: this.inst.i32, base: managerJournalWord(this.inst.g, 'main') });
        return { type: 'message-result', id: req.id, result: this.messenger.send(req.to, req.payload) };
      case 'flow-add': {
        const rule = this.ruleFromSpec(req.rule);
        // The director validates (prefixes, ranges); its error goes back to the caller.
        new FlowDirector({ defaultChain: 0, cacheCapacity: 0 }).add(rule);
        const ruleId = this.nextRuleId++;
        this.flowRules.push({ id: ruleId, rule });
        this.pushFlows();
        this.saveState();
        this.log(`flow rule ${ruleId} added: ${JSON.stringify(req.rule)}`);
        return { type: 'flow-added', id: req.id, ruleId };
      }
      case 'flow-del': {
        const i = this.flowRules.findIndex((r) => r.id === req.ruleId);
        if (i < 0) throw new NfcError('NFC_ERR_MANAGER', `no flow rule ${req.ruleId}`, { fix: 'nfchain flow list shows the rules and their ids' });
        this.flowRules.splice(i, 1);
        this.pushFlows();
        this.saveState();
        this.log(`flow rule ${req.ruleId} removed`);
        return { type: 'ok', id: req.id };
      }
      case 'flow-list': {
        const rules = this.flowRules.map((r) => ({ id: r.id, ...this.specFromRule(r.rule) }));
        const table = await this.flowStats();
        return table ? { type: 'flows', id: req.id, rules, table } : { type: 'flows', id: req.id, rules };
      }
      case 'chain-set':
        this.setChain(req.name, req.hops);
        return { type: 'ok', id: req.id };
      case 'chain-list':
        return { type: 'chains', id: req.id, chains: this.chainNames.map((name, c) => ({ id: c, name, hops: this.chainHops(c) })) };
      case 'scale':
        return { type: 'scaled', id: req.id, ...(await this.scale(req.service, req.instances, req.rebalance === true)) };
      default: {
        const t = (req as { type?: unknown }).type;
        throw new NfcError('NFC_ERR_CONTROL', `unknown request type ${JSON.stringify(t)}`);
      }
    }
  }

  private register(req: RegisterRequest, conn: Conn): Reply {
    if (this.stopping) throw new NfcError('NFC_ERR_MANAGER', 'the manager is shutting down');
    if (conn.nfId) throw new NfcError('NFC_ERR_CONTROL', `this connection already registered NF ${conn.nfId}: one NF per connection`);
    // The process is who the kernel says is connected, not who the request says it is.
    const peer = conn.peer;
    if (peer === null || peer.pid <= 0) {
      throw new NfcError('NFC_ERR_CONTROL', 'register refused: the kernel does not name the process on this connection (SO_PEERCRED)');
    }
    if (peer.pid === process.pid) throw new NfcError('NFC_ERR_CONTROL', 'register refused: an NF runs in a process of its own, not in the manager');
    if (req.pid !== peer.pid && !otherPidNamespace(peer.pid)) {
      this.log(`refused a register for pid ${req.pid} from process ${peer.pid}`);
      throw new NfcError('NFC_ERR_CONTROL', `register for pid ${req.pid} refused: the request came from process ${peer.pid}`, {
        fix: 'an NF registers itself, from its own process',
      });
    }
    if (!Number.isInteger(req.service) || req.service < 1 || req.service >= MAX_SERVICES) {
      throw new NfcError('NFC_ERR_MANAGER', `service ${req.service} is out of range 1..${MAX_SERVICES - 1}`);
    }
    const inService = [...this.nfs.values()].filter((e) => e.service === req.service && !e.gone).length;
    if (inService >= MAX_INSTANCES) {
      throw new NfcError('NFC_ERR_MANAGER', `service ${req.service} already has ${MAX_INSTANCES} instances`);
    }
    let id = req.nfId;
    const i32 = this.inst.i32;
    const free = (n: number): boolean => !this.nfs.has(n) && !this.quarantined.has(n) && (i32[this.inst.slotWord(n) + NS.state] === NfState.FREE);
    if (id) {
      if (id < 1 || id >= MAX_NFS) throw new NfcError('NFC_ERR_MANAGER', `NF id ${id} is out of range 1..${MAX_NFS - 1}`);
      if (!free(id)) throw new NfcError('NFC_ERR_MANAGER', `NF id ${id} is in use`);
    } else {
      for (id = 1; id < MAX_NFS && !free(id); id++);
      if (id >= MAX_NFS) throw new NfcError('NFC_ERR_MANAGER', `no free NF slot (${MAX_NFS - 1} NFs at most)`);
    }
    let pidfd: number;
    try {
      pidfd = native().pidfdOpen(peer.pid);
    } catch (err) {
      throw new NfcError('NFC_ERR_CONTROL', `register refused: process ${peer.pid} cannot be supervised (pidfd_open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // Take the slot over: nothing may be left in it from an earlier NF.
    this.orphanRings.delete(id);
    drainRing(this.inst, id, (d) => { if (d !== NULL_DESC) this.cache.freeOne(d); });
    this.cache.flush();
    clearSlotRecords(this.inst, id);
    // Messages left for an earlier NF in this slot are not for the new one.
    const inbox = new Int32Array(this.inst.mem, this.inst.msgRingOffset(id), RING_HEADER_BYTES >> 2);
    Atomics.store(inbox, RW.consTail, Atomics.load(inbox, RW.prodTail));
    const slot = this.inst.slotWord(id);
    const gen = ++this.generations[id]!;
    i32[slot + NS.pid] = peer.pid;
    i32[slot + NS.service] = req.service;
    i32[slot + NS.nfId] = id;
    i32[slot + NS.generation] = gen;
    this.inst.counters.reset(CounterSet.nf(id));
    Atomics.store(i32, slot + NS.state, NfState.STARTING);
    if (!this.launches.has(req.service)) {
      this.launches.set(req.service, { name: req.name, module: req.module, service: req.service, options: req.options ?? {} });
      this.saveState();
    }
    this.nfs.set(id, {
      nfId: id, name: req.name, service: req.service, pid: peer.pid, pidfd, generation: gen, conn, sock: conn.sock, module: req.module,
      inService: false, retired: false, gone: false,
    });
    conn.nfId = id;
    this.log(`NF ${req.name}#${id} registered (service ${req.service}, pid ${peer.pid}${req.pid !== peer.pid ? `, ${req.pid} in its own pid namespace` : ''})`);
    return { type: 'registered', id: req.id, nfId: id, instance: this.topo.name, generation: gen, poll: this.topo.manager.poll, chains: [...this.chainNames] };
  }

  /**
   * Puts a ready NF in service. It joins its service's indirection table in a new affinity
   * epoch when flows hold the current one (they keep their instances: only flows that start
   * from now on may go to the new instance), else in the current epoch in place.
   */
  private putInService(e: NfEntry): void {
    Atomics.store(this.inst.i32, this.inst.slotWord(e.nfId) + NS.state, NfState.RUNNING);
    const j = addMember(this.inst, e.service, e.nfId, this.rebalancing.has(e.service));
    if (j.reusedOldest) {
      this.log(`warning: all ${EPOCHS} affinity epochs hold flows; ${j.reusedOldest.flows} flows of ` +
        `epoch ${j.reusedOldest.epoch} may move to other instances (they started before ${EPOCHS - 1} joins ago)`);
    }
    if (j.epoch !== j.previous) {
      this.log(`affinity epoch ${j.epoch}: new flows of service ${e.service} may use NF ${e.name}#${e.nfId}; ` +
        `${j.heldFlows} flows keep their instances`);
    }
    e.inService = true;
  }

  /**
   * Runs `n` instances of a service (an id, or the name of an NF in the topology): starts
   * processes like the service's others, or retires the newest instances (out of service at
   * once, so their flows move to the others; then asked to stop, draining what they hold).
   * New instances take only flows that start from now on, unless `rebalance`: then they take
   * their share of the buckets at once, existing flows included (for NFs without flow state).
   * Resolves once the new instances are in service; rejects naming the reason (cold).
   */
  scale(service: number | string, n: number, rebalance = false): Promise<ScaleResult> {
    // One at a time: a second request sees the instances the first one started.
    const next = this.scaling.then(() => this.scaleNow(service, n, rebalance));
    this.scaling = next.catch(() => undefined);
    return next;
  }

  private async scaleNow(service: number | string, n: number, rebalance: boolean): Promise<ScaleResult> {
    if (this.stopping) throw new NfcError('NFC_ERR_MANAGER', 'the manager is shutting down');
    let svc: number;
    if (typeof service === 'number' || /^\d+$/.test(service)) {
      svc = Number(service);
    } else {
      const nf = this.topo.nfs.find((x) => x.name === service) ?? [...this.launches.values()].find((x) => x.name === service);
      if (!nf) {
        throw new NfcError('NFC_ERR_MANAGER', `no NF or service named "${service}"`, { fix: 'give a service id or the name of an NF (nfchain status lists them)' });
      }
      svc = nf.service;
    }
    if (!Number.isInteger(svc) || svc < 1 || svc >= MAX_SERVICES) {
      throw new NfcError('NFC_ERR_MANAGER', `service ${svc} is out of range 1..${MAX_SERVICES - 1}`);
    }
    if (!Number.isInteger(n) || n < 0 || n > MAX_INSTANCES) {
      throw new NfcError('NFC_ERR_MANAGER', `${n} instances: a service has 0..${MAX_INSTANCES}`);
    }
    const current = (): NfEntry[] => [...this.nfs.values()].filter((e) => e.service === svc && !e.gone && !e.retired);
    const have = current();
    const before = have.length;
    const retired: number[] = [];
    const started: number[] = [];
    if (n < before) {
      // The newest first: the instances that hold the fewest long-lived flows.
      for (const e of have.sort((a, b) => b.nfId - a.nfId).slice(0, before - n)) {
        e.retired = true;
        this.takeOutOfService(e);
        send(e.sock, { type: 'stop', reason: 'retired (scaled down)' });
        retired.push(e.nfId);
      }
      this.log(`service ${svc}: ${before} → ${n} instances (retired ${retired.map((id) => `#${id}`).join(', ')})`);
    } else if (n > before) {
      const launch = this.launches.get(svc);
      if (!launch) {
        throw new NfcError('NFC_ERR_MANAGER', `service ${svc} has no NF to start more of`, {
          fix: 'put it in the topology\'s nfs, or start one by hand first (nfchain nf MODULE --service N)',
        });
      }
      const known = new Set(this.nfs.keys());
      const failedBefore = this.launcher.failed.length;
      for (let k = before; k < n; k++) this.launcher.start(launch);
      const end = Date.now() + 30_000;
      if (rebalance) this.rebalancing.add(svc);
      try {
      for (;;) {
        const fresh = [...this.nfs.values()].filter((e) => e.service === svc && !known.has(e.nfId) && e.inService);
        if (fresh.length >= n - before) {
          started.push(...fresh.map((e) => e.nfId));
          break;
        }
        if (this.launcher.failed.length > failedBefore) {
          throw new NfcError('NFC_ERR_NF', `scaling service ${svc}: NF ${this.launcher.failed.slice(failedBefore).join(', ')} failed to start (see its output)`);
        }
        if (Date.now() > end) throw new NfcError('NFC_ERR_NF', `scaling service ${svc}: new instances did not come up within 30 s`);
        if (this.stopping) throw new NfcError('NFC_ERR_MANAGER', 'the manager is shutting down');
        await sleep(10);
      }
      } finally {
        this.rebalancing.delete(svc);
      }
      this.log(`service ${svc}: ${before} → ${n} instances (started ${started.map((id) => `#${id}`).join(', ')})`);
    }
    return { service: svc, before, instances: current().length, started, retired };
  }


  private takeOutOfService(e: NfEntry): void {
    if (!e.inService) return;
    removeMember(this.inst, e.service, e.nfId);
    e.inService = false;
  }

  /**
   * An NF stopped, died or must go: out of service at once (no new packet reaches it); then,
   * once its process is certainly gone, its buffers back and its slot free (cold).
   *
   * The invariant: a buffer is given back only when no process can still write it. So the
   * process is waited for (EXIT_GRACE_MS when it said it is stopping, DYING_GRACE_MS when its
   * connection closed or it is being removed) and then killed, through its pidfd, which no
   * reused pid can fool; the reclaim starts when the pidfd says the process has exited.
   */
  private nfGone(nfId: number, why: string, announced = false): void {
    const e = this.nfs.get(nfId);
    if (!e || e.gone) return;
    e.gone = true;
    const i32 = this.inst.i32;
    const stateWord = this.inst.slotWord(nfId) + NS.state;
    const clean = Atomics.load(i32, stateWord) === NfState.STOPPED;
    if (!clean) Atomics.store(i32, stateWord, NfState.DEAD);
    this.takeOutOfService(e);
    const p = this.reclaimWhenGone(e, clean, why, announced ? EXIT_GRACE_MS : DYING_GRACE_MS).finally(() => this.leaving.delete(p));
    this.leaving.add(p);
  }

  private async reclaimWhenGone(e: NfEntry, clean: boolean, why: string, graceMs: number): Promise<void> {
    const nfId = e.nfId;
    const i32 = this.inst.i32;
    const stateWord = this.inst.slotWord(nfId) + NS.state;
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
    if (!exited() && !await waitExit(graceMs)) {
      this.log(`NF ${e.name}#${nfId} (pid ${e.pid}) is still running ${graceMs} ms after ${why}: killing it before its buffers are reused`);
      native().pidfdSignal(e.pidfd, 9);
      killed = true;
      if (!await waitExit(KILL_WAIT_MS)) {
        // Its buffers may still be written: they stay where they are, and so does the slot.
        this.log(`error: NF ${e.name}#${nfId} (pid ${e.pid}) did not exit ${KILL_WAIT_MS} ms after SIGKILL; its slot and buffers are quarantined`);
        this.quarantined.set(nfId, { pid: e.pid, pidfd: e.pidfd, name: e.name });
        this.nfs.delete(nfId);
        return;
      }
    }
    closeSync(e.pidfd);
    if (clean && !killed) {
      drainRing(this.inst, nfId, (d) => { if (d !== NULL_DESC) this.cache.freeOne(d); });
      this.cache.flush();
      clearSlotRecords(this.inst, nfId);
    } else {
      if (!killed) await sleep(10); // a slot the NF was writing as it died: its last stores land first
      const r = await reclaimNf(this.inst, nfId, this.cache);
      this.log(`NF ${e.name}#${nfId} ${killed ? 'killed' : 'died'} (${why}): reclaimed ${r.freed} buffers; journal: ${r.journal}`);
    }
    this.orphanRings.add(nfId);
    Atomics.store(i32, stateWord, NfState.FREE);
    this.nfs.delete(nfId);
  }

  /** Every 100 ms: dead pids, late packets in orphan rings, the end of input. */
  private async supervise(): Promise<void> {
    if (!this.inst) return;
    for (const e of this.nfs.values()) {
      if (!e.gone && native().pidfdExited(e.pidfd)) this.nfGone(e.nfId, `process ${e.pid} is gone`);
    }
    for (const id of this.orphanRings) {
      drainRing(this.inst, id, (d) => { if (d !== NULL_DESC) this.cache.freeOne(d); });
    }
    this.cache.flush();
    if (this.untilDone && this.rxDone && !this.stopping && this.pipelineEmpty()) {
      await sleep(100);
      if (this.pipelineEmpty()) void this.stop('input finished and the chain drained');
    }
  }

  /** Nothing in any ring and no NF in the middle of a burst. */
  pipelineEmpty(): boolean {
    const inst = this.inst;
    const empty = (off: number): boolean => {
      const w = new Int32Array(inst.mem, off, RING_HEADER_BYTES >> 2);
      return Atomics.load(w, RW.prodTail) === Atomics.load(w, RW.consTail);
    };
    for (let id = 1; id < MAX_NFS; id++) {
      if (!empty(inst.rxRingOffset(id)) || !empty(inst.txRingOffset(id))) return false;
      if (inst.u32[inst.slotWord(id) + NS.inflight] !== 0) return false;
    }
    return empty(inst.rxToTxRingOffset);
  }

  // ---- status and stats ---------------------------------------------------------------------

  status(): ManagerStatus {
    return managerStatus({ topo: this.topo, inst: this.inst, nfs: this.nfs.values(), startedAt: this.startedAt, cache: this.cache });
  }

  private printStats(): void {
    const now = this.status();
    this.statsOut?.(formatStats(now, this.lastSnapshot));
    this.lastSnapshot = now;
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /** Stops NFs, workers and ports, reclaims every buffer and removes the files (cold). */
  stop(reason: string): Promise<string> {
    if (!this.stopping) this.stopping = this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<string> {
    this.log(`stopping: ${reason}`);
    if (this.inst) {
      // Input off first, and let what is in the chain reach its end, so stopping NFs does not
      // drop packets that were already on their way.
      Atomics.store(this.inst.i32, IH.rxEnabled, 0);
      const drainEnd = Date.now() + 500;
      while (!this.pipelineEmpty() && Date.now() < drainEnd) await sleep(10);
      this.finalStatus = this.status();
      this.log(`buffers at stop: ${describeCount(this.finalStatus.buffers, this.finalStatus.nfs)}`);
      if (this.statsOut && this.topo.manager.statsInterval > 0) this.printStats();
      Atomics.store(this.inst.i32, IH.managerState, ManagerState.STOPPING);
    }
    for (const e of this.nfs.values()) send(e.sock, { type: 'stop', reason: 'the manager is stopping' });
    const end = Date.now() + 3000;
    while ([...this.nfs.values()].some((e) => !e.gone) && Date.now() < end) await sleep(20);
    for (const e of [...this.nfs.values()]) {
      if (!e.gone) {
        this.log(`NF ${e.name}#${e.nfId} did not stop in time`);
        e.sock.destroy();
        this.nfGone(e.nfId, 'did not stop in time');
      }
    }
    while (this.leaving.size > 0) await Promise.all([...this.leaving]);
    await this.launcher.stopAll();
    for (const q of this.quarantined.values()) {
      this.log(`warning: NF ${q.name} (pid ${q.pid}) never exited after SIGKILL; the buffers it held are not returned`);
      closeSync(q.pidfd);
    }
    await this.teardown();
    this.resolveDone(reason);
    return reason;
  }

  private async teardown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // RX first (no new packets), then TX (sends what is left).
    for (const role of ['rx', 'tx'] as const) {
      for (const w of this.workers.filter((x) => x.role === role)) {
        w.worker.postMessage({ type: 'stop' });
        await Promise.race([w.stopped, sleep(3000)]);
        await w.worker.terminate();
      }
    }
    if (this.inst) {
      const back = (d: number): void => { if (d !== NULL_DESC) this.cache?.freeOne(d); };
      for (let id = 1; id < MAX_NFS; id++) if (!this.quarantined.has(id)) drainRing(this.inst, id, back);
      const late = drainTxRings(this.inst, back);
      if (late > 0) this.log(`${late} packets were still waiting to be sent when the TX loop stopped: freed`);
      this.cache?.flush();
      // Every buffer visited where it is: all must be back on the free rings now.
      const a = auditBuffers(this.inst);
      this.missingAtExit = a.total - a.free;
      this.duplicatesAtExit = a.duplicates;
      if (this.missingAtExit === 0 && a.duplicates === 0) {
        this.log(`buffers: all ${a.total} back in the pool`);
      } else {
        this.log(`warning: ${this.missingAtExit} of ${a.total} buffers not back in the pool (${a.elsewhere} still in rings or NF slots` +
          `${this.quarantined.size > 0 ? ', held by quarantined NFs' : ''}, ${a.missing} nowhere: lost)` +
          `${a.duplicates > 0 ? `; ${a.duplicates} found in two places (freed twice)` : ''}; e.g. ${a.examples.join('; ')}`);
      }
      this.inst.dir.remove();
    }
    this.control?.close();
  }
}


/**
 * `poll: busy` spins every loop: with more spinning loops (RX, TX and one per NF instance) than
 * cores they wait for each other's time slices and latency collapses (16 ms pings measured with
 * 5 loops on 2 cores). Refused then, with the count and the fix (cold).
 */
export function checkBusyPoll(poll: 'adaptive' | 'busy', nfInstances: number, cores = availableParallelism()): void {
  const loops = 2 + nfInstances;
  if (poll === 'busy' && loops > cores) {
    throw new NfcError('NFC_ERR_TOPOLOGY', `poll "busy" needs a core for each polling loop: this topology has ${loops} (RX, TX and ${nfInstances} NF instance${nfInstances === 1 ? '' : 's'}) and this machine has ${cores} core${cores === 1 ? '' : 's'}`, {
      fix: 'use poll "adaptive" (the default: loops sleep when idle and wake on the first packet), or fewer NF instances',
    });
  }
}
