/**
 * What an NF author writes: `export default defineNF({ name, options, create })`, where
 * `create(ctx)` makes one instance — its state and its hooks `{ handle, tick, message, stop }` —
 * so a process can hold several instances, each with its own state. (The older module form,
 * `defineNF({ name, setup, handle, ... })` with state at module scope, still works: one instance
 * per process.)
 *
 * The engine calls the NF; the NF never schedules itself. `handle` gets one
 * reusable PacketView, already pointed at the packet, and returns a verdict (verdict.ts):
 * DROP, NEXT, toNF(service) or out(port). `handleBurst` is the alternative for NFs that want a
 * whole burst at once. Everything else is optional.
 */
import type { PacketView } from '../packet/packet-view.js';
import type { PacketPool } from '../shm/pool.js';
import type { MessageResult, MessageTarget } from '../chain/messages.js';
import { editDistance } from '../util/names.js';
import { parseFreeFlags } from '../util/args.js';
import type { PortInfo } from './ports.js';

/** Edit distance for "did you mean" (public API); it lives in util/names.ts, beside didYouMean. */
export { editDistance };

/** What setFlowChain() did: 'ok', or why not (see NFContext.setFlowChain). */
export type FlowChainResult = 'ok' | 'no-flow' | 'no-chain' | 'ring-full';

/** The manager's answer to scale(): instances before and now, NF ids started and retired. */
export type { ScaleResult } from '../protocol/messages.js';
import { NfcError } from '../errors.js';
import type { MetricDecl, ScaleResult } from '../protocol/messages.js';

/** One option an NF accepts (from the topology file or `nfchain nf ... -- --key value`). */
export type OptionSpec =
  | { type: 'number'; default?: number; min?: number; max?: number; integer?: boolean; help?: string }
  | { type: 'string'; default?: string; choices?: readonly string[]; help?: string }
  | { type: 'boolean'; default?: boolean; help?: string };

export type OptionsSpec = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends { type: 'number' }
  ? number
  : S extends { type: 'string' }
    ? string
    : boolean;
/** The parsed options an NF sees: every option with a default is present. */
export type OptionValues<S extends OptionsSpec> = { readonly [K in keyof S]: ValueOf<S[K]> };

/** A burst handed to handleBurst: descriptors and one verdict slot per packet. */
export interface Burst {
  /** descriptors [0..n) */
  readonly descs: Uint32Array;
  /** set verdicts[i] for each packet (default NEXT) */
  readonly verdicts: Int32Array;
  readonly n: number;
  /** a view for the caller to point at packets: view.attach(pool, d) (data, length, offloads) */
  readonly view: PacketView;
}

export interface NFContext<O = Record<string, unknown>> {
  /** the NF definition's name */
  readonly name: string;
  /**
   * The directory relative paths in the NF's options are taken from: the topology file's
   * directory under `nfchain start`, else the working directory. path.resolve(ctx.baseDir, p).
   */
  readonly baseDir: string;
  readonly service: number;
  /** this instance's NF id (unique in the manager) */
  readonly instance: number;
  readonly options: O;
  /** the packet pool (meta accessors: pool.meta(d, Meta.x), pool.length(d), ...) */
  readonly pool: PacketPool;
  /**
   * Descriptor of the packet handle() is looking at. Module form only: with create(), several
   * instances share a process, so use the packet's own `pkt.desc` (and, in handleBurst,
   * `burst.view.attach(pool, d).desc`).
   */
  readonly desc: number;
  /** Input port of the packet handle() is looking at; prefer `pkt.inputPort` (see desc). */
  readonly inputPort: number;
  /** packets handled so far */
  readonly handled: number;
  /** packets this NF holds (kept or created and not yet sent) */
  readonly heldCount: number;
  /**
   * Keeps the current packet (buffering): the handler's verdict is ignored and the packet
   * stays with this NF until send() or drop(). Returns its descriptor, or -1 when the NF
   * already holds the maximum (then the verdict applies as usual).
   */
  keep(): number;
  /**
   * A new packet (OpenNetVM's return_pkt), optionally filled with `bytes`; the NF holds it
   * until send(). Returns its descriptor, or -1 when the pool (or the hold table) is full.
   */
  newPacket(bytes?: Uint8Array): number;
  /** Sends a held packet with a verdict; false if `desc` is not held by this NF. */
  send(desc: number, verdict: number): boolean;
  /** Frees a held packet; false if not held. */
  drop(desc: number): boolean;
  /**
   * Sends a message (any JSON value, at most ~1 KB) to an NF by id or to a service (one of its
   * instances). Returns 'ok', or why not: 'no-destination', 'ring-full' (its inbox holds 64
   * messages) or 'too-large'. Never throws.
   */
  sendMessage(to: MessageTarget, payload: unknown): MessageResult;
  /** Running instances of `service` right now (0: packets sent to it would be dropped). */
  instances(service: number): number;
  /**
   * Pins the current packet's flow (both directions) to chain `chain` (an id from chainId())
   * in the manager's flow director, above every rule — OpenNetVM's flow_dir_add. The packet
   * itself goes on along that chain, from its first hop, if the handler returns NEXT. Returns
   * 'ok', or why not: 'no-flow' (not IPv4/IPv6, or called outside handle()), 'no-chain' (no
   * such chain) — the packet stays on its chain — or 'ring-full' (the manager's inbox is full:
   * this packet still goes along the new chain, but the flow is not pinned, so its next packet
   * comes here again). Packets of the flow already on their way keep their chain. Never
   * throws; allocates (first packet of a flow only).
   */
  setFlowChain(chain: number): FlowChainResult;
  /**
   * The manager's ports: id (what out() takes), name, driver, MAC, MTU, link state (`up`) and
   * the addresses the topology gives them (ports[].ipv4 / ipv6), parsed (nflib/ports.ts).
   */
  readonly ports: readonly PortInfo[];
  /**
   * The port of that name (or id). Throws NFC_ERR_NF naming the ports there are — or, with
   * `{ option: 'wan' }`, NFC_ERR_NF_OPTION naming that option — so call it in create() with the
   * name from an option, and keep the result.
   */
  port(name: string | number, opts?: { option?: string }): PortInfo;
  /** Chain names by id (chain 0 is "default"), as the manager had them when this NF registered. */
  readonly chains: readonly string[];
  /** A chain's id by name (in `chains`), or -1. */
  chainId(name: string): number;
  /**
   * Asks the manager to run `instances` instances of `service` (default: this NF's; an id or
   * an NF name): it starts processes running the same module and options, or retires the
   * newest instances. New instances take only flows that start from then on, unless
   * `rebalance` (existing flows move too: for NFs that keep no per-flow state). Resolves once
   * new instances are in service; rejects with the reason (NfcError). Cold: call it from
   * tick() or message(), not per packet.
   */
  scale(instances: number, service?: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult>;
  /** Writes a line to the NF's log (prefixed with its name and id). */
  log(message: string): void;
  /** Asks the NF to stop after the current burst. */
  stop(): void;
  /** Milliseconds since the NF started handling packets. */
  now(): number;
  /**
   * A counter the NF declared (`defineNF({ counters: { name: help } })`), in shared memory:
   * `nfchain stats`, `status --json`, `/metrics` and the console show it with no more work.
   * Throws NFC_ERR_NF for a name not declared; call it in create() and keep the result, then
   * `hits.add()` per packet (no allocation).
   */
  counter(name: string): Counter;
  /** A gauge the NF declared (`defineNF({ gauges: { name: help } })`): `flows.set(n)`. */
  gauge(name: string): Gauge;
}

/** A declared counter: only goes up (a restart of the NF starts it at 0). */
export interface Counter {
  add(n?: number): void;
  readonly value: number;
}
/** A declared gauge: a value now (table size, queue depth). */
export interface Gauge {
  set(v: number): void;
  add(d: number): void;
  readonly value: number;
}

/** Counters or gauges an NF declares: name → one-line help. Names: [a-zA-Z_][a-zA-Z0-9_]{0,47}. */
export type MetricsSpec = Record<string, string>;

/**
 * One NF instance, as create() makes it: its hooks (and, in its closure or as an object's fields,
 * its state). `handle` or `handleBurst` is required; the rest are optional.
 */
export interface NFInstance<O = Record<string, unknown>> {
  /** per packet: return a verdict. Hot path: must not allocate. */
  handle?(pkt: PacketView, ctx: NFContext<O>): number;
  /** per burst, instead of handle: fill burst.verdicts */
  handleBurst?(burst: Burst, ctx: NFContext<O>): void;
  /** called every tickInterval ms (default 1000) */
  tick?(ctx: NFContext<O>): void;
  /** a message from the manager (from = 0) or another NF (from = its NF id), in the order sent */
  message?(payload: unknown, ctx: NFContext<O>, from: number): void;
  stop?(ctx: NFContext<O>): void | Promise<void>;
}

export interface NFDefinition<
  S extends OptionsSpec = OptionsSpec,
  I extends NFInstance<OptionValues<S>> = NFInstance<OptionValues<S>>,
> {
  name: string;
  /** options the NF accepts; unknown options are refused before the NF starts */
  options?: S;
  /** one-line description for `nfchain nf --help` */
  description?: string;
  /** counters the NF keeps (name → help), shown by stats, /metrics and the console: ctx.counter(name) */
  counters?: MetricsSpec;
  /** gauges the NF keeps (name → help): ctx.gauge(name) */
  gauges?: MetricsSpec;
  /**
   * Record each packet's age when the NF returns its verdict (arrival at the manager's RX loop
   * to the verdict) into the NF's own latency histogram: status, stats, /metrics and the console
   * show its percentiles. Costs one clock read per burst and a few ns per packet.
   */
  latency?: boolean;
  /**
   * The per-instance form: makes one instance (state and hooks) for `ctx` (its options, service,
   * id). Called once per instance, before it takes traffic; a throw makes the instance leave, as
   * a throwing setup() does. With create, the hooks below are not given at the top level.
   */
  create?(ctx: NFContext<OptionValues<S>>): I | Promise<I>;
  /** module form: runs once before traffic (state lives at module scope) */
  setup?(ctx: NFContext<OptionValues<S>>): void | Promise<void>;
  /** per packet: return a verdict. Hot path: must not allocate. */
  handle?(pkt: PacketView, ctx: NFContext<OptionValues<S>>): number;
  /** per burst, instead of handle: fill burst.verdicts */
  handleBurst?(burst: Burst, ctx: NFContext<OptionValues<S>>): void;
  /** called every tickInterval ms (default 1000) */
  tick?(ctx: NFContext<OptionValues<S>>): void;
  tickInterval?: number;
  /** a message from the manager (from = 0) or another NF (from = its NF id), in the order sent */
  message?(payload: unknown, ctx: NFContext<OptionValues<S>>, from: number): void;
  stop?(ctx: NFContext<OptionValues<S>>): void | Promise<void>;
}

/** Declares an NF. Checks the definition's shape (cold). */
export function defineNF<S extends OptionsSpec, I extends NFInstance<OptionValues<S>> = NFInstance<OptionValues<S>>>(
  def: NFDefinition<S, I>,
): NFDefinition<S, I> {
  if (!def || typeof def.name !== 'string' || def.name.length === 0) {
    throw new NfcError('NFC_ERR_NF', 'defineNF: the definition needs a name');
  }
  checkMetrics(def);
  if (def.create !== undefined) {
    if (typeof def.create !== 'function') throw new NfcError('NFC_ERR_NF', `NF ${def.name}: create must be a function`);
    const mixed = MODULE_HOOKS.filter((h) => def[h] !== undefined);
    if (mixed.length > 0) {
      throw new NfcError(
        'NFC_ERR_NF',
        `NF ${def.name}: create() and top-level ${mixed.join(', ')} are two forms mixed`,
        {
          fix: 'return the hooks from create(): create(ctx) { ...; return { handle(pkt) { ... } }; }',
        },
      );
    }
    return def;
  }
  if (typeof def.handle !== 'function' && typeof def.handleBurst !== 'function') {
    throw new NfcError('NFC_ERR_NF', `NF ${def.name}: give create(ctx) returning { handle }, or handle(pkt, ctx)`);
  }
  return def;
}

const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,47}$/;

/** The counters and gauges of a definition, checked (cold). */
function checkMetrics(def: {
  name: string;
  counters?: MetricsSpec | undefined;
  gauges?: MetricsSpec | undefined;
}): void {
  const seen = new Set<string>();
  for (const kind of ['counters', 'gauges'] as const) {
    const spec = def[kind];
    if (spec === undefined) continue;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
      throw new NfcError('NFC_ERR_NF', `NF ${def.name}: ${kind} must be a mapping of name to help text`);
    for (const [name, help] of Object.entries(spec)) {
      if (!METRIC_NAME.test(name))
        throw new NfcError('NFC_ERR_NF', `NF ${def.name}: ${kind}.${name}: a name is [a-zA-Z_][a-zA-Z0-9_]{0,47}`);
      if (typeof help !== 'string')
        throw new NfcError('NFC_ERR_NF', `NF ${def.name}: ${kind}.${name}: give a one-line help text`);
      if (seen.has(name)) throw new NfcError('NFC_ERR_NF', `NF ${def.name}: "${name}" is both a counter and a gauge`);
      seen.add(name);
    }
  }
}

/** One declared counter or gauge, as the NF tells the manager at registration. */
export type { MetricDecl };

/**
 * The declarations of a process's NFs, in the order of their words in the slot's metrics set
 * (cold). `group`: name each by its member.
 */
export function metricDecls(
  members: readonly { def: { counters?: MetricsSpec | undefined; gauges?: MetricsSpec | undefined }; name: string }[],
): MetricDecl[] {
  const out: MetricDecl[] = [];
  const group = members.length > 1;
  for (const m of members) {
    for (const [kind, spec] of [
      ['counter', m.def.counters],
      ['gauge', m.def.gauges],
    ] as const) {
      for (const [name, help] of Object.entries(spec ?? {}))
        out.push({ name, kind, help, ...(group ? { member: m.name } : {}) });
    }
  }
  return out;
}

/** True when `x` has the shape of an NF definition: a name, and create() or a packet handler. */
export function isNFDefinition(x: unknown): x is NFDefinition<OptionsSpec> {
  if (!x || typeof x !== 'object') return false;
  const d = x as NFDefinition<OptionsSpec>;
  return (
    typeof d.name === 'string' &&
    (typeof d.create === 'function' || typeof d.handle === 'function' || typeof d.handleBurst === 'function')
  );
}

/** The hooks of an instance. */
const INSTANCE_HOOKS = ['handle', 'handleBurst', 'tick', 'message', 'stop'] as const;

/** The hooks of the module form, which create() replaces. */
const MODULE_HOOKS = ['setup', 'handle', 'handleBurst', 'tick', 'message', 'stop'] as const;

/**
 * Makes one instance of an NF (cold): create(ctx) for the per-instance form — its result
 * checked — or, for the module form, setup(ctx) and the definition itself as the instance.
 */
export async function instantiate<I>(def: NFDefinition<OptionsSpec, never>, ctx: NFContext<never>): Promise<I> {
  if (def.create) {
    const inst = (await def.create(ctx)) as NFInstance | undefined;
    if (!inst || (typeof inst.handle !== 'function' && typeof inst.handleBurst !== 'function')) {
      throw new NfcError(
        'NFC_ERR_NF',
        `NF ${def.name}: create() must return an object with handle(pkt, ctx) or handleBurst(burst, ctx)`,
      );
    }
    // The engine calls the hooks as plain functions (no `this`: cheaper per packet). A class
    // instance's methods need their `this`: bind them once, here.
    if (Object.getPrototypeOf(inst) !== Object.prototype) {
      const hooks = inst as unknown as Record<string, unknown>;
      for (const h of INSTANCE_HOOKS) {
        const f = hooks[h];
        if (typeof f === 'function') hooks[h] = f.bind(inst);
      }
    }
    return inst as I;
  }
  await def.setup?.(ctx);
  return def as unknown as I;
}

function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/**
 * Checks and completes an NF's options against its spec (cold). `where` names the source for
 * errors, e.g. `topology.yaml: nfs[2] (firewall)` or `nfchain nf firewall.ts`.
 */
export function parseOptions<S extends OptionsSpec>(
  def: NFDefinition<S>,
  raw: Record<string, unknown>,
  where: string,
): OptionValues<S> {
  const spec: OptionsSpec = def.options ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const s = spec[k];
    if (!s) {
      const near = nearest(k, Object.keys(spec));
      const known = Object.keys(spec);
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `${where}: unknown option "${k}"${near ? `; did you mean "${near}"?` : ''}`,
        {
          fix: known.length ? `${def.name} takes: ${known.join(', ')}` : `${def.name} takes no options`,
        },
      );
    }
    out[k] = coerce(def.name, k, s, v, where);
  }
  for (const [k, s] of Object.entries(spec)) {
    if (!(k in out) && s.default !== undefined) out[k] = s.default;
  }
  return out as OptionValues<S>;
}

function coerce(nf: string, key: string, s: OptionSpec, v: unknown, where: string): unknown {
  const bad = (what: string): never => {
    throw new NfcError('NFC_ERR_NF_OPTION', `${where}: option "${key}" ${what}`, {
      fix: s.help ? `${key}: ${s.help}` : `see ${nf}'s README`,
    });
  };
  switch (s.type) {
    case 'number': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad(`must be a number, got ${JSON.stringify(v)}`);
      if (s.integer && !Number.isInteger(n)) return bad(`must be an integer, got ${n}`);
      if (s.min !== undefined && n < s.min) return bad(`must be at least ${s.min}, got ${n}`);
      if (s.max !== undefined && n > s.max) return bad(`must be at most ${s.max}, got ${n}`);
      return n;
    }
    case 'boolean': {
      if (v === true || v === 'true' || v === '1' || v === 'yes') return true;
      if (v === false || v === 'false' || v === '0' || v === 'no') return false;
      return bad(`must be true or false, got ${JSON.stringify(v)}`);
    }
    case 'string': {
      if (typeof v !== 'string' && typeof v !== 'number') return bad(`must be a string, got ${JSON.stringify(v)}`);
      const str = String(v);
      if (s.choices && !s.choices.includes(str)) return bad(`must be one of ${s.choices.join(', ')}, got "${str}"`);
      return str;
    }
  }
}

/**
 * `--key value` / `--key=value` / `--flag` pairs after `--` on the command line (cold). The values
 * stay strings ('true' for a bare flag): parseOptions checks the keys and types the values against
 * the NF's declaration.
 */
export function optionsFromArgv(argv: readonly string[]): Record<string, unknown> {
  const { values, stray } = parseFreeFlags(argv);
  if (stray.length) throw new NfcError('NFC_ERR_USAGE', `NF option "${stray[0]}" must be written --name value`);
  return values;
}
