/**
 * Flow director rules: the fields of a rule (FlowRule), their checking, and the compiled form
 * the director (director.ts) scans.
 *
 * parseRule() checks a rule when it is added (NfcError NFC_ERR_INVALID_ARG naming the rule, the
 * field and the fix); writeRule() compiles it into RULE_WORDS words of one flat Int32Array, in
 * evaluation order, which scan(), scanPort() and ruleMatches() in director.ts read with literal
 * word offsets:
 *
 *   word  0      family: 0 any, 4 (prefixes are IPv4: key must be IPv4), 6 (IPv6)
 *   word  1      chain
 *   words 2, 3   proto mask (0 any, 0xff), proto          match: (key.proto & mask) === proto
 *   words 4, 5   inPort mask (0 any, -1), inPort          match: (inPort & mask) === inPort
 *   words 6, 7   vlan mask (0 any, 0xffff), vlan          match: (vlan & mask) === vlan
 *   words 8..11  srcPort lo, hi, dstPort lo, hi           (wildcard: 0, 65535)
 *   words 12..15 source network, words 0..3               match: (addr[i] & mask[i]) === net[i]
 *   words 16..19 source mask, words 0..3                  (IPv4: word 0 only; /0 and absent: 0)
 *   words 20..23 destination network
 *   words 24..27 destination mask
 *   words 28, 29 source / destination prefix length (-1 absent; for rules() and debugging)
 *   word  30     rule id
 *
 * Everything here is cold: it runs when rules change, never per packet.
 */
import { NfcError } from '../errors.js';
import { tryParseIpv4, tryParseIpv6 } from '../packet/address.js';
import { MAX_CHAINS } from '../shm/instance-layout.js';

/** A classification rule. Every field but priority and chain is optional: absent = wildcard. */
export interface FlowRule {
  /** Higher wins; equal priorities: the rule added first wins. A safe integer. */
  priority: number;
  /** Chain the matching packets enter, 0..15. */
  chain: number;
  /** e.g. '10.0.0.0/8', '192.0.2.7' (= /32), '2001:db8::/32', '::/0'. */
  srcPrefix?: string;
  dstPrefix?: string;
  /** Inclusive range [lo, hi] of transport ports (0 for protocols without ports). */
  srcPorts?: readonly [number, number];
  dstPorts?: readonly [number, number];
  /** IP protocol number, 0..255. */
  proto?: number;
  /** Input port index, 0..65535. */
  inPort?: number;
  /** Outer VLAN id, 0..4095 (untagged packets have vlan -1 and match no vlan rule). */
  vlan?: number;
}

/** The highest chain id (chains are 0..MAX_CHAINS - 1). */
export const MAX_CHAIN_ID = MAX_CHAINS - 1;
/** Int32 words per compiled rule (a power of two: the scan steps by a constant). */
export const RULE_WORDS = 32;

const RULE_FIELDS: ReadonlySet<string> = new Set([
  'priority',
  'chain',
  'srcPrefix',
  'dstPrefix',
  'srcPorts',
  'dstPorts',
  'proto',
  'inPort',
  'vlan',
]);

/** A rule after validation. */
export interface ParsedRule {
  id: number;
  rule: FlowRule;
  family: 0 | 4 | 6;
  src: ParsedPrefix | undefined;
  dst: ParsedPrefix | undefined;
}

interface ParsedPrefix {
  family: 4 | 6;
  len: number;
  /** network words 0..3 (IPv4: word 0) */
  net: Uint32Array;
  mask: Uint32Array;
}

/** NFC_ERR_INVALID_ARG with its fix. */
export function invalid(message: string, fix: string): NfcError {
  return new NfcError('NFC_ERR_INVALID_ARG', message, { fix });
}

/** Throws NFC_ERR_INVALID_ARG unless v is a chain id, 0..MAX_CHAIN_ID. */
export function checkChain(what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_CHAIN_ID) {
    throw invalid(
      `${what} ${String(v)} must be an integer chain id from 0 to ${MAX_CHAIN_ID}`,
      `give a chain id from 0 to ${MAX_CHAIN_ID}`,
    );
  }
}

function checkInt(where: string, field: string, v: unknown, lo: number, hi: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw invalid(
      `${where}: ${field} ${typeof v === 'number' ? String(v) : JSON.stringify(v)} must be an integer from ${lo} to ${hi}`,
      fix,
    );
  }
  return v;
}

function checkPorts(where: string, field: string, v: unknown): void {
  if (!Array.isArray(v) || v.length !== 2) {
    throw invalid(
      `${where}: ${field} must be a [lo, hi] pair of port numbers`,
      `write e.g. ${field}: [1024, 65535], or [80, 80] for one port`,
    );
  }
  const lo = checkInt(where, `${field}[0]`, v[0], 0, 65535, 'ports are 0..65535');
  const hi = checkInt(where, `${field}[1]`, v[1], 0, 65535, 'ports are 0..65535');
  if (lo > hi) throw invalid(`${where}: ${field} [${lo}, ${hi}] is empty (lo > hi)`, `write [${hi}, ${lo}]`);
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/** Validates a rule. The messages say which rule, which field, and what to write. */
export function parseRule(rule: FlowRule, id: number): ParsedRule {
  if (rule === null || typeof rule !== 'object') {
    throw invalid('flow rule: not an object', 'pass e.g. { priority: 10, chain: 1, dstPorts: [80, 80], proto: 6 }');
  }
  const where = `flow rule (priority ${String(rule.priority)}, chain ${String(rule.chain)})`;
  for (const k of Object.keys(rule)) {
    if (RULE_FIELDS.has(k)) continue;
    let best = '';
    let bestD = 3;
    for (const f of RULE_FIELDS) {
      const dist = levenshtein(k.toLowerCase(), f.toLowerCase());
      if (dist < bestD) {
        bestD = dist;
        best = f;
      }
    }
    throw invalid(
      `${where}: unknown field "${k}"`,
      best ? `did you mean "${best}"?` : `fields are: ${[...RULE_FIELDS].join(', ')}`,
    );
  }
  if (typeof rule.priority !== 'number' || !Number.isSafeInteger(rule.priority)) {
    throw invalid(
      `${where}: priority ${String(rule.priority)} must be an integer`,
      'give e.g. priority: 100 (higher wins)',
    );
  }
  checkChain(`${where}: chain`, rule.chain);
  if (rule.srcPorts !== undefined) checkPorts(where, 'srcPorts', rule.srcPorts);
  if (rule.dstPorts !== undefined) checkPorts(where, 'dstPorts', rule.dstPorts);
  if (rule.proto !== undefined)
    checkInt(where, 'proto', rule.proto, 0, 255, 'an IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6');
  if (rule.inPort !== undefined) checkInt(where, 'inPort', rule.inPort, 0, 65535, 'an input port index, e.g. 0');
  if (rule.vlan !== undefined)
    checkInt(where, 'vlan', rule.vlan, 0, 4095, 'a 12-bit VLAN id (untagged traffic: leave vlan out)');
  const src = rule.srcPrefix === undefined ? undefined : parsePrefix(where, 'srcPrefix', rule.srcPrefix);
  const dst = rule.dstPrefix === undefined ? undefined : parsePrefix(where, 'dstPrefix', rule.dstPrefix);
  if (src && dst && src.family !== dst.family) {
    throw invalid(
      `${where}: srcPrefix is IPv${src.family} but dstPrefix is IPv${dst.family}`,
      'a packet has one address family: use two rules, one per family',
    );
  }
  const family = src?.family ?? dst?.family ?? 0;
  return { id, rule: copyRule(rule), family, src, dst };
}

/** A copy of a rule with only the fields it sets. */
export function copyRule(r: FlowRule): FlowRule {
  const c: FlowRule = { priority: r.priority, chain: r.chain };
  if (r.srcPrefix !== undefined) c.srcPrefix = r.srcPrefix;
  if (r.dstPrefix !== undefined) c.dstPrefix = r.dstPrefix;
  if (r.srcPorts !== undefined) c.srcPorts = [r.srcPorts[0], r.srcPorts[1]];
  if (r.dstPorts !== undefined) c.dstPorts = [r.dstPorts[0], r.dstPorts[1]];
  if (r.proto !== undefined) c.proto = r.proto;
  if (r.inPort !== undefined) c.inPort = r.inPort;
  if (r.vlan !== undefined) c.vlan = r.vlan;
  return c;
}

function formatPrefix(p: ParsedPrefix): string {
  if (p.family === 4) {
    const a = p.net[0]!;
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}/${p.len}`;
  }
  const g: string[] = [];
  for (let i = 0; i < 4; i++) g.push((p.net[i]! >>> 16).toString(16), (p.net[i]! & 0xffff).toString(16));
  return `${g.join(':')}/${p.len}`;
}

/** 'a.b.c.d/len' or 'ipv6/len' (no /len: a host) → network and mask words. */
function parsePrefix(where: string, field: string, text: unknown): ParsedPrefix {
  const example =
    field === 'srcPrefix'
      ? `${field}: '10.0.0.0/8' or '2001:db8::/32'`
      : `${field}: '192.0.2.0/24' or '2001:db8:1::/48'`;
  if (typeof text !== 'string') throw invalid(`${where}: ${field} must be a string`, `write e.g. ${example}`);
  const slash = text.indexOf('/');
  const addrText = (slash < 0 ? text : text.slice(0, slash)).trim();
  const lenText = slash < 0 ? undefined : text.slice(slash + 1).trim();
  const v6 = addrText.includes(':');
  const family: 4 | 6 = v6 ? 6 : 4;
  const maxLen = v6 ? 128 : 32;
  let len = maxLen;
  if (lenText !== undefined) {
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > maxLen) {
      throw invalid(
        `${where}: ${field} "${text}": prefix length "${lenText}" must be 0..${maxLen} for IPv${family}`,
        `write e.g. ${example}`,
      );
    }
    len = Number(lenText);
  }
  const addr = new Uint32Array(4);
  if (v6) {
    if (!tryParseIpv6(addrText, addr))
      throw invalid(
        `${where}: ${field} "${text}" is not an IPv6 address`,
        `write eight hex groups with at most one "::", e.g. ${example}`,
      );
  } else {
    const a = tryParseIpv4(addrText);
    if (a === undefined)
      throw invalid(
        `${where}: ${field} "${text}" is not an IPv4 address`,
        `write a.b.c.d/len with each part 0..255, e.g. ${example}`,
      );
    addr[0] = a;
  }
  const mask = new Uint32Array(4);
  const words = v6 ? 4 : 1;
  for (let i = 0; i < words; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    mask[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  const net = new Uint32Array(4);
  let hostBits = false;
  for (let i = 0; i < 4; i++) {
    net[i] = (addr[i]! & mask[i]!) >>> 0;
    if (net[i] !== addr[i]) hostBits = true;
  }
  const p: ParsedPrefix = { family, len, net, mask };
  if (hostBits) {
    throw invalid(
      `${where}: ${field} "${text}" has bits set beyond the /${len} prefix`,
      `write the network: "${formatPrefix(p)}"`,
    );
  }
  return p;
}

/** Writes one compiled rule at r[b..b+RULE_WORDS) (layout in the file comment). */
export function writeRule(r: Int32Array, b: number, p: ParsedRule): void {
  const x = p.rule;
  r[b] = p.family;
  r[b + 1] = x.chain;
  r[b + 2] = x.proto === undefined ? 0 : 0xff;
  r[b + 3] = x.proto ?? 0;
  r[b + 4] = x.inPort === undefined ? 0 : -1;
  r[b + 5] = x.inPort ?? 0;
  r[b + 6] = x.vlan === undefined ? 0 : 0xffff;
  r[b + 7] = x.vlan ?? 0;
  r[b + 8] = x.srcPorts?.[0] ?? 0;
  r[b + 9] = x.srcPorts?.[1] ?? 65535;
  r[b + 10] = x.dstPorts?.[0] ?? 0;
  r[b + 11] = x.dstPorts?.[1] ?? 65535;
  for (let i = 0; i < 4; i++) {
    r[b + 12 + i] = p.src?.net[i] ?? 0;
    r[b + 16 + i] = p.src?.mask[i] ?? 0;
    r[b + 20 + i] = p.dst?.net[i] ?? 0;
    r[b + 24 + i] = p.dst?.mask[i] ?? 0;
  }
  r[b + 28] = p.src?.len ?? -1;
  r[b + 29] = p.dst?.len ?? -1;
  r[b + 30] = p.id;
  r[b + 31] = 0;
}
