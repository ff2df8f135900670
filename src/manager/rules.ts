/**
 * Flow rules as the CLI and the state file write them (chains and ports by name) and as the
 * flow director takes them (by index), both ways (cold). Errors name what is unknown.
 */
import { NfcError } from '../errors.js';
import { FlowDirector, type FlowRule } from '../flow/director.js';
import type { FlowRuleSpec } from '../protocol/messages.js';

export function ruleFromSpec(s: FlowRuleSpec, chainNames: readonly string[], portNames: readonly string[]): FlowRule {
  const chain = chainNames.indexOf(s.chain);
  if (chain < 0)
    throw new NfcError('NFC_ERR_NOT_FOUND', `no chain named "${s.chain}"`, {
      fix: `chains: ${chainNames.join(', ')} (nfchain chain set NAME HOPS makes one)`,
    });
  const rule: FlowRule = { priority: s.priority ?? 0, chain };
  if (s.srcPrefix !== undefined) rule.srcPrefix = s.srcPrefix;
  if (s.dstPrefix !== undefined) rule.dstPrefix = s.dstPrefix;
  if (s.srcPorts !== undefined) rule.srcPorts = s.srcPorts;
  if (s.dstPorts !== undefined) rule.dstPorts = s.dstPorts;
  if (s.proto !== undefined) rule.proto = s.proto;
  if (s.vlan !== undefined) rule.vlan = s.vlan;
  if (s.inPort !== undefined) {
    const p = portNames.indexOf(s.inPort);
    if (p < 0) throw new NfcError('NFC_ERR_NOT_FOUND', `no port named "${s.inPort}"`);
    rule.inPort = p;
  }
  return rule;
}

export function specFromRule(r: FlowRule, chainNames: readonly string[], portNames: readonly string[]): FlowRuleSpec {
  const s: FlowRuleSpec = { priority: r.priority, chain: chainNames[r.chain] ?? String(r.chain) };
  if (r.srcPrefix !== undefined) s.srcPrefix = r.srcPrefix;
  if (r.dstPrefix !== undefined) s.dstPrefix = r.dstPrefix;
  if (r.srcPorts !== undefined) s.srcPorts = [r.srcPorts[0], r.srcPorts[1]];
  if (r.dstPorts !== undefined) s.dstPorts = [r.dstPorts[0], r.dstPorts[1]];
  if (r.proto !== undefined) s.proto = r.proto;
  if (r.vlan !== undefined) s.vlan = r.vlan;
  if (r.inPort !== undefined) s.inPort = portNames[r.inPort] ?? String(r.inPort);
  return s;
}

/**
 * The manager's flow rules with their ids, in the order they were added (the RX loop holds
 * the compiled copy). Chains and ports are named through the lists given, which may grow.
 */
export class FlowRules {
  private list: { id: number; rule: FlowRule }[];
  private nextId = 1;

  constructor(
    initial: readonly FlowRule[],
    private readonly chainNames: () => readonly string[],
    private readonly portNames: readonly string[],
  ) {
    this.list = initial.map((rule) => ({ id: this.nextId++, rule }));
  }

  get size(): number {
    return this.list.length;
  }

  rules(): FlowRule[] {
    return this.list.map((r) => r.rule);
  }

  /** Adds a rule (checked by a scratch director: prefixes, ranges); returns its id. */
  add(spec: FlowRuleSpec): number {
    const rule = this.fromSpec(spec);
    new FlowDirector({ defaultChain: 0, cacheCapacity: 0 }).add(rule);
    const id = this.nextId++;
    this.list.push({ id, rule });
    return id;
  }

  delete(id: number): void {
    const i = this.list.findIndex((r) => r.id === id);
    if (i < 0)
      throw new NfcError('NFC_ERR_NOT_FOUND', `no flow rule ${id}`, {
        fix: 'nfchain flow list shows the rules and their ids',
      });
    this.list.splice(i, 1);
  }

  /** The rules as the CLI and the state file write them. */
  specs(): { id: number; spec: FlowRuleSpec }[] {
    return this.list.map((r) => ({ id: r.id, spec: specFromRule(r.rule, this.chainNames(), this.portNames) }));
  }

  /** Replaces every rule by those of a state file (taking over from a manager that died). */
  restore(saved: readonly { id: number; spec: FlowRuleSpec }[], nextId: number): void {
    this.list = saved.map((r) => ({ id: r.id, rule: this.fromSpec(r.spec) }));
    this.nextId = nextId;
  }

  get nextRuleId(): number {
    return this.nextId;
  }

  private fromSpec(s: FlowRuleSpec): FlowRule {
    return ruleFromSpec(s, this.chainNames(), this.portNames);
  }
}
