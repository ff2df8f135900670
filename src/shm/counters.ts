/**
 * Counters in shared memory, readable by any process without locks (Snabb's counter.lua idea).
 *
 * A block holds `sets` sets of `perSet` float64 counters. Each set has exactly one writer (a
 * port's RX loop, one NF instance, ...) and starts on its own cache line, so writers never
 * share a line. Values are float64 so they count exactly to 2^53 without BigInt; the writer
 * adds once per burst with a plain read-modify-write (it is the only writer), and an aligned
 * 8-byte store is atomic on x86-64 and arm64, so a reader sees either the old or the new
 * value, never a torn one.
 *
 *   byte 0   ┌──────────────────────────────────────────────┐
 *            │ magic 'NFCT' | version | sets | perSet       │
 *   byte 64  ├──────────────────────────────────────────────┤
 *            │ set 0: perSet × f64   (padded to 64 bytes)   │ one writer
 *            ├──────────────────────────────────────────────┤
 *            │ set 1 ...                                    │ one writer
 *            └──────────────────────────────────────────────┘
 */
import { NfcError } from '../errors.js';
import { CACHE_LINE, assertLayout, assertRegion, magic } from './layout.js';

export const COUNTERS_MAGIC = magic('NFCT');
export const COUNTERS_VERSION = 1;
const HEADER_BYTES = CACHE_LINE;
const W_MAGIC = 0;
const W_VERSION = 1;
const W_SETS = 2;
const W_PER_SET = 3;

assertLayout(
  'counters',
  {
    magic: { offset: W_MAGIC * 4 },
    version: { offset: W_VERSION * 4 },
    sets: { offset: W_SETS * 4 },
    perSet: { offset: W_PER_SET * 4 },
  },
  HEADER_BYTES,
);

/** Counters per set rounded up to whole cache lines (8 float64 per line). */
function stride(perSet: number): number {
  return Math.ceil(perSet / 8) * 8;
}

export function countersBytes(sets: number, perSet: number): number {
  return HEADER_BYTES + sets * stride(perSet) * 8;
}

/** A named counter schema: `defineCounters(['rx', 'tx'])` gives `{ rx: 0, tx: 1 }`. */
export function defineCounters<const N extends readonly string[]>(
  names: N,
): { readonly [K in N[number]]: number } & { readonly names: N } {
  const o: Record<string, unknown> = { names };
  names.forEach((n, i) => {
    o[n] = i;
  });
  return o as { readonly [K in N[number]]: number } & { readonly names: N };
}

/** Formats a zeroed block (owner, cold). */
export function initCounters(buffer: ArrayBuffer, byteOffset: number, sets: number, perSet: number): void {
  if (!Number.isInteger(sets) || sets < 1 || !Number.isInteger(perSet) || perSet < 1) {
    throw new NfcError(
      'NFC_ERR_INVALID_ARG',
      `counters block needs at least one set of one counter (got ${sets} × ${perSet})`,
    );
  }
  const bytes = countersBytes(sets, perSet);
  assertRegion('counters', buffer, byteOffset, bytes);
  new Uint8Array(buffer, byteOffset, bytes).fill(0);
  const h = new Int32Array(buffer, byteOffset, HEADER_BYTES >> 2);
  h[W_VERSION] = COUNTERS_VERSION;
  h[W_SETS] = sets;
  h[W_PER_SET] = perSet;
  Atomics.store(h, W_MAGIC, COUNTERS_MAGIC | 0);
}

export class CounterBlock {
  readonly sets: number;
  readonly perSet: number;
  private readonly all: Float64Array;
  private readonly stride: number;

  constructor(buffer: ArrayBuffer, byteOffset: number, what = 'counters') {
    assertRegion(what, buffer, byteOffset, HEADER_BYTES);
    const h = new Int32Array(buffer, byteOffset, HEADER_BYTES >> 2);
    if (Atomics.load(h, W_MAGIC) >>> 0 !== COUNTERS_MAGIC)
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: no counters block at byte ${byteOffset}`);
    if (h[W_VERSION] !== COUNTERS_VERSION)
      throw new NfcError('NFC_ERR_LAYOUT', `${what}: counters version ${h[W_VERSION]}, expected ${COUNTERS_VERSION}`);
    this.sets = h[W_SETS]!;
    this.perSet = h[W_PER_SET]!;
    this.stride = stride(this.perSet);
    assertRegion(what, buffer, byteOffset, countersBytes(this.sets, this.perSet));
    this.all = new Float64Array(buffer, byteOffset + HEADER_BYTES, this.sets * this.stride);
  }

  /**
   * The counters of one set, for its single writer: `c[Counter.rx] += n`. Cold: call once
   * and keep the returned array.
   */
  set(i: number): Float64Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.sets) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `counter set ${i} out of range 0..${this.sets - 1}`);
    }
    return this.all.subarray(i * this.stride, i * this.stride + this.perSet);
  }

  /** Reads one counter of any set (any process, no lock). */
  read(set: number, counter: number): number {
    return this.all[set * this.stride + counter] ?? 0;
  }

  /** Copies a set into `out` (length >= perSet). */
  snapshot(set: number, out: Float64Array): Float64Array {
    const base = set * this.stride;
    for (let j = 0; j < this.perSet; j++) out[j] = this.all[base + j]!;
    return out;
  }

  /** Zeroes one set (its writer, or the owner when the writer is gone). */
  reset(set: number): void {
    this.all.fill(0, set * this.stride, set * this.stride + this.perSet);
  }
}
