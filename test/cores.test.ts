/**
 * Core placement under a real manager: the RX and TX loops pinned by the topology, an NF pinned
 * with `nfchain nf --cores`, each seen on its CPU in the status; a CPU the NF may not use stops
 * it before it registers, with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Manager } from '../src/manager/manager.js';
import { standaloneTopology } from '../src/cli/commands.js';
import { allowedCpus } from '../src/util/cpus.js';
import { uniqueName, waitFor } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');
const FORWARD = join(root, 'dist/nfs/simple-forward/index.js');
const execFileP = promisify(execFile);

test('the loops and an NF run on the CPUs they are pinned to, and status says so', { timeout: 60_000 }, async () => {
  const cpus = allowedCpus();
  const first = cpus[0]!;
  const last = cpus[cpus.length - 1]!;
  const t = standaloneTopology(uniqueName('cores').slice(0, 32), ['gen', 'null'], '1,port:1', 20_000);
  t.manager.statsInterval = 0;
  t.manager.cores = { rx: [first], tx: [last] };
  const logs: string[] = [];
  const m = new Manager({ topology: t, log: (l) => logs.push(l), stats: null });
  await m.start();
  const nf = spawn(
    process.execPath,
    [MAIN, 'nf', FORWARD, '--service', '1', '--name', m.name, '--cores', String(last)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const kill = setTimeout(() => nf.kill('SIGKILL'), 50_000);
  try {
    await waitFor(
      () => {
        const s = m.status();
        return s.nfs[0]?.state === 'running' && s.nfs[0].cpu >= 0 && s.loops.rx.cpu >= 0 && s.loops.tx.cpu >= 0;
      },
      20_000,
      'the NF running and every loop on a CPU',
    );
    const s = m.status();
    assert.deepEqual(s.loops.rx, { cpu: first, cores: [first] });
    assert.deepEqual(s.loops.tx, { cpu: last, cores: [last] });
    assert.equal(s.nfs[0]!.cpu, last);
    // Not spawnSync: the manager answering it runs in this process's event loop.
    const text = await execFileP(process.execPath, [MAIN, 'status', '--name', m.name], { timeout: 20_000 });
    assert.match(
      text.stdout,
      new RegExp(`loops: RX on CPU ${first} \\(pinned to ${first}\\), TX on CPU ${last} \\(pinned to ${last}\\)`),
    );
    assert.match(text.stdout, new RegExp(`simple-forward#\\d+ service 1 running pid \\d+ CPU ${last}:`));
  } finally {
    clearTimeout(kill);
    await m.stop('test over');
    if (nf.exitCode === null && nf.signalCode === null) nf.kill('SIGKILL');
  }
  assert.equal(m.missingAtExit, 0);
});

test('nfchain nf --cores with a CPU it may not use stops before registering, saying which CPUs it may', () => {
  const r = spawnSync(
    process.execPath,
    [MAIN, 'nf', FORWARD, '--service', '1', '--name', 'nobody-here', '--cores', '1000'],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /NF simple-forward: CPU 1000 is not one it may run on/);
  assert.match(r.stderr, /use CPUs from \d/);
  assert.doesNotMatch(r.stderr, /no manager/, 'it did not get as far as the manager');
});
