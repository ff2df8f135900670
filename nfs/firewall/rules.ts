/**
 * The firewall's rules file and its classifier.
 *
 *   text ──parse (yaml; JSON is YAML)──▶ raw ──shape (zod)──▶ rules ──checks──▶ Rule[] ──compile──▶ RuleSet
 *
 * The file (YAML or JSON):
 *
 *   default: drop                       # accept | drop | out:<port> | service:<n>; default drop
 *   rules:                              # first match wins
 *     - { name: ssh, src: 10.0.0.0/8, proto: tcp, dport: 22, action: accept }
 *     - { dst: "2001:db8::/32", proto: udp, dport: 5000-5999, action: "out:1" }
 *     - { proto: icmp, action: accept }
 *
 * Every problem is reported at once (NFC_ERR_NF_OPTION, `<file>:<line>: rules[3].dport: ...`).
 *
 * The classifier (RuleSet, compiled once per load; cold code allocates freely):
 *
 *   - Rules are kept as columns of typed arrays (struct of arrays), in file order.
 *   - For each address family (IPv4, IPv6) and transport (TCP, UDP) the destination port space
 *     0..65535 is cut at every rule's dport bounds into elementary intervals; each interval gets
 *     the ordered list of the rules that can match a packet to a port in it (right family, right
 *     protocol or any, dport range covering the interval). portMap[family][transport][port] is
 *     the interval's list id (an Int32Array of 65536 per family and transport). Identical lists
 *     are stored once.
 *   - For every other protocol number, one list per family (rules of that protocol or any).
 *   - Lists are concatenated in one Int32Array (CSR: listStart[id] .. listStart[id + 1]).
 *   - A packet's candidates are the one list its (family, protocol, dport) selects; the first
 *     rule of it whose source and destination prefixes and source port range match is the
 *     answer (the lists keep file order, so it is the first match of the whole file).
 *
 * A packet scans only the rules that share its protocol and destination port, plus the
 * wildcard ones. classify4/classify6 are the hot path: no allocation.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import {
  configDocument,
  configError,
  DROP,
  formatVerdict,
  NEXT,
  NfcError,
  out,
  parseConfigText,
  parseIpv4,
  parseIpv6,
  problemsFromZod,
  readConfigFile,
  toNF,
  zodIssueMessage,
  type ConfigDocument,
  type ConfigFileOptions,
  type ConfigPath,
  type ConfigProblem,
} from 'nfchain';

/** Most rules a file may hold. */
export const MAX_RULES = 10_000;
/** Most list entries the compiled classifier may hold (4 bytes each: 64 MB). */
export const MAX_LIST_ITEMS = 16 * 1024 * 1024;

/** One rule as read from the file, checked (cold). */
export interface Rule {
  /** `name` from the file, else `rules[i]` */
  name: string;
  /** 0 = any family, 4, 6 (from the prefixes given) */
  family: 0 | 4 | 6;
  /** source prefix: words (IPv4: one word) and length; length -1 = any */
  src: { words: Uint32Array; len: number };
  dst: { words: Uint32Array; len: number };
  /** protocol number, -1 = any */
  proto: number;
  sport: [number, number];
  dport: [number, number];
  /** the verdict (DROP, NEXT, out(p), toNF(s)) */
  verdict: number;
  /** the action as written (for logs) */
  action: string;
  /** the rule's fields in one canonical string: counters carry over a reload when it is unchanged */
  text: string;
}

export interface RulesFile {
  file: string;
  rules: Rule[];
  /** verdict of packets no rule matches */
  defaultVerdict: number;
  defaultAction: string;
}

const PortSchema = z.union([z.number(), z.string()]);
const RuleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  src: z.string().optional(),
  dst: z.string().optional(),
  proto: z.union([z.number(), z.string()]).optional(),
  sport: PortSchema.optional(),
  dport: PortSchema.optional(),
  action: z.string(),
});
const FileSchema = z.strictObject(
  {
    default: z.string().optional(),
    rules: z.array(RuleSchema),
  },
  { error: 'a mapping with rules (and optionally default)' },
);

const TOP_KEYS = Object.keys(FileSchema.shape);
const RULE_KEYS = Object.keys(RuleSchema.shape);
const ACTION_FIX = 'write accept, drop, out:<port 0..7> or service:<1..31>';
const PORT_FIX = 'write a port 0..65535 or a range lo-hi, e.g. 1024-65535';
const PROTO_FIX = 'write tcp, udp, icmp, icmp6, any, or a protocol number 0..255';

const RULES_FILE: ConfigFileOptions = {
  code: 'NFC_ERR_NF_OPTION',
  what: 'the firewall rules',
  notFoundFix:
    'check the "rules" option; a relative path is taken from the topology file\'s directory (with nfchain nf: the working directory)',
  heading: true,
};

/** Reads and checks a rules file. Throws NfcError NFC_ERR_NF_OPTION naming file, line, field, fix. */
export function loadRules(path: string): RulesFile {
  return checkRules(readConfigFile(path, RULES_FILE), path);
}

/** Checks rules text; `file` names it in messages. */
export function parseRules(text: string, file: string): RulesFile {
  return checkRules(parseConfigText(text, file, RULES_FILE), file);
}

/** The path the `rules` option names, resolved (cold). */
export function rulesPath(baseDir: string, option: string): string {
  return resolve(baseDir, option);
}

/** An action text → verdict, or undefined. */
export function parseAction(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'accept' || t === 'next') return NEXT;
  if (t === 'drop') return DROP;
  const m = /^(out|service):(\d+)$/.exec(t);
  if (!m) return undefined;
  const n = Number(m[2]);
  if (m[1] === 'out') return n <= 7 ? out(n) : undefined;
  return n >= 1 && n <= 31 ? toNF(n) : undefined;
}

function parsePortRange(v: number | string): [number, number] | undefined {
  const t = typeof v === 'number' ? String(v) : v.trim();
  const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(t);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535 || lo > hi) return undefined;
  return [lo, hi];
}

const PROTO_NAMES: Record<string, number> = { any: -1, tcp: 6, udp: 17, icmp: 1, icmp6: 58, icmpv6: 58 };

/** A prefix text → { family, words (masked), len }, or a message. */
function parsePrefix(text: string): { family: 4 | 6; words: Uint32Array; len: number } | string {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const v6 = addr.includes(':');
  const max = v6 ? 128 : 32;
  let len = max;
  if (slash >= 0) {
    const l = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > max) return `"${text}": prefix length must be 0..${max}`;
    len = Number(l);
  }
  let words: Uint32Array;
  try {
    words = v6 ? parseIpv6(addr) : Uint32Array.of(parseIpv4(addr));
  } catch {
    return `"${text}" is not an ${v6 ? 'IPv6' : 'IPv4'} address or prefix`;
  }
  const masked = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) masked[i] = (words[i]! & wordMask(len, i)) >>> 0;
  return { family: v6 ? 6 : 4, words: masked, len };
}

/** The mask of 32-bit word i of a prefix of length len. */
function wordMask(len: number, i: number): number {
  const bits = Math.max(0, Math.min(32, len - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function checkRules(doc: ConfigDocument, file: string): RulesFile {
  if (doc.raw === null || doc.raw === undefined) {
    throw configError(
      file,
      configDocument(doc.raw),
      [{ path: [], what: 'the file is empty', fix: 'give at least rules: [] (and default: drop)' }],
      RULES_FILE,
    );
  }
  const shape = FileSchema.safeParse(doc.raw, { error: zodIssueMessage });
  if (!shape.success) {
    throw configError(
      file,
      doc,
      problemsFromZod(shape.error.issues, doc.raw, {
        knownKeys: (path) => (path.length === 0 ? TOP_KEYS : RULE_KEYS),
        fix: (path) =>
          path.length === 0
            ? 'give rules: [ { proto: tcp, dport: 22, action: accept } ] and default: drop'
            : `a rule takes ${RULE_KEYS.join(', ')}; action is required`,
      }),
      RULES_FILE,
    );
  }
  const c = shape.data;
  const problems: ConfigProblem[] = [];
  const bad = (path: ConfigPath, what: string, fix: string): void => {
    problems.push({ path, what, fix });
  };
  const defaultAction = c.default ?? 'drop';
  const defaultVerdict = parseAction(defaultAction);
  if (defaultVerdict === undefined) bad(['default'], `"${defaultAction}" is not an action`, ACTION_FIX);
  if (c.rules.length > MAX_RULES) bad(['rules'], `${c.rules.length} rules; at most ${MAX_RULES}`, 'split the rules');
  const rules: Rule[] = [];
  c.rules.forEach((r, i) => {
    const at = (k: string): ConfigPath => ['rules', i, k];
    const verdict = parseAction(r.action);
    if (verdict === undefined) bad(at('action'), `"${r.action}" is not an action`, ACTION_FIX);
    let family: 0 | 4 | 6 = 0;
    const prefix = (k: 'src' | 'dst') => {
      const text = r[k];
      if (text === undefined) return { words: new Uint32Array(4), len: -1 };
      const p = parsePrefix(text);
      if (typeof p === 'string') {
        bad(at(k), p, 'write an address or prefix, e.g. 10.0.0.0/8 or 2001:db8::/32');
        return { words: new Uint32Array(4), len: -1 };
      }
      if (family !== 0 && family !== p.family) {
        bad(at(k), `"${text}" is IPv${p.family} but src is IPv${family}`, 'give src and dst of one family');
      }
      family = p.family;
      const words = new Uint32Array(4);
      words.set(p.words);
      return { words, len: p.len };
    };
    const src = prefix('src');
    const dst = prefix('dst');
    let proto = -1;
    if (r.proto !== undefined) {
      const t = String(r.proto).trim().toLowerCase();
      const named = PROTO_NAMES[t];
      if (named !== undefined) proto = named;
      else if (/^\d{1,3}$/.test(t) && Number(t) <= 255) proto = Number(t);
      else bad(at('proto'), `"${r.proto}" is not a protocol`, PROTO_FIX);
    }
    if (proto === 1 && (family as number) === 6)
      bad(at('proto'), 'icmp with IPv6 prefixes', 'use proto: icmp6 for IPv6');
    if (proto === 58 && (family as number) === 4)
      bad(at('proto'), 'icmp6 with IPv4 prefixes', 'use proto: icmp for IPv4');
    const ports = (k: 'sport' | 'dport'): [number, number] => {
      const v = r[k];
      if (v === undefined) return [0, 65535];
      const range = parsePortRange(v);
      if (!range) {
        bad(at(k), `"${v}" is not a port or a range`, PORT_FIX);
        return [0, 65535];
      }
      if (proto !== 6 && proto !== 17) {
        bad(at(k), `a port needs proto tcp or udp (proto is ${r.proto ?? 'any'})`, 'add proto: tcp or proto: udp');
      }
      return range;
    };
    const sport = ports('sport');
    const dport = ports('dport');
    const text = JSON.stringify([r.src ?? '', r.dst ?? '', proto, sport, dport, verdict]);
    rules.push({
      name: r.name ?? `rules[${i}]`,
      family,
      src,
      dst,
      proto,
      sport,
      dport,
      verdict: verdict ?? DROP,
      action: r.action,
      text,
    });
  });
  if (problems.length > 0) throw configError(file, doc, problems, RULES_FILE);
  return { file, rules, defaultVerdict: defaultVerdict ?? DROP, defaultAction };
}

/** Transports with a port map. */
const TCP = 0;
const UDP = 1;

/**
 * The compiled classifier over one rules file. Cold to build; classify4/classify6 are hot and
 * allocate nothing. They return the index of the first matching rule, or `n` (the default).
 */
export class RuleSet {
  readonly file: RulesFile;
  /** number of rules; index n is the default */
  readonly n: number;
  /** verdict per rule, [n] the default's */
  readonly verdicts: Int32Array;
  /** list entries held by the classifier, for the README's memory figures */
  readonly listItems: number;
  /** bytes of typed arrays the classifier holds (cold; reports) */
  readonly bytes: number;

  private readonly sportLo: Int32Array;
  private readonly sportHi: Int32Array;
  /** IPv4 prefix words and masks (int32), 0/0 for any */
  private readonly src4: Int32Array;
  private readonly src4m: Int32Array;
  private readonly dst4: Int32Array;
  private readonly dst4m: Int32Array;
  /** IPv6: four words per rule */
  private readonly src6: Int32Array;
  private readonly src6m: Int32Array;
  private readonly dst6: Int32Array;
  private readonly dst6m: Int32Array;
  /** [family 0 = v4, 1 = v6][TCP, UDP]: port → list id */
  private readonly portMaps: Int32Array[];
  /** family * 256 + proto → list id */
  private readonly protoList: Int32Array;
  private readonly listStart: Int32Array;
  private readonly items: Int32Array;

  constructor(file: RulesFile) {
    this.file = file;
    const rules = file.rules;
    const n = rules.length;
    this.n = n;
    this.verdicts = new Int32Array(n + 1);
    this.sportLo = new Int32Array(n);
    this.sportHi = new Int32Array(n);
    this.src4 = new Int32Array(n);
    this.src4m = new Int32Array(n);
    this.dst4 = new Int32Array(n);
    this.dst4m = new Int32Array(n);
    this.src6 = new Int32Array(n * 4);
    this.src6m = new Int32Array(n * 4);
    this.dst6 = new Int32Array(n * 4);
    this.dst6m = new Int32Array(n * 4);
    for (let r = 0; r < n; r++) {
      const rule = rules[r]!;
      this.verdicts[r] = rule.verdict;
      this.sportLo[r] = rule.sport[0];
      this.sportHi[r] = rule.sport[1];
      if (rule.family !== 6) {
        this.src4[r] = rule.src.len < 0 ? 0 : rule.src.words[0]! | 0;
        this.src4m[r] = rule.src.len < 0 ? 0 : wordMask(rule.src.len, 0) | 0;
        this.dst4[r] = rule.dst.len < 0 ? 0 : rule.dst.words[0]! | 0;
        this.dst4m[r] = rule.dst.len < 0 ? 0 : wordMask(rule.dst.len, 0) | 0;
      }
      if (rule.family !== 4) {
        for (let w = 0; w < 4; w++) {
          this.src6[r * 4 + w] = rule.src.len < 0 ? 0 : rule.src.words[w]! | 0;
          this.src6m[r * 4 + w] = rule.src.len < 0 ? 0 : wordMask(rule.src.len, w) | 0;
          this.dst6[r * 4 + w] = rule.dst.len < 0 ? 0 : rule.dst.words[w]! | 0;
          this.dst6m[r * 4 + w] = rule.dst.len < 0 ? 0 : wordMask(rule.dst.len, w) | 0;
        }
      }
    }
    this.verdicts[n] = file.defaultVerdict;

    // Lists, deduplicated by content.
    const lists: number[][] = [];
    const ids = new Map<string, number>();
    let total = 0;
    const listId = (list: number[]): number => {
      const k = list.join(',');
      let id = ids.get(k);
      if (id === undefined) {
        id = lists.length;
        lists.push(list);
        ids.set(k, id);
        total += list.length;
        if (total > MAX_LIST_ITEMS) {
          throw new NfcError(
            'NFC_ERR_NF_OPTION',
            `firewall: option rules: ${file.file}: the classifier would hold more than ${MAX_LIST_ITEMS} list entries`,
            { fix: 'give fewer overlapping dport ranges, or split the rules over two firewalls' },
          );
        }
      }
      return id;
    };
    const famOk = (rule: Rule, fam: 4 | 6): boolean => rule.family === 0 || rule.family === fam;
    this.portMaps = [];
    for (const fam of [4, 6] as const) {
      for (const proto of [6, 17]) {
        const rel: number[] = [];
        for (let r = 0; r < n; r++) {
          const rule = rules[r]!;
          if (famOk(rule, fam) && (rule.proto === -1 || rule.proto === proto)) rel.push(r);
        }
        const cuts = new Set<number>([0]);
        for (const r of rel) {
          cuts.add(rules[r]!.dport[0]);
          if (rules[r]!.dport[1] < 65535) cuts.add(rules[r]!.dport[1] + 1);
        }
        const bounds = [...cuts].sort((a, b) => a - b);
        bounds.push(65536);
        const map = new Int32Array(65536);
        for (let k = 0; k + 1 < bounds.length; k++) {
          const lo = bounds[k]!;
          const hi = bounds[k + 1]! - 1;
          const list = rel.filter((r) => rules[r]!.dport[0] <= lo && rules[r]!.dport[1] >= hi);
          map.fill(listId(list), lo, hi + 1);
        }
        this.portMaps.push(map);
      }
    }
    this.protoList = new Int32Array(512);
    for (const fam of [4, 6] as const) {
      for (let p = 0; p < 256; p++) {
        const list: number[] = [];
        for (let r = 0; r < n; r++) {
          const rule = rules[r]!;
          if (famOk(rule, fam) && (rule.proto === -1 || rule.proto === p)) list.push(r);
        }
        this.protoList[(fam === 4 ? 0 : 256) + p] = listId(list);
      }
    }
    this.listStart = new Int32Array(lists.length + 1);
    this.items = new Int32Array(total);
    let at = 0;
    for (let id = 0; id < lists.length; id++) {
      this.listStart[id] = at;
      for (const r of lists[id]!) this.items[at++] = r;
    }
    this.listStart[lists.length] = at;
    this.listItems = total;
    this.bytes = (n + 1) * 4 + n * 4 * 6 + n * 16 * 4 + 4 * 65536 * 4 + 512 * 4 + (lists.length + 1) * 4 + total * 4;
  }

  /**
   * The first rule an IPv4 packet matches, or n. src/dst are the addresses (int32 or unsigned),
   * proto the protocol, sport/dport its ports (0 without ports). Hot: no allocation.
   */
  classify4(src: number, dst: number, proto: number, sport: number, dport: number): number {
    const id =
      proto === 6 ? this.portMaps[TCP]![dport]! : proto === 17 ? this.portMaps[UDP]![dport]! : this.protoList[proto]!;
    const items = this.items;
    const end = this.listStart[id + 1]!;
    const s4 = this.src4;
    const s4m = this.src4m;
    const d4 = this.dst4;
    const d4m = this.dst4m;
    const slo = this.sportLo;
    const shi = this.sportHi;
    src |= 0;
    dst |= 0;
    for (let k = this.listStart[id]!; k < end; k++) {
      const r = items[k]!;
      if ((src & s4m[r]!) === s4[r] && (dst & d4m[r]!) === d4[r] && sport >= slo[r]! && sport <= shi[r]!) return r;
    }
    return this.n;
  }

  /**
   * The first rule an IPv6 packet matches, or n. `a` holds the source in words 0..3 and the
   * destination in words 4..7 (a FlowKey's addr). Hot: no allocation.
   */
  classify6(a: Uint32Array, proto: number, sport: number, dport: number): number {
    const id =
      proto === 6
        ? this.portMaps[2 + TCP]![dport]!
        : proto === 17
          ? this.portMaps[2 + UDP]![dport]!
          : this.protoList[256 + (proto & 0xff)]!;
    const items = this.items;
    const end = this.listStart[id + 1]!;
    const s = this.src6;
    const sm = this.src6m;
    const d = this.dst6;
    const dm = this.dst6m;
    const slo = this.sportLo;
    const shi = this.sportHi;
    const a0 = a[0]! | 0;
    const a1 = a[1]! | 0;
    const a2 = a[2]! | 0;
    const a3 = a[3]! | 0;
    const b0 = a[4]! | 0;
    const b1 = a[5]! | 0;
    const b2 = a[6]! | 0;
    const b3 = a[7]! | 0;
    for (let k = this.listStart[id]!; k < end; k++) {
      const r = items[k]!;
      const w = r << 2;
      if (
        (a0 & sm[w]!) === s[w] &&
        (a1 & sm[w + 1]!) === s[w + 1] &&
        (a2 & sm[w + 2]!) === s[w + 2] &&
        (a3 & sm[w + 3]!) === s[w + 3] &&
        (b0 & dm[w]!) === d[w] &&
        (b1 & dm[w + 1]!) === d[w + 1] &&
        (b2 & dm[w + 2]!) === d[w + 2] &&
        (b3 & dm[w + 3]!) === d[w + 3] &&
        sport >= slo[r]! &&
        sport <= shi[r]!
      )
        return r;
    }
    return this.n;
  }
}

/** One line describing a rule set (cold). */
export function describeRules(rs: RuleSet): string {
  const f = rs.file;
  return (
    `${f.rules.length} rule${f.rules.length === 1 ? '' : 's'} from ${f.file}, default ${f.defaultAction} ` +
    `(${formatVerdict(f.defaultVerdict)}); classifier ${(rs.bytes / 1024).toFixed(0)} KiB, ${rs.listItems} list entries`
  );
}
