/**
 * The `null` port, and the two trivial halves other drivers reuse:
 *
 *   openNullRx   never produces a packet; `done` from the start
 *   openNullTx   a sink: frees every packet it is given and counts it as sent
 *   openDropTx   a port half that cannot transmit (gen ports, pcap ports without `tx`):
 *                frees every packet and counts it in txDropped
 *   openIdleRx   an RX half with nothing to read (pcap ports without `rx`): as openNullRx
 *
 * Useful on their own to measure a chain without port costs (gen → chain → null) and as the
 * input of a port that only transmits.
 */
import type { NullPortConfig } from './config.js';
import type { PortContext, RxPort, TxPort } from './port.js';
import type { PoolCache } from '../shm/pool-cache.js';

/** An RX half that never produces anything. */
class IdleRx implements RxPort {
  readonly done = true;
  readonly rxNoBuffer = 0;

  rxBurst(_descs: Uint32Array, _max: number): number {
    return 0;
  }

  close(): void {
    // Nothing held.
  }
}

/** The null port's TX half: the TxPort plus the count of packets it swallowed. */
export interface NullTxPort extends TxPort {
  /** Packets taken (and freed) so far. */
  readonly sent: number;
}

class NullTx implements NullTxPort {
  private readonly cache: PoolCache;
  private count = 0;

  constructor(cache: PoolCache) {
    this.cache = cache;
  }

  get sent(): number {
    return this.count;
  }

  get txDropped(): number {
    return 0;
  }

  /** Frees all n packets and counts them as sent. */
  txBurst(descs: Uint32Array, n: number): number {
    this.cache.free(descs, n);
    this.count += n;
    return n;
  }

  flush(): void {
    // Nothing buffered.
  }

  close(): void {
    // Nothing held.
  }
}

class DropTx implements TxPort {
  private readonly cache: PoolCache;
  private dropped = 0;

  constructor(cache: PoolCache) {
    this.cache = cache;
  }

  get txDropped(): number {
    return this.dropped;
  }

  /** Frees all n packets and counts them as dropped; returns 0. */
  txBurst(descs: Uint32Array, n: number): number {
    this.cache.free(descs, n);
    this.dropped += n;
    return 0;
  }

  flush(): void {
    // Nothing buffered.
  }

  close(): void {
    // Nothing held.
  }
}

/** Opens the RX half of a null port: never produces, `done` from the start (cold). */
export function openNullRx(_cfg: NullPortConfig, _ctx: PortContext): RxPort {
  return new IdleRx();
}

/** Opens the TX half of a null port: a sink that frees and counts everything (cold). */
export function openNullTx(_cfg: NullPortConfig, ctx: PortContext): NullTxPort {
  return new NullTx(ctx.cache);
}

/** An RX half with nothing to read, for port kinds that have no input configured (cold). */
export function openIdleRx(): RxPort {
  return new IdleRx();
}

/** A TX half that cannot send: frees every packet and counts it in txDropped (cold). */
export function openDropTx(ctx: PortContext): TxPort {
  return new DropTx(ctx.cache);
}
