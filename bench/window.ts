/**
 * Runs a topology (manager here, NFs as processes), waits for a warm-up, takes two status
 * snapshots `seconds` apart, stops everything and returns the two snapshots (cold).
 *
 * `observe: false` runs the manager without its samples; `during(m)` starts something
 * beside the run (a scraper) when the NFs are in service and returns how to stop it.
 * `mainCpuMs`: CPU the manager's main thread (control, samples, HTTP) used in the window, per second.
 */
import { runTopology } from '../src/cli/start.js';
import { NfcError } from '../src/errors.js';
import type { Manager } from '../src/manager/manager.js';
import type { ManagerStatus } from '../src/protocol/messages.js';
import type { Topology } from '../src/topology/types.js';
import { readFileSync } from 'node:fs';

/** CPU time of this process's main thread so far, in ms (Linux: schedstat's ns on CPU, else stat's ticks). */
export function mainThreadCpuMs(): number {
  const task = `/proc/${process.pid}/task/${process.pid}`;
  try {
    return Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    const stat = readFileSync(`${task}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at the last ')'; utime and stime are 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  }
}

export interface WindowOptions {
  warmupMs?: number;
  observe?: boolean;
  during?: (m: Manager) => () => Promise<void>;
}

export async function measureWindow(
  topo: Topology,
  seconds: number,
  o: WindowOptions = {},
): Promise<{ a: ManagerStatus; b: ManagerStatus; mainCpuMs: number }> {
  let window: { a: ManagerStatus; b: ManagerStatus; mainCpuMs: number } | undefined;
  let stopBeside: (() => Promise<void>) | undefined;
  await runTopology(topo, {
    signals: false,
    stats: null,
    log: () => {},
    nfOutput: () => {},
    observe: o.observe ?? true,
    onRunning: (m: Manager) => {
      stopBeside = o.during?.(m);
      void (async () => {
        await new Promise((r) => setTimeout(r, o.warmupMs ?? 1000));
        const a = m.baseStatus();
        const cpu0 = mainThreadCpuMs();
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const b = m.baseStatus();
        window = { a, b, mainCpuMs: (mainThreadCpuMs() - cpu0) / (b.time - a.time || seconds) };
        await stopBeside?.();
        void m.stop('benchmark over');
      })();
    },
  });
  if (!window) throw new NfcError('NFC_ERR_BENCH', 'the topology stopped before the measurement window ended');
  return window;
}
