/**
 * The processes on the manager's control socket (cold): who is at the other end of a connection
 * (SO_PEERCRED), whether a process still runs (a pidfd, never fooled by a zombie or a reused
 * pid), killing one and waiting until it is gone, and the pid that owns an instance's files.
 */
import { closeSync, openSync, readSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { native } from '../native.js';
import { IH } from '../shm/instance-layout.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One control connection: the process at its other end (null: unknown), and the NF it registered. */
export interface Conn {
  sock: Socket;
  peer: { pid: number; uid: number; gid: number } | null;
  nfId: number;
  /** its request budget (RequestBudget); absent: unlimited */
  budget?: RequestBudget;
}

/** Control requests a connection may send per second, and in one burst. */
export const REQUESTS_PER_SECOND = 100;
export const REQUEST_BURST = 200;
/** Requests refused for the budget after which the connection is closed (an NF's: it is stopped). */
export const REFUSED_BEFORE_CLOSE = 1000;

/**
 * A token bucket per control connection (cold): REQUESTS_PER_SECOND on average, REQUEST_BURST at
 * once. A request beyond it is refused (NFC_ERR_LIMIT) and counted; a connection that keeps
 * going past REFUSED_BEFORE_CLOSE refusals is closed.
 */
export class RequestBudget {
  private tokens = REQUEST_BURST;
  private at: number;
  refused = 0;

  constructor(now = Date.now()) {
    this.at = now;
  }

  /** True when a request may be served now (and takes its token). */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(REQUEST_BURST, this.tokens + ((now - this.at) * REQUESTS_PER_SECOND) / 1000);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refused++;
    return false;
  }
}

/** The other end of a Unix socket (cold); null when the kernel cannot say. */
export function peerOf(sock: Socket): Conn['peer'] {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  try {
    return native().peerCred(fd);
  } catch {
    return null;
  }
}

/** True when `pid` lives in another pid namespace than the manager (a container): its own pid differs. */
export function otherPidNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`) !== readlinkSync('/proc/self/ns/pid');
  } catch {
    return false;
  }
}

/**
 * How long an NF that said it is stopping gets to exit before it is killed, and how long a
 * killed process may take to be gone before its slot is given up on (quarantined: its buffers
 * stay where they are, since the process may still write them).
 */
export const EXIT_GRACE_MS = 2000;
export const KILL_WAIT_MS = 5000;
/** How long a process whose connection closed unannounced gets to finish dying by itself. */
export const DYING_GRACE_MS = 100;

/**
 * True while `pid` runs (cold). Asked through a pidfd, not kill(pid, 0): a process killed a
 * moment ago may still be a zombie, whose mappings are gone. EPERM counts as running.
 */
export function processRunning(pid: number): boolean {
  let fd: number;
  try {
    fd = native().pidfdOpen(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const exited = native().pidfdExited(fd);
  closeSync(fd);
  return !exited;
}

/** Kills `pid` (SIGKILL through a pidfd) and waits until it has exited; false if it is still there after KILL_WAIT_MS. Cold. */
export async function killAndWait(pid: number): Promise<boolean> {
  let fd: number;
  try {
    fd = native().pidfdOpen(pid);
  } catch {
    return true; // no such process
  }
  try {
    native().pidfdSignal(fd, 9);
    const end = Date.now() + KILL_WAIT_MS;
    while (!native().pidfdExited(fd)) {
      if (Date.now() > end) return false;
      await sleep(5);
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** The pid recorded in an instance directory's header, if that process is alive; else 0. */
export function stalePid(dir: string): number {
  try {
    const fd = openSync(join(dir, 'instance'), 'r');
    const h = new Int32Array(32);
    readSync(fd, h, 0, 128, 0);
    closeSync(fd);
    const pid = h[IH.managerPid]!;
    if (pid <= 0 || pid === process.pid) return 0;
    return processRunning(pid) ? pid : 0;
  } catch {
    return 0; // no readable header: nothing running owns it
  }
}
