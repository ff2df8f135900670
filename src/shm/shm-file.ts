/**
 * Shared files under /dev/shm: one directory per manager instance (`/dev/shm/nfchain-<name>/`,
 * mode 0700), created and removed by its owner; other processes open the files they are told
 * to. Names are checked here so that a bad name never reaches a path.
 */
import { mkdirSync, readdirSync, rmdirSync, lstatSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { native } from '../native.js';

export const SHM_ROOT = '/dev/shm';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkShmName(name: string, what: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `${what} "${name}" is not a valid shared-memory name`, {
      fix: 'use 1-64 characters from A-Z a-z 0-9 _ . - (starting with a letter or digit)',
    });
  }
}

function shmError(err: unknown, action: string, path: string): NfcError {
  const code = (err as { code?: string }).code ?? 'EUNKNOWN';
  const fix =
    code === 'EEXIST'
      ? 'another nfchain instance uses this name, or a crashed one left it behind: pick another name or remove the file'
      : code === 'ENOENT'
        ? 'is the manager running with this name?'
        : code === 'EACCES' || code === 'EPERM'
          ? 'run as the user that owns the manager'
          : code === 'ELOOP'
            ? 'the path is a symbolic link; nfchain refuses to follow links in /dev/shm'
            : code === 'ENOSPC' || code === 'ENOMEM'
              ? '/dev/shm is full: use a smaller pool or free space there'
              : undefined;
  return new NfcError(
    'NFC_ERR_SHM',
    `cannot ${action} shared file ${path}: ${code}`,
    fix ? { fix, cause: err } : { cause: err },
  );
}

/** A directory of shared files owned by one manager instance. */
export class ShmDir {
  readonly path: string;
  private readonly owner: boolean;

  private constructor(path: string, owner: boolean) {
    this.path = path;
    this.owner = owner;
  }

  /** Creates `/dev/shm/nfchain-<name>` (mode 0700). Fails if it exists. Cold. */
  static create(name: string, root = SHM_ROOT): ShmDir {
    checkShmName(name, 'instance name');
    const path = join(root, `nfchain-${name}`);
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      throw shmError(err, 'create directory for', path);
    }
    return new ShmDir(path, true);
  }

  /** Refers to an existing instance directory (no symlink). Cold. */
  static open(name: string, root = SHM_ROOT): ShmDir {
    checkShmName(name, 'instance name');
    const path = join(root, `nfchain-${name}`);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      throw shmError(err, 'open directory of', path);
    }
    if (!st.isDirectory())
      throw shmError(
        Object.assign(new Error(), { code: st.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR' }),
        'open directory of',
        path,
      );
    return new ShmDir(path, false);
  }

  /**
   * Opens the directory of a manager that died, as its new owner (a manager taking over: it
   * removes the files when it stops). Cold.
   */
  static adopt(name: string, root = SHM_ROOT): ShmDir {
    const d = ShmDir.open(name, root);
    return new ShmDir(d.path, true);
  }

  /** Creates a new file of `size` bytes in this directory and maps it. */
  createFile(file: string, size: number): ArrayBuffer {
    checkShmName(file, 'shared file name');
    const p = join(this.path, file);
    try {
      return native().shmCreate(p, size);
    } catch (err) {
      throw shmError(err, 'create', p);
    }
  }

  /** Maps an existing file of this directory (read-only: without write permission). */
  openFile(file: string, readOnly = false): ArrayBuffer {
    checkShmName(file, 'shared file name');
    const p = join(this.path, file);
    try {
      return native().shmOpen(p, readOnly);
    } catch (err) {
      throw shmError(err, 'open', p);
    }
  }

  /**
   * Removes every file and the directory (owner only). Mappings stay valid until their
   * ArrayBuffers are collected; the memory is freed when the last process unmaps it.
   */
  remove(): void {
    if (!this.owner) throw new NfcError('NFC_ERR_SHM', `only the process that created ${this.path} removes it`);
    let names: string[] = [];
    try {
      names = readdirSync(this.path);
    } catch {
      return; // already gone
    }
    for (const n of names) {
      try {
        native().shmUnlink(join(this.path, n));
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw shmError(err, 'remove', join(this.path, n));
      }
    }
    try {
      rmdirSync(this.path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw shmError(err, 'remove directory', this.path);
    }
  }
}
