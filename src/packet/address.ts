/**
 * Address text, parsed in one place for the whole project (cold): IPv4 dotted quads and IPv6
 * text (with `::` and an optional dotted-quad tail). These return undefined for text that is not
 * an address, so each caller words its own error (packet-view.ts's parseIpv4/parseIpv6 throw;
 * the flow director names the rule field).
 */

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
