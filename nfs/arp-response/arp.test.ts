/**
 * arp-response against a real host: a network namespace joined by a veth pair to the root
 * namespace, where nfchain's af_packet port (with the address 10.X.9.1/24 in the topology) sits
 * on the root-side end. The host pings that address: its kernel asks by ARP, arp-response answers
 * out of the ingress port, and the host's neighbour table then holds the port's MAC. (Nothing
 * answers the ping itself: arp-response answers ARP only.)
 *
 * Root only: skipped with the reason otherwise, and when `ip` or `ping` is missing. Every helper
 * process has a SIGKILL deadline; the namespace and veth are removed in `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../../src/cli/start.js';
import { validateTopology } from '../../src/topology/load.js';
import { findTool, isRoot } from '../../src/testbed/testbed.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ARP = join(root, 'dist/nfs/arp-response/index.js');

const skip = !isRoot()
  ? 'needs root (a network namespace and an af_packet port)'
  : !findTool('ip')
    ? 'the ip command is missing (apt-get install iproute2)'
    : !findTool('ping')
      ? 'ping is missing (apt-get install iputils-ping)'
      : false;

const pid = process.pid;
const X = 100 + (pid % 150);
const NS = `nfca-${pid}`;
const IF = `nfca${pid}`;
const PORT_IP = `10.${X}.9.1`;
const HOST_IP = `10.${X}.9.2`;

function sh(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function down(): void {
  spawnSync('ip', ['link', 'del', IF], { timeout: 10_000, killSignal: 'SIGKILL' });
  spawnSync('ip', ['netns', 'del', NS], { timeout: 10_000, killSignal: 'SIGKILL' });
}

test('arp-response answers a real host: its neighbour table learns the port address with the port MAC', {
  skip,
  timeout: 60_000,
}, async () => {
  down(); // leftovers of a killed run with this pid
  try {
    sh(['netns', 'add', NS]);
    sh(['link', 'add', IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS]);
    sh(['-n', NS, 'addr', 'add', `${HOST_IP}/24`, 'dev', 'eth0']);
    sh(['-n', NS, 'link', 'set', 'lo', 'up']);
    sh(['-n', NS, 'link', 'set', 'eth0', 'up']);
    sh(['link', 'set', IF, 'up']);
    const portMac = readFileSync(`/sys/class/net/${IF}/address`, 'utf8').trim();
    const topo = validateTopology(
      {
        name: `nfca-${pid}`,
        manager: { statsInterval: 0 },
        ports: [{ name: 'lan', driver: 'af_packet', interface: IF, ipv4: `${PORT_IP}/24` }],
        nfs: [{ name: 'arp', module: ARP, service: 1, options: { other: 'drop' } }],
        chain: ['arp'],
      },
      '<arp.test>',
    );
    let neigh = '';
    let failure: unknown;
    await runTopology(topo, {
      signals: false,
      stats: null,
      log: () => {},
      nfOutput: () => {},
      onRunning: (m) => {
        void (async () => {
          // The ping is not answered; its ARP request is.
          spawnSync('ip', ['netns', 'exec', NS, findTool('ping')!, '-c', '1', '-W', '1', PORT_IP], {
            timeout: 15_000,
            killSignal: 'SIGKILL',
          });
          neigh = sh(['-n', NS, 'neigh', 'show', PORT_IP]);
        })()
          .catch((e: unknown) => {
            failure = e;
          })
          .finally(() => void m.stop('test over'));
      },
    });
    if (failure) throw failure;
    assert.match(neigh, new RegExp(`^${PORT_IP.replace(/\./g, '\\.')} dev eth0 lladdr ${portMac} `, 'm'), neigh);
  } finally {
    down();
  }
});
