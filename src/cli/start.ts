/**
 * Running a topology: the manager in this process, one `nfchain nf` process per NF instance,
 * their logs streamed here with a prefix, and everything stopped together (Ctrl-C, SIGTERM,
 * the manager's TTL, or the end of input with --until-done). Invalid input — the topology,
 * an NF module, an NF option — stops before anything starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
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
}

export interface RunResult {
  reason: string;
  manager: Manager;
  /** NF processes that exited with an error */
  failed: string[];
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

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
  const out = o.nfOutput ?? ((l: string) => process.stdout.write(`${l}\n`));
  const manager = new Manager({ topology: topo, untilDone: o.untilDone ?? false, log, stats: o.stats, holdRx: true });
  await manager.start();
  const children: { child: ChildProcess; tag: string; exited: Promise<number | null> }[] = [];
  const failed: string[] = [];
  const onSignal = (sig: NodeJS.Signals): void => { void manager.stop(`${sig} received`); };
  if (o.signals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    for (const nf of topo.nfs) {
      for (let k = 0; k < nf.instances; k++) {
        const tag = nf.instances > 1 ? `${nf.name}.${k}` : nf.name;
        const args = [MAIN, 'nf', nf.module, '--service', String(nf.service), '--name', topo.name, '--label', nf.name, '--options-json', JSON.stringify(nf.options)];
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        createInterface({ input: child.stdout! }).on('line', (l) => out(l.startsWith('[') ? l : `[${tag}] ${l}`));
        createInterface({ input: child.stderr! }).on('line', (l) => out(`[${tag}] ${l}`));
        const exited = new Promise<number | null>((resolve) => {
          child.on('exit', (code, signal) => {
            if (code !== 0 && !manager.stoppingNow) {
              failed.push(tag);
              log(`NF process ${tag} exited with ${signal ?? code}`);
            }
            resolve(code);
          });
        });
        children.push({ child, tag, exited });
      }
    }
    // Wait until every instance is in service (or one fails to start).
    const want = children.length;
    const end = Date.now() + 30_000;
    while (manager.status().nfs.filter((n) => n.state === 'running').length < want) {
      if (failed.length) throw new NfcError('NFC_ERR_NF', `NF ${failed.join(', ')} failed to start (its output is above)`);
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
    await stopChildren(children);
    if (o.signals !== false) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
    throw err;
  }
  const reason = await manager.done;
  await stopChildren(children);
  if (o.signals !== false) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return { reason, manager, failed };
}

/** Waits for NF processes to exit (the manager told them to stop); kills stragglers. */
async function stopChildren(children: { child: ChildProcess; exited: Promise<number | null> }[]): Promise<void> {
  const all = Promise.all(children.map((c) => c.exited));
  const t = setTimeout(() => { for (const c of children) c.child.kill('SIGKILL'); }, 3000);
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGTERM');
  await all;
  clearTimeout(t);
}
