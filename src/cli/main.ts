#!/usr/bin/env node
/**
 * The `nfchain` command: finds the command in the table (table.ts) and runs it; `--help`,
 * `nfchain help <command>` and `--version` are answered here, from the same table, so help and
 * behaviour cannot drift apart.
 */
import { NfcError } from '../errors.js';
import { nfchainVersion } from '../util/version.js';
import { entryHelp, runEntry } from './command.js';
import { COMMANDS } from './table.js';

function version(): string {
  return nfchainVersion();
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
    "Run `nfchain <command> --help` for a command's options. `nfchain --version` prints the version.",
  ].join('\n');
}

function find(name: string): (typeof COMMANDS)[number] {
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    throw new NfcError('NFC_ERR_USAGE', `unknown command "${name}"`, {
      fix: 'run `nfchain --help` for the list of commands',
    });
  }
  return cmd;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // A reader that stops early (`nfchain stats --watch | head`) closes the pipe: end quietly, as
  // other Unix tools do, instead of dying of an unhandled EPIPE. Not for `nfchain nf`: an NF
  // outlives its output (its runner ignores the error and goes on).
  if (name !== 'nf') {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (name === 'help') {
    const [topic, ...words] = rest;
    process.stdout.write(`${await entryHelp(find(topic!), words)}\n`);
    return 0;
  }
  const cmd = find(name);
  // --help anywhere before a `--` (what follows `--` is for the command: an NF's options).
  const dd = rest.indexOf('--');
  const own = dd >= 0 ? rest.slice(0, dd) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(
      `${await entryHelp(
        cmd,
        own.filter((w) => w !== '--help' && w !== '-h'),
      )}\n`,
    );
    return 0;
  }
  return runEntry(cmd, rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
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
