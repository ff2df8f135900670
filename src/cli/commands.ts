/**
 * The commands that run things: manager, nf, start, demo, status, stats.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NfcError } from '../errors.js';
import { MAX_SERVICES } from '../shm/instance-layout.js';
import { ControlClient } from '../control/socket.js';
import type { ChainListReply, ScaledReply, FlowAddedReply, FlowListReply, FlowRuleSpec, StatusReply, ManagerStatus, MessageReply } from '../protocol/messages.js';
import { Manager } from '../manager/manager.js';
import { describeCount } from '../manager/status.js';
import { formatStats, drops } from '../manager/stats.js';
import { loadTopology, validateTopology } from '../topology/load.js';
import { BUILT_IN_TOPOLOGY, type Topology } from '../topology/types.js';
import { runTopology } from './start.js';
import { parseArgs, type Flags } from './args.js';
import { CHAIN_USAGE, SCALE_USAGE, DEMO_USAGE, FLOW_USAGE, MANAGER_USAGE, MESSAGE_USAGE, START_USAGE, STATS_USAGE, STATUS_USAGE } from './usage.js';

function num(f: Flags, key: string, dflt: number): number {
  const v = f.flags.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new NfcError('NFC_ERR_USAGE', `--${key} needs a non-negative number, got ${v}`);
  return n;
}

function checkKnown(f: Flags, known: readonly string[], usage: string): void {
  for (const k of f.flags.keys()) {
    if (!known.includes(k)) throw new NfcError('NFC_ERR_USAGE', `unknown option --${k}`, { fix: usage });
  }
}

/** Applies --name/--ttl/--limit/--stats/--poll overrides to a topology (cold). */
function override(topo: Topology, f: Flags): Topology {
  const t = structuredClone(topo);
  if (f.flags.has('name')) t.name = f.flags.get('name')!;
  if (f.flags.has('ttl')) t.manager.ttl = num(f, 'ttl', 0);
  if (f.flags.has('limit')) t.manager.limit = num(f, 'limit', 0);
  if (f.flags.has('stats')) t.manager.statsInterval = num(f, 'stats', 1);
  if (f.flags.has('poll')) {
    const p = f.flags.get('poll');
    if (p !== 'busy' && p !== 'adaptive') throw new NfcError('NFC_ERR_USAGE', `--poll takes busy or adaptive, got ${p}`);
    t.manager.poll = p;
  }
  return t;
}

// ---- nfchain start ------------------------------------------------------------------------

const RUN_FLAGS = ['name', 'ttl', 'limit', 'stats', 'poll', 'until-done'] as const;

export async function startCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv, ['until-done']);
  checkKnown(f, RUN_FLAGS, START_USAGE);
  const file = f.positional[0];
  if (!file || f.positional.length > 1) throw new NfcError('NFC_ERR_USAGE', 'give one topology file', { fix: START_USAGE });
  const topo = override(loadTopology(file), f);
  const r = await runTopology(topo, { untilDone: f.flags.has('until-done') });
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
  return validateTopology({
    name: o.name,
    pool: { count: 16384 },
    manager: { ttl: o.duration, statsInterval: o.stats },
    ports: [
      { name: 'gen', driver: 'gen', rate: o.rate, sizes: [64, 128, 512, 1024], flows: 256, tcp: 0.3, seed: 1 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'monitor', module: mod('basic-monitor'), service: 1, options: { interval: 0 } },
      { name: 'forward', module: mod('simple-forward'), service: 2 },
      { name: 'bridge', module: mod('bridge'), service: 3 },
    ],
    chain: ['monitor', 'forward', 'bridge'],
  }, BUILT_IN_TOPOLOGY);
}

export async function demoCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv);
  checkKnown(f, ['duration', 'rate', 'name', 'stats'], DEMO_USAGE);
  const topo = demoTopology({
    name: f.flags.get('name') ?? 'demo', rate: num(f, 'rate', 1_000_000), duration: num(f, 'duration', 0), stats: num(f, 'stats', 1),
  });
  process.stdout.write(`nfchain demo: gen (${topo.ports[0]!.driver === 'gen' ? (topo.ports[0] as { rate: number }).rate || 'unlimited' : ''} pps) → basic-monitor → simple-forward → bridge → null` +
    `${topo.manager.ttl ? ` for ${topo.manager.ttl} s` : '; Ctrl-C to stop'}\n`);
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
    if (d === 'gen') return { name: `p${i}`, driver: 'gen' as const, rate, sizes: [64], flows: 1024, tcp: 0, seed: 1, count: 0 };
    if (d === 'null') return { name: `p${i}`, driver: 'null' as const };
    throw new NfcError('NFC_ERR_USAGE', `--port ${d}: the manager command takes gen or null ports`, { fix: 'for pcap ports, write a topology file (docs/topology.md)' });
  });
  const chain = chainText.split(',').map((h): Topology['chain'][number] => {
    const svc = /^\d+$/.test(h) ? Number(h) : NaN;
    if (svc >= 1 && svc < MAX_SERVICES) return { kind: 'service', service: svc };
    const m = /^port:(\d+)$/.exec(h);
    if (m && Number(m[1]) < ports.length) return { kind: 'port', port: Number(m[1]) };
    throw new NfcError('NFC_ERR_USAGE', `--chain: "${h}" is neither a service id (1..${MAX_SERVICES - 1}) nor port:<index of a --port>`);
  });
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) throw new NfcError('NFC_ERR_USAGE', `--name ${name}: use 1-32 of A-Z a-z 0-9 _ . -`);
  return {
    file: BUILT_IN_TOPOLOGY, name,
    pool: { count: 16384, dataRoom: 2048, headroom: 128, jumbos: 256 },
    rings: { nfRx: 4096, nfTx: 4096 },
    manager: { ttl: 0, limit: 0, statsInterval: 1, poll: 'adaptive', flowTable: 65536, flowIdleTimeout: 30 },
    ports, nfs: [], chain, chains: [], flows: [],
  };
}


export async function managerCommand(argv: string[]): Promise<number> {
  // --port may repeat: collect before the generic parser.
  const ports: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') ports.push(argv[++i] ?? '');
    else rest.push(argv[i]!);
  }
  const f = parseArgs(rest, ['until-done']);
  checkKnown(f, [...RUN_FLAGS, 'chain', 'rate'], MANAGER_USAGE);
  let topo: Topology;
  if (f.positional[0]) {
    topo = loadTopology(f.positional[0]);
    // The manager alone: the topology's NFs are started by hand (nfchain nf ...).
  } else {
    topo = standaloneTopology(f.flags.get('name') ?? 'default', ports.length ? ports : ['gen', 'null'], f.flags.get('chain') ?? '1', num(f, 'rate', 1_000_000));
  }
  topo = override(topo, f);
  const m = new Manager({ topology: topo, untilDone: f.flags.has('until-done') });
  await m.start();
  const onSignal = (sig: string) => (): void => { void m.stop(`${sig} received`); };
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


export async function statusCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv, ['json']);
  checkKnown(f, ['name', 'json'], STATUS_USAGE);
  const s = await fetchStatus(f.flags.get('name') ?? 'default');
  if (f.flags.has('json')) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const lines = [
    `manager "${s.name}" pid ${s.pid}, up ${s.uptime.toFixed(0)} s; pool ${s.pool.free} of ${s.pool.count} buffers free`,
    `buffers: ${describeCount(s.buffers, s.nfs)}`,
    `chain: ${s.chain.join(' → ') || '(empty)'}`,
    'ports:',
    ...s.ports.map((p) => `  ${p.id} ${p.name} (${p.driver}): rx ${p.rxPackets}, tx ${p.txPackets}, tx dropped ${p.txDropped}` +
      (p.link ? `, kernel drops ${p.kernelDrops}, oversize ${p.rxOversize}, malformed ${p.rxMalformed}; ${p.link.interface} ${p.link.up ? (p.link.running ? 'up' : 'up, no carrier') : 'DOWN'} mtu ${p.link.mtu} ${p.link.mac}` : '')),
    'NFs:',
    ...(s.nfs.length ? s.nfs.map((n) => `  ${n.tag} service ${n.service} ${n.state} pid ${n.pid}: rx ${n.counters.rx ?? 0}, drops ${drops(n.counters)}`) : ['  (none)']),
    'services:',
    ...(s.services.length ? s.services.map((x) => `  ${x.service}: NF ${x.nfs.join(', ')}`) : ['  (none in service)']),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}


export async function statsCommand(argv: string[]): Promise<number> {
  const args = [...argv];
  const wi = args.indexOf('--watch');
  let watch = 0;
  if (wi >= 0) {
    const v = args[wi + 1];
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v)) { watch = Number(v); args.splice(wi, 2); } else { watch = 1; args.splice(wi, 1); }
  }
  const f = parseArgs(args, ['json']);
  checkKnown(f, ['name', 'json'], STATS_USAGE);
  const name = f.flags.get('name') ?? 'default';
  const json = f.flags.has('json');
  let prev = await fetchStatus(name);
  if (!watch) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await fetchStatus(name);
    process.stdout.write(json ? JSON.stringify(now) + '\n' : formatStats(now, prev));
    return 0;
  }
  let stop = false;
  process.on('SIGINT', () => { stop = true; });
  while (!stop) {
    await new Promise((r) => setTimeout(r, watch * 1000));
    let now: ManagerStatus;
    try {
      now = await fetchStatus(name);
    } catch {
      process.stdout.write('the manager is gone\n');
      return 0;
    }
    process.stdout.write(json ? JSON.stringify(now) + '\n' : formatStats(now, prev));
    prev = now;
  }
  return 0;
}


// ---- nfchain message ----------------------------------------------------------------------

export async function messageCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv);
  checkKnown(f, ['name'], MESSAGE_USAGE);
  const [target, json] = f.positional;
  const m = target ? /^(nf|service):(\d+)$/.exec(target) : null;
  if (!m || json === undefined || f.positional.length !== 2) throw new NfcError('NFC_ERR_USAGE', 'give a target and a JSON payload', { fix: MESSAGE_USAGE });
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    throw new NfcError('NFC_ERR_USAGE', `the payload is not JSON: ${json}`, { fix: `quote it, e.g. '{"reload":true}'` });
  }
  const to = m[1] === 'nf' ? { instance: Number(m[2]) } : { service: Number(m[2]) };
  const c = await ControlClient.connect(f.flags.get('name') ?? 'default');
  try {
    const r = await c.request<MessageReply>({ type: 'message', to, payload });
    process.stdout.write(`${r.result}\n`);
    return r.result === 'ok' ? 0 : 1;
  } finally {
    c.close();
  }
}

// ---- nfchain flow / chain -----------------------------------------------------------------

function range(v: string | undefined, flag: string): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) throw new NfcError('NFC_ERR_USAGE', `--${flag} takes a port or a range LO-HI, got ${v}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

async function withManager<T>(name: string, f: (c: ControlClient) => Promise<T>): Promise<T> {
  const c = await ControlClient.connect(name);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

export async function flowCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv);
  const [verb, arg] = f.positional;
  const name = f.flags.get('name') ?? 'default';
  if (verb === 'list') {
    checkKnown(f, ['name'], FLOW_USAGE);
    const r = await withManager(name, (c) => c.request<FlowListReply>({ type: 'flow-list' }));
    if (r.table) {
      const t = r.table;
      const a = t.affinity;
      process.stdout.write(t.director
        ? `flow table: ${t.flows} flows of ${t.maxFlows}, ${t.pinned} pinned; expired ${t.expired}, not held (table full) ${t.full}; ` +
          `pins applied ${t.pins}, refused ${t.pinsRefused}\n`
        : 'flow table: none yet (no rules, no pins: every packet takes the default chain)\n');
      process.stdout.write(`affinity: ${a.tracked} flows by epoch ${a.epochs.join('/')} (current ${a.epoch}), expired ${a.expired}, ${a.slots} slots\n`);
    }
    if (r.rules.length === 0) process.stdout.write('no flow rules: every packet takes the default chain\n');
    for (const x of r.rules) {
      const { id, chain, priority, ...match } = x;
      process.stdout.write(`${id}: priority ${priority ?? 0} → chain ${chain}  ${JSON.stringify(match)}\n`);
    }
    return 0;
  }
  if (verb === 'del') {
    checkKnown(f, ['name'], FLOW_USAGE);
    if (!arg || !/^\d+$/.test(arg)) throw new NfcError('NFC_ERR_USAGE', 'flow del takes a rule id', { fix: FLOW_USAGE });
    await withManager(name, (c) => c.request({ type: 'flow-del', ruleId: Number(arg) }));
    process.stdout.write(`rule ${arg} removed\n`);
    return 0;
  }
  if (verb === 'add') {
    checkKnown(f, ['name', 'chain', 'priority', 'proto', 'src-prefix', 'dst-prefix', 'src-ports', 'dst-ports', 'in-port', 'vlan'], FLOW_USAGE);
    const chain = f.flags.get('chain');
    if (!chain) throw new NfcError('NFC_ERR_USAGE', 'flow add needs --chain', { fix: FLOW_USAGE });
    const rule: FlowRuleSpec = { chain, priority: num(f, 'priority', 0) };
    if (f.flags.has('proto')) rule.proto = num(f, 'proto', 0);
    if (f.flags.has('vlan')) rule.vlan = num(f, 'vlan', 0);
    const sp = f.flags.get('src-prefix');
    if (sp !== undefined) rule.srcPrefix = sp;
    const dp = f.flags.get('dst-prefix');
    if (dp !== undefined) rule.dstPrefix = dp;
    const sr = range(f.flags.get('src-ports'), 'src-ports');
    if (sr) rule.srcPorts = sr;
    const dr = range(f.flags.get('dst-ports'), 'dst-ports');
    if (dr) rule.dstPorts = dr;
    const ip = f.flags.get('in-port');
    if (ip !== undefined) rule.inPort = ip;
    const r = await withManager(name, (c) => c.request<FlowAddedReply>({ type: 'flow-add', rule }));
    process.stdout.write(`rule ${r.ruleId} added\n`);
    return 0;
  }
  throw new NfcError('NFC_ERR_USAGE', `flow ${verb ?? ''}: use add, del or list`, { fix: FLOW_USAGE });
}

export async function chainCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv);
  checkKnown(f, ['name'], CHAIN_USAGE);
  const [verb, cname, hops] = f.positional;
  const name = f.flags.get('name') ?? 'default';
  if (verb === 'list') {
    const r = await withManager(name, (c) => c.request<ChainListReply>({ type: 'chain-list' }));
    for (const ch of r.chains) process.stdout.write(`${ch.id} ${ch.name}: ${ch.hops.join(' → ')}\n`);
    return 0;
  }
  if (verb === 'set' && cname && hops) {
    await withManager(name, (c) => c.request({ type: 'chain-set', name: cname, hops: hops.split(',') }));
    process.stdout.write(`chain ${cname} set\n`);
    return 0;
  }
  throw new NfcError('NFC_ERR_USAGE', 'use chain set NAME HOP,HOP,... or chain list', { fix: CHAIN_USAGE });
}

// ---- nfchain scale ------------------------------------------------------------------------

export async function scaleCommand(argv: string[]): Promise<number> {
  const f = parseArgs(argv, ['rebalance']);
  checkKnown(f, ['name', 'rebalance'], SCALE_USAGE);
  const [service, count] = f.positional;
  const n = Number(count);
  if (!service || count === undefined || !Number.isInteger(n) || n < 0 || f.positional.length > 2) {
    throw new NfcError('NFC_ERR_USAGE', 'give a service and a number of instances, e.g. nfchain scale firewall 3', { fix: SCALE_USAGE });
  }
  const name = f.flags.get('name') ?? 'default';
  const r = await withManager(name, (c) => c.request<ScaledReply>({ type: 'scale', service: /^\d+$/.test(service) ? Number(service) : service, instances: n, rebalance: f.flags.has('rebalance') }, 40_000));
  const what = [
    r.started.length ? `started ${r.started.map((id) => `#${id}`).join(', ')}` : '',
    r.retired.length ? `retired ${r.retired.map((id) => `#${id}`).join(', ')}` : '',
  ].filter(Boolean).join('; ');
  process.stdout.write(`service ${r.service}: ${r.before} → ${r.instances} instances${what ? ` (${what})` : ' (no change)'}\n`);
  return 0;
}
