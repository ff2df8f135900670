/**
 * bench nf: one NF alone, in this process, on a workload that fits it — the NF's own
 * `nfs/<name>/bench.ts` (defineNFBench: cases of routes, rules, flows, patterns ...). No manager,
 * no rings, no ports: the harness's pump() writes each packet from the case's templates into a
 * pool buffer with the meta the RX loop gives it, calls the NF, and frees what leaves. The
 * figure is the NF's cost per packet plus that copy (≈ what a port's receive costs).
 *
 * Each case runs in a fresh process per run (runChild), warms up for 0.3 s, then counts the
 * packets handled in `--seconds` (with the case's `tickEvery`, a tick after every that many
 * packets, the virtual clock moving by the NF's tickInterval). Reported: Mpps, and Gbit/s of the packets' bytes; the shares
 * passed (NEXT, toNF, out) and dropped go in the JSON.
 *
 *   nfchain bench nf [--name l3fwd,firewall,...] [--seconds 2] [--runs 3] [--json]
 *   JSON: { bench: "nf", name, ...case params, mpps, nsPerPkt, runs, gbps, passed, dropped }
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NfcError } from '../src/errors.js';
import { flagSpecs } from '../src/util/args.js';
import { openNF, type NFBenchCase } from '../src/nflib/harness.js';
import { isNFDefinition, type NFDefinition, type OptionsSpec } from '../src/nflib/define.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

/** Where the compiled example NFs are (dist/nfs). */
const NFS_DIR = fileURLToPath(new URL('../nfs/', import.meta.url));

/** The NFs that have a bench.ts (cold). */
export function benchable(): string[] {
  if (!existsSync(NFS_DIR)) return [];
  return readdirSync(NFS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(NFS_DIR, e.name, 'bench.js')))
    .map((e) => e.name)
    .sort();
}

export async function loadCases(
  name: string,
): Promise<{ def: NFDefinition<OptionsSpec>; cases: readonly NFBenchCase[] }> {
  const dir = join(NFS_DIR, name);
  const all = benchable();
  if (!existsSync(join(dir, 'bench.js'))) {
    throw new NfcError('NFC_ERR_USAGE', `bench nf: no NF "${name}" with a workload (nfs/${name}/bench.ts)`, {
      fix: `NFs with one: ${all.join(', ') || 'none'}`,
    });
  }
  const def = (await import(pathToFileURL(join(dir, 'index.js')).href)).default as unknown;
  const cases = (await import(pathToFileURL(join(dir, 'bench.js')).href)).default as readonly NFBenchCase[];
  if (!isNFDefinition(def)) throw new NfcError('NFC_ERR_NF', `bench nf: nfs/${name}/index has no NF definition`);
  return { def, cases };
}

export const NF_FLAGS = flagSpecs([
  {
    name: 'name',
    kind: 'list',
    of: 'string',
    default: [],
    value: 'NF,...',
    help: 'the NFs to measure (default: every NF with a bench.ts)',
  },
  { name: 'seconds', kind: 'number', default: 2, value: 'S', help: 'the measured window of each run' },
  runsFlag(3),
  JSON_FLAG,
]);

export async function nfBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { name: names, seconds, runs: nRuns, json } = benchArgs('nf', argv, NF_FLAGS).values;
  const list = names.length > 0 ? names : benchable();
  const out: BenchResult[] = [];
  for (const name of list) {
    const { cases } = await loadCases(name);
    for (let c = 0; c < cases.length; c++) {
      const runs: number[] = [];
      const gbps: number[] = [];
      let shares = { passed: 0, dropped: 0 };
      for (let r = 0; r < nRuns; r++) {
        const line = await runChild(import.meta.url, ['child', name, String(c), String(seconds)], {
          timeoutMs: (seconds + 60) * 1000,
        });
        const res = JSON.parse(line.trim().split('\n').pop()!) as {
          mpps: number;
          gbps: number;
          passed: number;
          dropped: number;
        };
        runs.push(res.mpps);
        gbps.push(res.gbps);
        shares = { passed: res.passed, dropped: res.dropped };
      }
      const rate = median(runs);
      const res: BenchResult = {
        bench: 'nf',
        params: { name, ...cases[c]!.params },
        rate,
        unit: 'mpps',
        nsPerItem: 1000 / rate,
        runs,
        extra: { gbps: Number(median(gbps).toFixed(3)), ...shares },
      };
      emit(res, json);
      out.push(res);
    }
  }
  return out;
}

/** What one run of one case measured. */
export interface NfCaseRun {
  mpps: number;
  gbps: number;
  /** shares of the packets handled that passed and that were dropped */
  passed: number;
  dropped: number;
  handled: number;
}

/** One run of one case, in this (fresh) process; prints one JSON line. */
async function child(name: string, caseIndex: number, seconds: number): Promise<void> {
  process.stdout.write(`${JSON.stringify(await runCase(name, caseIndex, seconds))}\n`);
}

/**
 * Runs case `caseIndex` of NF `name` for `seconds` after a warm-up of `warmupMs` (cold setup;
 * the measured loop is the harness's pump()). The tests run every case briefly with it.
 */
export async function runCase(name: string, caseIndex: number, seconds: number, warmupMs = 300): Promise<NfCaseRun> {
  const { def, cases } = await loadCases(name);
  const kase = cases[caseIndex];
  if (!kase) throw new NfcError('NFC_ERR_USAGE', `bench nf: ${name} has no case ${caseIndex}`);
  const dir = mkdtempSync(join(tmpdir(), `nfchain-bench-${name}-`));
  try {
    const w = await kase.prepare(dir);
    const session = await openNF(def, {
      options: w.options ?? {},
      baseDir: dir,
      ...(w.ports ? { ports: w.ports } : {}),
      ...(w.chains ? { chains: w.chains } : {}),
      ...(w.dataRoom !== undefined ? { dataRoom: w.dataRoom } : {}),
      poolCount: 4096,
    });
    const port = w.inputPort ?? 0;
    // With tickEvery, chunks of that many packets and a tick after each; else 2048 packets.
    const tickEvery = w.tickEvery !== undefined && w.tickEvery > 0 ? Math.ceil(w.tickEvery) : 0;
    const chunk = tickEvery > 0 ? tickEvery : 32 * 64;
    const step = (): ReturnType<typeof session.pump> => {
      const r = session.pump(w.packets, chunk, port);
      if (tickEvery > 0) session.tick(1);
      return r;
    };
    // Warm-up: the JIT compiles the NF's hot path.
    const warmEnd = performance.now() + warmupMs;
    while (performance.now() < warmEnd) step();
    let handled = 0;
    let bytes = 0;
    let passed = 0;
    let dropped = 0;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let t1 = t0;
    while (t1 < end) {
      const r = step();
      handled += r.handled;
      bytes += r.bytes;
      passed += r.passed;
      dropped += r.dropped;
      t1 = performance.now();
    }
    await session.stop();
    const s = (t1 - t0) / 1000;
    return {
      mpps: handled / s / 1e6,
      gbps: (bytes * 8) / s / 1e9,
      passed: Number((passed / handled).toFixed(4)),
      dropped: Number((dropped / handled).toFixed(4)),
      handled,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
