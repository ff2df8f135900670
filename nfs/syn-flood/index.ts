/**
 * syn-flood: counts TCP SYNs per destination and per source in time windows, and the
 * handshakes that complete: a SYN opens a half-open entry (its 5-tuple and the client's ISN) in
 * a flow table; the client's ACK with sequence ISN + 1 (the third packet) completes it; a RST
 * from the client or `handshake-timeout` ends it. When a window closes:
 *
 *   - a destination that received at least `syn-rate` SYNs/s, of which less than
 *     `min-complete` completed, is flagged as a victim;
 *   - a source that sent at least `src-rate` SYNs/s and completed none is flagged.
 *
 * Both are reported, and with `mitigate` the next window drops the SYNs of flagged sources and
 * the SYNs to flagged victims from sources that never completed a handshake (sources that did
 * are remembered in a table of `good` entries). Everything else passes (NEXT).
 *
 * The windows and the flow table's clock advance in tick() (every 100 ms), never per packet.
 */
import {
  createFlowTable,
  DROP,
  defineNF,
  FlowKey,
  type FlowTable,
  flowTableFor,
  NEXT,
  NfcError,
  AddrTable,
  MAX_ADDR_CAPACITY,
} from 'nfchain';

const TICK_MS = 100;
/** Destination table columns: SYNs, completed handshakes, SYN-ACKs sent by it. */
const D_SYN = 0,
  D_DONE = 1,
  D_SYNACK = 2,
  DCOLS = 3;
/** Source table columns: SYNs, completed handshakes. */
const S_SYN = 0,
  S_DONE = 1,
  SCOLS = 2;
const MAX_FLOWS = 4 * 1024 * 1024;

/** A flagged victim of a closed window (cold). */
export interface SynVictim {
  victim: string;
  syns: number;
  completed: number;
  synAcks: number;
  /** SYNs per second over the window */
  rate: number;
  new: boolean;
}

/** A flagged source of a closed window (cold). */
export interface SynSource {
  source: string;
  syns: number;
  rate: number;
  new: boolean;
}

export default defineNF({
  name: 'syn-flood',
  description:
    'flags destinations receiving SYNs that do not complete handshakes, and sources that never complete; can drop their SYNs',
  tickInterval: TICK_MS,
  counters: {
    nonIp: 'packets not IPv4/IPv6, or with a malformed IP header (passed)',
    malformed: 'TCP without a whole header: cut short, or a later fragment (passed)',
    syns: 'SYNs (without ACK)',
    synAcks: 'SYN-ACKs',
    completed: "handshakes completed (the client's ACK of ISN + 1)",
    badAcks: 'ACKs on a half-open handshake whose sequence was not ISN + 1',
    resets: 'half-open handshakes reset by the client',
    timedOut: 'half-open handshakes forgotten after handshake-timeout',
    untracked: 'SYNs whose destination or source found a window table full',
    droppedToVictims: 'SYNs to victims dropped by the mitigation',
    droppedFromSources: 'SYNs from flagged sources dropped by the mitigation',
    victimEvents: 'times a destination became a victim',
    sourceEvents: 'times a source became flagged',
  },
  gauges: {
    victimsNow: 'destinations flagged as victims now',
    sourcesNow: 'sources flagged now',
    halfOpen: 'half-open handshakes tracked now',
  },
  options: {
    window: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'seconds per detection window' },
    'syn-rate': {
      type: 'number',
      default: 1000,
      min: 1,
      help: 'SYNs per second to one destination from which it is checked for incomplete handshakes',
    },
    'min-complete': {
      type: 'number',
      default: 0.5,
      min: 0,
      max: 1,
      help: 'share of a busy destination’s SYNs that must complete; below it the destination is flagged',
    },
    'src-rate': {
      type: 'number',
      default: 100,
      min: 0,
      help: 'SYNs per second from one source that completes none that flag the source; 0 = sources are not flagged',
    },
    mitigate: {
      type: 'boolean',
      default: false,
      help: 'drop SYNs from flagged sources, and to flagged victims from sources that never completed a handshake',
    },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_ADDR_CAPACITY,
      help: 'destinations and sources tracked per window (each); more are counted as untracked',
    },
    flows: {
      type: 'number',
      default: 262144,
      integer: true,
      min: 1,
      max: MAX_FLOWS,
      help: 'half-open handshakes tracked at once; SYNs beyond it are counted, not tracked',
    },
    'handshake-timeout': {
      type: 'number',
      default: 5,
      min: 0.1,
      max: 600,
      help: 'seconds after which a handshake not completed is forgotten',
    },
    good: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_ADDR_CAPACITY,
      help: 'sources remembered as having completed a handshake (spared by the mitigation)',
    },
    top: {
      type: 'number',
      default: 10,
      integer: true,
      min: 1,
      max: 1000,
      help: 'victims and sources listed in a report',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
  },

  /** Cold: allocates the window tables, the flagged sets, the good-source table and the half-open flow table. */
  create(ctx) {
    const o = ctx.options;
    const minComplete = o['min-complete'];
    if (minComplete === 0) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        'syn-flood: option --min-complete is 0: no destination could ever be flagged',
        {
          fix: 'give the share of SYNs that must complete, e.g. --min-complete 0.5',
        },
      );
    }
    const synRate = o['syn-rate'];
    const srcRate = o['src-rate'];
    const windowMs = o.window * 1000;
    const mitigate = o.mitigate;
    let dsts: AddrTable, srcs: AddrTable, victims: AddrTable, spareV: AddrTable, sources: AddrTable, spareS: AddrTable;
    let good: AddrTable;
    let half: FlowTable;
    try {
      dsts = new AddrTable(o.capacity, DCOLS, 'syn-flood destination table');
      srcs = new AddrTable(o.capacity, SCOLS, 'syn-flood source table');
      victims = new AddrTable(o.capacity, 0, 'syn-flood victims');
      spareV = new AddrTable(o.capacity, 0, 'syn-flood victims');
      sources = new AddrTable(o.capacity, 0, 'syn-flood sources');
      spareS = new AddrTable(o.capacity, 0, 'syn-flood sources');
      good = new AddrTable(o.good, 0, 'syn-flood good sources');
    } catch (err) {
      throw new NfcError('NFC_ERR_NF_OPTION', `syn-flood: option --capacity / --good: ${(err as Error).message}`, {
        fix: 'use a smaller capacity or good',
        cause: err,
      });
    }
    try {
      half = createFlowTable(
        flowTableFor(o.flows, { symmetric: false, idleTimeoutMs: o['handshake-timeout'] * 1000, valueWords: 1 }),
        'syn-flood half-open table',
      );
    } catch (err) {
      throw new NfcError('NFC_ERR_NF_OPTION', `syn-flood: option --flows ${o.flows}: ${(err as Error).message}`, {
        fix: 'use a smaller flows',
        cause: err,
      });
    }
    const key = new FlowKey();
    /** slots of the half-open table each tick's expiry scans: all of it once a second */
    const sweep = Math.ceil(half.capacity / (1000 / TICK_MS));
    let clock = ctx.now();
    let windowStart = clock;
    let ticks = 0;
    let victimList: SynVictim[] = [];
    let sourceList: SynSource[] = [];

    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      nonIp: ctx.counter('nonIp'),
      malformed: ctx.counter('malformed'),
      syns: ctx.counter('syns'),
      synAcks: ctx.counter('synAcks'),
      completed: ctx.counter('completed'),
      badAcks: ctx.counter('badAcks'),
      resets: ctx.counter('resets'),
      timedOut: ctx.counter('timedOut'),
      untracked: ctx.counter('untracked'),
      droppedToVictims: ctx.counter('droppedToVictims'),
      droppedFromSources: ctx.counter('droppedFromSources'),
      victimEvents: ctx.counter('victimEvents'),
      sourceEvents: ctx.counter('sourceEvents'),
      victimsNow: ctx.gauge('victimsNow'),
      sourcesNow: ctx.gauge('sourcesNow'),
      halfOpen: ctx.gauge('halfOpen'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      packets: 0,
      /** not IPv4/IPv6, or a malformed IP header (passed) */
      get nonIp(): number {
        return cells.nonIp.value;
      },
      tcp: 0,
      /** TCP without a whole header: cut short, or a later fragment (passed, not counted further) */
      get malformed(): number {
        return cells.malformed.value;
      },
      /** SYN without ACK */
      get syns(): number {
        return cells.syns.value;
      },
      get synAcks(): number {
        return cells.synAcks.value;
      },
      /** handshakes completed (the client's ACK of ISN + 1) */
      get completed(): number {
        return cells.completed.value;
      },
      /** ACKs on a half-open handshake whose sequence was not ISN + 1 (not counted as completion) */
      get badAcks(): number {
        return cells.badAcks.value;
      },
      /** half-open handshakes reset by the client */
      get resets(): number {
        return cells.resets.value;
      },
      /** half-open handshakes forgotten after handshake-timeout */
      get timedOut(): number {
        return cells.timedOut.value;
      },
      /** SYNs whose destination or source found a window table full */
      get untracked(): number {
        return cells.untracked.value;
      },
      /** SYNs dropped by the mitigation: to victims, from flagged sources */
      get droppedToVictims(): number {
        return cells.droppedToVictims.value;
      },
      get droppedFromSources(): number {
        return cells.droppedFromSources.value;
      },
      windows: 0,
      get victimEvents(): number {
        return cells.victimEvents.value;
      },
      get sourceEvents(): number {
        return cells.sourceEvents.value;
      },
      get victimsNow(): number {
        return cells.victimsNow.value;
      },
      get sourcesNow(): number {
        return cells.sourcesNow.value;
      },
    };
    const c = counters;

    function closeWindow(now: number): void {
      const secs = Math.max(now - windowStart, 1) / 1000;
      const vl: SynVictim[] = [];
      spareV.clear();
      for (let j = 0; j < dsts.count; j++) {
        const s = dsts.used[j]!;
        const b = s * DCOLS;
        const syns = dsts.cols[b + D_SYN]!;
        const done = dsts.cols[b + D_DONE]!;
        if (syns / secs < synRate || done >= minComplete * syns) continue;
        const wasFlagged = victims.findKey(dsts, s) >= 0;
        spareV.copyKey(dsts, s);
        if (!wasFlagged) cells.victimEvents.add();
        vl.push({
          victim: dsts.address(s),
          syns,
          completed: done,
          synAcks: dsts.cols[b + D_SYNACK]!,
          rate: syns / secs,
          new: !wasFlagged,
        });
      }
      const sl: SynSource[] = [];
      spareS.clear();
      if (srcRate > 0) {
        for (let j = 0; j < srcs.count; j++) {
          const s = srcs.used[j]!;
          const syns = srcs.cols[s * SCOLS + S_SYN]!;
          if (syns / secs < srcRate || srcs.cols[s * SCOLS + S_DONE]! > 0) continue;
          const wasFlagged = sources.findKey(srcs, s) >= 0;
          spareS.copyKey(srcs, s);
          if (!wasFlagged) cells.sourceEvents.add();
          sl.push({ source: srcs.address(s), syns, rate: syns / secs, new: !wasFlagged });
        }
      }
      vl.sort((a, b) => b.syns - a.syns);
      sl.sort((a, b) => b.syns - a.syns);
      let t = victims;
      victims = spareV;
      spareV = t;
      t = sources;
      sources = spareS;
      spareS = t;
      cells.victimsNow.set(victims.count);
      cells.sourcesNow.set(sources.count);
      c.windows++;
      victimList = vl;
      sourceList = sl;
      if (vl.length > 0 || sl.length > 0) {
        ctx.log(
          `syn-flood: window of ${secs.toFixed(1)} s: ${vl.length} victim${vl.length === 1 ? '' : 's'}, ` +
            `${sl.length} source${sl.length === 1 ? '' : 's'} flagged${mitigate ? ' (mitigating)' : ''}`,
        );
        for (const v of vl.slice(0, o.top)) {
          ctx.log(
            `  victim ${v.victim}  ${v.syns} SYNs (${Math.round(v.rate)}/s)  ${v.completed} completed  ${v.synAcks} SYN-ACKs${v.new ? '  (new)' : ''}`,
          );
        }
        for (const v of sl.slice(0, o.top)) {
          ctx.log(
            `  source ${v.source}  ${v.syns} SYNs (${Math.round(v.rate)}/s)  0 completed${v.new ? '  (new)' : ''}`,
          );
        }
      }
      dsts.clear();
      srcs.clear();
      windowStart = now;
    }

    function line(): string {
      return (
        `syn-flood: ${c.packets} packets, ${c.syns} SYNs, ${c.synAcks} SYN-ACKs, ${c.completed} handshakes completed, ` +
        `${half.count} half-open, ${c.timedOut} timed out, ${c.victimsNow} victims and ${c.sourcesNow} sources flagged, ` +
        `${c.droppedToVictims + c.droppedFromSources} SYNs dropped, ${c.untracked} untracked, ${half.fullCount} not tracked (flows full), ${c.nonIp} non-IP`
      );
    }

    return {
      counters,
      /** the half-open handshake table (cold: for tests) */
      half,
      /** the last closed window's victims and sources (cold) */
      findings: () => ({ victims: victimList as readonly SynVictim[], sources: sourceList as readonly SynSource[] }),
      /** addresses flagged now (cold) */
      flagged: () => ({
        victims: Array.from({ length: victims.count }, (_, j) => victims.address(victims.used[j]!)),
        sources: Array.from({ length: sources.count }, (_, j) => sources.address(sources.used[j]!)),
      }),
      /** sources known to complete handshakes (cold) */
      goodSources: () => Array.from({ length: good.count }, (_, j) => good.address(good.used[j]!)),
      /** stats of the good-source table: entries, adds refused (full) */
      goodFull: () => good.full,

      /** Counts SYNs and completions; drops SYNs when mitigating. Hot path: no allocation. */
      handle(pkt) {
        c.packets++;
        if (pkt.ipVersion < 0) {
          cells.nonIp.add();
          return NEXT;
        }
        if (pkt.ipProtocol !== 6) return NEXT;
        c.tcp++;
        const flags = pkt.tcpFlags;
        if (flags < 0) {
          cells.malformed.add();
          return NEXT;
        }
        if ((flags & 0x02) !== 0) {
          // SYN
          if ((flags & 0x10) !== 0) {
            // SYN-ACK: the server's answer, counted for the server
            cells.synAcks.add();
            const s = dsts.srcSlot(pkt, true);
            if (s >= 0) dsts.cols[s * DCOLS + D_SYNACK]!++;
            return NEXT;
          }
          cells.syns.add();
          const d = dsts.dstSlot(pkt, true);
          if (d >= 0) dsts.cols[d * DCOLS + D_SYN]!++;
          const s = srcs.srcSlot(pkt, true);
          if (s >= 0) srcs.cols[s * SCOLS + S_SYN]!++;
          if (d < 0 || s < 0) cells.untracked.add();
          if (mitigate) {
            if (sources.count > 0 && sources.srcSlot(pkt, false) >= 0) {
              cells.droppedFromSources.add();
              return DROP;
            }
            if (victims.count > 0 && victims.dstSlot(pkt, false) >= 0 && good.srcSlot(pkt, false) < 0) {
              cells.droppedToVictims.add();
              return DROP;
            }
          }
          pkt.flowKey(key);
          const i = half.lookupOrAdd(key, clock);
          if (i >= 0) half.setValue(i, 0, pkt.tcpSeq);
          return NEXT;
        }
        if (half.count === 0 || (flags & 0x14) === 0) return NEXT; // neither ACK nor RST
        pkt.flowKey(key);
        const i = half.lookup(key);
        if (i < 0) return NEXT;
        if ((flags & 0x04) !== 0) {
          half.remove(i);
          cells.resets.add();
          return NEXT;
        }
        if (pkt.tcpSeq !== (half.value(i, 0) + 1) >>> 0) {
          cells.badAcks.add();
          return NEXT;
        }
        half.remove(i);
        cells.completed.add();
        const d = dsts.dstSlot(pkt, true);
        if (d >= 0) dsts.cols[d * DCOLS + D_DONE]!++;
        const s = srcs.srcSlot(pkt, true);
        if (s >= 0) srcs.cols[s * SCOLS + S_DONE]!++;
        good.srcSlot(pkt, true);
        return NEXT;
      },

      /** Every 100 ms: the clock, a slice of half-open expiry, the window's end; every `interval` s a counter line. Cold. */
      tick(ctx) {
        clock = ctx.now();
        cells.timedOut.add(half.expire(clock, undefined, sweep));
        cells.halfOpen.set(half.count);
        if (clock - windowStart >= windowMs) closeWindow(clock);
        if (o.interval === 0 || ++ticks < (o.interval * 1000) / TICK_MS) return;
        ticks = 0;
        ctx.log(line());
      },

      stop(ctx) {
        cells.halfOpen.set(half.count);
        if (o.interval > 0) ctx.log(line());
      },
    };
  },
});
