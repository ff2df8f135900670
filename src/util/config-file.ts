/**
 * Config files at the boundary: read a YAML or JSON file, check it, and report
 * everything wrong with it as one NfcError that names the file, the line, the field and the fix,
 * one problem per line, in file order:
 *
 *   lb.yaml:4: backends[1].ip: "192.168.1.300" is not an IPv4 address
 *     fix: write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)
 *
 *   text ──parseConfigText──▶ ConfigDocument { raw, line(path) }
 *   raw ──schema (zod)──▶ issues ──problemsFromZod──▶ ConfigProblem[] ─┐
 *   parsed ──the file's own checks──▶ ConfigProblem[] ─────────────────┴─configError──▶ NfcError
 *
 * The topology loader (src/topology/load.ts) and the load balancer's config
 * (nfs/load-balancer/config.ts) are built on it; an NF author uses it the same way:
 *
 *   const FILE: ConfigFileOptions = { code: 'NFC_ERR_NF_OPTION', what: 'the rules file' };
 *   const doc = readConfigFile(path, FILE);
 *   const shape = RulesSchema.safeParse(doc.raw, { error: zodIssueMessage });
 *   if (!shape.success) throw configError(path, doc, problemsFromZod(shape.error.issues, doc.raw), FILE);
 *   const problems: ConfigProblem[] = [];  // then the checks a schema cannot express
 *   if (problems.length > 0) throw configError(path, doc, problems, FILE);
 *
 * Line numbers come from the YAML document's node ranges; JSON is YAML, so JSON files get them too.
 *
 * Cold code: runs at start-up and on reconfiguration; it allocates freely.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import type * as z from 'zod';
import { NfcError, type ErrorCode } from '../errors.js';
import { didYouMean } from './names.js';

export { didYouMean, editDistance } from './names.js';

/**
 * The YAML parser, loaded at first use: every NF process imports this module (through
 * 'nfchain') and most never read a config file, so they do not pay for loading it (~20 ms).
 */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yamlModule;
}

/** A path into a document, of mapping keys and list indexes: ['backends', 1, 'ip'] is `backends[1].ip`. */
export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a config file. */
export interface ConfigProblem {
  /** what the message names, e.g. ['nfs', 1] printed as `nfs[1] (forward)` */
  path: ConfigPath;
  /** where the line number comes from, when not from `path` (an unknown key: the key's own line) */
  at?: ConfigPath;
  /** what is wrong, worded to follow `<file>:<line>: <path>: ` */
  what: string;
  /** what to do about it, when there is something specific to say */
  fix?: string | undefined;
}

/** A parsed config file: its content, and where in the text each part of it is. */
export interface ConfigDocument {
  /** the content as plain data (what JSON.parse would give); null for an empty YAML file */
  raw: unknown;
  /**
   * The 1-based line of the node at `path`: a mapping key's own line for a path that ends in a
   * key; for a path that runs out of the document (a missing key), the line of the deepest node
   * that exists. Undefined when the source text is not known.
   */
  line: (path: ConfigPath) => number | undefined;
}

/** What kind of file it is: how it is parsed and how its errors read. One constant per kind of file. */
export interface ConfigFileOptions {
  /** the code of every error about the file, e.g. 'NFC_ERR_NF_OPTION' */
  code: ErrorCode;
  /** the file in words, e.g. 'the topology file': "x.yaml: cannot read the topology file (ENOENT)" */
  what: string;
  /**
   * 'yaml' or 'json' (JSON.parse, for its messages), named in syntax errors ("YAML syntax error");
   * unset, YAML, which reads JSON too, and errors say just "syntax error".
   */
  format?: 'yaml' | 'json';
  /** the fix when the file does not exist (default: check the path; relative to the working directory) */
  notFoundFix?: string;
  /** the fix of a syntax error (default: one for the format) */
  syntaxFix?: string;
  /** an error listing several problems starts with `<file>: <n> problems in <what>:` */
  heading?: boolean;
  /** top-level lists whose items messages name by their `name` key: with ['nfs'], `nfs[1] (forward)` */
  namedItems?: readonly string[];
}

/** At most this many problems are listed in one error; the rest are counted. */
const MAX_LISTED = 10;

const SYNTAX_FIXES = {
  yaml: 'check the indentation and the quoting on that line and the one before it',
  json: 'JSON needs double-quoted keys and strings and no trailing commas',
  any: 'YAML: check the indentation and quoting on that line and the one before; JSON: double-quoted keys, no trailing commas',
} as const;

// ---------------------------------------------------------------------------------------------
// Reading and parsing

/** Reads and parses a config file. Throws NfcError (options.code) if it cannot be read or parsed. */
export function readConfigFile(path: string, options: ConfigFileOptions): ConfigDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new NfcError(options.code, `${path}: cannot read ${options.what} (${code})`, {
      fix:
        code === 'ENOENT'
          ? (options.notFoundFix ?? `check the path (relative paths are taken from ${process.cwd()})`)
          : 'check the path and its permissions',
      cause: err,
    });
  }
  return parseConfigText(text, path, options);
}

/** Parses config text; `file` names it in messages. Throws NfcError (options.code) on a syntax error, with its line. */
export function parseConfigText(text: string, file: string, options: ConfigFileOptions): ConfigDocument {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not content
  if (options.format === 'json') return parseJson(text, file, options);
  const lines = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    // Later parser errors usually follow from the first; report that one, with its line.
    const line = lines.linePos(first.pos[0]).line;
    const label = options.format === 'yaml' ? 'YAML syntax error' : 'syntax error';
    throw new NfcError(options.code, `${file}:${line}: ${label}: ${first.message}`, {
      fix: options.syntaxFix ?? SYNTAX_FIXES[options.format ?? 'any'],
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new NfcError(options.code, `${file}: YAML error: ${(err as Error).message}`, { cause: err });
  }
  return { raw, line: (path) => lineOf(doc, lines, path) };
}

/**
 * A ConfigDocument for data that did not come from parseConfigText: built in code, or parsed
 * elsewhere. With `source`, the text it was parsed from, messages get line numbers.
 */
export function configDocument(raw: unknown, source?: string): ConfigDocument {
  if (source !== undefined) {
    const lines = new (yaml().LineCounter)();
    const doc = yaml().parseDocument(source, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length === 0) return { raw, line: (path) => lineOf(doc, lines, path) };
  }
  return { raw, line: () => undefined };
}

function parseJson(text: string, file: string, options: ConfigFileOptions): ConfigDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8 says "... in JSON at position N" (and in newer versions "(line L column C)").
    const msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    const line = pos?.[1] === undefined ? undefined : lineOfOffset(text, Number(pos[1]));
    const what = msg.replace(/\s*in JSON at position \d+.*$/s, '').replace(/^JSON\.parse: /, '');
    throw new NfcError(options.code, `${file}${line === undefined ? '' : `:${line}`}: JSON syntax error: ${what}`, {
      fix: options.syntaxFix ?? SYNTAX_FIXES.json,
      cause: err,
    });
  }
  return configDocument(raw, text);
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** See ConfigDocument.line. */
function lineOf(doc: Document, lines: LineCounter, path: ConfigPath): number {
  const start = (node: unknown): number | undefined =>
    (node as { range?: [number, number, number] } | null)?.range?.[0];
  let node: unknown = doc.contents;
  let offset = start(node) ?? 0;
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      if (i === path.length - 1 || pair.value === null) return lines.linePos(start(pair.key) ?? offset).line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined || item === null) break;
      node = item;
    } else {
      break;
    }
    offset = start(node) ?? offset;
  }
  return lines.linePos(offset).line;
}

// ---------------------------------------------------------------------------------------------
// Problems → one error

/**
 * The one NfcError for `problems` (at least one): each as `<file>:<line>: <path>: <what>` and a
 * `fix:` line, sorted by line, identical lines once, at most MAX_LISTED listed. A single problem
 * is the message alone, its fix in NfcError.fix.
 */
export function configError(
  file: string,
  doc: ConfigDocument,
  problems: readonly ConfigProblem[],
  options: ConfigFileOptions,
): NfcError {
  const seen = new Set<string>();
  const rows: { line: number | undefined; text: string; fix: string | undefined }[] = [];
  for (const p of problems) {
    const line = doc.line(p.at ?? p.path);
    const where = describePath(p.path, doc.raw, options.namedItems ?? []);
    const text = `${file}${line === undefined ? '' : `:${line}`}: ${where === '' ? '' : `${where}: `}${p.what}`;
    if (seen.has(text)) continue; // e.g. an integer check and a power-of-two check on one value
    seen.add(text);
    rows.push({ line, text, fix: p.fix });
  }
  rows.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)); // stable: same-line problems keep their order
  const first = rows[0];
  if (rows.length === 1 && first !== undefined) {
    return new NfcError(options.code, first.text, first.fix === undefined ? undefined : { fix: first.fix });
  }
  const listed = rows.slice(0, MAX_LISTED).map((r) => (r.fix === undefined ? r.text : `${r.text}\n  fix: ${r.fix}`));
  if (rows.length > MAX_LISTED) {
    const more = rows.length - MAX_LISTED;
    listed.push(`(and ${more} more problem${more === 1 ? '' : 's'})`);
  }
  if (options.heading === true) listed.unshift(`${file}: ${rows.length} problems in ${options.what}:`);
  return new NfcError(options.code, listed.join('\n'));
}

/** `nfs[0] (monitor).module`: items of the `namedItems` lists carry their name, when they have one. */
function describePath(path: ConfigPath, raw: unknown, namedItems: readonly string[]): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
      const list = path[0];
      if (i === 1 && typeof list === 'string' && namedItems.includes(list)) {
        const name = valueAt(raw, [list, seg, 'name']).value;
        if (typeof name === 'string' && name !== '') out += ` (${name})`;
      }
    } else {
      out += out === '' ? seg : `.${seg}`;
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// zod issues → problems

/** What a file adds to problemsFromZod's wording; every hint is optional. */
export interface ZodHints {
  /** The keys the mapping at `path` takes: for "did you mean" and for the fix that lists them. */
  knownKeys?: (path: ConfigPath, raw: unknown) => readonly string[];
  /**
   * Words an unknown key `key` in the mapping at `path`, when the default will not do:
   * `<path>: unknown key "k"; did you mean "<guess>"?`, else a fix listing the known keys.
   * Return undefined to keep the default.
   */
  unknownKey?: (
    u: { path: ConfigPath; key: string; guess: string | undefined; known: readonly string[] },
    raw: unknown,
  ) => ConfigProblem | undefined;
  /** Words an issue the defaults cannot (e.g. a union on a discriminator); undefined keeps the default. */
  issue?: (issue: z.core.$ZodIssue, path: ConfigPath, raw: unknown) => ConfigProblem | undefined;
  /**
   * The fix for a missing or mistyped value at `path` (e.g. an example to copy). A missing key
   * with a fix is `missing required key "k"`; without, `missing required key "k" (<what k holds>)`.
   */
  fix?: (path: ConfigPath) => string | undefined;
}

/**
 * zod's issues worded for a config file, as `expected <issue message>, got <value>`. Parse with
 * `schema.safeParse(raw, { error: zodIssueMessage })` and give leaves of the schema messages
 * that read well after "expected" ("an integer in 1..31"). A misspelt key is reported once, as
 * unknown with a suggestion, not also as missing.
 */
export function problemsFromZod(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  hints: ZodHints = {},
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const pathOf = (issue: z.core.$ZodIssue): ConfigPath =>
    issue.path.filter((s): s is string | number => typeof s === 'string' || typeof s === 'number');
  // Unknown keys first: a misspelt key is also a missing one, and one message is enough.
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = pathOf(issue);
    const known = hints.knownKeys?.(path, raw) ?? [];
    for (const key of issue.keys) {
      const guess = didYouMean(key, known);
      if (guess !== undefined) suggested.add(JSON.stringify([...path, guess]));
      out.push(
        hints.unknownKey?.({ path, key, guess, known }, raw) ?? {
          path,
          at: [...path, key],
          what: `unknown ${path.length === 0 ? 'top-level ' : ''}key "${key}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
          fix: guess === undefined && known.length > 0 ? `valid keys here: ${known.join(', ')}` : undefined,
        },
      );
    }
  }
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = pathOf(issue);
    const last = path[path.length - 1];
    const { found, value } = valueAt(raw, path);
    if (!found && suggested.has(JSON.stringify(path))) continue;
    const own = hints.issue?.(issue, path, raw);
    if (own !== undefined) {
      out.push(own);
      continue;
    }
    const fix = hints.fix?.(path);
    if (!found && typeof last === 'string') {
      const holds = fix === undefined ? ` (${issue.message})` : '';
      out.push({ path: path.slice(0, -1), what: `missing required key "${last}"${holds}`, fix });
      continue;
    }
    if (path.length === 0 && (value === null || value === undefined)) {
      out.push({ path, what: `the file is empty; expected ${issue.message}`, fix });
      continue;
    }
    let what = `expected ${issue.message}, got ${describeValue(value)}`;
    if (issue.code === 'invalid_value' && typeof value === 'string') {
      const guess = didYouMean(value, issue.values.map(String));
      if (guess !== undefined) what += `; did you mean "${guess}"?`;
    }
    out.push({ path, what, fix });
  }
  return out;
}

/**
 * zod error map (`safeParse(raw, { error: zodIssueMessage })`) for checks that carry no message
 * of their own: the same noun phrases as a schema's own messages, to follow "expected".
 */
export function zodIssueMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return article(String(issue.expected));
    case 'too_small':
      return `a value >= ${String(issue.minimum)}`;
    case 'too_big':
      return `a value <= ${String(issue.maximum)}`;
    case 'invalid_value':
      return issue.values.map((v) => JSON.stringify(v)).join(' or ');
    default:
      return 'a valid value';
  }
}

function article(type: string): string {
  switch (type) {
    case 'object':
    case 'record':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'boolean':
      return 'true or false';
    case 'int':
      return 'an integer';
    default:
      return `a ${type}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Wording helpers, for a file's own checks too

/** The value at `path` in the raw document, and whether it is there at all. */
export function valueAt(raw: unknown, path: ConfigPath): { found: boolean; value: unknown } {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return { found: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: v };
}

/** The value as the user would recognise it in the file, to follow "got". */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v))
    return v.length === 0 ? 'an empty list' : `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}
