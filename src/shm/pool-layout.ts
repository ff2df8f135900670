/**
 * Layout of the packet pool (NetVM's huge-page area, OpenNetVM's mbuf pool) in shared memory.
 *
 * A descriptor is a u32 buffer index d. Buffer d starts at byte bufBase + (d << shift): the
 * same shift-based address mapping NetVM uses, with no pointers in shared memory, so every
 * process can map the pool at any address.
 *
 *   byte 0        ┌──────────────────────────────────────────────────────────┐
 *                 │ header: magic 'NFPL' version count shift headroom        │
 *                 │         dataRoom bufBase freeRingOffset jumbos jumboSpan │
 *                 │         jumboRingOffset                                  │
 *   byte 64       ├──────────────────────────────────────────────────────────┤
 *                 │ free ring (MPMC, capacity = count): indices of free      │
 *                 │ buffers                                                  │
 *                 ├──────────────────────────────────────────────────────────┤
 *                 │ jumbo ring (MPMC, capacity >= jumbos): free jumbos       │
 *                 ├──────────────────────────────────────────────────────────┤
 *   bufBase       │ buffer 0 │ buffer 1 │ ... │ buffer count-1               │
 *   (4096-aligned)├──────────────────────────────────────────────────────────┤
 *                 │ jumbo 0 (jumboSpan strides) │ ... │ jumbo jumbos-1       │
 *                 └──────────────────────────────────────────────────────────┘
 *
 *   one buffer (stride = 1 << shift bytes; 4096 with the defaults):
 *   ┌────────────┬────────────────┬──────────────────────────────┬─────────┐
 *   │ meta 64 B  │ headroom 128 B │ data room 2048 B             │ (pad)   │
 *   └────────────┴────────────────┴──────────────────────────────┴─────────┘
 *   ^ d << shift  ^ +64            ^ +64+headroom: packet data starts here
 *                                    (meta.dataOff may move it into the headroom)
 *
 * Metadata is one cache line per buffer, next to its data (same page), as u32 words. The
 * OpenNetVM packet meta (action, destination, chainIndex, flags) lives here, so a
 * descriptor alone carries a packet's routing state from hop to hop.
 *
 * Jumbo buffers (the second size class) hold what does not fit a buffer: GSO super-frames of
 * up to 64 KiB from hosts whose interfaces keep TSO on, and frames above the data room. A
 * jumbo is jumboSpan consecutive strides after the ordinary buffers, named by the index of its
 * first stride (count + j × jumboSpan), so `d << shift` addresses it like any buffer and every
 * consumer of a descriptor (rings, packet view, ports) works unchanged; its data runs on over
 * the strides that follow, whose meta lines it overwrites (they are never descriptors).
 * Jumbos have their own free ring, so a jumbo freed anywhere is back for the next super-frame
 * at once, instead of behind every buffer of the ordinary free ring (PoolCache routes frees by
 * index). Chained buffers were the other choice: they keep every buffer one size, but every
 * NF would have to walk a chain to see a super-frame's payload, and TX would gather.
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, alignUp, assertLayout, isPowerOfTwo, log2, magic } from './layout.js';
import { ringBytes } from './ring-layout.js';

export const POOL_MAGIC = magic('NFPL');
export const POOL_VERSION = 2;

export const PoolOffsets = {
  magic: 0,
  version: 4,
  count: 8,
  shift: 12,
  headroom: 16,
  dataRoom: 20,
  bufBase: 24,
  freeRing: 28,
  jumbos: 32,
  jumboSpan: 36,
  jumboRing: 40,
} as const;
export const POOL_HEADER_BYTES = CACHE_LINE;

/** Per-buffer metadata: u32 word index within the buffer's meta line. */
export const Meta = {
  /** bytes of packet data */
  len: 0,
  /** byte offset of the first packet byte from the buffer start (default META_BYTES + headroom) */
  dataOff: 1,
  /** input port id */
  port: 2,
  /** flow hash (symmetric 5-tuple hash), 0 when not computed */
  flowHash: 3,
  /** receive timestamp, seconds and nanoseconds (CLOCK_REALTIME) */
  tsSec: 4,
  tsNsec: 5,
  /** OpenNetVM packet meta: the verdict and where it points */
  action: 6,
  destination: 7,
  /**
   * When the packet arrived: the RX loop's clock (shm/latency.ts stampNow, CLOCK_MONOTONIC ns
   * modulo 2^32) as it received the burst; 0 for a packet no port received (made by an NF).
   * The TX loop records departure minus arrival into the chain's latency histogram. (OpenNetVM
   * keeps the previous hop, "src", here; nfchain does not write one on the fast path.)
   */
  arrival: 8,
  /** position in the packet's chain */
  chainIndex: 9,
  /**
   * Offloads the packet carries (OFFLOAD_* below): a partial L4 checksum and a GSO super-frame's
   * type and segment size, as the kernel's virtio-net header describes them. 0 for a packet
   * whose checksums are complete and that is one frame on the wire.
   */
  offload: 10,
  /** the chain this packet follows */
  chainId: 11,
  /** free for the NF holding the packet (not kept across hops) */
  user0: 12,
  user1: 13,
  /**
   * The flow's affinity epoch (instance-layout.ts EPOCHS): which indirection table picks its
   * instances. Written by the RX loop for every packet; not cleared by resetMeta (routers mask it).
   */
  epoch: 14,
  /**
   * The service the packet was last handed to: the router writes it when it stages the packet
   * for an NF (NEXT to a service hop, or TONF). A fused group picks the member a packet enters
   * by it (nflib/engine.ts).
   */
  service: 15,
} as const;
export const META_BYTES = CACHE_LINE;

/**
 * The offload word (Meta.offload), the same bits as native/src/af_packet.c:
 *   bit 0        the TCP/UDP checksum is partial: the field holds the pseudo-header sum, not
 *                complemented; whoever sends the packet completes it (the kernel, or software)
 *   bits 8..15   GSO type, virtio-net's values (OffloadGso), 0 when not a super-frame
 *   bits 16..31  GSO segment size: payload bytes per segment on the wire
 */
export const OFFLOAD_CSUM_PARTIAL = 1;
export const OffloadGso = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  /** or-ed in: the segments carry ECN's CWR */
  ECN: 0x80,
} as const;

/** The offload word of a GSO super-frame. */
export function gsoOffload(type: number, size: number): number {
  return (OFFLOAD_CSUM_PARTIAL | ((type & 0xff) << 8) | ((size & 0xffff) << 16)) >>> 0;
}

/** Largest frame a jumbo holds: 64 KiB of IP datagram, an Ethernet header and two VLAN tags. */
export const JUMBO_DATA = 65536 + 64;
export const META_WORDS = META_BYTES >> 2;

export const POOL_DEFAULTS = {
  count: 16384,
  headroom: 128,
  dataRoom: 2048,
  jumbos: 0,
} as const;

export interface PoolGeometry {
  count: number;
  headroom: number;
  dataRoom: number;
  shift: number;
  stride: number;
  freeRingOffset: number;
  /** jumbo buffers, and the strides each spans */
  jumbos: number;
  jumboSpan: number;
  jumboRingOffset: number;
  jumboRingCap: number;
  bufBase: number;
  totalBytes: number;
}

/** Largest pool: byte offsets of buffers must stay below 2^31 so they are int32 arithmetic. */
const MAX_BUFFER_BYTES = 2 ** 31;

export function assertPoolLayout(): void {
  // resetMeta clears words 0..11 with six float64 stores and relies on len/dataOff being the
  // first two words, chainId the last cleared one, and user0/user1 after it.
  if (Meta.len !== 0 || Meta.dataOff !== 1 || Meta.chainId !== 11 || Meta.user0 !== 12) {
    throw new NfcError('NFC_ERR_LAYOUT', 'buffer meta: resetMeta expects len, dataOff first and chainId at word 11');
  }
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
    throw new NfcError('NFC_ERR_LAYOUT', 'nfchain needs a little-endian host (meta words are stored in host order)');
  }
  assertLayout(
    'pool',
    Object.fromEntries(Object.entries(PoolOffsets).map(([k, v]) => [k, { offset: v }])),
    POOL_HEADER_BYTES,
  );
  assertLayout(
    'buffer meta',
    Object.fromEntries(Object.entries(Meta).map(([k, v]) => [k, { offset: v * 4 }])),
    META_BYTES,
  );
}
assertPoolLayout();

/** Computes and checks the geometry of a pool (cold). Errors name the option and the fix. */
export function poolGeometry(
  opts: Partial<Pick<PoolGeometry, 'count' | 'headroom' | 'dataRoom' | 'jumbos'>> = {},
): PoolGeometry {
  const count = opts.count ?? POOL_DEFAULTS.count;
  const headroom = opts.headroom ?? POOL_DEFAULTS.headroom;
  const dataRoom = opts.dataRoom ?? POOL_DEFAULTS.dataRoom;
  const jumbos = opts.jumbos ?? POOL_DEFAULTS.jumbos;
  if (!Number.isInteger(jumbos) || jumbos < 0 || jumbos > 4096) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool jumbos ${jumbos} must be an integer between 0 and 4096`, {
      fix: 'the manager default is 256',
    });
  }
  if (!isPowerOfTwo(count) || count < 64) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool count ${count} must be a power of two of at least 64`, {
      fix: 'use e.g. 8192, 16384 or 65536',
    });
  }
  if (!Number.isInteger(headroom) || headroom < 0 || headroom % 4 !== 0 || headroom > 4096) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool headroom ${headroom} must be a multiple of 4 between 0 and 4096`, {
      fix: 'the default is 128',
    });
  }
  if (!Number.isInteger(dataRoom) || dataRoom < 64 || dataRoom > 65536) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool data room ${dataRoom} must be between 64 and 65536 bytes`, {
      fix: 'the default is 2048; use 9216 or more for jumbo frames',
    });
  }
  let shift = log2(META_BYTES + headroom + dataRoom);
  if (1 << shift < META_BYTES + headroom + dataRoom) shift++;
  const stride = 1 << shift;
  const jumboSpan = Math.ceil((META_BYTES + headroom + JUMBO_DATA) / stride);
  const strides = count + jumbos * jumboSpan;
  if (strides * stride > MAX_BUFFER_BYTES) {
    throw new NfcError(
      'NFC_ERR_INVALID_ARG',
      `pool of ${count} buffers of ${stride} bytes and ${jumbos} jumbos exceeds 2 GiB`,
      { fix: 'use fewer buffers or a smaller data room' },
    );
  }
  const freeRingOffset = POOL_HEADER_BYTES;
  const jumboRingOffset = freeRingOffset + ringBytes(count);
  const jumboRingCap = jumbos <= 64 ? 64 : 1 << Math.ceil(Math.log2(jumbos));
  const bufBase = alignUp(jumboRingOffset + ringBytes(jumboRingCap), 4096);
  return {
    count,
    headroom,
    dataRoom,
    shift,
    stride,
    freeRingOffset,
    jumbos,
    jumboSpan,
    jumboRingOffset,
    jumboRingCap,
    bufBase,
    totalBytes: bufBase + strides * stride,
  };
}
