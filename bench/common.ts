/**
 * Shared pieces of the benchmarks: result lines, JSON output, medians, child processes.
 *
 * Every benchmark prints `name k=v ...: X Mpps (Y ns/pkt)` per parameter combination, or one
 * JSON object per line with --json: { bench, ...params, mpps | mdesc, nsPerPkt, runs }.
 * Each combination runs in fresh processes (JIT state and caches do not leak between them),
 * several times; the median is reported.
 *
 * Each benchmark declares its flags (`<NAME>_FLAGS`, beside its `...FromArgv`) and parses with
 * benchArgs: `nfchain bench <name> --help` is generated from them and unknown flags are refused.
 * List flags (`--nfs 1,3,5`) are `list` specs: comma lists, repeatable.
 */
import { NfcError } from '../src/errors.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type FlagSpec, type Parsed, parseCommandLine, usageLine } from '../src/util/args.js';

export interface BenchResult {
  bench: string;
  params: Record<string, string | number>;
  /** million items per second; `unit` says what an item is */
  rate: number;
  unit: 'mpps' | 'mdesc' | 'mbufs' | 'ms' | 'gbps';
  /** nanoseconds per item (for unit 'ms', unused) */
  nsPerItem: number;
  /** every run's rate, in run order */
  runs: number[];
  extra?: Record<string, number | string>;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const UNIT_LABEL = { mpps: 'Mpps', mdesc: 'Mdesc/s', mbufs: 'Mbufs/s', ms: 'ms', gbps: 'Gbit/s' } as const;
const ITEM_LABEL = { mpps: 'pkt', mdesc: 'desc', mbufs: 'buf', ms: '', gbps: '' } as const;

export function formatResult(r: BenchResult): string {
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const name = params ? `${r.bench} ${params}` : r.bench;
  const extra = r.extra
    ? ` [${Object.entries(r.extra)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}]`
    : '';
  if (r.unit === 'ms') return `${name}: ${r.rate.toFixed(1)} ms (median of ${r.runs.length})${extra}`;
  if (r.unit === 'gbps') return `${name}: ${r.rate.toFixed(2)} Gbit/s (median of ${r.runs.length})${extra}`;
  return `${name}: ${r.rate.toFixed(2)} ${UNIT_LABEL[r.unit]} (${r.nsPerItem.toFixed(2)} ns/${ITEM_LABEL[r.unit]})${extra}`;
}

export function toJson(r: BenchResult): string {
  const o: Record<string, unknown> = { bench: r.bench, ...r.params };
  o[r.unit] = Number(r.rate.toFixed(3));
  if (r.unit !== 'ms' && r.unit !== 'gbps') o.nsPerPkt = Number(r.nsPerItem.toFixed(3));
  o.runs = r.runs.map((x) => Number(x.toFixed(3)));
  if (r.extra) Object.assign(o, r.extra);
  return JSON.stringify(o);
}

export function emit(r: BenchResult, json: boolean): void {
  process.stdout.write(`${json ? toJson(r) : formatResult(r)}\n`);
}

/** Runs `node <this module's compiled file> ...args` and resolves with its stdout (cold). */
export function runChild(moduleUrl: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(moduleUrl), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new NfcError('NFC_ERR_BENCH', `benchmark child ${args.join(' ')} failed (${sig ?? code})`));
    });
  });
}

/** --poll: how the NFs of a benchmark's chain wait for packets. */
export const POLL_FLAG = {
  name: 'poll',
  kind: 'string',
  choices: ['adaptive', 'busy'],
  default: 'adaptive',
  value: 'MODE',
  help: 'adaptive (NFs sleep when idle) or busy (NFs spin)',
} as const;

/** --json: the same results as one JSON object per line. */
export const JSON_FLAG = { name: 'json', kind: 'boolean', help: 'one JSON object per line' } as const;

/** --runs R: how many times each combination runs (the median is reported). */
export function runsFlag(dflt: number): {
  readonly name: 'runs';
  readonly kind: 'integer';
  readonly min: 1;
  readonly default: number;
  readonly value: 'R';
  readonly help: string;
} {
  return {
    name: 'runs',
    kind: 'integer',
    min: 1,
    default: dflt,
    value: 'R',
    help: 'runs per combination; the median is reported',
  };
}

/** The usage line of `nfchain bench <name>`. */
export function benchUsage(name: string, specs: readonly FlagSpec[]): string {
  return usageLine(`nfchain bench ${name}`, specs);
}

/** Parses a benchmark's command line against its flags: unknown flags and stray words are refused (cold). */
export function benchArgs<const S extends readonly FlagSpec[]>(
  name: string,
  argv: readonly string[],
  specs: S,
): Parsed<S> {
  const usage = benchUsage(name, specs);
  const p = parseCommandLine(argv, specs, usage);
  const stray = [...p.positionals, ...p.rest];
  if (stray.length) {
    throw new NfcError('NFC_ERR_USAGE', `bench ${name}: unexpected argument "${stray[0]}"`, { fix: usage });
  }
  return p;
}
