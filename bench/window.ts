/**
 * Runs a topology (manager here, NFs as processes), waits for a warm-up, takes two status
 * snapshots `seconds` apart, stops everything and returns the two snapshots (cold).
 */
import { runTopology } from '../src/cli/start.js';
import { NfcError } from '../src/errors.js';
import type { Manager } from '../src/manager/manager.js';
import type { ManagerStatus } from '../src/protocol/messages.js';
import type { Topology } from '../src/topology/types.js';

export async function measureWindow(
  topo: Topology,
  seconds: number,
  warmupMs = 1000,
): Promise<{ a: ManagerStatus; b: ManagerStatus }> {
  let window: { a: ManagerStatus; b: ManagerStatus } | undefined;
  await runTopology(topo, {
    signals: false,
    stats: null,
    log: () => {},
    nfOutput: () => {},
    onRunning: (m: Manager) => {
      void (async () => {
        await new Promise((r) => setTimeout(r, warmupMs));
        const a = m.status();
        await new Promise((r) => setTimeout(r, seconds * 1000));
        window = { a, b: m.status() };
        void m.stop('benchmark over');
      })();
    },
  });
  if (!window) throw new NfcError('NFC_ERR_BENCH', 'the topology stopped before the measurement window ended');
  return window;
}
