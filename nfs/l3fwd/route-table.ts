/**
 * Longest-prefix-match route tables in typed arrays, for l3fwd and ip-router.
 *
 * Both are multibit tries with controlled prefix expansion: every entry of a node holds either
 * a result (the next-hop index of the longest prefix that covers it, and that prefix's length)
 * or a link to a child node of 256 entries that resolves the next 8 bits.
 *
 *   IPv4 (DIR-24-8):  level 0: 2^24 entries indexed by the top 24 bits of the address
 *                     level 1: 256-entry blocks ("tbl8") for prefixes longer than /24
 *                     lookup: one read, and a second for addresses under a /25../32
 *   IPv6:             level 0: 2^16 entries indexed by the top 16 bits
 *                     levels 1..14: 256-entry blocks, one per further byte
 *                     lookup: one read per level the address goes down (2..15)
 *
 * Entry layout (Int32): a negative entry links to a child block (block index in bits 0..30);
 * otherwise bits 23..30 hold the prefix length and bits 0..22 the next-hop index + 1 (0: no
 * route). The blocks of both levels ≥ 1 live in one growable Int32Array (blocks of 256); freed
 * blocks go on a free list, and a block whose 256 entries became equal is folded back into its
 * parent's entry.
 *
 * Insert and delete are cold (a /8 rewrites 65536 entries; a default IPv4 route 2^24). The
 * prefix list itself is kept in a Map (control plane) so that delete() can find the prefix that
 * covers a deleted one. lookup4(), lookup6() and lookup6At() are the hot path: a few
 * typed-array reads, no allocation.
 */

/** Most next-hop indices a table holds (bits 0..22 of an entry, less the "no route" 0). */
export const MAX_NEXT_HOP = (1 << 23) - 2;
const NH_MASK = (1 << 23) - 1;
const DEPTH_SHIFT = 23;
const BLOCK_MASK = 0x7fffffff;
const BLOCK = 256;

function entry(depth: number, nh: number): number {
  return (depth << DEPTH_SHIFT) | (nh + 1);
}
function depthOf(e: number): number {
  return (e >>> DEPTH_SHIFT) & 0xff;
}

/** A route as stored: prefix words (network order), length, next hop. */
export interface LpmRoute {
  /** the prefix, one word (IPv4) or four (IPv6), host bits zero */
  readonly words: Uint32Array;
  readonly length: number;
  readonly nextHop: number;
}

/**
 * The trie both tables are: a first level of 2^first entries, then levels of 8 bits. `bits` is
 * the address width (32 or 128). Addresses are given as Uint32Arrays of network-order words.
 */
class MultibitTrie {
  /** level 0 */
  readonly top: Int32Array;
  /** levels ≥ 1, in blocks of 256 */
  blocks: Int32Array;
  private blockCount = 0;
  private freeBlocks: number[] = [];
  private usedBlocks = 0;
  private readonly rules = new Map<string, LpmRoute>();

  constructor(
    readonly bits: number,
    readonly first: number,
    initialBlocks: number,
  ) {
    this.top = new Int32Array(1 << first);
    this.blocks = new Int32Array(Math.max(1, initialBlocks) * BLOCK);
  }

  get size(): number {
    return this.rules.size;
  }
  /** blocks of levels ≥ 1 in use */
  get blocksInUse(): number {
    return this.usedBlocks;
  }
  /** bytes of the typed arrays */
  get bytes(): number {
    return this.top.byteLength + this.blocks.byteLength;
  }

  routes(): LpmRoute[] {
    return [...this.rules.values()];
  }

  /** Bits [start, start + len) of the address (len ≤ 24). */
  private bitsAt(words: Uint32Array, start: number, len: number): number {
    let v = 0;
    for (let i = 0; i < len; i++) {
      const b = start + i;
      v = (v << 1) | ((words[b >>> 5]! >>> (31 - (b & 31))) & 1);
    }
    return v;
  }

  /** A copy of `words` with the bits from `len` on cleared. */
  masked(words: Uint32Array, len: number): Uint32Array {
    const out = new Uint32Array(this.bits >>> 5);
    for (let i = 0; i < out.length; i++) {
      const keep = len - i * 32;
      const w = words[i] ?? 0;
      out[i] = keep >= 32 ? w : keep <= 0 ? 0 : (w & (0xffffffff << (32 - keep))) >>> 0;
    }
    return out;
  }

  private key(words: Uint32Array, len: number): string {
    return `${len}/${Array.from(words).join('.')}`;
  }

  get(words: Uint32Array, len: number): LpmRoute | undefined {
    return this.rules.get(this.key(this.masked(words, len), len));
  }

  /** Adds or replaces the route of prefix `words`/`len` (host bits ignored). */
  insert(words: Uint32Array, len: number, nextHop: number): void {
    if (!Number.isInteger(len) || len < 0 || len > this.bits) throw new RangeError(`prefix length ${len} out of range`);
    if (!Number.isInteger(nextHop) || nextHop < 0 || nextHop > MAX_NEXT_HOP)
      throw new RangeError(`next hop ${nextHop} out of range 0..${MAX_NEXT_HOP}`);
    const p = this.masked(words, len);
    this.rules.set(this.key(p, len), { words: p, length: len, nextHop });
    this.write(p, len, entry(len, nextHop), (e) => depthOf(e) <= len);
  }

  /** Removes the route of prefix `words`/`len`; false if there was none. */
  delete(words: Uint32Array, len: number): boolean {
    const p = this.masked(words, len);
    const k = this.key(p, len);
    if (!this.rules.has(k)) return false;
    this.rules.delete(k);
    // What covers the prefix now: the longest shorter prefix that contains it, or nothing.
    let replacement = 0;
    for (let d = len - 1; d >= 0; d--) {
      const r = this.rules.get(this.key(this.masked(p, d), d));
      if (r) {
        replacement = entry(d, r.nextHop);
        break;
      }
    }
    this.write(p, len, replacement, (e) => e !== 0 && depthOf(e) === len);
    return true;
  }

  /**
   * Writes `value` into every result entry under the prefix that `match` accepts, creating the
   * blocks on the prefix's path and folding blocks that became uniform.
   */
  private write(p: Uint32Array, len: number, value: number, match: (e: number) => boolean): void {
    // Level 0.
    if (len <= this.first) {
      const start = this.bitsAt(p, 0, this.first);
      const n = 1 << (this.first - len);
      const top = this.top;
      for (let i = start; i < start + n; i++) {
        const e = top[i]!;
        if (e < 0) this.fillBlock(e & BLOCK_MASK, value, match);
        else if (match(e)) top[i] = value;
      }
      return;
    }
    const idx = this.bitsAt(p, 0, this.first);
    const b = this.child(this.top, idx);
    this.writeIn(b, this.first, p, len, value, match);
    this.fold(this.top, idx);
  }

  /** The same in block `b`, which resolves bits [at, at + 8). */
  private writeIn(
    b: number,
    at: number,
    p: Uint32Array,
    len: number,
    value: number,
    match: (e: number) => boolean,
  ): void {
    const base = b * BLOCK;
    if (len <= at + 8) {
      const start = this.bitsAt(p, at, 8) & ~((1 << (at + 8 - len)) - 1);
      const n = 1 << (at + 8 - len);
      for (let i = start; i < start + n; i++) {
        const e = this.blocks[base + i]!;
        if (e < 0) this.fillBlock(e & BLOCK_MASK, value, match);
        else if (match(e)) this.blocks[base + i] = value;
      }
      return;
    }
    const idx = this.bitsAt(p, at, 8);
    const c = this.childInBlock(base + idx);
    this.writeIn(c, at + 8, p, len, value, match);
    this.foldInBlock(base + idx);
  }

  /** Every result entry of block `b` and its descendants that `match` accepts becomes `value`. */
  private fillBlock(b: number, value: number, match: (e: number) => boolean): void {
    const base = b * BLOCK;
    for (let i = 0; i < BLOCK; i++) {
      const e = this.blocks[base + i]!;
      if (e < 0) this.fillBlock(e & BLOCK_MASK, value, match);
      else if (match(e)) this.blocks[base + i] = value;
    }
  }

  /** The child block of top[idx], made (filled with the entry it replaces) if it is a result. */
  private child(arr: Int32Array, idx: number): number {
    const e = arr[idx]!;
    if (e < 0) return e & BLOCK_MASK;
    const b = this.allocBlock(e);
    this.top[idx] = b | 0x80000000;
    return b;
  }

  private childInBlock(at: number): number {
    const e = this.blocks[at]!;
    if (e < 0) return e & BLOCK_MASK;
    const b = this.allocBlock(e); // may grow this.blocks
    this.blocks[at] = b | 0x80000000;
    return b;
  }

  private allocBlock(fill: number): number {
    let b = this.freeBlocks.pop();
    if (b === undefined) {
      b = this.blockCount++;
      if (this.blockCount * BLOCK > this.blocks.length) {
        if (this.blockCount > 0x7fffff) throw new RangeError('route table: too many blocks');
        const grown = new Int32Array(this.blocks.length * 2);
        grown.set(this.blocks);
        this.blocks = grown;
      }
    }
    this.usedBlocks++;
    this.blocks.fill(fill, b * BLOCK, b * BLOCK + BLOCK);
    return b;
  }

  /** If top[idx]'s block holds one result 256 times, put that result back in top[idx]. */
  private fold(arr: Int32Array, idx: number): void {
    const e = arr[idx]!;
    if (e >= 0) return;
    const u = this.uniform(e & BLOCK_MASK);
    if (u === undefined) return;
    this.freeBlock(e & BLOCK_MASK);
    arr[idx] = u;
  }

  private foldInBlock(at: number): void {
    const e = this.blocks[at]!;
    if (e >= 0) return;
    const u = this.uniform(e & BLOCK_MASK);
    if (u === undefined) return;
    this.freeBlock(e & BLOCK_MASK);
    this.blocks[at] = u;
  }

  private uniform(b: number): number | undefined {
    const base = b * BLOCK;
    const first = this.blocks[base]!;
    if (first < 0) return undefined;
    for (let i = 1; i < BLOCK; i++) if (this.blocks[base + i] !== first) return undefined;
    return first;
  }

  private freeBlock(b: number): void {
    this.usedBlocks--;
    this.freeBlocks.push(b);
  }
}

/**
 * IPv4 routes, DIR-24-8. lookup4(addr) → next-hop index or -1. The first level takes 64 MiB of
 * virtual memory (2^24 Int32), touched only where routes are.
 */
export class Ipv4RouteTable {
  private readonly trie: MultibitTrie;
  private readonly w = new Uint32Array(1);
  /** level 0, by the top 24 bits */
  private readonly tbl24: Int32Array;

  /** `blocks`: tbl8 blocks to allocate up front (the array grows when they run out) */
  constructor(opts: { blocks?: number } = {}) {
    this.trie = new MultibitTrie(32, 24, opts.blocks ?? 256);
    this.tbl24 = this.trie.top;
  }

  /** Adds or replaces `addr`/`len` → nextHop (addr unsigned or int32; host bits ignored). Cold. */
  insert(addr: number, len: number, nextHop: number): void {
    this.w[0] = addr;
    this.trie.insert(this.w, len, nextHop);
  }

  /** Removes `addr`/`len`; false if it was not there. Cold. */
  delete(addr: number, len: number): boolean {
    this.w[0] = addr;
    return this.trie.delete(this.w, len);
  }

  /** The next hop of exactly `addr`/`len`, or -1. Cold. */
  get(addr: number, len: number): number {
    this.w[0] = addr;
    return this.trie.get(this.w, len)?.nextHop ?? -1;
  }

  /** The next hop of the longest prefix that contains `addr`, or -1. Hot path: two reads at most. */
  lookup4(addr: number): number {
    let e = this.tbl24[addr >>> 8]!;
    if (e < 0) e = this.trie.blocks[((e & BLOCK_MASK) << 8) | (addr & 0xff)]!;
    return (e & NH_MASK) - 1;
  }

  /** The same, and the matched prefix's length in `lenOut[0]` (-1 without a route). Hot path. */
  lookup4Len(addr: number, lenOut: Int32Array): number {
    let e = this.tbl24[addr >>> 8]!;
    if (e < 0) e = this.trie.blocks[((e & BLOCK_MASK) << 8) | (addr & 0xff)]!;
    lenOut[0] = e === 0 ? -1 : depthOf(e);
    return (e & NH_MASK) - 1;
  }

  get size(): number {
    return this.trie.size;
  }
  /** tbl8 blocks in use */
  get blocksInUse(): number {
    return this.trie.blocksInUse;
  }
  get bytes(): number {
    return this.trie.bytes;
  }
  /** Every route (cold). */
  routes(): { addr: number; length: number; nextHop: number }[] {
    return this.trie.routes().map((r) => ({ addr: r.words[0]!, length: r.length, nextHop: r.nextHop }));
  }
}

/** IPv6 routes: 16-bit first stride, then 8-bit strides. lookup6(words) → next hop or -1. */
export class Ipv6RouteTable {
  private readonly trie: MultibitTrie;
  private readonly top: Int32Array;

  constructor(opts: { blocks?: number } = {}) {
    this.trie = new MultibitTrie(128, 16, opts.blocks ?? 256);
    this.top = this.trie.top;
  }

  /** Adds or replaces `words`/`len` → nextHop (four network-order words; host bits ignored). Cold. */
  insert(words: Uint32Array, len: number, nextHop: number): void {
    this.trie.insert(words, len, nextHop);
  }

  delete(words: Uint32Array, len: number): boolean {
    return this.trie.delete(words, len);
  }

  get(words: Uint32Array, len: number): number {
    return this.trie.get(words, len)?.nextHop ?? -1;
  }

  /** Longest-prefix match of four network-order words. Hot path: one read per level. */
  lookup6(a: Uint32Array): number {
    let e = this.top[a[0]! >>> 16]!;
    if (e >= 0) return (e & NH_MASK) - 1;
    const blocks = this.trie.blocks;
    for (let byte = 2; byte < 16; byte++) {
      const b = (a[byte >>> 2]! >>> (24 - ((byte & 3) << 3))) & 0xff;
      e = blocks[((e & BLOCK_MASK) << 8) | b]!;
      if (e >= 0) return (e & NH_MASK) - 1;
    }
    return -1; // not reached: a /128 ends at the last level
  }

  /** Longest-prefix match of the 16 address bytes at bytes[off..off+16). Hot path. */
  lookup6At(bytes: Uint8Array, off: number): number {
    let e = this.top[(bytes[off]! << 8) | bytes[off + 1]!]!;
    if (e >= 0) return (e & NH_MASK) - 1;
    const blocks = this.trie.blocks;
    for (let byte = 2; byte < 16; byte++) {
      e = blocks[((e & BLOCK_MASK) << 8) | bytes[off + byte]!]!;
      if (e >= 0) return (e & NH_MASK) - 1;
    }
    return -1;
  }

  get size(): number {
    return this.trie.size;
  }
  get blocksInUse(): number {
    return this.trie.blocksInUse;
  }
  get bytes(): number {
    return this.trie.bytes;
  }
  routes(): LpmRoute[] {
    return this.trie.routes();
  }
}
