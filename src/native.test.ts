/**
 * The native addon: shared files (create/open/unlink, mode 0600, no symlinks, errno errors)
 * and futex wait/wake across processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, symlinkSync, unlinkSync, readFileSync, existsSync } from 'node:fs';
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
