/**
 * Typed access to the C addon in native/ (mmap of shared files, futex, sched_yield).
 * Loaded once per process; a missing build is reported with the command that fixes it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NfcError } from './errors.js';

export interface NativeAddon {
  /** Create a new file (O_EXCL, 0600, no symlinks), size it and map it MAP_SHARED. */
  shmCreate(path: string, size: number): ArrayBuffer;
  /**
   * Map an existing regular file (no symlinks) MAP_SHARED, whole. readOnly: opened O_RDONLY and
   * mapped PROT_READ (a write through the buffer is a SIGSEGV).
   */
  shmOpen(path: string, readOnly?: boolean): ArrayBuffer;
  /** An anonymous shared file (memfd) of `size` bytes, sealed against growing and shrinking; its fd (close-on-exec). */
  memfdCreate(name: string, size: number): number;
  /** Maps a shared file by descriptor, whole (the descriptor stays open). */
  mapFd(fd: number, readOnly?: boolean): ArrayBuffer;
  closeFd(fd: number): void;
  /**
   * Sleeps until one of the words is woken (its index), a word did not hold its expected value
   * (-1; or a signal), or `timeoutMs` passed (-2; negative: no timeout). The words may be in
   * different mappings (futex_waitv).
   */
  futexWaitV(words: readonly (readonly [Int32Array, number, number])[], timeoutMs: number): number;
  shmUnlink(path: string): void;
  /** 0: woken (or interrupted), 1: the word did not hold `expected`, 2: timed out. A negative timeout waits forever. */
  futexWait(words: Int32Array, index: number, expected: number, timeoutMs: number): 0 | 1 | 2;
  /** Wakes up to `count` waiters; returns how many were woken. */
  futexWake(words: Int32Array, index: number, count: number): number;
  schedYield(): void;
  /** Pins the calling thread (not its process) to these CPUs (sched_setaffinity). */
  setAffinity(cpus: readonly number[]): void;
  /** The CPU the calling thread runs on now (sched_getcpu). */
  getCpu(): number;
  /** The CPUs the calling thread may run on (sched_getaffinity). */
  allowedCpus(): number[];
  /**
   * An AF_PACKET socket pair on `ifname` (withRx false: the transmit socket only) with a
   * TPACKET_V2 receive ring of `frameCount` frames of `frameSize` bytes; `vnet`: both sockets
   * carry the virtio-net header (offloads).
   */
  afpOpen(ifname: string, frameSize: number, frameCount: number, withRx: boolean, vnet: boolean): AfpHandle;
  afpClose(h: AfpHandle): void;
  /** The receive socket's file descriptor (for pollIn). */
  afpFd(h: AfpHandle): number;
  /**
   * io: a header (AFP_RX_HDR words: jumbo slots offered, used, oversize drops, malformed drops,
   * checksums completed; then AFP_RX_JUMBO (offset, room) slots), then AFP_RX_WORDS per packet
   * (in: offset, room; out: offset, length, tsSec, tsNsec, offload word, flags).
   */
  afpRxBurst(h: AfpHandle, pool: ArrayBuffer, io: Uint32Array, max: number): number;
  /** io: 3 words per packet (offset, length, offload word); returns how many the kernel took. */
  afpTxBurst(h: AfpHandle, pool: ArrayBuffer, io: Uint32Array, n: number): number;
  /** Kernel counters since the last call (PACKET_STATISTICS). */
  afpStats(h: AfpHandle): { packets: number; drops: number };
  /** poll(2) for input on `fds[0..n)`: how many are readable; 0 after timeoutMs or a signal. */
  pollIn(fds: Int32Array, n: number, timeoutMs: number): number;
  linkInfo(ifname: string): { ifindex: number; up: boolean; running: boolean; mtu: number; mac: string };
  /** True when the addon was built with libxdp (af_xdp ports). */
  xdpAvailable(): boolean;
  /** An AF_XDP socket whose UMEM is pool[areaOffset, areaOffset + areaSize); shared per interface and queue. */
  xdpOpen(
    ifname: string,
    queue: number,
    pool: ArrayBuffer,
    areaOffset: number,
    areaSize: number,
    frameSize: number,
    headroom: number,
    ringSize: number,
  ): number;
  xdpFill(h: number, addrs: Uint32Array, n: number): number;
  /** io: 2 words per frame (UMEM address of the data, length). */
  xdpRx(h: number, io: Uint32Array, max: number): number;
  xdpTx(h: number, io: Uint32Array, n: number): number;
  xdpComplete(h: number, addrs: Uint32Array, max: number): number;
  xdpClose(h: number): void;
  /** The AF_XDP socket's fd (readable when its rx ring has frames; for pollIn). */
  xdpFd(h: number): number;
  /** The process at the other end of a connected Unix socket (SO_PEERCRED; pid in our namespace). */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** A pidfd for `pid` (close-on-exec); throws ESRCH when there is no such process. */
  pidfdOpen(pid: number): number;
  /** Sends `signal` (a number) through a pidfd; a process that has exited is not an error. */
  pidfdSignal(fd: number, signal: number): void;
  /** True when the pidfd's process has exited (every thread: its mappings are gone). No wait. */
  pidfdExited(fd: number): boolean;
}

/** An opaque native handle of an AF_PACKET port. */
export type AfpHandle = { readonly __afp: unique symbol };

export const FUTEX_WOKEN = 0;
export const FUTEX_NOT_EQUAL = 1;
export const FUTEX_TIMED_OUT = 2;

function packageRoot(): string {
  // dist/src/native.js or src/native.ts -> walk up to the directory holding package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new NfcError('NFC_ERR_NATIVE_MISSING', `cannot find the nfchain package root from ${import.meta.url}`);
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const file = join(packageRoot(), 'native', 'build', 'Release', 'nfchain_native.node');
  if (!existsSync(file)) {
    throw new NfcError('NFC_ERR_NATIVE_MISSING', `native addon not found at ${file}`, {
      fix: 'run `npm install` (or `npm run build`) in the nfchain directory; it needs python3, make and a C compiler',
    });
  }
  const require = createRequire(import.meta.url);
  cached = require(file) as NativeAddon;
  return cached;
}
