#!/usr/bin/env node
/**
 * The `nfchain` command. One table lists every command with its usage and help; `--help`
 * is generated from it, so help and behaviour cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { NfcError } from '../errors.js';
import { BENCHES, runBench } from './bench.js';

interface Command {
  name: string;
  usage: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Command[] = [
  {
    name: 'bench',
    usage: 'nfchain bench <name> [--json] [options]',
    summary: 'run a benchmark and print `name k=v: rate (ns/item)` lines',
    help: [
      'Benchmarks (each parameter combination runs in fresh processes, several times; the median is printed):',
      ...BENCHES.map((b) => `  ${b.name.padEnd(8)} ${b.summary}\n           options: ${b.options}`),
      '',
      'Common options:',
      '  --json       print one JSON object per line: { bench, <params>, mpps|mdesc|mbufs, nsPerPkt, runs }',
      '  --runs R     runs per combination (default 5)',
      '',
      'Benchmarks share the machine with everything else: run them on a quiet machine.',
    ].join('\n'),
    run: (argv) => runBench(argv),
  },
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'nfchain: NFV platform — shared-memory packet pool, descriptor rings, NF processes and service chains',
    '',
    'Usage: nfchain <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `nfchain <command> --help` for a command\'s options. `nfchain --version` prints the version.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write((topic ? `${topic.usage}\n\n${topic.summary}\n\n${topic.help}` : usage()) + '\n');
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    throw new NfcError('NFC_ERR_USAGE', `unknown command "${name}"`, { fix: `run \`nfchain --help\` for the list of commands` });
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage}\n\n${cmd.summary}\n\n${cmd.help}\n`);
    return 0;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof NfcError) {
      process.stderr.write(`nfchain: ${err.message} [${err.code}]\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`nfchain: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
