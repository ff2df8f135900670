/**
 * nf-router's routes file and its longest-prefix-match table.
 *
 * The file, as OpenNetVM's nf_router reads it, one route a line, plus prefixes and IPv6:
 *
 *   # destination        service
 *   3                    # optional first line: how many routes follow (OpenNetVM's format)
 *   10.0.0.5             2          a host: /32 (IPv6: /128)
 *   10.0.0.0/8           3          a prefix: the longest one that matches wins
 *   fd00:1::/32          4
 *
 * Blank lines and `#` comments are skipped. Every problem is reported at once, each as
 * `file:line: what` with a fix, in one NfcError NFC_ERR_NF_OPTION.
 *
 * The table: one open-addressing hash table per family, keyed by (prefix, length), and the list
 * of the lengths present, longest first; a lookup masks the address with each length in turn and
 * probes, so it costs (lengths present) probes at most. Typed arrays only: lookups allocate nothing.
 */
import { readFileSync } from 'node:fs';
import { formatIpv4, formatIpv6, NfcError, parseIpv4, parseIpv6, toNF } from 'nfchain';

function tryParseIpv4(text: string): number | undefined {
  try {
    return parseIpv4(text);
  } catch {
    return undefined;
  }
}

function tryParseIpv6(text: string): Uint32Array | undefined {
  try {
    return parseIpv6(text);
  } catch {
    return undefined;
  }
}

/** Highest service toNF() can name. */
export const MAX_SERVICE = 31;

export interface Route {
  family: 4 | 6;
  /** IPv4: [addr]; IPv6: four words, network order */
  words: Uint32Array;
  length: number;
  service: number;
  line: number;
}

/** Parses routes text (cold); `file` names it in errors. Throws NFC_ERR_NF_OPTION listing every problem. */
export function parseRoutes(text: string, file: string): Route[] {
  const problems: string[] = [];
  const routes: Route[] = [];
  const seen = new Map<string, number>();
  let declared = -1;
  let declaredLine = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const hash = lines[i]!.indexOf('#');
    const body = (hash < 0 ? lines[i]! : lines[i]!.slice(0, hash)).trim();
    if (body === '') continue;
    const bad = (what: string, fix: string): void => {
      problems.push(`${file}:${lineNo}: ${what}\n  fix: ${fix}`);
    };
    const fields = body.split(/\s+/);
    if (
      fields.length === 1 &&
      /^\d+$/.test(fields[0]!) &&
      routes.length === 0 &&
      declared < 0 &&
      problems.length === 0
    ) {
      declared = Number(fields[0]);
      declaredLine = lineNo;
      continue;
    }
    if (fields.length !== 2) {
      bad(
        `"${body}" is not "DESTINATION SERVICE"`,
        'write one route a line: an address or prefix, then a service, e.g. 10.0.0.0/8 3',
      );
      continue;
    }
    const [dest, svcText] = fields as [string, string];
    const service = /^\d+$/.test(svcText) ? Number(svcText) : Number.NaN;
    if (!(service >= 1 && service <= MAX_SERVICE))
      bad(
        `service "${svcText}" is not a service id 1..${MAX_SERVICE}`,
        "give the service (the topology's nfs[].service) to send matching packets to",
      );
    const slash = dest.indexOf('/');
    const addrText = slash < 0 ? dest : dest.slice(0, slash);
    const v4 = tryParseIpv4(addrText);
    const v6 = v4 === undefined ? tryParseIpv6(addrText) : undefined;
    if (v4 === undefined && v6 === undefined) {
      bad(`"${addrText}" is not an IPv4 or IPv6 address`, 'write a.b.c.d[/len] or an IPv6 address such as fd00::/16');
      continue;
    }
    const family: 4 | 6 = v4 !== undefined ? 4 : 6;
    const max = family === 4 ? 32 : 128;
    const lenText = slash < 0 ? String(max) : dest.slice(slash + 1);
    const length = /^\d{1,3}$/.test(lenText) ? Number(lenText) : Number.NaN;
    if (!(length >= 0 && length <= max)) {
      bad(`prefix length "${lenText}" in "${dest}" is not 0..${max}`, `an IPv${family} prefix has 0 to ${max} bits`);
      continue;
    }
    const words = family === 4 ? Uint32Array.of(v4!) : v6!;
    const masked = maskWords(words, length);
    if (masked.some((w, k) => w !== words[k])) {
      const net = family === 4 ? formatIpv4(masked[0]!) : formatIpv6(masked);
      bad(`"${dest}" has bits set beyond its /${length}`, `write the network: ${net}/${length}`);
      continue;
    }
    const key = `${family}:${[...masked].join('.')}/${length}`;
    const before = seen.get(key);
    if (before !== undefined) {
      bad(`${dest} is routed already, on line ${before}`, 'give each prefix one line');
      continue;
    }
    seen.set(key, lineNo);
    if (service >= 1 && service <= MAX_SERVICE) routes.push({ family, words: masked, length, service, line: lineNo });
  }
  if (problems.length === 0 && declared >= 0 && declared !== routes.length)
    problems.push(
      `${file}:${declaredLine}: the first line says ${declared} route${declared === 1 ? '' : 's'}, the file has ${routes.length}\n  fix: correct the count, or delete that line (it is optional)`,
    );
  if (problems.length === 0 && routes.length === 0)
    problems.push(`${file}: no route\n  fix: one route a line, e.g. 10.0.0.0/8 3 (destination, service)`);
  if (problems.length > 0)
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      `nf-router: option "config": ${problems.length} problem${problems.length === 1 ? '' : 's'} in the routes file\n${problems.join('\n')}`,
      { fix: 'format: nfs/nf-router/README.md' },
    );
  return routes;
}

/** Reads and parses a routes file (cold). */
export function loadRoutes(path: string, shown: string): Route[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      `nf-router: option "config": cannot read ${shown} (${(e as NodeJS.ErrnoException).code ?? e})`,
      {
        fix: 'check the "config" option; a relative path is taken from the topology file\'s directory (with nfchain nf: the working directory)',
      },
    );
  }
  return parseRoutes(text, shown);
}

/** The address words under a prefix length (cold). */
function maskWords(words: Uint32Array, length: number): Uint32Array {
  const out = new Uint32Array(words.length);
  for (let k = 0; k < words.length; k++) out[k] = (words[k]! & wordMask(length, k)) >>> 0;
  return out;
}

/** Mask of word k (32 bits each) under a prefix length, as int32. */
function wordMask(length: number, k: number): number {
  const bits = length - 32 * k;
  return bits <= 0 ? 0 : bits >= 32 ? -1 : ~0 << (32 - bits);
}

/** Longest-prefix match over IPv4 and IPv6 routes; values are verdicts (toNF(service)). */
export class RouteTable {
  /** IPv4: the lengths present, longest first, and each one's mask (int32) */
  private readonly len4: Int32Array;
  private readonly mask4: Int32Array;
  private readonly key4: Int32Array;
  private readonly plen4: Int32Array;
  private readonly val4: Int32Array;
  private readonly m4: number;
  /** IPv6: lengths present, longest first; masks 4 words per length (0..128) */
  private readonly len6: Int32Array;
  private readonly mask6: Int32Array;
  private readonly key6: Int32Array;
  private readonly plen6: Int32Array;
  private readonly val6: Int32Array;
  private readonly m6: number;
  readonly routes4: number;
  readonly routes6: number;

  /** Cold. Allocates: the tables. */
  constructor(routes: readonly Route[]) {
    const r4 = routes.filter((r) => r.family === 4);
    const r6 = routes.filter((r) => r.family === 6);
    this.routes4 = r4.length;
    this.routes6 = r6.length;
    const size = (n: number) => {
      let s = 8;
      while (s < n * 2) s *= 2;
      return s;
    };
    const s4 = size(r4.length);
    this.m4 = s4 - 1;
    this.key4 = new Int32Array(s4);
    this.plen4 = new Int32Array(s4).fill(-1);
    this.val4 = new Int32Array(s4);
    this.len4 = Int32Array.from([...new Set(r4.map((r) => r.length))].sort((a, b) => b - a));
    this.mask4 = Int32Array.from(this.len4, (l) => wordMask(l, 0));
    for (const r of r4) {
      const k = r.words[0]! | 0;
      let j = hash4(k, r.length) & this.m4;
      while (this.plen4[j] !== -1) j = (j + 1) & this.m4;
      this.key4[j] = k;
      this.plen4[j] = r.length;
      this.val4[j] = toNF(r.service);
    }
    const s6 = size(r6.length);
    this.m6 = s6 - 1;
    this.key6 = new Int32Array(s6 * 4);
    this.plen6 = new Int32Array(s6).fill(-1);
    this.val6 = new Int32Array(s6);
    this.len6 = Int32Array.from([...new Set(r6.map((r) => r.length))].sort((a, b) => b - a));
    this.mask6 = new Int32Array(129 * 4);
    for (let l = 0; l <= 128; l++) for (let k = 0; k < 4; k++) this.mask6[l * 4 + k] = wordMask(l, k);
    for (const r of r6) {
      const a = r.words[0]! | 0,
        b = r.words[1]! | 0,
        c = r.words[2]! | 0,
        d = r.words[3]! | 0;
      let j = hash6(a, b, c, d, r.length) & this.m6;
      while (this.plen6[j] !== -1) j = (j + 1) & this.m6;
      this.key6[j * 4] = a;
      this.key6[j * 4 + 1] = b;
      this.key6[j * 4 + 2] = c;
      this.key6[j * 4 + 3] = d;
      this.plen6[j] = r.length;
      this.val6[j] = toNF(r.service);
    }
  }

  /** The verdict of the longest prefix holding `addr` (int32 or unsigned), or -1. Hot path: no allocation. */
  lookup4(addr: number): number {
    const lens = this.len4;
    const masks = this.mask4;
    const keys = this.key4;
    const plen = this.plen4;
    const m = this.m4;
    for (let i = 0; i < lens.length; i++) {
      const l = lens[i]!;
      const k = addr & masks[i]!;
      for (let j = hash4(k, l) & m; ; j = (j + 1) & m) {
        const pl = plen[j]!;
        if (pl === -1) break;
        if (pl === l && keys[j] === k) return this.val4[j]!;
      }
    }
    return -1;
  }

  /** The verdict for IPv6 address words a..d (int32), or -1. Hot path: no allocation. */
  lookup6(a: number, b: number, c: number, d: number): number {
    const lens = this.len6;
    const masks = this.mask6;
    const keys = this.key6;
    const plen = this.plen6;
    const m = this.m6;
    for (let i = 0; i < lens.length; i++) {
      const l = lens[i]!;
      const o = l * 4;
      const x = a & masks[o]!,
        y = b & masks[o + 1]!,
        z = c & masks[o + 2]!,
        w = d & masks[o + 3]!;
      for (let j = hash6(x, y, z, w, l) & m; ; j = (j + 1) & m) {
        const pl = plen[j]!;
        if (pl === -1) break;
        const q = j * 4;
        if (pl === l && keys[q] === x && keys[q + 1] === y && keys[q + 2] === z && keys[q + 3] === w)
          return this.val6[j]!;
      }
    }
    return -1;
  }
}

function hash4(k: number, l: number): number {
  let h = Math.imul(k ^ (l << 24), 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

function hash6(a: number, b: number, c: number, d: number, l: number): number {
  let h = Math.imul(a ^ l, 0x9e3779b1);
  h = Math.imul(h ^ b, 0x85ebca6b);
  h = Math.imul(h ^ c, 0xc2b2ae35);
  h = Math.imul(h ^ d, 0x27d4eb2f);
  h ^= h >>> 15;
  return h >>> 0;
}
