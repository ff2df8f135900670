/**
 * The `gen` port: synthetic traffic, the embedded default input. It needs no
 * setup, no files and no privileges, so `nfchain demo` and the tests run a chain on it.
 *
 * What it produces: valid Ethernet / IPv4 / UDP or TCP frames (checksums correct, payload
 * zero) from `flows` distinct 5-tuples, chosen in a seeded pseudo-random order (mulberry32),
 * with frame sizes taken from `sizes` in rotation, a share `tcp` of the flows being TCP, at
 * `rate` packets per second (0 = as fast as the loop asks), stopping after `count` packets
 * (0 = never). The same configuration and seed give the same packet sequence, byte for byte.
 *
 * Receive-only: there is no openGenTx. Transmitting to a gen port (ports/index.ts) gives a
 * sink that frees every packet and counts it as txDropped.
 *
 * How a packet is made (rxBurst, per packet: one typed-array copy plus a few stores):
 *
 *   per-flow mode (flows × sizes ≤ 64 Ki templates and ≤ 16 MiB):
 *     open:  writeSynth() one complete frame per (flow, size) into one backing buffer
 *     burst: u8.set(template[flow * nSizes + s], dataOffset)
 *
 *   patch mode (more flows than that, e.g. 1 M flows):
 *     open:  writeSynth() one frame per (UDP|TCP, size) with zero addresses, ports and IP id,
 *            and keep the one's-complement sums of its IPv4 header and of its L4 segment
 *            (pseudo header included) without those fields
 *     burst: u8.set(base template), then store the flow's addresses, ports, IP id and source
 *            MAC, and both checksums = ~fold(base sum + the flow's words) — RFC 1071
 *            arithmetic, exactly what a full recompute gives (the tests compare both modes
 *            byte for byte).
 *
 *   Flow i (0 ≤ i < flows ≤ 2^24) is a pure function of i, so patch mode needs no per-flow
 *   table:  src 10.0.0.0/8 + (i + 1), dst 192.168.0.1 + (i mod 250), sport 1024 + (i·7919 mod
 *   64000), dport by protocol and i mod 4, TCP iff ⌊(i+1)·tcp⌋ > ⌊i·tcp⌋ (exactly ⌊flows·tcp⌋
 *   TCP flows, spread evenly). Source addresses differ, so the 5-tuples are distinct.
 *
 * Rate limiting is a token bucket refilled from performance.now() once per burst (no BigInt):
 * rate/1000 tokens per ms, holding at most 10 ms of traffic (at least two bursts), so a loop
 * that stalls does not make up for it with a flood.
 *
 * Pool empty: the packets due in that burst that got no buffer are counted in rxNoBuffer. With
 * a rate they are lost (their time has passed, as on a wire); they never consume the PRNG
 * sequence or `count`, so the packets that are delivered are always the same sequence.
 */
import { NfcError } from '../errors.js';
import { PacketView } from '../packet/packet-view.js';
import { Meta } from '../shm/pool-layout.js';
import type { PacketPool } from '../shm/pool.js';
import type { PoolCache } from '../shm/pool-cache.js';
import type { GenPortConfig } from './config.js';
import { wallClock, type PortContext, type RxPort } from './port.js';
import { SynthKind, writeSynth, type SynthFlow } from './synth.js';

/** Most flows a gen port can have (source addresses are 10.0.0.0/8 + flow index). */
export const GEN_MAX_FLOWS = 1 << 24;
/** Per-flow templates are used up to this many (flow, size) templates... */
export const GEN_MAX_TEMPLATES = 64 * 1024;
/** ...and this many template bytes; beyond either, patch mode. */
export const GEN_MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;
/** Smallest frame (without FCS) the port generates. */
export const GEN_MIN_SIZE = 60;

/** How templates are kept: chosen by size ('auto'), or forced (tests, benchmarks). */
export type GenTemplateMode = 'auto' | 'per-flow' | 'patch';

export interface GenRxOptions {
  templates?: GenTemplateMode;
}

/** The gen port's RX half: the RxPort plus what it has produced. */
export interface GenRxPort extends RxPort {
  /** Packets delivered so far. */
  readonly generated: number;
  /** 'per-flow' or 'patch', as chosen at open. */
  readonly mode: 'per-flow' | 'patch';
}

// Offsets in a plain Ethernet + IPv4 frame (what writeSynth writes for IPV4_UDP / IPV4_TCP).
const ETH_SRC_LOW4 = 8; // writeSynth puts the source IPv4 address in the last 4 bytes of the source MAC
const IP = 14;
const IP_ID = IP + 4;
const IP_CSUM = IP + 10;
const IP_SRC = IP + 12;
const IP_DST = IP + 16;
const L4 = IP + 20;
const TCP_CSUM = L4 + 16;
const UDP_CSUM = L4 + 6;

const TCP_DPORTS = new Uint16Array([80, 443, 8080, 22]);
const UDP_DPORTS = new Uint16Array([53, 123, 4789, 5001]);

/** Source IPv4 address of flow i. */
function flowSrc(i: number): number {
  return (0x0a000000 | ((i + 1) & 0xffffff)) >>> 0;
}
/** Destination IPv4 address of flow i. */
function flowDst(i: number): number {
  return (0xc0a80001 + (i % 250)) >>> 0;
}
function flowSrcPort(i: number): number {
  return 1024 + ((i * 7919) % 64000);
}
function flowDstPort(i: number, tcp: boolean): number {
  return tcp ? TCP_DPORTS[i & 3]! : UDP_DPORTS[i & 3]!;
}
/** Flow i is TCP when ⌊(i+1)·share⌋ > ⌊i·share⌋: exactly ⌊flows·share⌋ TCP flows, evenly spread. */
function flowIsTcp(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

/** 16-bit one's-complement fold of a small non-negative sum (< 2^31). */
function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}

/** Checks the configuration (cold). Errors name the port, the option and the fix. */
function checkConfig(cfg: GenPortConfig, pool: PacketPool, portName: string): void {
  const bad = (what: string, fix: string): NfcError =>
    new NfcError('NFC_ERR_INVALID_ARG', `port "${portName}" (gen): ${what}`, { fix });
  if (typeof cfg.rate !== 'number' || !Number.isFinite(cfg.rate) || cfg.rate < 0) {
    throw bad(
      `rate ${String(cfg.rate)} must be a number of packets per second >= 0`,
      'use e.g. 100000, or 0 for as fast as possible',
    );
  }
  if (!Array.isArray(cfg.sizes) || cfg.sizes.length === 0) {
    throw bad('sizes must list at least one frame size', 'use e.g. [64] or [64, 512, 1514]');
  }
  for (let k = 0; k < cfg.sizes.length; k++) {
    const s = cfg.sizes[k];
    if (typeof s !== 'number' || !Number.isInteger(s) || s < GEN_MIN_SIZE || s > pool.dataRoom) {
      throw bad(
        `sizes[${k}] = ${String(s)} must be an integer from ${GEN_MIN_SIZE} to ${pool.dataRoom} (the pool's data room)`,
        `frame sizes are without FCS; use ${GEN_MIN_SIZE}..${Math.min(1514, pool.dataRoom)}, or a larger pool data room for jumbo frames`,
      );
    }
  }
  if (typeof cfg.flows !== 'number' || !Number.isInteger(cfg.flows) || cfg.flows < 1 || cfg.flows > GEN_MAX_FLOWS) {
    throw bad(`flows ${String(cfg.flows)} must be an integer from 1 to ${GEN_MAX_FLOWS}`, 'use e.g. 1024');
  }
  if (typeof cfg.tcp !== 'number' || !(cfg.tcp >= 0 && cfg.tcp <= 1)) {
    throw bad(`tcp ${String(cfg.tcp)} must be a share between 0 and 1`, 'use e.g. 0.5 for half TCP, half UDP flows');
  }
  if (typeof cfg.seed !== 'number' || !Number.isFinite(cfg.seed)) {
    throw bad(`seed ${String(cfg.seed)} must be a number`, 'use any integer, e.g. 1');
  }
  if (typeof cfg.count !== 'number' || !Number.isInteger(cfg.count) || cfg.count < 0) {
    throw bad(`count ${String(cfg.count)} must be an integer >= 0`, 'use 0 for no limit');
  }
}

class GenRx implements GenRxPort {
  readonly mode: 'per-flow' | 'patch';
  private readonly pool: PacketPool;
  private readonly cache: PoolCache;
  private readonly portId: number;
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly words: Uint32Array;
  private readonly metaShift: number;

  /** mulberry32 state, stepped inline in rxBurst (a closure call per packet cost ~15 ns) */
  private rngState: number;
  private readonly flows: number;
  private readonly tcpShare: number;
  private readonly nSizes: number;
  private sizeIdx = 0;
  /** per-flow: [flow * nSizes + s]; patch: [(tcp ? 1 : 0) * nSizes + s]. Views of one buffer. */
  private readonly templates: Uint8Array[];
  /** the same templates as words: backing store, and each template's first word */
  private readonly tplWords: Uint32Array;
  private readonly tplWord: number[] = [];
  /** patch mode: folded sums of each base template's IPv4 header and L4 segment (fields zero). */
  private readonly ipSum: Uint32Array;
  private readonly l4Sum: Uint32Array;

  private readonly count: number;
  private produced = 0;
  private noBuffer = 0;

  private readonly rate: number;
  private tokensPerMs: number;
  private readonly bucket: number;
  private tokens = 0;
  private lastMs: number;
  /** ramp-up: ms left to reach `rate` from the first burst (0: at full rate), and when it began */
  private rampMs: number;
  private rampStart = -1;
  /** performance.now() of the last wall-clock read */
  private clockMs = 0;

  private readonly clock = new Float64Array(2);
  private bursts = 0;

  /** Setup: validates and builds the templates (allocates). */
  constructor(cfg: GenPortConfig, ctx: PortContext, opts: GenRxOptions) {
    const pool = ctx.pool;
    checkConfig(cfg, pool, ctx.portName);
    this.pool = pool;
    this.cache = ctx.cache;
    this.portId = ctx.portId;
    this.u8 = pool.u8;
    this.dv = pool.dv;
    this.words = pool.words;
    this.metaShift = pool.shift - 2;
    this.rngState = cfg.seed >>> 0;
    this.flows = cfg.flows;
    this.tcpShare = cfg.tcp;
    this.nSizes = cfg.sizes.length;
    this.count = cfg.count;
    this.rate = cfg.rate;
    this.tokensPerMs = cfg.rate / 1000;
    this.rampMs = cfg.rate > 0 ? (cfg.ramp ?? 0) * 1000 : 0;
    this.bucket = Math.max(2 * 64, cfg.rate / 100);
    this.lastMs = performance.now();
    this.clockMs = this.lastMs;

    let sizeSum = 0;
    // Templates start on 4-byte boundaries so rxBurst can copy them a word at a time.
    for (const s of cfg.sizes) sizeSum += (Math.max(s, GEN_MIN_SIZE) + 3) & ~3;
    const fits = cfg.flows * cfg.sizes.length <= GEN_MAX_TEMPLATES && cfg.flows * sizeSum <= GEN_MAX_TEMPLATE_BYTES;
    const want = opts.templates ?? 'auto';
    this.mode = want === 'auto' ? (fits ? 'per-flow' : 'patch') : want;
    if (this.mode === 'per-flow' && !fits) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `port "${ctx.portName}" (gen): ${cfg.flows} flows × ${cfg.sizes.length} sizes is too many per-flow templates`,
        {
          fix: `per-flow templates are limited to ${GEN_MAX_TEMPLATES} and ${GEN_MAX_TEMPLATE_BYTES} bytes; use templates 'auto' or 'patch'`,
        },
      );
    }

    const nTemplates = this.mode === 'per-flow' ? cfg.flows : 2;
    const backing = new ArrayBuffer(nTemplates * sizeSum);
    const bu8 = new Uint8Array(backing);
    const bdv = new DataView(backing);
    const view = new PacketView(backing);
    const f: SynthFlow = { kind: SynthKind.IPV4_UDP, src: 0, dst: 0, srcPort: 0, dstPort: 0 };
    this.templates = [];
    this.tplWords = new Uint32Array(backing);
    this.ipSum = new Uint32Array(this.mode === 'patch' ? 2 * this.nSizes : 0);
    this.l4Sum = new Uint32Array(this.ipSum.length);
    let off = 0;
    for (let t = 0; t < nTemplates; t++) {
      if (this.mode === 'per-flow') {
        const tcp = flowIsTcp(t, cfg.tcp);
        f.kind = tcp ? SynthKind.IPV4_TCP : SynthKind.IPV4_UDP;
        f.src = flowSrc(t);
        f.dst = flowDst(t);
        f.srcPort = flowSrcPort(t);
        f.dstPort = flowDstPort(t, tcp);
      } else {
        f.kind = t === 1 ? SynthKind.IPV4_TCP : SynthKind.IPV4_UDP;
      }
      for (let s = 0; s < this.nSizes; s++) {
        const len = writeSynth(bdv, bu8, view, off, cfg.sizes[s]!, f);
        this.templates.push(new Uint8Array(backing, off, len));
        if (this.mode === 'patch') {
          // Sums of everything but the patched fields (which are zero here): the complement
          // of the checksum writeSynth stored. A UDP checksum of 0xffff may stand for a sum
          // of 0xffff (-0) rather than 0; both give the same fold once a non-zero address is
          // added.
          this.ipSum[t * this.nSizes + s] = ~bdv.getUint16(off + IP_CSUM) & 0xffff;
          this.l4Sum[t * this.nSizes + s] = ~bdv.getUint16(off + (t === 1 ? TCP_CSUM : UDP_CSUM)) & 0xffff;
        }
        this.tplWord.push(off >> 2);
        off += (len + 3) & ~3;
      }
    }
  }

  get done(): boolean {
    return this.count > 0 && this.produced >= this.count;
  }

  get rxNoBuffer(): number {
    return this.noBuffer;
  }

  get generated(): number {
    return this.produced;
  }

  /**
   * Generates up to `max` packets: as many as the token bucket and `count` allow.
   */
  /** The rate during the ramp: from 2 % of `rate` at the first burst to all of it after `ramp` s (cold: the first seconds only). */
  private rampUp(now: number): void {
    if (this.rampStart < 0) {
      this.rampStart = now;
      this.lastMs = now;
      this.tokens = 0;
    }
    const f = (now - this.rampStart) / this.rampMs;
    if (f >= 1) this.rampMs = 0;
    this.tokensPerMs = (this.rate / 1000) * Math.min(1, Math.max(0.02, f));
  }

  rxBurst(descs: Uint32Array, max: number): number {
    let want = max;
    if (this.count > 0) {
      const left = this.count - this.produced;
      if (left < want) want = left;
    }
    if (this.rate > 0) {
      const now = performance.now();
      if (this.rampMs > 0) this.rampUp(now);
      let t = this.tokens + (now - this.lastMs) * this.tokensPerMs;
      if (t > this.bucket) t = this.bucket;
      this.lastMs = now;
      if (t < want) want = Math.floor(t);
      this.tokens = t - want;
    }
    if (want <= 0) return 0;
    const got = this.cache.alloc(descs, want);
    if (got < want) this.noBuffer += want - got;
    if (got === 0) return 0;

    const clock = this.clock;
    // The clock is read every 16th burst (a read costs ~0.1-0.3 us and allocates in Node 20);
    // stamps are then at most ~16 bursts old, which is fine for synthetic traffic. A rate-limited
    // port (small bursts, far apart) reads it whenever a millisecond has passed, so its stamps
    // stay within a millisecond of the time the packets entered.
    if ((this.bursts++ & 15) === 0 || (this.rate > 0 && this.lastMs - this.clockMs >= 1)) {
      wallClock(clock);
      this.clockMs = this.lastMs;
    }
    const tsSec = clock[0]!;
    const tsNsec = clock[1]!;
    const pool = this.pool;
    const words = this.words;
    const metaShift = this.metaShift;
    const nSizes = this.nSizes;
    const patch = this.mode === 'patch';
    let s = this.sizeIdx;
    let a = this.rngState;
    for (let i = 0; i < got; i++) {
      const d = descs[i]!;
      // mulberry32, inlined, cut to 31 bits (a small integer: no heap number).
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      const flow = ((t ^ (t >>> 14)) >>> 1) % this.flows;
      const off = pool.dataOffset(d);
      let len: number;
      if (patch) {
        len = this.writePatched(off, flow, s);
      } else {
        // Word copy, unrolled: a 64-byte frame is 16 words; cheaper than u8.set's call for
        // small frames (the data offset of a fresh buffer is 4-aligned; the last word may
        // carry up to 3 bytes beyond len, inside the data room).
        const k = flow * nSizes + s;
        len = this.templates[k]!.length;
        const tw = this.tplWords;
        let src = this.tplWord[k]!;
        let dst = (off - pool.base) >> 2;
        const end = dst + ((len + 3) >> 2);
        for (; dst + 4 <= end; dst += 4, src += 4) {
          words[dst] = tw[src]!;
          words[dst + 1] = tw[src + 1]!;
          words[dst + 2] = tw[src + 2]!;
          words[dst + 3] = tw[src + 3]!;
        }
        for (; dst < end; dst++, src++) words[dst] = tw[src]!;
      }
      const m = d << metaShift;
      words[m + Meta.len] = len;
      words[m + Meta.port] = this.portId;
      words[m + Meta.tsSec] = tsSec;
      words[m + Meta.tsNsec] = tsNsec;
      s = s + 1 === nSizes ? 0 : s + 1;
    }
    this.sizeIdx = s;
    this.rngState = a;
    this.produced += got;
    return got;
  }

  /**
   * Patch mode: copies the (protocol, size) base frame to `off` and writes flow `i` into it,
   * with both checksums; returns the frame length.
   */
  private writePatched(off: number, i: number, s: number): number {
    const tcp = flowIsTcp(i, this.tcpShare);
    const k = (tcp ? this.nSizes : 0) + s;
    const tpl = this.templates[k]!;
    this.u8.set(tpl, off);
    const dv = this.dv;
    const src = flowSrc(i);
    const dst = flowDst(i);
    const sport = flowSrcPort(i);
    const dport = flowDstPort(i, tcp);
    const id = sport ^ dport;
    const addr = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    dv.setUint32(off + ETH_SRC_LOW4, src);
    dv.setUint16(off + IP_ID, id);
    dv.setUint32(off + IP_SRC, src);
    dv.setUint32(off + IP_DST, dst);
    dv.setUint16(off + IP_CSUM, ~fold(this.ipSum[k]! + addr + id) & 0xffff);
    dv.setUint16(off + L4, sport);
    dv.setUint16(off + L4 + 2, dport);
    const c = ~fold(this.l4Sum[k]! + addr + sport + dport) & 0xffff;
    if (tcp) dv.setUint16(off + TCP_CSUM, c);
    else dv.setUint16(off + UDP_CSUM, c === 0 ? 0xffff : c); // RFC 768: a computed 0 is sent as 0xffff
    return tpl.length;
  }

  close(): void {
    // Nothing to release: the templates are garbage once the port is dropped.
  }
}

/**
 * Opens the RX half of a gen port (cold: validates the configuration and builds the packet
 * templates). Errors: NFC_ERR_INVALID_ARG naming the port and the option.
 */
export function openGenRx(cfg: GenPortConfig, ctx: PortContext, opts: GenRxOptions = {}): GenRxPort {
  return new GenRx(cfg, ctx, opts);
}
