/**
 * What aes-encrypt and aes-decrypt share: the key file, the options, and UdpCrypt, the NF
 * instance that encrypts or decrypts the payload of UDP packets with AES-CTR.
 *
 * Wire format. aes-encrypt puts a 16-byte IV in front of the UDP payload and encrypts the
 * payload with the keystream that starts at that counter block; the packet grows by 16 bytes
 * (IP and UDP lengths, IPv4 header checksum and UDP checksum updated):
 *
 *   | Ethernet | IP | UDP | IV (16 B) | payload, encrypted |
 *
 * so aes-decrypt needs nothing but the packet and the key. The IV is the instance's nonce (8
 * random bytes, new every start) then a 64-bit block counter, which moves on by the blocks each
 * packet used: no two packets of one instance share keystream, and instances (or restarts) with
 * the same key differ by their random nonce. (OpenNetVM's aes_encrypt uses one fixed IV for
 * every packet, i.e. the same keystream every time.)
 *
 * Engines (option `engine`): `node` (default) runs node:crypto's AES-CTR (AES-NI) once per
 * burst: since consecutive packets of an encryptor have consecutive counters, a burst's payloads
 * are one CTR stream: they are copied into one scratch buffer (each at a 16-byte boundary), one
 * cipher call encrypts them all, and they are copied back (Buffer.copy, no allocation per
 * packet). The decryptor does the same for each run of packets whose IVs follow on from each
 * other (the normal case: one run per burst), starting a new cipher where a run breaks.
 * Allocates: per run (a burst), the cipher object and update()'s output Buffer. `typescript`
 * runs AesTables (aes.ts): no allocation at all, 3-5× slower. measure.ts and the README
 * have the figures.
 */
import { createCipheriv } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BURST,
  type Burst,
  csumUpdate16,
  DROP,
  NEXT,
  type NFContext,
  NfcError,
  type PacketPool,
  type PacketView,
  toNF,
} from 'nfchain';
import { AesTables } from './aes.js';

/** The IV in front of the payload. */
export const IV_BYTES = 16;
/** Bytes of payload copied into one cipher call at most (then a run is cut). */
const SCRATCH_BYTES = 256 * 1024;
/** Most packets in one run: a burst. */
const MAX_RUN = BURST;
const IPPROTO_UDP = 17;

// ---------------------------------------------------------------------------------------------
// The key file

/**
 * Reads an AES key from a file: hex digits (whitespace and line breaks between them allowed,
 * `#` starts a comment), 16 bytes (AES-128) or 32 bytes (AES-256). Errors name the NF, the
 * option, the file (and line) and the fix. Cold. `warn` receives a line when the file can be
 * read by others.
 */
export function loadKey(nf: string, baseDir: string, option: string, warn?: (line: string) => void): Uint8Array {
  const fixGen = 'write one with: openssl rand -hex 16 > aes.key (AES-128), or rand -hex 32 (AES-256)';
  if (option === '') {
    throw new NfcError('NFC_ERR_NF_OPTION', `${nf}: option --key is missing: the file with the AES key (hex)`, {
      fix: `${fixGen}, then pass --key aes.key (a relative path is from the topology file's directory)`,
    });
  }
  const path = resolve(baseDir, option);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new NfcError('NFC_ERR_NF_OPTION', `${nf}: option --key: cannot read the key file ${path} (${code})`, {
      fix: "check the path; a relative one is taken from the topology file's directory (with nfchain nf: the working directory)",
      cause: err,
    });
  }
  let hex = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i]!.indexOf('#');
    const body = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).replace(/\s+/g, '');
    const bad = /[^0-9a-fA-F]/.exec(body);
    if (bad) {
      throw new NfcError('NFC_ERR_NF_OPTION', `${nf}: option --key: ${path}:${i + 1}: "${bad[0]}" is not a hex digit`, {
        fix: `the file holds the key as hex digits only (# starts a comment); ${fixGen}`,
      });
    }
    hex += body;
  }
  if (hex.length % 2 !== 0) {
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      `${nf}: option --key: ${path}: an odd number of hex digits (${hex.length})`,
      {
        fix: `two hex digits per byte: 32 digits for AES-128, 64 for AES-256; ${fixGen}`,
      },
    );
  }
  const n = hex.length / 2;
  if (n !== 16 && n !== 32) {
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      `${nf}: option --key: ${path}: the key is ${n} bytes; AES-CTR here takes 16 (AES-128) or 32 (AES-256)`,
      { fix: `${fixGen}` },
    );
  }
  try {
    if ((statSync(path).mode & 0o077) !== 0 && warn) {
      warn(`${nf}: warning: the key file ${path} can be read by other users (chmod 600 it)`);
    }
  } catch {
    // read it a moment ago; a stat failure now is not worth stopping for
  }
  const key = new Uint8Array(n);
  for (let i = 0; i < n; i++) key[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

// ---------------------------------------------------------------------------------------------
// Options

const MAX_SERVICE = 31;

/** The options both NFs take (aes-encrypt adds `mtu`). */
export const COMMON_OPTIONS = {
  key: {
    type: 'string',
    default: '',
    help: 'file with the AES key: 32 hex digits (AES-128) or 64 (AES-256); required; relative to the topology file',
  },
  port: {
    type: 'number',
    default: 0,
    integer: true,
    min: 0,
    max: 65535,
    help: 'only UDP packets from or to this port; 0 = every UDP packet',
  },
  engine: {
    type: 'string',
    default: 'node',
    choices: ['node', 'typescript'],
    help: 'node = node:crypto (AES-NI) once per burst; typescript = AES in TypeScript, no allocation, slower',
  },
  destination: {
    type: 'number',
    default: 0,
    integer: true,
    min: 0,
    max: MAX_SERVICE,
    help: 'service the packets it transformed go to; 0 = the next hop (NEXT)',
  },
  interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
} as const;

export interface CryptOptions {
  readonly key: string;
  readonly port: number;
  readonly engine: string;
  readonly destination: number;
  readonly interval: number;
  /** encrypt only: largest IP packet after encryption, 0 = no limit */
  readonly mtu?: number;
}

/** The counters both NFs declare (aes-encrypt adds encrypted, noRoom, tooBig; aes-decrypt decrypted, short). */
export const COMMON_COUNTERS = {
  bytes: 'payload bytes encrypted or decrypted (the IV not counted)',
  notUdp: 'packets not UDP (or not IP): passed on unchanged',
  otherPort: 'UDP packets not from or to `port`: passed on unchanged',
  fragments: 'IP fragments of UDP datagrams: dropped',
  gso: 'GSO super-frames: dropped',
  malformed: 'UDP length inconsistent with the IP length, or a truncated packet: dropped',
} as const;

// ---------------------------------------------------------------------------------------------
// The node:crypto CTR batch

/**
 * Runs of payloads whose counter blocks follow on from each other, encrypted with one
 * node:crypto CTR call per run. Made in create() (cold); add() and flush() are the hot path:
 * add() allocates nothing, flush() allocates the cipher and its output (once per run).
 */
export class CtrBatch {
  private readonly algo: string;
  private readonly key: Uint8Array;
  private readonly pool: Buffer;
  private readonly scratch = Buffer.alloc(SCRATCH_BYTES);
  private readonly runIv = Buffer.alloc(IV_BYTES);
  /** the run's first counter block as words */
  private r0 = 0;
  private r1 = 0;
  private r2 = 0;
  private r3 = 0;
  private blocks = 0;
  private used = 0;
  private n = 0;
  private readonly pos = new Int32Array(MAX_RUN);
  private readonly len = new Int32Array(MAX_RUN);
  private readonly at = new Int32Array(MAX_RUN);
  /** cipher calls made (runs), for the counters */
  calls = 0;

  constructor(key: Uint8Array, memory: ArrayBufferLike) {
    this.algo = `aes-${key.length * 8}-ctr`;
    this.key = key;
    this.pool = Buffer.from(memory as ArrayBuffer);
  }

  /**
   * Adds `len` bytes at `pos` of the pool memory, whose keystream starts at the counter block
   * at `ivOff` of `iv`. Flushes first when it does not follow on from the run.
   */
  add(iv: Uint8Array, ivOff: number, pos: number, len: number): void {
    const w0 = (iv[ivOff]! << 24) | (iv[ivOff + 1]! << 16) | (iv[ivOff + 2]! << 8) | iv[ivOff + 3]!;
    const w1 = (iv[ivOff + 4]! << 24) | (iv[ivOff + 5]! << 16) | (iv[ivOff + 6]! << 8) | iv[ivOff + 7]!;
    const w2 = (iv[ivOff + 8]! << 24) | (iv[ivOff + 9]! << 16) | (iv[ivOff + 10]! << 8) | iv[ivOff + 11]!;
    const w3 = (iv[ivOff + 12]! << 24) | (iv[ivOff + 13]! << 16) | (iv[ivOff + 14]! << 8) | iv[ivOff + 15]!;
    const padded = (len + 15) & ~15;
    if (this.n > 0) {
      // does (w0..w3) equal the run's first block + blocks (128-bit, big-endian)?
      const s3 = (this.r3 >>> 0) + this.blocks;
      const c3 = s3 > 0xffffffff ? 1 : 0;
      const s2 = (this.r2 >>> 0) + c3;
      const c2 = s2 > 0xffffffff ? 1 : 0;
      const s1 = (this.r1 >>> 0) + c2;
      const c1 = s1 > 0xffffffff ? 1 : 0;
      const follows = (s3 | 0) === w3 && (s2 | 0) === w2 && (s1 | 0) === w1 && ((this.r0 + c1) | 0) === w0;
      if (!follows || this.n === MAX_RUN || this.used + padded > SCRATCH_BYTES) this.flush();
    }
    if (this.n === 0) {
      this.r0 = w0;
      this.r1 = w1;
      this.r2 = w2;
      this.r3 = w3;
      this.blocks = 0;
      this.used = 0;
      for (let i = 0; i < IV_BYTES; i++) this.runIv[i] = iv[ivOff + i]!;
    }
    const k = this.n++;
    this.pos[k] = pos;
    this.len[k] = len;
    this.at[k] = this.used;
    this.pool.copy(this.scratch, this.used, pos, pos + len);
    this.used += padded;
    this.blocks += padded >>> 4;
  }

  /** Encrypts the run and copies it back. Allocates: the cipher and its output Buffer. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    this.calls++;
    const cipher = createCipheriv(this.algo, this.key, this.runIv);
    const out = cipher.update(this.scratch.subarray(0, this.used));
    for (let k = 0; k < n; k++) {
      const at = this.at[k]!;
      out.copy(this.pool, this.pos[k]!, at, at + this.len[k]!);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The NF instance

/** A declared counter (ctx.counter). */
type Cell = ReturnType<NFContext['counter']>;

/**
 * One aes-encrypt or aes-decrypt instance: its key, engine, counters and scratch. The instance
 * create() returns (handleBurst, tick, stop are bound to it by the engine); the counters are the
 * NF's declared counters (shared memory: stats, /metrics, the console), read by tests as
 * `runNF(...).instance.transformed`, etc. Made in create() (cold: allocates the key schedule and
 * the scratch). handleBurst is the hot path: no allocation per packet (the `node` engine
 * allocates once per run of a burst, see the header).
 */
export class UdpCrypt {
  /** packets seen */
  packets = 0;
  private readonly cTransformed: Cell;
  private readonly cBytes: Cell;
  private readonly cNotUdp: Cell;
  private readonly cOtherPort: Cell;
  private readonly cFragments: Cell;
  private readonly cGso: Cell;
  private readonly cMalformed: Cell;
  /** encrypt only */
  private readonly cNoRoom: Cell | undefined;
  private readonly cTooBig: Cell | undefined;
  /** decrypt only */
  private readonly cShort: Cell | undefined;

  /** packets encrypted (aes-encrypt) or decrypted (aes-decrypt) */
  get transformed(): number {
    return this.cTransformed.value;
  }
  /** payload bytes encrypted or decrypted (the IV not counted) */
  get bytes(): number {
    return this.cBytes.value;
  }
  /** not UDP (or not IP): passed on unchanged (NEXT) */
  get notUdp(): number {
    return this.cNotUdp.value;
  }
  /** UDP, but not from or to `port`: passed on unchanged (NEXT) */
  get otherPort(): number {
    return this.cOtherPort.value;
  }
  /** IP fragments of UDP datagrams: dropped (their payload cannot be handled alone) */
  get fragments(): number {
    return this.cFragments.value;
  }
  /** GSO super-frames: dropped (they would be segmented after the IV was added) */
  get gso(): number {
    return this.cGso.value;
  }
  /** UDP length inconsistent with the IP length, or a truncated packet: dropped */
  get malformed(): number {
    return this.cMalformed.value;
  }
  /** encrypt: no room in the buffer for the IV (headroom and tailroom both short): dropped */
  get noRoom(): number {
    return this.cNoRoom?.value ?? 0;
  }
  /** encrypt: the packet would exceed `mtu` or 65535 bytes with the IV: dropped */
  get tooBig(): number {
    return this.cTooBig?.value ?? 0;
  }
  /** decrypt: UDP payload shorter than the IV: dropped */
  get short(): number {
    return this.cShort?.value ?? 0;
  }

  readonly encrypt: boolean;
  readonly name: string;
  readonly keyBits: number;
  private readonly verdict: number;
  private readonly port: number;
  private readonly mtu: number;
  private readonly interval: number;
  private readonly aes: AesTables | undefined;
  private readonly batch: CtrBatch | undefined;
  /** per burst: IVs, the members' descriptors, and whether their UDP checksum stays 0 */
  private readonly ivs = new Uint8Array(IV_BYTES * MAX_RUN);
  private readonly members = new Int32Array(MAX_RUN);
  private readonly zeroCsum = new Uint8Array(MAX_RUN);
  /** the encryptor's IV: nonce (8 random bytes) and 64-bit block counter (hi, lo) */
  private readonly nonce: Uint8Array;
  private ctrHi = 0;
  private ctrLo = 0;
  private ticks = 0;
  /** set by check(): where the IP header starts and the datagram ends (absolute) */
  private l3 = 0;
  private ipEnd = 0;

  constructor(ctx: NFContext<CryptOptions>, encrypt: boolean, nonce: Uint8Array) {
    const o = ctx.options;
    this.encrypt = encrypt;
    this.name = ctx.name;
    const key = loadKey(ctx.name, ctx.baseDir, o.key, (line) => ctx.log(line));
    this.keyBits = key.length * 8;
    this.verdict = o.destination === 0 ? NEXT : toNF(o.destination);
    this.port = o.port;
    this.mtu = o.mtu ?? 0;
    this.interval = o.interval;
    if (o.engine === 'typescript') this.aes = new AesTables(key);
    else this.batch = new CtrBatch(key, ctx.pool.buffer);
    this.nonce = nonce;
    this.cTransformed = ctx.counter(encrypt ? 'encrypted' : 'decrypted');
    this.cBytes = ctx.counter('bytes');
    this.cNotUdp = ctx.counter('notUdp');
    this.cOtherPort = ctx.counter('otherPort');
    this.cFragments = ctx.counter('fragments');
    this.cGso = ctx.counter('gso');
    this.cMalformed = ctx.counter('malformed');
    this.cNoRoom = encrypt ? ctx.counter('noRoom') : undefined;
    this.cTooBig = encrypt ? ctx.counter('tooBig') : undefined;
    this.cShort = encrypt ? undefined : ctx.counter('short');
  }

  /** Encrypts or decrypts a burst in place. Hot path: no allocation per packet. */
  handleBurst(b: Burst, ctx: NFContext<CryptOptions>): void {
    const pool = ctx.pool;
    const view = b.view;
    const descs = b.descs;
    const verdicts = b.verdicts;
    let m = 0;
    for (let i = 0; i < b.n; i++) {
      const pkt = view.attach(pool, descs[i]!);
      this.packets++;
      const v = this.encrypt ? this.prepareEncrypt(pkt, pool, m) : this.prepareDecrypt(pkt, pool, m);
      verdicts[i] = v;
      if (v === -1) {
        this.members[m++] = i;
        verdicts[i] = this.verdict;
      }
    }
    if (m === 0) return;
    this.batch?.flush();
    // Checksums over the new payloads (the view re-parses the new lengths).
    for (let k = 0; k < m; k++) {
      const pkt = view.attach(pool, descs[this.members[k]!]!);
      if (this.zeroCsum[k] === 0) pkt.fixL4Checksum();
    }
  }

  /**
   * The checks both directions make. Returns the UDP header's position (absolute) and leaves
   * the IP header's and the datagram's end in `this.l3`, `this.ipEnd`; or a negative value:
   * -2 - the verdict to give.
   */
  private check(pkt: PacketView): number {
    // Any fragment of a UDP datagram (later fragments carry no port to filter on).
    if (pkt.isFragment && pkt.ipProtocol === IPPROTO_UDP) {
      this.cFragments.add();
      return -2 - DROP;
    }
    const l4rel = pkt.udpLength >= 0 ? pkt.l4Offset : -1;
    if (l4rel < 0) {
      this.cNotUdp.add();
      return -2 - NEXT;
    }
    if (this.port !== 0 && pkt.srcPort !== this.port && pkt.dstPort !== this.port) {
      this.cOtherPort.add();
      return -2 - NEXT;
    }
    if (pkt.isGso) {
      this.cGso.add();
      return -2 - DROP;
    }
    const base = pkt.byteOffset;
    const l3 = base + pkt.l3Offset;
    const l4 = base + l4rel;
    const ipEnd = pkt.ipVersion === 4 ? l3 + pkt.ipv4TotalLength : l3 + 40 + pkt.ipv6PayloadLength;
    // The UDP datagram must end where the IP packet ends, inside the buffer.
    if (ipEnd > base + pkt.length || l4 + pkt.udpLength !== ipEnd) {
      this.cMalformed.add();
      return -2 - DROP;
    }
    this.ipEnd = ipEnd;
    this.l3 = l3;
    return l4;
  }

  /** IP and UDP lengths (and the IPv4 header checksum) grow by `delta` (±16). */
  private static patchLengths(pkt: PacketView, dv: DataView, l3: number, l4: number, delta: number): void {
    if (pkt.ipVersion === 4) {
      const old = dv.getUint16(l3 + 2);
      dv.setUint16(l3 + 2, old + delta);
      dv.setUint16(l3 + 10, csumUpdate16(dv.getUint16(l3 + 10), old, old + delta));
    } else {
      dv.setUint16(l3 + 4, dv.getUint16(l3 + 4) + delta);
    }
    dv.setUint16(l4 + 4, dv.getUint16(l4 + 4) + delta);
  }

  /**
   * Makes room for the IV, writes it, and queues the payload (member `k`). Returns -1 when the
   * packet is to be encrypted, else its verdict.
   */
  private prepareEncrypt(pkt: PacketView, pool: PacketPool, k: number): number {
    let l4 = this.check(pkt);
    if (l4 < 0) return -2 - l4;
    const bytes = pkt.bytes;
    const dv = pkt.data;
    const d = pkt.desc;
    let l3 = this.l3;
    const ipLen = this.ipEnd - l3;
    const udpLen = dv.getUint16(l4 + 4);
    if (udpLen + IV_BYTES > 65535 || ipLen + IV_BYTES > (this.mtu > 0 ? this.mtu : 65535)) {
      this.cTooBig!.add();
      return DROP;
    }
    // Zero UDP checksum over IPv4 ("none"): stays none. A partial one is completed later.
    this.zeroCsum[k] = pkt.ipVersion === 4 && dv.getUint16(l4 + 6) === 0 && !pkt.checksumPartial ? 1 : 0;
    const base = pkt.byteOffset;
    let pay = l4 + 8;
    let iv: number;
    if (pool.prepend(d, IV_BYTES)) {
      // Headers move 16 bytes to the front (into the headroom); the payload stays.
      bytes.copyWithin(base - IV_BYTES, base, pay);
      l3 -= IV_BYTES;
      l4 -= IV_BYTES;
      iv = pay - IV_BYTES;
    } else if (pool.room(d) >= this.ipEnd - base + IV_BYTES) {
      // No headroom left: the payload moves 16 bytes to the back (Ethernet padding dropped).
      bytes.copyWithin(pay + IV_BYTES, pay, this.ipEnd);
      pool.setLength(d, this.ipEnd - base + IV_BYTES);
      iv = pay;
      pay += IV_BYTES;
    } else {
      this.cNoRoom!.add();
      return DROP;
    }
    UdpCrypt.patchLengths(pkt, dv, l3, l4, IV_BYTES);
    // IV = nonce, 64-bit block counter
    const nonce = this.nonce;
    const ivs = this.ivs;
    const o = k * IV_BYTES;
    const hi = this.ctrHi;
    const lo = this.ctrLo;
    for (let j = 0; j < 8; j++) ivs[o + j] = nonce[j]!;
    ivs[o + 8] = hi >>> 24;
    ivs[o + 9] = hi >>> 16;
    ivs[o + 10] = hi >>> 8;
    ivs[o + 11] = hi;
    ivs[o + 12] = lo >>> 24;
    ivs[o + 13] = lo >>> 16;
    ivs[o + 14] = lo >>> 8;
    ivs[o + 15] = lo;
    for (let j = 0; j < IV_BYTES; j++) bytes[iv + j] = ivs[o + j]!;
    const len = udpLen - 8;
    const next = lo + ((len + 15) >>> 4);
    if (next > 0xffffffff) {
      this.ctrHi = (hi + 1) >>> 0;
      this.ctrLo = next - 0x100000000;
    } else {
      this.ctrLo = next;
    }
    this.crypt(bytes, pay, len, k);
    return -1;
  }

  /**
   * Takes the IV out (headers move 16 bytes to the back over it) and queues the payload (member
   * `k`). Returns -1 when the packet is to be decrypted, else its verdict.
   */
  private prepareDecrypt(pkt: PacketView, pool: PacketPool, k: number): number {
    const l4 = this.check(pkt);
    if (l4 < 0) return -2 - l4;
    const bytes = pkt.bytes;
    const dv = pkt.data;
    const udpLen = dv.getUint16(l4 + 4);
    if (udpLen - 8 < IV_BYTES) {
      this.cShort!.add();
      return DROP;
    }
    this.zeroCsum[k] = pkt.ipVersion === 4 && dv.getUint16(l4 + 6) === 0 && !pkt.checksumPartial ? 1 : 0;
    const base = pkt.byteOffset;
    const pay = l4 + 8;
    const ivs = this.ivs;
    const o = k * IV_BYTES;
    for (let j = 0; j < IV_BYTES; j++) ivs[o + j] = bytes[pay + j]!;
    bytes.copyWithin(base + IV_BYTES, base, pay);
    pool.adj(pkt.desc, IV_BYTES);
    UdpCrypt.patchLengths(pkt, dv, this.l3 + IV_BYTES, l4 + IV_BYTES, -IV_BYTES);
    this.crypt(bytes, pay + IV_BYTES, udpLen - 8 - IV_BYTES, k);
    return -1;
  }

  /** Encrypts (or queues) `len` bytes at `pos` with member k's IV. */
  private crypt(bytes: Uint8Array, pos: number, len: number, k: number): void {
    this.cTransformed.add();
    this.cBytes.add(len);
    if (len === 0) return;
    if (this.aes !== undefined) this.aes.ctrXor(bytes, pos, len, this.ivs, k * IV_BYTES);
    else this.batch!.add(this.ivs, k * IV_BYTES, pos, len);
  }

  /** node:crypto cipher calls made so far (runs); 0 with the typescript engine. */
  get cipherCalls(): number {
    return this.batch?.calls ?? 0;
  }

  /** A copy of the counters (cold). */
  stats(): Record<string, number> {
    return {
      packets: this.packets,
      [this.encrypt ? 'encrypted' : 'decrypted']: this.transformed,
      bytes: this.bytes,
      notUdp: this.notUdp,
      otherPort: this.otherPort,
      fragments: this.fragments,
      gso: this.gso,
      malformed: this.malformed,
      ...(this.encrypt ? { noRoom: this.noRoom, tooBig: this.tooBig } : { short: this.short }),
    };
  }

  /** The counter line (cold). */
  report(): string {
    const drops = this.encrypt ? `${this.noRoom} no room, ${this.tooBig} too big` : `${this.short} too short for an IV`;
    return (
      `${this.name}: ${this.packets} packets, ${this.transformed} ${this.encrypt ? 'encrypted' : 'decrypted'} ` +
      `(${this.bytes} payload bytes), ${this.notUdp} not UDP and ${this.otherPort} other ports passed, ` +
      `dropped: ${this.fragments} fragments, ${this.gso} GSO, ${this.malformed} malformed, ${drops}`
    );
  }

  /** Every `interval` seconds: the counter line. Cold. */
  tick(ctx: NFContext<CryptOptions>): void {
    if (this.interval === 0 || ++this.ticks < this.interval) return;
    this.ticks = 0;
    ctx.log(this.report());
  }

  stop(ctx: NFContext<CryptOptions>): void {
    if (this.interval > 0) ctx.log(`${this.report()} (in all)`);
  }
}
