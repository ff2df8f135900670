/**
 * runNF: runs an NF definition over a list of packets in this process, with no manager, no
 * shared memory and no rings — the way to unit-test an NF (as in BESS
 * `run_module`, Click's `.clicktest`).
 *
 *   const r = await runNF(myNF, [pkt1, pkt2], { options: { interval: 0 }, inputPort: 0, ticks: 2 });
 *   r.verdicts   // one per input packet: the handler's verdict, -1 if kept (NOT_HANDLED if the
 *                // NF stopped before reaching it)
 *   r.outputs    // every packet that left with a verdict other than DROP, in order, with a copy
 *                // of its bytes and where it came from ('input', 'created', 'kept')
 *   r.dropped    // packets that left with DROP (or an unknown action), plus drop() calls
 *   r.held       // packets the NF still held at the end (the harness frees them)
 *   r.logs       // what the NF passed to ctx.log(), without the prefix
 *
 * What it does, in order:
 *   1. parses opts.options against the NF's option spec (parseOptions, so errors are the
 *      NFC_ERR_NF_OPTION ones a topology file would get, located at "runNF");
 *   2. makes a private packet pool (an ordinary ArrayBuffer: initPool, PacketPool, PoolCache)
 *      and a context object with the engine's semantics (engine.ts): keep() holds the current
 *      packet and its verdict is ignored, newPacket() allocates a held packet, send() routes a
 *      held packet, drop() frees it, at most HELD_MAX packets held;
 *   3. await setup(ctx);
 *   4. feeds the packets in bursts of BURST (32), each written into a pool buffer with the
 *      meta the manager's RX loop gives it (port, flow hash from PacketView.flowHash(), chain
 *      position 0, action NEXT), then calls handle() per packet or handleBurst() once per burst
 *      (verdicts preset to NEXT). A packet "leaves" as soon as its verdict is known;
 *   5. calls tick(ctx) `opts.ticks` times (default 0);
 *   6. await stop(ctx), frees what the NF still holds, and checks the pool: every buffer must
 *      be back on the free ring, or runNF throws (a leak is a bug in the harness or the pool).
 *
 * openNF(def, opts) does steps 1-3 and returns a session to drive step by step — push(packets),
 * tick(n), advance(ms), message(payload), in any order — then stop() does step 6; runNF is
 * openNF, one push, the ticks and stop. ctx.ports are opts.ports (default one port "port0").
 *
 * As in the engine, ctx.stop() ends the run after the current burst: the remaining packets are
 * not handled (their verdict is NOT_HANDLED), no more ticks run, and stop() is still called.
 *
 * Differences from a real run, on purpose:
 *   - Time is virtual by default: ctx.now() is 0 during setup and packets and moves forward by
 *     the NF's tickInterval (default 1000 ms) before each tick, so rates computed in tick()
 *     are deterministic. Pass `clock: 'real'` for the engine's wall-clock behaviour.
 *   - There are no routes: a verdict is recorded as it is, not resolved to a ring or a port
 *     (a NEXT is not checked against a chain, a toNF(s) not against the registered services).
 *     Unknown actions count as drops, as the router counts them (dropBadDest).
 *   - keep() outside handle() (in setup, tick or handleBurst) returns -1: there is no current
 *     packet to keep.
 *   - Exceptions from the NF's hooks propagate (the engine logs a throwing tick() and goes on).
 *
 * Cold code: the harness copies every output's bytes and allocates freely; it is a test tool.
 */
import { NfcError } from '../errors.js';
import { HeldTable } from './held-table.js';
import type { MessageResult, MessageTarget } from '../chain/messages.js';
import { BURST } from '../shm/layout.js';
import { Meta } from '../shm/pool-layout.js';
import { initPool, PacketPool, poolBytes } from '../shm/pool.js';
import { PoolCache } from '../shm/pool-cache.js';
import { PacketView } from '../packet/packet-view.js';
import { HELD_MAX, MAX_SERVICES, NF_METRICS_MAX } from '../shm/instance-layout.js';
import { memberCells, type MetricCell, type MetricCells } from './metrics.js';
import { Action, NEXT, verdictAction, verdictDest } from '../chain/verdict.js';
import {
  instantiate,
  isNFDefinition,
  metricDecls,
  parseOptions,
  type Burst,
  type MetricDecl,
  type FlowChainResult,
  type NFContext,
  type NFDefinition,
  type NFInstance,
  type OptionsSpec,
  type OptionValues,
  type ScaleResult,
} from './define.js';
import { FlowKey } from '../packet/flow-key.js';
import { findPort, portsFromSpecs, type PortInfo, type PortSpec } from './ports.js';

/** The verdict runNF reports for an input packet the NF never saw (it stopped first). */
export const NOT_HANDLED = -2;
/** The verdict runNF reports for an input packet the NF kept. */
const KEPT = -1;

export interface RunNFOptions {
  /** the NF's options, as a topology file or the command line would give them (default {}) */
  options?: Record<string, unknown>;
  /** input port of every packet, or one per packet (default 0) */
  inputPort?: number | readonly number[];
  /**
   * the offload word (Meta.offload) of every packet, or one per packet (default 0): e.g.
   * gsoOffload(OffloadGso.TCPV4, 1448) for a GSO super-frame, OFFLOAD_CSUM_PARTIAL for a
   * partial checksum, as an af_packet port receives them from a host with offloads on
   */
  offloads?: number | readonly number[];
  /** how many times to call tick() after the packets (default 0) */
  ticks?: number;
  /** ctx.service (default 1) */
  service?: number;
  /** ctx.instance, the NF id (default 1) */
  instance?: number;
  /**
   * the manager's ports as the NF sees them (ctx.ports): name, and optionally MAC, MTU,
   * addresses ("10.0.1.1/24"), link state (default: one port "port0", up)
   */
  ports?: readonly PortSpec[];
  /** buffers in the private pool, a power of two (default 2048: HELD_MAX held + bursts) */
  poolCount?: number;
  /** data room of each buffer in bytes (default the pool's, 2048) */
  dataRoom?: number;
  /** 'virtual' (default): ctx.now() advances by tickInterval per tick; 'real': wall clock */
  clock?: 'virtual' | 'real';
  /** also pass each log line (prefixed `[name#instance]`) here, e.g. console.log */
  log?: (line: string) => void;
  /** ctx.baseDir: where relative option paths are from (default the working directory) */
  baseDir?: string;
  /** chain names by id, for ctx.chainId() and ctx.setFlowChain() (default ['default']) */
  chains?: readonly string[];
  /**
   * answers ctx.scale() (there is no manager here); without it scale() rejects with
   * NFC_ERR_NF. Requests are recorded in result.scaleRequests either way.
   */
  onScale?: (instances: number, service: number | string, rebalance: boolean) => ScaleResult | Promise<ScaleResult>;
}

export type OutputSource = 'input' | 'created' | 'kept';

/** A packet that left the NF with a verdict other than DROP. */
export interface RunNFOutput {
  /** a copy of the packet's bytes as it left */
  bytes: Uint8Array;
  /** its offload word as it left (0: checksums complete, one frame on the wire) */
  offload: number;
  verdict: number;
  /** an input packet by its handler's verdict, a newPacket() or a kept input, by send() */
  source: OutputSource;
  /** the input packet's index ('input' and 'kept'), or -1 ('created') */
  index: number;
}

export interface RunNFResult<O = Record<string, unknown>, I = NFInstance<O>> {
  /** per input packet: the handler's verdict, -1 if kept, NOT_HANDLED (-2) if never handled */
  verdicts: number[];
  /** every packet that left with a non-DROP verdict, in the order they left */
  outputs: RunNFOutput[];
  /** packets that left with DROP (or an unknown action) and packets freed with drop() */
  dropped: number;
  /** packets the NF still held at the end (freed by the harness) */
  held: number;
  /** the NF's log lines, without prefix */
  logs: string[];
  /** messages the NF sent (the harness accepts them all: 'ok') */
  messages: { to: MessageTarget; payload: unknown }[];
  /** setFlowChain() calls that succeeded: the input packet's index, its flow (FlowKey.toString()) and the chain */
  flowChains: { index: number; flow: string; chain: number }[];
  /** scale() calls, in order */
  scaleRequests: { instances: number; service: number | string; rebalance: boolean }[];
  /** the context the NF saw (options, handled, ...) */
  ctx: NFContext<O>;
  /** the instance create() made (its state, for the test to read); the definition in the module form */
  instance: I;
  /** input packets handled */
  handled: number;
  /** tick() calls made */
  ticks: number;
  /** why the NF stopped early ('' if it did not call ctx.stop()) */
  stopReason: string;
  /** the counters and gauges it declared, by name, at the end */
  metrics: Record<string, number>;
}

/**
 * The context an NF sees under runNF: NFContext with the engine's semantics over a private
 * pool. Its methods are hot-path safe (no allocation) except the recording of outputs.
 */
class HarnessContext<O> implements NFContext<O> {
  readonly name: string;
  readonly service: number;
  readonly instance: number;
  readonly options: O;
  readonly pool: PacketPool;
  desc = 0;
  handled = 0;

  readonly cache: PoolCache;
  readonly outputs: RunNFOutput[] = [];
  readonly logs: string[] = [];
  readonly messages: { to: MessageTarget; payload: unknown }[] = [];
  readonly flowChains: { index: number; flow: string; chain: number }[] = [];
  readonly scaleRequests: { instances: number; service: number | string; rebalance: boolean }[] = [];
  chains: readonly string[] = ['default'];
  baseDir = process.cwd();
  onScale: RunNFOptions['onScale'];
  dropped = 0;
  private readonly pinView: PacketView;
  private readonly pinKey = new FlowKey();
  /** false while pump() runs: outputs are counted (passed), not copied */
  recording = true;
  passed = 0;
  stopReason = '';
  /** true while handle() runs: keep() has a current packet */
  inHandle = false;
  keptCurrent = false;
  clockMs = 0;
  /** its declared counters and gauges, in private memory (result.metrics reads them) */
  readonly metricWords = new Float64Array(NF_METRICS_MAX);
  metrics: MetricCells | null = null;

  /** packets held by the NF: the same table as the engine's, in private memory */
  private readonly held: HeldTable;
  private readonly scratch = new Uint32Array(1);
  /** per buffer: input index of the packet in it, or -1 for a created packet */
  readonly origin: Int32Array;
  private readonly realClock: boolean;
  private readonly started = performance.now();
  private readonly echo: ((line: string) => void) | undefined;
  private readonly tag: string;

  constructor(
    name: string,
    service: number,
    instance: number,
    options: O,
    pool: PacketPool,
    realClock: boolean,
    echo: ((line: string) => void) | undefined,
    readonly ports: readonly PortInfo[],
  ) {
    this.name = name;
    this.service = service;
    this.instance = instance;
    this.options = options;
    this.pool = pool;
    this.cache = new PoolCache(pool);
    this.pinView = new PacketView(pool.buffer);
    this.held = new HeldTable(pool, new Uint32Array(HELD_MAX + 1), 0, HELD_MAX);
    this.origin = new Int32Array(pool.count);
    this.realClock = realClock;
    this.echo = echo;
    this.tag = `[${name}#${instance}] `;
  }

  get inputPort(): number {
    return this.pool.meta(this.desc, Meta.port);
  }

  counter(name: string): MetricCell {
    return this.metrics!.get(name, 'counter');
  }

  gauge(name: string): MetricCell {
    return this.metrics!.get(name, 'gauge');
  }

  /** The declared counters and gauges by name, now. */
  metricValues(decls: readonly MetricDecl[]): Record<string, number> {
    const o: Record<string, number> = {};
    decls.forEach((d, i) => {
      o[d.name] = this.metricWords[i]!;
    });
    return o;
  }

  port(name: string | number, opts?: { option?: string }): PortInfo {
    return findPort(this.ports, name, `NF ${this.name}`, opts?.option);
  }

  /** The harness records messages (result.messages) and accepts them all. */
  sendMessage(to: MessageTarget, payload: unknown): MessageResult {
    this.messages.push({ to, payload: JSON.parse(JSON.stringify(payload ?? null)) as unknown });
    return 'ok';
  }

  /**
   * As the engine: checks the chain, records the pin (result.flowChains) and moves the current
   * packet onto the chain (its meta chainId, chainIndex 0).
   */
  setFlowChain(chain: number): FlowChainResult {
    if (!this.inHandle) return 'no-flow';
    if (!Number.isInteger(chain) || chain < 0 || chain >= this.chains.length) return 'no-chain';
    const view = this.pinView;
    view.attach(this.pool, this.desc);
    const key = this.pinKey;
    if (!view.flowKey(key)) return 'no-flow';
    // Recorded for tests; under pump() (benchmarks) only the decision is made, as the engine's is.
    if (this.recording) this.flowChains.push({ index: this.origin[this.desc]!, flow: key.toString(), chain });
    const m = this.pool.metaIndex(this.desc);
    this.pool.words[m + Meta.chainId] = chain;
    this.pool.words[m + Meta.chainIndex] = 0;
    return 'ok';
  }

  chainId(name: string): number {
    return this.chains.indexOf(name);
  }

  async scale(instances: number, service?: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult> {
    const svc = service ?? this.service;
    const rebalance = opts?.rebalance === true;
    this.scaleRequests.push({ instances, service: svc, rebalance });
    if (!this.onScale)
      throw new NfcError('NFC_ERR_NF', 'scale(): runNF has no manager', {
        fix: "pass onScale in runNF's options to answer it",
      });
    return this.onScale(instances, svc, rebalance);
  }

  /** The harness has no other NFs: every service counts as one running instance. */
  instances(service: number): number {
    return Number.isInteger(service) && service >= 1 && service < MAX_SERVICES ? 1 : 0;
  }

  get heldCount(): number {
    return this.held.count;
  }

  keep(): number {
    if (!this.inHandle) return -1;
    if (this.keptCurrent) return this.desc;
    if (!this.held.hold(this.desc)) return -1;
    this.keptCurrent = true;
    return this.desc;
  }

  newPacket(bytes?: Uint8Array): number {
    if (this.held.count >= HELD_MAX) return -1;
    if (this.cache.alloc(this.scratch, 1) !== 1) return -1;
    const d = this.scratch[0]!;
    this.held.hold(d);
    this.origin[d] = -1;
    if (bytes) this.pool.write(d, bytes);
    return d;
  }

  send(desc: number, verdict: number): boolean {
    const idx = this.held.index(desc);
    if (idx < 0) return false;
    const o = this.origin[desc]!;
    this.leave(desc, verdict, o < 0 ? 'created' : 'kept', o);
    this.held.remove(idx);
    return true;
  }

  drop(desc: number): boolean {
    const idx = this.held.index(desc);
    if (idx < 0) return false;
    this.cache.freeOne(desc);
    this.dropped++;
    this.held.remove(idx);
    return true;
  }

  log(message: string): void {
    this.logs.push(message);
    this.echo?.(this.tag + message);
  }

  stop(reason = 'stopped by the NF'): void {
    if (!this.stopReason) this.stopReason = reason;
  }

  now(): number {
    return this.realClock ? performance.now() - this.started : this.clockMs;
  }

  /**
   * A packet leaves with `verdict`: recorded as an output (non-DROP) or counted as a drop, and
   * its buffer goes back to the pool (the harness has no rings to put it on).
   */
  leave(d: number, verdict: number, source: OutputSource, index: number): void {
    const pool = this.pool;
    const m = pool.metaIndex(d);
    const a = verdictAction(verdict);
    pool.words[m + Meta.action] = a;
    pool.words[m + Meta.destination] = verdictDest(verdict);
    if (a === Action.NEXT || a === Action.TONF || a === Action.OUT) {
      if (this.recording)
        this.outputs.push({
          bytes: pool.bytes(d).slice(),
          offload: pool.meta(d, Meta.offload),
          verdict,
          source,
          index,
        });
      else this.passed++;
    } else {
      this.dropped++;
    }
    this.cache.freeOne(d);
  }

  /** Frees every packet still held; returns how many there were (cold). */
  releaseHeld(): number {
    const n = this.held.count;
    while (this.held.count > 0) {
      this.cache.freeOne(this.held.at(this.held.count - 1));
      this.held.remove(this.held.count - 1);
    }
    return n;
  }
}

function bad(message: string, fix?: string): never {
  throw new NfcError('NFC_ERR_INVALID_ARG', `runNF: ${message}`, fix !== undefined ? { fix } : undefined);
}

/** What one pump() did. */
export interface PumpResult {
  /** packets handed to the NF */
  handled: number;
  /** packets (input, kept or created) that left with NEXT, toNF or out */
  passed: number;
  /** packets that left with DROP, and drop() calls */
  dropped: number;
  /** bytes of the packets handed to the NF */
  bytes: number;
}

/**
 * A workload for `nfchain bench nf` (an NF's `bench.ts` default export): one case per figure the
 * NF reports, each making the NF's options and the packets to cycle through (cold).
 *
 *   export default defineNFBench([
 *     { params: { routes: 100000 }, prepare: () => ({ options: { routes: file }, packets }) },
 *   ]);
 */
export interface NFBenchCase {
  /** what the case is, in the result line and the JSON (e.g. { routes: 100000 }) */
  params: Record<string, string | number>;
  prepare(dir: string): NFWorkload | Promise<NFWorkload>;
}
export interface NFWorkload {
  /** the NF's options (files written into `dir` if it needs any) */
  options?: Record<string, unknown>;
  /** the packets, cycled through in order */
  packets: readonly Uint8Array[];
  /** input port of every packet, or one per packet (default 0) */
  inputPort?: number | readonly number[];
  /** the ports the NF sees (as runNF's) */
  ports?: readonly PortSpec[];
  /** the manager's chain names by id (as runNF's `chains`) */
  chains?: readonly string[];
  /** pool buffers' data room (default 2048) */
  dataRoom?: number;
  /**
   * tick() once every this many packets (the virtual clock moving by the NF's tickInterval), so
   * that windows close and timers fire as they would at that rate; absent: never
   */
  tickEvery?: number;
}
export function defineNFBench(cases: readonly NFBenchCase[]): readonly NFBenchCase[] {
  if (!Array.isArray(cases) || cases.length === 0 || cases.some((c) => typeof c?.prepare !== 'function'))
    throw new NfcError('NFC_ERR_NF', 'defineNFBench: give a list of { params, prepare(dir) } cases');
  return cases;
}

/** What one push() feeds: where the packets came in, and their offload words. */
export interface PushOptions {
  /** input port of every packet, or one per packet (default: the session's inputPort, else 0) */
  inputPort?: number | readonly number[];
  /** the offload word of every packet, or one per packet (default 0) */
  offloads?: number | readonly number[];
}

/**
 * An NF running under the harness, driven step by step: push packets, tick, send messages, let
 * virtual time pass, in any order, then stop(). For NFs whose behaviour depends on what came
 * before (ARP resolution, connection tracking, timeouts, rate limits). runNF is open, push,
 * tick, stop.
 *
 *   const s = await openNF(router, { options, ports: [{ name: 'lan', ipv4: '10.0.1.1/24' }] });
 *   const out = s.push([arpRequest]);   // the outputs of this push
 *   s.advance(5000); s.tick();          // time passes
 *   const r = await s.stop();           // the whole run's result; checks every buffer came back
 */
export class NFSession<O = Record<string, unknown>, I = NFInstance<O>> {
  /** per input packet so far: the handler's verdict, -1 if kept, NOT_HANDLED if never handled */
  readonly verdicts: number[] = [];
  private readonly view: PacketView;
  private readonly inflight = new Uint32Array(BURST);
  private readonly burst: { descs: Uint32Array; verdicts: Int32Array; n: number; view: PacketView };
  private ticked = 0;
  private stopped = false;

  constructor(
    private readonly def: NFDefinition<OptionsSpec, never>,
    private readonly hctx: HarnessContext<O>,
    readonly instance: I,
    private readonly defaultPort: number | readonly number[],
  ) {
    const mem = hctx.pool.buffer;
    this.view = new PacketView(mem);
    this.burst = { descs: new Uint32Array(BURST), verdicts: new Int32Array(BURST), n: 0, view: new PacketView(mem) };
  }

  /** The context the NF sees. */
  get ctx(): NFContext<O> {
    return this.hctx as NFContext<O>;
  }
  /** every packet that left with a non-DROP verdict so far, in order */
  get outputs(): readonly RunNFOutput[] {
    return this.hctx.outputs;
  }
  get logs(): readonly string[] {
    return this.hctx.logs;
  }
  /** the virtual clock (ctx.now()), ms */
  get now(): number {
    return this.hctx.now();
  }
  /** why the NF stopped ('' while it runs) */
  get stopReason(): string {
    return this.hctx.stopReason;
  }

  /**
   * Feeds `packets` to the NF in bursts of BURST, each written into a pool buffer with the meta
   * the manager's RX loop gives it. Returns the packets that left during this call (sent
   * packets the NF made or kept included). Packets after a ctx.stop() are not handled.
   */
  push(packets: readonly Uint8Array[], opts: PushOptions = {}): RunNFOutput[] {
    this.live('push');
    const ctx = this.hctx;
    const pool = ctx.pool;
    const total = packets.length;
    const ports = opts.inputPort ?? this.defaultPort;
    const offloads = opts.offloads ?? 0;
    if (typeof offloads !== 'number' && offloads.length !== total)
      bad(
        `offloads has ${offloads.length} entries for ${total} packets`,
        'give one offload word per packet, or a single number',
      );
    if (typeof ports === 'number') {
      if (!Number.isInteger(ports) || ports < 0 || ports > 0xffff)
        bad(`inputPort must be an integer port id, got ${ports}`);
    } else if (ports.length !== total) {
      bad(`inputPort has ${ports.length} entries for ${total} packets`, 'give one port per packet, or a single number');
    }
    for (let i = 0; i < total; i++) {
      const p = packets[i];
      if (!(p instanceof Uint8Array)) bad(`packets[${i}] is not a Uint8Array`);
      if (p.length > pool.dataRoom)
        bad(`packets[${i}] has ${p.length} bytes; the pool's data room is ${pool.dataRoom}`, 'pass a larger dataRoom');
    }
    const first = this.verdicts.length;
    for (let i = 0; i < total; i++) this.verdicts.push(NOT_HANDLED);
    const mark = ctx.outputs.length;
    const view = this.view;
    const inflight = this.inflight;
    const words = pool.words;
    for (let start = 0; start < total && !ctx.stopReason; start += BURST) {
      const k = Math.min(BURST, total - start);
      const got = ctx.cache.alloc(inflight, k);
      if (got < k) {
        ctx.cache.free(inflight, got);
        bad(`the pool of ${pool.count} buffers ran out (the NF holds ${ctx.heldCount})`, 'pass a larger poolCount');
      }
      for (let i = 0; i < k; i++) {
        const d = inflight[i]!;
        const idx = start + i;
        pool.write(d, packets[idx]!);
        const m = pool.metaIndex(d);
        words[m + Meta.port] = typeof ports === 'number' ? ports : ports[idx]!;
        words[m + Meta.offload] = typeof offloads === 'number' ? offloads : offloads[idx]!;
        view.reset(pool.dataOffset(d), pool.length(d));
        words[m + Meta.flowHash] = view.flowHash();
        words[m + Meta.chainId] = 0;
        words[m + Meta.chainIndex] = 0;
        words[m + Meta.action] = NEXT;
        ctx.origin[d] = first + idx;
      }
      this.handleInflight(k, first + start);
      ctx.handled += k;
    }
    return ctx.outputs.slice(mark);
  }

  /**
   * Hands the k packets in `inflight` to the NF — handle() per packet, as the engine calls it
   * (a plain call: instantiate() binds a class instance's hooks), or handleBurst() once — and
   * lets each leave by its verdict. `first`: the input index of the first, whose verdicts are
   * recorded; -1: none recorded (pump()). Hot under pump(): no allocation.
   */
  private handleInflight(k: number, first: number): void {
    const ctx = this.hctx;
    const pool = ctx.pool;
    const impl = this.instance as NFInstance<O>;
    const nfCtx = this.ctx;
    const inflight = this.inflight;
    const record = first >= 0;
    const handle = impl.handle;
    if (handle) {
      const view = this.view;
      for (let i = 0; i < k; i++) {
        const d = inflight[i]!;
        const idx = record ? first + i : -1;
        ctx.desc = d;
        ctx.keptCurrent = false;
        ctx.inHandle = true;
        view.attach(pool, d);
        let v: number;
        try {
          v = handle(view, nfCtx) | 0;
        } finally {
          ctx.inHandle = false;
        }
        if (ctx.keptCurrent) {
          if (record) this.verdicts[idx] = KEPT;
          continue;
        }
        if (record) this.verdicts[idx] = v;
        ctx.leave(d, v, 'input', idx);
      }
    } else {
      const { descs: bd, verdicts: bv } = this.burst;
      for (let i = 0; i < k; i++) {
        bd[i] = inflight[i]!;
        bv[i] = NEXT;
      }
      this.burst.n = k;
      impl.handleBurst!(this.burst as Burst, nfCtx);
      for (let i = 0; i < k; i++) {
        const v = bv[i]!;
        if (record) this.verdicts[first + i] = v;
        ctx.leave(inflight[i]!, v, 'input', record ? first + i : -1);
      }
    }
  }

  /**
   * Feeds `count` packets cycling through `templates`, as push() does but without recording
   * outputs: what left is only counted. For benchmarks (nfchain bench nf): the cost per packet
   * is the NF's plus a copy of the template into the buffer and the meta the RX loop writes.
   * Verdicts are not kept. Hot loop: no allocation per packet (the NF's own aside).
   */
  pump(templates: readonly Uint8Array[], count: number, inputPort: number | readonly number[] = 0): PumpResult {
    this.live('pump');
    const ctx = this.hctx;
    const pool = ctx.pool;
    if (templates.length === 0) bad('pump() needs at least one template packet');
    if (typeof inputPort !== 'number' && inputPort.length !== templates.length)
      bad(`inputPort has ${inputPort.length} entries for ${templates.length} templates`);
    const inflight = this.inflight;
    const words = pool.words;
    const passed0 = ctx.passed;
    const dropped0 = ctx.dropped;
    const handled0 = ctx.handled;
    let bytes = 0;
    let t = this.pumpAt % templates.length;
    const prepared = this.prepareTemplates(templates);
    const hashes = prepared.hashes;
    const packed = prepared.packed;
    const u8 = pool.u8;
    ctx.recording = false;
    try {
      for (let done = 0; done < count && !ctx.stopReason; ) {
        const k = Math.min(BURST, count - done);
        const got = ctx.cache.alloc(inflight, k);
        if (got < k) {
          ctx.cache.free(inflight, got);
          bad(`the pool of ${pool.count} buffers ran out (the NF holds ${ctx.heldCount})`, 'pass a larger poolCount');
        }
        for (let i = 0; i < k; i++) {
          const d = inflight[i]!;
          const tpl = packed[t]!;
          pool.setLength(d, tpl.length);
          u8.set(tpl, pool.dataOffset(d));
          bytes += tpl.length;
          const m = pool.metaIndex(d);
          words[m + Meta.port] = typeof inputPort === 'number' ? inputPort : inputPort[t]!;
          words[m + Meta.offload] = 0;
          words[m + Meta.flowHash] = hashes[t]!;
          words[m + Meta.chainId] = 0;
          words[m + Meta.chainIndex] = 0;
          words[m + Meta.action] = NEXT;
          ctx.origin[d] = -1;
          if (++t === templates.length) t = 0;
        }
        this.handleInflight(k, -1);
        ctx.handled += k;
        done += k;
      }
    } finally {
      ctx.recording = true;
      ctx.inHandle = false;
    }
    this.pumpAt = t;
    return {
      handled: ctx.handled - handled0,
      passed: ctx.passed - passed0,
      dropped: ctx.dropped - dropped0,
      bytes,
    };
  }
  private pumpAt = 0;
  private readonly templateCache = new WeakMap<readonly Uint8Array[], { hashes: Uint32Array; packed: Uint8Array[] }>();

  /**
   * Each template's flow hash, as the RX loop computes it, and the templates copied into one
   * contiguous buffer (100 000 templates each in its own ArrayBuffer cost a cache miss or more
   * per packet), their lengths checked. Cold: once per template list.
   */
  private prepareTemplates(templates: readonly Uint8Array[]): { hashes: Uint32Array; packed: Uint8Array[] } {
    let c = this.templateCache.get(templates);
    if (c) return c;
    const room = this.hctx.pool.dataRoom;
    for (let i = 0; i < templates.length; i++)
      if (templates[i]!.length > room) bad(`template ${i} has ${templates[i]!.length} bytes; the data room is ${room}`);
    const hashes = new Uint32Array(templates.length);
    let total = 0;
    for (const t of templates) total += (t.length + 63) & ~63;
    const backing = new Uint8Array(total);
    const packed: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; i < templates.length; i++) {
      const tpl = templates[i]!;
      backing.set(tpl, at);
      const v = backing.subarray(at, at + tpl.length);
      packed.push(v);
      hashes[i] = new PacketView(backing.buffer).reset(at, tpl.length).flowHash();
      at += (tpl.length + 63) & ~63;
    }
    c = { hashes, packed };
    this.templateCache.set(templates, c);
    return c;
  }

  /**
   * Calls tick() `n` times (default 1), the virtual clock moving by the NF's tickInterval
   * (default 1000 ms) before each. Returns the packets that left meanwhile.
   */
  tick(n = 1): RunNFOutput[] {
    this.live('tick');
    if (!Number.isInteger(n) || n < 0) bad(`ticks must be an integer >= 0, got ${n}`);
    const ctx = this.hctx;
    const mark = ctx.outputs.length;
    const tickMs = this.def.tickInterval ?? 1000;
    const impl = this.instance as NFInstance<O>;
    for (let t = 0; t < n && !ctx.stopReason; t++) {
      ctx.clockMs += tickMs;
      impl.tick?.(this.ctx);
      this.ticked++;
    }
    return ctx.outputs.slice(mark);
  }

  /** Moves the virtual clock forward by `ms` without a tick (timeouts seen by the next packet). */
  advance(ms: number): void {
    if (!(ms >= 0)) bad(`advance() takes milliseconds >= 0, got ${ms}`);
    this.hctx.clockMs += ms;
  }

  /**
   * Delivers a message to the NF's message() hook, as from NF id `from` (0: the manager; what
   * `nfchain message` sends). Returns the packets that left meanwhile. Throws when the NF has no
   * message() hook, as the manager answers `nfchain message` then.
   */
  message(payload: unknown, from = 0): RunNFOutput[] {
    this.live('message');
    const impl = this.instance as NFInstance<O>;
    if (!impl.message)
      throw new NfcError('NFC_ERR_NF', `runNF: NF ${this.def.name} has no message() hook`, {
        fix: 'give the instance a message(payload, ctx, from) hook',
      });
    const mark = this.hctx.outputs.length;
    impl.message(JSON.parse(JSON.stringify(payload ?? null)) as unknown, this.ctx, from);
    return this.hctx.outputs.slice(mark);
  }

  /**
   * Calls stop(), frees what the NF still holds and checks the pool: every buffer must be back,
   * or this throws (a leak is a bug in the harness or the pool). Returns the whole run.
   */
  async stop(): Promise<RunNFResult<O, I>> {
    this.live('stop');
    this.stopped = true;
    const ctx = this.hctx;
    const impl = this.instance as NFInstance<O>;
    await impl.stop?.(this.ctx);
    const held = ctx.releaseHeld();
    ctx.cache.flush();
    const pool = ctx.pool;
    const free = pool.ringFreeCount();
    if (free !== pool.count) {
      throw new NfcError(
        'NFC_ERR_NF',
        `runNF: ${pool.count - free} of ${pool.count} buffers leaked running ${this.def.name}`,
        {
          fix: 'a bug in the harness or the pool (every packet is freed when it leaves): please report it',
        },
      );
    }
    return {
      verdicts: this.verdicts,
      outputs: ctx.outputs,
      dropped: ctx.dropped,
      held,
      logs: ctx.logs,
      messages: ctx.messages,
      flowChains: ctx.flowChains,
      scaleRequests: ctx.scaleRequests,
      ctx: this.ctx,
      instance: this.instance,
      handled: ctx.handled,
      ticks: this.ticked,
      stopReason: ctx.stopReason,
      metrics: ctx.metricValues(metricDecls([{ def: this.def, name: this.def.name }])),
    };
  }

  private live(what: string): void {
    if (this.stopped) bad(`${what}() after stop()`, 'open a new session with openNF()');
  }
}

/**
 * Starts `def` under the harness (see the top of this file): options parsed, private pool,
 * create()/setup() run. Cold: for tests.
 */
export async function openNF<
  S extends OptionsSpec,
  I extends NFInstance<OptionValues<S>> = NFInstance<OptionValues<S>>,
>(def: NFDefinition<S, I>, opts: RunNFOptions = {}): Promise<NFSession<OptionValues<S>, I>> {
  if (!isNFDefinition(def)) {
    throw new NfcError('NFC_ERR_NF', 'runNF: not an NF definition', {
      fix: "pass what defineNF({ name, create }) returned (the module's default export)",
    });
  }
  const options = parseOptions(def, opts.options ?? {}, 'runNF');
  const count = opts.poolCount ?? 2048;
  const poolOpts = opts.dataRoom !== undefined ? { count, dataRoom: opts.dataRoom } : { count };
  const mem = new ArrayBuffer(poolBytes(poolOpts));
  initPool(mem, 0, poolOpts);
  const pool = new PacketPool(mem, 0, 'runNF pool');
  const ctx = new HarnessContext<OptionValues<S>>(
    def.name,
    opts.service ?? 1,
    opts.instance ?? 1,
    options,
    pool,
    opts.clock === 'real',
    opts.log,
    portsFromSpecs(opts.ports),
  );
  ctx.metrics = memberCells([{ def, name: def.name }], ctx.metricWords)[0]!;
  if (opts.chains) ctx.chains = opts.chains;
  if (opts.baseDir !== undefined) ctx.baseDir = opts.baseDir;
  ctx.onScale = opts.onScale;
  const inputPort = opts.inputPort ?? 0;
  const impl = await instantiate<I>(
    def as unknown as NFDefinition<OptionsSpec, never>,
    ctx as unknown as NFContext<never>,
  );
  return new NFSession<OptionValues<S>, I>(def as unknown as NFDefinition<OptionsSpec, never>, ctx, impl, inputPort);
}

/**
 * Runs `def` over `packets` without a manager (see the top of this file): openNF, one push, the
 * ticks, stop. Cold: for tests.
 */
export async function runNF<S extends OptionsSpec, I extends NFInstance<OptionValues<S>> = NFInstance<OptionValues<S>>>(
  def: NFDefinition<S, I>,
  packets: readonly Uint8Array[],
  opts: RunNFOptions = {},
): Promise<RunNFResult<OptionValues<S>, I>> {
  const ticks = opts.ticks ?? 0;
  if (!Number.isInteger(ticks) || ticks < 0) bad(`ticks must be an integer >= 0, got ${ticks}`);
  const session = await openNF(def, opts);
  session.push(packets, {
    ...(opts.inputPort !== undefined ? { inputPort: opts.inputPort } : {}),
    ...(opts.offloads !== undefined ? { offloads: opts.offloads } : {}),
  });
  session.tick(ticks);
  return session.stop();
}
