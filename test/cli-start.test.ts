/**
 * `nfchain start` as a user runs it: a child process with a topology file; `nfchain status`
 * and `nfchain stats --json` read it from another process; SIGINT stops everything and leaves
 * no process, no shared file and no socket behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { socketPath } from '../src/control/socket.js';
import { uniqueName, waitFor } from './helpers/procs.js';
import type { ManagerStatus } from '../src/protocol/messages.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('nfchain start: status and stats from another process, then SIGINT leaves nothing behind', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-start-'));
  const name = uniqueName('start').slice(0, 32);
  const file = join(dir, 'topo.yaml');
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'manager: { statsInterval: 1 }',
      'ports:',
      '  - { name: in, driver: gen, rate: 20000 }',
      '  - { name: out, driver: "null" }',
      'nfs:',
      `  - { name: a, module: ${join(root, 'test/fixtures/nfs/verdict.ts')}, service: 1, instances: 2 }`,
      `  - { name: b, module: ${join(root, 'dist/test/fixtures/nfs/verdict.js')}, service: 2, options: { verdict: out, dest: 1 } }`,
      'chain: [a, b]',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [MAIN, 'start', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(
      () => /PORTS/.test(out) && (out.match(/registered/g) ?? []).length >= 3,
      20_000,
      `the topology to come up:\n${out}`,
    );
    const status = spawnSync(process.execPath, [MAIN, 'status', '--name', name, '--json'], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    const s = JSON.parse(status.stdout) as ManagerStatus;
    assert.equal(s.nfs.length, 3);
    assert.ok(s.nfs.every((n) => n.state === 'running'));
    assert.deepEqual(
      s.services.map((x) => [x.service, x.nfs.length]),
      [
        [1, 2],
        [2, 1],
      ],
    );
    // Where the buffers are: every place adds up to the pool (the rest was moving as it was counted).
    const b = s.buffers;
    assert.equal(
      b.free +
        b.rings +
        b.nfs.reduce((a, x) => a + x.held, 0) +
        b.ports.reduce((a, x) => a + x.held, 0) +
        b.manager +
        b.inMotion,
      b.total,
    );
    assert.ok(b.free > 0 && b.free <= b.total);
    assert.deepEqual(
      b.ports.map((p) => p.port),
      s.ports.map((p) => p.name),
    );
    assert.ok(
      b.nfs.every((x) => s.nfs.some((n) => n.nfId === x.nfId)),
      'buffers are held only by registered NFs',
    );
    const human = spawnSync(process.execPath, [MAIN, 'status', '--name', name], { encoding: 'utf8' });
    assert.match(human.stdout, /^buffers: \d+ of \d+ free, \d+ in rings, \d+ in NFs.*, -?\d+ in motion$/m);
    const text = spawnSync(process.execPath, [MAIN, 'stats', '--name', name], { encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /PORTS[\s\S]*NFS[\s\S]*a#\d+/);
    // A reader that stops early closes the pipe: stats --watch ends quietly, with code 0.
    const piped = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${MAIN}" stats --name ${name} --watch 0.2 | head -1; echo "rc=\${PIPESTATUS[0]}"`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.match(piped.stdout, /^nfchain "[^"]+" {2}up \d+ s[\s\S]*rc=0$/m, piped.stderr);
    assert.doesNotMatch(piped.stderr, /EPIPE|Error/);
    // Scaling from the command line: mistakes exit 2 with the reason; a scale-up is waited for.
    const scale = (...a: string[]) =>
      spawnSync(process.execPath, [MAIN, 'scale', '--name', name, ...a], { encoding: 'utf8' });
    const unknown = scale('nosuch', '2');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no NF or service named "nosuch"/);
    const tooMany = scale('b', '9');
    assert.equal(tooMany.status, 2);
    assert.match(tooMany.stderr, /9 instances: a service has 0\.\.8/);
    assert.equal(scale('b').status, 2, 'a count is required');
    const up = scale('b', '2');
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /^service 2: 1 → 2 instances \(started #\d+\)$/m);
    const s2 = JSON.parse(
      spawnSync(process.execPath, [MAIN, 'status', '--name', name, '--json'], { encoding: 'utf8' }).stdout,
    ) as ManagerStatus;
    assert.deepEqual(
      s2.services.map((x) => [x.service, x.nfs.length]),
      [
        [1, 2],
        [2, 2],
      ],
    );
    const pids = s2.nfs.map((n) => n.pid);
    assert.ok(out.includes('[a') && out.includes('[b'), 'NF output is prefixed with the NF name');
    child.kill('SIGINT');
    assert.equal(await exited, 0, out);
    assert.match(out, /buffers at stop: \d+ of \d+ free/);
    assert.match(out, /buffers: all \d+ back in the pool/);
    await waitFor(() => pids.every((p) => !alive(p)), 5000, 'NF processes to exit');
    assert.equal(existsSync(`/dev/shm/nfchain-${name}`), false, 'no shared files left');
    assert.equal(existsSync(socketPath(name)), false, 'no control socket left');
    assert.match(out, /stopped: SIGINT received/);
  } finally {
    if (child.exitCode === null) {
      // Let it clean up if it can; a kill -9 would leave its shared files behind.
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nfchain start with an invalid topology exits 2 with the error, starting nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-bad-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'name: x\nports: [{ name: in, driver: gen }]\nnfs: [{ name: a, module: nope.ts, service: 1 }]\nchain: [a]\n',
    );
    const r = spawnSync(process.execPath, [MAIN, 'start', file], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.yaml:3: nfs\[0\] \(a\)\.module: .*nope\.ts/);
    assert.match(r.stderr, /NFC_ERR_TOPOLOGY/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
