/**
 * The flow director's classifier: which chain a packet enters (the manager's RX loop runs it on
 * every packet of a port's burst: 5-tuple → chain). OpenNetVM's flow director, with priorities, prefixes,
 * port ranges, IPv6, and an exact-match cache in front.
 *
 * A rule (FlowRule, flow-rules.ts) names a chain (0..15) and any of: source/destination prefix (IPv4 or IPv6),
 * source/destination port range, protocol, input port, VLAN id. An absent field is a wildcard.
 * The highest priority matching rule wins; among equal priorities, the rule added first.
 * No rule matches → defaultChain.
 *
 * Rules are checked at add() and compiled into one flat Int32Array, in evaluation order,
 * RULE_WORDS words per rule (parseRule and writeRule in flow-rules.ts, with the word layout,
 * which scan() and ruleMatches() below read with literal offsets).
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
 *
 * Allocation: most methods here are cold (setup, rule changes, inspection). Those marked `Hot
 * path` (classify, classifyUncached, pin, expire, and the scans behind them) allocate nothing.
 */
import { createFlowTable, type FlowTable } from './flow-table.js';
import { FLOW_TABLE_LIMITS } from './flow-table-layout.js';
import { FlowKey } from '../packet/flow-key.js';
import {
  RULE_WORDS,
  checkChain,
  copyRule,
  invalid,
  parseRule,
  writeRule,
  type FlowRule,
  type ParsedRule,
} from './flow-rules.js';

// The director's rule API, defined with the rules' checking and compiled form in flow-rules.ts.
export { MAX_CHAIN_ID, RULE_WORDS, type FlowRule } from './flow-rules.js';

export interface FlowDirectorOptions {
  /** Chain of packets that match no rule, 0..15. */
  defaultChain: number;
  /** Slots of the exact-match cache: a power of two (FlowTable's limits), or 0 for no cache. Default 65536. */
  cacheCapacity?: number;
  /** ms without a packet after which expire() removes a flow's entry; 0 (default): never */
  idleTimeoutMs?: number;
  /**
   * Index the rules by destination port (see scanPort): 'auto' (default) from INDEX_MIN_RULES
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

/** Value words of a cache entry (see the file comment). */
const CACHE_VALUE_WORDS = 7;
const W_PIN = 6;
const DEFAULT_CACHE_CAPACITY = 65536;

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
    if (
      cap !== 0 &&
      (!Number.isInteger(cap) || cap < FLOW_TABLE_LIMITS.minCapacity || cap > maxCap || (cap & (cap - 1)) !== 0)
    ) {
      throw invalid(
        `flow director: cacheCapacity ${String(cap)} must be 0 (no cache) or a power of two from ` +
          `${FLOW_TABLE_LIMITS.minCapacity} to 2^${Math.log2(maxCap)}`,
        'use e.g. 65536 (holds 49152 flows at the default 0.75 load)',
      );
    }
    if (cap !== 0) {
      this.cache = createFlowTable(
        { capacity: cap, valueWords: CACHE_VALUE_WORDS, symmetric: true, idleTimeoutMs: opts.idleTimeoutMs ?? 0 },
        'flow director cache',
      );
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
   * where the last call stopped. Returns how many went. Hot path.
   */
  expire(now: number, max?: number): number {
    return this.cache === undefined ? 0 : this.cache.expire(now, undefined, max);
  }

  /**
   * Pins `chain` (0..15) for key's flow, both directions, above every rule: what an NF does when
   * it decides where a flow goes (OpenNetVM's flow_dir_add). chain -1 removes the pin. False
   * when there is no cache or it is full (cacheFull counted). Hot path.
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
    cache.forEach((idx) => {
      if (cache.value(idx, W_PIN) !== 0) n++;
    });
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
   * and `bytes` counts). Hot path (after a rule change, the first call compiles: cold).
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
   * neither read nor written; counters unchanged). Hot path (after a rule change, the first call
   * compiles: cold).
   */
  classifyUncached(key: FlowKey, inPort: number, vlan: number): number {
    if (this.dirty) this.compile();
    return this.scan(key, inPort, vlan);
  }

  /**
   * The first compiled rule that matches, or defaultChain. The rules checked are
   * lists[from..to): with the destination-port index, the list of the packet's port (the rules
   * whose port range contains it and the rules without a port, in evaluation order); without,
   * every rule. Hot path.
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
   * loops shared one function. Hot path.
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
    const narrow = (p: ParsedRule): boolean =>
      p.rule.dstPorts !== undefined && p.rule.dstPorts[1] - p.rule.dstPorts[0] < INDEX_MAX_RANGE;
    const general = rules.flatMap((p, k) => (narrow(p) ? [] : [k * RULE_WORDS]));
    const byPort = new Map<number, number[]>();
    rules.forEach((p, k) => {
      if (!narrow(p)) return;
      const [lo, hi] = p.rule.dstPorts!;
      for (let port = lo; port <= hi; port++) {
        let l = byPort.get(port);
        if (l === undefined) {
          l = [];
          byPort.set(port, l);
        }
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
        if (x < y) {
          lists[at++] = x;
          i++;
        } else {
          lists[at++] = y;
          j++;
        }
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
    return [...this.list].sort((x, y) => y.rule.priority - x.rule.priority || x.id - y.id);
  }

  /** A change is compiled (new generation, empty cache) by compile() or the next classify(). */
  private changed(): void {
    this.dirty = true;
  }
}

/**
 * Whether the compiled rule at word b of r matches the packet (its key's fields passed in, read
 * once per scan). The scan loops make its first test in line before calling it: measured, a
 * call per rule cost ~40 % of a miss when most rules fail that test. Hot path.
 */
function ruleMatches(
  r: Int32Array,
  b: number,
  a: Uint32Array,
  fam: number,
  proto: number,
  sp: number,
  dp: number,
  s0: number,
  d0: number,
  inPort: number,
  vlan: number,
): boolean {
  // Address word 0 first: in an ACL it is the test that fails most often.
  if ((d0 & r[b + 24]!) !== r[b + 20]! || (s0 & r[b + 16]!) !== r[b + 12]!) return false;
  const rf = r[b]!;
  if (rf !== 0 && rf !== fam) return false;
  if ((proto & r[b + 2]!) !== r[b + 3]! || (inPort & r[b + 4]!) !== r[b + 5]! || (vlan & r[b + 6]!) !== r[b + 7]!)
    return false;
  if (sp < r[b + 8]! || sp > r[b + 9]! || dp < r[b + 10]! || dp > r[b + 11]!) return false;
  return (
    rf !== 6 ||
    ((a[1]! & r[b + 17]!) === r[b + 13]! &&
      (a[2]! & r[b + 18]!) === r[b + 14]! &&
      (a[3]! & r[b + 19]!) === r[b + 15]! &&
      (a[5]! & r[b + 25]!) === r[b + 21]! &&
      (a[6]! & r[b + 26]!) === r[b + 22]! &&
      (a[7]! & r[b + 27]!) === r[b + 23]!)
  );
}
