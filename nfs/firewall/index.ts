/**
 * firewall: ordered rules from a YAML or JSON file (rules.ts), first match wins; each rule has
 * optional source/destination prefixes (IPv4 or IPv6), a protocol, source/destination port
 * ranges and an action (accept → NEXT, drop → DROP, out:<port>, service:<n>); packets no rule
 * matches get the file's `default` action. Packets and bytes are counted per rule and for the
 * default.
 *
 * Fast path: an untagged IPv4 packet's 5-tuple is read straight from the buffer (the checks
 * of PacketView.flowHash()) and looked up in a per-flow verdict cache: direct-mapped, typed
 * arrays, one 5-tuple and its rule index per slot, a colliding flow replacing the one there (no
 * expiry needed: a stale entry is only ever overwritten). A miss runs the classifier (RuleSet:
 * candidate lists selected by family, protocol and destination port) and fills the slot. The
 * cache is cleared when the rules change. Other packets (VLAN-tagged, IPv6) take the packet
 * view's flowKey() and the classifier, uncached.
 *
 * Reload: the message {"reload": true} (`nfchain message <nf> '{"reload":true}'`) reads and
 * compiles the file again; only when that succeeds are the new rules swapped in (between two
 * packets: traffic keeps flowing). On error the old rules stay and the error is logged.
 * Counters of a rule whose fields are unchanged carry over (matched by content); others start
 * at 0.
 *
 * No clock on the data path: tick() (every 100 ms) only counts towards the report.
 */
import { defineNF, DROP, FlowKey, NEXT, NfcError } from 'nfchain';
import { describeRules, loadRules, RuleSet, rulesPath } from './rules.js';

export { loadRules, parseRules, parseAction, RuleSet, MAX_RULES, type Rule, type RulesFile } from './rules.js';

const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;
const MAX_CACHE = 4 * 1024 * 1024;
/** Most rules listed in one report. */
const REPORT_RULES = 20;

/** Counters besides the per-rule ones (cold copy). */
export interface FirewallStats {
  rules: { name: string; action: string; packets: number; bytes: number }[];
  default: { action: string; packets: number; bytes: number };
  /** not IPv4/IPv6, or an IP header the packet view finds malformed */
  nonIp: number;
  cacheHits: number;
  cacheMisses: number;
  /** classified without caching: the cache was full (or is off) */
  uncached: number;
  cachedFlows: number;
  reloads: number;
  reloadErrors: number;
}

export default defineNF({
  name: 'firewall',
  description: 'ordered rules (prefixes, protocol, ports) from a file, first match wins; reload on message',
  tickInterval: TICK_MS,
  counters: {
    accepted: 'packets given the accept action (NEXT), by a rule, the default or non-ip',
    dropped: 'packets given the drop action (DROP), by a rule, the default or non-ip',
    redirected: 'packets sent out of a port or to a service (out:<port>, service:<n>) by a rule or the default',
    defaulted: 'packets no rule matched (the default action applied)',
    nonIp: 'packets that are not IPv4/IPv6, or with a malformed IP header (the non-ip verdict)',
    cacheHits: 'IPv4 packets whose verdict came from the per-flow cache',
    cacheMisses: 'IPv4 packets classified and put in the cache',
    uncached: 'packets classified without the cache (VLAN-tagged, IPv6, or cache 0)',
    reloads: 'successful reloads of the rules file',
    reloadErrors: 'reloads refused (the file had a problem; the old rules stayed)',
  },
  gauges: {
    rules: 'rules in force',
    cachedFlows: 'flows in the verdict cache',
  },
  options: {
    rules: {
      type: 'string',
      default: '',
      help: 'the YAML or JSON rules file (required; a relative path is from the topology file directory)',
    },
    cache: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 0,
      max: MAX_CACHE,
      help: 'slots of the per-flow verdict cache (rounded up to a power of two); 0 = classify every packet',
    },
    'non-ip': {
      type: 'string',
      default: 'accept',
      choices: ['accept', 'drop'],
      help: 'what happens to packets that are not IPv4/IPv6 (ARP, malformed IP headers)',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: reads and compiles the rules, allocates the cache and the counters. */
  create(ctx) {
    const o = ctx.options;
    if (o.rules === '') {
      throw new NfcError('NFC_ERR_NF_OPTION', 'firewall: option "rules" is missing: the rules file', {
        fix: 'pass e.g. --rules rules.yaml, or options: { rules: rules.yaml } in the topology (format: nfs/firewall/README.md)',
      });
    }
    const path = rulesPath(ctx.baseDir, o.rules);
    let rs = new RuleSet(loadRules(path));
    /** packets and bytes per rule, [n] the default's */
    let pk = new Float64Array(rs.n + 1);
    let by = new Float64Array(rs.n + 1);
    let verdicts = rs.verdicts;
    const nonIpVerdict = o['non-ip'] === 'drop' ? DROP : NEXT;
    // The verdict cache: direct-mapped, `cache` slots (a power of two), one untagged IPv4
    // 5-tuple and its rule per slot; a colliding flow replaces the one there. Cleared on reload.
    const slots = o.cache === 0 ? 0 : 2 ** Math.ceil(Math.log2(o.cache));
    const cacheMask = slots - 1;
    const cSrc = new Int32Array(slots);
    const cDst = new Int32Array(slots);
    const cPorts = new Int32Array(slots);
    /** protocol + 1; 0 = empty */
    const cTag = new Int32Array(slots);
    const cRule = new Int32Array(slots);
    const key = new FlowKey();
    const accepted = ctx.counter('accepted');
    const dropped = ctx.counter('dropped');
    const redirected = ctx.counter('redirected');
    const defaulted = ctx.counter('defaulted');
    const nonIp = ctx.counter('nonIp');
    const hits = ctx.counter('cacheHits');
    const misses = ctx.counter('cacheMisses');
    const uncached = ctx.counter('uncached');
    const reloads = ctx.counter('reloads');
    const reloadErrors = ctx.counter('reloadErrors');
    const rulesGauge = ctx.gauge('rules');
    const cachedGauge = ctx.gauge('cachedFlows');
    /**
     * accepted, dropped, redirected: the per-rule packet counts summed by verdict (publish(), every
     * tick and at stop: the packet path counts once, per rule), plus `base`: what rules no longer
     * in force had counted (set at each reload, so that the sums never go back).
     */
    const outcomeCells = [accepted, dropped, redirected];
    const base = new Float64Array(3);
    let baseDefaulted = 0;
    /** the outcome (0 accepted, 1 dropped, 2 redirected) of a verdict */
    const outcomeOf = (v: number): number => (v === NEXT ? 0 : v === DROP ? 1 : 2);
    const nonIpOutcome = outcomeOf(nonIpVerdict);
    /** cache slots in use (a miss into an empty slot fills one; a reload empties them all) */
    let filled = 0;
    let ticks = 0;
    rulesGauge.set(rs.n);

    /** Sums of the per-rule counts by outcome, non-IP packets included (cold). */
    function outcomeSums(): Float64Array {
      const sums = new Float64Array(3);
      for (let r = 0; r <= rs.n; r++) sums[outcomeOf(verdicts[r]!)]! += pk[r]!;
      sums[nonIpOutcome]! += nonIp.value;
      return sums;
    }

    /** The outcome counters, the default's and the cache gauge := the counts now (cold: tick, stop, reload). */
    function publish(): void {
      const sums = outcomeSums();
      outcomeCells.forEach((cell, k) => {
        cell.add(base[k]! + sums[k]! - cell.value);
      });
      defaulted.add(baseDefaulted + pk[rs.n]! - defaulted.value);
      cachedGauge.set(filled);
    }
    if (o.interval > 0) ctx.log(`firewall: ${describeRules(rs)}`);

    function cachedFlows(): number {
      return filled;
    }

    function stats(): FirewallStats {
      const f = rs.file;
      return {
        rules: f.rules.map((r, i) => ({ name: r.name, action: r.action, packets: pk[i]!, bytes: by[i]! })),
        default: { action: f.defaultAction, packets: pk[rs.n]!, bytes: by[rs.n]! },
        nonIp: nonIp.value,
        cacheHits: hits.value,
        cacheMisses: misses.value,
        uncached: uncached.value,
        cachedFlows: cachedFlows(),
        reloads: reloads.value,
        reloadErrors: reloadErrors.value,
      };
    }

    function report(): string[] {
      const s = stats();
      const total = s.rules.reduce((t, r) => t + r.packets, s.default.packets) + s.nonIp;
      const lookups = s.cacheHits + s.cacheMisses + s.uncached;
      const lines = [
        `firewall: ${total} packets (${s.nonIp} non-IP), ${s.rules.length} rules; cache ${s.cachedFlows} flows, ` +
          `${lookups > 0 ? ((100 * s.cacheHits) / lookups).toFixed(1) : '0.0'}% hits; ` +
          `default (${s.default.action}): ${s.default.packets} pkts ${s.default.bytes} B`,
      ];
      const used = s.rules.filter((r) => r.packets > 0).sort((a, b) => b.packets - a.packets);
      for (const r of used.slice(0, REPORT_RULES)) {
        lines.push(`  ${r.name} (${r.action}): ${r.packets} pkts ${r.bytes} B`);
      }
      if (used.length > REPORT_RULES) lines.push(`  (and ${used.length - REPORT_RULES} more rules with packets)`);
      return lines;
    }

    /** Reads and compiles the file again; swaps only on success (cold). */
    function reload(): boolean {
      let next: RuleSet;
      try {
        next = new RuleSet(loadRules(path));
      } catch (e) {
        reloadErrors.add();
        const msg = e instanceof NfcError ? `${e.message}${e.fix ? `\n  fix: ${e.fix}` : ''}` : String(e);
        ctx.log(`firewall: reload failed, keeping the ${rs.n} rules in force: ${msg}`);
        return false;
      }
      const oldIndex = new Map<string, number>();
      rs.file.rules.forEach((r, i) => {
        if (!oldIndex.has(r.text)) oldIndex.set(r.text, i);
      });
      const npk = new Float64Array(next.n + 1);
      const nby = new Float64Array(next.n + 1);
      next.file.rules.forEach((r, i) => {
        const j = oldIndex.get(r.text);
        if (j !== undefined) {
          npk[i] = pk[j]!;
          nby[i] = by[j]!;
          oldIndex.delete(r.text);
        }
      });
      npk[next.n] = pk[rs.n]!;
      nby[next.n] = by[rs.n]!;
      publish();
      rs = next;
      pk = npk;
      by = nby;
      verdicts = next.verdicts;
      // The counts carried over go on from where they are: the rest of each sum becomes the base.
      const carried = outcomeSums();
      outcomeCells.forEach((cell, k) => {
        base[k] = cell.value - carried[k]!;
      });
      baseDefaulted = defaulted.value - pk[next.n]!;
      cTag.fill(0);
      filled = 0;
      cachedGauge.set(0);
      rulesGauge.set(next.n);
      reloads.add();
      ctx.log(`firewall: reloaded: ${describeRules(rs)}`);
      return true;
    }

    return {
      /** a copy of the counters (cold; tests) */
      stats,
      /** the rules in force (cold; tests) */
      get ruleSet(): RuleSet {
        return rs;
      },
      /** reads the file again, as the reload message does; true when the new rules are in force */
      reload,

      /** Hot path: no allocation. */
      handle(pkt) {
        // Fast path: an untagged IPv4 packet, its header read straight from the buffer with the
        // checks PacketView.flowHash() applies (so its 5-tuple is the one flowKey() gives).
        const dv = pkt.data;
        const b = pkt.byteOffset;
        const len = pkt.length;
        if (len >= 34 && dv.getUint16(b + 12) === 0x0800) {
          const w0 = dv.getUint32(b + 14);
          const hl = (w0 >>> 22) & 0x3c;
          const total = w0 & 0xffff;
          if (w0 >>> 28 === 4 && hl >= 20 && 14 + hl <= len && total >= hl) {
            const ipEnd = 14 + total < len ? 14 + total : len;
            const proto = dv.getUint8(b + 23);
            const src = dv.getInt32(b + 26);
            const dst = dv.getInt32(b + 30);
            let ports = 0;
            if ((dv.getUint16(b + 20) & 0x3fff) === 0) {
              const l4 = 14 + hl;
              if (proto === 6) {
                if (l4 + 20 <= ipEnd) {
                  const thl = (dv.getUint8(b + l4 + 12) >>> 4) << 2;
                  if (thl >= 20 && l4 + thl <= ipEnd) ports = dv.getInt32(b + l4);
                }
              } else if (proto === 17 && l4 + 8 <= ipEnd) {
                ports = dv.getInt32(b + l4);
              }
            }
            let r: number;
            if (cacheMask >= 0) {
              const slot =
                (Math.imul(src ^ Math.imul(dst, 0x9e3779b1) ^ Math.imul(ports, 0x85ebca6b) ^ proto, 0xc2b2ae35) >>>
                  12) &
                cacheMask;
              if (cSrc[slot] === src && cDst[slot] === dst && cPorts[slot] === ports && cTag[slot] === proto + 1) {
                r = cRule[slot]!;
                hits.add();
              } else {
                r = rs.classify4(src, dst, proto, ports >>> 16, ports & 0xffff);
                if (cTag[slot] === 0) filled++;
                cSrc[slot] = src;
                cDst[slot] = dst;
                cPorts[slot] = ports;
                cTag[slot] = proto + 1;
                cRule[slot] = r;
                misses.add();
              }
            } else {
              r = rs.classify4(src, dst, proto, ports >>> 16, ports & 0xffff);
              uncached.add();
            }
            pk[r]! += 1;
            by[r]! += len;
            return verdicts[r]!;
          }
        }
        // Anything else (VLAN tags, IPv6, non-IP, malformed): the packet view's parse.
        if (!pkt.flowKey(key)) {
          nonIp.add();
          return nonIpVerdict;
        }
        const a = key.addr;
        const r =
          key.family === 4
            ? rs.classify4(a[0]! | 0, a[4]! | 0, key.proto, key.srcPort, key.dstPort)
            : rs.classify6(a, key.proto, key.srcPort, key.dstPort);
        uncached.add();
        pk[r]! += 1;
        by[r]! += len;
        return verdicts[r]!;
      },

      /** Every 100 ms: every `interval` s the report. */
      tick(ctx) {
        publish();
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval * TICKS_PER_SECOND) return;
        ticks = 0;
        for (const line of report()) ctx.log(line);
      },

      /** {"reload": true}: reload the rules file. */
      message(payload, ctx) {
        if (payload !== null && typeof payload === 'object' && (payload as { reload?: unknown }).reload === true) {
          reload();
          return;
        }
        ctx.log(`firewall: unknown message ${JSON.stringify(payload)}; send {"reload": true}`);
      },

      stop(ctx) {
        publish();
        if (ctx.options.interval === 0) return;
        for (const line of report()) ctx.log(line);
      },
    };
  },
});
