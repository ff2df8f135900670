/**
 * Shared-memory layout basics used by every structure in src/shm/.
 *
 * Every structure that lives in shared memory is plain data: a header whose first word is a
 * magic number, named byte offsets, and 64-byte alignment of every word that one side writes
 * and the other reads, so that producer and consumer never share a cache line (false sharing
 * turns every store into a cross-core miss). Each structure's layout file defines its offsets
 * and has an `assert...Layout()` run at startup (see assertLayout below).
 */
import { NfcError } from '../errors.js';

/** Cache line size on the x86-64 and arm64 machines nfchain targets. */
export const CACHE_LINE = 64;

/** The burst size used at every boundary (port → ring → NF → ring → port). */
export const BURST = 32;

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

export function log2(n: number): number {
  return 31 - Math.clz32(n);
}

/** Four ASCII characters as a u32 magic number (first char in the lowest byte). */
export function magic(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

export interface LayoutField {
  /** byte offset from the structure's base */
  offset: number;
  /** the field is written by one side and read by another: it must start its own cache line */
  lineAligned?: boolean;
}

/**
 * Checks a layout table at startup: every line-aligned field starts a cache line and no two
 * line-aligned fields share one, fields do not overlap the structure end, and offsets are
 * 4-byte aligned (they are read as Int32/Uint32 words). Throws NFC_ERR_LAYOUT naming the field.
 */
export function assertLayout(name: string, fields: Record<string, LayoutField>, headerBytes: number): void {
  const lines = new Map<number, string>();
  for (const [field, f] of Object.entries(fields)) {
    if (f.offset % 4 !== 0 || f.offset < 0 || f.offset + 4 > headerBytes) {
      throw new NfcError(
        'NFC_ERR_LAYOUT',
        `${name}: field ${field} at byte ${f.offset} is misaligned or outside the ${headerBytes}-byte header`,
      );
    }
    if (f.lineAligned) {
      if (f.offset % CACHE_LINE !== 0) {
        throw new NfcError(
          'NFC_ERR_LAYOUT',
          `${name}: field ${field} at byte ${f.offset} must start a ${CACHE_LINE}-byte cache line`,
        );
      }
      const line = f.offset / CACHE_LINE;
      const other = lines.get(line);
      if (other !== undefined) {
        throw new NfcError('NFC_ERR_LAYOUT', `${name}: fields ${other} and ${field} share cache line ${line}`);
      }
      lines.set(line, field);
    }
  }
  if (headerBytes % CACHE_LINE !== 0) {
    throw new NfcError(
      'NFC_ERR_LAYOUT',
      `${name}: header of ${headerBytes} bytes is not a whole number of cache lines`,
    );
  }
}

/** Checks that a structure at `byteOffset` of `buffer` is 64-byte aligned and fits. */
export function assertRegion(name: string, buffer: ArrayBuffer, byteOffset: number, bytes: number): void {
  if (byteOffset % CACHE_LINE !== 0) {
    throw new NfcError('NFC_ERR_LAYOUT', `${name}: byte offset ${byteOffset} is not ${CACHE_LINE}-byte aligned`);
  }
  if (byteOffset + bytes > buffer.byteLength) {
    throw new NfcError(
      'NFC_ERR_LAYOUT',
      `${name}: needs ${bytes} bytes at offset ${byteOffset} but the mapping has ${buffer.byteLength}`,
    );
  }
}
