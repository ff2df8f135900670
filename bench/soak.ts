/**
 * bench soak: gen at full rate through a chain with flow tracking and several instances per
 * service (flow-tracker × 2 → simple-forward × 2 → null) for M minutes, while instances of the
 * tracker service are killed with SIGKILL at random moments (seeded) and started again by a
 * scale request. Reported: buffers leaked (must be 0: the manager's audit at the stop), buffers
 * found in two places (must be 0), kills, packets out, and the resident memory of every
 * long-lived process over time (the manager with its loops, the forwarders, which are never
 * killed) — its drift from the first sample after the warm-up must stay small (flat).
 *
 *   nfchain bench soak [--minutes M] [--kill-every MIN,MAX (s)] [--seed N] [--json]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import { NfcError } from '../src/errors.js';
import type { Manager } from '../src/manager/manager.js';
import { mulberry32f } from '../src/util/prng.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, JSON_FLAG } from './common.js';

const NFS = (name: string): string => fileURLToPath(new URL(`../nfs/${name}/index.js`, import.meta.url));

export interface SoakOptions {
  seconds: number;
  /** seconds between kills: uniform in [min, max] */
  killEvery: [number, number];
  seed: number;
  /** a line of progress (cold) */
  progress?: ((line: string) => void) | undefined;
}

export interface SoakResult {
  bench: 'soak';
  seconds: number;
  kills: number;
  /** buffers not back in the pool at the stop (the manager's audit) */
  leaked: number;
  /** buffers found in two places at the stop (freed twice) */
  duplicates: number;
  /** packets out of the sink, and their rate */
  packets: number;
  mpps: number;
  /** the longest time from a kill to the reclaim, ms */
  maxReclaimMs: number;
  /** RSS samples in MB: [seconds since start, MB] per long-lived process */
  rss: Record<string, [number, number][]>;
  /** per long-lived process: (last − first after warm-up) / first after warm-up, percent */
  rssDriftPct: Record<string, number>;
}

/** VmRSS of `pid` in MB, or NaN when it is gone (cold). */
function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const topo = validateTopology(
    {
      name: `soak-${randomUUID().slice(0, 8)}`,
      manager: { statsInterval: 0 },
      ports: [
        { name: 'gen', driver: 'gen', rate: 0, sizes: [64, 512, 1500], flows: 4096 },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        {
          name: 'tracker',
          module: NFS('flow-tracker'),
          service: 1,
          instances: 2,
          options: { interval: 0, 'idle-timeout': 5 },
        },
        { name: 'fwd', module: NFS('simple-forward'), service: 2, instances: 2 },
      ],
      chain: ['tracker', 'fwd', 'port:sink'],
    },
    '<bench soak>',
  );
  const random = mulberry32f(o.seed);
  const rss: Record<string, [number, number][]> = { manager: [] };
  let kills = 0;
  let maxReclaimMs = 0;
  let first: { packets: number; time: number } | undefined;
  let last: { packets: number; time: number } | undefined;
  let failure: Error | undefined;
  const logs: string[] = [];
  const t0 = Date.now();
  const elapsed = (): number => (Date.now() - t0) / 1000;
  const sampleEvery = Math.max(1, Math.min(10, o.seconds / 30));
  const r = await runTopology(topo, {
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: () => {},
    onRunning: (m: Manager) => {
      const sampler = setInterval(() => {
        const s = m.status();
        const t = Number(elapsed().toFixed(1));
        rss.manager!.push([t, process.memoryUsage().rss / 2 ** 20]);
        for (const n of s.nfs) {
          if (n.name !== 'fwd') continue;
          const mb = rssMb(n.pid);
          if (!Number.isFinite(mb)) continue;
          const key = `${n.tag} (pid ${n.pid})`;
          rss[key] ??= [];
          rss[key].push([t, mb]);
        }
      }, sampleEvery * 1000);
      void (async () => {
        try {
          const end = t0 + o.seconds * 1000;
          const s0 = m.status();
          first = { packets: s0.ports[1]!.txPackets, time: s0.time };
          for (;;) {
            const wait = (o.killEvery[0] + random() * (o.killEvery[1] - o.killEvery[0])) * 1000;
            if (Date.now() + wait >= end) {
              await new Promise((res) => setTimeout(res, Math.max(0, end - Date.now())));
              break;
            }
            await new Promise((res) => setTimeout(res, wait));
            const victims = m.status().nfs.filter((n) => n.name === 'tracker' && n.state === 'running');
            if (victims.length === 0) throw new NfcError('NFC_ERR_BENCH', 'no tracker instance to kill');
            const v = victims[Math.floor(random() * victims.length)]!;
            const killed = Date.now();
            process.kill(v.pid, 'SIGKILL');
            kills++;
            const until = Date.now() + 10_000;
            while (m.status().nfs.some((n) => n.pid === v.pid)) {
              if (Date.now() > until)
                throw new NfcError('NFC_ERR_BENCH', `the manager did not take back ${v.tag} within 10 s`);
              await new Promise((res) => setTimeout(res, 5));
            }
            maxReclaimMs = Math.max(maxReclaimMs, Date.now() - killed);
            await m.scale('tracker', 2);
            o.progress?.(
              `soak ${elapsed().toFixed(0)} s: killed ${v.tag} (kill ${kills}), started another; ${m.status().buffers.free} buffers free`,
            );
          }
          const s1 = m.status();
          last = { packets: s1.ports[1]!.txPackets, time: s1.time };
        } catch (err) {
          failure = err as Error;
        } finally {
          clearInterval(sampler);
          void m.stop('soak over');
        }
      })();
    },
  });
  if (failure) throw failure;
  if (!first || !last) throw new NfcError('NFC_ERR_BENCH', `the soak stopped early: ${logs.slice(-5).join('; ')}`);
  const warm = Math.min(30, o.seconds * 0.2);
  const rssDriftPct: Record<string, number> = {};
  for (const [name, series] of Object.entries(rss)) {
    const after = series.filter(([t]) => t >= warm);
    if (after.length < 2 || after[after.length - 1]![0] - after[0]![0] < o.seconds / 2) continue;
    const a = after[0]![1];
    const b = after[after.length - 1]![1];
    rssDriftPct[name] = Number((((b - a) / a) * 100).toFixed(1));
  }
  for (const series of Object.values(rss)) for (const p of series) p[1] = Number(p[1].toFixed(1));
  const packets = last.packets - first.packets;
  return {
    bench: 'soak',
    seconds: o.seconds,
    kills,
    leaked: r.manager.missingAtExit,
    duplicates: r.manager.duplicatesAtExit,
    packets,
    mpps: Number((packets / (last.time - first.time) / 1e6).toFixed(3)),
    maxReclaimMs,
    rss,
    rssDriftPct,
  };
}

export const SOAK_FLAGS = flagSpecs([
  { name: 'minutes', kind: 'number', max: 24 * 60, default: 10, value: 'M', help: 'how long (above 0)' },
  {
    name: 'kill-every',
    kind: 'list',
    of: 'number',
    default: [2, 8],
    value: 'MIN,MAX',
    help: 'seconds between two kills, drawn from [MIN, MAX] (MIN at least 0.5)',
  },
  { name: 'seed', kind: 'integer', default: 1, value: 'N', help: "seed of the kills' moments and victims" },
  JSON_FLAG,
]);

export async function soakBenchFromArgv(argv: readonly string[]): Promise<SoakResult[]> {
  const { minutes, 'kill-every': ke, seed, json } = benchArgs('soak', argv, SOAK_FLAGS).values;
  if (!(minutes > 0)) {
    throw new NfcError('NFC_ERR_USAGE', `--minutes ${minutes}: a duration in minutes, above 0 and at most 1440`);
  }
  if (ke.length !== 2 || !(ke[0]! >= 0.5) || !(ke[1]! >= ke[0]!)) {
    throw new NfcError(
      'NFC_ERR_USAGE',
      `--kill-every ${ke.join(',')}: MIN,MAX seconds between kills, MIN at least 0.5 and MAX at least MIN (e.g. 2,8)`,
    );
  }
  const res = await soak({
    seconds: minutes * 60,
    killEvery: [ke[0]!, ke[1]!],
    seed,
    progress: json ? undefined : (l) => process.stderr.write(`${l}\n`),
  });
  if (json) {
    process.stdout.write(`${JSON.stringify(res)}\n`);
  } else {
    const drift = Object.entries(res.rssDriftPct)
      .map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v} %`)
      .join(', ');
    const range = (name: string): string => {
      const s = res.rss[name] ?? [];
      return s.length ? `${s[0]![1]} → ${s[s.length - 1]![1]} MB` : '-';
    };
    process.stdout.write(
      `soak minutes=${minutes} kills=${res.kills}: leaked ${res.leaked} buffers, ${res.duplicates} freed twice; ` +
        `${(res.packets / 1e6).toFixed(1)} M packets out (${res.mpps} Mpps); longest kill → reclaim ${res.maxReclaimMs} ms; ` +
        `manager RSS ${range('manager')}; RSS drift after warm-up: ${drift || '(run too short)'}\n`,
    );
  }
  return [res];
}
