/**
 * The manager's hold on NF processes: lifecycle requests are taken only from an NF's own
 * connection and process (peer credentials), and an NF's buffers are reclaimed only once its
 * process is certainly gone (pidfd): a process whose connection closed while it lives on is
 * killed first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { Manager } from '../src/manager/manager.js';
import { standaloneTopology } from '../src/cli/commands.js';
import { NS } from '../src/shm/instance-layout.js';
import { ControlClient } from '../src/control/socket.js';
import { NfcError } from '../src/errors.js';
import { REFUSED_BEFORE_CLOSE, REQUEST_BURST, RequestBudget } from '../src/manager/processes.js';
import { uniqueName, waitFor } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');
const VERDICT_JS = join(root, 'dist/test/fixtures/nfs/verdict.js');
const HANGUP_JS = join(root, 'dist/test/fixtures/nfs/hangup.js');
const THROWER_JS = join(root, 'dist/test/fixtures/nfs/thrower.js');
const SOCKET_JS = join(root, 'dist/src/control/socket.js');

interface NfProc {
  child: ChildProcess;
  out: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** An NF process for manager `name`, killed at the test's deadline if still running. */
function startNf(name: string, module: string, nfOptions: string[] = []): NfProc {
  const child = spawn(process.execPath, [MAIN, 'nf', module, '--service', '1', '--name', name, '--', ...nfOptions], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(String(d)));
  child.stderr!.on('data', (d: Buffer) => out.push(String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, out, exit };
}

/** True while `pid` runs (not gone, not a zombie): it could still write shared memory. */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Sends `requests` from a separate process on a fresh connection (pid '$self': its own); its replies, one per request. */
function forge(
  name: string,
  requests: Record<string, unknown>[],
): Promise<{ ok: boolean; code?: string; message?: string }[]> {
  const script = `
    import { ControlClient } from ${JSON.stringify(SOCKET_JS)};
    const c = await ControlClient.connect(${JSON.stringify(name)});
    const out = [];
    for (const r of ${JSON.stringify(requests)}) {
      if (r.pid === '$self') r.pid = process.pid;
      try { await c.request(r, 3000); out.push({ ok: true }); }
      catch (e) { out.push({ ok: false, code: e.code, message: e.message }); }
    }
    c.close();
    process.stdout.write(JSON.stringify(out));`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.stdout.on('data', (d: Buffer) => {
      s += d;
    });
    c.on('exit', () => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(s) as { ok: boolean; code?: string; message?: string }[]);
      } catch {
        reject(new Error(`forger output: ${s}`));
      }
    });
  });
}

/** The log of the last withManager run. */
let stopLogs: string[] = [];

async function withManager(prefix: string, f: (m: Manager, logs: string[]) => Promise<void>): Promise<Manager> {
  const t = standaloneTopology(uniqueName(prefix).slice(0, 32), ['gen', 'null'], '1,port:1', 20_000);
  t.manager.statsInterval = 0;
  const logs: string[] = [];
  stopLogs = logs;
  const m = new Manager({ topology: t, log: (l) => logs.push(l), stats: null });
  await m.start();
  try {
    await f(m, logs);
  } finally {
    await m.stop('test over');
  }
  return m;
}

test('a forged stopping, ready or register from another process is refused and changes nothing', {
  timeout: 60_000,
}, async () => {
  let nf: NfProc | undefined;
  const m = await withManager('forge', async (m, logs) => {
    nf = startNf(m.name, VERDICT_JS);
    try {
      await waitFor(() => m.status().nfs[0]?.state === 'running', 15_000, 'the NF to be in service');
      const before = m.status();
      const victim = before.nfs[0]!;
      assert.equal(victim.pid, nf.child.pid, 'the pid is the one the kernel names on the connection');
      const replies = await forge(m.name, [
        { type: 'stopping', nfId: victim.nfId, reason: 'forged' },
        { type: 'ready', nfId: victim.nfId },
        { type: 'register', name: 'impostor', service: 1, nfId: 0, pid: victim.pid, module: 'x' },
      ]);
      assert.equal(replies.length, 3);
      for (const r of replies) assert.equal(r.ok, false, JSON.stringify(r));
      assert.match(
        replies[0]!.message!,
        new RegExp(`"stopping" for NF ${victim.nfId} refused: only the connection that registered it`),
      );
      assert.match(replies[1]!.message!, new RegExp(`"ready" for NF ${victim.nfId} refused`));
      assert.match(
        replies[2]!.message!,
        new RegExp(`register for pid ${victim.pid} refused: the request came from process \\d+`),
      );
      assert.ok(
        logs.some((l) => /refused "stopping" for NF .* from another connection/.test(l)),
        logs.join('\n'),
      );
      // Nothing changed: same NF, same process, still in service and forwarding.
      const rx0 = victim.counters.rx ?? 0;
      await waitFor(() => (m.status().nfs[0]?.counters.rx ?? 0) > rx0 + 1000, 10_000, 'the NF to keep forwarding');
      const after = m.status();
      assert.deepEqual(
        after.nfs.map((n) => [n.nfId, n.pid, n.state]),
        before.nfs.map((n) => [n.nfId, n.pid, n.state]),
      );
      assert.deepEqual(after.services, before.services);
      assert.ok(running(nf.child.pid!), 'the NF process runs on');
      // Nor can the manager's own process register as an NF (it would be told to kill itself).
      const self = await ControlClient.connect(m.name);
      try {
        await assert.rejects(
          self.request({ type: 'register', name: 'self', service: 1, nfId: 0, pid: process.pid, module: 'x' }),
          (e: unknown) => e instanceof NfcError && /an NF runs in a process of its own/.test(e.message),
        );
      } finally {
        self.close();
      }
    } finally {
      if (nf.child.exitCode === null) setTimeout(() => nf!.child.kill('SIGKILL'), 10_000).unref();
    }
  });
  const exit = await nf!.exit;
  assert.equal(exit.code, 0, `the NF stopped cleanly with the manager: ${nf!.out.join('')}`);
  assert.ok(
    stopLogs.some((l) => /^buffers: all \d+ back in the pool$/.test(l)),
    stopLogs.join('\n'),
  );
  assert.equal(m.missingAtExit, 0, 'every buffer back');
});

test('a connection that registered an NF speaks for it only: operator requests on it are refused', {
  timeout: 60_000,
}, async () => {
  await withManager('nfconn', async (m, logs) => {
    const replies = await forge(m.name, [
      { type: 'register', name: 'lone', service: 2, nfId: 0, pid: '$self', module: 'x' },
      { type: 'shutdown' },
      { type: 'chain-set', name: 'other', hops: ['port:1'] },
      { type: 'flow-del', ruleId: 1 },
      { type: 'register', name: 'second', service: 3, nfId: 0, pid: '$self', module: 'x' },
      { type: 'status' },
    ]);
    assert.equal(replies[0]!.ok, true, JSON.stringify(replies[0]));
    for (const [i, type] of ['shutdown', 'chain-set', 'flow-del', 'register', 'status'].entries()) {
      const r = replies[i + 1]!;
      assert.equal(r.ok, false, `${type}: ${JSON.stringify(r)}`);
      assert.match(
        r.message!,
        new RegExp(`"${type}" refused: this connection registered NF \\d+, and speaks for it only`),
      );
    }
    assert.ok(
      logs.some((l) => /refused "shutdown" from the connection of NF lone#\d+/.test(l)),
      logs.join('\n'),
    );
    // The manager runs on, its chains as they were; the NF is gone with its process.
    assert.equal(m.stoppingNow, false, 'the manager did not shut down');
    assert.deepEqual(
      m.chains.list(m.inst).map((c) => c.name),
      ['default'],
    );
    await waitFor(
      () => !m.status().nfs.some((n) => n.name === 'lone'),
      10_000,
      'the lone NF to be gone with its process',
    );
  });
});

test('an NF whose connection closes while its process lives on is killed before its buffers are reused', {
  timeout: 60_000,
}, async () => {
  let nf: NfProc | undefined;
  let pid = 0;
  let nfId = 0;
  /** what the slot recorded for the NF when the manager decided to kill it, and whether it ran */
  let atKill: { held: number; running: boolean } | undefined;
  /** whether the process could still run when the reclaim was logged */
  let runningAtReclaim: boolean | undefined;
  let reclaimed = -1;
  const t = standaloneTopology(uniqueName('hang').slice(0, 32), ['gen', 'null'], '1,port:1', 20_000);
  t.manager.statsInterval = 0;
  const logs: string[] = [];
  let m: Manager | undefined;
  const log = (l: string): void => {
    logs.push(l);
    if (/is still running .* killing it before its buffers are reused/.test(l) && m) {
      const u32 = m.inst.u32;
      atKill = { held: u32[m.inst.slotWord(nfId) + NS.inflight]!, running: running(pid) };
    }
    const r = /killed .* reclaimed (\d+) buffers/.exec(l);
    if (r) {
      reclaimed = Number(r[1]);
      runningAtReclaim = running(pid);
    }
  };
  m = new Manager({ topology: t, log, stats: null });
  await m.start();
  try {
    nf = startNf(m.name, HANGUP_JS, ['--after', '3000']);
    pid = nf.child.pid!;
    await waitFor(() => m!.status().nfs[0]?.state === 'running', 15_000, 'the NF to be in service');
    nfId = m.status().nfs[0]!.nfId;
    await waitFor(() => m!.status().nfs.length === 0, 15_000, 'the manager to take the NF away');
    await waitFor(() => reclaimed >= 0, 5000, 'the reclaim');
  } finally {
    if (nf && nf.child.exitCode === null && nf.child.signalCode === null) nf.child.kill('SIGKILL');
    await m.stop('test over');
  }
  const exit = await nf.exit;
  assert.ok(nf.out.join('').includes('closed 1 connection(s)'), `the NF hung up: ${nf.out.join('')}`);
  assert.ok(
    logs.some((l) => /its control connection closed/.test(l)),
    logs.join('\n'),
  );
  assert.ok(atKill, `the manager killed it: ${logs.join('\n')}`);
  assert.equal(atKill.running, true, 'the process was alive after its connection closed');
  assert.ok(atKill.held > 0, 'and its slot still recorded the burst it held (nothing reclaimed yet)');
  assert.equal(exit.signal, 'SIGKILL', 'the manager killed it');
  assert.equal(runningAtReclaim, false, 'the buffers were reclaimed only once the process was gone');
  assert.ok(reclaimed >= atKill.held, `reclaimed ${reclaimed} buffers, at least the ${atKill.held} of its burst`);
  assert.equal(m.missingAtExit, 0, 'every buffer back');
});

test('an NF whose handle() throws dies; the manager takes it out of service and reclaims what it held', {
  timeout: 60_000,
}, async () => {
  let nf: NfProc | undefined;
  const m = await withManager('throw', async (m, logs) => {
    nf = startNf(m.name, THROWER_JS, ['--after', '2000']);
    try {
      await waitFor(() => m.status().nfs[0]?.state === 'running', 15_000, 'the NF to be in service');
      const exit = await nf.exit;
      assert.equal(exit.code, 1, 'an uncaught exception ends the process with code 1');
      await waitFor(() => m.status().nfs.length === 0, 10_000, 'the manager to take the NF away');
      assert.deepEqual(m.status().services, [], 'out of service');
      assert.ok(
        logs.some((l) => /NF thrower#\d+ died .* reclaimed \d+ buffers/.test(l)),
        logs.join('\n'),
      );
    } finally {
      if (nf.child.exitCode === null && nf.child.signalCode === null) nf.child.kill('SIGKILL');
    }
  });
  assert.match(nf!.out.join(''), /Error: thrower: a bug on packet 2000/, 'its output shows why');
  assert.equal(m.missingAtExit, 0, 'every buffer back');
  assert.equal(m.duplicatesAtExit, 0, 'none freed twice');
});

test('a connection that floods the control socket is refused beyond its budget, then closed; the manager runs on', {
  timeout: 60_000,
}, async () => {
  await withManager('flood', async (m, logs) => {
    // As fast as one connection can: far more than REQUEST_BURST plus what refills meanwhile.
    const n = REQUEST_BURST + REFUSED_BEFORE_CLOSE + 500;
    const replies = await forge(
      m.name,
      Array.from({ length: n }, () => ({ type: 'status' })),
    );
    const ok = replies.filter((r) => r.ok).length;
    const limited = replies.filter((r) => r.code === 'NFC_ERR_LIMIT').length;
    assert.ok(ok >= REQUEST_BURST, `a burst of ${REQUEST_BURST} is served (${ok})`);
    assert.ok(limited > 0, `requests beyond the budget are refused (${limited})`);
    assert.ok(m.baseStatus().controlRefused! >= limited, 'counted in status');
    assert.ok(
      logs.some((l) => /control requests from process \d+ beyond 100 a second: refusing them/.test(l)),
      logs.join('\n'),
    );
    if (limited + 1 >= REFUSED_BEFORE_CLOSE) {
      assert.ok(
        logs.some((l) => /closing the control connection of process \d+/.test(l)),
        'closed after enough refusals',
      );
    }
    // Another connection is served as before.
    const other = await forge(m.name, [{ type: 'status' }]);
    assert.equal(other[0]!.ok, true);
  });
});

test('the request budget: a burst, then a steady rate, refusals counted', () => {
  const b = new RequestBudget(0);
  let served = 0;
  for (let i = 0; i < REQUEST_BURST + 50; i++) if (b.take(0)) served++;
  assert.equal(served, REQUEST_BURST, 'a burst at once');
  assert.equal(b.refused, 50);
  assert.equal(b.take(5), false, 'half a token after 5 ms');
  assert.equal(b.take(10), true, 'a token every 10 ms (100 a second)');
  for (let i = 0; i < 1000; i++) b.take(10_000);
  assert.equal(b.take(20_000) && b.refused > 0, true, 'back after a while; refusals kept');
});
