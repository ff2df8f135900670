/**
 * Flow rules as the CLI and the state file write them (chains and ports by name) and as the
 * flow director takes them (by index), both ways (cold). Errors name what is unknown.
 */
import { NfcError } from '../errors.js';
import type { FlowRule } from '../flow/director.js';
import type { FlowRuleSpec } from '../protocol/messages.js';

export function ruleFromSpec(s: FlowRuleSpec, chainNames: readonly string[], portNames: readonly string[]): FlowRule {
  const chain = chainNames.indexOf(s.chain);
  if (chain < 0) throw new NfcError('NFC_ERR_MANAGER', `no chain named "${s.chain}"`, { fix: `chains: ${chainNames.join(', ')} (nfchain chain set NAME HOPS makes one)` });
  const rule: FlowRule = { priority: s.priority ?? 0, chain };
  if (s.srcPrefix !== undefined) rule.srcPrefix = s.srcPrefix;
  if (s.dstPrefix !== undefined) rule.dstPrefix = s.dstPrefix;
  if (s.srcPorts !== undefined) rule.srcPorts = s.srcPorts;
  if (s.dstPorts !== undefined) rule.dstPorts = s.dstPorts;
  if (s.proto !== undefined) rule.proto = s.proto;
  if (s.vlan !== undefined) rule.vlan = s.vlan;
  if (s.inPort !== undefined) {
    const p = portNames.indexOf(s.inPort);
    if (p < 0) throw new NfcError('NFC_ERR_MANAGER', `no port named "${s.inPort}"`);
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
