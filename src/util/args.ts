/**
 * The one command-line parser: the `nfchain` commands, `nfchain nf` (and the NF options after its
 * `--`) and the benchmarks all parse with it. A command declares its flags as specs (name, kind,
 * range, default, help); parsing, `--help` lines, usage synopses and the errors for unknown or
 * bad flags all come from those specs, so help cannot drift from behaviour.
 *
 * Built on node:util parseArgs. It runs in its non-strict mode with tokens, and the checks its
 * strict mode would make (unknown flags, missing values, values given to booleans) are made here
 * on the tokens, so that every error names the flag as the user wrote it, says what it takes and
 * ends with a `fix:` line (the usage; for an unknown flag also the nearest known one). Cold code.
 */
import { parseArgs } from 'node:util';
import { NfcError } from '../errors.js';
import { didYouMean } from './names.js';

interface FlagBase {
  /** the long name, without the dashes */
  readonly name: string;
  /** a one-letter alias, without the dash */
  readonly short?: string;
  /** one line for --help */
  readonly help: string;
  /** the value's placeholder in help and usage, e.g. 'S', 'PPS' (default: derived from the kind) */
  readonly value?: string;
}

/** Any text; `choices` restricts it. */
export interface StringFlag extends FlagBase {
  readonly kind: 'string';
  readonly choices?: readonly string[];
  readonly default?: string;
  readonly required?: boolean;
}

/** A number ('integer': a whole one), in [min, max] when given. */
export interface NumberFlag extends FlagBase {
  readonly kind: 'number' | 'integer';
  readonly min?: number;
  readonly max?: number;
  readonly default?: number;
  readonly required?: boolean;
  /**
   * The flag may come without a value: then it takes this one. A value is taken only when the
   * next word is a plain number (`--watch 2`) or is joined (`--watch=2`); util.parseArgs cannot
   * express an optional value, so these are joined before it runs.
   */
  readonly bare?: number;
}

/** Present or not (`--json`); takes no value. */
export interface BooleanFlag extends FlagBase {
  readonly kind: 'boolean';
}

/**
 * Repeatable, and each value a comma list: `--port gen --port null` and `--nfs 1,3,5` both give
 * every item. Items are strings, or numbers with `of`; `choices`, `min` and `max` apply to each.
 * A given flag replaces the default; without `default`, an absent flag gives [].
 */
export interface ListFlag extends FlagBase {
  readonly kind: 'list';
  readonly of?: 'string' | 'number' | 'integer';
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly default?: readonly (string | number)[];
}

export type FlagSpec = StringFlag | NumberFlag | BooleanFlag | ListFlag;

type ItemOf<S> = S extends { of: 'number' | 'integer' }
  ? number
  : S extends { choices: readonly (infer C)[] }
    ? C
    : string;
type ScalarOf<S> = S extends { kind: 'boolean' }
  ? boolean
  : S extends { kind: 'number' | 'integer' }
    ? number
    : S extends { kind: 'list' }
      ? ItemOf<S>[]
      : S extends { choices: readonly (infer C)[] }
        ? C
        : string;
type ValueOf<S> = S extends { kind: 'boolean' | 'list' }
  ? ScalarOf<S>
  : S extends { default: unknown } | { required: true }
    ? ScalarOf<S>
    : ScalarOf<S> | undefined;

/** The parsed values of `specs`, by flag name: booleans and lists always there, others when given or defaulted. */
export type FlagValues<S extends readonly FlagSpec[]> = { [F in S[number] as F['name']]: ValueOf<F> };

export interface Parsed<S extends readonly FlagSpec[] = readonly FlagSpec[]> {
  values: FlagValues<S>;
  /** the words that are not flags, before any `--` */
  positionals: string[];
  /** every word after the first bare `--`, untouched */
  rest: string[];
  /** the names of the flags given on the command line (defaults aside) */
  given: ReadonlySet<string>;
}

export interface ParseOptions {
  /** added to the message of an unknown flag, e.g. '(NF options go after --)' */
  unknownHint?: string;
}

/** Declares a command's flags (checks their shape; keeps their names' literal types for `Parsed`). */
export function flagSpecs<const S extends readonly FlagSpec[]>(specs: S): S {
  const seen = new Set<string>();
  for (const s of specs) {
    for (const n of [s.name, s.short]) {
      if (n === undefined) continue;
      if (seen.has(n)) throw new NfcError('NFC_ERR_INVALID_ARG', `flag specs: "${n}" is declared twice`);
      seen.add(n);
    }
    if (s.short !== undefined && s.short.length !== 1) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `flag specs: --${s.name}'s short form must be one letter`);
    }
  }
  return specs;
}

/** `--name` as help and usage show it, with its placeholder: `--ttl S`, `--watch [S]`, `--json`. */
function flagWithValue(s: FlagSpec): string {
  if (s.kind === 'boolean') return `--${s.name}`;
  const v = valuePlaceholder(s);
  const optional = (s.kind === 'number' || s.kind === 'integer') && s.bare !== undefined;
  return optional ? `--${s.name} [${v}]` : `--${s.name} ${v}`;
}

/** A flag's value placeholder: its `value`, else its choices (`busy|adaptive`), else N or VALUE. */
export function valuePlaceholder(s: Exclude<FlagSpec, BooleanFlag>): string {
  if (s.value !== undefined) return s.value;
  if (s.kind === 'number' || s.kind === 'integer') return 'N';
  if ((s.kind === 'string' || s.kind === 'list') && s.choices) return s.choices.join('|');
  return s.kind === 'list' && s.of !== undefined && s.of !== 'string' ? 'N' : 'VALUE';
}

/** The flags part of a usage line: `--service N [--ttl S] [--json] [--port P ...]`. */
export function flagSynopsis(specs: readonly FlagSpec[]): string {
  return specs
    .map((s) => {
      const f = flagWithValue(s);
      if (s.kind === 'list') return f.endsWith('...') ? `[${f}]` : `[${f} ...]`;
      return s.kind !== 'boolean' && s.required ? f : `[${f}]`;
    })
    .join(' ');
}

/** A usage line: `head` (the command and its arguments) followed by the flags' synopsis. */
export function usageLine(head: string, specs: readonly FlagSpec[]): string {
  return specs.length ? `${head} ${flagSynopsis(specs)}` : head;
}

function showDefault(s: FlagSpec): string {
  if (s.kind === 'boolean' || s.default === undefined) return '';
  const d =
    s.kind === 'list' ? s.default.join(',') : s.kind === 'string' ? JSON.stringify(s.default) : String(s.default);
  return ` (default ${d})`;
}

/** The --help lines of `specs`: `  -s, --service N   help (default …)`, aligned. */
export function formatFlags(specs: readonly FlagSpec[], indent = '  '): string[] {
  const anyShort = specs.some((s) => s.short !== undefined);
  const left = specs.map((s) => (s.short !== undefined ? `-${s.short}, ` : anyShort ? '    ' : '') + flagWithValue(s));
  const w = Math.max(0, ...left.map((l) => l.length));
  return specs.map((s, i) => `${indent}${left[i]!.padEnd(w)}   ${s.help}${showDefault(s)}`);
}

/** What a number flag takes, for errors: 'an integer between 1 and 31', 'a non-negative number'. */
function numberWants(kind: 'number' | 'integer', min: number | undefined, max: number | undefined): string {
  const noun = kind === 'integer' ? 'integer' : 'number';
  const a = kind === 'integer' ? 'an integer' : 'a number';
  if (min !== undefined && max !== undefined) return `${a} between ${min} and ${max}`;
  if (min === 0) return `a non-negative ${noun}`;
  if (min !== undefined) return `${a} of at least ${min}`;
  if (max !== undefined) return `${a} of at most ${max}`;
  return a;
}

function orList(xs: readonly string[]): string {
  return xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}` : (xs[0] ?? '');
}

/**
 * Joins an optional value to its flag (`--watch 2` → `--watch=2`, a bare `--watch` →
 * `--watch=<bare>`) for the flags that have one, up to the first `--`.
 */
function joinBareValues(argv: readonly string[], specs: readonly FlagSpec[]): string[] {
  const bare = new Map<string, NumberFlag>();
  for (const s of specs) {
    if ((s.kind === 'number' || s.kind === 'integer') && s.bare !== undefined) {
      bare.set(`--${s.name}`, s);
      if (s.short !== undefined) bare.set(`-${s.short}`, s);
    }
  }
  if (bare.size === 0) return [...argv];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const s = bare.get(a);
    if (!s) {
      out.push(a);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && /^\d+(\.\d+)?$/.test(next)) {
      out.push(`--${s.name}=${next}`);
      i++;
    } else out.push(`--${s.name}=${s.bare}`);
  }
  return out;
}

/**
 * Parses `argv` against `specs`: `--key value`, `--key=value`, `-k value`, `--flag`, repeated
 * list flags; words that are not flags are positionals; everything after a bare `--` is left
 * in `rest` untouched. Throws NfcError NFC_ERR_USAGE, naming the flag and with `usage` in its
 * fix line, for an unknown flag, a missing value, a value given to a boolean, a bad number, a
 * value out of range or not among the choices, and a missing required flag.
 */
export function parseCommandLine<const S extends readonly FlagSpec[]>(
  argv: readonly string[],
  specs: S,
  usage: string,
  opts: ParseOptions = {},
): Parsed<S> {
  const args = joinBareValues(argv, specs);
  const byName = new Map<string, FlagSpec>(specs.map((s) => [s.name, s]));
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const s of specs) {
    config[s.name] = {
      type: s.kind === 'boolean' ? 'boolean' : 'string',
      ...(s.short !== undefined ? { short: s.short } : {}),
      ...(s.kind === 'list' ? { multiple: true } : {}),
    };
  }
  const { tokens } = parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });
  const usageError = (message: string, fix = usage): never => {
    throw new NfcError('NFC_ERR_USAGE', message, { fix });
  };
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  let rest: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') {
      rest = args.slice(t.index + 1);
      break;
    }
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    const raw = t.rawName;
    const s = byName.get(t.name);
    if (!s) {
      const near = didYouMean(
        raw.replace(/^-+/, ''),
        specs.map((x) => x.name),
      );
      const hint = opts.unknownHint ? ` ${opts.unknownHint}` : '';
      const asWord = /^-\d/.test(raw) ? '; a word that starts with - goes after --, e.g. -- -1' : '';
      const fix = near ? `did you mean --${near}? Usage: ${usage}` : usage;
      return usageError(`unknown flag ${raw}${hint}${asWord}`, fix);
    }
    given.add(s.name);
    if (s.kind === 'boolean') {
      if (t.value !== undefined) usageError(`${raw} takes no value (got ${raw}=${t.value})`);
      values[s.name] = true;
      continue;
    }
    const v = t.value;
    if (v === undefined || (!t.inlineValue && v.startsWith('--'))) {
      return usageError(`${raw} needs a value (${valuePlaceholder(s)})`);
    }
    if (s.kind === 'list') {
      const items = v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
      if (items.length === 0) usageError(`${raw} needs a value (${valuePlaceholder(s)})`);
      const prev = (values[s.name] as unknown[] | undefined) ?? [];
      values[s.name] = [...prev, ...items.map((x) => item(raw, s, x, usageError))];
      continue;
    }
    values[s.name] =
      s.kind === 'string' ? choice(raw, s.choices, v, '', usageError) : number(raw, s.kind, s, v, '', usageError);
  }
  for (const s of specs) {
    if (Object.hasOwn(values, s.name)) continue;
    if (s.kind === 'boolean') values[s.name] = false;
    else if (s.kind === 'list') values[s.name] = s.default ? [...s.default] : [];
    else if (s.default !== undefined) values[s.name] = s.default;
    else if (s.required) usageError(`--${s.name} is required`);
  }
  return { values: values as FlagValues<S>, positionals, rest, given };
}

type Fail = (message: string) => never;

function item(raw: string, s: ListFlag, x: string, fail: Fail): string | number {
  const each = ' (each of a comma list)';
  if (s.of === 'number' || s.of === 'integer') return number(raw, s.of, s, x, each, fail);
  return choice(raw, s.choices, x, each, fail);
}

function choice(raw: string, choices: readonly string[] | undefined, v: string, each: string, fail: Fail): string {
  if (choices && !choices.includes(v)) fail(`${raw} takes ${orList(choices)}${each}, got ${v}`);
  return v;
}

function number(
  raw: string,
  kind: 'number' | 'integer',
  s: { min?: number; max?: number },
  v: string,
  each: string,
  fail: Fail,
): number {
  const n = v.trim() === '' ? NaN : Number(v);
  const ok =
    Number.isFinite(n) &&
    (kind === 'number' || Number.isInteger(n)) &&
    (s.min === undefined || n >= s.min) &&
    (s.max === undefined || n <= s.max);
  if (!ok) fail(`${raw} needs ${numberWants(kind, s.min, s.max)}${each}, got ${v}`);
  return n;
}

/**
 * `--key value`, `--key=value` and `--flag` words whose keys are not known here (an NF's options:
 * its own declaration types and checks them later). A key's value is the next word unless that
 * is another `--key` (then the flag alone gives 'true'); the last of a repeated key wins. Every
 * word must belong to a `--key`: the others are returned in `stray`, first one first.
 */
export function parseFreeFlags(argv: readonly string[]): { values: Record<string, string>; stray: string[] } {
  // util.parseArgs cannot know which unknown keys take a value: each value is joined to its
  // key first (`--min 5` → `--min=5`), so that it sees only `--key` and `--key=value` words.
  const joined: string[] = [];
  const stray: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || a === '--' || a.startsWith('--=')) {
      stray.push(a);
      continue;
    }
    const next = argv[i + 1];
    if (a.includes('=') || next === undefined || next.startsWith('--')) joined.push(a);
    else {
      joined.push(`${a}=${next}`);
      i++;
    }
  }
  const values: Record<string, string> = {};
  const { tokens } = parseArgs({ args: joined, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'option') values[t.name] = t.value ?? 'true';
  }
  return { values, stray };
}
