/**
 * super-spreader: finds sources that contact more than `threshold` distinct destinations in a
 * time window (scanners, worms, DDoS bots). Each source seen in the window gets a bitmap of
 * `bits` bits; every packet sets the bit its destination (the address, or address and port with
 * `count: endpoints`) hashes to. When the window closes the number of distinct destinations of
 * each source is estimated by linear counting, n ≈ −bits · ln(zero bits / bits), and sources
 * over the threshold are reported; with `mitigate` their packets are dropped during the next
 * window. Everything else passes (NEXT).
 *
 * Accuracy (Whang et al., linear counting): the standard error is
 * sqrt(bits · (e^t − t − 1)) / n with t = n / bits — about 3 % for 100 destinations in 512 bits,
 * 6 % at 1000. A bitmap with every bit set is saturated: the source is reported as having at
 * least bits · ln(bits) destinations. So the threshold must stay well under that (checked).
 *
 * Windows close in tick() (every 100 ms), never per packet. Memory: `capacity` sources per
 * window, each bits / 8 bytes of bitmap and a packet counter.
 */
import { DROP, defineNF, NEXT, NfcError, AddrTable, MAX_ADDR_CAPACITY } from 'nfchain';

const TICK_MS = 100;
/** Source table columns: packets. */
const PKTS = 0,
  COLS = 1;

/** A flagged source of a closed window (cold). */
export interface Spreader {
  source: string;
  /** estimated distinct destinations (a lower bound when saturated) */
  destinations: number;
  saturated: boolean;
  packets: number;
  new: boolean;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Distinct count estimated from a bitmap of `bits` bits with `set` bits set (cold). */
export function linearCount(bits: number, set: number): number {
  if (set >= bits) return bits * Math.log(bits);
  return set === 0 ? 0 : -bits * Math.log((bits - set) / bits);
}

export default defineNF({
  name: 'super-spreader',
  description:
    'flags sources contacting more than N distinct destinations per window (bitmap sketch per source); can drop their packets',
  tickInterval: TICK_MS,
  counters: {
    nonIp: 'packets not IPv4/IPv6, or with a malformed IP header (passed)',
    untracked: 'packets whose source found the window table full',
    fromFlagged: 'packets from flagged sources',
    dropped: 'packets from flagged sources dropped (mitigate)',
    flaggedEvents: 'times a source became flagged (not flagged in the window before)',
  },
  gauges: {
    flaggedNow: 'sources flagged now (by the last closed window)',
    sources: 'sources seen in the last closed window',
  },
  options: {
    window: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'seconds per detection window' },
    threshold: {
      type: 'number',
      default: 100,
      integer: true,
      min: 1,
      help: 'distinct destinations per window over which a source is flagged',
    },
    count: {
      type: 'string',
      default: 'hosts',
      choices: ['hosts', 'endpoints'],
      help: 'what a destination is: an address (hosts) or an address and TCP/UDP port (endpoints: port scans too)',
    },
    bits: {
      type: 'number',
      default: 512,
      integer: true,
      min: 32,
      max: 65536,
      help: 'bitmap bits per source, a multiple of 32: more counts further and closer',
    },
    mitigate: { type: 'boolean', default: false, help: 'drop the packets of flagged sources during the next window' },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_ADDR_CAPACITY,
      help: 'sources tracked per window; packets of more are counted as untracked',
    },
    top: { type: 'number', default: 10, integer: true, min: 1, max: 1000, help: 'sources listed in a report' },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
  },

  /** Cold: allocates the source table with its bitmaps, and two flagged sets. */
  create(ctx) {
    const o = ctx.options;
    const bits = o.bits;
    if (bits % 32 !== 0) {
      throw new NfcError('NFC_ERR_NF_OPTION', `super-spreader: option --bits ${bits} is not a multiple of 32`, {
        fix: `use ${Math.ceil(bits / 32) * 32}`,
      });
    }
    // past ~2 × bits destinations a bitmap is nearly full and the estimate too coarse to compare
    const most = 2 * bits;
    if (o.threshold > most) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `super-spreader: option --threshold ${o.threshold} is more than a ${bits}-bit bitmap counts reliably (about ${most})`,
        { fix: `raise --bits to ${2 ** Math.ceil(Math.log2(o.threshold / 2))} or more, or lower --threshold` },
      );
    }
    const words = bits >>> 5;
    const bmask = bits - 1;
    const pow2 = (bits & bmask) === 0;
    const endpoints = o.count === 'endpoints';
    const windowMs = o.window * 1000;
    const mitigate = o.mitigate;
    let cur: AddrTable, flagged: AddrTable, spare: AddrTable;
    let maps: Uint32Array;
    try {
      cur = new AddrTable(o.capacity, COLS, 'super-spreader source table');
      flagged = new AddrTable(o.capacity, 0, 'super-spreader flagged sources');
      spare = new AddrTable(o.capacity, 0, 'super-spreader flagged sources');
      maps = new Uint32Array(cur.slots * words);
    } catch (err) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `super-spreader: option --capacity ${o.capacity} (× --bits ${bits}): ${(err as Error).message}`,
        {
          fix: 'use a smaller capacity or bits',
          cause: err,
        },
      );
    }
    const w6 = new Uint32Array(4);
    let windowStart = ctx.now();
    let ticks = 0;
    let findings: Spreader[] = [];
    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      nonIp: ctx.counter('nonIp'),
      untracked: ctx.counter('untracked'),
      fromFlagged: ctx.counter('fromFlagged'),
      dropped: ctx.counter('dropped'),
      flaggedEvents: ctx.counter('flaggedEvents'),
      flaggedNow: ctx.gauge('flaggedNow'),
      sources: ctx.gauge('sources'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      packets: 0,
      /** not IPv4/IPv6, or a malformed IP header (passed) */
      get nonIp(): number {
        return cells.nonIp.value;
      },
      /** packets whose source found the table full */
      get untracked(): number {
        return cells.untracked.value;
      },
      /** packets of flagged sources, and of those dropped */
      get fromFlagged(): number {
        return cells.fromFlagged.value;
      },
      get dropped(): number {
        return cells.dropped.value;
      },
      windows: 0,
      get flaggedEvents(): number {
        return cells.flaggedEvents.value;
      },
      get flaggedNow(): number {
        return cells.flaggedNow.value;
      },
    };
    const c = counters;

    /** Distinct destinations of slot s's bitmap (cold). */
    function estimate(s: number): { n: number; saturated: boolean } {
      let set = 0;
      for (let i = s * words, e = i + words; i < e; i++) set += popcount(maps[i]!);
      return { n: linearCount(bits, set), saturated: set >= bits };
    }

    function closeWindow(now: number): void {
      const secs = Math.max(now - windowStart, 1) / 1000;
      const list: Spreader[] = [];
      spare.clear();
      for (let j = 0; j < cur.count; j++) {
        const s = cur.used[j]!;
        const e = estimate(s);
        maps.fill(0, s * words, s * words + words);
        if (e.n <= o.threshold) continue;
        const was = flagged.findKey(cur, s) >= 0;
        spare.copyKey(cur, s);
        if (!was) cells.flaggedEvents.add();
        list.push({
          source: cur.address(s),
          destinations: Math.round(e.n),
          saturated: e.saturated,
          packets: cur.cols[s * COLS + PKTS]!,
          new: !was,
        });
      }
      list.sort((a, b) => b.destinations - a.destinations);
      const t = flagged;
      flagged = spare;
      spare = t;
      cells.flaggedNow.set(flagged.count);
      c.windows++;
      findings = list;
      if (list.length > 0) {
        ctx.log(
          `super-spreader: window of ${secs.toFixed(1)} s: ${list.length} source${list.length === 1 ? '' : 's'} over ${o.threshold} distinct ${endpoints ? 'endpoints' : 'hosts'}${mitigate ? ' (dropping)' : ''}`,
        );
        for (const x of list.slice(0, o.top)) {
          ctx.log(
            `  ${x.source}  ${x.saturated ? '>= ' : '~'}${x.destinations} ${endpoints ? 'endpoints' : 'hosts'}  ${x.packets} packets${x.new ? '  (new)' : ''}`,
          );
        }
      }
      cells.sources.set(cur.count);
      cur.clear();
      windowStart = now;
    }

    function line(): string {
      return (
        `super-spreader: ${c.packets} packets, ${cur.count} sources this window, ${c.flaggedNow} flagged, ` +
        `${c.fromFlagged} packets from flagged sources (${c.dropped} dropped), ${c.untracked} untracked, ${c.nonIp} non-IP`
      );
    }

    return {
      counters,
      /** the last closed window's flagged sources, most destinations first (cold) */
      findings: (): readonly Spreader[] => findings,
      /** sources flagged now (cold) */
      flagged: () => Array.from({ length: flagged.count }, (_, j) => flagged.address(flagged.used[j]!)),
      /** the current window's estimate for each source (cold) */
      sources: () =>
        Array.from({ length: cur.count }, (_, j) => ({
          source: cur.address(cur.used[j]!),
          destinations: estimate(cur.used[j]!).n,
        })),

      /** Sets the destination's bit in the source's bitmap; drops flagged sources' packets when mitigating. Hot path: no allocation. */
      handle(pkt) {
        c.packets++;
        const v = pkt.ipVersion;
        if (v < 0) {
          cells.nonIp.add();
          return NEXT;
        }
        const s = cur.srcSlot(pkt, true);
        if (s < 0) cells.untracked.add();
        else {
          cur.cols[s * COLS + PKTS]!++;
          let h: number;
          if (v === 4) h = pkt.ipv4Dst;
          else {
            pkt.ipv6Dst(w6);
            h = Math.imul(w6[0]!, 0x9e3779b1) ^ Math.imul(w6[1]!, 0x85ebca77) ^ Math.imul(w6[2]!, 0xc2b2ae3d) ^ w6[3]!;
          }
          if (endpoints) {
            const p = pkt.dstPort; // -1 without TCP/UDP: the host alone
            h = Math.imul(h ^ 0x27d4eb2f, 0x165667b1) ^ p;
          }
          h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
          h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
          h ^= h >>> 16;
          const bit = pow2 ? h & bmask : (h >>> 0) % bits;
          maps[s * words + (bit >>> 5)]! |= 1 << (bit & 31);
        }
        if (flagged.count === 0 || flagged.srcSlot(pkt, false) < 0) return NEXT;
        cells.fromFlagged.add();
        if (!mitigate) return NEXT;
        cells.dropped.add();
        return DROP;
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
