/**
 * An Aho–Corasick automaton in typed arrays, for payload-scan: the patterns' trie with the
 * failure links folded in at build time, so that the scan is one table read per byte and no
 * failure link is followed while scanning.
 *
 *   table    states × stride entries: the next state for (state, symbol), with the top bit
 *            (`flag`) set when that next state ends one or more patterns. A Uint16Array up to
 *            32768 states (half the cache footprint: measured faster), else an Int32Array.
 *   layout   'dense': stride 256, the symbol is the byte itself;
 *            'classes': the bytes that occur in no pattern share one class, every other byte
 *            (both cases of a letter, with ignoreCase) has its own; stride = the classes,
 *            rounded up to a power of two: a table smaller by 256 / stride. Both read
 *            classOf[byte] (the identity for dense): that read is off the chain of dependent
 *            table reads, which is what a scan waits on (README: measured).
 *   scanPair scans two payloads in one loop: two independent chains of table reads, so the
 *            CPU overlaps their latencies (measured: about 1.8× the bytes per second).
 *   outputs  outStart[state] .. outStart[state + 1] in outList: the patterns that end in that
 *            state, its dictionary suffixes' included (folded in at build).
 *
 * Build: cold, allocates. scan(): the hot path, no allocation.
 */

/** Most states (≈ total pattern bytes + 1) an automaton may have. */
export const MAX_STATES = 1 << 18;
/** Up to this many states the table is a Uint16Array. */
const U16_STATES = 1 << 15;

export type Layout = 'dense' | 'classes';

export class Automaton {
  readonly layout: Layout;
  readonly states: number;
  readonly patterns: number;
  /** log2 of the stride */
  readonly shift: number;
  readonly table: Uint16Array | Int32Array;
  /** the entry's bit that says "patterns end here", and the mask of its state */
  readonly flag: number;
  readonly mask: number;
  /** scanPair()'s results: occurrences in the first and the second payload */
  foundA = 0;
  foundB = 0;
  /** byte → class (identity for 'dense') */
  readonly classOf: Uint8Array;
  readonly outStart: Int32Array;
  readonly outList: Int32Array;
  /** per pattern: occurrences, and packets with at least one (filled by scan) */
  readonly occurrences: Float64Array;
  readonly packets: Float64Array;
  /**
   * per pattern: the serial of the last packet that counted it, one array per lane of
   * scanPair (its two packets' hits interleave)
   */
  private readonly seenA: Float64Array;
  private readonly seenB: Float64Array;
  private serial = 0;

  /**
   * `patterns`: non-empty byte strings. `ignoreCase`: ASCII letters match either case.
   * Throws RangeError beyond MAX_STATES (the caller words the error).
   */
  constructor(patterns: readonly Uint8Array[], ignoreCase: boolean, want: Layout | 'auto') {
    let total = 1;
    for (const p of patterns) total += p.length;
    if (total > MAX_STATES) throw new RangeError(`the patterns need up to ${total} states; at most ${MAX_STATES}`);
    const fold = (b: number): number => (ignoreCase && b >= 0x41 && b <= 0x5a ? b + 32 : b);

    // The trie over 256 symbols (build scratch: goto[state * 256 + byte], -1 = none).
    const go = new Int32Array(total * 256).fill(-1);
    const outs: number[][] = [[]];
    let n = 1;
    patterns.forEach((p, id) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = fold(p[i]!);
        let t = go[s * 256 + c]!;
        if (t < 0) {
          t = n++;
          go[s * 256 + c] = t;
          outs.push([]);
        }
        s = t;
      }
      outs[s]!.push(id);
    });
    // Breadth first: failure links, folded into the rows; outputs merged along them.
    const fail = new Int32Array(n);
    const queue = new Int32Array(n);
    let head = 0;
    let tail = 0;
    for (let c = 0; c < 256; c++) {
      const t = go[c]!;
      if (t < 0) go[c] = 0;
      else {
        fail[t] = 0;
        queue[tail++] = t;
      }
    }
    while (head < tail) {
      const s = queue[head++]!;
      const f = fail[s]!;
      for (let c = 0; c < 256; c++) {
        const t = go[s * 256 + c]!;
        if (t < 0) {
          go[s * 256 + c] = go[f * 256 + c]!;
        } else {
          const ft = go[f * 256 + c]!;
          fail[t] = ft;
          if (outs[ft]!.length > 0) outs[t]!.push(...outs[ft]!);
          queue[tail++] = t;
        }
      }
    }
    if (ignoreCase) {
      for (let s = 0; s < n; s++) for (let c = 0x41; c <= 0x5a; c++) go[s * 256 + c] = go[s * 256 + c + 32]!;
    }

    // Symbols: the byte itself, or its class. auto: classes when they halve the table at least.
    const used = new Uint8Array(256);
    for (const p of patterns) for (const b of p) used[fold(b)] = 1;
    let distinct = 0;
    for (let c = 0; c < 256; c++) distinct += used[c]!;
    const layout: Layout = want !== 'auto' ? want : distinct + 1 <= 128 ? 'classes' : 'dense';
    const classOf = new Uint8Array(256);
    let classes = 256;
    if (layout === 'classes') {
      const cls = new Int32Array(256).fill(-1);
      classes = 1; // class 0: bytes in no pattern
      for (let c = 0; c < 256; c++) if (used[c]) cls[c] = classes++;
      for (let c = 0; c < 256; c++) {
        const k = cls[fold(c)]!;
        classOf[c] = k < 0 ? 0 : k;
      }
    } else {
      for (let c = 0; c < 256; c++) classOf[c] = c;
    }
    let shift = 0;
    while (1 << shift < classes) shift++;
    const stride = 1 << shift;
    const small = n <= U16_STATES;
    const flag = small ? 0x8000 : 0x80000000 | 0;
    const table = small ? new Uint16Array(n * stride) : new Int32Array(n * stride);
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < 256; c++) {
        const t = go[s * 256 + c]!;
        table[(s << shift) + classOf[c]!] = t | (outs[t]!.length > 0 ? flag : 0);
      }
    }
    const outStart = new Int32Array(n + 1);
    let k = 0;
    for (let s = 0; s < n; s++) {
      outStart[s] = k;
      k += outs[s]!.length;
    }
    outStart[n] = k;
    const outList = new Int32Array(k);
    for (let s = 0; s < n; s++) outList.set(outs[s]!, outStart[s]!);

    this.layout = layout;
    this.states = n;
    this.patterns = patterns.length;
    this.shift = shift;
    this.table = table;
    this.flag = flag;
    this.mask = small ? 0x7fff : 0x7fffffff;
    this.classOf = classOf;
    this.outStart = outStart;
    this.outList = outList;
    this.occurrences = new Float64Array(patterns.length);
    this.packets = new Float64Array(patterns.length);
    this.seenA = new Float64Array(patterns.length).fill(-1);
    this.seenB = new Float64Array(patterns.length).fill(-1);
  }

  /** Bytes the scan tables take. */
  get tableBytes(): number {
    return this.table.byteLength + this.outStart.byteLength + this.outList.byteLength;
  }

  /**
   * Scans `len` bytes of `bytes` from `off` as one text (one packet's payload): counts every
   * occurrence of every pattern, and each pattern once per call in `packets`. Returns the
   * occurrences found. Hot path: no allocation.
   */
  scan(bytes: Uint8Array, off: number, len: number): number {
    const serial = ++this.serial;
    const table = this.table;
    const cls = this.classOf;
    const shift = this.shift;
    const flag = this.flag;
    const mask = this.mask;
    const end = off + len;
    let found = 0;
    let s = 0;
    for (let i = off; i < end; i++) {
      const t = table[(s << shift) + cls[bytes[i]!]!]!;
      s = t & mask;
      if ((t & flag) !== 0) found += this.hit(s, serial, this.seenA);
    }
    return found;
  }

  /**
   * scan() of two payloads at once (two packets): the common length in one loop, then the rest
   * of the longer one. The occurrences are left in foundA and foundB. Hot path: no allocation.
   */
  scanPair(bytes: Uint8Array, offA: number, lenA: number, offB: number, lenB: number): void {
    const serialA = ++this.serial;
    const serialB = ++this.serial;
    const table = this.table;
    const cls = this.classOf;
    const shift = this.shift;
    const flag = this.flag;
    const mask = this.mask;
    const n = lenA < lenB ? lenA : lenB;
    let fa = 0;
    let fb = 0;
    let s = 0;
    let r = 0;
    for (let i = 0; i < n; i++) {
      const t = table[(s << shift) + cls[bytes[offA + i]!]!]!;
      const u = table[(r << shift) + cls[bytes[offB + i]!]!]!;
      s = t & mask;
      r = u & mask;
      if (((t | u) & flag) !== 0) {
        if ((t & flag) !== 0) fa += this.hit(s, serialA, this.seenA);
        if ((u & flag) !== 0) fb += this.hit(r, serialB, this.seenB);
      }
    }
    for (let i = n; i < lenA; i++) {
      const t = table[(s << shift) + cls[bytes[offA + i]!]!]!;
      s = t & mask;
      if ((t & flag) !== 0) fa += this.hit(s, serialA, this.seenA);
    }
    for (let i = n; i < lenB; i++) {
      const u = table[(r << shift) + cls[bytes[offB + i]!]!]!;
      r = u & mask;
      if ((u & flag) !== 0) fb += this.hit(r, serialB, this.seenB);
    }
    this.foundA = fa;
    this.foundB = fb;
  }

  /** State `st` was reached: its patterns are counted. Returns how many. */
  private hit(st: number, serial: number, seen: Float64Array): number {
    const list = this.outList;
    const occ = this.occurrences;
    const b = this.outStart[st]!;
    const e = this.outStart[st + 1]!;
    for (let j = b; j < e; j++) {
      const p = list[j]!;
      occ[p]!++;
      if (seen[p] !== serial) {
        seen[p] = serial;
        this.packets[p]!++;
      }
    }
    return e - b;
  }
}
