/**
 * Shared by the benchmarks that run real traffic between the testbed's two namespaces (bench
 * ports, bench latency): interface counters, the kernel bridge as a path, and nfchain started
 * around a measurement.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../src/cli/start.js';
import type { Topology } from '../src/topology/types.js';
import { validateTopology } from '../src/topology/load.js';
import type { Testbed } from '../src/testbed/testbed.js';
import type { Manager } from '../src/manager/manager.js';

/** Packets eth0 in namespace `ns` has received. */
export function rxPackets(ns: string): number {
  const j = JSON.parse(
    execFileSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', 'eth0'], { encoding: 'utf8' }),
  ) as { stats64: { rx: { packets: number } } }[];
  return j[0]!.stats64.rx.packets;
}

/** Runs f with the testbed's two root-side veths in a Linux bridge (removed after). */
export async function withKernelBridge<T>(tb: Testbed, f: () => Promise<T>): Promise<T> {
  const br = `${tb.name}-br`;
  execFileSync('ip', ['link', 'add', br, 'type', 'bridge']);
  try {
    execFileSync('ip', ['link', 'set', tb.ifA, 'master', br]);
    execFileSync('ip', ['link', 'set', tb.ifB, 'master', br]);
    execFileSync('ip', ['link', 'set', br, 'up']);
    return await f();
  } finally {
    execFileSync('ip', ['link', 'del', br]);
  }
}

/** Starts the topology, runs f once every NF is in service (after `settleMs`), stops; f's result. */
export async function withTopology<T>(topo: Topology, f: (m: Manager) => Promise<T>, settleMs = 0): Promise<T> {
  let out: T | undefined;
  let failure: unknown;
  await runTopology(topo, {
    signals: false,
    stats: null,
    log: () => {},
    nfOutput: () => {},
    onRunning: (m: Manager) => {
      void (async () => {
        try {
          if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
          out = await f(m);
        } catch (err) {
          failure = err;
        }
        void m.stop('benchmark over');
      })();
    },
  });
  if (failure) throw failure;
  return out as T;
}

/**
 * The topology that joins the testbed's two ports (a, b) through a chain of `nfs`, in their
 * order (cold). `source` names the benchmark in validation errors.
 */
export function testbedChain(
  tb: Testbed,
  driver: string,
  nfs: Record<string, unknown>[],
  name: string,
  source: string,
  poll: 'adaptive' | 'busy' = 'adaptive',
): Topology {
  return validateTopology(
    {
      name,
      manager: { statsInterval: 0, poll },
      ports: [
        { name: 'a', driver, interface: tb.ifA },
        { name: 'b', driver, interface: tb.ifB },
      ],
      nfs,
      chain: nfs.map((x) => x.name as string),
    },
    source,
  );
}

const BLASTER = fileURLToPath(new URL('./blaster.js', import.meta.url));

/**
 * The `ip` arguments that run the UDP blaster in the testbed's namespace A, sending `size`-byte
 * frames to B for `seconds`: as fast as it can (pps 0) or paced at `pps` packets per second.
 */
export function blasterArgs(tb: Testbed, seconds: number, size: number, pps = 0): string[] {
  return [
    'netns',
    'exec',
    tb.nsA,
    process.execPath,
    BLASTER,
    'eth0',
    tb.macA,
    tb.macB,
    tb.ipA,
    tb.ipB,
    String(seconds),
    String(size),
    String(pps),
  ];
}
