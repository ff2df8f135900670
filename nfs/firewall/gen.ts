/**
 * Seeded random rules and packets for the firewall's tests and bench (cold; test and bench
 * code only). Addresses come from small pools so that prefixes and packets meet often.
 */

/** A small deterministic generator (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenRule {
  name?: string;
  src?: string;
  dst?: string;
  proto?: string | number;
  sport?: number | string;
  dport?: number | string;
  action: string;
}

/** Ports that rules and packets share. */
const PORTS = [22, 25, 53, 80, 123, 443, 993, 1194, 3306, 5432, 6379, 8080, 8443, 9000, 27017];

export function randomIpv4(rnd: () => number): string {
  return `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 8)}.${Math.floor(rnd() * 16)}`;
}
export function randomIpv6(rnd: () => number): string {
  return `2001:db8:${Math.floor(rnd() * 4).toString(16)}::${Math.floor(rnd() * 16).toString(16)}`;
}
export function randomPort(rnd: () => number): number {
  return rnd() < 0.6 ? PORTS[Math.floor(rnd() * PORTS.length)]! : 1000 + Math.floor(rnd() * 200);
}

/**
 * n random rules. `wild` is the share of rules without a dport (they land in every candidate
 * list of their protocol).
 */
export function randomRules(seed: number, n: number, wild = 0.1): GenRule[] {
  const rnd = prng(seed);
  const rules: GenRule[] = [];
  const actions = ['accept', 'drop', 'out:1', 'service:2'];
  for (let i = 0; i < n; i++) {
    const r: GenRule = { action: actions[Math.floor(rnd() * actions.length)]! };
    const v6 = rnd() < 0.2;
    const x = rnd();
    const proto = x < 0.4 ? 'tcp' : x < 0.8 ? 'udp' : x < 0.9 ? (v6 ? 'icmp6' : 'icmp') : 'any';
    if (proto !== 'any') r.proto = proto;
    if (rnd() < 0.6)
      r.src = v6
        ? `${randomIpv6(rnd)}/${96 + Math.floor(rnd() * 33)}`
        : `${randomIpv4(rnd)}/${16 + Math.floor(rnd() * 17)}`;
    if (rnd() < 0.5)
      r.dst = v6
        ? `${randomIpv6(rnd)}/${64 + Math.floor(rnd() * 65)}`
        : `${randomIpv4(rnd)}/${8 + Math.floor(rnd() * 25)}`;
    // A rule of any protocol without prefixes would match everything: give it a source.
    if (proto === 'any' && r.src === undefined && r.dst === undefined)
      r.src = v6 ? `${randomIpv6(rnd)}/120` : `${randomIpv4(rnd)}/28`;
    if (proto === 'tcp' || proto === 'udp') {
      if (rnd() >= wild) {
        const p = randomPort(rnd);
        r.dport = rnd() < 0.8 ? p : `${p}-${p + Math.floor(rnd() * 100)}`;
      }
      if (rnd() < 0.1) {
        const lo = 1024 + Math.floor(rnd() * 30000);
        r.sport = `${lo}-${lo + Math.floor(rnd() * 30000)}`;
      }
    }
    rules.push(r);
  }
  return rules;
}

/** A rules file text (JSON) for rules and a default. */
export function rulesJson(rules: GenRule[], dflt = 'drop'): string {
  return JSON.stringify({ default: dflt, rules }, null, 1);
}
