/**
 * `nfchain bench <name>`: the benchmark table. The benchmarks themselves live in bench/
 * (compiled to dist/bench/), one file per benchmark, loaded only when asked for.
 */
import { NfcError } from '../errors.js';

interface BenchEntry {
  name: string;
  summary: string;
  options: string;
  load(): Promise<(argv: readonly string[]) => Promise<unknown>>;
}

export const BENCHES: BenchEntry[] = [
  {
    name: 'ring',
    summary: 'SPSC descriptor ring between two processes (million descriptors/s)',
    options: '--api copy,zc  --burst 1,8,32,64  --capacity 1024  --count N',
    load: async () => (await import('../../bench/ring.js')).ringBenchFromArgv,
  },
  {
    name: 'pool',
    summary: 'alloc + free of bursts of buffers, with and without the per-process cache (million buffers/s)',
    options: '--cache 512,0  --burst 32  --count N',
    load: async () => (await import('../../bench/pool.js')).poolBenchFromArgv,
  },
  {
    name: 'parse',
    summary: '5-tuple + symmetric flow hash over a pool of varied packets, headers in cache and cold (Mpps)',
    options: '--pool hot,hot-random,cold,cold-touch  --count N',
    load: async () => (await import('../../bench/parse.js')).parseBenchFromArgv,
  },
  {
    name: 'speed',
    summary: 'K speed-tester NFs passing packets round a circle, no manager on the path (Mpps per NF)',
    options: '--nfs 1,3  --packets 1024  --seconds 3',
    load: async () => (await import('../../bench/speed.js')).speedBenchFromArgv,
  },
  {
    name: 'chain',
    summary: 'gen → K header-parsing NF processes → null through the manager (Mpps out of the sink)',
    options: '--nfs 3  --size 64  --seconds 3  --poll adaptive|busy',
    load: async () => (await import('../../bench/chain.js')).chainBenchFromArgv,
  },
  {
    name: 'ports',
    summary: 'nfchain (af_packet, af_xdp) vs the kernel bridge, tc mirred and dpdk-testpmd between two namespaces: UDP 64/1500 B, iperf3 TCP 1/4 streams, offloads on/off (root)',
    options: '--seconds 3  --runs 3  --tests udp64,udp1500,tcp1,tcp4  --offloads on,off  --paths kernel-bridge,tc-mirred,nfchain,dpdk',
    load: async () => (await import('../../bench/ports.js')).portsBenchFromArgv,
  },
  {
    name: 'latency',
    summary: 'round-trip time (p50/p99/p99.9/max µs) through 1, 3, 5 NFs vs the kernel bridge, idle and under load (root)',
    options: '--nfs 1,3,5  --driver af_packet,af_xdp  --load 0,10,50,90  --count 2000  --interval-us 1000',
    load: async () => (await import('../../bench/latency.js')).latencyBenchFromArgv,
  },
  {
    name: 'soak',
    summary: 'gen at full rate through flow-tracker ×2 → simple-forward ×2 for M minutes, tracker instances killed (SIGKILL) and restarted at random: buffers leaked (must be 0) and RSS over time',
    options: '--minutes 10  --kill-every 2,8 (seconds, min,max)  --seed 1',
    load: async () => (await import('../../bench/soak.js')).soakBenchFromArgv,
  },
  {
    name: 'takeover',
    summary: 'kill -9 of the manager under traffic, a new one started: ms until packets flow again, the takeover\'s duration, buffers reclaimed',
    options: '--runs 3  --rate 50000',
    load: async () => (await import('../../bench/takeover.js')).takeoverBenchFromArgv,
  },
  {
    name: 'startup',
    summary: 'NF process start → first packet handled, for a .js and a .ts module (ms)',
    options: '--runs 7',
    load: async () => (await import('../../bench/startup.js')).startupBenchFromArgv,
  },
  {
    name: 'flow',
    summary: 'flow table lookupOrAdd + touch per packet at 1k/100k/1M flows, cache-friendly and random order (Mpps)',
    options: '--flows 1k,100k,1m  --order hot,seq,random  --prefetch off,on  --hash meta,table  --op update,lookup  --count N',
    load: async () => (await import('../../bench/flow.js')).flowBenchFromArgv,
  },
  {
    name: 'director',
    summary: 'flow director classify per packet, 10/1000 rules, exact-match cache hits vs the uncached scan (Mpps)',
    options: '--rules 10,1000  --cache on,off  --traffic mixed,miss  --index auto|on|off  --flows 4096  --count N',
    load: async () => (await import('../../bench/director.js')).directorBenchFromArgv,
  },
];

export async function runBench(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const entry = BENCHES.find((b) => b.name === name);
  if (!entry) {
    throw new NfcError('NFC_ERR_USAGE', name ? `unknown benchmark "${name}"` : 'which benchmark?', {
      fix: `use one of: ${BENCHES.map((b) => b.name).join(', ')} (nfchain bench --help)`,
    });
  }
  const fn = await entry.load();
  await fn(rest);
  return 0;
}
