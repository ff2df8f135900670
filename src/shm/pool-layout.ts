/**
 * Layout of the packet pool (NetVM's huge-page area, OpenNetVM's mbuf pool) in shared memory.
 *
 * A descriptor is a u32 buffer index d. Buffer d starts at byte bufBase + (d << shift): the
 * same shift-based address mapping NetVM uses, with no pointers in shared memory, so every
 * process can map the pool at any address.
 *
 *   byte 0        ┌──────────────────────────────────────────────────────────┐
 *                 │ header: magic 'NFPL' version count shift headroom        │
 *                 │         dataRoom bufBase freeRingOffset                  │
 *   byte 64       ├──────────────────────────────────────────────────────────┤
 *                 │ free ring (MPMC, capacity = count): indices of free      │
 *                 │ buffers                                                  │
 *                 ├──────────────────────────────────────────────────────────┤
 *   bufBase       │ buffer 0 │ buffer 1 │ ... │ buffer count-1               │
 *   (4096-aligned)└──────────────────────────────────────────────────────────┘
 *
 *   one buffer (stride = 1 << shift bytes; 4096 with the defaults):
 *   ┌────────────┬────────────────┬──────────────────────────────┬─────────┐
 *   │ meta 64 B  │ headroom 128 B │ data room 2048 B             │ (pad)   │
 *   └────────────┴────────────────┴──────────────────────────────┴─────────┘
 *   ^ d << shift  ^ +64            ^ +64+headroom: packet data starts here
 *                                    (meta.dataOff may move it into the headroom)
 *
 * Metadata is one cache line per buffer, next to its data (same page), as u32 words. The
 * OpenNetVM packet meta (action, destination, src, chainIndex, flags) lives here, so a
 * descriptor alone carries a packet's routing state from hop to hop.
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, alignUp, assertLayout, isPowerOfTwo, log2, magic } from './layout.js';
import { ringBytes } from './ring-layout.js';

export const POOL_MAGIC = magic('NFPL');
export const POOL_VERSION = 1;

export const PoolOffsets = {
  magic: 0,
  version: 4,
  count: 8,
  shift: 12,
  headroom: 16,
  dataRoom: 20,
  bufBase: 24,
  freeRing: 28,
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
   * OpenNetVM's "src": kept in the layout, but not written on the fast path (a write per
   * hop moves the meta line between cores); free for NFs that want to record it.
   */
  src: 8,
  /** position in the packet's chain */
  chainIndex: 9,
  flags: 10,
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
} as const;
export const META_BYTES = CACHE_LINE;
export const META_WORDS = META_BYTES >> 2;

export const POOL_DEFAULTS = {
  count: 16384,
  headroom: 128,
  dataRoom: 2048,
} as const;

export interface PoolGeometry {
  count: number;
  headroom: number;
  dataRoom: number;
  shift: number;
  stride: number;
  freeRingOffset: number;
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
  assertLayout('pool', Object.fromEntries(Object.entries(PoolOffsets).map(([k, v]) => [k, { offset: v }])), POOL_HEADER_BYTES);
  assertLayout('buffer meta', Object.fromEntries(Object.entries(Meta).map(([k, v]) => [k, { offset: v * 4 }])), META_BYTES);
}
assertPoolLayout();

/** Computes and checks the geometry of a pool (cold). Errors name the option and the fix. */
export function poolGeometry(opts: Partial<Pick<PoolGeometry, 'count' | 'headroom' | 'dataRoom'>> = {}): PoolGeometry {
  const count = opts.count ?? POOL_DEFAULTS.count;
  const headroom = opts.headroom ?? POOL_DEFAULTS.headroom;
  const dataRoom = opts.dataRoom ?? POOL_DEFAULTS.dataRoom;
  if (!isPowerOfTwo(count) || count < 64) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool count ${count} must be a power of two of at least 64`, { fix: 'use e.g. 8192, 16384 or 65536' });
  }
  if (!Number.isInteger(headroom) || headroom < 0 || headroom % 4 !== 0 || headroom > 4096) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool headroom ${headroom} must be a multiple of 4 between 0 and 4096`, { fix: 'the default is 128' });
  }
  if (!Number.isInteger(dataRoom) || dataRoom < 64 || dataRoom > 65536) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool data room ${dataRoom} must be between 64 and 65536 bytes`, { fix: 'the default is 2048; use 9216 or more for jumbo frames' });
  }
  let shift = log2(META_BYTES + headroom + dataRoom);
  if (1 << shift < META_BYTES + headroom + dataRoom) shift++;
  const stride = 1 << shift;
  if (count * stride > MAX_BUFFER_BYTES) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `pool of ${count} buffers of ${stride} bytes exceeds 2 GiB`, { fix: 'use fewer buffers or a smaller data room' });
  }
  const freeRingOffset = POOL_HEADER_BYTES;
  const bufBase = alignUp(freeRingOffset + ringBytes(count), 4096);
  return { count, headroom, dataRoom, shift, stride, freeRingOffset, bufBase, totalBytes: bufBase + count * stride };
}
