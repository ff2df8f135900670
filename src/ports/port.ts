/**
 * The Port interface: how the manager's data-plane loops talk to packet sources and sinks.
 *
 * A port has two independent halves, because they run in different loops (possibly in
 * different worker threads): the RX half fills freshly allocated pool buffers, the TX half
 * takes buffers and sends them. Each half is opened by the thread that uses it, from the
 * port's (plain data) configuration.
 *
 * Ownership (forward or free): rxBurst hands its caller `n` buffers it allocated; txBurst
 * takes ownership of all `n` buffers it is given and frees every one of them — after sending,
 * or when it cannot send (counted as txDropped). A port never throws on the data path.
 *
 * rxBurst and txBurst, and every method they call, are the hot path: no implementation
 * allocates in them (typed arrays and scratch space are made when a half is opened, which is
 * cold); an exception is marked `Allocates:` where it is.
 */
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';

/** What a port half gets from the loop that opens it. */
export interface PortContext {
  pool: PacketPool;
  /** The loop's pool cache: rxBurst allocates from it, txBurst frees to it. */
  cache: PoolCache;
  /** Port id (index in the topology's port list); rxBurst stores it in each buffer's meta. */
  portId: number;
  /** Port name, for error messages. */
  portName: string;
}

export interface RxPort {
  /**
   * Receives up to `max` packets (max <= 64) into new buffers, writing their descriptors to
   * `descs[0..n)`, and returns n. Each buffer has len, port and timestamp (tsSec/tsNsec) set
   * in its meta; other meta fields are reset. Returns 0 when nothing is ready.
   */
  rxBurst(descs: Uint32Array, max: number): number;
  /** True once the port will never produce another packet (end of capture, count reached). */
  readonly done: boolean;
  /** Packets the port could not deliver because the pool was empty. */
  readonly rxNoBuffer: number;
  /** Frames the kernel dropped before the port saw them (real interfaces), if known. */
  readonly kernelDrops?: number;
  /** Frames larger than any buffer the port could give them: dropped, counted. */
  readonly oversize?: number;
  /** Frames whose offload description does not match their headers: dropped, counted. */
  readonly malformed?: number;
  /** Capture records whose sub-second timestamp was a second or more, carried into the seconds (pcap). */
  readonly normalized?: number;
  /**
   * A file descriptor that polls readable when the port has packets (real interfaces): an
   * idle RX loop whose ports all have one sleeps in poll() on them, so the first packet wakes
   * it at once. Absent for ports without one (gen, pcap), which the loop polls on a timer.
   */
  readonly pollFd?: number;
  /** Buffers the port holds now (spares, buffers lent to the kernel); absent: none. Cold. */
  readonly held?: number;
  close(): void;
}

export interface TxPort {
  /**
   * Sends the `n` packets `descs[0..n)` and frees all of them; returns how many were sent
   * (the rest are counted in txDropped).
   */
  txBurst(descs: Uint32Array, n: number): number;
  /** Packets the port had to drop (could not send). */
  readonly txDropped: number;
  /** Writes out anything buffered (called when the loop goes idle and before close). */
  flush(): void;
  /** Buffers the port holds now (frames the kernel has not finished sending); absent: none. Cold. */
  readonly held?: number;
  close(): void;
}

/** Time source for ports: wall-clock seconds and nanoseconds without allocating. */
export function wallClock(out: Float64Array): void {
  const ms = Date.now();
  const hr = performance.now();
  // Date.now() has ms resolution; add the sub-ms part of performance.now() for ns stamps.
  const sec = Math.floor(ms / 1000);
  out[0] = sec;
  out[1] = (ms - sec * 1000) * 1e6 + Math.floor((hr % 1) * 1e6);
}
