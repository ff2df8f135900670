/**
 * What AES-CTR over a packet's payload costs in Node, four ways (the table in README.md):
 *
 *   node dist/nfs/aes-encrypt/measure.js [--bits 128|256] [--ms 1000]
 *
 *   per-packet createCipheriv   createCipheriv('aes-N-ctr', key, iv) + update() + copy back, per packet
 *   one ECB cipher, per packet  one cipher object for good: update(counter blocks) per packet, XOR
 *   TypeScript T-tables         AesTables.ctrXor: no node:crypto, no allocation
 *   one ECB cipher, per burst   counter blocks of 32 packets, one update() per burst, XOR (what the NFs do)
 *
 * over 1500-byte frames (1442 bytes of payload after the 16-byte IV), packets laid out in one
 * buffer the way the pool lays them out (2 KiB apart, data at +192). Prints ns/packet and
 * Gbit/s of 1500-byte frames. Cold: a measuring tool, not part of the NF.
 */
import { createCipheriv, randomBytes, type Cipher } from 'node:crypto';
import { AesTables } from './aes.js';

const FRAME = 1500;
const HDR = 14 + 20 + 8 + 16;
const PAYLOAD = FRAME - HDR;
const BURST = 32;
const SLOT = 2048;
const DATA = 192;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const bits = arg('bits', 128);
const ms = arg('ms', 1000);
const key = randomBytes(bits / 8);
const pool = new Uint8Array(SLOT * BURST);
const pool32 = new Int32Array(pool.buffer);
randomBytesInto(pool);
function randomBytesInto(b: Uint8Array): void {
  b.set(randomBytes(b.length));
}
const ivs = randomBytes(16 * BURST);
const blocksPer = Math.ceil(PAYLOAD / 16);
const ctrs = new Uint8Array(16 * blocksPer * BURST);
const ks = new Uint8Array(16 * blocksPer * BURST + 4);
const ks32 = new Int32Array(ks.buffer);
const dv = new DataView(pool.buffer);

function payloadAt(i: number): number {
  return i * SLOT + DATA + HDR;
}

/** Runs `burst()` (one burst of 32 packets) for `ms`; returns ns per packet. */
function time(burst: () => void): number {
  const warm = performance.now() + 200;
  while (performance.now() < warm) burst();
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < ms) {
    for (let k = 0; k < 16; k++) burst();
    n += 16 * BURST;
    t1 = performance.now();
  }
  return ((t1 - t0) * 1e6) / n;
}

function main(): void {
  const cases: [string, () => void][] = [
    [
      'per-packet createCipheriv',
      () => {
        for (let i = 0; i < BURST; i++) {
          const p = payloadAt(i);
          const c = createCipheriv(`aes-${bits}-ctr`, key, ivs.subarray(16 * i, 16 * i + 16));
          pool.set(c.update(pool.subarray(p, p + PAYLOAD)), p);
        }
      },
    ],
    (() => {
      const ecb = new EcbKeystream(key);
      return [
        'one ECB cipher, per packet',
        () => {
          for (let i = 0; i < BURST; i++) {
            const p = payloadAt(i);
            writeCounterBlocks(ctrs, 0, ivs, 16 * i, blocksPer);
            const out = ecb.encrypt(ctrs.subarray(0, 16 * blocksPer));
            for (let j = 0; j < PAYLOAD; j++) pool[p + j] = pool[p + j]! ^ out[j]!;
          }
        },
      ] as [string, () => void];
    })(),
    (() => {
      const aes = new AesTables(key);
      return [
        'TypeScript T-tables',
        () => {
          for (let i = 0; i < BURST; i++) aes.ctrXor(pool, payloadAt(i), PAYLOAD, ivs, 16 * i);
        },
      ] as [string, () => void];
    })(),
    (() => {
      const ecb = new EcbKeystream(key);
      return [
        'one ECB cipher, per burst (byte XOR)',
        () => {
          for (let i = 0; i < BURST; i++) writeCounterBlocks(ctrs, 16 * blocksPer * i, ivs, 16 * i, blocksPer);
          const out = ecb.encrypt(ctrs);
          for (let i = 0; i < BURST; i++) {
            const p = payloadAt(i);
            const q = 16 * blocksPer * i;
            for (let j = 0; j < PAYLOAD; j++) pool[p + j] = pool[p + j]! ^ out[q + j]!;
          }
        },
      ] as [string, () => void];
    })(),
    (() => {
      const ecb = new EcbKeystream(key);
      return [
        'one ECB cipher, per burst (DataView XOR)',
        () => {
          for (let i = 0; i < BURST; i++) writeCounterBlocks(ctrs, 16 * blocksPer * i, ivs, 16 * i, blocksPer);
          const out = ecb.encrypt(ctrs);
          const odv = new DataView(out.buffer, out.byteOffset, out.length);
          for (let i = 0; i < BURST; i++) {
            const p = payloadAt(i);
            const q = 16 * blocksPer * i;
            let j = 0;
            for (; j + 4 <= PAYLOAD; j += 4)
              dv.setInt32(p + j, dv.getInt32(p + j, true) ^ odv.getInt32(q + j, true), true);
            for (; j < PAYLOAD; j++) pool[p + j] = pool[p + j]! ^ out[q + j]!;
          }
        },
      ] as [string, () => void];
    })(),
    (() => {
      const ecb = new EcbKeystream(key);
      return [
        'one ECB cipher, per burst (copy + aligned words)',
        () => {
          for (let i = 0; i < BURST; i++) writeCounterBlocks(ctrs, 16 * blocksPer * i, ivs, 16 * i, blocksPer);
          // copied 2 bytes in, so that it lines up with the payloads (at 2 mod 4 in the pool)
          ks.set(ecb.encrypt(ctrs), 2);
          for (let i = 0; i < BURST; i++)
            xorInto(pool, pool32, payloadAt(i), ks, ks32, 2 + 16 * blocksPer * i, PAYLOAD);
        },
      ] as [string, () => void];
    })(),
    (() => {
      const poolBuf = Buffer.from(pool.buffer, pool.byteOffset, pool.length);
      const scratch = Buffer.alloc(16 * blocksPer * BURST);
      const iv0 = Buffer.alloc(16);
      return [
        'one CTR cipher per burst, payloads copied in and out',
        () => {
          const c = createCipheriv(`aes-${bits}-ctr`, key, iv0);
          for (let i = 0; i < BURST; i++)
            poolBuf.copy(scratch, 16 * blocksPer * i, payloadAt(i), payloadAt(i) + PAYLOAD);
          const out = c.update(scratch);
          for (let i = 0; i < BURST; i++)
            out.copy(poolBuf, payloadAt(i), 16 * blocksPer * i, 16 * blocksPer * i + PAYLOAD);
        },
      ] as [string, () => void];
    })(),
  ];

  console.log(
    `AES-${bits}-CTR over ${FRAME}-byte frames (${PAYLOAD} B of payload), bursts of ${BURST}, node ${process.version}`,
  );
  console.log('| method | ns/packet | Gbit/s at 1500 B |');
  console.log('| --- | ---: | ---: |');
  for (const [name, f] of cases) {
    const ns = time(f);
    console.log(`| ${name} | ${ns.toFixed(0)} | ${((FRAME * 8) / ns).toFixed(2)} |`);
  }
}

// ---------------------------------------------------------------------------------------------
// The ECB variants' helpers (measured here, not used by the NFs)

/**
 * Writes the `blocks` counter blocks IV, IV+1, ... (16 bytes each, the whole block a big-endian
 * number) into `dst` from `dstOff`. Hot path: no allocation.
 */
export function writeCounterBlocks(
  dst: Uint8Array,
  dstOff: number,
  iv: Uint8Array,
  ivOff: number,
  blocks: number,
): void {
  let c0 = (iv[ivOff]! << 24) | (iv[ivOff + 1]! << 16) | (iv[ivOff + 2]! << 8) | iv[ivOff + 3]!;
  let c1 = (iv[ivOff + 4]! << 24) | (iv[ivOff + 5]! << 16) | (iv[ivOff + 6]! << 8) | iv[ivOff + 7]!;
  let c2 = (iv[ivOff + 8]! << 24) | (iv[ivOff + 9]! << 16) | (iv[ivOff + 10]! << 8) | iv[ivOff + 11]!;
  let c3 = (iv[ivOff + 12]! << 24) | (iv[ivOff + 13]! << 16) | (iv[ivOff + 14]! << 8) | iv[ivOff + 15]!;
  let p = dstOff;
  for (let b = 0; b < blocks; b++) {
    dst[p] = c0 >>> 24;
    dst[p + 1] = c0 >>> 16;
    dst[p + 2] = c0 >>> 8;
    dst[p + 3] = c0;
    dst[p + 4] = c1 >>> 24;
    dst[p + 5] = c1 >>> 16;
    dst[p + 6] = c1 >>> 8;
    dst[p + 7] = c1;
    dst[p + 8] = c2 >>> 24;
    dst[p + 9] = c2 >>> 16;
    dst[p + 10] = c2 >>> 8;
    dst[p + 11] = c2;
    dst[p + 12] = c3 >>> 24;
    dst[p + 13] = c3 >>> 16;
    dst[p + 14] = c3 >>> 8;
    dst[p + 15] = c3;
    p += 16;
    c3 = (c3 + 1) | 0;
    if (c3 === 0) {
      c2 = (c2 + 1) | 0;
      if (c2 === 0) {
        c1 = (c1 + 1) | 0;
        if (c1 === 0) c0 = (c0 + 1) | 0;
      }
    }
  }
}

/**
 * XORs `len` bytes of `src` from `srcOff` into `dst` from `dstOff`, in place. Words where
 * both sides are 4-byte aligned the same way, bytes otherwise. Hot path: no allocation.
 */
export function xorInto(
  dst: Uint8Array,
  dst32: Int32Array,
  dstOff: number,
  src: Uint8Array,
  src32: Int32Array,
  srcOff: number,
  len: number,
): void {
  let i = 0;
  if (((dst.byteOffset + dstOff) & 3) === ((src.byteOffset + srcOff) & 3)) {
    // Bytes up to the first aligned word, then words, then the tail.
    const head = (4 - ((dst.byteOffset + dstOff) & 3)) & 3;
    for (; i < head && i < len; i++) dst[dstOff + i] = dst[dstOff + i]! ^ src[srcOff + i]!;
    const dw = (dst.byteOffset + dstOff + i - dst32.byteOffset) >> 2;
    const sw = (src.byteOffset + srcOff + i - src32.byteOffset) >> 2;
    const words = (len - i) >> 2;
    for (let k = 0; k < words; k++) dst32[dw + k] = dst32[dw + k]! ^ src32[sw + k]!;
    i += words << 2;
  }
  for (; i < len; i++) dst[dstOff + i] = dst[dstOff + i]! ^ src[srcOff + i]!;
}

/**
 * node:crypto's AES in ECB mode without padding, one cipher object for the NF's life: the
 * keystream of counter blocks. Cold to make.
 */
export class EcbKeystream {
  private readonly cipher: Cipher;

  constructor(key: Uint8Array) {
    const bits = key.length * 8;
    this.cipher = createCipheriv(`aes-${bits}-ecb`, key, null);
    this.cipher.setAutoPadding(false);
  }

  /**
   * The encryption of `blocks` (a multiple of 16 bytes). Allocates: the output Buffer (node's
   * update() makes one per call; the NFs call it once per burst).
   */
  encrypt(blocks: Uint8Array): Buffer {
    return this.cipher.update(blocks);
  }
}

main();
