/**
 * The commands that run things or look at them: start, demo, manager, status, stats. Each is a
 * function of its parsed command line (flags: table.ts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { httpOptions } from '../topology/http-options.js';
import { fileURLToPath } from 'node:url';
import { NfcError } from '../errors.js';
import { MAX_SERVICES } from '../shm/instance-layout.js';
import { ControlClient } from '../control/socket.js';
import type { StatusReply, ManagerStatus } from '../protocol/messages.js';
import { Manager } from '../manager/manager.js';
import { describeCount } from '../manager/status.js';
import { describePlace, formatStats, drops } from '../manager/stats.js';
import { loadTopology, validateTopology } from '../topology/load.js';
import { BUILT_IN_TOPOLOGY, type Topology } from '../topology/types.js';
import type { Parsed } from '../util/args.js';
import { runTopology } from './start.js';
import type { DEMO_FLAGS, EVENTS_FLAGS, MANAGER_FLAGS, START_FLAGS, STATS_FLAGS, STATUS_FLAGS } from './table.js';
import type { EventsReply, ManagerEvent } from '../protocol/messages.js';

/** --http, --http-remote, --http-token-file and --events-log into the topology's manager section (cold). */
function httpOverride(
  t: Topology,
  v: {
    http?: string | undefined;
    'http-remote'?: boolean | undefined;
    'http-token-file'?: string | undefined;
    'events-log'?: string | undefined;
  },
): void {
  if (v.http !== undefined) {
    const tokenFile = v['http-token-file'];
    t.manager.http = {
      listen: v.http,
      ...(v['http-remote'] ? { remote: true } : {}),
      ...(tokenFile !== undefined ? { tokenFile: resolve(tokenFile) } : {}),
    };
    httpOptions(t.manager.http, '--http');
  } else if (v['http-remote'] || v['http-token-file'] !== undefined) {
    throw new NfcError('NFC_ERR_USAGE', '--http-remote and --http-token-file go with --http', {
      fix: 'add --http [HOST:]PORT',
    });
  }
  const ev = v['events-log'];
  if (ev !== undefined) t.manager.events = ev === 'off' ? false : resolve(ev);
}

/** Applies --name/--ttl/--limit/--stats/--poll and the HTTP flags, when given, to a topology (cold). */
function override(topo: Topology, v: Parsed<typeof START_FLAGS>['values']): Topology {
  const t = structuredClone(topo);
  httpOverride(t, v);
  if (v.name !== undefined) t.name = v.name;
  if (v.ttl !== undefined) t.manager.ttl = v.ttl;
  if (v.limit !== undefined) t.manager.limit = v.limit;
  if (v.stats !== undefined) t.manager.statsInterval = v.stats;
  if (v.poll !== undefined) t.manager.poll = v.poll;
  return t;
}

// ---- nfchain start ------------------------------------------------------------------------

export async function startCommand(p: Parsed<typeof START_FLAGS>, usage: string): Promise<number> {
  const file = p.positionals[0];
  if (!file || p.positionals.length > 1) throw new NfcError('NFC_ERR_USAGE', 'give one topology file', { fix: usage });
  const topo = override(loadTopology(file), p.values);
  const r = await runTopology(topo, { untilDone: p.values['until-done'] });
  process.stdout.write(`[manager] stopped: ${r.reason}\n`);
  return r.failed.length ? 1 : 0;
}

// ---- nfchain demo -------------------------------------------------------------------------

function packageRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

/** The demo chain: gen → basic-monitor → simple-forward → bridge → null. */
export function demoTopology(o: { name: string; rate: number; duration: number; stats: number }): Topology {
  const root = packageRoot();
  const mod = (n: string): string => {
    const js = `${root}dist/nfs/${n}/index.js`;
    return existsSync(js) ? js : `${root}nfs/${n}/index.ts`;
  };
  return validateTopology(
    {
      name: o.name,
      // Rings of 16k packets (16 ms at the demo's 1 Mpps) ride out a loop's pause on a shared
      // machine (a GC, a time slice lost to a neighbour); the pool holds them full and more.
      pool: { count: 65536 },
      rings: { nfRx: 16384, nfTx: 16384 },
      manager: { ttl: o.duration, statsInterval: o.stats },
      ports: [
        // Up to rate over the first second: the NFs' hot paths are compiled by then.
        {
          name: 'gen',
          driver: 'gen',
          rate: o.rate,
          sizes: [64, 128, 512, 1024],
          flows: 256,
          tcp: 0.3,
          seed: 1,
          ramp: 1,
        },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        // One fused group (a function call per hop, no ring), run inline in the manager's loop:
        // generate, handle and send in one thread, so no hand-off between cores can stall.
        {
          name: 'monitor',
          module: mod('basic-monitor'),
          service: 1,
          options: { interval: 0 },
          fuse: 'chain',
          inline: true,
        },
        { name: 'forward', module: mod('simple-forward'), service: 2, fuse: 'chain', inline: true },
        { name: 'bridge', module: mod('bridge'), service: 3, fuse: 'chain', inline: true },
      ],
      chain: ['monitor', 'forward', 'bridge'],
    },
    BUILT_IN_TOPOLOGY,
  );
}

export async function demoCommand(p: Parsed<typeof DEMO_FLAGS>): Promise<number> {
  const { name, rate, duration, stats } = p.values;
  const topo = demoTopology({ name, rate, duration, stats });
  httpOverride(topo, p.values);
  process.stdout.write(
    `nfchain demo: gen (${topo.ports[0]!.driver === 'gen' ? (topo.ports[0] as { rate: number }).rate || 'unlimited' : ''} pps) → basic-monitor → simple-forward → bridge → null` +
      `${topo.manager.ttl ? ` for ${topo.manager.ttl} s` : '; Ctrl-C to stop'}\n`,
  );
  const r = await runTopology(topo);
  process.stdout.write(`[manager] stopped: ${r.reason}\n`);
  return r.failed.length ? 1 : 0;
}

// ---- nfchain manager ----------------------------------------------------------------------

/**
 * A manager-only topology from flags: ports by driver, the chain as service ids and
 * port:<index> hops. Its NFs are started by hand with `nfchain nf`, so services need no NF
 * here (cold).
 */
export function standaloneTopology(name: string, drivers: string[], chainText: string, rate: number): Topology {
  const ports = drivers.map((d, i) => {
    if (d === 'gen')
      return { name: `p${i}`, driver: 'gen' as const, rate, sizes: [64], flows: 1024, tcp: 0, seed: 1, count: 0 };
    if (d === 'null') return { name: `p${i}`, driver: 'null' as const };
    throw new NfcError('NFC_ERR_USAGE', `--port ${d}: the manager command takes gen or null ports`, {
      fix: 'for pcap ports, write a topology file (docs/topology.md)',
    });
  });
  const chain = chainText.split(',').map((h): Topology['chain'][number] => {
    const svc = /^\d+$/.test(h) ? Number(h) : NaN;
    if (svc >= 1 && svc < MAX_SERVICES) return { kind: 'service', service: svc };
    const m = /^port:(\d+)$/.exec(h);
    if (m && Number(m[1]) < ports.length) return { kind: 'port', port: Number(m[1]) };
    throw new NfcError(
      'NFC_ERR_USAGE',
      `--chain: "${h}" is neither a service id (1..${MAX_SERVICES - 1}) nor port:<index of a --port>`,
    );
  });
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name))
    throw new NfcError('NFC_ERR_USAGE', `--name ${name}: use 1-32 of A-Z a-z 0-9 _ . -`);
  return {
    file: BUILT_IN_TOPOLOGY,
    name,
    pool: { count: 16384, dataRoom: 2048, headroom: 128, jumbos: 256 },
    rings: { nfRx: 4096, nfTx: 4096 },
    manager: { ttl: 0, limit: 0, statsInterval: 1, poll: 'adaptive', flowTable: 65536, flowIdleTimeout: 30 },
    ports,
    nfs: [],
    groups: [],
    chain,
    chains: [],
    flows: [],
  };
}

export async function managerCommand(p: Parsed<typeof MANAGER_FLAGS>): Promise<number> {
  const v = p.values;
  let topo: Topology;
  if (p.positionals[0]) {
    topo = loadTopology(p.positionals[0]);
    // The manager alone: the topology's NFs are started by hand (nfchain nf ...).
  } else {
    topo = standaloneTopology(v.name ?? 'default', v.port, v.chain, v.rate);
  }
  topo = override(topo, v);
  const m = new Manager({ topology: topo, untilDone: v['until-done'] });
  await m.start();
  const onSignal = (sig: string) => (): void => {
    void m.stop(`${sig} received`);
  };
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));
  const reason = await m.done;
  process.stdout.write(`[manager] stopped: ${reason}\n`);
  return 0;
}

// ---- nfchain status / stats ---------------------------------------------------------------

async function fetchStatus(name: string): Promise<ManagerStatus> {
  const c = await ControlClient.connect(name);
  try {
    return (await c.request<StatusReply>({ type: 'status' })).status;
  } finally {
    c.close();
  }
}

export async function statusCommand(p: Parsed<typeof STATUS_FLAGS>): Promise<number> {
  const s = await fetchStatus(p.values.name);
  if (p.values.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return 0;
  }
  const lines = [
    `manager "${s.name}" pid ${s.pid}, up ${s.uptime.toFixed(0)} s; pool ${s.pool.free} of ${s.pool.count} buffers free`,
    `buffers: ${describeCount(s.buffers, s.nfs)}`,
    `chain: ${s.chain.join(' → ') || '(empty)'}`,
    `loops: RX ${describePlace(s.loops.rx)}, TX ${describePlace(s.loops.tx)}`,
    'ports:',
    ...s.ports.map(
      (p) =>
        `  ${p.id} ${p.name} (${p.driver}): rx ${p.rxPackets}, tx ${p.txPackets}, tx dropped ${p.txDropped}` +
        (p.link
          ? `, kernel drops ${p.kernelDrops}, oversize ${p.rxOversize}, malformed ${p.rxMalformed}; ${p.link.interface} ${p.link.up ? (p.link.running ? 'up' : 'up, no carrier') : 'DOWN'} mtu ${p.link.mtu} ${p.link.mac}`
          : '') +
        (p.rxTsNormalized > 0 ? `, ${p.rxTsNormalized} capture timestamps normalised (sub-second field ≥ 1 s)` : ''),
    ),
    'NFs:',
    ...(s.nfs.length
      ? s.nfs.map(
          (n) =>
            `  ${n.tag} ${n.members ? `fused group of ${n.members.map((x) => `${x.name} (service ${x.service})`).join(', ')}` : `service ${n.service}`} ` +
            `${n.state} ${n.inline ? "inline in the manager's loop" : `pid ${n.pid}`}${n.cpu >= 0 ? ` CPU ${n.cpu}` : ''}: rx ${n.counters.rx ?? 0}` +
            `${n.members ? `, hops inside ${n.counters.fused ?? 0}` : ''}, drops ${drops(n.counters)}`,
        )
      : ['  (none)']),
    'services:',
    ...(s.services.length ? s.services.map((x) => `  ${x.service}: NF ${x.nfs.join(', ')}`) : ['  (none in service)']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export async function statsCommand(p: Parsed<typeof STATS_FLAGS>): Promise<number> {
  const { name, json } = p.values;
  const watch = p.values.watch ?? 0;
  let prev = await fetchStatus(name);
  if (!watch) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await fetchStatus(name);
    process.stdout.write(json ? `${JSON.stringify(now)}\n` : formatStats(now, prev));
    return 0;
  }
  let stop = false;
  process.on('SIGINT', () => {
    stop = true;
  });
  while (!stop) {
    await new Promise((r) => setTimeout(r, watch * 1000));
    let now: ManagerStatus;
    try {
      now = await fetchStatus(name);
    } catch {
      process.stdout.write('the manager is gone\n');
      return 0;
    }
    process.stdout.write(json ? `${JSON.stringify(now)}\n` : formatStats(now, prev));
    prev = now;
  }
  return 0;
}

// ---- nfchain events -----------------------------------------------------------------------

/** An event as a terminal line: local time, type, message. */
export function formatEvent(e: ManagerEvent): string {
  const d = new Date(e.time);
  const t = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  return `${t} ${e.type.padEnd(17)} ${e.message}`;
}

export async function eventsCommand(p: Parsed<typeof EVENTS_FLAGS>): Promise<number> {
  const { name, json, since } = p.values;
  const follow = !p.values['no-follow'];
  const out = (e: ManagerEvent): void => {
    process.stdout.write(`${json ? JSON.stringify(e) : formatEvent(e)}\n`);
  };
  const c = await ControlClient.connect(name);
  const gone = new Promise<void>((r) => {
    c.onClose = () => r();
  });
  c.onNotice = (n) => {
    if (n.type === 'event') out(n.event);
  };
  const r = await c.request<EventsReply>({ type: 'events', since, follow });
  for (const e of r.events) out(e);
  if (!follow) {
    c.close();
    return 0;
  }
  const stop = new Promise<void>((r2) => process.once('SIGINT', () => r2()));
  await Promise.race([gone, stop]);
  c.close();
  return 0;
}
