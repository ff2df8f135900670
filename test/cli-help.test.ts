/**
 * `nfchain <command> --help` as a user runs it, for every entry of the command table and every
 * benchmark: its option lines name exactly the flags its specs declare, its usage line all of
 * them, `nfchain help <command>` prints the same; and an unknown flag is refused (exit 2,
 * NFC_ERR_USAGE) by every command, every verb and every benchmark before it does anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../src/cli/table.js';
import { BENCHES } from '../src/cli/bench.js';
import { type Command, isCustom, isVerbs, type VerbCommand } from '../src/cli/command.js';
import type { FlagSpec } from '../src/util/args.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** The flag names of the "Options:" lines of a help text (`  -s, --service N   ...`, `  --json   ...`). */
function optionLines(help: string): string[] {
  const at = help.indexOf('\nOptions:\n');
  assert.ok(at >= 0, `no Options: section in\n${help}`);
  const names: string[] = [];
  for (const line of help.slice(at + '\nOptions:\n'.length).split('\n')) {
    const m = /^ {2}(?:-[a-zA-Z], | {4})?--([a-z0-9-]+)/.exec(line);
    if (!m) break;
    names.push(m[1]!);
  }
  return names;
}

function usageLine(help: string): string {
  const m = /^Usage: (.*)$/m.exec(help);
  assert.ok(m, `no Usage: line in\n${help}`);
  return m[1]!;
}

/** What the usage line names as flags. */
function usageFlags(line: string): string[] {
  return [...line.matchAll(/(?:^|[\s[])--([a-z0-9-]+)/g)].map((m) => m[1]!);
}

const names = (flags: readonly FlagSpec[]): string[] => flags.map((f) => f.name);

/** Every flag of a command with verbs, once. */
function union(flags: (readonly FlagSpec[])[]): string[] {
  return [...new Set(flags.flatMap(names))];
}

test("every command's --help lists exactly the flags its specs declare; help <command> says the same", {
  timeout: 120_000,
}, async () => {
  await Promise.all(
    COMMANDS.filter((e): e is Command | VerbCommand => !isCustom(e)).map(async (e) => {
      const [help, viaHelp] = await Promise.all([cli(e.name, '--help'), cli('help', e.name)]);
      assert.equal(help.status, 0, `${e.name} --help: ${help.stderr}`);
      assert.equal(viaHelp.stdout, help.stdout, `nfchain help ${e.name} prints what ${e.name} --help prints`);
      assert.ok(help.stdout.includes(e.summary), `${e.name} --help has the summary`);
      if (isVerbs(e)) {
        assert.deepEqual(optionLines(help.stdout), union(e.verbs.map((v) => v.flags)), e.name);
        for (const v of e.verbs) {
          const prefix: string = `  nfchain ${e.name} ${v.name}`;
          const line: string | undefined = help.stdout.split('\n').find((l) => l.startsWith(prefix));
          assert.ok(line, `${e.name} --help shows the usage of ${v.name}`);
          assert.deepEqual(usageFlags(line), names(v.flags), `${e.name} ${v.name}'s usage line`);
        }
      } else {
        assert.deepEqual(optionLines(help.stdout), names(e.flags), e.name);
        const inUsage = usageFlags(usageLine(help.stdout)).filter((f) => f !== 'option'); // nf's [-- --option value ...]
        assert.deepEqual(inUsage, names(e.flags), `${e.name}'s usage line`);
      }
    }),
  );
});

test("every benchmark's --help lists exactly the flags it declares; bench --help lists every benchmark", {
  timeout: 120_000,
}, async () => {
  const all = await cli('bench', '--help');
  assert.equal(all.status, 0, all.stderr);
  await Promise.all(
    BENCHES.map(async (b) => {
      const { flags } = await b.load();
      assert.ok(all.stdout.includes(`  ${b.name.padEnd(8)} ${b.summary}`), `bench --help lists ${b.name}`);
      const [help, viaHelp] = await Promise.all([cli('bench', b.name, '--help'), cli('help', 'bench', b.name)]);
      assert.equal(help.status, 0, `bench ${b.name} --help: ${help.stderr}`);
      assert.equal(viaHelp.stdout, help.stdout);
      assert.deepEqual(optionLines(help.stdout), names(flags), `bench ${b.name}`);
      assert.deepEqual(usageFlags(usageLine(help.stdout)), names(flags), `bench ${b.name}'s usage line`);
    }),
  );
});

test('an unknown flag is refused by every command, verb and benchmark before it does anything', {
  timeout: 120_000,
}, async () => {
  const lines: string[][] = [];
  for (const e of COMMANDS) {
    if (isCustom(e)) continue;
    if (isVerbs(e)) for (const v of e.verbs) lines.push([e.name, v.name, '--no-such-flag']);
    else lines.push([e.name, ...(e.name === 'nf' ? ['x.js', '--service', '1'] : []), '--no-such-flag']);
  }
  for (const b of BENCHES) lines.push(['bench', b.name, '--no-such-flag']);
  await Promise.all(
    lines.map(async (args) => {
      const r = await cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /unknown flag --no-such-flag/, args.join(' '));
      assert.match(r.stderr, /fix: .*nfchain /, args.join(' '));
      assert.match(r.stderr, /\[NFC_ERR_USAGE\]/, args.join(' '));
    }),
  );
});

test('a flag of another verb is refused by name; a misspelt one gets a suggestion', async () => {
  const r = await cli('flow', 'list', '--chain', 'x');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /flow list takes no --chain/);
  const typo = await cli('status', '--jsno');
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /unknown flag --jsno\n {2}fix: did you mean --json\?/);
  const nf = await cli('nf', 'x.js', '--service', '1', '--min', '5');
  assert.match(nf.stderr, /unknown flag --min \(NF options go after --\)/);
});
