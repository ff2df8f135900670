/**
 * AES in plain TypeScript (FIPS-197, 128 or 256-bit key) with T-tables in typed arrays, for
 * CTR mode: AesTables.ctrXor() XORs the keystream that starts at a counter block into a byte
 * range in place, allocating nothing. The aes-encrypt / aes-decrypt engine `typescript`, and
 * the tests' second reference beside node:crypto. (The default engine, `node`, is node:crypto's
 * AES-NI: see crypt.ts; `measure.ts` compares them.)
 *
 * The counter is the whole 16-byte block as a big-endian number (NIST SP 800-38A, and what
 * node's aes-*-ctr does), so a keystream here is byte for byte node's.
 */
// ---------------------------------------------------------------------------------------------
// Tables (made once, at module load: constant data, not state)

/** The S-box, computed (FIPS-197 5.1.1): multiplicative inverse in GF(2^8), then the affine map. */
const SBOX = new Uint8Array(256);
/** T-tables: TE0[x] = the column (2s, s, s, 3s) of s = SBOX[x]; TE1..TE3 its byte rotations. */
const TE0 = new Int32Array(256);
const TE1 = new Int32Array(256);
const TE2 = new Int32Array(256);
const TE3 = new Int32Array(256);

(function makeTables(): void {
  const rotl8 = (x: number, s: number): number => ((x << s) | (x >>> (8 - s))) & 0xff;
  // p runs over the generator 3's powers, q over their inverses.
  let p = 1;
  let q = 1;
  do {
    p = (p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0)) & 0xff;
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    SBOX[p] = (q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let x = 0; x < 256; x++) {
    const s = SBOX[x]!;
    const s2 = ((s << 1) ^ (s & 0x80 ? 0x1b : 0)) & 0xff;
    const s3 = s2 ^ s;
    const w = (s2 << 24) | (s << 16) | (s << 8) | s3;
    TE0[x] = w;
    TE1[x] = (w >>> 8) | (w << 24);
    TE2[x] = (w >>> 16) | (w << 16);
    TE3[x] = (w >>> 24) | (w << 8);
  }
})();

/** The S-box (tests). */
export function sbox(): Uint8Array {
  return SBOX.slice();
}

/**
 * Round keys for a 16- or 32-byte key (FIPS-197 5.2): 4 × (rounds + 1) big-endian words.
 * Cold. Allocates: the key schedule.
 */
export function expandKey(key: Uint8Array): Int32Array {
  const nk = key.length >>> 2;
  if (key.length !== 16 && key.length !== 32) throw new RangeError(`AES key of ${key.length} bytes: give 16 or 32`);
  const rounds = nk + 6;
  const w = new Int32Array(4 * (rounds + 1));
  for (let i = 0; i < nk; i++) {
    w[i] = (key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!;
  }
  let rcon = 1;
  for (let i = nk; i < w.length; i++) {
    let t = w[i - 1]!;
    if (i % nk === 0) {
      t = (t << 8) | (t >>> 24); // RotWord
      t = subWord(t) ^ (rcon << 24);
      rcon = ((rcon << 1) ^ (rcon & 0x80 ? 0x1b : 0)) & 0xff;
    } else if (nk > 6 && i % nk === 4) {
      t = subWord(t);
    }
    w[i] = w[i - nk]! ^ t;
  }
  return w;
}

function subWord(t: number): number {
  return (SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 0xff]! << 16) | (SBOX[(t >>> 8) & 0xff]! << 8) | SBOX[t & 0xff]!;
}

/**
 * AES encryption in TypeScript (T-tables), for CTR. One per key; made in create() (cold). Its
 * methods are the hot path: no allocation.
 */
export class AesTables {
  readonly rounds: number;
  private readonly rk: Int32Array;
  /** the last block's output words, filled by encryptBlock() */
  readonly out = new Int32Array(4);

  constructor(key: Uint8Array) {
    this.rk = expandKey(key);
    this.rounds = key.length === 16 ? 10 : 14;
  }

  /** Encrypts the block (w0, w1, w2, w3) (big-endian words) into `out`. */
  encryptBlock(w0: number, w1: number, w2: number, w3: number): void {
    const rk = this.rk;
    const t0 = TE0;
    const t1 = TE1;
    const t2 = TE2;
    const t3 = TE3;
    let s0 = w0 ^ rk[0]!;
    let s1 = w1 ^ rk[1]!;
    let s2 = w2 ^ rk[2]!;
    let s3 = w3 ^ rk[3]!;
    let k = 4;
    for (let r = 1; r < this.rounds; r++) {
      const a0 = t0[s0 >>> 24]! ^ t1[(s1 >>> 16) & 0xff]! ^ t2[(s2 >>> 8) & 0xff]! ^ t3[s3 & 0xff]! ^ rk[k]!;
      const a1 = t0[s1 >>> 24]! ^ t1[(s2 >>> 16) & 0xff]! ^ t2[(s3 >>> 8) & 0xff]! ^ t3[s0 & 0xff]! ^ rk[k + 1]!;
      const a2 = t0[s2 >>> 24]! ^ t1[(s3 >>> 16) & 0xff]! ^ t2[(s0 >>> 8) & 0xff]! ^ t3[s1 & 0xff]! ^ rk[k + 2]!;
      const a3 = t0[s3 >>> 24]! ^ t1[(s0 >>> 16) & 0xff]! ^ t2[(s1 >>> 8) & 0xff]! ^ t3[s2 & 0xff]! ^ rk[k + 3]!;
      s0 = a0;
      s1 = a1;
      s2 = a2;
      s3 = a3;
      k += 4;
    }
    const S = SBOX;
    const o = this.out;
    o[0] =
      ((S[s0 >>> 24]! << 24) | (S[(s1 >>> 16) & 0xff]! << 16) | (S[(s2 >>> 8) & 0xff]! << 8) | S[s3 & 0xff]!) ^ rk[k]!;
    o[1] =
      ((S[s1 >>> 24]! << 24) | (S[(s2 >>> 16) & 0xff]! << 16) | (S[(s3 >>> 8) & 0xff]! << 8) | S[s0 & 0xff]!) ^
      rk[k + 1]!;
    o[2] =
      ((S[s2 >>> 24]! << 24) | (S[(s3 >>> 16) & 0xff]! << 16) | (S[(s0 >>> 8) & 0xff]! << 8) | S[s1 & 0xff]!) ^
      rk[k + 2]!;
    o[3] =
      ((S[s3 >>> 24]! << 24) | (S[(s0 >>> 16) & 0xff]! << 16) | (S[(s1 >>> 8) & 0xff]! << 8) | S[s2 & 0xff]!) ^
      rk[k + 3]!;
  }

  /**
   * XORs the CTR keystream that starts at the counter block in `iv` (16 bytes at `ivOff`) into
   * `len` bytes of `buf` from `off`, in place (encryption and decryption are the same). The
   * counter is the whole block, big-endian, incremented per 16 bytes.
   */
  ctrXor(buf: Uint8Array, off: number, len: number, iv: Uint8Array, ivOff: number): void {
    let c0 = (iv[ivOff]! << 24) | (iv[ivOff + 1]! << 16) | (iv[ivOff + 2]! << 8) | iv[ivOff + 3]!;
    let c1 = (iv[ivOff + 4]! << 24) | (iv[ivOff + 5]! << 16) | (iv[ivOff + 6]! << 8) | iv[ivOff + 7]!;
    let c2 = (iv[ivOff + 8]! << 24) | (iv[ivOff + 9]! << 16) | (iv[ivOff + 10]! << 8) | iv[ivOff + 11]!;
    let c3 = (iv[ivOff + 12]! << 24) | (iv[ivOff + 13]! << 16) | (iv[ivOff + 14]! << 8) | iv[ivOff + 15]!;
    const o = this.out;
    const end = off + len;
    let p = off;
    while (p < end) {
      this.encryptBlock(c0, c1, c2, c3);
      const n = end - p < 16 ? end - p : 16;
      for (let j = 0; j < n; j++) {
        const w = o[j >>> 2]!;
        buf[p + j] = buf[p + j]! ^ ((w >>> (24 - ((j & 3) << 3))) & 0xff);
      }
      p += n;
      // 128-bit big-endian increment
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
}
