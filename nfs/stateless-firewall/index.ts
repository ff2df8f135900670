/**
 * stateless-firewall: the NFD stateless firewall. Lists of source and destination addresses
 * (IPv4/IPv6 prefixes) and source and destination ports (TCP/UDP), from options or a file, and
 * a mode:
 *
 *   blacklist   a packet is dropped when ANY given list holds its field (its source is a listed
 *               address, or its destination, or its source port, or its destination port)
 *   whitelist   a packet passes only when EVERY given list holds its field
 *
 * Decision per packet, no state. Empty lists are not consulted. A packet without ports (ICMP,
 * a later fragment) matches no port list: in a blacklist it is not dropped for its ports, in a
 * whitelist with a port list it is dropped. Packets that are not IPv4/IPv6 (ARP, malformed IP)
 * take `non-ip`.
 *
 * Data path: IPv4 /32 addresses are in an open-addressing hash set (Int32Array), other IPv4
 * prefixes and IPv6 prefixes are scanned (keep them few); ports are bitmaps of 65536 bytes.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import {
  configError,
  defineNF,
  DROP,
  FlowKey,
  NEXT,
  NfcError,
  parseIpv4,
  parseIpv6,
  problemsFromZod,
  readConfigFile,
  zodIssueMessage,
  type ConfigFileOptions,
  type ConfigProblem,
} from 'nfchain';

/** The four lists. */
export const FIELDS = ['src', 'dst', 'sport', 'dport'] as const;
export type Field = (typeof FIELDS)[number];

/** One address list, compiled (cold to build; `has4`/`has6` hot). */
export class AddressList {
  /** entries given (for reports) */
  size = 0;
  /** IPv4 /32s: open addressing on the address, `used` marks a slot */
  private readonly set: Int32Array;
  private readonly used: Uint8Array;
  private readonly mask: number;
  private readonly p4: Int32Array;
  private readonly p4m: Int32Array;
  /** four words per IPv6 prefix */
  private readonly p6: Int32Array;
  private readonly p6m: Int32Array;

  constructor(entries: readonly { family: 4 | 6; words: Uint32Array; len: number }[]) {
    this.size = entries.length;
    const exact = entries.filter((e) => e.family === 4 && e.len === 32);
    const pre4 = entries.filter((e) => e.family === 4 && e.len < 32);
    const pre6 = entries.filter((e) => e.family === 6);
    let cap = 8;
    while (cap < exact.length * 2) cap *= 2;
    this.set = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    for (const e of exact) {
      const a = e.words[0]! | 0;
      let j = (Math.imul(a, 0x9e3779b1) >>> 16) & this.mask;
      while (this.used[j] === 1 && this.set[j] !== a) j = (j + 1) & this.mask;
      this.set[j] = a;
      this.used[j] = 1;
    }
    this.p4 = Int32Array.from(pre4, (e) => e.words[0]! | 0);
    this.p4m = Int32Array.from(pre4, (e) => maskWord(e.len, 0) | 0);
    this.p6 = new Int32Array(pre6.length * 4);
    this.p6m = new Int32Array(pre6.length * 4);
    pre6.forEach((e, i) => {
      for (let w = 0; w < 4; w++) {
        this.p6[i * 4 + w] = e.words[w]! | 0;
        this.p6m[i * 4 + w] = maskWord(e.len, w) | 0;
      }
    });
  }

  /** True when the IPv4 address (int32) is in the list. Hot. */
  has4(a: number): boolean {
    const m = this.mask;
    for (let j = (Math.imul(a, 0x9e3779b1) >>> 16) & m; this.used[j] === 1; j = (j + 1) & m) {
      if (this.set[j] === a) return true;
    }
    const p = this.p4;
    const pm = this.p4m;
    for (let i = 0; i < p.length; i++) if ((a & pm[i]!) === p[i]) return true;
    return false;
  }

  /** True when the IPv6 address at a[off..off+3] is in the list. Hot. */
  has6(a: Uint32Array, off: number): boolean {
    const p = this.p6;
    const pm = this.p6m;
    const a0 = a[off]! | 0;
    const a1 = a[off + 1]! | 0;
    const a2 = a[off + 2]! | 0;
    const a3 = a[off + 3]! | 0;
    for (let w = 0; w < p.length; w += 4) {
      if (
        (a0 & pm[w]!) === p[w] &&
        (a1 & pm[w + 1]!) === p[w + 1] &&
        (a2 & pm[w + 2]!) === p[w + 2] &&
        (a3 & pm[w + 3]!) === p[w + 3]
      )
        return true;
    }
    return false;
  }
}

function maskWord(len: number, i: number): number {
  const bits = Math.max(0, Math.min(32, len - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** An address or prefix text → parsed, or a message (cold). */
export function parsePrefix(text: string): { family: 4 | 6; words: Uint32Array; len: number } | string {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const v6 = addr.includes(':');
  const max = v6 ? 128 : 32;
  let len = max;
  if (slash >= 0) {
    const l = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > max) return `"${text}": the prefix length must be 0..${max}`;
    len = Number(l);
  }
  let words: Uint32Array;
  try {
    words = v6 ? parseIpv6(addr) : Uint32Array.of(parseIpv4(addr));
  } catch {
    return `"${text}" is not an ${v6 ? 'IPv6' : 'IPv4'} address or prefix`;
  }
  for (let i = 0; i < words.length; i++) words[i] = (words[i]! & maskWord(len, i)) >>> 0;
  return { family: v6 ? 6 : 4, words, len };
}

/** A port or range text → [lo, hi], or a message (cold). */
export function parsePorts(text: string): [number, number] | string {
  const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(text.trim());
  const lo = m ? Number(m[1]) : -1;
  const hi = m ? (m[2] === undefined ? lo : Number(m[2])) : -1;
  if (!m || lo > 65535 || hi > 65535 || lo > hi) return `"${text}" is not a port 0..65535 or a range lo-hi`;
  return [lo, hi];
}

/** Items of an option value: comma- or space-separated (cold). */
function items(v: string): string[] {
  return v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const LIST = z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))]);
const FileSchema = z.strictObject(
  {
    mode: z.enum(['blacklist', 'whitelist']).optional(),
    src: LIST.optional(),
    dst: LIST.optional(),
    sport: LIST.optional(),
    dport: LIST.optional(),
  },
  { error: 'a mapping with src, dst, sport, dport lists (and optionally mode)' },
);
const LISTS_FILE: ConfigFileOptions = {
  code: 'NFC_ERR_NF_OPTION',
  what: 'the stateless-firewall lists',
  notFoundFix: 'check the "file" option; a relative path is taken from the topology file\'s directory',
  heading: true,
};

export interface Lists {
  mode: 'blacklist' | 'whitelist';
  src: { family: 4 | 6; words: Uint32Array; len: number }[];
  dst: { family: 4 | 6; words: Uint32Array; len: number }[];
  sport: [number, number][];
  dport: [number, number][];
}

/** The lists from the options and the file (cold; throws NFC_ERR_NF_OPTION naming the option or file and field). */
export function loadLists(o: Record<Field | 'file' | 'mode', string>, baseDir: string): Lists {
  const out: Lists = {
    mode: o.mode === 'whitelist' ? 'whitelist' : 'blacklist',
    src: [],
    dst: [],
    sport: [],
    dport: [],
  };
  const add = (field: Field, text: string, fail: (what: string) => void): void => {
    if (field === 'src' || field === 'dst') {
      const p = parsePrefix(text);
      if (typeof p === 'string') fail(p);
      else out[field].push(p);
    } else {
      const p = parsePorts(text);
      if (typeof p === 'string') fail(p);
      else out[field].push(p);
    }
  };
  for (const f of FIELDS) {
    for (const it of items(o[f])) {
      add(f, it, (what) => {
        throw new NfcError('NFC_ERR_NF_OPTION', `stateless-firewall: option --${f}: ${what}`, {
          fix:
            f === 'src' || f === 'dst'
              ? 'give addresses or prefixes separated by commas, e.g. 10.0.0.0/8,2001:db8::1'
              : 'give ports or ranges separated by commas, e.g. 22,8000-8099',
        });
      });
    }
  }
  if (o.file !== '') {
    const path = resolve(baseDir, o.file);
    const doc = readConfigFile(path, LISTS_FILE);
    const shape = FileSchema.safeParse(doc.raw ?? {}, { error: zodIssueMessage });
    if (!shape.success) throw configError(path, doc, problemsFromZod(shape.error.issues, doc.raw), LISTS_FILE);
    const problems: ConfigProblem[] = [];
    if (shape.data.mode !== undefined) out.mode = shape.data.mode;
    for (const f of FIELDS) {
      const v = shape.data[f];
      if (v === undefined) continue;
      const list = Array.isArray(v) ? v.map(String) : items(String(v));
      list.forEach((it, i) => {
        add(f, it, (what) =>
          problems.push({
            path: Array.isArray(v) ? [f, i] : [f],
            what,
            fix:
              f === 'src' || f === 'dst' ? 'an address or prefix, e.g. 10.0.0.0/8' : 'a port or range, e.g. 8000-8099',
          }),
        );
      });
    }
    if (problems.length > 0) throw configError(path, doc, problems, LISTS_FILE);
  }
  return out;
}

export default defineNF({
  name: 'stateless-firewall',
  description: 'NFD stateless firewall: blacklist or whitelist of addresses and ports, per packet, no state',
  counters: {
    passed: 'IPv4/IPv6 packets the lists let through (NEXT)',
    dropped: 'IPv4/IPv6 packets the lists dropped',
    nonIp: 'packets that are not IPv4/IPv6, or with a malformed IP header (the non-ip verdict)',
  },
  gauges: {
    entries: 'list entries in force (addresses, prefixes, ports and port ranges)',
  },
  options: {
    mode: {
      type: 'string',
      default: 'blacklist',
      choices: ['blacklist', 'whitelist'],
      help: 'blacklist: drop when any list holds the field; whitelist: pass only when every given list does',
    },
    src: { type: 'string', default: '', help: 'source addresses/prefixes, comma-separated (IPv4 or IPv6)' },
    dst: { type: 'string', default: '', help: 'destination addresses/prefixes, comma-separated' },
    sport: { type: 'string', default: '', help: 'TCP/UDP source ports or ranges, comma-separated, e.g. 22,8000-8099' },
    dport: { type: 'string', default: '', help: 'TCP/UDP destination ports or ranges, comma-separated' },
    file: {
      type: 'string',
      default: '',
      help: 'a YAML/JSON file with lists src, dst, sport, dport (and mode), added to the options',
    },
    'non-ip': {
      type: 'string',
      default: 'accept',
      choices: ['accept', 'drop'],
      help: 'what happens to packets that are not IPv4/IPv6 (ARP, malformed IP headers)',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: builds the lists. */
  create(ctx) {
    const o = ctx.options;
    const lists = loadLists(o, ctx.baseDir);
    const src = new AddressList(lists.src);
    const dst = new AddressList(lists.dst);
    const sportMap = new Uint8Array(65536);
    const dportMap = new Uint8Array(65536);
    for (const [lo, hi] of lists.sport) sportMap.fill(1, lo, hi + 1);
    for (const [lo, hi] of lists.dport) dportMap.fill(1, lo, hi + 1);
    const useSrc = lists.src.length > 0;
    const useDst = lists.dst.length > 0;
    const useSport = lists.sport.length > 0;
    const useDport = lists.dport.length > 0;
    const white = lists.mode === 'whitelist';
    const nonIpVerdict = o['non-ip'] === 'drop' ? DROP : NEXT;
    const key = new FlowKey();
    const passed = ctx.counter('passed');
    const dropped = ctx.counter('dropped');
    const nonIp = ctx.counter('nonIp');
    ctx.gauge('entries').set(lists.src.length + lists.dst.length + lists.sport.length + lists.dport.length);
    let ticks = 0;
    const describe = (): string =>
      `stateless-firewall: ${lists.mode}, ${lists.src.length} src, ${lists.dst.length} dst, ` +
      `${lists.sport.length} sport, ${lists.dport.length} dport entries`;
    const report = (): string =>
      `stateless-firewall: ${passed.value} passed, ${dropped.value} dropped, ${nonIp.value} non-IP (${o['non-ip']})`;
    if (o.interval > 0) ctx.log(describe());

    return {
      /** counters (cold; tests) */
      stats: () => ({ passed: passed.value, dropped: dropped.value, nonIp: nonIp.value, mode: lists.mode }),

      /** Hot path: no allocation. */
      handle(pkt) {
        if (!pkt.flowKey(key)) {
          nonIp.add();
          return nonIpVerdict;
        }
        const a = key.addr;
        const v4 = key.family === 4;
        const sp = pkt.srcPort;
        const dp = pkt.dstPort;
        let ok: boolean;
        if (white) {
          ok =
            (!useSrc || (v4 ? src.has4(a[0]! | 0) : src.has6(a, 0))) &&
            (!useDst || (v4 ? dst.has4(a[4]! | 0) : dst.has6(a, 4))) &&
            (!useSport || (sp >= 0 && sportMap[sp] === 1)) &&
            (!useDport || (dp >= 0 && dportMap[dp] === 1));
        } else {
          ok = !(
            (useSrc && (v4 ? src.has4(a[0]! | 0) : src.has6(a, 0))) ||
            (useDst && (v4 ? dst.has4(a[4]! | 0) : dst.has6(a, 4))) ||
            (useSport && sp >= 0 && sportMap[sp] === 1) ||
            (useDport && dp >= 0 && dportMap[dp] === 1)
          );
        }
        if (ok) {
          passed.add();
          return NEXT;
        }
        dropped.add();
        return DROP;
      },

      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        ctx.log(report());
      },

      stop(ctx) {
        if (ctx.options.interval > 0) ctx.log(report());
      },
    };
  },
});
