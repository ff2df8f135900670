/**
 * A manager that dies under traffic (kill -9) and a new one started with the same topology:
 * the same NF processes forward again, with the flow pins, named chains and flow rules they
 * had, and every buffer is accounted for at the end. An NF that no manager takes back gives
 * up after --manager-wait and exits non-zero, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { ManagerStatus } from '../src/protocol/messages.js';
import { uniqueName, waitFor } from './helpers/procs.js';
import { socketPath } from '../src/control/socket.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');
const NFS = (n: string): string => join(root, `dist/nfs/${n}/index.js`);

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => out, exit };
}

function cli(name: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [MAIN, ...args, '--name', name], {
    encoding: 'utf8',
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  assert.equal(r.status, 0, `nfchain ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const status = (name: string): ManagerStatus => JSON.parse(cli(name, 'status', '--json')) as ManagerStatus;
/** `nfchain flow list`: the pinned count and the rule lines. */
function flows(name: string): { pinned: number; rules: string[] } {
  const out = cli(name, 'flow', 'list');
  return {
    pinned: Number(/, (\d+) pinned;/.exec(out)?.[1] ?? -1),
    rules: out.split('\n').filter((l) => /^\d+: /.test(l)),
  };
}

/** Kills whatever is still running at the end (NFs are not the test's children after a takeover). */
function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

test('kill -9 of the manager under traffic: a new manager takes the same NFs back with their pins, chains and rules; every buffer accounted', {
  timeout: 120_000,
}, async (t) => {
  const name = uniqueName('tk').slice(0, 32);
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-takeover-'));
  const file = join(dir, 'topo.yaml');
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'manager: { statsInterval: 0 }',
      'ports:',
      '  - { name: g, driver: gen, rate: 20000, flows: 64 }',
      '  - { name: sink, driver: "null" }',
      'nfs:',
      // Pins every new flow to chain "fast": later packets of the flow skip the director.
      `  - { name: fd, module: ${NFS('flow-director')}, service: 1, options: { map: "", fallback: fast } }`,
      `  - { name: fwd, module: ${NFS('simple-forward')}, service: 2, instances: 2 }`,
      'chains:',
      '  fast: [fwd, "port:sink"]',
      'chain: [fd, fwd, "port:sink"]',
      '',
    ].join('\n'),
  );
  let m1: Proc | undefined;
  let m2: Proc | undefined;
  let nfPids: number[] = [];
  try {
    m1 = start(['start', file]);
    await waitFor(
      () => /registered/.test(m1!.out()) && status(name).nfs.filter((n) => n.state === 'running').length === 3,
      30_000,
      `the topology to come up:\n${m1.out()}`,
    );
    await waitFor(() => flows(name).pinned === 64, 10_000, 'every flow to be pinned');
    cli(name, 'chain', 'set', 'spare', 'fwd,port:sink');
    cli(name, 'flow', 'add', '--dst-ports', '9999-9999', '--chain', 'spare');
    const before = status(name);
    nfPids = before.nfs.map((n) => n.pid).sort();
    const chainsBefore = cli(name, 'chain', 'list');

    m1.child.kill('SIGKILL');
    await m1.exit;
    // The NFs stay, paused (their slot says so), holding what they held.
    const started = Date.now();
    m2 = start(['start', file]);
    await waitFor(
      () => /took over from manager pid \d+: 3 NF\(s\) back/.test(m2!.out()),
      20_000,
      `the takeover:\n${m2.out()}`,
    );
    const tx0 = status(name).ports[1]!.txPackets;
    await waitFor(() => status(name).ports[1]!.txPackets > tx0 + 1000, 10_000, 'forwarding to go on');
    t.diagnostic(
      `forwarding again ${Date.now() - started} ms after the new manager was started (node start-up included)`,
    );
    assert.match(m2.out(), /\d+ buffers the dead manager held reclaimed/);
    assert.match(m2.out(), /takeover: 64 flow pins restored/);

    const after = status(name);
    assert.deepEqual(after.nfs.map((n) => n.pid).sort(), nfPids, 'the same NF processes');
    assert.ok(
      after.nfs.every((n) => n.state === 'running'),
      JSON.stringify(after.nfs),
    );
    assert.deepEqual(after.services, before.services, 'the same service table');
    // What the NFs declared (counters, their options as parsed) came back with them.
    const described = (st: typeof before) =>
      st.nfs
        .map((n) => ({ tag: n.tag, metrics: n.metrics?.map((x) => x.name), options: n.options }))
        .sort((a, b) => a.tag.localeCompare(b.tag));
    assert.ok(before.nfs.find((n) => n.name === 'fd')!.metrics?.length, 'the flow director declares counters');
    assert.deepEqual(described(after), described(before), 'the same declared counters and options');
    assert.equal(cli(name, 'chain', 'list'), chainsBefore, 'the same chains');
    const f = flows(name);
    assert.equal(f.pinned, 64, 'the same flow pins');
    assert.deepEqual(f.rules, ['1: priority 0 → chain spare  {"dstPorts":[9999,9999]}'], 'the same flow rule');
    // Pinned flows skip the director: it sees nothing new once the pins are back.
    const fdRx = after.nfs.find((n) => n.name === 'fd')!.counters.rx ?? 0;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      status(name).nfs.find((n) => n.name === 'fd')!.counters.rx ?? 0,
      fdRx,
      'pinned flows no longer reach the director',
    );

    m2.child.kill('SIGINT');
    const e2 = await m2.exit;
    assert.equal(e2.code, 0, m2.out());
    assert.match(m2.out(), /buffers: all \d+ back in the pool/);
    await waitFor(
      () =>
        nfPids.every(
          (p) => !existsSync(`/proc/${p}`) || /\) Z /.test(String(spawnSync('cat', [`/proc/${p}/stat`]).stdout)),
        ),
      10_000,
      'the NFs to stop with the new manager',
    );
    assert.equal(existsSync(`/dev/shm/nfchain-${name}`), false, 'no shared files left');
  } finally {
    if (m1 && m1.child.exitCode === null && m1.child.signalCode === null) m1.child.kill('SIGKILL');
    if (m2 && m2.child.exitCode === null && m2.child.signalCode === null) m2.child.kill('SIGKILL');
    killAll(nfPids);
    rmSync(dir, { recursive: true, force: true });
    rmSync(`/dev/shm/nfchain-${name}`, { recursive: true, force: true });
    rmSync(socketPath(name), { force: true }); // left by the manager killed with nothing to replace it
  }
});

test('an NF whose manager dies and is not replaced exits after --manager-wait with code 3, saying why', {
  timeout: 60_000,
}, async () => {
  const name = uniqueName('tkw').slice(0, 32);
  let m: Proc | undefined;
  let nf: Proc | undefined;
  try {
    m = start([
      'manager',
      '--name',
      name,
      '--port',
      'gen',
      '--port',
      'null',
      '--chain',
      '1,port:1',
      '--rate',
      '10000',
      '--stats',
      '0',
    ]);
    await waitFor(() => /control socket/.test(m!.out()), 20_000, `the manager:\n${m.out()}`);
    nf = start(['nf', NFS('simple-forward'), '--service', '1', '--name', name, '--manager-wait', '1']);
    await waitFor(() => /running: service 1/.test(nf!.out()), 20_000, `the NF:\n${nf.out()}`);
    m.child.kill('SIGKILL');
    const e = await nf.exit;
    assert.equal(e.code, 3, nf.out());
    assert.match(nf.out(), /paused, waiting up to 1 s for a manager to take over/);
    assert.match(nf.out(), /stopped: the manager went away and no manager took over within 1 s/);
  } finally {
    if (m && m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    if (nf && nf.child.exitCode === null && nf.child.signalCode === null) nf.child.kill('SIGKILL');
    rmSync(`/dev/shm/nfchain-${name}`, { recursive: true, force: true });
    rmSync(socketPath(name), { force: true }); // left by the manager killed with nothing to replace it
  }
});
