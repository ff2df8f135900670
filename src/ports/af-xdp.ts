/**
 * The af_xdp port: a Linux interface through an AF_XDP socket whose UMEM is nfchain's packet
 * pool (native/src/af_xdp.c, libxdp). The kernel writes received frames straight into pool
 * buffers and sends straight from them; on veth it copies (generic XDP, XDP_COPY).
 *
 *   RX half: keeps FILL buffers in the socket's fill ring (they belong to the port while the
 *            kernel has them); each rxBurst takes the received frames (one native call), gives
 *            their descriptors to the caller with len/dataOff set, and refills the ring.
 *   TX half: puts a burst on the tx ring (one native call, which kicks the kernel); buffers
 *            stay with the port until the completion ring returns them, then are freed.
 *
 * A frame's UMEM address is (descriptor << shift) + offset in the buffer, so address and
 * descriptor convert with a shift.
 *
 * RX offloads: the socket binds with native XDP where the driver has it (veth does), which makes
 * a veth's peer stop sending GSO super-frames (they would not fit a UMEM frame); elsewhere it
 * binds generic XDP, and frames larger than a UMEM frame are dropped by the kernel. A frame from
 * a host with checksum offload on may still carry a partial checksum, and XDP does not say so:
 * each TCP/UDP frame whose checksum field holds exactly its pseudo-header sum and does not
 * verify is completed here (PacketView.completeIfPartial: one compare per frame, the full sum
 * only for those), counted in `checksumsCompleted`.
 *
 * TX offloads: packets from other ports may carry offloads AF_XDP cannot hand on (an af_packet
 * RX port delivers GSO super-frames in jumbo buffers and partial checksums). The UMEM is the
 * ordinary buffers only (pool.count strides), so a jumbo can never go on the tx ring. Each
 * burst goes through a SoftwareOffload (offload.ts) first: partial checksums are completed,
 * super-frames become segments in ordinary buffers, and any other packet left in a jumbo is
 * copied into an ordinary buffer, or dropped when it does not fit one (`offload` counts each
 * case). txBurst's count and txDropped are in packets as the chain handed them over (a
 * super-frame is one, sent when all its segments went on the tx ring).
 */
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import { Meta, META_BYTES } from '../shm/pool-layout.js';
import { PacketView } from '../packet/packet-view.js';
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import type { AfXdpPortConfig } from './config.js';
import { SoftwareOffload, type OffloadCounters } from './offload.js';
import type { PortContext, RxPort, TxPort } from './port.js';
import { checkLinkUp } from './af-packet.js';

const MAX = 64;
/** Buffers kept in the fill ring. */
const FILL = 1024;

function open(cfg: AfXdpPortConfig, ctx: PortContext): number {
  if (!native().xdpAvailable()) {
    throw new NfcError('NFC_ERR_PORT', `port "${ctx.portName}": this nfchain was built without af_xdp support`, {
      fix: 'apt-get install libxdp-dev libbpf-dev, then npm rebuild',
    });
  }
  checkLinkUp(cfg.interface, ctx);
  const pool = ctx.pool;
  try {
    // The kernel places data at headroom + 256 (XDP_PACKET_HEADROOM) in each frame: the
    // headroom keeps our meta line (the buffer's first 64 bytes) out of its way.
    return native().xdpOpen(
      cfg.interface,
      cfg.queue,
      pool.buffer,
      pool.base,
      pool.count * pool.stride,
      pool.stride,
      META_BYTES,
      cfg.ringSize,
    );
  } catch (err) {
    throw new NfcError(
      'NFC_ERR_PORT',
      `port "${ctx.portName}": cannot open AF_XDP on ${cfg.interface} queue ${cfg.queue}: ${(err as Error).message}`,
      {
        fix: 'af_xdp needs root, a kernel with AF_XDP, and the interface to accept an XDP program',
        cause: err,
      },
    );
  }
}

class AfXdpRx implements RxPort {
  readonly done = false;
  private readonly h: number;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly portId: number;
  private readonly io = new Uint32Array(MAX * 2);
  private readonly fill = new Uint32Array(FILL);
  /** 1 for each buffer in the fill ring (the port's until the kernel hands it back), and their count */
  private readonly inKernel: Uint8Array;
  private nInKernel = 0;
  private noBuffer = 0;
  private readonly view: PacketView;
  /** partial checksums (from a host with checksum offload on) completed */
  checksumsCompleted = 0;
  /** the socket: an idle RX loop sleeps in poll() on it (woken by the first frame) */
  readonly pollFd: number;

  constructor(cfg: AfXdpPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx);
    this.pollFd = native().xdpFd(this.h);
    this.view = new PacketView(ctx.pool.buffer);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.portId = ctx.portId;
    this.inKernel = new Uint8Array(ctx.pool.count);
    this.refill(FILL);
  }

  get rxNoBuffer(): number {
    return this.noBuffer;
  }

  /** Gives up to n new buffers to the fill ring. */
  private refill(n: number): void {
    const got = this.cache.allocRaw(this.fill, n);
    const shift = this.pool.shift;
    for (let i = 0; i < got; i++) this.fill[i] = this.fill[i]! << shift;
    const placed = native().xdpFill(this.h, this.fill, got);
    for (let i = 0; i < placed; i++) this.inKernel[this.fill[i]! >>> shift] = 1;
    this.nInKernel += placed;
    // What the ring did not take goes back.
    for (let i = placed; i < got; i++) this.cache.freeOne(this.fill[i]! >>> shift);
    if (got < n) this.noBuffer += n - got;
  }

  /** Two native calls per burst: receive, refill. */
  rxBurst(descs: Uint32Array, max: number): number {
    if (max > MAX) max = MAX;
    const io = this.io;
    const n = native().xdpRx(this.h, io, max);
    if (n === 0) return 0;
    this.nInKernel -= n;
    const pool = this.pool;
    const words = pool.words;
    const shift = pool.shift;
    const mask = pool.stride - 1;
    const ms = shift - 2;
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    for (let i = 0; i < n; i++) {
      const addr = io[i * 2]!;
      const d = addr >>> shift;
      this.inKernel[d] = 0;
      const m = d << ms;
      // Fresh meta for the frame, then where the kernel put it.
      pool.resetMeta(d);
      words[m + Meta.dataOff] = addr & mask;
      words[m + Meta.len] = io[i * 2 + 1]!;
      words[m + Meta.port] = this.portId;
      words[m + Meta.tsSec] = sec;
      words[m + Meta.tsNsec] = (now - sec * 1000) * 1e6;
      if (this.view.reset(pool.base + (d << shift) + (addr & mask), io[i * 2 + 1]!).completeIfPartial())
        this.checksumsCompleted++;
      descs[i] = d;
    }
    this.refill(n);
    return n;
  }

  get held(): number {
    return this.nInKernel;
  }

  close(): void {
    native().xdpClose(this.h);
    this.nInKernel = 0;
    // The socket is gone (or shared with the TX half, which no longer fills): every buffer the
    // kernel held for receiving is the port's to give back.
    for (let d = 0; d < this.inKernel.length; d++) {
      if (this.inKernel[d] === 1) {
        this.inKernel[d] = 0;
        this.cache.freeOne(d);
      }
    }
  }
}

/** The af_xdp port's TX half: the TxPort plus its software offload counters. */
export interface AfXdpTxPort extends TxPort {
  /** Checksums completed, super-frames segmented, jumbo packets copied or dropped before sending. */
  readonly offload: OffloadCounters;
}

class AfXdpTx implements AfXdpTxPort {
  private readonly h: number;
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly io = new Uint32Array(MAX * 2);
  private readonly done = new Uint32Array(MAX * 4);
  /** 1 for each ordinary buffer on the tx ring (jumbos never get there: see the file comment) */
  private readonly inFlight: Uint8Array;
  private nInFlight = 0;
  private readonly soft: SoftwareOffload;
  private dropped = 0;

  constructor(cfg: AfXdpPortConfig, ctx: PortContext) {
    this.h = open(cfg, ctx);
    this.pool = ctx.pool;
    this.cache = ctx.cache;
    this.inFlight = new Uint8Array(ctx.pool.count);
    this.soft = new SoftwareOffload(ctx.pool, ctx.cache, (descs, n) => this.sendFrames(descs, n), {
      linearize: true,
      chunk: MAX,
    });
  }

  get txDropped(): number {
    return this.dropped;
  }

  get offload(): OffloadCounters {
    return this.soft;
  }

  /** Frees the buffers whose transmission completed. */
  private complete(): void {
    const shift = this.pool.shift;
    for (;;) {
      const k = native().xdpComplete(this.h, this.done, this.done.length);
      for (let i = 0; i < k; i++) {
        const d = this.done[i]! >>> shift;
        if (this.inFlight[d] === 1) {
          this.inFlight[d] = 0;
          this.nInFlight--;
          this.cache.freeOne(d);
        }
      }
      if (k < this.done.length) return;
    }
  }

  txBurst(descs: Uint32Array, n: number): number {
    this.complete();
    const sent = this.soft.process(descs, n);
    this.dropped += n - sent;
    return sent;
  }

  /**
   * The offload's sink: puts frames descs[0..n) (ordinary buffers only) on the tx ring, MAX at a
   * time; what the ring does not take is freed. Returns how many went on the ring (for n <= MAX,
   * the offload's chunks, the ring took a prefix).
   */
  private sendFrames(descs: Uint32Array, n: number): number {
    const pool = this.pool;
    const io = this.io;
    let sent = 0;
    for (let done = 0; done < n; done += MAX) {
      const k = n - done < MAX ? n - done : MAX;
      for (let i = 0; i < k; i++) {
        const d = descs[done + i]!;
        io[i * 2] = pool.dataOffset(d) - pool.base;
        io[i * 2 + 1] = pool.length(d);
      }
      const q = native().xdpTx(this.h, io, k);
      for (let i = 0; i < q; i++) this.inFlight[descs[done + i]!] = 1;
      this.nInFlight += q;
      // What the tx ring did not take is dropped here.
      for (let i = q; i < k; i++) this.cache.freeOne(descs[done + i]!);
      sent += q;
    }
    return sent;
  }

  flush(): void {
    this.complete();
  }

  get held(): number {
    return this.nInFlight;
  }

  close(): void {
    // Give the kernel a moment to finish, then take back whatever it still had.
    for (let i = 0; i < 10; i++) this.complete();
    native().xdpClose(this.h);
    this.nInFlight = 0;
    for (let d = 0; d < this.inFlight.length; d++) {
      if (this.inFlight[d] === 1) {
        this.inFlight[d] = 0;
        this.cache.freeOne(d);
      }
    }
  }
}

export function openAfXdpRx(cfg: AfXdpPortConfig, ctx: PortContext): RxPort {
  return new AfXdpRx(cfg, ctx);
}

export function openAfXdpTx(cfg: AfXdpPortConfig, ctx: PortContext): AfXdpTxPort {
  return new AfXdpTx(cfg, ctx);
}
