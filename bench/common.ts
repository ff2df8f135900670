/**
 * Shared pieces of the benchmarks: result lines, JSON output, medians, child processes.
 *
 * Every benchmark prints `name k=v ...: X Mpps (Y ns/pkt)` per parameter combination, or one
 * JSON object per line with --json: { bench, ...params, mpps | mdesc, nsPerPkt, runs }.
 * Each combination runs in fresh processes (JIT state and caches do not leak between them),
 * several times; the median is reported.
 */
import { NfcError } from '../src/errors.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
  const params = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
  const name = params ? `${r.bench} ${params}` : r.bench;
  const extra = r.extra ? ` [${Object.entries(r.extra).map(([k, v]) => `${k}=${v}`).join(' ')}]` : '';
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
  process.stdout.write((json ? toJson(r) : formatResult(r)) + '\n');
}

/** Runs `node <this module's compiled file> ...args` and resolves with its stdout (cold). */
export function runChild(moduleUrl: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(moduleUrl), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new NfcError('NFC_ERR_BENCH', `benchmark child ${args.join(' ')} failed (${sig ?? code})`));
    });
  });
}

/** A comma-separated flag value as a list (`dflt` when the flag is absent; empty items dropped). */
export function list(v: string | undefined, dflt: string): string[] {
  return (v ?? dflt).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Parses `--key value` / `--flag` pairs (cold). */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) m.set(a.slice(2), argv[++i]!);
    else m.set(a.slice(2), 'true');
  }
  return m;
}
