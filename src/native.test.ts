/**
 * The native addon: shared files (create/open/unlink, mode 0600, no symlinks, errno errors),
 * read-only mappings, sealed anonymous files (memfd), and futex wait/wake across processes,
 * on one word or several.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, symlinkSync, unlinkSync, readFileSync, existsSync, fstatSync, ftruncateSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { native, FUTEX_NOT_EQUAL, FUTEX_TIMED_OUT, FUTEX_WOKEN } from './native.js';
import { ShmDir } from './shm/shm-file.js';
import { NfcError } from './errors.js';
import { runHelper, uniqueName, waitFor } from '../test/helpers/procs.js';

test('shmCreate makes a 0600 file of the asked size, mapped shared: writes are seen by a second mapping', () => {
  const p = `/dev/shm/${uniqueName('native')}`;
  try {
    const a = native().shmCreate(p, 8192);
    assert.equal(a.byteLength, 8192);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const b = native().shmOpen(p);
    new Uint32Array(a)[100] = 0xdeadbeef;
    assert.equal(new Uint32Array(b)[100], 0xdeadbeef);
    assert.throws(
      () => native().shmCreate(p, 4096),
      (e: NodeJS.ErrnoException) => e.code === 'EEXIST' && e.path === p && e.syscall === 'open',
    );
  } finally {
    native().shmUnlink(p);
  }
  assert.equal(existsSync(p), false);
});

test('errors carry the errno name, the syscall and the path', () => {
  const p = `/dev/shm/${uniqueName('missing')}`;
  assert.throws(
    () => native().shmOpen(p),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.path === p && /ENOENT/.test(e.message),
  );
  assert.throws(
    () => native().shmUnlink(p),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
  );
  assert.throws(() => native().shmCreate('relative/path', 10), /absolute path/);
  assert.throws(() => native().shmCreate('/dev/shm/x', -1), RangeError);
});

test('symlinks are refused for open and create', () => {
  const target = `/dev/shm/${uniqueName('target')}`;
  const link = `/dev/shm/${uniqueName('link')}`;
  native().shmCreate(target, 4096);
  symlinkSync(target, link);
  try {
    assert.throws(
      () => native().shmOpen(link),
      (e: NodeJS.ErrnoException) => e.code === 'ELOOP',
    );
    assert.throws(
      () => native().shmCreate(link, 4096),
      (e: NodeJS.ErrnoException) => e.code === 'EEXIST' || e.code === 'ELOOP',
    );
  } finally {
    unlinkSync(link);
    native().shmUnlink(target);
  }
});

test('ShmDir: a directory per instance, 0700, names checked, removed whole', () => {
  const name = uniqueName('dir');
  const dir = ShmDir.create(name);
  try {
    assert.equal(statSync(dir.path).mode & 0o777, 0o700);
    dir.createFile('a', 4096);
    dir.createFile('b', 4096);
    assert.throws(
      () => ShmDir.create(name),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_SHM' && /EEXIST/.test(e.message),
    );
    assert.throws(
      () => dir.createFile('../escape', 10),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
    );
    assert.throws(() => ShmDir.open('no/such'), NfcError);
    assert.throws(
      () => ShmDir.open(uniqueName('absent')).openFile('a'),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_SHM',
    );
    assert.equal(ShmDir.open(name).openFile('a').byteLength, 4096);
  } finally {
    dir.remove();
  }
  assert.equal(existsSync(dir.path), false);
});

test('futexWait times out when nobody wakes it, and returns at once when the word differs', () => {
  const w = new Int32Array(16);
  const t0 = performance.now();
  assert.equal(native().futexWait(w, 3, 0, 50), FUTEX_TIMED_OUT);
  assert.ok(performance.now() - t0 >= 40, 'waited for (about) the timeout');
  w[3] = 5;
  assert.equal(native().futexWait(w, 3, 0, 5000), FUTEX_NOT_EQUAL);
  assert.throws(() => native().futexWait(w, 16, 0, 1), RangeError);
  assert.throws(() => native().futexWake(new Uint32Array(4) as unknown as Int32Array, 0, 1), TypeError);
  assert.equal(native().futexWake(w, 3, 1), 0, 'nobody waiting');
});

test('a process blocked in futexWait is woken by another process', { timeout: 60_000 }, async () => {
  const name = uniqueName('futex');
  const dir = ShmDir.create(name);
  const peer = { run: undefined as ReturnType<typeof runHelper> | undefined };
  try {
    const w = new Int32Array(dir.createFile('f', 4096), 0, 16);
    peer.run = runHelper('futex-peer', [name, 'f', '30000']);
    await waitFor(() => Atomics.load(w, 1) === 1, 20_000, 'futex peer to start');
    // Wait until the kernel shows the child asleep in the futex, so the wake is real.
    const pid = peer.run.child.pid!;
    await waitFor(
      () => {
        try {
          return /futex/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
        } catch {
          return false;
        }
      },
      20_000,
      'the peer to block in futex_wait',
    );
    Atomics.store(w, 0, 1);
    assert.equal(native().futexWake(w, 0, 1), 1, 'exactly one waiter woken');
    const r = JSON.parse(await peer.run.done) as { result: number; ms: number; value: number };
    assert.equal(r.result, FUTEX_WOKEN);
    assert.equal(r.value, 1);
    assert.ok(r.ms < 30_000, 'woken before its timeout');
  } finally {
    peer.run?.child.kill('SIGKILL');
    dir.remove();
  }
});

test('the addon file exists where native() looks', () => {
  assert.ok(existsSync(join(process.cwd(), 'native', 'build', 'Release', 'nfchain_native.node')));
});

test('memfdCreate: a sealed shared file (no growing, no shrinking) that mapFd maps shared, the fd kept', () => {
  const fd = native().memfdCreate('nfchain-test', 8192);
  try {
    const a = new Uint8Array(native().mapFd(fd));
    const b = new Uint8Array(native().mapFd(fd));
    assert.equal(a.byteLength, 8192);
    a[100] = 42;
    assert.equal(b[100], 42, 'two mappings of one file share its bytes');
    assert.equal(fstatSync(fd).size, 8192, 'the fd stays open after mapping');
    for (const size of [4096, 16384]) {
      assert.throws(() => ftruncateSync(fd, size), /EPERM/, `sealed: cannot resize to ${size}`);
    }
    assert.throws(() => native().mapFd(-1), TypeError);
  } finally {
    native().closeFd(fd);
  }
  assert.throws(() => fstatSync(fd), /EBADF/, 'closeFd closed it');
});

test('a read-only mapping (shmOpen readOnly, mapFd readOnly) kills a process that writes through it, and only it', {
  timeout: 30_000,
}, async () => {
  const p = `/dev/shm/${uniqueName('ro')}`;
  native().shmCreate(p, 4096);
  try {
    const addon = join(process.cwd(), 'dist/src/native.js');
    const script = (write: boolean): string => `
      const { native } = await import(${JSON.stringify(addon)});
      const a = new Uint8Array(native().shmOpen(${JSON.stringify(p)}, true));
      const fd = native().memfdCreate('ro', 4096);
      const b = new Uint8Array(native().mapFd(fd, true));
      process.stdout.write(String(a[0] + b[0]));
      if (${write}) a[0] = 1;
      process.stdout.write(' still here');`;
    const run = (write: boolean) =>
      new Promise<{ out: string; signal: string | null }>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script(write)], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d;
        });
        const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
        c.on('exit', (_code, signal) => {
          clearTimeout(t);
          resolve({ out, signal });
        });
      });
    assert.deepEqual(await run(false), { out: '0 still here', signal: null }, 'reading is fine');
    assert.deepEqual(await run(true), { out: '0', signal: 'SIGSEGV' }, 'a write is a SIGSEGV');
  } finally {
    unlinkSync(p);
  }
});

test('futexWaitV sleeps on words of two mappings: woken by either, at once when one differs, or timed out', {
  timeout: 30_000,
}, async () => {
  const fdA = native().memfdCreate('wa', 4096);
  const fdB = native().memfdCreate('wb', 4096);
  try {
    const A = new Int32Array(native().mapFd(fdA));
    const B = new Int32Array(native().mapFd(fdB));
    assert.equal(
      native().futexWaitV(
        [
          [A, 0, 0],
          [B, 0, 0],
        ],
        30,
      ),
      -2,
      'timed out',
    );
    B[0] = 7;
    assert.equal(
      native().futexWaitV(
        [
          [A, 0, 0],
          [B, 0, 0],
        ],
        5000,
      ),
      -1,
      'a word that differs returns at once',
    );
    B[0] = 0;
    assert.throws(() => native().futexWaitV([], 1), TypeError);
    assert.throws(() => native().futexWaitV([[A, 5000, 0]], 1), RangeError);
    // A thread asleep on both is woken by a wake on the second word: it says which.
    const addon = join(process.cwd(), 'dist/src/native.js');
    const w = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(${JSON.stringify(addon)}).then(({ native }) => {
         const A = new Int32Array(native().mapFd(workerData.fdA));
         const B = new Int32Array(native().mapFd(workerData.fdB));
         parentPort.postMessage(native().futexWaitV([[A, 0, 0], [B, 0, 0]], 20000));
       });`,
      { eval: true, workerData: { fdA, fdB } },
    );
    const woken = new Promise<number>((resolve) => w.once('message', resolve));
    let result: number | undefined;
    void woken.then((r) => {
      result = r;
    });
    // The value stays 0, so only a real wake ends the wait: wake until it does.
    while (result === undefined) {
      native().futexWake(B, 0, 1);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(result, 1, 'woken by the second word');
    await w.terminate();
  } finally {
    native().closeFd(fdA);
    native().closeFd(fdB);
  }
});
