/**
 * `nfchain bench <name>`: the benchmark table, and the command that runs one and generates the
 * benchmarks' help from the flags each declares (`<NAME>_FLAGS` beside its `...FromArgv`).
 *
 * Why src/ imports from ../../bench/ here: the benchmarks are compiled with the project (into
 * dist/bench/) and are loaded on demand, only when a benchmark or its help is asked for, so that
 * the CLI does not pay for them. bench/ is not a layer of src/ (src/layers.test.ts skips it), and
 * no src/ code other than this table imports it.
 */
import { NfcError } from '../errors.js';
import { type FlagSpec, formatFlags, valuePlaceholder } from '../util/args.js';
import type { CustomCommand } from './command.js';

interface Bench {
  flags: readonly FlagSpec[];
  run(argv: readonly string[]): Promise<unknown>;
}

interface BenchEntry {
  name: string;
  summary: string;
  load(): Promise<Bench>;
}

export const BENCHES: readonly BenchEntry[] = [
  {
    name: 'ring',
    summary: 'SPSC descriptor ring between two processes (million descriptors/s)',
    load: async () => {
      const m = await import('../../bench/ring.js');
      return { flags: m.RING_FLAGS, run: m.ringBenchFromArgv };
    },
  },
  {
    name: 'pool',
    summary: 'alloc + free of bursts of buffers, with and without the per-process cache (million buffers/s)',
    load: async () => {
      const m = await import('../../bench/pool.js');
      return { flags: m.POOL_FLAGS, run: m.poolBenchFromArgv };
    },
  },
  {
    name: 'parse',
    summary: '5-tuple + symmetric flow hash over a pool of varied packets, headers in cache and cold (Mpps)',
    load: async () => {
      const m = await import('../../bench/parse.js');
      return { flags: m.PARSE_FLAGS, run: m.parseBenchFromArgv };
    },
  },
  {
    name: 'speed',
    summary: 'K speed-tester NFs passing packets round a circle, no manager on the path (Mpps per NF)',
    load: async () => {
      const m = await import('../../bench/speed.js');
      return { flags: m.SPEED_FLAGS, run: m.speedBenchFromArgv };
    },
  },
  {
    name: 'chain',
    summary: 'gen → K header-parsing NF processes → null through the manager (Mpps out of the sink)',
    load: async () => {
      const m = await import('../../bench/chain.js');
      return { flags: m.CHAIN_FLAGS, run: m.chainBenchFromArgv };
    },
  },
  {
    name: 'trust',
    summary: 'gen → 3 NF processes → null with the middle NF trusted or read-only, 64 and 1500 B (Mpps)',
    load: async () => {
      const m = await import('../../bench/trust.js');
      return { flags: m.TRUST_FLAGS, run: m.trustBenchFromArgv };
    },
  },
  {
    name: 'record',
    summary: 'latency recording per packet (RX stamp + TX histogram add) against the same loops without it (ns/pkt)',
    load: async () => {
      const m = await import('../../bench/record.js');
      return { flags: m.RECORD_FLAGS, run: m.recordBenchFromArgv };
    },
  },
  {
    name: 'console',
    summary: 'time from a change (rate, new NF, crash) to the web console showing it, in Chromium (ms; root, chromium)',
    load: async () => {
      const m = await import('../../bench/console.js');
      return { flags: m.CONSOLE_FLAGS, run: m.consoleBenchFromArgv };
    },
  },
  {
    name: 'ports',
    summary:
      'nfchain (af_packet, af_xdp) vs the kernel bridge, tc mirred and dpdk-testpmd between two namespaces: ' +
      'UDP 64/1500 B, iperf3 TCP 1/4 streams, offloads on/off (root)',
    load: async () => {
      const m = await import('../../bench/ports.js');
      return { flags: m.PORTS_FLAGS, run: m.portsBenchFromArgv };
    },
  },
  {
    name: 'latency',
    summary:
      'round-trip time (p50/p99/p99.9/max µs) through 1, 3, 5 NFs vs the kernel bridge, idle and under load ' +
      '(root)',
    load: async () => {
      const m = await import('../../bench/latency.js');
      return { flags: m.LATENCY_FLAGS, run: m.latencyBenchFromArgv };
    },
  },
  {
    name: 'soak',
    summary:
      'gen at full rate through flow-tracker ×2 → simple-forward ×2 for M minutes, tracker instances ' +
      'killed (SIGKILL) and restarted at random: buffers leaked (must be 0) and RSS over time',
    load: async () => {
      const m = await import('../../bench/soak.js');
      return { flags: m.SOAK_FLAGS, run: m.soakBenchFromArgv };
    },
  },
  {
    name: 'takeover',
    summary:
      'kill -9 of the manager under traffic, a new one started: ms until packets flow again, ' +
      "the takeover's duration, buffers reclaimed",
    load: async () => {
      const m = await import('../../bench/takeover.js');
      return { flags: m.TAKEOVER_FLAGS, run: m.takeoverBenchFromArgv };
    },
  },
  {
    name: 'startup',
    summary: 'NF process start → first packet handled, for a .js and a .ts module (ms)',
    load: async () => {
      const m = await import('../../bench/startup.js');
      return { flags: m.STARTUP_FLAGS, run: m.startupBenchFromArgv };
    },
  },
  {
    name: 'flow',
    summary: 'flow table lookupOrAdd + touch per packet at 1k/100k/1M flows, cache-friendly and random order (Mpps)',
    load: async () => {
      const m = await import('../../bench/flow.js');
      return { flags: m.FLOW_FLAGS, run: m.flowBenchFromArgv };
    },
  },
  {
    name: 'nf',
    summary: 'one NF alone on its own workload (nfs/<name>/bench.ts: routes, rules, flows), in-process (Mpps, Gbit/s)',
    load: async () => {
      const m = await import('../../bench/nf.js');
      return { flags: m.NF_FLAGS, run: m.nfBenchFromArgv };
    },
  },
  {
    name: 'director',
    summary: 'flow director classify per packet, 10/1000 rules, exact-match cache hits vs the uncached scan (Mpps)',
    load: async () => {
      const m = await import('../../bench/director.js');
      return { flags: m.DIRECTOR_FLAGS, run: m.directorBenchFromArgv };
    },
  },
];

const USAGE = 'nfchain bench <name> [options]';
const SUMMARY = 'run a benchmark and print `name k=v: rate (ns/item)` lines';

function find(name: string | undefined): BenchEntry {
  const entry = BENCHES.find((b) => b.name === name);
  if (!entry) {
    throw new NfcError('NFC_ERR_USAGE', name ? `unknown benchmark "${name}"` : 'which benchmark?', {
      fix: `use one of: ${BENCHES.map((b) => b.name).join(', ')} (nfchain bench --help)`,
    });
  }
  return entry;
}

/** `--api copy,zc  --burst 1,8,32,64  --count N  --json`: each flag with its default or its placeholder. */
function flagsInBrief(flags: readonly FlagSpec[]): string {
  return flags
    .map((f) => {
      if (f.kind === 'boolean') return `--${f.name}`;
      const d = f.default === undefined ? undefined : f.kind === 'list' ? f.default.join(',') : String(f.default);
      return `--${f.name} ${d ?? valuePlaceholder(f)}`;
    })
    .join('  ');
}

/** `nfchain bench --help` (every benchmark, its flags in brief) or `nfchain bench <name> --help`. */
async function benchHelp(words: readonly string[]): Promise<string> {
  if (words[0] !== undefined) {
    const b = find(words[0]);
    const { flags } = await b.load();
    const { benchUsage } = await import('../../bench/common.js');
    return [`Usage: ${benchUsage(b.name, flags)}`, '', b.summary, '', 'Options:', ...formatFlags(flags)].join('\n');
  }
  const w = Math.max(...BENCHES.map((b) => b.name.length));
  const pad = ' '.repeat(w + 3);
  const lines = [
    `Usage: ${USAGE}`,
    '',
    SUMMARY,
    '',
    'Benchmarks (each parameter combination runs in fresh processes, several times; the median is printed):',
  ];
  for (const b of BENCHES) {
    lines.push(`  ${b.name.padEnd(w)} ${b.summary}`, `${pad}${flagsInBrief((await b.load()).flags)}`);
  }
  lines.push(
    '',
    "Run `nfchain bench <name> --help` for a benchmark's options. --json prints one JSON object per line:",
    '{ bench, <params>, mpps|mdesc|mbufs, nsPerPkt, runs }.',
    '',
    'Benchmarks share the machine with everything else: run them on a quiet machine.',
  );
  return lines.join('\n');
}

export const BENCH_COMMAND: CustomCommand = {
  name: 'bench',
  summary: SUMMARY,
  usage: USAGE,
  help: benchHelp,
  run: async (argv) => {
    const [name, ...rest] = argv;
    const b = await find(name).load();
    await b.run(rest);
    return 0;
  },
};
