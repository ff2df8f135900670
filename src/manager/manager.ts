/**
 * The manager: owns an instance's shared memory, its ports (through the RX and TX loops), the
 * NF registry and service table, and the control socket. It composes the parts, each in a file
 * named for what it owns:
 *
 *   registry.ts   NFs by slot, in and out of service, supervision and reclaim
 *   requests.ts   the control requests, one handler per type
 *   scaling.ts    scale requests        chains.ts  chain names and hops
 *   rules.ts      flow rules            workers.ts the RX and TX loop threads
 *   takeover.ts   taking over from a manager that died
 *   status.ts     status snapshots      census.ts  where every buffer is
 *
 * Cold code: the data path lives in the loops (dataplane.ts) and the NFs (nflib/engine.ts).
 */
import { availableParallelism } from 'node:os';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import {
  peerOf,
  REFUSED_BEFORE_CLOSE,
  REQUEST_BURST,
  REQUESTS_PER_SECOND,
  RequestBudget,
  stalePid,
  type Conn,
} from './processes.js';
import { allowedCpus, pinThread } from '../util/cpus.js';
import { SHM_ROOT } from '../shm/shm-file.js';
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import { ensureNotRunning, listenControl, send, type ControlServer } from '../control/socket.js';
import type {
  FlowTableStats,
  ManagerStatus,
  ReattachRequest,
  Request,
  Reply,
  RegisterRequest,
  ScaleResult,
} from '../protocol/messages.js';
import { createInstance, type InstanceView } from '../shm/instance.js';
import { FREE_RING_ID, IH, managerJournalWord, MAX_NFS, ManagerState, NS } from '../shm/instance-layout.js';
import { NULL_DESC } from '../shm/pool.js';
import { PoolCache } from '../shm/pool-cache.js';
import { RING_HEADER_BYTES, RW } from '../shm/ring-layout.js';
import { BUILT_IN_TOPOLOGY, type Topology } from '../topology/types.js';
import type { DataplaneConfig } from './dataplane.js';
import { drainRing, drainTxRings } from './reclaim.js';
import { auditBuffers } from './census.js';
import { describeCount, managerStatus } from './status.js';
import { PortLinks } from './links.js';
import { describePorts, type PortDescription } from '../ports/port-info.js';
import { FlowRules } from './rules.js';
import { adoptFiles, PINS_FILE, Reattachment, repairManagerThreads, writeState, type Adopted } from './takeover.js';
import { formatStats } from './stats.js';
import { Messenger } from '../chain/messages.js';
import { launchServices, NfLauncher, topologyLaunches, type NfLaunch } from './launcher.js';
import { checkBusyPoll, placeLoops, type Placement } from './placement.js';
import type { InlineConfig } from './inline.js';
import { Registry } from './registry.js';
import { Scaler } from './scaling.js';
import { Chains } from './chains.js';
import { Loops } from './workers.js';
import { NF_REQUESTS, REQUESTS } from './requests.js';
import { defaultEventsFile, EventLog, type EventFields } from './events.js';
import { Observer, SAMPLE_MS } from './observe.js';
import { HttpEndpoint } from '../http/server.js';
import { metricsText } from '../http/metrics.js';
import { httpOptions, type HttpOptions } from '../topology/http-options.js';
import type { EventType, MetricDecl } from '../protocol/messages.js';
import { nfchainVersion } from '../util/version.js';

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
  /**
   * keep the samples behind rates, the graph and the history (default true); benchmarks
   * turn it off to measure what watching costs (bench chain --watch)
   */
  observe?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Manager {
  readonly topo: Topology;
  inst!: InstanceView;
  cache!: PoolCache;
  readonly registry: Registry;
  readonly chains: Chains;
  readonly rules: FlowRules;
  /** starts NF processes (nfchain start, scaling up); they are stopped with the manager */
  readonly launcher: NfLauncher;
  /** what each service's instances run (from the topology, or from a registering NF) */
  readonly launches = new Map<number, NfLaunch>();
  readonly log: (line: string) => void;
  /** resolves with the reason when the manager has stopped and removed its files */
  readonly done: Promise<string>;
  readonly untilDone: boolean;
  /** accounting at shutdown: buffers not back in the pool (0 when nothing leaked) */
  missingAtExit = -1;
  /** buffers found in two places at shutdown (freed twice); 0 when sound */
  duplicatesAtExit = -1;
  /** the status taken when stopping began (NFs still registered), for tests and reports */
  finalStatus: ManagerStatus | undefined;
  private control: ControlServer | undefined;
  private readonly loops: Loops;
  /** the main thread's CPUs before the placement moved it (restored at the end) */
  private mainCpus: number[] | undefined;
  /** where relative paths in NF options are from: the topology file's directory */
  private readonly baseDir: string;
  /** where the loops run and the NF processes to start (placement.ts; decided at start) */
  placement: Placement = { dataplane: 'split', launches: [], notes: [] };
  private readonly scaler: Scaler;
  /** sends the CLI's messages (sender id 0) */
  private sender: Messenger | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** the ports as NFs learn them (registered reply), and their link watch */
  private readonly portInfo: PortDescription[];
  private links: PortLinks | null = null;
  private readonly statsOut: ((text: string) => void) | null;
  private stopping: Promise<string> | undefined;
  private resolveDone: (reason: string) => void = () => {};
  private startedAt = 0;
  private rxDone = false;
  private lastSnapshot: ManagerStatus | undefined;
  private readonly holdRx: boolean;
  /** While taking over from a manager that died: its NFs coming back; null when this one started afresh. */
  private takenOver: Reattachment | null = null;
  /** what happened (events.ts): logged, followed, written to the events log */
  events: EventLog = new EventLog(null, () => {});
  /** rates, latency, loops, the graph and the history (observe.ts) */
  private observer: Observer | null = null;
  /** the HTTP endpoint, when manager.http asks for it */
  private http: HttpEndpoint | null = null;
  private readonly httpOpts: HttpOptions | null;
  private readonly observe: boolean;
  /** control requests refused for going beyond a connection's budget (RequestBudget) */
  requestsRefused = 0;

  constructor(o: ManagerOptions) {
    this.topo = o.topology;
    this.observe = o.observe ?? true;
    this.untilDone = o.untilDone ?? false;
    this.holdRx = o.holdRx ?? false;
    this.log = o.log ?? ((l) => process.stdout.write(`[manager] ${l}\n`));
    this.statsOut = o.stats === undefined ? (t) => process.stdout.write(t) : o.stats;
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    this.chains = new Chains(o.topology);
    this.portInfo = describePorts(o.topology.ports);
    this.rules = new FlowRules(
      o.topology.flows,
      () => this.chains.names,
      o.topology.ports.map((p) => p.name),
    );
    this.registry = new Registry(this);
    this.httpOpts = httpOptions(o.topology.manager.http, `${o.topology.file}: manager.http`, dirname(o.topology.file));
    const out = o.nfOutput ?? ((l: string) => process.stdout.write(`${l}\n`));
    const baseDir = o.topology.file === BUILT_IN_TOPOLOGY ? process.cwd() : dirname(o.topology.file);
    this.baseDir = baseDir;
    this.launcher = new NfLauncher(o.topology.name, out, this.log, baseDir);
    // What each service runs, for scaling: processes only (an inline NF has one instance).
    for (const l of topologyLaunches(o.topology)) if (!l.inline) this.remember(l);
    this.scaler = new Scaler(this);
    this.loops = new Loops({
      log: this.log,
      nfOutput: out,
      rxDone: (packets) => {
        this.rxDone = true;
        this.log(`input finished after ${packets} packets`);
      },
      failed: (role) => void this.stop(`${role} loop failed`),
    });
  }

  get name(): string {
    return this.topo.name;
  }

  /** True when this manager took over the NFs and state of one that died. */
  get tookOver(): boolean {
    return this.takenOver !== null;
  }

  /** ms an NF may leave packets waiting without taking one (manager.stallTimeout, default 5 s); 0: no limit */
  get stallMs(): number {
    return (this.topo.manager.stallTimeout ?? 5) * 1000;
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
    // that did not stop cleanly: taken over if they fit this topology, else removed. The
    // socket opens last, once all is ready.
    await ensureNotRunning(t.name);
    const eventsFile = t.manager.events === false ? null : (t.manager.events ?? defaultEventsFile(t.name));
    this.events = new EventLog(eventsFile, this.log);
    // NF processes: a fused group's instances are one process each.
    const placement = placeLoops(t, allowedCpus());
    this.placement = placement;
    const nfProcesses = placement.launches.reduce((n, l) => n + l.instances, 0);
    checkBusyPoll(t.manager.poll, nfProcesses, availableParallelism(), placement.dataplane === 'combined' ? 1 : 2);
    for (const note of placement.notes) this.log(note);
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
          name: t.name,
          pool: t.pool,
          nfRx: t.rings.nfRx,
          nfTx: t.rings.nfTx,
          ports: t.ports.length,
        });
        this.cache = this.mainCache();
        this.chains.writeAll(this.inst);
        this.saveState();
        await this.startLoops();
        this.control = await listenControl(t.name, (sock, onMessage) => this.onClient(sock, onMessage));
      }
    } catch (err) {
      await this.teardown();
      throw err;
    }
    if (this.placement.main) {
      // After the loops' threads exist (a thread starts with its creator's CPUs, and a loop may
      // pin itself only to CPUs it has); restored at the end (a manager may run inside a
      // longer-lived process: tests, benches).
      this.mainCpus = allowedCpus();
      pinThread(this.placement.main, "the manager's main thread");
    }
    this.links = new PortLinks(
      t.ports,
      this.inst,
      (line) => this.log(line),
      (port, up, line) => this.event('port-link', line, { port, detail: { up } }),
    );
    if (this.observe || this.httpOpts) {
      this.observer = new Observer({
        topo: t,
        inst: this.inst,
        chains: () => this.chains.list(this.inst),
        entries: this.registry.nfs,
      });
      this.observer.sample(this.baseStatus());
      this.timers.push(setInterval(() => this.observer?.sample(this.baseStatus()), SAMPLE_MS));
    }
    if (this.httpOpts) {
      this.http = new HttpEndpoint(
        this.httpOpts,
        {
          status: () => this.status(),
          history: () => this.observer!.history(),
          metrics: () => metricsText(this.status(), this.inst, nfchainVersion()),
          events: this.events,
        },
        this.log,
      );
      try {
        await this.http.start();
      } catch (err) {
        this.http = null;
        await this.teardown();
        throw err;
      }
      this.log(`http: ${this.http.url} (console; /metrics, /api/status, /api/history, /api/events)`);
    }
    this.timers.push(setInterval(() => this.links?.check(), 1000));
    Atomics.store(this.inst.i32, IH.managerState, ManagerState.RUNNING);
    this.takenOver?.resume();
    if (!this.holdRx || this.takenOver) this.enableRx();
    this.timers.push(setInterval(() => void this.supervise(), 100));
    if (t.manager.ttl > 0)
      this.timers.push(setTimeout(() => void this.stop(`TTL of ${t.manager.ttl} s reached`), t.manager.ttl * 1000));
    if (t.manager.statsInterval > 0 && this.statsOut) {
      this.timers.push(setInterval(() => this.printStats(), t.manager.statsInterval * 1000));
    }
    this.log(
      `instance "${t.name}": ${t.pool.count} buffers, ${t.ports.length} port(s), control socket ${this.control!.path}`,
    );
    this.event(
      'manager-started',
      `manager "${t.name}" started (pid ${process.pid})${eventsFile ? `; events in ${eventsFile}` : ''}`,
      {
        detail: { pid: process.pid, ...(this.http ? { http: this.http.url } : {}) },
      },
    );
  }

  /** Logs an event and hands it to whoever follows events (HTTP, nfchain events, the events log). */
  event(type: EventType, message: string, fields?: EventFields): void {
    this.log(message);
    this.events.emit(type, message, fields);
  }

  /** The main thread's buffer cache, its operations journaled in slot 0 (crash safety). */
  private mainCache(): PoolCache {
    const cache = new PoolCache(this.inst.pool, { capacity: 256 });
    cache.setJournal(
      this.inst.i32,
      managerJournalWord(this.inst.g, 'main'),
      FREE_RING_ID,
      FREE_RING_ID + 1,
      FREE_RING_ID + 2,
    );
    return cache;
  }

  // ---- taking over from a manager that died ------------------------------------------------

  /** What shared memory does not hold, for a manager that may take over (cold: on each change). */
  saveState(): void {
    writeState(this.inst.dir.path, {
      version: 1,
      ports: this.topo.ports.map((p) => p.name),
      chainNames: this.chains.names,
      rules: this.rules.specs(),
      nextRuleId: this.rules.nextRuleId,
      launches: [...new Set(this.launches.values())],
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
    this.inst = a.inst;
    const oldPid = a.inst.i32[IH.managerPid];
    // 1. The dead threads' ring operations, before this manager's own use their journals.
    for (const line of await repairManagerThreads(a.inst)) this.log(`takeover: ${line}`);
    this.cache = this.mainCache();
    // 2. State: chains (the table is in shared memory; their names here), rules, launches.
    this.chains.names = a.state.chainNames;
    this.rules.restore(a.state.rules, a.state.nextRuleId);
    for (const l of a.state.launches) this.remember(l);
    // 3. The NFs: live ones are waited for; dead ones are reclaimed.
    this.takenOver = new Reattachment(this.inst, this.registry, this.log);
    await this.takenOver.collect();
    this.control = await listenControl(this.topo.name, (sock, onMessage) => this.onClient(sock, onMessage));
    await this.takenOver.wait();
    // 4. Every NF is paused or gone: what is in no place was the dead manager's.
    let lost = 0;
    const audit = auditBuffers(
      this.inst,
      () => {},
      (d) => {
        this.cache.freeOne(d);
        lost++;
      },
    );
    this.cache.flush();
    if (audit.duplicates > 0)
      this.log(
        `warning: takeover: ${audit.duplicates} buffers are in two places (freed twice): ${audit.examples.join('; ')}`,
      );
    // The RX → TX ring and the NFs' tx rings keep their packets: the new TX loop sends them.
    await this.startLoops();
    this.saveState();
    this.log(
      `took over from manager pid ${oldPid}: ${this.takenOver.size} NF(s) back, ${lost} buffers the dead manager held reclaimed ` +
        `(its caches, ports and packets in flight), ${this.rules.size} flow rule(s), ${this.chains.names.length} chain(s); ${Date.now() - t0} ms`,
    );
  }

  /** An NF of the manager that died comes back on a new connection (cold). */
  reattach(req: ReattachRequest, conn: Conn): Promise<Reply> {
    if (!this.takenOver)
      throw new NfcError('NFC_ERR_CONTROL', `reattach of NF ${req.nfId} refused: this manager did not take it over`);
    return this.takenOver.reattach(req, conn, (l) => {
      if (!this.launches.has(l.service)) this.remember(l);
    });
  }

  /** What a service's instances run (one NF, or a fused group for each of its services), for scaling (cold). */
  private remember(l: NfLaunch): void {
    for (const svc of launchServices(l)) this.launches.set(svc, l);
  }

  // ---- NFs ----------------------------------------------------------------------------------

  /** An NF process registers: a slot, and what its service runs, remembered for scaling (cold). */
  register(req: RegisterRequest, conn: Conn): Reply {
    if (this.stopping) throw new NfcError('NFC_ERR_NOT_RUNNING', 'the manager is shutting down');
    const e = this.registry.register(req, conn);
    if (!this.launches.has(req.service)) {
      this.remember({
        name: req.name,
        module: req.module,
        service: req.service,
        options: req.options ?? {},
        ...(req.members ? { members: req.members } : {}),
        ...(req.access === 'read-only' ? { access: 'read-only' as const } : {}),
      });
      this.saveState();
    }
    return {
      type: 'registered',
      id: req.id,
      nfId: e.nfId,
      instance: this.topo.name,
      generation: e.generation,
      poll: this.topo.manager.poll,
      chains: [...this.chains.names],
      ports: this.portInfo,
    };
  }

  /** Runs `n` instances of a service (scaling.ts; cold). */
  scale(service: number | string, n: number, rebalance = false): Promise<ScaleResult> {
    return this.scaler.scale(service, n, rebalance);
  }

  /** Sends the CLI's messages to NF inboxes (sender id 0). */
  messenger(): Messenger {
    this.sender ??= new Messenger(this.inst, 0, {
      words: this.inst.i32,
      base: managerJournalWord(this.inst.g, 'main'),
    });
    return this.sender;
  }

  // ---- data plane ---------------------------------------------------------------------------

  /** Lets the RX loop receive. */
  enableRx(): void {
    Atomics.store(this.inst.i32, IH.rxEnabled, 1);
  }

  /**
   * Stops receiving and resolves once the RX loop has seen it (nothing more is received until
   * enableRx()): tests hold the input at a known packet while they change something. Cold.
   */
  async pauseRx(timeoutMs = 10_000): Promise<void> {
    const i32 = this.inst.i32;
    Atomics.store(i32, IH.rxEnabled, 0);
    const end = Date.now() + timeoutMs;
    while (Atomics.load(i32, IH.rxPaused) !== 1) {
      if (Date.now() > end) throw new NfcError('NFC_ERR_LOOP', `the RX loop did not pause within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  /**
   * The data-plane threads: TX then RX, or one loop doing both (manager.dataplane), with the
   * inline NF, if any, in it: its slot first, in service once the loop has made its instances.
   */
  private async startLoops(): Promise<void> {
    if (this.placement.dataplane !== 'combined') {
      for (const role of ['tx', 'rx'] as const) await this.startLoop(role);
      return;
    }
    const l = this.placement.inline;
    if (!l) {
      await this.startLoop('rxtx');
      return;
    }
    const e = this.registry.registerInline(l);
    const members = l.members ?? [{ name: l.name, module: l.module, service: l.service, options: l.options }];
    e.options = l.options;
    const info = await this.startLoop('rxtx', {
      nfId: e.nfId,
      name: l.name,
      members,
      baseDir: this.baseDir,
      chains: [...this.chains.names],
      ports: this.portInfo,
    });
    if (info) {
      e.metrics = info.metrics;
      e.latency = info.latency;
      e.options = info.options;
    }
    this.registry.putInService(e);
  }

  private startLoop(
    role: 'rx' | 'tx' | 'rxtx',
    inline?: InlineConfig,
  ): Promise<{ metrics: MetricDecl[]; latency: boolean; options: Record<string, unknown> } | undefined> {
    const m = this.topo.manager;
    const cfg: DataplaneConfig = {
      role,
      instance: this.topo.name,
      ports: this.topo.ports,
      limit: m.limit,
      poll: m.poll,
      flows: this.rules.rules(),
      flowTable: { capacity: m.flowTable, idleTimeoutMs: m.flowIdleTimeout * 1000 },
      pinsFile: join(this.inst.dir.path, PINS_FILE),
      loadPins: this.takenOver !== null,
      cores: role === 'tx' ? this.placement.tx : this.placement.rx,
      inline,
      latency: m.latency !== false,
    };
    return this.loops.start(cfg);
  }

  /** The flow rules changed: the RX loop gets them, the state file records them. */
  rulesChanged(): void {
    this.loops.pushFlows(this.rules.rules());
    this.saveState();
  }

  /** The RX loop's flow table and affinity counts (cold; undefined if it does not answer within 1 s). */
  flowStats(): Promise<FlowTableStats | undefined> {
    return this.loops.flowStats();
  }

  // ---- control socket -----------------------------------------------------------------------

  private onClient(sock: Socket, onMessage: (cb: (msg: unknown) => void) => void): void {
    const conn: Conn = { sock, peer: peerOf(sock), nfId: 0, budget: new RequestBudget() };
    onMessage((msg) => {
      const req = msg as Request;
      if (!conn.budget!.take()) {
        this.overBudget(conn, req);
        return;
      }
      void this.handle(req, conn).then(
        (reply) => {
          send(sock, reply);
        },
        (err: unknown) => {
          const e = err as NfcError;
          send(sock, {
            type: 'error',
            id: typeof req?.id === 'number' ? req.id : 0,
            code: e.code ?? 'NFC_ERR_INTERNAL',
            message: e.message,
          });
        },
      );
    });
    sock.on('close', () => {
      // The process may live on (a bug, a socket error): the registry kills it before reclaiming.
      if (conn.nfId) this.registry.gone(conn.nfId, 'its control connection closed');
    });
  }

  /** A request beyond its connection's budget: refused, counted; past REFUSED_BEFORE_CLOSE the connection is closed. */
  private overBudget(conn: Conn, req: Request): void {
    const b = conn.budget!;
    this.requestsRefused++;
    const who = conn.nfId
      ? `NF ${this.registry.nfs.get(conn.nfId)?.name ?? ''}#${conn.nfId}`
      : `process ${conn.peer?.pid ?? '?'}`;
    if (b.refused === 1) this.log(`control requests from ${who} beyond ${REQUESTS_PER_SECOND} a second: refusing them`);
    if (b.refused >= REFUSED_BEFORE_CLOSE) {
      if (!conn.sock.destroyed) {
        this.log(
          `closing the control connection of ${who}: ${b.refused} requests refused for going beyond ${REQUESTS_PER_SECOND} a second`,
        );
        conn.sock.destroy();
      }
      return;
    }
    send(conn.sock, {
      type: 'error',
      id: typeof req?.id === 'number' ? req.id : 0,
      code: 'NFC_ERR_LIMIT',
      message: `too many control requests: at most ${REQUESTS_PER_SECOND} a second (${REQUEST_BURST} at once) per connection`,
    });
  }

  private async handle(req: Request, conn: Conn): Promise<Reply> {
    if (!this.inst) throw new NfcError('NFC_ERR_NOT_RUNNING', 'the manager is still starting');
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') {
      throw new NfcError('NFC_ERR_CONTROL', 'malformed request: expected a JSON object with type and id');
    }
    const handler = Object.hasOwn(REQUESTS, req.type) ? REQUESTS[req.type] : undefined;
    if (!handler)
      throw new NfcError('NFC_ERR_CONTROL', `unknown request type ${JSON.stringify((req as { type?: unknown }).type)}`);
    if (conn.nfId !== 0 && !NF_REQUESTS.has(req.type)) {
      const e = this.registry.nfs.get(conn.nfId);
      this.log(`refused "${req.type}" from the connection of NF ${e ? `${e.name}#${e.nfId}` : conn.nfId}`);
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `"${req.type}" refused: this connection registered NF ${conn.nfId}, and speaks for it only (${[...NF_REQUESTS].join(', ')})`,
        { fix: 'send operator requests (nfchain status, chain, flow, shutdown) on a connection of their own' },
      );
    }
    return (handler as (m: Manager, r: Request, c: Conn) => Reply | Promise<Reply>)(this, req, conn);
  }

  /** Every 100 ms: dead pids, late packets in orphan rings, the end of input. */
  private async supervise(): Promise<void> {
    if (!this.inst) return;
    this.registry.supervise();
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

  /** The status with rates, latency, loops, drops, the graph (observe.ts), the HTTP URL and the events log. */
  status(): ManagerStatus {
    const base = this.baseStatus();
    const s = this.observer ? this.observer.enrich(base) : base;
    if (this.http) s.http = { url: this.http.url };
    if (this.events.file) s.eventsLog = this.events.file;
    return s;
  }

  /** The counters and states, as shared memory has them now (no rates). */
  baseStatus(): ManagerStatus {
    const s = managerStatus({
      topo: this.topo,
      inst: this.inst,
      nfs: this.registry.nfs.values(),
      startedAt: this.startedAt,
      cache: this.cache,
    });
    s.controlRefused = this.requestsRefused;
    return s;
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
    this.event('manager-stopping', `stopping: ${reason}`, { detail: { reason } });
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
    const nfs = this.registry.nfs;
    // NF processes are told to stop; an inline NF stops with the loop that runs it (teardown).
    for (const e of nfs.values()) if (e.conn) send(e.conn.sock, { type: 'stop', reason: 'the manager is stopping' });
    const end = Date.now() + 3000;
    while ([...nfs.values()].some((e) => !e.gone && !e.inline) && Date.now() < end) await sleep(20);
    for (const e of [...nfs.values()]) {
      if (!e.gone && e.conn) {
        this.log(`NF ${e.name}#${e.nfId} did not stop in time`);
        e.conn.sock.destroy();
        this.registry.gone(e.nfId, 'did not stop in time');
      }
    }
    await this.registry.settled();
    await this.launcher.stopAll();
    this.registry.closeQuarantined();
    await this.teardown();
    this.events.close();
    this.resolveDone(reason);
    return reason;
  }

  private async teardown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.http?.close();
    this.http = null;
    await this.loops.stopAll();
    if (this.mainCpus) {
      // Back to the CPUs it had (not pinThread: its check is against the CPUs it has now).
      try {
        native().setAffinity(this.mainCpus);
      } catch (err) {
        this.log(`warning: the main thread's CPUs could not be restored: ${(err as Error).message}`);
      }
      this.mainCpus = undefined;
    }
    if (this.inst) {
      const back = (d: number): void => {
        if (d !== NULL_DESC) this.cache?.freeOne(d);
      };
      for (let id = 1; id < MAX_NFS; id++) if (!this.registry.quarantined.has(id)) drainRing(this.inst, id, back);
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
        this.log(
          `warning: ${this.missingAtExit} of ${a.total} buffers not back in the pool (${a.elsewhere} still in rings or NF slots` +
            `${this.registry.quarantined.size > 0 ? ', held by quarantined NFs' : ''}, ${a.missing} nowhere: lost)` +
            `${a.duplicates > 0 ? `; ${a.duplicates} found in two places (freed twice)` : ''}; e.g. ${a.examples.join('; ')}`,
        );
      }
      this.inst.dir.remove();
    }
    this.control?.close();
  }
}
