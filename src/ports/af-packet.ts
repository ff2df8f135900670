/**
 * The af_packet port: a Linux interface through AF_PACKET sockets (native/src/af_packet.c).
 *
 *   RX half: a TPACKET_V2 ring mapped in the RX worker: each frame is ready as soon as the
 *            kernel wrote it (no block timer). Each rxBurst is one native call that copies the
 *            waiting frames into pool buffers the port keeps ready (`spare`), and a frame too
 *            large for one (a GSO super-frame) into a jumbo buffer (`jumbo`). An idle RX loop
 *            sleeps in poll() on `pollFd`.
 *   TX half: a protocol-0 socket with PACKET_QDISC_BYPASS; each txBurst is one sendmmsg
 *            straight from pool memory, then the buffers are freed.
 *
 * Offloads (`offloads: true`, the default): both sockets carry the virtio-net header. A GSO
 * super-frame stays one packet (Meta.offload: type and segment size) and a partial checksum
 * stays partial; TX hands both back to the kernel, which segments and checksums as it would
 * for its own bridge. With `offloads: false` a frame whose checksum the sender left to the
 * device (TP_STATUS_CSUMNOTREADY) is marked partial and completed on TX by parsing; a
 * super-frame does not fit the ring and is counted as oversize.
 */
import { NfcError } from '../errors.js';
import { native, type AfpHandle, type NativeAddon } from '../native.js';
import { JUMBO_DATA, Meta } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import type { AfPacketPortConfig } from './config.js';
import type { PortContext, RxPort, TxPort } from './port.js';

const MAX = 64;
/** native/src/af_packet.c: the io header, jumbo slots, words per received / sent packet */
const RX_HDR = 8;
const RX_JUMBO = 4;
const RX_BASE = RX_HDR + 2 * RX_JUMBO;
const RX_WORDS = 6;
const TX_WORDS = 3;
const H = { offered: 0, used: 1, oversize: 2, malformed: 3, completed: 4 } as const;

/**
 * Ring frame size: with offloads, room for a 64 KiB super-frame after the kernel's frame header
 * and the virtio-net header; without, for one frame of the interface's MTU (and two VLAN tags).
 */
export function afPacketFrameSize(offloads: boolean, mtu: number): number {
  const need = (offloads ? JUMBO_DATA : mtu + 14 + 8) + 128;
  return Math.max(2048, (need + 15) & ~15);
}

/** Checks that a port's interface exists and is up (cold); shared by af_packet and af_xdp. Returns its MTU. */
export function checkLinkUp(ifname: string, ctx: PortContext): number {
  let link: ReturnType<NativeAddon['linkInfo']>;
  try {
    link = native().linkInfo(ifname);
  } catch (err) {
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": interface ${ifname}: ${(err as Error).message}`, {
      fix: 'check `ip link`; for a test bed of two namespaces, run `nfchain testbed up`',
      cause: err,
    });
  }
  if (!link.up) {
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": interface ${ifname} is down`, {
      fix: `ip link set ${ifname} up`,
    });
  }
  return link.mtu;
}

function open(cfg: AfPacketPortConfig, ctx: PortContext, withRx: boolean): AfpHandle {
  const mtu = checkLinkUp(cfg.interface, ctx);
  try {
    return native().afpOpen(cfg.interface, afPacketFrameSize(cfg.offloads, mtu), cfg.frames, withRx, cfg.offloads);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new NfcError(
      'NFC_ERR_PORT',
      `port "${ctx.portName}": cannot open ${cfg.interface}: ${(err as Error).message}`,
      {
        fix:
          code === 'EPERM' || code === 'EACCES'
            ? 'packet sockets need root or CAP_NET_RAW'
            : code === 'ENOMEM'
              ? 'the receive ring did not fit in memory: lower `frames`'
              : 'check the interface and `frames`',
        cause: err,
      },
    );
  }
}

export interface AfPacketRxPort extends RxPort {
  /** frames dropped by the kernel because the ring was full (PACKET_STATISTICS) */
  readonly kernelDrops: number;
  /** frames larger than any buffer (or a jumbo, when none was free): dropped, counted */
  readonly oversize: number;
  /** super-frames whose headers do not match their offload description: dropped, counted */
  readonly malformed: number;
  /** partial checksums completed here (not where TX would find them) */
  readonly checksumsCompleted: number;
}

class AfPacketRx implements AfPacketRxPort {
  readonly done = false;
  readonly pollFd: number;
  private readonly h: AfpHandle;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly portId: number;
  private readonly io = new Uint32Array(RX_BASE + MAX * RX_WORDS);
  /** buffers kept ready for the next frames (owned by the port) */
  private readonly spare = new Uint32Array(MAX);
  private nSpare = 0;
  /** jumbos kept ready for super-frames (owned by the port); fetched again after one is used */
  private readonly jumbo = new Uint32Array(RX_JUMBO);
  private nJumbo = 0;
  private wantJumbo: boolean;
  private noBuffer = 0;
  private drops = 0;
  private lastStats = 0;

  constructor(cfg: AfPacketPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx, true);
    this.pollFd = native().afpFd(this.h);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.portId = ctx.portId;
    this.wantJumbo = ctx.pool.jumbos > 0;
  }

  get rxNoBuffer(): number {
    return this.noBuffer;
  }

  get oversize(): number {
    return this.io[H.oversize]!;
  }

  get malformed(): number {
    return this.io[H.malformed]!;
  }

  get checksumsCompleted(): number {
    return this.io[H.completed]!;
  }

  get kernelDrops(): number {
    const now = performance.now();
    if (now - this.lastStats > 100) {
      this.lastStats = now;
      this.drops += native().afpStats(this.h).drops;
    }
    return this.drops;
  }

  /** One native call per burst. */
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
    const io = this.io;
    if (this.wantJumbo && this.nJumbo < RX_JUMBO) {
      this.nJumbo += this.cache.allocJumbo(this.jumbo, RX_JUMBO - this.nJumbo, this.nJumbo);
      this.wantJumbo = false;
      for (let j = 0; j < this.nJumbo; j++) {
        const d = this.jumbo[j]!;
        io[RX_HDR + 2 * j] = pool.dataOffset(d);
        io[RX_HDR + 2 * j + 1] = pool.room(d);
      }
    }
    io[H.offered] = this.nJumbo;
    const k = this.nSpare < max ? this.nSpare : max;
    for (let i = 0; i < k; i++) {
      const d = this.spare[i]!;
      io[RX_BASE + i * RX_WORDS] = pool.dataOffset(d);
      io[RX_BASE + i * RX_WORDS + 1] = pool.room(d);
    }
    const oversize = io[H.oversize];
    const n = native().afpRxBurst(this.h, pool.buffer, io, k);
    const used = io[H.used]!;
    // A jumbo was used, or a super-frame found none: fetch more before the next burst.
    if (used > 0 || (io[H.oversize] !== oversize && this.nJumbo < RX_JUMBO)) this.wantJumbo = pool.jumbos > 0;
    if (n === 0) return 0;
    const words = pool.words;
    const ms = pool.shift - 2;
    let kept = 0;
    let jk = 0;
    for (let i = 0; i < n; i++) {
      const p = RX_BASE + i * RX_WORDS;
      let d: number;
      if ((io[p + 5]! & 1) !== 0) {
        d = this.jumbo[jk++]!;
        this.spare[kept++] = this.spare[i]!; // this spare stays ready
      } else {
        d = this.spare[i]!;
      }
      const m = d << ms;
      words[m + Meta.len] = io[p + 1]!;
      words[m + Meta.port] = this.portId;
      words[m + Meta.tsSec] = io[p + 2]!;
      words[m + Meta.tsNsec] = io[p + 3]!;
      words[m + Meta.offload] = io[p + 4]!;
      descs[i] = d;
    }
    // The unused spares move to the front, after those kept above; the used jumbos leave.
    this.spare.copyWithin(kept, n, this.nSpare);
    this.nSpare -= n - kept;
    if (used > 0) {
      this.jumbo.copyWithin(0, used, this.nJumbo);
      this.nJumbo -= used;
      for (let j = 0; j < this.nJumbo; j++) {
        io[RX_HDR + 2 * j] = io[RX_HDR + 2 * (j + used)]!;
        io[RX_HDR + 2 * j + 1] = io[RX_HDR + 2 * (j + used) + 1]!;
      }
    }
    return n;
  }

  /** The spare buffers and jumbos waiting for the next frames. */
  get held(): number {
    return this.nSpare + this.nJumbo;
  }

  close(): void {
    if (this.nSpare > 0) this.cache.free(this.spare, this.nSpare);
    if (this.nJumbo > 0) this.cache.free(this.jumbo, this.nJumbo);
    this.nSpare = this.nJumbo = 0;
    native().afpClose(this.h);
  }
}

class AfPacketTx implements TxPort {
  private readonly h: AfpHandle;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly io = new Uint32Array(MAX * TX_WORDS);
  private dropped = 0;

  constructor(cfg: AfPacketPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx, false);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
  }

  get txDropped(): number {
    return this.dropped;
  }

  /** One sendmmsg per burst. */
  txBurst(descs: Uint32Array, n: number): number {
    const pool = this.pool;
    const words = pool.words;
    const ms = pool.shift - 2;
    const io = this.io;
    let sent = 0;
    for (let done = 0; done < n; done += MAX) {
      const k = n - done < MAX ? n - done : MAX;
      for (let i = 0; i < k; i++) {
        const d = descs[done + i]!;
        const m = d << ms;
        io[i * TX_WORDS] = pool.base + (d << pool.shift) + words[m + Meta.dataOff]!;
        io[i * TX_WORDS + 1] = words[m + Meta.len]!;
        io[i * TX_WORDS + 2] = words[m + Meta.offload]!;
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
