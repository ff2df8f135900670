/**
 * What a command of the `nfchain` table is, and everything derived from an entry: its usage
 * line, its --help text, the parsing of its command line against its flag specs (unknown flags
 * refused) and the call of its handler. The table itself is in table.ts; this module loads
 * nothing but the parser.
 */
import { NfcError } from '../errors.js';
import { type FlagSpec, formatFlags, type Parsed, parseCommandLine, usageLine } from '../util/args.js';

/** A command (or one verb of a command with verbs): its flags, its help, its handler. */
export interface Command<S extends readonly FlagSpec[] = readonly FlagSpec[]> {
  /** the command's name, or the verb's (`add` of `nfchain flow add`) */
  readonly name: string;
  /** one line for the command list */
  readonly summary: string;
  /** what follows the name in the usage, besides the flags: '<topology.yaml|.json>' */
  readonly args?: string;
  readonly flags: S;
  /** the usage line when another module needs the same one (nflib/usage.ts); default: generated */
  readonly usage?: string;
  /** prose printed after the flag lines in --help */
  readonly help?: string;
  /**
   * Words after `--` are the command's own business (`nfchain nf`: the NF's options): they are
   * handed over in `rest`. Without it, they are positionals like the others.
   */
  readonly passthrough?: boolean;
  /** added to the error for an unknown flag (`nfchain nf`: '(NF options go after --)') */
  readonly unknownHint?: string;
  /** runs the command (loading its module on demand); resolves with the exit code */
  run(p: Parsed<S>, usage: string): Promise<number>;
}

/** A command made of verbs (`nfchain flow add|del|list`), each a Command with its own flags. */
export interface VerbCommand {
  readonly name: string;
  readonly summary: string;
  readonly help?: string;
  readonly verbs: readonly Command[];
}

/**
 * A command whose subcommands are loaded on demand (`nfchain bench <name>`): it generates its
 * own help and parses its own command line, with the same parser.
 */
export interface CustomCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** the help for `words` (what followed the command's name, --help taken out) */
  help(words: readonly string[]): Promise<string>;
  run(argv: readonly string[]): Promise<number>;
}

export type Entry = Command | VerbCommand | CustomCommand;

/** Declares a command: checks that the handler takes what its flags give (types only). */
export function command<const S extends readonly FlagSpec[]>(c: Command<S>): Command {
  return c as unknown as Command;
}

export const isVerbs = (e: Entry): e is VerbCommand => 'verbs' in e;
export const isCustom = (e: Entry): e is CustomCommand => 'help' in e && typeof e.help === 'function';

function commandUsage(c: Command, prefix: string): string {
  return (
    c.usage ??
    usageLine(`${prefix} ${c.name}${c.args ? ` ${c.args}` : ''}`, c.flags) + (c.passthrough ? ' [-- ...]' : '')
  );
}

/** The flags of every verb, each name once (verbs share specs such as --name). */
function unionFlags(verbs: readonly Command[]): FlagSpec[] {
  const out = new Map<string, FlagSpec>();
  for (const v of verbs) for (const f of v.flags) if (!out.has(f.name)) out.set(f.name, f);
  return [...out.values()];
}

/** The usage line of an entry: `nfchain start <topology.yaml|.json> [--name N] ...`, `nfchain flow add|del|list ...` */
export function entryUsage(e: Entry): string {
  if (isCustom(e)) return e.usage;
  if (isVerbs(e)) return `nfchain ${e.name} ${e.verbs.map((v) => v.name).join('|')} [options]`;
  return commandUsage(e, 'nfchain');
}

/** The usage line of each verb. */
function verbUsages(e: VerbCommand): string[] {
  return e.verbs.map((v) => commandUsage(v, `nfchain ${e.name}`));
}

/** `nfchain <command> --help`: usage, summary, the flag lines, the prose. */
export async function entryHelp(e: Entry, words: readonly string[] = []): Promise<string> {
  if (isCustom(e)) return e.help(words);
  const out = [`Usage: ${entryUsage(e)}`, '', e.summary];
  if (isVerbs(e)) {
    const usages = verbUsages(e);
    out.push('', ...e.verbs.flatMap((v, i) => [`  ${usages[i]}`, `      ${v.summary}`]));
    const flags = unionFlags(e.verbs);
    if (flags.length) out.push('', 'Options:', ...formatFlags(flags));
  } else if (e.flags.length) {
    out.push('', 'Options:', ...formatFlags(e.flags));
  }
  if (e.help) out.push('', e.help);
  return out.join('\n');
}

/** Runs an entry with the words after its name: parses them against its specs, then calls its handler. */
export async function runEntry(e: Entry, argv: readonly string[]): Promise<number> {
  if (isCustom(e)) return e.run(argv);
  if (!isVerbs(e)) return runCommand(e, argv, commandUsage(e, 'nfchain'));
  // Find the verb first (the first positional, flags of any verb around it), then parse again
  // with that verb's flags alone.
  const all = verbUsages(e).join('\n       ');
  // (a verb's required flags are checked in the second pass, with that verb's)
  const first = parseCommandLine(
    argv,
    unionFlags(e.verbs).map((f) => ({ ...f, required: false })),
    all,
  );
  const names = e.verbs.map((v) => v.name);
  const verbName = first.positionals[0];
  const verb = e.verbs.find((v) => v.name === verbName);
  if (!verb) {
    const choices = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
    throw new NfcError(
      'NFC_ERR_USAGE',
      verbName === undefined
        ? `nfchain ${e.name}: say ${choices}`
        : `unknown ${e.name} action "${verbName}": use ${choices}`,
      { fix: all },
    );
  }
  const usage = commandUsage(verb, `nfchain ${e.name}`);
  for (const g of first.given) {
    if (!verb.flags.some((f) => f.name === g)) {
      throw new NfcError('NFC_ERR_USAGE', `${e.name} ${verb.name} takes no --${g}`, { fix: usage });
    }
  }
  return runCommand(verb, argv, usage, 1);
}

/** Parses and runs; `skip` positionals (a verb) are dropped first. */
async function runCommand(c: Command, argv: readonly string[], usage: string, skip = 0): Promise<number> {
  const p = parseCommandLine(argv, c.flags, usage, c.unknownHint !== undefined ? { unknownHint: c.unknownHint } : {});
  p.positionals.splice(0, skip);
  if (!c.passthrough && p.rest.length) p.positionals.push(...p.rest.splice(0));
  if (c.args === undefined && p.positionals.length) {
    throw new NfcError('NFC_ERR_USAGE', `unexpected argument "${p.positionals[0]}"`, { fix: usage });
  }
  return c.run(p, usage);
}
