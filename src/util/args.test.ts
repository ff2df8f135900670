/**
 * The command-line parser (args.ts): every kind of flag, ranges and choices, repeatable lists,
 * `--key=value`, short forms, the optional value of a `bare` flag, `--` passthrough, and the
 * errors (naming the flag, with the usage and the nearest known flag in the fix line).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { flagSpecs, flagSynopsis, formatFlags, parseCommandLine, parseFreeFlags } from './args.js';

const SPECS = flagSpecs([
  { name: 'name', short: 'n', kind: 'string', default: 'default', value: 'N', help: 'the instance' },
  { name: 'label', kind: 'string', value: 'L', help: 'a label' },
  { name: 'poll', kind: 'string', choices: ['busy', 'adaptive'], help: 'how to wait' },
  { name: 'rate', kind: 'number', min: 0, default: 1000, value: 'PPS', help: 'packets per second' },
  { name: 'service', short: 's', kind: 'integer', min: 1, max: 31, value: 'N', help: 'the service' },
  { name: 'json', kind: 'boolean', help: 'JSON out' },
  { name: 'port', kind: 'list', value: 'P', help: 'a port' },
  { name: 'nfs', kind: 'list', of: 'integer', min: 1, max: 16, default: [1, 3], value: 'K,...', help: 'chain lengths' },
  { name: 'watch', kind: 'number', min: 0, bare: 1, value: 'S', help: 'repeat' },
]);
const USAGE = 'test [--name N] ...';

const parse = (...argv: string[]) => parseCommandLine(argv, SPECS, USAGE);

/** Asserts a usage error whose message matches `re` and whose fix line holds the usage. */
function usageError(argv: string[], re: RegExp): NfcError {
  let caught: unknown;
  try {
    parse(...argv);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof NfcError, `${argv.join(' ')}: expected an NfcError, got ${String(caught)}`);
  assert.equal(caught.code, 'NFC_ERR_USAGE');
  assert.match(caught.message, re, argv.join(' '));
  assert.ok(caught.fix?.includes(USAGE), `${argv.join(' ')}: the fix line gives the usage: ${caught.fix}`);
  return caught;
}

test('defaults: every flag with a default is there, booleans false, lists [] or their default', () => {
  const p = parse();
  assert.deepEqual(p.values, { name: 'default', rate: 1000, json: false, port: [], nfs: [1, 3] });
  assert.deepEqual(p.positionals, []);
  assert.deepEqual(p.rest, []);
  assert.equal(p.given.size, 0);
  // The types follow the specs (checked by the compiler).
  const name: string = p.values.name;
  const label: string | undefined = p.values.label;
  const poll: 'busy' | 'adaptive' | undefined = p.values.poll;
  const nfs: number[] = p.values.nfs;
  const json: boolean = p.values.json;
  assert.deepEqual([name, label, poll, nfs, json], ['default', undefined, undefined, [1, 3], false]);
  // @ts-expect-error: --label has no default, so it may be undefined
  const labelString: string = p.values.label;
  // @ts-expect-error: no such flag
  assert.equal(p.values.nosuch, undefined);
  assert.equal(labelString, undefined);
});

test('kinds: strings, numbers, integers, booleans; --key value and --key=value; short forms', () => {
  const p = parse('--name', 'lab', '--label=x=y', '--rate', '2.5', '-s', '7', '--json', '--poll=busy', 'a', 'b');
  assert.deepEqual(p.values, {
    name: 'lab',
    label: 'x=y',
    rate: 2.5,
    service: 7,
    json: true,
    poll: 'busy',
    port: [],
    nfs: [1, 3],
  });
  assert.deepEqual(p.positionals, ['a', 'b']);
  assert.deepEqual([...p.given].sort(), ['json', 'label', 'name', 'poll', 'rate', 'service']);
  assert.equal(parse('-n', 'x').values.name, 'x');
  assert.equal(parse('-s12').values.service, 12);
  assert.equal(parse('--name=').values.name, '', 'an empty value, joined, is a value');
  assert.equal(parse('--label', '-x').values.label, '-x', 'a value may start with one dash');
  assert.equal(parse('--name', 'a', '--name', 'b').values.name, 'b', 'the last one wins');
});

test('ranges and choices: the error names the flag as written and says what it takes', () => {
  usageError(['--service', '0'], /^--service needs an integer between 1 and 31, got 0/);
  usageError(['-s', '32'], /^-s needs an integer between 1 and 31, got 32/);
  usageError(['--service', '1.5'], /needs an integer between 1 and 31, got 1\.5/);
  usageError(['--rate', '-1'], /^--rate needs a non-negative number, got -1/);
  usageError(['--rate', 'fast'], /^--rate needs a non-negative number, got fast/);
  usageError(['--rate='], /^--rate needs a non-negative number, got $/m);
  usageError(['--poll', 'spin'], /^--poll takes busy or adaptive, got spin/);
  assert.equal(parse('--rate', '0').values.rate, 0);
  assert.equal(parse('--service', '31').values.service, 31);
});

test('missing values: at the end, or another flag where the value should be', () => {
  usageError(['--name'], /^--name needs a value \(N\)/);
  usageError(['--name', '--json'], /^--name needs a value/);
  usageError(['--rate'], /^--rate needs a value/);
  usageError(['--port'], /^--port needs a value/);
  usageError(['--port', ','], /^--port needs a value/);
});

test('booleans take no value', () => {
  usageError(['--json=yes'], /^--json takes no value/);
  assert.equal(parse('--json', 'word').values.json, true);
  assert.deepEqual(parse('--json', 'word').positionals, ['word'], 'the next word is a positional');
});

test('unknown flags are refused, with the nearest known one in the fix line', () => {
  const e = usageError(['--jsno'], /^unknown flag --jsno/);
  assert.match(e.fix!, /did you mean --json\?/);
  const far = usageError(['--frobnicate'], /^unknown flag --frobnicate/);
  assert.doesNotMatch(far.fix!, /did you mean/);
  usageError(['-x'], /^unknown flag -x/);
  usageError(['-1'], /unknown flag -1; a word that starts with - goes after --/);
  usageError(['--Name', 'x'], /^unknown flag --Name/);
  const hinted = (() => {
    try {
      parseCommandLine(['--ttl', '1'], SPECS, USAGE, { unknownHint: '(NF options go after --)' });
    } catch (err) {
      return err as NfcError;
    }
    return undefined;
  })();
  assert.match(hinted!.message, /^unknown flag --ttl \(NF options go after --\)/);
});

test('lists: repeatable, each value a comma list, items checked; a given flag replaces the default', () => {
  assert.deepEqual(parse('--port', 'gen', '--port', 'null').values.port, ['gen', 'null']);
  assert.deepEqual(parse('--port', 'gen,null', '--port=pcap').values.port, ['gen', 'null', 'pcap']);
  assert.deepEqual(parse('--nfs', '5').values.nfs, [5]);
  assert.deepEqual(parse('--nfs', '1, 2,,3').values.nfs, [1, 2, 3], 'items trimmed, empty ones dropped');
  usageError(['--nfs', '1,17'], /^--nfs needs an integer between 1 and 16 \(each of a comma list\), got 17/);
  const choice = flagSpecs([{ name: 'api', kind: 'list', choices: ['copy', 'zc'], default: ['copy'], help: 'x' }]);
  assert.deepEqual(parseCommandLine(['--api', 'zc,copy'], choice, USAGE).values.api, ['zc', 'copy']);
  assert.throws(
    () => parseCommandLine(['--api', 'dma'], choice, USAGE),
    /--api takes copy or zc \(each of a comma list\), got dma/,
  );
});

test('an optional value (--watch [S]): taken when the next word is a number', () => {
  assert.equal(parse().values.watch, undefined);
  assert.equal(parse('--watch').values.watch, 1);
  assert.equal(parse('--watch', '2.5').values.watch, 2.5);
  assert.equal(parse('--watch=3').values.watch, 3);
  const p = parse('--watch', '--json');
  assert.deepEqual([p.values.watch, p.values.json], [1, true]);
  const q = parse('--watch', 'word');
  assert.deepEqual([q.values.watch, q.positionals], [1, ['word']]);
  usageError(['--watch=-1'], /^--watch needs a non-negative number, got -1/);
});

test('everything after -- is left untouched in rest', () => {
  const p = parse('m.ts', '--json', '--', '--min', '5', '--json', '-x', '--', 'y');
  assert.deepEqual(p.positionals, ['m.ts']);
  assert.equal(p.values.json, true);
  assert.deepEqual(p.rest, ['--min', '5', '--json', '-x', '--', 'y']);
  assert.deepEqual(parse('--', '--watch').rest, ['--watch'], "not even a bare flag's value is joined after --");
  assert.equal(parse('--', '--watch').values.watch, undefined);
});

test('required flags', () => {
  const req = flagSpecs([{ name: 'service', kind: 'integer', required: true, value: 'N', help: 'x' }]);
  assert.throws(
    () => parseCommandLine([], req, USAGE),
    (e: unknown) => e instanceof NfcError && /^--service is required/.test(e.message),
  );
  const n: number = parseCommandLine(['--service', '2'], req, USAGE).values.service;
  assert.equal(n, 2);
});

test('declaring the same name twice is refused', () => {
  assert.throws(
    () =>
      flagSpecs([
        { name: 'a', kind: 'boolean', help: 'x' },
        { name: 'b', short: 'a', kind: 'boolean', help: 'y' },
      ]),
    /"a" is declared twice/,
  );
});

test('help lines and usage synopsis come from the specs', () => {
  const lines = formatFlags(SPECS);
  assert.equal(lines.length, SPECS.length);
  assert.match(lines[0]!, /^ {2}-n, --name N +the instance \(default "default"\)$/);
  assert.match(lines[2]!, /^ {6}--poll busy\|adaptive +how to wait$/);
  assert.match(lines[3]!, /^ {6}--rate PPS +packets per second \(default 1000\)$/);
  assert.match(lines[7]!, /--nfs K,\.\.\. +chain lengths \(default 1,3\)$/);
  assert.match(lines[8]!, /--watch \[S\] +repeat$/);
  // Every help text starts in the same column.
  assert.equal(new Set(lines.map((l, i) => l.indexOf(SPECS[i]!.help))).size, 1, lines.join('\n'));
  assert.equal(
    flagSynopsis(SPECS),
    '[--name N] [--label L] [--poll busy|adaptive] [--rate PPS] [--service N] ' +
      '[--json] [--port P ...] [--nfs K,...] [--watch [S]]',
  );
});

test("free flags (an NF's options after --): values are the next word unless it is another --flag", () => {
  assert.deepEqual(parseFreeFlags(['--min', '5', '--verbose', '--mode=fast', '--off', '-3', '--last']), {
    values: { min: '5', verbose: 'true', mode: 'fast', off: '-3', last: 'true' },
    stray: [],
  });
  assert.deepEqual(parseFreeFlags(['--a', '1', '--a', '2']).values, { a: '2' }, 'the last one wins');
  assert.deepEqual(parseFreeFlags(['--a=', '--b']).values, { a: '', b: 'true' });
  assert.deepEqual(parseFreeFlags(['--a', '1', 'x', '-y']).stray, ['x', '-y']);
  assert.deepEqual(parseFreeFlags(['--']).stray, ['--']);
});
