/**
 * Running a topology: the manager in this process, one `nfchain nf` process per NF instance
 * (started by the manager's launcher), their logs streamed here with a prefix, and everything stopped together (Ctrl-C, SIGTERM,
 * the manager's TTL, or the end of input with --until-done). Invalid input — the topology,
 * an NF module, an NF option — stops before anything starts.
 */
import { NfcError } from '../errors.js';
import { Manager } from '../manager/manager.js';
import { loadNF } from '../nflib/load.js';
import { parseOptions } from '../nflib/define.js';
import type { Topology } from '../topology/types.js';

export interface RunOptions {
  untilDone?: boolean;
  /** manager log lines (default stdout) */
  log?: (line: string) => void;
  /** stats tables (default stdout; null: none) */
  stats?: ((text: string) => void) | null;
  /** NF output lines (default stdout) */
  nfOutput?: (line: string) => void;
  /** install SIGINT/SIGTERM handlers (default true) */
  signals?: boolean;
  /** called once every NF instance is running */
  onRunning?: (m: Manager) => void;
  /** the manager's 1-s samples (ManagerOptions.observe; default true) */
  observe?: boolean;
}

export interface RunResult {
  reason: string;
  manager: Manager;
  /** NF processes that exited with an error */
  failed: string[];
}

/** Checks every NF module and its options before anything starts (cold). */
export async function checkNfs(topo: Topology): Promise<void> {
  for (const [i, nf] of topo.nfs.entries()) {
    const def = await loadNF(nf.module);
    parseOptions(def, nf.options, `${topo.file}: nfs[${i}] (${nf.name})`);
  }
}

export async function runTopology(topo: Topology, o: RunOptions = {}): Promise<RunResult> {
  await checkNfs(topo);
  const log = o.log ?? ((l: string) => process.stdout.write(`[manager] ${l}\n`));
  const manager = new Manager({
    topology: topo,
    untilDone: o.untilDone ?? false,
    log,
    stats: o.stats,
    holdRx: true,
    nfOutput: o.nfOutput,
    observe: o.observe ?? true,
  });
  await manager.start();
  const onSignal = (sig: NodeJS.Signals): void => {
    void manager.stop(`${sig} received`);
  };
  if (o.signals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const launcher = manager.launcher;
  try {
    // After a takeover the NFs of the manager that died are back already: start only what is missing.
    const have = manager.baseStatus().nfs;
    for (const l of manager.placement.launches) {
      const back = manager.tookOver ? have.filter((n) => n.service === l.service).length : 0;
      for (let k = back; k < l.instances; k++) launcher.start(l);
    }
    // Wait until every instance is in service (or one fails to start).
    const want = launcher.started + (manager.tookOver ? have.length : 0) + (manager.placement.inline ? 1 : 0);
    const end = Date.now() + 30_000;
    while (manager.baseStatus().nfs.filter((n) => n.state === 'running').length < want) {
      if (launcher.failed.length)
        throw new NfcError('NFC_ERR_NF', `NF ${launcher.failed.join(', ')} failed to start (its output is above)`);
      if (Date.now() > end) throw new NfcError('NFC_ERR_NF', 'NFs did not come up within 30 s');
      if (manager.stoppingNow) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!manager.stoppingNow) {
      manager.enableRx();
      o.onRunning?.(manager);
    }
  } catch (err) {
    await manager.stop('start failed');
    if (o.signals !== false) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    throw err;
  }
  const reason = await manager.done;
  if (o.signals !== false) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return { reason, manager, failed: launcher.failed };
}
