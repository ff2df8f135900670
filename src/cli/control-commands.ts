/**
 * The commands that change a running manager over its control socket: message, flow add/del/list,
 * chain set/list, scale. Each is a function of its parsed command line (flags: table.ts).
 */
import { NfcError } from '../errors.js';
import { ControlClient } from '../control/socket.js';
import type {
  ChainListReply,
  FlowAddedReply,
  FlowListReply,
  FlowRuleSpec,
  MessageReply,
  ScaledReply,
} from '../protocol/messages.js';
import type { Parsed } from '../util/args.js';
import type { FLOW_ADD_FLAGS, MESSAGE_FLAGS, NAME_FLAGS, SCALE_FLAGS } from './table.js';

async function withManager<T>(name: string, f: (c: ControlClient) => Promise<T>): Promise<T> {
  const c = await ControlClient.connect(name);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

// ---- nfchain message ----------------------------------------------------------------------

export async function messageCommand(p: Parsed<typeof MESSAGE_FLAGS>, usage: string): Promise<number> {
  const [target, json] = p.positionals;
  const m = target ? /^(nf|service):(\d+)$/.exec(target) : null;
  if (!m || json === undefined || p.positionals.length !== 2) {
    throw new NfcError('NFC_ERR_USAGE', 'give a target and a JSON payload', { fix: usage });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    throw new NfcError('NFC_ERR_USAGE', `the payload is not JSON: ${json}`, {
      fix: `quote it, e.g. '{"reload":true}'`,
    });
  }
  const to = m[1] === 'nf' ? { instance: Number(m[2]) } : { service: Number(m[2]) };
  const r = await withManager(p.values.name, (c) => c.request<MessageReply>({ type: 'message', to, payload }));
  process.stdout.write(`${r.result}\n`);
  const why: Record<string, string> = {
    'no-destination': 'no NF is running there (nfchain status lists them)',
    'ring-full': 'its inbox holds 64 messages it has not read yet; try again',
    'too-large': 'the payload is over ~1 KB as JSON',
    'no-handler': 'that NF has no message() hook, so it would never read the message',
  };
  if (r.result !== 'ok') process.stderr.write(`nfchain: message not sent: ${why[r.result] ?? r.result}\n`);
  return r.result === 'ok' ? 0 : 1;
}

// ---- nfchain flow -------------------------------------------------------------------------

function range(v: string | undefined, flag: string): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) throw new NfcError('NFC_ERR_USAGE', `--${flag} takes a port or a range LO-HI, got ${v}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

export async function flowListCommand(p: Parsed<typeof NAME_FLAGS>): Promise<number> {
  const r = await withManager(p.values.name, (c) => c.request<FlowListReply>({ type: 'flow-list' }));
  if (r.table) {
    const t = r.table;
    const a = t.affinity;
    process.stdout.write(
      t.director
        ? `flow table: ${t.flows} flows of ${t.maxFlows}, ${t.pinned} pinned; expired ${t.expired}, not held (table full) ${t.full}; ` +
            `pins applied ${t.pins}, refused ${t.pinsRefused}\n`
        : 'flow table: none yet (no rules, no pins: every packet takes the default chain)\n',
    );
    process.stdout.write(
      `affinity: ${a.tracked} flows by epoch ${a.epochs.join('/')} (current ${a.epoch}), expired ${a.expired}, ${a.slots} slots\n`,
    );
  }
  if (r.rules.length === 0) process.stdout.write('no flow rules: every packet takes the default chain\n');
  for (const x of r.rules) {
    const { id, chain, priority, ...match } = x;
    process.stdout.write(`${id}: priority ${priority ?? 0} → chain ${chain}  ${JSON.stringify(match)}\n`);
  }
  return 0;
}

export async function flowDelCommand(p: Parsed<typeof NAME_FLAGS>, usage: string): Promise<number> {
  const [arg] = p.positionals;
  if (!arg || !/^\d+$/.test(arg) || p.positionals.length > 1) {
    throw new NfcError('NFC_ERR_USAGE', 'flow del takes a rule id', { fix: usage });
  }
  await withManager(p.values.name, (c) => c.request({ type: 'flow-del', ruleId: Number(arg) }));
  process.stdout.write(`rule ${arg} removed\n`);
  return 0;
}

export async function flowAddCommand(p: Parsed<typeof FLOW_ADD_FLAGS>): Promise<number> {
  const v = p.values;
  const rule: FlowRuleSpec = { chain: v.chain, priority: v.priority };
  if (v.proto !== undefined) rule.proto = v.proto;
  if (v.vlan !== undefined) rule.vlan = v.vlan;
  if (v['src-prefix'] !== undefined) rule.srcPrefix = v['src-prefix'];
  if (v['dst-prefix'] !== undefined) rule.dstPrefix = v['dst-prefix'];
  const sr = range(v['src-ports'], 'src-ports');
  if (sr) rule.srcPorts = sr;
  const dr = range(v['dst-ports'], 'dst-ports');
  if (dr) rule.dstPorts = dr;
  if (v['in-port'] !== undefined) rule.inPort = v['in-port'];
  const r = await withManager(v.name, (c) => c.request<FlowAddedReply>({ type: 'flow-add', rule }));
  process.stdout.write(`rule ${r.ruleId} added\n`);
  return 0;
}

// ---- nfchain chain ------------------------------------------------------------------------

export async function chainListCommand(p: Parsed<typeof NAME_FLAGS>): Promise<number> {
  const r = await withManager(p.values.name, (c) => c.request<ChainListReply>({ type: 'chain-list' }));
  for (const ch of r.chains) process.stdout.write(`${ch.id} ${ch.name}: ${ch.hops.join(' → ')}\n`);
  return 0;
}

export async function chainSetCommand(p: Parsed<typeof NAME_FLAGS>, usage: string): Promise<number> {
  const [cname, hops] = p.positionals;
  if (!cname || !hops || p.positionals.length > 2) {
    throw new NfcError('NFC_ERR_USAGE', 'use chain set NAME HOP,HOP,... or chain list', { fix: usage });
  }
  await withManager(p.values.name, (c) => c.request({ type: 'chain-set', name: cname, hops: hops.split(',') }));
  process.stdout.write(`chain ${cname} set\n`);
  return 0;
}

// ---- nfchain scale ------------------------------------------------------------------------

export async function scaleCommand(p: Parsed<typeof SCALE_FLAGS>, usage: string): Promise<number> {
  const [service, count] = p.positionals;
  const n = Number(count);
  if (!service || count === undefined || !Number.isInteger(n) || n < 0 || p.positionals.length > 2) {
    throw new NfcError('NFC_ERR_USAGE', 'give a service and a number of instances, e.g. nfchain scale firewall 3', {
      fix: usage,
    });
  }
  const request = {
    type: 'scale',
    service: /^\d+$/.test(service) ? Number(service) : service,
    instances: n,
    rebalance: p.values.rebalance,
  } as const;
  const r = await withManager(p.values.name, (c) => c.request<ScaledReply>(request, 40_000));
  const what = [
    r.started.length ? `started ${r.started.map((id) => `#${id}`).join(', ')}` : '',
    r.retired.length ? `retired ${r.retired.map((id) => `#${id}`).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  process.stdout.write(
    `service ${r.service}: ${r.before} → ${r.instances} instances${what ? ` (${what})` : ' (no change)'}\n`,
  );
  return 0;
}
