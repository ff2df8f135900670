/**
 * Taking over from a manager that died (cold; the steps are in docs/architecture.md, "When the
 * manager dies"): the state file beside the shared memory, whether the files fit a topology,
 * the repair of the dead manager's threads' ring operations, and taking its NFs back (they
 * paused, and reattach on new connections). The Manager runs the whole (its start()).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import type { FlowRuleSpec, ReattachRequest, Reply } from '../protocol/messages.js';
import { adoptInstance, type InstanceView } from '../shm/instance.js';
import { EPOCHS, IH, MAX_NFS, ManagerState, managerJournalWord, NfState, NS } from '../shm/instance-layout.js';
import { JOURNAL_WORDS } from '../shm/ring.js';
import { RW } from '../shm/ring-layout.js';
import type { Topology } from '../topology/types.js';
import type { NfLaunch } from './launcher.js';
import { processRunning, type Conn } from './processes.js';
import { repairJournal, ringAt } from './reclaim.js';
import { described, servicesOf, type Registry } from './registry.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Files beside the shared memory that let a manager take over from one that died. */
export const STATE_FILE = 'state.json';
export const PINS_FILE = 'pins';
/** How long a manager taking over waits for the NFs of the one that died to come back (ms). */
export const REATTACH_WAIT_MS = 3000;

/** What a manager keeps in STATE_FILE: what shared memory does not hold. */
export interface SavedState {
  version: 1;
  ports: string[];
  chainNames: string[];
  rules: { id: number; spec: FlowRuleSpec }[];
  nextRuleId: number;
  launches: NfLaunch[];
}

/** Writes the state file atomically (a temporary file renamed over it). */
export function writeState(dir: string, st: SavedState): void {
  const path = join(dir, STATE_FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify(st));
  renameSync(`${path}.tmp`, path);
}

export interface Adopted {
  inst: InstanceView;
  state: SavedState;
}

/**
 * Maps the files in `dir` of the manager that died, as their new owner, if they fit `topo`
 * (pool size, jumbos, ring sizes, port names) and the state file reads; else the reason.
 */
export function adoptFiles(topo: Topology, dir: string): Adopted | string {
  let inst: InstanceView;
  try {
    inst = adoptInstance(topo.name);
  } catch (err) {
    return (err as Error).message;
  }
  const pool = inst.pool;
  const want = {
    count: topo.pool.count,
    jumbos: topo.pool.jumbos ?? 0,
    nfRx: topo.rings.nfRx,
    nfTx: topo.rings.nfTx,
    ports: topo.ports.length,
  };
  const have = {
    count: pool.count,
    jumbos: pool.jumbos,
    nfRx: inst.g.nfRxCap,
    nfTx: inst.g.nfTxCap,
    ports: inst.g.ports,
  };
  const diff = (Object.keys(want) as (keyof typeof want)[]).filter((k) => want[k] !== have[k]);
  let state: SavedState;
  try {
    state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as SavedState;
  } catch (err) {
    return `${join(dir, STATE_FILE)}: ${(err as Error).message}`;
  }
  if (diff.length > 0 || state.version !== 1 || state.ports.join() !== topo.ports.map((p) => p.name).join()) {
    return (
      `its ${diff.length ? diff.map((k) => `${k} ${have[k]}`).join(', ') : `ports ${state.ports.join(', ')}`} ` +
      'differ from this topology; its NFs will not be taken back'
    );
  }
  return { inst, state };
}

/**
 * Makes the instance this process's (its pid in the header, starting, input off) and finishes
 * or undoes the ring operations the dead manager's RX loop, TX loop and main thread left half
 * done (their journals are in slot 0). Returns what was repaired, for the log.
 */
export async function repairManagerThreads(inst: InstanceView): Promise<string[]> {
  const i32 = inst.i32;
  i32[IH.managerPid] = process.pid;
  Atomics.store(i32, IH.managerState, ManagerState.STARTING);
  Atomics.store(i32, IH.rxEnabled, 0);
  // The new RX loop's affinity table starts empty: flows count again as they are seen.
  for (let e = 0; e < EPOCHS; e++) Atomics.store(i32, IH.epochFlows + e, 0);
  const lines: string[] = [];
  for (const thread of ['rx', 'tx', 'main'] as const) {
    const jb = managerJournalWord(inst.g, thread);
    const r = await repairJournal(inst, jb, -1, -1, () => {});
    if (r.journal !== 'idle') lines.push(`the ${thread} thread's journal: ${r.journal}`);
    i32.fill(0, jb, jb + JOURNAL_WORDS);
  }
  // Only the manager takes jumbos off their ring: a reservation of the dead one is void.
  const jr = ringAt(inst.pool.buffer, inst.pool.jumboProducer.byteOffset).w;
  Atomics.store(jr, RW.consTail, Atomics.load(jr, RW.consHead));
  return lines;
}

/** An NF of the dead manager's that may come back: its slot's process, generation and service. */
interface Waiting {
  pid: number;
  generation: number;
  service: number;
  /** it reattached */
  back: boolean;
  /** answers its reattach request (it resumes then) */
  answer?: () => void;
}

/**
 * The NFs of a manager that died, taken back (cold): live ones paused and wait to reattach
 * on a new connection, from the same process, naming their slot's generation; dead ones, and
 * those that do not come back within REATTACH_WAIT_MS, are killed and reclaimed.
 */
export class Reattachment {
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly inst: InstanceView,
    private readonly registry: Registry,
    private readonly log: (line: string) => void,
  ) {}

  /** How many NFs came back (after wait()). */
  get size(): number {
    return this.waiting.size;
  }

  /** Reads the dead manager's slots: live NFs are waited for, dead ones reclaimed. */
  async collect(): Promise<void> {
    const { inst, registry } = this;
    const i32 = inst.i32;
    for (let id = 1; id < MAX_NFS; id++) {
      const slot = inst.slotWord(id);
      const state = Atomics.load(i32, slot + NS.state);
      if (state === NfState.FREE) continue;
      const pid = i32[slot + NS.pid]!;
      const service = i32[slot + NS.service]!;
      registry.generations[id] = i32[slot + NS.generation]!;
      if (processRunning(pid) && state !== NfState.STOPPED && state !== NfState.DEAD) {
        this.waiting.set(id, { pid, generation: registry.generations[id]!, service, back: false });
      } else {
        await registry.reclaimSlot(id, pid, `its process ${pid} is gone or stopping`);
      }
    }
  }

  /**
   * An NF comes back on a new connection (the reattach request). Answered once the takeover
   * is complete (resume()): the NF runs again then. `remember` records what it runs.
   */
  reattach(req: ReattachRequest, conn: Conn, remember: (l: NfLaunch) => void): Promise<Reply> {
    const w = this.waiting.get(req.nfId);
    if (!w || w.back)
      throw new NfcError('NFC_ERR_CONTROL', `reattach of NF ${req.nfId} refused: this manager did not take it over`);
    const peer = conn.peer;
    if (peer === null || peer.pid !== w.pid) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `reattach of NF ${req.nfId} refused: its slot names process ${w.pid}, the request came from ${peer?.pid ?? 'an unknown process'}`,
      );
    }
    if (req.generation !== w.generation || req.service !== w.service) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `reattach of NF ${req.nfId} refused: generation ${req.generation}, service ${req.service} do not match its slot`,
      );
    }
    const services = req.members ? req.members.map((m) => m.service) : [req.service];
    const listed = servicesOf(this.inst, req.nfId);
    if (listed.some((s) => !services.includes(s))) {
      throw new NfcError(
        'NFC_ERR_CONTROL',
        `reattach of NF ${req.nfId} refused: the service table has it in services ${listed.join(', ')}, it names ${services.join(', ')}`,
      );
    }
    const pidfd = native().pidfdOpen(peer.pid);
    this.registry.readmit({
      since: Date.now(),
      nfId: req.nfId,
      name: req.name,
      service: req.service,
      services,
      members: req.members,
      pid: peer.pid,
      pidfd,
      generation: w.generation,
      conn,
      module: req.module,
      ...described(req),
    });
    w.back = true;
    remember({
      name: req.name,
      module: req.module,
      service: req.service,
      options: req.options ?? {},
      ...(req.members ? { members: req.members } : {}),
    });
    return new Promise((resolve) => {
      w.answer = () => resolve({ type: 'ok', id: req.id });
    });
  }

  /**
   * Waits up to REATTACH_WAIT_MS for every live NF to reattach and pause; an NF that exits
   * meanwhile (it was stopping when the manager died) is reclaimed, one that does not come
   * back is killed and reclaimed. Resolves when every such NF is gone.
   */
  async wait(): Promise<void> {
    const { inst, registry, waiting } = this;
    const i32 = inst.i32;
    const end = Date.now() + REATTACH_WAIT_MS;
    const pending = (): number[] =>
      [...waiting]
        .filter(([id, w]) => !w.back || Atomics.load(i32, inst.slotWord(id) + NS.state) !== NfState.PAUSED)
        .map(([id]) => id);
    while (pending().length > 0 && Date.now() < end) {
      for (const id of pending()) {
        const w = waiting.get(id)!;
        if (!w.back && !processRunning(w.pid)) {
          waiting.delete(id);
          await registry.reclaimSlot(id, w.pid, `its process ${w.pid} exited`);
        }
      }
      await sleep(5);
    }
    for (const id of pending()) {
      const w = waiting.get(id)!;
      waiting.delete(id);
      if (registry.nfs.has(id)) {
        registry.gone(id, 'it did not pause when the manager died');
      } else {
        this.log(`takeover: NF #${id} (pid ${w.pid}) did not come back within ${REATTACH_WAIT_MS} ms: killing it`);
        await registry.reclaimSlot(id, w.pid, 'it did not come back');
      }
    }
    await registry.settled();
  }

  /** The takeover is complete: the NFs that came back run again. */
  resume(): void {
    for (const [id, w] of this.waiting) {
      if (!w.back || this.registry.nfs.get(id)?.gone !== false) continue;
      Atomics.store(this.inst.i32, this.inst.slotWord(id) + NS.state, NfState.RUNNING);
      w.answer?.();
    }
  }
}
