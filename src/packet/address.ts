/**
 * Address text, parsed and formatted in one place for the whole project (cold: for logs,
 * configuration, the CLI and tests). Everything here allocates (strings, arrays, RegExp matches).
 *
 * - tryParseIpv4 / tryParseIpv6 read IPv4 dotted quads and IPv6 text (with `::` and an optional
 *   dotted-quad tail) and return undefined for text that is not an address, so each caller
 *   words its own error (the flow director names the rule field).
 * - parseIpv4 / parseIpv6 / parseMac throw NFC_ERR_INVALID_ARG with the fix to make.
 * - formatIpv4 / formatIpv6 / formatMac write the text forms (IPv6 per RFC 5952).
 */
import { NfcError } from '../errors.js';

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The unsigned 32-bit value of a dotted quad, or undefined. */
export function tryParseIpv4(text: string): number | undefined {
  const m = V4_RE.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const p = Number(m[i]);
    if (p > 255) return undefined;
    v = v * 256 + p;
  }
  return v;
}

/** IPv6 text as four 32-bit words in `out` (network order, word 0 first), or undefined. */
export function tryParseIpv6(text: string, out: Uint32Array = new Uint32Array(4)): Uint32Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const g: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = tryParseIpv4(p);
        if (v4 === undefined) return undefined;
        g.push(Math.floor(v4 / 65536), v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        g.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return g;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  for (let i = 0; i < 4; i++) out[i] = ((all[2 * i]! << 16) | all[2 * i + 1]!) >>> 0;
  return out;
}

/** Unsigned 32-bit number from a dotted quad. Throws NFC_ERR_INVALID_ARG. */
export function parseIpv4(text: string): number {
  const v = tryParseIpv4(text);
  if (v === undefined) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `not an IPv4 address: "${text}"`, {
      fix: 'write it as a.b.c.d with each part 0..255',
    });
  }
  return v;
}

/**
 * Parse IPv6 text (with `::`, optionally a dotted-quad tail) into out[0..3]. Throws
 * NFC_ERR_INVALID_ARG.
 */
export function parseIpv6(text: string, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  const v = tryParseIpv6(text, out);
  if (v === undefined) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `not an IPv6 address: "${text}"`, {
      fix: 'write it as eight hex groups separated by ":", with at most one "::"',
    });
  }
  return v;
}

/** Dotted quad of an unsigned 32-bit IPv4 address. */
export function formatIpv4(addr: number): string {
  return `${(addr >>> 24) & 0xff}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** RFC 5952 text of the IPv6 address held in words[offset..offset+3] (longest zero run as ::). */
export function formatIpv6(words: ArrayLike<number>, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = (words[offset + i] ?? 0) >>> 0;
    g.push(w >>> 16, w & 0xffff);
  }
  // Longest run of at least two zero groups; the first one wins a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** `aa:bb:cc:dd:ee:ff` from a 48-bit number. */
export function formatMac(mac: number): string {
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) & 0xff;
    s += (b < 16 ? '0' : '') + b.toString(16) + (i > 0 ? ':' : '');
  }
  return s;
}

/** 48-bit number from `aa:bb:cc:dd:ee:ff` (or `-` separated). Throws NFC_ERR_INVALID_ARG. */
export function parseMac(text: string): number {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `not a MAC address: "${text}"`, {
      fix: 'write it as aa:bb:cc:dd:ee:ff',
    });
  }
  return parts.reduce((acc, p) => acc * 256 + parseInt(p, 16), 0);
}
