/**
 * The routes file of l3fwd and ip-router: static routes, and neighbors (next hops' MACs), one
 * per line, in nfchain's own form or as `ip route show` / `ip -6 route show` / `ip neigh show`
 * print them, so a Linux router's tables can be pasted in.
 *
 *   # static routes
 *   10.0.2.0/24 via 10.0.1.254 dev lan          a route through a gateway
 *   10.0.1.0/24 dev lan                          directly connected: the next hop is the destination
 *   default via 192.168.1.1 dev wan              0.0.0.0/0 (::/0 when the gateway is IPv6)
 *   fd00:2::/64 via fd00:1::fe dev lan           IPv6
 *   blackhole 10.99.0.0/16                       dropped (also unreachable, prohibit)
 *   neighbor 10.0.1.254 lladdr 02:00:00:00:01:fe dev lan
 *
 *   # as ip route show prints them (fields nfchain has no use for are skipped)
 *   10.0.1.0/24 dev lan proto kernel scope link src 10.0.1.1
 *   default via 192.168.1.1 dev eth0 proto dhcp metric 100
 *   # as ip neigh show prints them
 *   10.0.1.254 dev lan lladdr 02:00:00:00:01:fe REACHABLE
 *
 * `dev` names an nfchain port. Of two routes to one prefix the lower metric wins. Lines of the
 * local table (local, broadcast, multicast, anycast, throw, nat) and neighbors without a MAC
 * (FAILED, INCOMPLETE) are skipped and counted. Everything wrong is reported at once, each
 * problem with its file, line and fix (NfcError NFC_ERR_NF_OPTION).
 *
 * Cold code: runs when the NF starts; allocates freely.
 */
import { readFileSync } from 'node:fs';
import { didYouMean, NfcError, parseIpv4, parseIpv6, parseMac } from 'nfchain';

export interface RoutePort {
  readonly id: number;
  readonly name: string;
}

export interface RouteEntry {
  family: 4 | 6;
  /** prefix: one word (IPv4) or four (IPv6), host bits zero */
  words: Uint32Array;
  length: number;
  /** 'unicast' (out of `port`) or 'blackhole' (dropped) */
  kind: 'unicast' | 'blackhole';
  /** the gateway (same family), or undefined for a directly connected route */
  via: Uint32Array | undefined;
  /** port id; -1 for a blackhole */
  port: number;
  metric: number;
  line: number;
}

export interface NeighborEntry {
  family: 4 | 6;
  words: Uint32Array;
  /** the MAC as a 48-bit number */
  mac: number;
  port: number;
  line: number;
}

export interface RoutesFile {
  file: string;
  routes: RouteEntry[];
  neighbors: NeighborEntry[];
  /** lines skipped on purpose: local-table routes, neighbors with no MAC, unknown devices (if asked) */
  skipped: number;
}

export interface RoutesFileOptions {
  /** who reads it, for messages: 'l3fwd' */
  who: string;
  /** the option that names the file: 'routes' */
  option: string;
  ports: readonly RoutePort[];
  /** skip (count) lines whose dev is not an nfchain port, rather than refusing them */
  ignoreUnknownDev?: boolean;
}

interface Problem {
  line: number;
  what: string;
  fix?: string;
}

const FORMAT_FIX =
  'write PREFIX via GATEWAY dev PORT, PREFIX dev PORT, default via GATEWAY dev PORT, or neighbor ADDRESS lladdr MAC dev PORT (see nfs/l3fwd/README.md)';

/** Keywords of `ip route show` that take a value nfchain does not use. */
const VALUE_KEYS = new Set([
  'proto',
  'scope',
  'src',
  'table',
  'expires',
  'pref',
  'mtu',
  'advmss',
  'realm',
  'realms',
  'hoplimit',
  'initcwnd',
  'initrwnd',
  'rtt',
  'rttvar',
  'rto_min',
  'window',
  'ssthresh',
  'cwnd',
  'features',
  'quickack',
  'congctl',
  'tos',
  'dsfield',
  'from',
  'nhid',
  'weight',
  'error',
  'fastopen_no_cookie',
  'ttl-propagate',
  'type',
  'encap',
  'mark',
]);
/** Flags of `ip route show` / `ip neigh show` without a value. */
const FLAGS = new Set([
  'onlink',
  'linkdown',
  'dead',
  'pervasive',
  'offload',
  'trap',
  'notify',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
  'offload_failed',
  'lock',
  'router',
  'proxy',
  'extern_learn',
  'managed',
  'permanent',
]);
const NUD_STATES = new Set([
  'PERMANENT',
  'NOARP',
  'REACHABLE',
  'STALE',
  'NONE',
  'INCOMPLETE',
  'DELAY',
  'PROBE',
  'FAILED',
]);
const SKIPPED_TYPES = new Set(['local', 'broadcast', 'multicast', 'anycast', 'throw', 'nat']);
const BLACKHOLE_TYPES = new Set(['blackhole', 'unreachable', 'prohibit']);

/** Reads and checks a routes file (see the top of this file). Throws NfcError NFC_ERR_NF_OPTION. */
export function loadRoutesFile(path: string, opts: RoutesFileOptions): RoutesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new NfcError('NFC_ERR_NF_OPTION', `${opts.who}: option "${opts.option}": ${path}: cannot read it (${code})`, {
      fix:
        code === 'ENOENT'
          ? `check the "${opts.option}" option; a relative path is taken from the topology file's directory (with nfchain nf: the working directory)`
          : 'check the path and its permissions',
      cause: err,
    });
  }
  return parseRoutesText(text, path, opts);
}

function parseAddr(text: string): { family: 4 | 6; words: Uint32Array } | undefined {
  try {
    if (text.includes(':')) return { family: 6, words: parseIpv6(text) };
    return { family: 4, words: Uint32Array.of(parseIpv4(text)) };
  } catch {
    return undefined;
  }
}

function maskWords(words: Uint32Array, len: number): Uint32Array {
  const out = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const keep = len - i * 32;
    out[i] = keep >= 32 ? words[i]! : keep <= 0 ? 0 : (words[i]! & (0xffffffff << (32 - keep))) >>> 0;
  }
  return out;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return a.length === b.length && a.every((w, i) => w === b[i]);
}

/** Checks routes-file text; `file` names it in messages. See loadRoutesFile. */
export function parseRoutesText(text: string, file: string, opts: RoutesFileOptions): RoutesFile {
  const problems: Problem[] = [];
  const routes: RouteEntry[] = [];
  const neighbors: NeighborEntry[] = [];
  let skipped = 0;
  const portNames = opts.ports.map((p) => p.name);
  const portOf = (name: string | undefined, line: number, what: string): number | undefined => {
    if (name === undefined) {
      problems.push({
        line,
        what: `${what} has no "dev PORT"`,
        fix: `name the nfchain port it goes out of: ${portNames.join(', ')}`,
      });
      return undefined;
    }
    const p = opts.ports.find((x) => x.name === name);
    if (p) return p.id;
    if (opts.ignoreUnknownDev) return -2;
    const guess = didYouMean(name, portNames);
    problems.push({
      line,
      what: `dev "${name}" is not an nfchain port${guess ? `; did you mean "${guess}"?` : ''}`,
      fix: `dev names a port of the topology (${portNames.join(', ') || 'none'}); delete lines of other interfaces, or set ignore-unknown-dev`,
    });
    return undefined;
  };

  const routeAt = new Map<string, RouteEntry>();
  const neighborAt = new Map<string, NeighborEntry>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let ln = 1; ln <= lines.length; ln++) {
    const raw = lines[ln - 1]!;
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') continue;
    const tok = body.split(/\s+/);
    if (tok[0] === 'nexthop') {
      problems.push({
        line: ln,
        what: 'a multipath route (nexthop lines): l3fwd takes one next hop per prefix',
        fix: 'keep one of the next hops: PREFIX via GATEWAY dev PORT',
      });
      continue;
    }
    // Neighbors: "neighbor ADDR lladdr MAC dev PORT", or ip neigh show's "ADDR dev PORT lladdr MAC STATE".
    const isNeigh =
      tok[0] === 'neighbor' ||
      tok[0] === 'neigh' ||
      (!tok.includes('via') && (tok.includes('lladdr') || NUD_STATES.has(tok[tok.length - 1]!)));
    if (isNeigh) {
      const start = tok[0] === 'neighbor' || tok[0] === 'neigh' ? 1 : 0;
      const addrText = tok[start];
      const addr = addrText === undefined ? undefined : parseAddr(addrText);
      if (!addr) {
        problems.push({
          line: ln,
          what: `"${addrText ?? ''}" is not an IPv4 or IPv6 address`,
          fix: 'write neighbor ADDRESS lladdr MAC dev PORT',
        });
        continue;
      }
      let mac: number | undefined;
      let dev: string | undefined;
      let bad = false;
      for (let i = start + 1; i < tok.length; i++) {
        const t = tok[i]!;
        if (t === 'lladdr') {
          const m = tok[++i];
          try {
            mac = parseMac(m ?? '');
          } catch {
            problems.push({
              line: ln,
              what: `"${m ?? ''}" is not a MAC address`,
              fix: 'write it as aa:bb:cc:dd:ee:ff',
            });
            bad = true;
          }
        } else if (t === 'dev') dev = tok[++i];
        else if (NUD_STATES.has(t) || FLAGS.has(t)) continue;
        else {
          problems.push({
            line: ln,
            what: `unknown word "${t}" in a neighbor`,
            fix: 'write neighbor ADDRESS lladdr MAC dev PORT',
          });
          bad = true;
        }
      }
      if (bad) continue;
      if (mac === undefined) {
        skipped++; // FAILED / INCOMPLETE: no MAC to use
        continue;
      }
      const port = portOf(dev, ln, 'the neighbor');
      if (port === undefined) continue;
      if (port === -2) {
        skipped++;
        continue;
      }
      const nkey = addr.words.join('.');
      const dup = neighborAt.get(nkey);
      if (dup) {
        if (dup.mac !== mac)
          problems.push({
            line: ln,
            what: `neighbor ${addrText} is listed already, on line ${dup.line}, with another MAC`,
            fix: 'list each neighbor once',
          });
        continue;
      }
      const n: NeighborEntry = { family: addr.family, words: addr.words, mac, port, line: ln };
      neighbors.push(n);
      neighborAt.set(nkey, n);
      continue;
    }

    // Routes.
    let i = 0;
    let kind: 'unicast' | 'blackhole' = 'unicast';
    if (tok[0] === 'unicast') i++;
    else if (SKIPPED_TYPES.has(tok[0]!)) {
      skipped++;
      continue;
    } else if (BLACKHOLE_TYPES.has(tok[0]!)) {
      kind = 'blackhole';
      i++;
    }
    const dest = tok[i++];
    if (dest === undefined) {
      problems.push({ line: ln, what: `"${body}" has no prefix`, fix: FORMAT_FIX });
      continue;
    }
    let via: { family: 4 | 6; words: Uint32Array } | undefined;
    let dev: string | undefined;
    let metric = 0;
    let bad = false;
    for (; i < tok.length; i++) {
      const t = tok[i]!;
      if (t === 'via') {
        let v = tok[++i];
        if (v === 'inet' || v === 'inet6') v = tok[++i];
        via = v === undefined ? undefined : parseAddr(v);
        if (!via) {
          problems.push({ line: ln, what: `via "${v ?? ''}" is not an address`, fix: 'write via GATEWAY-ADDRESS' });
          bad = true;
        }
      } else if (t === 'dev') dev = tok[++i];
      else if (t === 'metric' || t === 'preference') {
        const m = Number(tok[++i]);
        if (!Number.isInteger(m) || m < 0) {
          problems.push({ line: ln, what: `metric "${tok[i] ?? ''}" is not a number`, fix: 'write metric N (N ≥ 0)' });
          bad = true;
        } else metric = m;
      } else if (VALUE_KEYS.has(t)) i++;
      else if (FLAGS.has(t)) continue;
      else {
        problems.push({
          line: ln,
          what: `unknown word "${t}"${i === 1 ? ' (a route starts with its prefix)' : ''}`,
          fix: FORMAT_FIX,
        });
        bad = true;
        break;
      }
    }
    if (bad) continue;
    let family: 4 | 6;
    let words: Uint32Array;
    let length: number;
    if (dest === 'default') {
      family = via?.family ?? 4;
      words = new Uint32Array(family === 4 ? 1 : 4);
      length = 0;
    } else {
      const slash = dest.indexOf('/');
      const a = parseAddr(slash < 0 ? dest : dest.slice(0, slash));
      if (!a) {
        problems.push({
          line: ln,
          what: `"${dest}" is not a prefix`,
          fix: 'write a.b.c.d/len or an IPv6 prefix such as fd00:1::/64 (or default)',
        });
        continue;
      }
      family = a.family;
      const max = family === 4 ? 32 : 128;
      length = slash < 0 ? max : Number(dest.slice(slash + 1));
      if (
        !Number.isInteger(length) ||
        length < 0 ||
        length > max ||
        (slash >= 0 && !/^\d+$/.test(dest.slice(slash + 1)))
      ) {
        problems.push({
          line: ln,
          what: `"${dest}": the prefix length must be 0..${max}`,
          fix: `write e.g. ${family === 4 ? '10.0.0.0/8' : 'fd00::/8'}`,
        });
        continue;
      }
      words = maskWords(a.words, length);
      if (!sameWords(words, a.words)) {
        const shown = family === 4 ? formatV4(words[0]!) : dest.slice(0, slash);
        problems.push({
          line: ln,
          what: `"${dest}" has host bits set`,
          fix: family === 4 ? `write the network: ${shown}/${length}` : `clear the bits after the first ${length}`,
        });
        continue;
      }
    }
    if (via && via.family !== family) {
      problems.push({
        line: ln,
        what: `an IPv${family} prefix via an IPv${via.family} gateway`,
        fix: 'give a gateway of the same family as the prefix',
      });
      continue;
    }
    let port = -1;
    if (kind === 'unicast') {
      const p = portOf(dev, ln, 'the route');
      if (p === undefined) continue;
      if (p === -2) {
        skipped++;
        continue;
      }
      port = p;
    }
    const rkey = `${family}/${length}/${words.join('.')}`;
    const dup = routeAt.get(rkey);
    if (dup) {
      if (dup.metric === metric) {
        problems.push({
          line: ln,
          what: `${dest} is routed already, on line ${dup.line}, with the same metric`,
          fix: 'keep one route per prefix (or give them different metrics: the lower wins)',
        });
      } else if (metric < dup.metric) {
        Object.assign(dup, { kind, via: via?.words, port, metric, line: ln });
      }
      continue;
    }
    const r: RouteEntry = { family, words, length, kind, via: via?.words, port, metric, line: ln };
    routes.push(r);
    routeAt.set(rkey, r);
  }

  if (problems.length > 0) {
    const head = `${opts.who}: option "${opts.option}": `;
    if (problems.length === 1) {
      const p = problems[0]!;
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `${head}${file}:${p.line}: ${p.what}`,
        p.fix ? { fix: p.fix } : undefined,
      );
    }
    const listed = problems.slice(0, 10).map((p) => `${file}:${p.line}: ${p.what}${p.fix ? `\n  fix: ${p.fix}` : ''}`);
    if (problems.length > 10) listed.push(`(and ${problems.length - 10} more problems)`);
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      `${head}${file}: ${problems.length} problems in the routes file:\n${listed.join('\n')}`,
    );
  }
  return { file, routes, neighbors, skipped };
}

function formatV4(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
