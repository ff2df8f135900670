/**
 * heavy-hitter: finds the keys (5-tuple flows, source or destination addresses: `key`) that
 * carry more than a `share` of the traffic (packets or bytes: `by`), or more than `rate` per
 * second, in each time window. Every packet updates a count-min sketch (`depth` rows of `width`
 * counters, conservative update) and a top-k list of the `k` keys with the largest estimates.
 * When a window closes the top-k keys over the thresholds are reported as heavy hitters, and
 * during the next window `action` applies to their packets: none (report only), drop, or mark
 * (rewrite the DSCP to `dscp`; the IPv4 header checksum is patched). Everything else passes.
 *
 * Error bounds (Cormode & Muthukrishnan): an estimate is never below the true count, and with
 * ε = e / width and δ = e^-depth it exceeds it by at most ε·N (N the window's total) with
 * probability at least 1 − δ. The defaults (2048 × 4) give ε ≈ 0.13 % and δ ≈ 1.8 %;
 * conservative update only lowers estimates. A key enters the top-k when its estimate passes the
 * smallest one there, so with k ≥ 1/share every key over the share is in the list at the window's
 * end (its estimate only grows; at most 1/share keys can be over it) — up to the sketch's error.
 *
 * Windows close in tick() (every 100 ms), never per packet. Memory: depth × width f64 counters
 * and 2 × k keys, whatever the number of flows.
 */
import { DROP, defineNF, FlowKey, formatIpv4, formatIpv6, hashFlowKey, NEXT, NfcError } from 'nfchain';

const TICK_MS = 100;
/** u32 words per stored key: family, proto, srcPort, dstPort, addr[0..7]. */
const KW = 12;
const MAX_WIDTH = 1 << 20;

/** A heavy hitter of a closed window (cold). */
export interface HeavyHitter {
  /** the flow (`tcp 10.0.0.1:1234 -> 10.0.0.2:80`) or the address */
  key: string;
  /** the sketch's estimate of its packets or bytes in the window (≥ the true count) */
  estimate: number;
  /** estimate / the window's total */
  share: number;
  /** estimate per second */
  rate: number;
  new: boolean;
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h;
}

/** Stores `key` at entry j of `keys`. */
function storeKey(keys: Uint32Array, j: number, key: FlowKey): void {
  const b = j * KW;
  keys[b] = key.family;
  keys[b + 1] = key.proto;
  keys[b + 2] = key.srcPort;
  keys[b + 3] = key.dstPort;
  const a = key.addr;
  for (let i = 0; i < 8; i++) keys[b + 4 + i] = a[i]!;
}

/** True when entry j of `keys` is `key`. */
function keyEquals(keys: Uint32Array, j: number, key: FlowKey): boolean {
  const b = j * KW;
  if (keys[b] !== key.family || keys[b + 1] !== key.proto || keys[b + 2] !== key.srcPort || keys[b + 3] !== key.dstPort)
    return false;
  const a = key.addr;
  for (let i = 0; i < 8; i++) if (keys[b + 4 + i] !== a[i]) return false;
  return true;
}

/** Index of `key` (hash h) among the first n entries, or -1. */
function findKey(keys: Uint32Array, hashes: Int32Array, n: number, h: number, key: FlowKey): number {
  for (let j = 0; j < n; j++) if (hashes[j] === h && keyEquals(keys, j, key)) return j;
  return -1;
}

export default defineNF({
  name: 'heavy-hitter',
  description:
    'finds flows or addresses over a share or a rate of the traffic per window (count-min sketch + top-k); can drop or DSCP-mark them',
  tickInterval: TICK_MS,
  counters: {
    nonIp: 'packets not IPv4/IPv6, or with a malformed IP header (passed, not counted in the sketch)',
    heavyPackets: 'packets of keys flagged heavy (while flagged)',
    dropped: 'heavy-hitter packets dropped (action drop)',
    marked: 'heavy-hitter packets DSCP-marked (action mark)',
    evictions: 'top-k replacements (a key pushed out by a larger one)',
    heavyEvents: 'times a key became heavy (not heavy in the window before)',
  },
  gauges: {
    heavyNow: 'keys flagged heavy now (by the last closed window)',
  },
  options: {
    window: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'seconds per detection window' },
    key: {
      type: 'string',
      default: 'flow',
      choices: ['flow', 'src', 'dst'],
      help: 'what is counted: the 5-tuple flow, the source address or the destination address',
    },
    by: { type: 'string', default: 'bytes', choices: ['bytes', 'packets'], help: 'count frame bytes or packets' },
    share: {
      type: 'number',
      default: 0.05,
      min: 0,
      max: 1,
      help: 'share of the window’s traffic over which a key is heavy; 0 = no share check',
    },
    rate: {
      type: 'number',
      default: 0,
      min: 0,
      help: 'bytes (or packets) per second over which a key is heavy; 0 = no rate check',
    },
    width: {
      type: 'number',
      default: 2048,
      integer: true,
      min: 16,
      max: MAX_WIDTH,
      help: 'counters per sketch row, a power of two: overestimate ≤ e/width of the total',
    },
    depth: {
      type: 'number',
      default: 4,
      integer: true,
      min: 1,
      max: 8,
      help: 'sketch rows: the bound fails with probability e^-depth',
    },
    k: {
      type: 'number',
      default: 32,
      integer: true,
      min: 1,
      max: 256,
      help: 'keys kept in the top-k list (and reported at most)',
    },
    action: {
      type: 'string',
      default: 'none',
      choices: ['none', 'drop', 'mark'],
      help: 'what to do with heavy hitters’ packets in the next window: none, drop, mark (DSCP)',
    },
    dscp: {
      type: 'number',
      default: 8,
      integer: true,
      min: 0,
      max: 63,
      help: 'with action: mark, the DSCP written (8 = CS1, lower effort)',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
  },

  /** Cold: allocates the sketch (depth × width f64) and the top-k and heavy lists. */
  create(ctx) {
    const o = ctx.options;
    if (o.share === 0 && o.rate === 0) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        'heavy-hitter: option --share and option --rate are both 0: nothing could be heavy',
        {
          fix: 'give a share (e.g. --share 0.05) or a rate (--rate, in bytes or packets per second)',
        },
      );
    }
    if ((o.width & (o.width - 1)) !== 0) {
      throw new NfcError('NFC_ERR_NF_OPTION', `heavy-hitter: option --width ${o.width} is not a power of two`, {
        fix: `use ${2 ** Math.round(Math.log2(o.width))}`,
      });
    }
    if (o.share > 0 && o.k * o.share < 1) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `heavy-hitter: option --k ${o.k} is less than 1/share (${Math.ceil(1 / o.share)}): keys over the share could be missed`,
        { fix: `raise --k to ${Math.ceil(1 / o.share)} or more, or --share` },
      );
    }
    const keyMode = o.key === 'src' ? 1 : o.key === 'dst' ? 2 : 0;
    const byBytes = o.by === 'bytes';
    const action = o.action === 'drop' ? 1 : o.action === 'mark' ? 2 : 0;
    const dscp = o.dscp;
    const width = o.width;
    const wmask = width - 1;
    const depth = o.depth;
    const k = o.k;
    const windowMs = o.window * 1000;
    const cms = new Float64Array(depth * width);
    const topKeys = new Uint32Array(k * KW);
    const topHash = new Int32Array(k);
    const topCount = new Float64Array(k);
    let topN = 0;
    let topMin = 0;
    let topMinIdx = 0;
    let heavyKeys = new Uint32Array(k * KW);
    let heavyHash = new Int32Array(k);
    let heavyN = 0;
    let spareKeys = new Uint32Array(k * KW);
    let spareHash = new Int32Array(k);
    let total = 0;
    let windowStart = ctx.now();
    let ticks = 0;
    let findings: HeavyHitter[] = [];
    const key = new FlowKey();
    const textKey = new FlowKey();
    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      nonIp: ctx.counter('nonIp'),
      heavyPackets: ctx.counter('heavyPackets'),
      dropped: ctx.counter('dropped'),
      marked: ctx.counter('marked'),
      evictions: ctx.counter('evictions'),
      heavyEvents: ctx.counter('heavyEvents'),
      heavyNow: ctx.gauge('heavyNow'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      packets: 0,
      bytes: 0,
      /** not IPv4/IPv6, or a malformed IP header (passed, not counted in the sketch) */
      get nonIp(): number {
        return cells.nonIp.value;
      },
      /** packets of heavy hitters (while flagged), and of those dropped or marked */
      get heavyPackets(): number {
        return cells.heavyPackets.value;
      },
      get dropped(): number {
        return cells.dropped.value;
      },
      get marked(): number {
        return cells.marked.value;
      },
      /** top-k replacements (a key pushed out by a larger one) */
      get evictions(): number {
        return cells.evictions.value;
      },
      windows: 0,
      /** times a key became heavy (not heavy in the window before) */
      get heavyEvents(): number {
        return cells.heavyEvents.value;
      },
      get heavyNow(): number {
        return cells.heavyNow.value;
      },
    };
    const c = counters;

    function recomputeMin(): void {
      let m = Number.POSITIVE_INFINITY;
      let mi = 0;
      for (let j = 0; j < topN; j++) {
        if (topCount[j]! < m) {
          m = topCount[j]!;
          mi = j;
        }
      }
      topMin = m;
      topMinIdx = mi;
    }

    /** The text of stored key j (cold). */
    function keyText(keys: Uint32Array, j: number): string {
      const b = j * KW;
      const fam = keys[b]!;
      if (keyMode !== 0) return fam === 4 ? formatIpv4(keys[b + 4]!) : formatIpv6(keys, b + 4);
      textKey.family = fam as 4 | 6;
      textKey.proto = keys[b + 1]!;
      textKey.srcPort = keys[b + 2]!;
      textKey.dstPort = keys[b + 3]!;
      for (let i = 0; i < 8; i++) textKey.addr[i] = keys[b + 4 + i]!;
      return textKey.toString();
    }

    function closeWindow(now: number): void {
      const secs = Math.max(now - windowStart, 1) / 1000;
      const found: { j: number; est: number }[] = [];
      for (let j = 0; j < topN; j++) {
        const est = topCount[j]!;
        if ((o.share > 0 && total > 0 && est >= o.share * total) || (o.rate > 0 && est / secs >= o.rate))
          found.push({ j, est });
      }
      found.sort((a, b) => b.est - a.est);
      const list: HeavyHitter[] = [];
      let n = 0;
      for (const { j, est } of found) {
        const h = topHash[j]!;
        // was it heavy in the window before? (compare the stored key words)
        let was = false;
        for (let i = 0; i < heavyN && !was; i++) {
          if (heavyHash[i] !== h) continue;
          was = true;
          for (let w = 0; w < KW; w++) if (heavyKeys[i * KW + w] !== topKeys[j * KW + w]) was = false;
        }
        spareKeys.set(topKeys.subarray(j * KW, j * KW + KW), n * KW);
        spareHash[n] = h;
        n++;
        if (!was) cells.heavyEvents.add();
        list.push({
          key: keyText(topKeys, j),
          estimate: est,
          share: total > 0 ? est / total : 0,
          rate: est / secs,
          new: !was,
        });
      }
      const t = heavyKeys;
      heavyKeys = spareKeys;
      spareKeys = t;
      const th = heavyHash;
      heavyHash = spareHash;
      spareHash = th;
      heavyN = n;
      cells.heavyNow.set(n);
      c.windows++;
      findings = list;
      if (list.length > 0) {
        const unit = byBytes ? 'bytes' : 'packets';
        const one = list.length === 1;
        const noun = o.key === 'flow' ? (one ? 'flow' : 'flows') : `${o.key} ${one ? 'address' : 'addresses'}`;
        ctx.log(
          `heavy-hitter: window of ${secs.toFixed(1)} s, ${total} ${unit}: ${list.length} heavy ${noun} ` +
            `(estimates over by at most ${((Math.E / width) * 100).toFixed(2)} % of the total with probability ${((1 - Math.exp(-depth)) * 100).toFixed(1)} %), action ${o.action}`,
        );
        for (const h of list) {
          ctx.log(
            `  ${h.key}  ${h.estimate} ${unit} (${(h.share * 100).toFixed(1)} %, ${Math.round(h.rate)}/s)${h.new ? '  (new)' : ''}`,
          );
        }
      }
      cms.fill(0);
      topN = 0;
      topMin = 0;
      total = 0;
      windowStart = now;
    }

    function line(): string {
      return (
        `heavy-hitter: ${c.packets} packets, ${c.bytes} bytes, ${c.heavyNow} heavy now, ${c.heavyPackets} heavy packets ` +
        `(${c.dropped} dropped, ${c.marked} marked), ${c.evictions} top-k evictions, ${c.nonIp} non-IP`
      );
    }

    return {
      counters,
      /** the last closed window's heavy hitters, largest first (cold) */
      findings: (): readonly HeavyHitter[] => findings,
      /** the current window's top-k: keys and estimates, largest first (cold) */
      top: () =>
        Array.from({ length: topN }, (_, j) => ({ key: keyText(topKeys, j), estimate: topCount[j]! })).sort(
          (a, b) => b.estimate - a.estimate,
        ),
      /** the sketch's current estimate for a flow key (cold; for tests) */
      estimate(flow: FlowKey): number {
        const h = hashFlowKey(flow, false);
        const h2 = mix(h) | 1;
        let m = Number.POSITIVE_INFINITY;
        for (let r = 0; r < depth; r++) m = Math.min(m, cms[r * width + ((h + Math.imul(r, h2)) & wmask)]!);
        return m;
      },

      /** Counts the packet's key in the sketch and the top-k; acts on heavy hitters. Hot path: no allocation. */
      handle(pkt) {
        c.packets++;
        const len = pkt.length;
        c.bytes += len;
        if (!pkt.flowKey(key)) {
          cells.nonIp.add();
          return NEXT;
        }
        const a = key.addr;
        if (keyMode !== 0) {
          if (keyMode === 2) {
            a[0] = a[4]!;
            a[1] = a[5]!;
            a[2] = a[6]!;
            a[3] = a[7]!;
          }
          a[4] = 0;
          a[5] = 0;
          a[6] = 0;
          a[7] = 0;
          key.proto = 0;
          key.srcPort = 0;
          key.dstPort = 0;
        }
        const h = hashFlowKey(key, false);
        const h2 = mix(h) | 1;
        const inc = byBytes ? len : 1;
        total += inc;
        // conservative update: raise each row's counter only up to the new estimate
        let m = Number.POSITIVE_INFINITY;
        for (let r = 0; r < depth; r++) {
          const v = cms[r * width + ((h + Math.imul(r, h2)) & wmask)]!;
          if (v < m) m = v;
        }
        const est = m + inc;
        for (let r = 0; r < depth; r++) {
          const i = r * width + ((h + Math.imul(r, h2)) & wmask);
          if (cms[i]! < est) cms[i] = est;
        }
        if (topN < k || est > topMin) {
          const j = findKey(topKeys, topHash, topN, h, key);
          if (j >= 0) {
            topCount[j] = est;
            if (topN === k && j === topMinIdx) recomputeMin();
          } else if (topN < k) {
            storeKey(topKeys, topN, key);
            topHash[topN] = h;
            topCount[topN] = est;
            topN++;
            if (topN === k) recomputeMin();
          } else {
            storeKey(topKeys, topMinIdx, key);
            topHash[topMinIdx] = h;
            topCount[topMinIdx] = est;
            cells.evictions.add();
            recomputeMin();
          }
        }
        if (heavyN === 0 || findKey(heavyKeys, heavyHash, heavyN, h, key) < 0) return NEXT;
        cells.heavyPackets.add();
        if (action === 1) {
          cells.dropped.add();
          return DROP;
        }
        if (action === 2) {
          if (pkt.ipVersion === 4) {
            pkt.setIpv4Tos((dscp << 2) | (pkt.ipv4Tos & 3));
          } else {
            // IPv6: version (4 bits), traffic class (DSCP 6 + ECN 2), flow label; no header checksum
            const dv = pkt.data;
            const at = pkt.byteOffset + pkt.l3Offset;
            dv.setUint32(at, ((dv.getUint32(at) & 0xf03fffff) | (dscp << 22)) >>> 0);
          }
          cells.marked.add();
        }
        return NEXT;
      },

      /** Every 100 ms: closes the window when it is over; every `interval` s a counter line. Cold. */
      tick(ctx) {
        const now = ctx.now();
        if (now - windowStart >= windowMs) closeWindow(now);
        if (o.interval === 0 || ++ticks < (o.interval * 1000) / TICK_MS) return;
        ticks = 0;
        ctx.log(line());
      },

      stop(ctx) {
        if (o.interval > 0) ctx.log(line());
      },
    };
  },
});
