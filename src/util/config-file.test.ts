/**
 * Tests for the config-file helpers, used the way an NF author would for a file of their own:
 * read it, check its shape with a zod schema, check the rest by hand, and get one NfcError that
 * names the file, the line, the field and the fix of every problem. Files are written inline into
 * a temporary directory so that each shows the line its error names.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { NfcError } from '../errors.js';
import {
  configDocument,
  configError,
  didYouMean,
  parseConfigText,
  problemsFromZod,
  readConfigFile,
  zodIssueMessage,
  type ConfigDocument,
  type ConfigFileOptions,
  type ConfigProblem,
} from './config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fixture(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** A rules file of a made-up firewall NF. */
const RULES: ConfigFileOptions = { code: 'NFC_ERR_NF_OPTION', what: 'the rules file', namedItems: ['rules'] };
const RuleSchema = z.strictObject({
  name: z.string(),
  port: z.number({ error: 'a port number' }).int('a port number'),
  action: z.enum(['allow', 'deny'], { error: '"allow" or "deny"' }),
});
const RulesSchema = z.strictObject({ rules: z.array(RuleSchema) });
const hints = {
  knownKeys: (path: readonly (string | number)[]) =>
    Object.keys(path.length === 0 ? RulesSchema.shape : RuleSchema.shape),
};

/** Reads and checks a rules file as an NF would: schema, then its own checks. */
function loadRules(path: string): z.output<typeof RulesSchema> {
  const doc: ConfigDocument = readConfigFile(path, RULES);
  const shape = RulesSchema.safeParse(doc.raw, { error: zodIssueMessage });
  if (!shape.success) throw configError(path, doc, problemsFromZod(shape.error.issues, doc.raw, hints), RULES);
  const problems: ConfigProblem[] = [];
  shape.data.rules.forEach((r, i) => {
    if (r.port < 1 || r.port > 65535)
      problems.push({ path: ['rules', i, 'port'], what: `port ${r.port} is out of range`, fix: 'use 1..65535' });
  });
  if (problems.length > 0) throw configError(path, doc, problems, RULES);
  return shape.data;
}

/** The NfcError `fn` throws, with its code checked. */
function errorOf(fn: () => unknown): NfcError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NfcError, `expected NfcError, got ${String(err)}`);
    assert.equal(err.code, 'NFC_ERR_NF_OPTION');
    return err;
  }
  return assert.fail('expected an error');
}

test('a valid file loads', () => {
  const path = fixture('ok.yaml', 'rules:\n  - { name: web, port: 80, action: allow }\n');
  assert.deepEqual(loadRules(path), { rules: [{ name: 'web', port: 80, action: 'allow' }] });
});

test('two problems: one error listing both, in file order, with their lines and fixes', () => {
  const path = fixture(
    'two.yaml',
    [
      'rules:',
      '  - name: web',
      '    port: 80',
      '    action: allow',
      '  - name: dns',
      '    port: 70000',
      '    action: allow',
      '  - { name: ssh, port: 0, action: deny }',
      '',
    ].join('\n'),
  );
  const err = errorOf(() => loadRules(path));
  assert.deepEqual(err.message.split('\n'), [
    `${path}:6: rules[1] (dns).port: port 70000 is out of range`,
    '  fix: use 1..65535',
    `${path}:8: rules[2] (ssh).port: port 0 is out of range`,
    '  fix: use 1..65535',
  ]);
  assert.equal(err.fix, undefined, 'several problems: the fixes are in the message');
  // With `heading`, the list starts with a count.
  const doc = parseConfigText('a: 1\nb: 2\n', 'h.yaml', RULES);
  const headed = configError(
    'h.yaml',
    doc,
    [
      { path: ['b'], what: 'bad b' },
      { path: ['a'], what: 'bad a' },
    ],
    { ...RULES, heading: true },
  );
  assert.equal(headed.message, 'h.yaml: 2 problems in the rules file:\nh.yaml:1: a: bad a\nh.yaml:2: b: bad b');
});

test('one problem: the message names it, the fix goes into NfcError.fix', () => {
  const err = errorOf(() => loadRules(fixture('one.yaml', 'rules:\n  - { name: ssh, port: 0, action: deny }\n')));
  assert.equal(
    err.message,
    `${join(dir, 'one.yaml')}:2: rules[0] (ssh).port: port 0 is out of range\n  fix: use 1..65535`,
  );
  assert.equal(err.fix, 'use 1..65535');
});

test('zod issues: an unknown key gets "did you mean" (and no extra "missing"), a bad value says expected vs got', () => {
  const path = fixture('keys.yaml', 'rules:\n  - name: web\n    prot: 80\n    action: alow\n');
  const err = errorOf(() => loadRules(path));
  assert.deepEqual(err.message.split('\n'), [
    `${path}:3: rules[0] (web): unknown key "prot"; did you mean "port"?`,
    `${path}:4: rules[0] (web).action: expected "allow" or "deny", got the string "alow"; did you mean "allow"?`,
  ]);
  // Nothing close: the fix lists the keys the mapping takes.
  const far = errorOf(() => loadRules(fixture('far.yaml', 'rules: []\ncolour: red\n')));
  assert.equal(
    far.message,
    `${join(dir, 'far.yaml')}:2: unknown top-level key "colour"\n  fix: valid keys here: rules`,
  );
  // A missing key says what it holds; a value of the wrong type says what it got.
  const missing = errorOf(() => loadRules(fixture('missing.yaml', 'rules:\n  - { name: web, port: "80" }\n')));
  assert.match(
    missing.message,
    /missing\.yaml:2: rules\[0\] \(web\): missing required key "action" \("allow" or "deny"\)$/m,
  );
  assert.match(
    missing.message,
    /missing\.yaml:2: rules\[0\] \(web\)\.port: expected a port number, got the string "80"$/m,
  );
});

test('a missing file: the path, the errno and a fix', () => {
  const err = errorOf(() => readConfigFile(join(dir, 'absent.yaml'), RULES));
  assert.match(err.message, /absent\.yaml: cannot read the rules file \(ENOENT\)/);
  assert.match(err.fix ?? '', /check the path/);
  const own = errorOf(() =>
    readConfigFile(join(dir, 'absent.yaml'), { ...RULES, notFoundFix: 'check the "rules" option' }),
  );
  assert.equal(own.fix, 'check the "rules" option');
});

test('syntax errors name their line', () => {
  const yaml = errorOf(() => readConfigFile(fixture('syntax.yaml', 'rules:\n  - name: web\n   port: 80\n'), RULES));
  assert.match(yaml.message, /syntax\.yaml:3: syntax error: \S/);
  const asYaml = errorOf(() => parseConfigText('a: [1, 2\n', 'x.yaml', { ...RULES, format: 'yaml' }));
  assert.match(asYaml.message, /^x\.yaml:\d+: YAML syntax error: \S/);
  const json = errorOf(() => parseConfigText('{\n  "rules": [],\n}\n', 'x.json', { ...RULES, format: 'json' }));
  assert.match(json.message, /^x\.json:3: JSON syntax error: \S/);
  assert.match(json.fix ?? '', /double-quoted keys/);
});

test('JSON gets line numbers too; data without its text gets none', () => {
  const text = '{\n  "rules": [\n    { "name": "web", "port": 0, "action": "deny" }\n  ]\n}\n';
  const err = errorOf(() => loadRules(fixture('rules.json', text)));
  assert.match(err.message, /rules\.json:3: rules\[0\] \(web\)\.port: port 0 is out of range/);
  const problem: ConfigProblem = { path: ['rules', 0, 'port'], what: 'port 0 is out of range' };
  assert.equal(
    configError('x', configDocument(JSON.parse(text), text), [problem], RULES).message,
    'x:3: rules[0] (web).port: port 0 is out of range',
  );
  assert.equal(
    configError('x', configDocument(JSON.parse(text)), [problem], RULES).message,
    'x: rules[0] (web).port: port 0 is out of range',
  );
});

test('long lists are cut, and counted', () => {
  const doc = configDocument({});
  const problems = Array.from({ length: 12 }, (_, i) => ({ path: [`k${i}`], what: 'bad' }));
  const lines = configError('f', doc, problems, RULES).message.split('\n');
  assert.equal(lines.length, 11);
  assert.equal(lines[10], '(and 2 more problems)');
});

test('didYouMean: within two edits, transpositions count once, case ignored, nothing for far or short words', () => {
  assert.equal(didYouMean('servcie', ['name', 'service']), 'service');
  assert.equal(didYouMean('Port', ['port']), 'port');
  assert.equal(didYouMean('pi', ['ip']), 'ip');
  assert.equal(didYouMean('x', ['ip']), undefined);
  assert.equal(didYouMean('banana', ['name', 'service']), undefined);
});
