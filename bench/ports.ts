/**
 * bench ports: what passes through a middlebox between two network namespaces, for nfchain and
 * its peers on the same veths, in one run (a testbed this benchmark makes and removes).
 *
 * Paths (each joins the testbed's two root-side veths):
 *   kernel-bridge   a Linux bridge
 *   tc-mirred       tc ingress filters redirecting each veth to the other
 *   nfchain-<drv>   nfchain with af_packet / af_xdp ports (af_xdp when the addon has libxdp):
 *                   the `bridge` NF for UDP, a 3-NF chain (basic-monitor → simple-forward →
 *                   bridge) for TCP, each NF a process
 *   nfchain-<drv>-inline  the same NFs inline in the manager's loop (--mode; the 3-NF chain as
 *                   one fused group)
 *   dpdk-<drv>      DPDK's dpdk-testpmd (io forwarding, --no-huge) with its af_packet and
 *                   af_xdp PMDs, when dpdk-testpmd is installed (Debian: dpdk)
 *
 * Tests:
 *   udp64, udp1500  a blaster in A sends UDP frames of that size to B as fast as one core can;
 *                   the figure is what B's interface received (Mpps; Gbit/s for 1500)
 *   tcp1, tcp4      iperf3 from A to B with 1 and 4 streams (Gbit/s received), with the hosts'
 *                   offloads on (the kernel's defaults: TSO, GSO, checksum offload) and off
 *
 * Every figure is the median of --runs runs, with its range, and its ratio to the kernel bridge
 * measured in the same run. A path that cannot carry a test (DPDK drops GSO super-frames: TCP
 * with offloads on) reports 0.
 *
 *   nfchain bench ports [--seconds S] [--runs R] [--tests udp64,udp1500,tcp1,tcp4]
 *                       [--offloads on,off] [--paths kernel-bridge,tc-mirred,nfchain,dpdk]
 *                       [--mode processes,inline] [--json]
 *
 * JSON, one line per figure: { bench: "ports", test, path, offloads, nfs, gbps | mpps, runs,
 * ratio }.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { NfcError } from '../src/errors.js';
import {
  findTool,
  hasEthtool,
  joinWithTc,
  netnsSupport,
  testbedDown,
  testbedUp,
  type Testbed,
  type TestbedOffloads,
  unjoinTc,
} from '../src/testbed/testbed.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, JSON_FLAG, median, runsFlag } from './common.js';
import { blasterArgs, rxPackets, testbedChain, withKernelBridge, withTopology } from './wire.js';
import { native } from '../src/native.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NFS = (n: string): string => join(root, `dist/nfs/${n}/index.js`);

type Test = 'udp64' | 'udp1500' | 'tcp1' | 'tcp4';
const TESTS = ['udp64', 'udp1500', 'tcp1', 'tcp4'] as const satisfies readonly Test[];

interface PathDef {
  name: string;
  /** NFs in the middle (nfchain only) */
  nfs: (test: Test) => number;
  /** joins the veths for `test`, runs f, unjoins */
  run<T>(tb: Testbed, test: Test, f: () => Promise<T>): Promise<T>;
}

export interface PortsRow {
  bench: 'ports';
  test: Test;
  path: string;
  offloads: TestbedOffloads;
  nfs: number;
  /** Gbit/s for tcp and udp1500, Mpps for udp64 */
  value: number;
  unit: 'gbps' | 'mpps';
  runs: number[];
  ratio: number;
}

/** UDP frames of `size` bytes A → B for `seconds` at full speed; packets per second B received. */
function udp(tb: Testbed, seconds: number, size: number): number {
  const before = rxPackets(tb.nsB);
  const t0 = performance.now();
  const r = spawnSync('ip', blasterArgs(tb, seconds, size), {
    encoding: 'utf8',
    timeout: seconds * 1000 + 30_000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) throw new NfcError('NFC_ERR_BENCH', `blaster failed: ${r.stderr}`);
  return (rxPackets(tb.nsB) - before) / ((performance.now() - t0) / 1000);
}

/** iperf3 A → B with `streams` streams for `seconds`: Gbit/s received (0 when no data passed). */
async function tcp(tb: Testbed, seconds: number, streams: number): Promise<number> {
  const port = String(5201 + Math.floor(Math.random() * 500));
  const server = spawn('ip', ['netns', 'exec', tb.nsB, 'iperf3', '-s', '-1', '-B', tb.ipB, '-p', port], {
    stdio: 'ignore',
  });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        tb.nsA,
        'iperf3',
        '-c',
        tb.ipB,
        '-p',
        port,
        '-t',
        String(seconds),
        '-P',
        String(streams),
        '-J',
        '--connect-timeout',
        '3000',
      ],
      { encoding: 'utf8', timeout: seconds * 1000 + 20_000, killSignal: 'SIGKILL' },
    );
    if (r.status !== 0 || !r.stdout) return 0;
    const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
    return (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}

async function measure(tb: Testbed, test: Test, seconds: number): Promise<number> {
  switch (test) {
    case 'udp64':
      return udp(tb, seconds, 64) / 1e6;
    case 'udp1500':
      return (udp(tb, seconds, 1500) * 1500 * 8) / 1e9;
    case 'tcp1':
      return tcp(tb, seconds, 1);
    case 'tcp4':
      return tcp(tb, seconds, 4);
  }
}

const kernelBridge: PathDef = {
  name: 'kernel-bridge',
  nfs: () => 0,
  run: (tb, _test, f) => withKernelBridge(tb, f),
};

const tcMirred: PathDef = {
  name: 'tc-mirred',
  nfs: () => 0,
  async run(tb, _test, f) {
    try {
      if (!joinWithTc(tb))
        throw new NfcError('NFC_ERR_BENCH', 'tc mirred: this kernel or tc lacks the ingress qdisc or mirred');
      return await f();
    } finally {
      unjoinTc(tb);
    }
  },
};

function nfchainPath(driver: 'af_packet' | 'af_xdp', mode: 'processes' | 'inline'): PathDef {
  // inline: the chain as one fused group run by the manager's loop (several NFs), or the one NF inline.
  const inline = (nfs: Record<string, unknown>[]): Record<string, unknown>[] =>
    mode === 'inline' ? nfs.map((nf) => ({ ...nf, inline: true, ...(nfs.length > 1 ? { fuse: 'chain' } : {}) })) : nfs;
  const chainFor = (test: Test): Record<string, unknown>[] =>
    inline(
      test.startsWith('udp')
        ? [{ name: 'bridge', module: NFS('bridge'), service: 1 }]
        : [
            { name: 'monitor', module: NFS('basic-monitor'), service: 1, options: { interval: 0 } },
            { name: 'forward', module: NFS('simple-forward'), service: 2 },
            { name: 'bridge', module: NFS('bridge'), service: 3 },
          ],
    );
  return {
    name: `nfchain-${driver}${mode === 'inline' ? '-inline' : ''}`,
    nfs: (test) => chainFor(test).length,
    async run(tb, test, f) {
      const topo = testbedChain(tb, driver, chainFor(test), `bench-${tb.name}`, '<bench ports>');
      return withTopology(topo, f);
    },
  };
}

function dpdkPath(pmd: 'af_packet' | 'af_xdp', testpmd: string): PathDef {
  const vdev = (i: number, ifname: string): string =>
    pmd === 'af_packet'
      ? `net_af_packet${i},iface=${ifname}`
      : `net_af_xdp${i},iface=${ifname},start_queue=0,queue_count=1`;
  return {
    name: `dpdk-${pmd}`,
    nfs: () => 0,
    async run(tb, _test, f) {
      // testpmd's stdout is a pipe here, so C stdio would hold its lines back: unbuffer it.
      const stdbuf = findTool('stdbuf');
      const argv = [
        '--no-huge',
        '-m',
        '1024',
        '--no-pci',
        '-l',
        '0,1',
        '--file-prefix',
        `nfc${tb.name}`,
        '--vdev',
        vdev(0, tb.ifA),
        '--vdev',
        vdev(1, tb.ifB),
        '--',
        '--forward-mode=io',
        '--auto-start',
        '--nb-cores=1',
      ];
      const child = stdbuf
        ? spawn(stdbuf, ['-o0', '-e0', testpmd, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn(testpmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      let log = '';
      child.stdout!.on('data', (d: Buffer) => {
        log += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
      });
      try {
        const t0 = Date.now();
        while (!/Press enter to exit/.test(log)) {
          if (child.exitCode !== null || Date.now() - t0 > 20_000) {
            throw new NfcError(
              'NFC_ERR_BENCH',
              `dpdk-testpmd (${pmd}) did not start: ${log.split('\n').slice(-5).join(' | ')}`,
            );
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return await f();
      } finally {
        child.kill('SIGKILL');
        await new Promise((r) =>
          child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
        );
      }
    },
  };
}

export const PORTS_FLAGS = flagSpecs([
  { name: 'seconds', kind: 'number', min: 1, default: 3, value: 'S', help: "each measurement's length" },
  runsFlag(3),
  { name: 'tests', kind: 'list', choices: TESTS, default: TESTS, value: 'T,...', help: 'which tests' },
  {
    name: 'offloads',
    kind: 'list',
    choices: ['on', 'off'],
    default: ['on', 'off'],
    value: 'O,...',
    help: "the hosts' offloads for the TCP tests (off needs ethtool)",
  },
  {
    name: 'paths',
    kind: 'list',
    choices: ['kernel-bridge', 'tc-mirred', 'nfchain', 'dpdk'],
    default: ['kernel-bridge', 'tc-mirred', 'nfchain', 'dpdk'],
    value: 'P,...',
    help: 'which middleboxes',
  },
  {
    name: 'mode',
    kind: 'list',
    choices: ['processes', 'inline'],
    default: ['processes', 'inline'],
    value: 'M,...',
    help: "nfchain's NFs as processes, or inline in the manager's loop (path nfchain-<driver>-inline)",
  },
  JSON_FLAG,
]);

export async function portsBenchFromArgv(argv: readonly string[]): Promise<PortsRow[]> {
  const v = benchArgs('ports', argv, PORTS_FLAGS).values;
  const support = netnsSupport();
  if (!support.ok) throw new NfcError('NFC_ERR_BENCH', `bench ports needs network namespaces: ${support.reason}`);
  const { seconds, runs, json, tests } = v;
  const offloadsList: TestbedOffloads[] = v.offloads;
  if (offloadsList.includes('off') && !hasEthtool())
    throw new NfcError('NFC_ERR_BENCH', '--offloads off needs ethtool (apt-get install ethtool)');
  if (tests.some((t) => t.startsWith('tcp')) && !findTool('iperf3'))
    throw new NfcError('NFC_ERR_BENCH', 'the tcp tests need iperf3 (apt-get install iperf3)');
  const kinds: string[] = v.paths;
  const testpmd = findTool('dpdk-testpmd');
  const paths: PathDef[] = [kernelBridge];
  if (kinds.includes('tc-mirred') && findTool('tc')) paths.push(tcMirred);
  const drivers = native().xdpAvailable() ? (['af_packet', 'af_xdp'] as const) : (['af_packet'] as const);
  if (kinds.includes('nfchain')) {
    for (const d of drivers) for (const mode of v.mode as ('processes' | 'inline')[]) paths.push(nfchainPath(d, mode));
  }
  if (kinds.includes('dpdk')) {
    if (testpmd) for (const d of ['af_packet', 'af_xdp'] as const) paths.push(dpdkPath(d, testpmd));
    else
      process.stderr.write(
        'bench ports: dpdk-testpmd is not installed (Debian: apt-get install dpdk): DPDK not measured\n',
      );
  }

  const out: PortsRow[] = [];
  const name = `b${randomBytes(3).toString('hex')}`;
  try {
    for (const offloads of offloadsList) {
      const tb = testbedUp(name, { offloads });
      // UDP from a raw blaster does not depend on the hosts' offloads: measured once.
      const here = tests.filter((t) => t.startsWith('tcp') || offloads === offloadsList[0]);
      const figures = new Map<string, number[]>();
      for (let r = 0; r < runs; r++) {
        for (const p of paths) {
          for (const t of here) {
            let v = 0;
            try {
              v = await p.run(tb, t, () => measure(tb, t, seconds));
            } catch (err) {
              process.stderr.write(`bench ports: ${p.name} ${t}: ${(err as Error).message}\n`);
            }
            const k = `${p.name}|${t}`;
            figures.set(k, [...(figures.get(k) ?? []), v]);
          }
        }
      }
      for (const t of here) {
        const base = median(figures.get(`kernel-bridge|${t}`)!);
        for (const p of paths) {
          const xs = figures.get(`${p.name}|${t}`)!;
          const v = median(xs);
          const row: PortsRow = {
            bench: 'ports',
            test: t,
            path: p.name,
            offloads,
            nfs: p.nfs(t),
            value: v,
            unit: t === 'udp64' ? 'mpps' : 'gbps',
            runs: xs,
            ratio: base > 0 ? v / base : 0,
          };
          out.push(row);
          const fig = row.unit === 'mpps' ? `${v.toFixed(3)} Mpps` : `${v.toFixed(2)} Gbit/s`;
          const range = `${Math.min(...xs).toFixed(row.unit === 'mpps' ? 3 : 2)}–${Math.max(...xs).toFixed(row.unit === 'mpps' ? 3 : 2)}`;
          process.stdout.write(
            json
              ? `${JSON.stringify({ bench: 'ports', test: t, path: p.name, offloads, nfs: row.nfs, [row.unit]: Number(v.toFixed(3)), runs: xs.map((x) => Number(x.toFixed(3))), ratio: Number(row.ratio.toFixed(3)) })}\n`
              : `ports test=${t} path=${p.name} offloads=${offloads}${row.nfs ? ` nfs=${row.nfs}` : ''}: ${fig} (median of ${xs.length}, ${range}) [ratio=${row.ratio.toFixed(2)}]\n`,
          );
        }
      }
    }
  } finally {
    testbedDown(name);
  }
  return out;
}
