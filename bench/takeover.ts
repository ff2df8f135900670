/**
 * bench takeover: a manager killed with SIGKILL under traffic (gen → flow-director → simple-forward
 * ×2 → null, every flow pinned) and a new one started with the same topology file. Reported,
 * per run and as medians: ms from starting the new manager's process (Node start-up included)
 * until packets leave the sink again (100 beyond its first answer's count), the takeover's own
 * duration as the manager logs it, and the buffers the dead manager held (its caches, ports and
 * packets in flight), which the new one reclaims.
 *
 *   nfchain bench takeover [--runs 3] [--rate 50000] [--json]   (root for /run/nfchain, or any user)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { ControlClient } from '../src/control/socket.js';
import { NfcError } from '../src/errors.js';
import type { StatusReply } from '../src/protocol/messages.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, JSON_FLAG, median, runsFlag } from './common.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const NFS = (name: string): string => fileURLToPath(new URL(`../nfs/${name}/index.js`, import.meta.url));

export interface TakeoverRow {
  bench: 'takeover';
  rate: number;
  runs: number;
  /** medians over the runs, and every run's figure */
  forwardMs: number;
  takeoverMs: number;
  reclaimed: number;
  forwardMsRuns: number[];
  takeoverMsRuns: number[];
}

function startManager(file: string): { child: ChildProcess; out: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, [MAIN, 'start', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d;
  });
  return { child, out: () => out, exited: new Promise((r) => child.on('exit', () => r())) };
}

/** The sink's transmitted packets, or -1 when the manager does not answer (yet). Cold. */
async function sinkTx(name: string): Promise<number> {
  let c: ControlClient | undefined;
  try {
    c = await ControlClient.connect(name, 200);
    const r = await c.request<StatusReply>({ type: 'status' }, 1000);
    return r.status.ports[1]!.txPackets;
  } catch {
    return -1;
  } finally {
    c?.close();
  }
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new NfcError('NFC_ERR_BENCH', `bench takeover: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function once(rate: number): Promise<{ forwardMs: number; takeoverMs: number; reclaimed: number }> {
  const name = `bench-tk-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-bench-takeover-'));
  const file = join(dir, 'topo.yaml');
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'manager: { statsInterval: 0 }',
      'ports:',
      `  - { name: g, driver: gen, rate: ${rate}, flows: 256 }`,
      '  - { name: sink, driver: "null" }',
      'nfs:',
      `  - { name: fd, module: ${NFS('flow-director')}, service: 1, options: { map: "", fallback: fast } }`,
      `  - { name: fwd, module: ${NFS('simple-forward')}, service: 2, instances: 2 }`,
      'chains:',
      '  fast: [fwd, "port:sink"]',
      'chain: [fd, fwd, "port:sink"]',
      '',
    ].join('\n'),
  );
  const m1 = startManager(file);
  let m2: ReturnType<typeof startManager> | undefined;
  try {
    await until('the first manager to forward', 30_000, async () => ((await sinkTx(name)) > 10_000 ? true : undefined));
    m1.child.kill('SIGKILL');
    await m1.exited;
    const t0 = performance.now();
    m2 = startManager(file);
    const first = await until('the new manager to answer', 20_000, async () => {
      const n = await sinkTx(name);
      return n >= 0 ? n : undefined;
    });
    await until('packets out of the sink again', 20_000, async () =>
      (await sinkTx(name)) > first + 100 ? true : undefined,
    );
    const forwardMs = performance.now() - t0;
    const re =
      /took over from manager pid \d+: \d+ NF\(s\) back, (\d+) buffers the dead manager held reclaimed.*; (\d+) ms/;
    const out2 = m2.out;
    const line = await until(
      `the takeover's log line (output so far: ${out2()})`,
      5000,
      async () => re.exec(out2()) ?? undefined,
    );
    m2.child.kill('SIGINT');
    await m2.exited;
    await new Promise((r) => setTimeout(r, 50)); // the last output lines
    if (!/buffers: all \d+ back in the pool/.test(m2.out()))
      throw new NfcError('NFC_ERR_BENCH', `bench takeover: buffers were lost:\n${m2.out()}`);
    return { forwardMs, takeoverMs: Number(line[2]), reclaimed: Number(line[1]) };
  } finally {
    for (const m of [m1, m2])
      if (m && m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export const TAKEOVER_FLAGS = flagSpecs([
  runsFlag(3),
  {
    name: 'rate',
    kind: 'integer',
    min: 1000,
    default: 50_000,
    value: 'PPS',
    help: "the generator's rate, packets per second",
  },
  JSON_FLAG,
]);

export async function takeoverBenchFromArgv(argv: readonly string[]): Promise<TakeoverRow[]> {
  const { runs, rate, json } = benchArgs('takeover', argv, TAKEOVER_FLAGS).values;
  const rs = [];
  for (let r = 0; r < runs; r++) rs.push(await once(rate));
  const row: TakeoverRow = {
    bench: 'takeover',
    rate,
    runs,
    forwardMs: Math.round(median(rs.map((x) => x.forwardMs))),
    takeoverMs: Math.round(median(rs.map((x) => x.takeoverMs))),
    reclaimed: Math.round(median(rs.map((x) => x.reclaimed))),
    forwardMsRuns: rs.map((x) => Math.round(x.forwardMs)),
    takeoverMsRuns: rs.map((x) => x.takeoverMs),
  };
  process.stdout.write(
    json
      ? `${JSON.stringify(row)}\n`
      : `takeover rate=${rate} runs=${runs}: forwarding again ${row.forwardMs} ms after the new manager was started (runs ${row.forwardMsRuns.join(', ')}); ` +
          `takeover ${row.takeoverMs} ms (runs ${row.takeoverMsRuns.join(', ')}); ${row.reclaimed} buffers of the dead manager reclaimed\n`,
  );
  return [row];
}
