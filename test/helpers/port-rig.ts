/** A private packet pool and a port context for port tests: no shared memory, no manager. */
import { initPool, PacketPool, poolBytes } from '../../src/shm/pool.js';
import { PoolCache } from '../../src/shm/pool-cache.js';
import { PacketView } from '../../src/packet/packet-view.js';
import type { PortContext } from '../../src/ports/port.js';

export interface PortRig {
  pool: PacketPool;
  cache: PoolCache;
  ctx: PortContext;
  view: PacketView;
}

export function portRig(o: { count?: number; dataRoom?: number; portId?: number; portName?: string } = {}): PortRig {
  const count = o.count ?? 256;
  const opts = o.dataRoom === undefined ? { count } : { count, dataRoom: o.dataRoom };
  const mem = new ArrayBuffer(poolBytes(opts));
  initPool(mem, 0, opts);
  const pool = new PacketPool(mem, 0);
  const cache = new PoolCache(pool);
  return {
    pool,
    cache,
    ctx: { pool, cache, portId: o.portId ?? 0, portName: o.portName ?? 'port' },
    view: new PacketView(mem),
  };
}
