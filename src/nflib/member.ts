/**
 * One NF instance inside an NF process, and the NFContext its hooks see. A process runs one
 * member, or several in a fused group (docs/architecture.md, "Fused groups"): each member has
 * its own definition, options, service, state (what create() returned) and context; they share
 * the process's slot — its rx ring, held table, pool cache and router — through the engine.
 *
 * The engine sets `desc`, `kept` and `inHandle` around each handle() call (hot path); everything
 * else here is called by the NF and forwards to the engine.
 */
import type { PacketPool } from '../shm/pool.js';
import { Meta } from '../shm/pool-layout.js';
import type { MessageResult, MessageTarget } from '../chain/messages.js';
import { findPort, type PortInfo } from './ports.js';
import type { MetricCell, MetricCells } from './metrics.js';
import type { FlowChainResult, NFContext, NFDefinition, NFInstance, OptionsSpec, ScaleResult } from './define.js';

/** What a member needs of the engine that runs it. */
export interface MemberHost {
  readonly nfId: number;
  readonly pool: PacketPool;
  readonly chains: readonly string[];
  readonly baseDir: string;
  readonly ports: readonly PortInfo[];
  readonly heldCount: number;
  readonly stopping: boolean;
  /** holds `desc` (keep()); false when the hold table is full */
  hold(desc: number): boolean;
  newPacket(bytes?: Uint8Array): number;
  send(desc: number, verdict: number): boolean;
  drop(desc: number): boolean;
  sendMessage(to: MessageTarget, payload: unknown): MessageResult;
  instances(service: number): number;
  setFlowChain(desc: number, chain: number): FlowChainResult;
  scale(instances: number, service: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult>;
  log(line: string): void;
  stop(reason?: string): void;
  now(): number;
}

/** One member of an NF process: what an NF's hooks get as `ctx`. */
export class Member implements NFContext<Record<string, unknown>> {
  /** the packet handle() is looking at (set by the engine) */
  desc = 0;
  /** packets this member has handled */
  handled = 0;
  /** keep() was called for the current packet */
  kept = false;
  /** true while handle() runs: keep() and setFlowChain() have a current packet */
  inHandle = false;
  /** the instance's hooks: what create() returned, or (module form) the definition itself */
  impl: NFInstance = {};
  /** its declared counters and gauges (set by the engine before create()) */
  metrics: MetricCells | null = null;

  constructor(
    private readonly host: MemberHost,
    readonly def: NFDefinition<OptionsSpec>,
    readonly name: string,
    readonly service: number,
    readonly options: Record<string, unknown>,
    /** prefix of its log lines ('' for a process of one member) */
    private readonly logPrefix: string,
  ) {}

  get instance(): number {
    return this.host.nfId;
  }
  get pool(): PacketPool {
    return this.host.pool;
  }
  get baseDir(): string {
    return this.host.baseDir;
  }
  get chains(): readonly string[] {
    return this.host.chains;
  }
  get ports(): readonly PortInfo[] {
    return this.host.ports;
  }
  port(name: string | number, opts?: { option?: string }): PortInfo {
    return findPort(this.host.ports, name, `NF ${this.name}`, opts?.option);
  }
  get inputPort(): number {
    return this.host.pool.meta(this.desc, Meta.port);
  }
  get heldCount(): number {
    return this.host.heldCount;
  }
  /** True once stop() was called (by any member, or the process). */
  get stopping(): boolean {
    return this.host.stopping;
  }

  keep(): number {
    // Only inside handle(): there the current packet is known (handleBurst NFs keep nothing).
    if (!this.inHandle) return -1;
    if (this.kept) return this.desc;
    if (!this.host.hold(this.desc)) return -1;
    this.kept = true;
    return this.desc;
  }

  newPacket(bytes?: Uint8Array): number {
    return this.host.newPacket(bytes);
  }

  send(desc: number, verdict: number): boolean {
    return this.host.send(desc, verdict);
  }

  drop(desc: number): boolean {
    return this.host.drop(desc);
  }

  sendMessage(to: MessageTarget, payload: unknown): MessageResult {
    return this.host.sendMessage(to, payload);
  }

  instances(service: number): number {
    return this.host.instances(service);
  }

  setFlowChain(chain: number): FlowChainResult {
    if (!this.inHandle) return 'no-flow';
    return this.host.setFlowChain(this.desc, chain);
  }

  chainId(name: string): number {
    return this.host.chains.indexOf(name);
  }

  scale(instances: number, service?: number | string, opts?: { rebalance?: boolean }): Promise<ScaleResult> {
    return this.host.scale(instances, service ?? this.service, opts);
  }

  log(message: string): void {
    this.host.log(this.logPrefix + message);
  }

  stop(reason?: string): void {
    this.host.stop(reason ?? `stopped by the NF${this.logPrefix ? ` ${this.name}` : ''}`);
  }

  now(): number {
    return this.host.now();
  }

  counter(name: string): MetricCell {
    return this.cell(name, 'counter');
  }

  gauge(name: string): MetricCell {
    return this.cell(name, 'gauge');
  }

  private cell(name: string, kind: 'counter' | 'gauge'): MetricCell {
    if (this.metrics === null) throw new Error(`NF ${this.name}: ${kind}s are not set up yet`);
    return this.metrics.get(name, kind);
  }
}
