/**
 * The flow director's classifier: which chain a packet enters (the manager's RX loop runs it on
 * every packet of a port's burst: 5-tuple → chain). OpenNetVM's flow director, with priorities, prefixes,
 * port ranges, IPv6, and an exact-match cache in front.
 *
 * A rule (FlowRule) names a chain (0..15) and any of: source/destination prefix (IPv4 or IPv6),
 * source/destination port range, protocol, input port, VLAN id. An absent field is a wildcard.
 * The highest priority matching rule wins; among equal priorities, the rule added first.
 * No rule matches → defaultChain.
 *
 * Rules are checked at add() (NfcError NFC_ERR_INVALID_ARG naming the field and the fix) and
 * compiled into one flat Int32Array, in evaluation order, RULE_WORDS words per rule:
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
 * classify() is: exact-match cache lookup, and on a miss the scan of the rules (classifyUncached),
 * whose answer is stored in the cache. The cache is a symmetric FlowTable keyed by the
 * 5-tuple, looked up with the packet's symmetric flow hash (the meta flowHash); one entry
 * serves both directions of a connection, each direction with its own answer, because rules
 * are directional (a srcPrefix matches one side only):
 *
 *   value word 0 / 3   chain id + 1 for the direction the entry was added in / the reverse
 *                      (0: that direction not classified yet)
 *   value word 1 / 4   rule generation the answer was computed under
 *   value word 2 / 5   (inPort & 0xffff) | (vlan & 0xffff) << 16 the answer was computed for
 *
 *   value word 6       chain + 1 pinned for this flow (both directions) by pin(); 0: none
 *
 * The answer depends on inPort and vlan as well as on the 5-tuple, so a hit whose context
 * word differs is treated as a miss and overwritten (a flow seen on two ports flip-flops, but
 * is never misclassified). compile() advances the generation; add() and remove() mark the
 * rules changed, and the next classify() (or compile()) compiles them before answering, so no
 * answer ever comes from old rules: an entry whose generation differs from the current one is
 * answered again by the scan. Entries stay across rule changes (their pins with them); with an
 * idle timeout, expire() removes the flows that went quiet.
 *
 * From INDEX_MIN_RULES rules on, the rules are also indexed by destination port: a miss checks
 * only the rules whose destination-port range (up to INDEX_MAX_RANGE ports) contains the
 * packet's port, and the rules without one, merged in evaluation order (buildIndex).
 *
 * Not done yet (say so before relying on it):
 * - No tries, tuple-space search or decision trees: a miss is a scan over the rules of its
 *   port bucket and the general list (cost grows with those: see bench/director.ts). Fine at
 *   ~1000 rules behind the cache; a first-packet-heavy load (SYN floods, many short flows)
 *   against rules without destination ports pays the full scan.
 * - Once the cache holds maxCount flows, new flows are classified without caching (and cannot
 *   be pinned) and are counted in cacheFull, until expire() frees entries.
 * - Rule changes are not incremental: a change recompiles everything (at the next classify or
 *   compile()). Not safe to change rules from another thread while
 *   classifying: one process owns a FlowDirector.
 * - No match on an untagged-only VLAN, MAC addresses, TCP flags, DSCP, or negation.
 * - The cache lives in private memory (not shared with other processes).
 */
import { NfcError } from '../errors.js';
import { createFlowTable, type FlowTable } from './flow-table.js';
import { FLOW_TABLE_LIMITS } from './flow-table-layout.js';
import { FlowKey } from '../packet/flow-key.js';
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

export interface FlowDirectorOptions {
  /** Chain of packets that match no rule, 0..15. */
  defaultChain: number;
  /** Slots of the exact-match cache: a power of two (FlowTable's limits), or 0 for no cache. Default 65536. */
  cacheCapacity?: number;
  /** ms without a packet after which expire() removes a flow's entry; 0 (default): never */
  idleTimeoutMs?: number;
  /**
   * Index the rules by destination port (see scanIndexed): 'auto' (default) from INDEX_MIN_RULES
   * rules on, or always / never (tests and `bench director --index`).
   */
  index?: 'auto' | boolean;
}

/** From this many rules on, 'auto' indexes them by destination port. */
export const INDEX_MIN_RULES = 8;
/** A rule whose destination-port range is wider than this goes to the general list. */
const INDEX_MAX_RANGE = 256;
/** The most list entries an index may hold (4 bytes each); beyond, the rules are not indexed. */
const INDEX_MAX_ENTRIES = 1 << 22;

/** The highest chain id (chains are 0..MAX_CHAINS - 1). */
export const MAX_CHAIN_ID = MAX_CHAINS - 1;
/** Int32 words per compiled rule (a power of two: the scan steps by a constant). */
export const RULE_WORDS = 32;
/** Value words of a cache entry (see the file comment). */
const CACHE_VALUE_WORDS = 7;
const W_PIN = 6;
const DEFAULT_CACHE_CAPACITY = 65536;

const RULE_FIELDS: ReadonlySet<string> = new Set([
  'priority', 'chain', 'srcPrefix', 'dstPrefix', 'srcPorts', 'dstPorts', 'proto', 'inPort', 'vlan',
]);

/** A rule after validation (cold). */
interface ParsedRule {
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

export interface FlowDirectorStats {
  rules: number;
  generation: number;
  cacheCapacity: number;
  cacheEntries: number;
  cacheHits: number;
  cacheMisses: number;
  /** classify() calls that could not cache their answer because the cache was full */
  cacheFull: number;
}

export class FlowDirector {
  readonly defaultChain: number;
  /** classify() calls answered from the cache. */
  cacheHits = 0;
  /** classify() calls that scanned the rules. */
  cacheMisses = 0;
  /** Misses whose answer could not be cached: the cache held maxCount flows. */
  cacheFull = 0;

  private readonly list: ParsedRule[] = [];
  private nextId = 1;
  /** Compiled rules, RULE_WORDS per rule, in evaluation order. */
  private compiled = new Int32Array(0);
  private readonly indexMode: 'auto' | boolean;
  /**
   * The rules scan() checks, as word offsets into `compiled` in evaluation order, in one or
   * more lists (buildIndex): list l is lists[portStart[l] .. portStart[l + 1]), and port p uses
   * list portList[p]. Without the index (portStart null): one list, every rule.
   */
  private lists = new Int32Array(0);
  /** compiled.length: the end of the scan without the index */
  private compiledEnd = 0;
  private portStart: Int32Array | null = null;
  private portList = new Uint16Array(0);
  private dirty = false;
  /** Rule generation, 1..2^31-1 (0 is never used: a zeroed cache word never matches). */
  private gen = 1;
  private readonly cache: FlowTable | undefined;

  /** Setup (allocates the cache). */
  constructor(opts: FlowDirectorOptions) {
    if (opts === null || typeof opts !== 'object') {
      throw invalid('flow director: options are missing', 'pass e.g. { defaultChain: 0 }');
    }
    checkChain('flow director: defaultChain', opts.defaultChain);
    this.defaultChain = opts.defaultChain;
    this.indexMode = opts.index ?? 'auto';
    const cap = opts.cacheCapacity ?? DEFAULT_CACHE_CAPACITY;
    const maxCap = FLOW_TABLE_LIMITS.maxCapacity;
    if (cap !== 0 && (!Number.isInteger(cap) || cap < FLOW_TABLE_LIMITS.minCapacity || cap > maxCap || (cap & (cap - 1)) !== 0)) {
      throw invalid(`flow director: cacheCapacity ${String(cap)} must be 0 (no cache) or a power of two from ` +
        `${FLOW_TABLE_LIMITS.minCapacity} to 2^${Math.log2(maxCap)}`,
        'use e.g. 65536 (holds 49152 flows at the default 0.75 load)');
    }
    if (cap !== 0) {
      this.cache = createFlowTable({ capacity: cap, valueWords: CACHE_VALUE_WORDS, symmetric: true, idleTimeoutMs: opts.idleTimeoutMs ?? 0 }, 'flow director cache');
    } else {
      this.cache = undefined;
    }
  }

  /** Checks and adds a rule; returns its id (cold). Throws NFC_ERR_INVALID_ARG naming the field. */
  add(rule: FlowRule): number {
    const parsed = parseRule(rule, this.nextId);
    this.nextId++;
    this.list.push(parsed);
    this.changed();
    return parsed.id;
  }

  /** Removes rule `id`; false if there is none (cold). */
  remove(id: number): boolean {
    const i = this.list.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.list.splice(i, 1);
    this.changed();
    return true;
  }

  /** The rules in evaluation order, with their ids (cold: copies). */
  rules(): Array<FlowRule & { readonly id: number }> {
    return this.ordered().map((r) => ({ ...copyRule(r.rule), id: r.id }));
  }

  /** Rule generation: advances at every compile (cache entries of another generation are ignored). */
  get generation(): number {
    return this.gen;
  }

  /**
   * Compiles the rules into the flat array classify() scans (cold: allocates). Runs by itself
   * at the first classify() after a change; call it after a batch of changes to keep that cost
   * off the data path.
   */
  compile(): void {
    const rules = this.ordered();
    const r = new Int32Array(rules.length * RULE_WORDS);
    for (let k = 0; k < rules.length; k++) writeRule(r, k * RULE_WORDS, rules[k]!);
    this.compiled = r;
    this.compiledEnd = r.length;
    this.buildIndex(rules);
    this.dirty = false;
    this.gen = this.gen >= 0x7fffffff ? 1 : this.gen + 1;
  }

  /** Replaces every rule (cold); flows keep their cache entries and pins. */
  setRules(rules: readonly FlowRule[]): void {
    const parsed = rules.map((r, i) => parseRule(r, this.nextId + i));
    this.nextId += rules.length;
    this.list.length = 0;
    this.list.push(...parsed);
    this.compile();
  }

  /** Empties the exact-match cache (cold: O(cache size)); flows lose their pins. */
  clearCache(): void {
    this.cache?.clear();
  }

  /**
   * Removes the entries of flows idle for the idle timeout, scanning at most `max` slots from
   * where the last call stopped. Returns how many went. Hot path: no allocation.
   */
  expire(now: number, max?: number): number {
    return this.cache === undefined ? 0 : this.cache.expire(now, undefined, max);
  }

  /**
   * Pins `chain` (0..15) for key's flow, both directions, above every rule: what an NF does when
   * it decides where a flow goes (OpenNetVM's flow_dir_add). chain -1 removes the pin. False
   * when there is no cache or it is full (cacheFull counted). Hot path: no allocation.
   */
  pin(key: FlowKey, chain: number, hash: number, now = 0): boolean {
    if (chain !== -1) checkChain('flow director: pin chain', chain);
    const cache = this.cache;
    if (cache === undefined) return false;
    const idx = cache.lookupOrAdd(key, now, hash);
    if (idx < 0) {
      this.cacheFull++;
      return false;
    }
    cache.setValue(idx, W_PIN, chain + 1);
    return true;
  }

  /** Calls `f` with the key (reused) and chain of every pinned flow (cold: O(cache size)). */
  eachPin(f: (key: FlowKey, chain: number) => void): void {
    const cache = this.cache;
    if (cache === undefined) return;
    const k = new FlowKey();
    cache.forEach((idx) => {
      const pin = cache.value(idx, W_PIN);
      if (pin !== 0) f(cache.keyAt(idx, k), pin - 1);
    });
  }

  /** Flows with a pin (cold: O(cache size)). */
  pinnedCount(): number {
    const cache = this.cache;
    if (cache === undefined) return 0;
    let n = 0;
    cache.forEach((idx) => { if (cache.value(idx, W_PIN) !== 0) n++; });
    return n;
  }

  /** Flows the idle timeout removed so far. */
  get expiredCount(): number {
    return this.cache?.expiredCount ?? 0;
  }

  /** The pinned chain of key's flow, or -1. Cold. */
  pinned(key: FlowKey, hash: number): number {
    const idx = this.cache === undefined ? -1 : this.cache.lookup(key, hash);
    return idx < 0 ? -1 : this.cache!.value(idx, W_PIN) - 1;
  }


  /** Counters and sizes (cold). */
  stats(): FlowDirectorStats {
    return {
      rules: this.list.length,
      generation: this.gen,
      cacheCapacity: this.cache?.capacity ?? 0,
      cacheEntries: this.cache?.count ?? 0,
      cacheHits: this.cacheHits,
      cacheMisses: this.cacheMisses,
      cacheFull: this.cacheFull,
    };
  }

  /**
   * The chain of a packet: its 5-tuple `key`, input port, outer VLAN id (-1 untagged) and
   * `hash` = hashFlowKey(key, true), the symmetric flow hash the RX path leaves in the
   * packet's meta (PacketView.flowHash()). defaultChain when no rule matches. A pinned flow
   * gets its pin. With `now` (ms, non-zero), the flow's entry is touched (idle timeout, packet
   * and `bytes` counts). Hot path: no allocation (after a rule change, the first
   * call compiles: cold).
   */
  classify(key: FlowKey, inPort: number, vlan: number, hash: number, now = 0, bytes = 0): number {
    if (this.dirty) this.compile();
    const cache = this.cache;
    if (cache === undefined) {
      this.cacheMisses++;
      return this.scan(key, inPort, vlan);
    }
    const idx = cache.lookupOrAdd(key, now, hash);
    const ctx = ((inPort & 0xffff) | ((vlan & 0xffff) << 16)) >>> 0;
    if (idx < 0) {
      this.cacheFull++;
      this.cacheMisses++;
      return this.scan(key, inPort, vlan);
    }
    if (now !== 0) cache.touch(idx, bytes, now);
    const pin = cache.value(idx, W_PIN);
    if (pin !== 0) {
      this.cacheHits++;
      return pin - 1;
    }
    const w = cache.lastReversed ? 3 : 0;
    const v = cache.value(idx, w);
    if (v !== 0 && cache.value(idx, w + 1) === this.gen && cache.value(idx, w + 2) === ctx) {
      this.cacheHits++;
      return v - 1;
    }
    this.cacheMisses++;
    const chain = this.scan(key, inPort, vlan);
    cache.setValue(idx, w, chain + 1);
    cache.setValue(idx, w + 1, this.gen);
    cache.setValue(idx, w + 2, ctx);
    return chain;
  }

  /**
   * classify() without the cache: the scan of the rules a flow's first packet pays (the cache is
   * neither read nor written; counters unchanged). Hot path: no allocation (after a rule
   * change, the first call compiles: cold).
   */
  classifyUncached(key: FlowKey, inPort: number, vlan: number): number {
    if (this.dirty) this.compile();
    return this.scan(key, inPort, vlan);
  }

  /**
   * The first compiled rule that matches, or defaultChain. The rules checked are
   * lists[from..to): with the destination-port index, the list of the packet's port (the rules
   * whose port range contains it and the rules without a port, in evaluation order); without,
   * every rule. Hot path: no allocation.
   */
  private scan(key: FlowKey, inPort: number, vlan: number): number {
    if (this.portStart !== null) return this.scanPort(key, inPort, vlan, this.portStart);
    // Every compiled record in order.
    const r = this.compiled;
    const end = this.compiledEnd;
    const a = key.addr;
    const fam = key.family;
    const proto = key.proto;
    const sp = key.srcPort;
    const dp = key.dstPort;
    const s0 = a[0]! | 0;
    const d0 = a[4]! | 0;
    for (let b = 0; b < end; b += 32) {
      // The first test of ruleMatches, in line: in an ACL most rules fail on it.
      if ((d0 & r[b + 24]!) !== r[b + 20]! || (s0 & r[b + 16]!) !== r[b + 12]!) continue;
      if (ruleMatches(r, b, a, fam, proto, sp, dp, s0, d0, inPort, vlan)) return r[b + 1]!;
    }
    return this.defaultChain;
  }

  /**
   * scan() with the index: the list of the packet's destination port. A function of its own,
   * not a second loop in scan(): measured, V8 made the indexed loop ~40 % slower when both
   * loops shared one function. Hot path: no allocation.
   */
  private scanPort(key: FlowKey, inPort: number, vlan: number, ps: Int32Array): number {
    const r = this.compiled;
    const lists = this.lists;
    const a = key.addr;
    const fam = key.family;
    const proto = key.proto;
    const sp = key.srcPort;
    const dp = key.dstPort;
    const s0 = a[0]! | 0;
    const d0 = a[4]! | 0;
    const l = this.portList[dp]!;
    const to = ps[l + 1]!;
    for (let k = ps[l]!; k < to; k++) {
      const b = lists[k]!;
      if ((d0 & r[b + 24]!) !== r[b + 20]! || (s0 & r[b + 16]!) !== r[b + 12]!) continue;
      if (ruleMatches(r, b, a, fam, proto, sp, dp, s0, d0, inPort, vlan)) return r[b + 1]!;
    }
    return this.defaultChain;
  }

  /**
   * Builds the rule lists scan() walks (cold: allocates). Without the index: one list, every
   * rule. With it: list 0 holds the rules without a (narrow) destination-port range; each port
   * that some narrow range contains gets its own list, those rules merged with list 0 in
   * evaluation order; portList maps every port to its list. Too large an index (many wide-ish
   * ranges and many port-less rules) is not built.
   */
  private buildIndex(rules: readonly ParsedRule[]): void {
    const all = Int32Array.from(rules, (_, k) => k * RULE_WORDS);
    const on = this.indexMode === 'auto' ? rules.length >= INDEX_MIN_RULES : this.indexMode;
    this.portStart = null;
    this.lists = all;
    if (!on) return;
    const narrow = (p: ParsedRule): boolean => p.rule.dstPorts !== undefined && p.rule.dstPorts[1] - p.rule.dstPorts[0] < INDEX_MAX_RANGE;
    const general = rules.flatMap((p, k) => (narrow(p) ? [] : [k * RULE_WORDS]));
    const byPort = new Map<number, number[]>();
    rules.forEach((p, k) => {
      if (!narrow(p)) return;
      const [lo, hi] = p.rule.dstPorts!;
      for (let port = lo; port <= hi; port++) {
        let l = byPort.get(port);
        if (l === undefined) byPort.set(port, (l = []));
        l.push(k * RULE_WORDS);
      }
    });
    let size = general.length;
    for (const l of byPort.values()) size += l.length + general.length;
    if (size > INDEX_MAX_ENTRIES) return; // the full scan it is
    const lists = new Int32Array(size);
    const portStart = new Int32Array(byPort.size + 2);
    const portList = new Uint16Array(65536);
    lists.set(general, 0);
    portStart[1] = general.length;
    let at = general.length;
    let n = 1;
    for (const [port, own] of [...byPort].sort((x, y) => x[0] - y[0])) {
      // Merge the port's rules with the general ones: both ascending (evaluation order).
      let i = 0;
      let j = 0;
      while (i < own.length || j < general.length) {
        const x = i < own.length ? own[i]! : Infinity;
        const y = j < general.length ? general[j]! : Infinity;
        lists[at++] = x < y ? (i++, x) : (j++, y);
      }
      portList[port] = n;
      portStart[++n] = at;
    }
    this.lists = lists;
    this.portStart = portStart;
    this.portList = portList;
  }

  /** Rules sorted by priority (descending), then by id (added first wins). Cold: allocates. */
  private ordered(): ParsedRule[] {
    return [...this.list].sort((x, y) => (y.rule.priority - x.rule.priority) || (x.id - y.id));
  }

  /** A change is compiled (new generation, empty cache) by compile() or the next classify(). */
  private changed(): void {
    this.dirty = true;
  }
}

/**
 * Whether the compiled rule at word b of r matches the packet (its key's fields passed in, read
 * once per scan). The scan loops make its first test in line before calling it: measured, a
 * call per rule cost ~40 % of a miss when most rules fail that test. Hot path: no allocation.
 */
function ruleMatches(r: Int32Array, b: number, a: Uint32Array, fam: number, proto: number, sp: number, dp: number,
  s0: number, d0: number, inPort: number, vlan: number): boolean {
  // Address word 0 first: in an ACL it is the test that fails most often.
  if ((d0 & r[b + 24]!) !== r[b + 20]! || (s0 & r[b + 16]!) !== r[b + 12]!) return false;
  const rf = r[b]!;
  if (rf !== 0 && rf !== fam) return false;
  if ((proto & r[b + 2]!) !== r[b + 3]! || (inPort & r[b + 4]!) !== r[b + 5]! || (vlan & r[b + 6]!) !== r[b + 7]!) return false;
  if (sp < r[b + 8]! || sp > r[b + 9]! || dp < r[b + 10]! || dp > r[b + 11]!) return false;
  return rf !== 6 || (
    (a[1]! & r[b + 17]!) === r[b + 13]! && (a[2]! & r[b + 18]!) === r[b + 14]! && (a[3]! & r[b + 19]!) === r[b + 15]! &&
    (a[5]! & r[b + 25]!) === r[b + 21]! && (a[6]! & r[b + 26]!) === r[b + 22]! && (a[7]! & r[b + 27]!) === r[b + 23]!);
}

// ---------------------------------------------------------------------------------------------
// Rule parsing and compiling (cold)

function invalid(message: string, fix: string): NfcError {
  return new NfcError('NFC_ERR_INVALID_ARG', message, { fix });
}

function checkChain(what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_CHAIN_ID) {
    throw invalid(`${what} ${String(v)} must be an integer chain id from 0 to ${MAX_CHAIN_ID}`,
      `give a chain id from 0 to ${MAX_CHAIN_ID}`);
  }
}

function checkInt(where: string, field: string, v: unknown, lo: number, hi: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw invalid(`${where}: ${field} ${typeof v === 'number' ? String(v) : JSON.stringify(v)} must be an integer from ${lo} to ${hi}`, fix);
  }
  return v;
}

function checkPorts(where: string, field: string, v: unknown): void {
  if (!Array.isArray(v) || v.length !== 2) {
    throw invalid(`${where}: ${field} must be a [lo, hi] pair of port numbers`, `write e.g. ${field}: [1024, 65535], or [80, 80] for one port`);
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

/** Validates a rule (cold). The messages say which rule, which field, and what to write. */
function parseRule(rule: FlowRule, id: number): ParsedRule {
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
    throw invalid(`${where}: unknown field "${k}"`, best ? `did you mean "${best}"?` : `fields are: ${[...RULE_FIELDS].join(', ')}`);
  }
  if (typeof rule.priority !== 'number' || !Number.isSafeInteger(rule.priority)) {
    throw invalid(`${where}: priority ${String(rule.priority)} must be an integer`, 'give e.g. priority: 100 (higher wins)');
  }
  checkChain(`${where}: chain`, rule.chain);
  if (rule.srcPorts !== undefined) checkPorts(where, 'srcPorts', rule.srcPorts);
  if (rule.dstPorts !== undefined) checkPorts(where, 'dstPorts', rule.dstPorts);
  if (rule.proto !== undefined) checkInt(where, 'proto', rule.proto, 0, 255, 'an IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6');
  if (rule.inPort !== undefined) checkInt(where, 'inPort', rule.inPort, 0, 65535, 'an input port index, e.g. 0');
  if (rule.vlan !== undefined) checkInt(where, 'vlan', rule.vlan, 0, 4095, 'a 12-bit VLAN id (untagged traffic: leave vlan out)');
  const src = rule.srcPrefix === undefined ? undefined : parsePrefix(where, 'srcPrefix', rule.srcPrefix);
  const dst = rule.dstPrefix === undefined ? undefined : parsePrefix(where, 'dstPrefix', rule.dstPrefix);
  if (src && dst && src.family !== dst.family) {
    throw invalid(`${where}: srcPrefix is IPv${src.family} but dstPrefix is IPv${dst.family}`,
      'a packet has one address family: use two rules, one per family');
  }
  const family = src?.family ?? dst?.family ?? 0;
  return { id, rule: copyRule(rule), family, src, dst };
}

function copyRule(r: FlowRule): FlowRule {
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

/** 'a.b.c.d/len' or 'ipv6/len' (no /len: a host) → network and mask words (cold). */
function parsePrefix(where: string, field: string, text: unknown): ParsedPrefix {
  const example = field === 'srcPrefix' ? `${field}: '10.0.0.0/8' or '2001:db8::/32'` : `${field}: '192.0.2.0/24' or '2001:db8:1::/48'`;
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
      throw invalid(`${where}: ${field} "${text}": prefix length "${lenText}" must be 0..${maxLen} for IPv${family}`, `write e.g. ${example}`);
    }
    len = Number(lenText);
  }
  const addr = new Uint32Array(4);
  if (v6) {
    if (!tryParseIpv6(addrText, addr)) throw invalid(`${where}: ${field} "${text}" is not an IPv6 address`, `write eight hex groups with at most one "::", e.g. ${example}`);
  } else {
    const a = tryParseIpv4(addrText);
    if (a === undefined) throw invalid(`${where}: ${field} "${text}" is not an IPv4 address`, `write a.b.c.d/len with each part 0..255, e.g. ${example}`);
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
    throw invalid(`${where}: ${field} "${text}" has bits set beyond the /${len} prefix`, `write the network: "${formatPrefix(p)}"`);
  }
  return p;
}

/** Writes one compiled rule at r[b..b+RULE_WORDS) (layout in the file comment). */
function writeRule(r: Int32Array, b: number, p: ParsedRule): void {
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
