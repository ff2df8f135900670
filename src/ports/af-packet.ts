/**
 * The af_packet port: a Linux interface through AF_PACKET sockets (native/src/af_packet.c).
 *
 *   RX half: a TPACKET_V3 ring mapped in the RX worker; each rxBurst is one native call that
 *            copies the waiting frames into pool buffers the port keeps ready (`spare`).
 *   TX half: a protocol-0 socket with PACKET_QDISC_BYPASS; each txBurst is one sendmmsg
 *            straight from pool memory, then the buffers are freed.
 *
 * Frames whose sender left the checksum to offload (TP_STATUS_CSUMNOTREADY: frames from a
 * namespace's veth with checksum offload on) get their TCP/UDP checksum completed here, or a
 * receiver would drop them. Kernel drop counters (PACKET_STATISTICS) are surfaced.
 */
import { NfcError } from '../errors.js';
import { native, type AfpHandle } from '../native.js';
import { Meta } from '../shm/pool-layout.js';
import { PacketView } from '../shm/packet-view.js';
import type { PacketPool, PoolCache } from '../shm/pool.js';
import type { AfPacketPortConfig } from './config.js';
import type { PortContext, RxPort, TxPort } from './port.js';

const MAX = 64;
const IO_RX = 5;

/** Checks that a port's interface exists and is up (cold); shared by af_packet and af_xdp. */
export function checkLinkUp(ifname: string, ctx: PortContext): void {
  let link;
  try {
    link = native().linkInfo(ifname);
  } catch (err) {
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": interface ${ifname}: ${(err as Error).message}`, {
      fix: 'check `ip link`; for a test bed of two namespaces, run `nfchain testbed up`', cause: err,
    });
  }
  if (!link.up) {
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": interface ${ifname} is down`, { fix: `ip link set ${ifname} up` });
  }
}

function open(cfg: AfPacketPortConfig, ctx: PortContext, withRx: boolean): AfpHandle {
  checkLinkUp(cfg.interface, ctx);
  try {
    return native().afpOpen(cfg.interface, cfg.blockSize, cfg.blocks, withRx);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": cannot open ${cfg.interface}: ${(err as Error).message}`, {
      fix: code === 'EPERM' || code === 'EACCES' ? 'packet sockets need root or CAP_NET_RAW' : 'check the interface and the ring sizes (blockSize, blocks)',
      cause: err,
    });
  }
}

export interface AfPacketRxPort extends RxPort {
  /** frames dropped by the kernel because the ring was full (PACKET_STATISTICS) */
  readonly kernelDrops: number;
  /** frames larger than a buffer, cut to it */
  readonly truncated: number;
  /** frames whose checksum was completed here */
  readonly checksumsCompleted: number;
}

class AfPacketRx implements AfPacketRxPort {
  readonly done = false;
  private readonly h: AfpHandle;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly portId: number;
  private readonly io = new Uint32Array(MAX * IO_RX);
  /** buffers kept ready for the next frames (owned by the port) */
  private readonly spare = new Uint32Array(MAX);
  private nSpare = 0;
  private readonly view: PacketView;
  private noBuffer = 0;
  private drops = 0;
  truncated = 0;
  checksumsCompleted = 0;
  private lastStats = 0;

  constructor(cfg: AfPacketPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx, true);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.portId = ctx.portId;
    this.view = new PacketView(ctx.pool.buffer);
  }

  get rxNoBuffer(): number {
    return this.noBuffer;
  }

  get kernelDrops(): number {
    const now = performance.now();
    if (now - this.lastStats > 100) {
      this.lastStats = now;
      this.drops += native().afpStats(this.h).drops;
    }
    return this.drops;
  }

  /** Hot path: no allocation (one native call per burst). */
  rxBurst(descs: Uint32Array, max: number): number {
    if (max > MAX) max = MAX;
    const pool = this.pool;
    if (this.nSpare < max) {
      const got = this.cache.alloc(this.spare, max - this.nSpare, this.nSpare);
      this.nSpare += got;
      if (this.nSpare === 0) {
        this.noBuffer++;
        return 0;
      }
    }
    const k = this.nSpare < max ? this.nSpare : max;
    const io = this.io;
    const stride = pool.stride;
    for (let i = 0; i < k; i++) {
      const d = this.spare[i]!;
      const off = pool.dataOffset(d);
      io[i * IO_RX] = off;
      io[i * IO_RX + 1] = pool.bufferOffset(d) + stride - off;
    }
    const n = native().afpRxBurst(this.h, pool.buffer, io, k);
    if (n === 0) return 0;
    const words = pool.words;
    const ms = pool.shift - 2;
    for (let i = 0; i < n; i++) {
      const d = this.spare[i]!;
      const m = d << ms;
      const len = io[i * IO_RX + 1]!;
      words[m + Meta.len] = len;
      words[m + Meta.port] = this.portId;
      words[m + Meta.tsSec] = io[i * IO_RX + 2]!;
      words[m + Meta.tsNsec] = io[i * IO_RX + 3]!;
      const flags = io[i * IO_RX + 4]!;
      if (flags & 2) this.truncated++;
      if (flags & 1) {
        this.view.reset(io[i * IO_RX]!, len);
        if (this.view.fixL4Checksum()) this.checksumsCompleted++;
      }
      descs[i] = d;
    }
    // The unused spares move to the front.
    this.spare.copyWithin(0, n, this.nSpare);
    this.nSpare -= n;
    return n;
  }

  close(): void {
    if (this.nSpare > 0) this.cache.free(this.spare, this.nSpare);
    this.nSpare = 0;
    native().afpClose(this.h);
  }
}

class AfPacketTx implements TxPort {
  private readonly h: AfpHandle;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly io = new Uint32Array(MAX * 2);
  private dropped = 0;

  constructor(cfg: AfPacketPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx, false);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
  }

  get txDropped(): number {
    return this.dropped;
  }

  /** Hot path: no allocation (one sendmmsg per burst). */
  txBurst(descs: Uint32Array, n: number): number {
    const pool = this.pool;
    const io = this.io;
    let sent = 0;
    for (let done = 0; done < n; done += MAX) {
      const k = n - done < MAX ? n - done : MAX;
      for (let i = 0; i < k; i++) {
        const d = descs[done + i]!;
        io[i * 2] = pool.dataOffset(d);
        io[i * 2 + 1] = pool.length(d);
      }
      sent += native().afpTxBurst(this.h, pool.buffer, io, k);
    }
    // sendmmsg copied the frames: every buffer goes back to the pool.
    this.cache.free(descs, n);
    this.dropped += n - sent;
    return sent;
  }

  flush(): void {}

  close(): void {
    native().afpClose(this.h);
  }
}

export function openAfPacketRx(cfg: AfPacketPortConfig, ctx: PortContext): AfPacketRxPort {
  return new AfPacketRx(cfg, ctx);
}

export function openAfPacketTx(cfg: AfPacketPortConfig, ctx: PortContext): TxPort {
  return new AfPacketTx(cfg, ctx);
}
