/**
 * The `nfchain` commands: one entry each, with its flags (specs), usage, help and handler. Dispatch,
 * `--help`, `nfchain help <command>` and the errors for unknown flags all come from here.
 *
 * Handlers load their modules only when run: an NF process (`nfchain nf`) must not pay for the
 * manager, the topology schema (zod, yaml) or the benchmarks (startup time, bench startup), so
 * this module imports nothing but the parser, the NF flags and the benchmark table.
 *
 * Adding a command: an entry here (flags, summary, help, a lazy run) and its handler, a function
 * of the parsed command line, in the module that implements it.
 */
import { flagSpecs } from '../util/args.js';
import { NF_FLAGS, NF_UNKNOWN_HINT, NF_USAGE } from '../nflib/usage.js';
import { BENCH_COMMAND } from './bench.js';
import { command, type Entry } from './command.js';

const NAME = { name: 'name', kind: 'string', default: 'default', value: 'N', help: 'the instance' } as const;
const POLL = {
  name: 'poll',
  kind: 'string',
  choices: ['busy', 'adaptive'],
  help: 'adaptive (NFs sleep when idle) or busy (NFs spin)',
} as const;

/** The HTTP endpoint and the events log (manager.http, manager.events). */
const HTTP_FLAGS_LIST = [
  {
    name: 'http',
    kind: 'string',
    value: '[HOST:]PORT',
    help: 'serve the console, /metrics and /api on 127.0.0.1:PORT (0: any free port)',
  },
  { name: 'http-remote', kind: 'boolean', help: 'allow --http on an address that is not loopback' },
  { name: 'http-token-file', kind: 'string', value: 'FILE', help: "the endpoint's bearer token: FILE's first line" },
  {
    name: 'events-log',
    kind: 'string',
    value: 'FILE|off',
    help: 'append events to FILE (default: <run dir>/<name>.events.jsonl)',
  },
] as const;

/** The flags of the commands that run a manager from a topology; they override the file. */
const RUN = [
  { name: 'name', kind: 'string', value: 'N', help: 'instance name (overrides the file)' },
  { name: 'ttl', kind: 'number', min: 0, value: 'S', help: 'stop after S seconds' },
  { name: 'limit', kind: 'integer', min: 0, value: 'N', help: 'stop receiving after N packets' },
  { name: 'stats', kind: 'number', min: 0, value: 'S', help: 'stats interval in seconds, 0: quiet' },
  POLL,
  { name: 'until-done', kind: 'boolean', help: 'stop once every input port is finished and the chain has drained' },
  ...HTTP_FLAGS_LIST,
] as const;

export const DEMO_FLAGS = flagSpecs([
  {
    name: 'duration',
    kind: 'number',
    min: 0,
    default: 0,
    value: 'S',
    help: 'stop after S seconds, 0: run until Ctrl-C',
  },
  {
    name: 'rate',
    kind: 'number',
    min: 0,
    default: 1_000_000,
    value: 'PPS',
    help: 'generator rate in packets/s, 0: as fast as possible',
  },
  { name: 'name', kind: 'string', default: 'demo', value: 'N', help: 'instance name' },
  { name: 'stats', kind: 'number', min: 0, default: 1, value: 'S', help: 'stats interval in seconds, 0: quiet' },
  ...HTTP_FLAGS_LIST,
]);
export const EVENTS_FLAGS = flagSpecs([
  NAME,
  { name: 'json', kind: 'boolean', help: 'one JSON object a line' },
  {
    name: 'since',
    kind: 'integer',
    min: 0,
    default: 0,
    value: 'SEQ',
    help: 'only events after SEQ (0: every event kept)',
  },
  { name: 'no-follow', kind: 'boolean', help: 'print the events kept and exit' },
]);
export const START_FLAGS = flagSpecs(RUN);
export const MANAGER_FLAGS = flagSpecs([
  ...RUN,
  {
    name: 'port',
    kind: 'list',
    default: ['gen', 'null'],
    value: 'gen|null',
    help: 'without a topology file: the ports, in order (repeatable, or a comma list)',
  },
  {
    name: 'chain',
    kind: 'string',
    default: '1',
    value: '1,2,port:1',
    help: 'without a topology file: the chain, service ids and port:<index> hops',
  },
  {
    name: 'rate',
    kind: 'number',
    min: 0,
    default: 1_000_000,
    value: 'PPS',
    help: "without a topology file: gen ports' rate",
  },
]);
export const STATUS_FLAGS = flagSpecs([NAME, { name: 'json', kind: 'boolean', help: 'one JSON object' }]);
export const STATS_FLAGS = flagSpecs([
  NAME,
  { name: 'json', kind: 'boolean', help: 'JSON snapshots' },
  {
    name: 'watch',
    kind: 'number',
    min: 0,
    bare: 1,
    value: 'S',
    help: 'repeat every S seconds (1 if not given) until Ctrl-C',
  },
]);
export const MESSAGE_FLAGS = flagSpecs([NAME]);
export const FLOW_ADD_FLAGS = flagSpecs([
  { name: 'chain', kind: 'string', required: true, value: 'NAME', help: 'the chain the matching flows take' },
  { name: 'priority', kind: 'number', min: 0, default: 0, value: 'P', help: 'the highest matching priority wins' },
  { name: 'proto', kind: 'number', min: 0, value: 'N', help: 'IP protocol (6 TCP, 17 UDP)' },
  { name: 'src-prefix', kind: 'string', value: 'P', help: 'source address prefix, e.g. 10.0.0.0/8' },
  { name: 'dst-prefix', kind: 'string', value: 'P', help: 'destination address prefix' },
  { name: 'src-ports', kind: 'string', value: 'LO-HI', help: 'source port or range' },
  { name: 'dst-ports', kind: 'string', value: 'LO-HI', help: 'destination port or range' },
  { name: 'in-port', kind: 'string', value: 'NAME', help: 'the port the packet came in on' },
  { name: 'vlan', kind: 'number', min: 0, value: 'V', help: 'VLAN id' },
  NAME,
]);
export const NAME_FLAGS = flagSpecs([NAME]);
export const SCALE_FLAGS = flagSpecs([
  {
    name: 'rebalance',
    kind: 'boolean',
    help: 'new instances take their share of existing flows too (NFs without flow state)',
  },
  NAME,
]);
const TESTBED_NAME = {
  name: 'name',
  kind: 'string',
  default: 'nfc',
  value: 'N',
  help: 'testbed name, 1-8 of a-z 0-9',
} as const;
const TESTBED_DRIVER = {
  name: 'driver',
  kind: 'string',
  choices: ['af_packet', 'af_xdp'],
  default: 'af_packet',
  value: 'D',
  help: 'port driver in the topology: af_packet or af_xdp',
} as const;
export const TESTBED_UP_FLAGS = flagSpecs([
  TESTBED_NAME,
  TESTBED_DRIVER,
  { name: 'ipv6', kind: 'boolean', help: 'leave IPv6 on inside the namespaces' },
  {
    name: 'offloads',
    kind: 'string',
    default: 'on',
    value: 'on|off',
    help: 'on: checksum offload, TSO and GSO on the veths as the kernel makes them; off: those and GRO off',
  },
]);
export const TESTBED_DOWN_FLAGS = flagSpecs([TESTBED_NAME]);
export const TESTBED_TOPOLOGY_FLAGS = flagSpecs([TESTBED_NAME, TESTBED_DRIVER]);

const commands = async () => import('./commands.js');
const control = async () => import('./control-commands.js');
const testbed = async () => import('./testbed-command.js');

export const COMMANDS: readonly Entry[] = [
  command({
    name: 'demo',
    summary: 'run gen → basic-monitor → simple-forward → bridge → null with live stats',
    flags: DEMO_FLAGS,
    help:
      'Starts a manager named "demo" with a generator port and a null port, and three NF processes\n' +
      'in a chain. Stats print every second. Stops on Ctrl-C or after --duration seconds.',
    run: async (p) => (await commands()).demoCommand(p),
  }),
  command({
    name: 'start',
    summary: 'start a topology: the manager, its ports and every NF process, stopped together',
    args: '<topology.yaml|.json>',
    flags: START_FLAGS,
    help:
      'Checks the topology file (docs/topology.md), every NF module and its options before anything\n' +
      "starts. NF output is streamed here with the NF's name as a prefix. Ctrl-C stops everything.",
    run: async (p, usage) => (await commands()).startCommand(p, usage),
  }),
  command({
    name: 'manager',
    summary: 'run only the manager (start NFs yourself with nfchain nf)',
    args: '[topology.yaml]',
    flags: MANAGER_FLAGS,
    help:
      'With a topology file: its ports and chain (its NFs are not started); without one: the ports, chain\n' +
      'and rate of --port, --chain and --rate.',
    run: async (p) => (await commands()).managerCommand(p),
  }),
  command({
    name: 'nf',
    summary: 'run one NF instance (a .ts or .js module) attached to a running manager',
    args: '<module.ts|.js>',
    flags: NF_FLAGS,
    usage: NF_USAGE,
    passthrough: true,
    unknownHint: NF_UNKNOWN_HINT,
    help: 'After --: options for the NF itself, --option value or --flag (see its README).',
    run: async (p) => {
      const { nfArgs, runNf } = await import('../nflib/runner.js');
      return runNf(nfArgs(p));
    },
  }),
  command({
    name: 'status',
    summary: 'show a running manager: ports, NFs and their states, services, chain',
    flags: STATUS_FLAGS,
    run: async (p) => (await commands()).statusCommand(p),
  }),
  command({
    name: 'stats',
    summary: 'show rates and counters of a running manager (once, or --watch)',
    flags: STATS_FLAGS,
    run: async (p) => (await commands()).statsCommand(p),
  }),
  command({
    name: 'events',
    summary: 'follow what a running manager does: NFs registered, started, crashed, scaled; chains, rules, links',
    flags: EVENTS_FLAGS,
    help:
      'Prints the events the manager keeps (its last 1000), then each new one as it happens, until\n' +
      'Ctrl-C or the manager stops. The same events go to the events log file and to /api/events.',
    run: async (p) => (await commands()).eventsCommand(p),
  }),
  {
    name: 'testbed',
    summary: 'make or remove a two-namespace veth testbed to run nfchain between (root)',
    help:
      'Namespaces <name>-a (eth0 10.201.0.1/24) and <name>-b (eth0 10.201.0.2/24), joined by veths to\n' +
      '<name>-a0 and <name>-b0 in the root namespace, which nothing bridges until nfchain runs (docs/testbed.md).',
    verbs: [
      command({
        name: 'up',
        summary: 'make it (idempotent; a half-made one is removed and made again); prints how to use it',
        flags: TESTBED_UP_FLAGS,
        run: async (p, usage) => (await testbed()).testbedUpCommand(p, usage),
      }),
      command({
        name: 'down',
        summary: 'remove it, whatever state it is in',
        flags: TESTBED_DOWN_FLAGS,
        run: async (p, usage) => (await testbed()).testbedDownCommand(p, usage),
      }),
      command({
        name: 'topology',
        summary: 'print a topology file (YAML) bridging <name>-a0 and <name>-b0 through the bridge NF',
        flags: TESTBED_TOPOLOGY_FLAGS,
        run: async (p, usage) => (await testbed()).testbedTopologyCommand(p, usage),
      }),
    ],
  },
  {
    name: 'flow',
    summary: 'add, remove or list flow rules (which chain a flow takes) while traffic flows',
    help:
      'Rules apply between two bursts of the RX loop; flows they do not match keep their chain.\n' +
      "list also shows the manager's flow table (flows, pins made by NFs, expired, full) and the flows per\n" +
      'affinity epoch (docs/flows.md).',
    verbs: [
      command({
        name: 'add',
        summary: 'add a rule: flows that match every field given take the chain',
        flags: FLOW_ADD_FLAGS,
        run: async (p) => (await control()).flowAddCommand(p),
      }),
      command({
        name: 'del',
        summary: 'remove a rule by its id',
        args: 'ID',
        flags: NAME_FLAGS,
        run: async (p, usage) => (await control()).flowDelCommand(p, usage),
      }),
      command({
        name: 'list',
        summary: 'the rules, the flow table and the flow affinity',
        flags: NAME_FLAGS,
        run: async (p) => (await control()).flowListCommand(p),
      }),
    ],
  },
  {
    name: 'chain',
    summary: 'set or list service chains while traffic flows',
    help: 'HOP: a service id, an NF name from the topology, or port:<name>. A new name makes a new chain (16 at most).',
    verbs: [
      command({
        name: 'set',
        summary: 'make a chain or change its hops',
        args: 'NAME HOP,HOP,...',
        flags: NAME_FLAGS,
        run: async (p, usage) => (await control()).chainSetCommand(p, usage),
      }),
      command({
        name: 'list',
        summary: 'the chains and their hops',
        flags: NAME_FLAGS,
        run: async (p) => (await control()).chainListCommand(p),
      }),
    ],
  },
  command({
    name: 'scale',
    summary: 'start or retire instances of a service while traffic flows',
    args: 'SERVICE N',
    flags: SCALE_FLAGS,
    help: [
      'SERVICE: a service id or an NF name from the topology. N: 0..8 instances.',
      "New instances run the same module and options as the service's others; flows that exist keep",
      'their instance (only new flows may go to a new one). Retiring takes the newest instances out of',
      'service at once (their flows move to the others) and lets them drain. Waits until new',
      'instances are in service, then prints what changed.',
    ].join('\n'),
    run: async (p, usage) => (await control()).scaleCommand(p, usage),
  }),
  command({
    name: 'message',
    summary: 'send a message (JSON) to an NF or a service of a running manager',
    args: '<nf:ID|service:S> <json>',
    flags: MESSAGE_FLAGS,
    help:
      'The target: nf:ID (that NF) or service:S (an instance of that service).\n' +
      'Prints ok, or why not: no-destination, ring-full, too-large (exit 1).',
    run: async (p, usage) => (await control()).messageCommand(p, usage),
  }),
  BENCH_COMMAND,
];
