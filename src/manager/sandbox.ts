/**
 * The sandbox an NF process runs in with `isolation: sandbox` (cold): bubblewrap (`bwrap`,
 * Debian's `bubblewrap`) around `nfchain nf`, so that the process has
 *
 *   no network        a network namespace of its own (only a loopback that is down)
 *   no other process  a pid namespace of its own; IPC and UTS namespaces of its own
 *   few files         read-only: the system's programs and libraries (/usr and its links),
 *                     Node, the nfchain package, the NF's own package; read-write: only its
 *                     instance's shared-memory directory; the control socket; a private /tmp;
 *                     a minimal /dev and its own /proc
 *   no capabilities   every capability dropped, a new session (no terminal injection)
 *   no environment    only PATH (and NFCHAIN_RUN_DIR when set): not the manager's variables
 *
 * It runs as the manager's user (root, for the packet ports) with its capabilities dropped;
 * docs/security.md says what this does and does not protect against.
 */
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketPath } from '../control/socket.js';
import { SHM_ROOT } from '../shm/shm-file.js';

/** The nearest directory at or above `file`'s that holds a package.json (else the file's own directory). */
function packageRoot(file: string): string {
  let d = dirname(resolve(file));
  for (;;) {
    if (existsSync(join(d, 'package.json'))) return d;
    const up = dirname(d);
    if (up === d) return dirname(resolve(file));
    d = up;
  }
}

const NFCHAIN_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/**
 * The bwrap arguments that put `nfchain nf` for instance `name` in its sandbox, with read access
 * to the NF `modules` (their packages) and `baseDir` (where relative option paths point).
 */
export function sandboxArgs(name: string, modules: readonly string[], baseDir: string): string[] {
  // Not --die-with-parent: an NF outlives a manager that dies, for a new one to take over.
  const args = [
    '--new-session',
    '--unshare-net',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  // Merged-/usr systems link /bin, /lib ... into /usr; others have them as directories.
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(top);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else args.push('--ro-bind', top, top);
  }
  if (existsSync('/etc/ld.so.cache')) args.push('--ro-bind', '/etc/ld.so.cache', '/etc/ld.so.cache');
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  const ro = new Set([dirname(process.execPath), NFCHAIN_ROOT, resolve(baseDir), ...modules.map(packageRoot)]);
  for (const p of ro) if (!p.startsWith('/usr/') && existsSync(p)) args.push('--ro-bind', p, p);
  const shm = join(SHM_ROOT, `nfchain-${name}`);
  args.push('--bind', shm, shm);
  const sock = socketPath(name);
  args.push('--ro-bind', sock, sock);
  // Not the manager's environment (an HTTP token, a proxy, certificates it cannot read): a path
  // to find programs, and where the control socket is.
  args.push('--clearenv', '--setenv', 'PATH', '/usr/bin:/bin');
  if (process.env.NFCHAIN_RUN_DIR) args.push('--setenv', 'NFCHAIN_RUN_DIR', process.env.NFCHAIN_RUN_DIR);
  return args;
}
