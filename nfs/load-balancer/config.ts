/**
 * The load balancer's config file: the boundary where YAML or JSON text becomes a trusted
 * LbConfig (style.md item 7). After it, the data path trusts the addresses it gets.
 *
 *   text ──parse (yaml; JSON is YAML)──▶ raw ──shape (zod)──▶ parsed ──checks──▶ LbConfig
 *
 * Each stage that fails throws one NfcError (NFC_ERR_NF_OPTION: the file is what the `config`
 * option names) listing every problem it found, one per line, as
 * `<file>:<line>: <path>: <what is wrong>` with a `fix:` line, e.g.
 *
 *   lb.yaml:5: backends[1].ip: "192.168.1.300" is not an IPv4 address
 *     fix: write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)
 *
 * Cold code: runs once in setup(); it allocates freely.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import * as z from 'zod';
import { editDistance, formatIpv4, NfcError, parseIpv4, parseMac } from 'nfchain';

/** Most backends a config may list. */
export const MAX_BACKENDS = 1024;

export interface LbBackend {
  /** IPv4 address, unsigned 32-bit */
  ip: number;
  /** destination MAC written on packets sent to it (48-bit number), or -1: left as it is */
  mac: number;
  /** for reports: `name` from the file, else the address */
  name: string;
}

export interface LbConfig {
  /** the file it came from, as given */
  file: string;
  /** the virtual IP clients send to, unsigned 32-bit */
  vip: number;
  /** destination MAC written on replies to clients, or -1: left as it is */
  clientMac: number;
  backends: LbBackend[];
}

const BackendSchema = z.strictObject({
  ip: z.string(),
  mac: z.string().optional(),
  name: z.string().min(1).optional(),
});

const ConfigSchema = z.strictObject({
  vip: z.string(),
  clientMac: z.string().optional(),
  backends: z.array(BackendSchema),
});

/** Keys of each mapping, for "did you mean" and "takes" hints. */
const TOP_KEYS = Object.keys(ConfigSchema.shape);
const BACKEND_KEYS = Object.keys(BackendSchema.shape);

/** What to write, per key: the `fix` of a missing or mistyped value. */
const EXAMPLES: Record<string, string> = {
  vip: 'the address clients send to, e.g. vip: 10.0.0.100',
  clientMac: 'the MAC of the client side\'s next hop, e.g. clientMac: "02:00:00:00:00:fe"',
  backends: 'a list of backends, e.g. backends: [{ ip: 192.168.1.11 }, { ip: 192.168.1.12 }]',
  ip: 'the backend\'s address, e.g. ip: 192.168.1.11',
  mac: 'the backend\'s MAC (or its next hop\'s), e.g. mac: "02:00:00:00:01:11"',
  name: 'a label for reports, e.g. name: web1',
};

/** The smallest config, for fixes. */
const SMALLEST = 'vip: 10.0.0.100 and backends: [{ ip: 192.168.1.11 }, { ip: 192.168.1.12 }]';
const IPV4_FIX = 'write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)';
const MAC_FIX = 'write it as aa:bb:cc:dd:ee:ff, six hex pairs (quote it in YAML)';

type Seg = string | number;

interface Problem {
  path: Seg[];
  what: string;
  fix?: string | undefined;
}

/** At most this many problems are listed in one error; the rest are counted. */
const MAX_LISTED = 10;

/**
 * Reads and checks a load-balancer config file (YAML, or JSON). The caller resolves a relative path
 * (the NF: against ctx.baseDir). Throws NfcError NFC_ERR_NF_OPTION naming the file, the line, the
 * field and the fix of each problem.
 */
export function loadLbConfig(path: string): LbConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new NfcError('NFC_ERR_NF_OPTION', `${path}: cannot read the load-balancer config (${code})`, {
      fix: code === 'ENOENT'
        ? 'check the "config" option; a relative path is taken from the topology file\'s directory (with nfchain nf: the working directory)'
        : 'check the path and its permissions',
      cause: err,
    });
  }
  return parseLbConfig(text, path);
}

/** Checks config text; `file` names it in messages. See loadLbConfig. */
export function parseLbConfig(text: string, file: string): LbConfig {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not content
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    throw new NfcError('NFC_ERR_NF_OPTION', `${file}:${lines.linePos(first.pos[0]).line}: syntax error: ${first.message}`, {
      fix: 'YAML: check the indentation and quoting on that line and the one before; JSON: double-quoted keys, no trailing commas',
    });
  }
  const raw: unknown = doc.toJS();
  const fail = (problems: Problem[]): never => { throw configError(file, doc, lines, problems); };

  if (raw === null || raw === undefined) {
    fail([{ path: [], what: 'the file is empty', fix: `give at least ${SMALLEST}` }]);
  }
  const shape = ConfigSchema.safeParse(raw);
  if (!shape.success) fail(problemsFromIssues(shape.error.issues, raw));
  const c = shape.data!;

  const problems: Problem[] = [];
  const ipv4 = (text: string, path: Seg[]): number => {
    try {
      return parseIpv4(text);
    } catch {
      problems.push({ path, what: `"${text}" is not an IPv4 address`, fix: IPV4_FIX });
      return -1;
    }
  };
  const mac = (text: string | undefined, path: Seg[]): number => {
    if (text === undefined) return -1;
    try {
      return parseMac(text);
    } catch {
      problems.push({ path, what: `"${text}" is not a MAC address`, fix: MAC_FIX });
      return -1;
    }
  };

  const vip = ipv4(c.vip, ['vip']);
  const clientMac = mac(c.clientMac, ['clientMac']);
  if (c.backends.length === 0) {
    problems.push({ path: ['backends'], what: 'the list is empty: there is nothing to balance over', fix: 'list at least one backend, e.g. backends: [{ ip: 192.168.1.11 }]' });
  } else if (c.backends.length > MAX_BACKENDS) {
    problems.push({ path: ['backends'], what: `${c.backends.length} backends; at most ${MAX_BACKENDS}`, fix: 'spread them over several VIPs (one load-balancer instance each)' });
  }
  const seen = new Map<number, number>();
  const backends: LbBackend[] = c.backends.map((b, i) => {
    const ip = ipv4(b.ip, ['backends', i, 'ip']);
    if (ip >= 0) {
      const before = seen.get(ip);
      if (before !== undefined) {
        problems.push({ path: ['backends', i, 'ip'], what: `${b.ip} is listed already, as backends[${before}]`, fix: 'list each backend once' });
      } else if (ip === vip) {
        problems.push({ path: ['backends', i, 'ip'], what: `${b.ip} is the VIP`, fix: 'a backend needs an address of its own; the VIP is the one clients use' });
      }
      seen.set(ip, i);
    }
    return { ip, mac: mac(b.mac, ['backends', i, 'mac']), name: b.name ?? b.ip };
  });
  if (problems.length > 0) fail(problems);
  return { file, vip, clientMac, backends };
}

/** A config in one line, for logs (cold). */
export function describeLbConfig(c: LbConfig): string {
  return `VIP ${formatIpv4(c.vip)}, ${c.backends.length} backend${c.backends.length === 1 ? '' : 's'} (${c.file})`;
}

// ---------------------------------------------------------------------------------------------
// Problems → one error

/** `backends[1].ip` */
function describePath(path: readonly Seg[]): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return s;
}

function valueAt(raw: unknown, path: readonly Seg[]): { found: boolean; value: unknown } {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return { found: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: v };
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function expected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      switch (issue.expected) {
        case 'object': return 'a mapping';
        case 'array': return 'a list';
        default: return `a ${issue.expected}`;
      }
    case 'too_small': return 'a non-empty string';
    default: return 'a valid value';
  }
}

/** zod's issues worded for the config file. */
function problemsFromIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): Problem[] {
  const out: Problem[] = [];
  const pathOf = (issue: z.core.$ZodIssue): Seg[] => issue.path.filter((s): s is Seg => typeof s === 'string' || typeof s === 'number');
  // Unknown keys first: a misspelt key is also a missing one, and one message is enough.
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = pathOf(issue);
    const known = path.length === 0 ? TOP_KEYS : BACKEND_KEYS;
    for (const key of issue.keys) {
      const near = nearest(key, known);
      if (near !== undefined) suggested.add(describePath([...path, near]));
      out.push({
        path: [...path, key],
        what: `unknown key "${key}"${near === undefined ? '' : `; did you mean "${near}"?`}`,
        fix: `${path.length === 0 ? 'the file' : 'a backend'} takes: ${known.join(', ')}`,
      });
    }
  }
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = pathOf(issue);
    const last = path[path.length - 1];
    const { found, value } = valueAt(raw, path);
    if (!found && suggested.has(describePath(path))) continue;
    if (path.length === 0) {
      out.push({ path, what: `expected a mapping with vip and backends, got ${describeValue(value)}`, fix: `give at least ${SMALLEST}` });
    } else if (!found && typeof last === 'string') {
      out.push({ path: path.slice(0, -1), what: `missing required key "${last}"`, fix: EXAMPLES[last] });
    } else {
      out.push({ path, what: `expected ${expected(issue)}, got ${describeValue(value)}`, fix: typeof last === 'string' ? EXAMPLES[last] : EXAMPLES.backends });
    }
  }
  return out;
}

/** The line of `path` in the document (1-based): a key's own line, or the deepest node that exists. */
function lineOf(doc: Document, lines: LineCounter, path: readonly Seg[]): number | undefined {
  const lineAt = (node: unknown): number | undefined => {
    const range = (node as { range?: readonly number[] } | null)?.range;
    return range?.[0] === undefined ? undefined : lines.linePos(range[0]).line;
  };
  let node: unknown = doc.contents;
  let line = lineAt(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      if (i === path.length - 1 || pair.value === null) return lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined || item === null) break;
      node = item;
    } else {
      break;
    }
    line = lineAt(node) ?? line;
  }
  return line;
}

/** One NfcError for `problems`, in file order (at most MAX_LISTED listed). */
function configError(file: string, doc: Document, lines: LineCounter, problems: Problem[]): NfcError {
  const rows = problems.map((p) => {
    const line = lineOf(doc, lines, p.path);
    const where = describePath(p.path);
    return { line, fix: p.fix, text: `${file}${line === undefined ? '' : `:${line}`}: ${where === '' ? '' : `${where}: `}${p.what}` };
  });
  rows.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const first = rows[0];
  if (rows.length === 1 && first !== undefined) {
    return new NfcError('NFC_ERR_NF_OPTION', first.text, first.fix === undefined ? undefined : { fix: first.fix });
  }
  const listed = rows.slice(0, MAX_LISTED).map((r) => (r.fix === undefined ? r.text : `${r.text}\n  fix: ${r.fix}`));
  if (rows.length > MAX_LISTED) listed.push(`(and ${rows.length - MAX_LISTED} more problems)`);
  return new NfcError('NFC_ERR_NF_OPTION', `${file}: ${rows.length} problems in the load-balancer config:\n${listed.join('\n')}`);
}
