/**
 * Taking over from a manager that died (cold; the steps are in docs/architecture.md, "When the
 * manager dies"): the state file beside the shared memory, whether the files fit a topology,
 * and the repair of the dead manager's threads' ring operations. The Manager runs the rest
 * (its NFs and buffers) with its registry.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRuleSpec } from '../protocol/messages.js';
import { adoptInstance, type InstanceView } from '../shm/instance.js';
import { EPOCHS, IH, ManagerState, managerJournalWord } from '../shm/instance-layout.js';
import { JOURNAL_WORDS } from '../shm/ring.js';
import { RW } from '../shm/ring-layout.js';
import type { Topology } from '../topology/types.js';
import type { NfLaunch } from './launcher.js';
import { repairJournal, ringAt } from './reclaim.js';

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
  const want = { count: topo.pool.count, jumbos: topo.pool.jumbos ?? 0, nfRx: topo.rings.nfRx, nfTx: topo.rings.nfTx, ports: topo.ports.length };
  const have = { count: pool.count, jumbos: pool.jumbos, nfRx: inst.g.nfRxCap, nfTx: inst.g.nfTxCap, ports: inst.g.ports };
  const diff = (Object.keys(want) as (keyof typeof want)[]).filter((k) => want[k] !== have[k]);
  let state: SavedState;
  try {
    state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as SavedState;
  } catch (err) {
    return `${join(dir, STATE_FILE)}: ${(err as Error).message}`;
  }
  if (diff.length > 0 || state.version !== 1 || state.ports.join() !== topo.ports.map((p) => p.name).join()) {
    return `its ${diff.length ? diff.map((k) => `${k} ${have[k]}`).join(', ') : `ports ${state.ports.join(', ')}`} ` +
      'differ from this topology; its NFs will not be taken back';
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
