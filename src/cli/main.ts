#!/usr/bin/env node
/**
 * The `nfchain` command. One table lists every command with its usage and help; `--help`
 * is generated from it, so help and behaviour cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { NfcError } from '../errors.js';
import { BENCHES, runBench } from './bench.js';
import { CHAIN_USAGE, SCALE_USAGE, DEMO_USAGE, FLOW_USAGE, MANAGER_USAGE, MESSAGE_USAGE, NF_USAGE, START_USAGE, STATS_USAGE, STATUS_USAGE, TESTBED_USAGE } from './usage.js';

// Commands load their modules only when run: an NF process (`nfchain nf`) must not pay for
// the manager, the topology schema (zod, yaml) or the benchmarks (startup time, bench startup).
const lazy = (name: 'demoCommand' | 'managerCommand' | 'startCommand' | 'statsCommand' | 'statusCommand' | 'messageCommand' | 'flowCommand' | 'chainCommand' | 'scaleCommand') =>
  async (argv: string[]): Promise<number> => (await import('./commands.js'))[name](argv);
const nfCommand = async (argv: string[]): Promise<number> => {
  const { parseNfArgs, runNf } = await import('../nflib/runner.js');
  return runNf(parseNfArgs(argv));
};
const demoCommand = lazy('demoCommand');
const managerCommand = lazy('managerCommand');
const startCommand = lazy('startCommand');
const statsCommand = lazy('statsCommand');
const statusCommand = lazy('statusCommand');
const messageCommand = lazy('messageCommand');
const flowCommand = lazy('flowCommand');
const chainCommand = lazy('chainCommand');
const scaleCommand = lazy('scaleCommand');
const testbedCommand = async (argv: string[]): Promise<number> => (await import('./testbed-command.js')).testbedCommand(argv);

interface Command {
  name: string;
  usage: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Command[] = [
  {
    name: 'demo',
    usage: DEMO_USAGE,
    summary: 'run gen → basic-monitor → simple-forward → bridge → null with live stats',
    help: [
      'Starts a manager named "demo" with a generator port and a null port, and three NF processes',
      'in a chain. Stats print every second. Stops on Ctrl-C or after --duration seconds.',
      '  --duration S   stop after S seconds (default: run until Ctrl-C)',
      '  --rate PPS     generator rate in packets/s (default 1000000; 0 = as fast as possible)',
      '  --name N       instance name (default demo)',
      '  --stats S      stats interval in seconds (default 1; 0 = quiet)',
    ].join('\n'),
    run: demoCommand,
  },
  {
    name: 'start',
    usage: START_USAGE,
    summary: 'start a topology: the manager, its ports and every NF process, stopped together',
    help: [
      'Checks the topology file (docs/topology.md), every NF module and its options before anything',
      'starts. NF output is streamed here with the NF\'s name as a prefix. Ctrl-C stops everything.',
      '  --name N        instance name (overrides the file)',
      '  --ttl S         stop after S seconds',
      '  --limit N       stop receiving after N packets',
      '  --stats S       stats interval in seconds (0 = quiet)',
      '  --poll MODE     adaptive (default: NFs sleep when idle) or busy (NFs spin)',
      '  --until-done    stop once every input port is finished and the chain has drained',
    ].join('\n'),
    run: startCommand,
  },
  {
    name: 'manager',
    usage: MANAGER_USAGE,
    summary: 'run only the manager (start NFs yourself with nfchain nf)',
    help: [
      'With a topology file: its ports and chain (its NFs are not started). Without: --port gen|null',
      '(repeatable; default gen and null), --chain of service ids and port:<index> hops (default 1).',
      '  --name N  --ttl S  --limit N  --stats S  --poll busy|adaptive  --until-done  --rate PPS (gen ports)',
    ].join('\n'),
    run: managerCommand,
  },
  {
    name: 'nf',
    usage: NF_USAGE,
    summary: 'run one NF instance (a .ts or .js module) attached to a running manager',
    help: [
      '  --service N     the service this instance provides (1..31)',
      '  --instance I    ask for NF id I (1..31; default: the lowest free one)',
      '  --name M        the manager instance to attach to (default "default")',
      '  --label L       the name shown in stats and logs (default: the NF\'s own name)',
      '  --base-dir D    where relative paths in the NF\'s options are from (ctx.baseDir; default: here)',
      '  --ttl S         stop after S seconds;  --limit N  stop after N packets',
      '  --poll MODE     adaptive (sleep on a futex when idle) or busy (spin); default: the manager\'s',
      '  --manager-wait S  if the manager dies, pause and wait S seconds (default 10) for a new manager',
      '                  of the same name to take this NF back; then exit with code 3',
      '  -- --opt value  options for the NF itself (see its README)',
    ].join('\n'),
    run: nfCommand,
  },
  {
    name: 'status',
    usage: STATUS_USAGE,
    summary: 'show a running manager: ports, NFs and their states, services, chain',
    help: '  --name N   the instance (default "default")\n  --json     one JSON object',
    run: statusCommand,
  },
  {
    name: 'stats',
    usage: STATS_USAGE,
    summary: 'show rates and counters of a running manager (once, or --watch)',
    help: '  --name N      the instance (default "default")\n  --json        JSON snapshots\n  --watch [S]   repeat every S seconds (default 1) until Ctrl-C',
    run: statsCommand,
  },
  {
    name: 'testbed',
    usage: TESTBED_USAGE,
    summary: 'make or remove a two-namespace veth testbed to run nfchain between (root)',
    help: [
      'Namespaces <name>-a (eth0 10.201.0.1/24) and <name>-b (eth0 10.201.0.2/24), joined by veths to',
      '<name>-a0 and <name>-b0 in the root namespace, which nothing bridges until nfchain runs (docs/testbed.md).',
      '  up         make it (idempotent; a half-made one is removed and made again); prints how to use it',
      '  down       remove it, whatever state it is in',
      '  topology   print a topology file (YAML) bridging <name>-a0 and <name>-b0 through the bridge NF',
      '  --name N          testbed name, 1-8 of a-z 0-9 (default nfc)',
      '  --driver D        port driver in the topology: af_packet (default) or af_xdp',
      '  --ipv6            up: leave IPv6 on inside the namespaces',
      '  --offloads on|off up: on (default) leaves the veths\' checksum offload, TSO and GSO as the kernel',
      '                    makes them, as on real hosts; off switches them (and GRO) off (needs ethtool)',
    ].join('\n'),
    run: testbedCommand,
  },
  {
    name: 'flow',
    usage: FLOW_USAGE,
    summary: 'add, remove or list flow rules (which chain a flow takes) while traffic flows',
    help: 'Rules apply between two bursts of the RX loop; flows they do not match keep their chain.\n' +
      'Fields: --chain (required) --priority --proto --src-prefix --dst-prefix --src-ports --dst-ports --in-port --vlan\n' +
      'list also shows the manager\'s flow table (flows, pins made by NFs, expired, full) and the flows per\n' +
      'affinity epoch (docs/flows.md).',
    run: flowCommand,
  },
  {
    name: 'chain',
    usage: CHAIN_USAGE,
    summary: 'set or list service chains while traffic flows',
    help: 'HOP: a service id, an NF name from the topology, or port:<name>. A new name makes a new chain (16 at most).',
    run: chainCommand,
  },
  {
    name: 'scale',
    usage: SCALE_USAGE,
    summary: 'start or retire instances of a service while traffic flows',
    help: [
      'SERVICE: a service id or an NF name from the topology. N: 0..8 instances.',
      'New instances run the same module and options as the service\'s others; flows that exist keep',
      'their instance (only new flows may go to a new one). Retiring takes the newest instances out of',
      'service at once (their flows move to the others) and lets them drain. Waits until new',
      'instances are in service, then prints what changed.',
      '  --rebalance  new instances take their share of existing flows too (NFs without flow state)',
      '  --name N     the instance (default "default")',
    ].join('\n'),
    run: scaleCommand,
  },
  {
    name: 'message',
    usage: MESSAGE_USAGE,
    summary: 'send a message (JSON) to an NF or a service of a running manager',
    help: '  nf:ID        that NF\n  service:S    an instance of that service\n  --name N     the instance (default "default")\nPrints ok, or why not: no-destination, ring-full, too-large (exit 1).',
    run: messageCommand,
  },
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
