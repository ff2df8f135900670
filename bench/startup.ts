/**
 * bench startup: from spawning an NF process (`nfchain nf <module> --service 1`) to its first
 * packet handled, with a manager already running and traffic waiting. Measured for a
 * JavaScript module and for a TypeScript module (transpiled on load). Reported in ms.
 *
 * The manager runs in its own process (as `nfchain manager`), so the measuring process that
 * spawns the NFs stays small (forking a process with a large heap costs time that is not the
 * NF's).
 *
 *   nfchain bench startup [--runs R] [--json]
 */
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { attachInstance, type InstanceView } from '../src/shm/instance.js';
import { ControlClient } from '../src/control/socket.js';
import { CounterSet, MAX_NFS, NS, RouteCounters } from '../src/shm/instance-layout.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runsFlag, type BenchResult } from './common.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MODULES = {
  js: fileURLToPath(new URL('./nfs/parse-nf.js', import.meta.url)),
  ts: fileURLToPath(new URL('../../bench/nfs/parse-nf.ts', import.meta.url)),
};

async function once(inst: InstanceView, name: string, module: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [MAIN, 'nf', module, '--service', '1', '--name', name], { stdio: 'ignore' });
  let ms = -1;
  for (;;) {
    // The first packet handled shows in the NF's counters (shared memory).
    for (let id = 1; id < MAX_NFS; id++) {
      if (
        inst.i32[inst.slotWord(id) + NS.pid] === child.pid &&
        inst.counters.read(CounterSet.nf(id), RouteCounters.rx) > 0
      ) {
        ms = performance.now() - t0;
      }
    }
    if (ms >= 0 || performance.now() - t0 > 10_000) break;
    // Poll every millisecond: a busy poll here would take a core from the starting NF.
    await new Promise((r) => setTimeout(r, 1));
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  await new Promise((r) => setTimeout(r, 100));
  return ms;
}

export const STARTUP_FLAGS = flagSpecs([runsFlag(7), JSON_FLAG]);

export async function startupBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { runs: n, json } = benchArgs('startup', argv, STARTUP_FLAGS).values;
  const name = `bench-start-${randomUUID().slice(0, 8)}`;
  const manager = spawn(
    process.execPath,
    [MAIN, 'manager', '--name', name, '--chain', '1,port:1', '--rate', '100000', '--stats', '0'],
    { stdio: 'ignore' },
  );
  const out: BenchResult[] = [];
  try {
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        (await ControlClient.connect(name, 500)).close();
        break;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const inst = attachInstance(name);
    for (const [kind, module] of Object.entries(MODULES)) {
      const runs: number[] = [];
      for (let r = 0; r < n; r++) runs.push(await once(inst, name, module));
      const res: BenchResult = {
        bench: 'startup',
        params: { module: kind },
        rate: median(runs),
        unit: 'ms',
        nsPerItem: 0,
        runs,
      };
      emit(res, json);
      out.push(res);
    }
  } finally {
    manager.kill('SIGTERM');
    await new Promise((r) => manager.on('exit', r));
  }
  return out;
}
