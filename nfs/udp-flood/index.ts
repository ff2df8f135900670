/**
 * udp-flood: counts UDP packets and bytes per destination address in time windows; a
 * destination whose UDP packet rate (pps) or bit rate (mbps) over a window reaches its
 * threshold is flagged as a victim for the next window, and reported. With `mitigate: drop`
 * UDP to a flagged victim is dropped; with `mitigate: limit` at most `limit` UDP packets per
 * second per victim pass (a budget per window). Everything else passes (NEXT).
 *
 * Windows are closed in tick() (every 100 ms it reads ctx.now()), never per packet. A victim
 * stays flagged while each window closes over the threshold; packets dropped by the mitigation
 * still count toward the window, so an attack that goes on stays flagged.
 *
 * Memory: `capacity` destinations per window (a table of 2 f64 counters each) and the same for
 * the flagged set; destinations beyond it in a window are counted as untracked.
 */
import { DROP, defineNF, NEXT, NfcError, AddrTable, MAX_ADDR_CAPACITY } from 'nfchain';

/** tick() period: the resolution of window ends. */
const TICK_MS = 100;
/** Columns of the window table: packets, bytes. */
const COLS = 2;
/** Columns of the flagged table: packets passed in this window (limit mode). */
const FCOLS = 1;

/** One flagged victim of a closed window (cold). */
export interface UdpFloodFinding {
  victim: string;
  packets: number;
  bytes: number;
  pps: number;
  mbps: number;
  /** flagged in this window and not in the one before */
  new: boolean;
}

export default defineNF({
  name: 'udp-flood',
  description:
    'flags destinations receiving UDP above a packet or bit rate per window; can drop or rate-limit UDP to them',
  tickInterval: TICK_MS,
  counters: {
    nonIp: 'packets not IPv4/IPv6, or with a malformed IP header (passed)',
    udp: 'UDP packets (fragments included)',
    udpBytes: 'UDP bytes (frame length)',
    untracked: 'UDP packets whose destination found the window table full',
    toVictims: 'UDP packets to a flagged victim',
    dropped: 'UDP packets to victims dropped by the mitigation',
    flaggedEvents: 'times a destination became flagged (not flagged in the window before)',
    flaggedFull: 'victims not flagged for want of room in the flagged table',
  },
  gauges: {
    flaggedNow: 'victims flagged now (by the last closed window)',
    destinations: 'destinations that received UDP in the last closed window',
  },
  options: {
    window: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'seconds per detection window' },
    pps: {
      type: 'number',
      default: 100000,
      min: 0,
      help: 'UDP packets per second to one destination that flag it; 0 = no packet-rate check',
    },
    mbps: {
      type: 'number',
      default: 1000,
      min: 0,
      help: 'UDP Mbit/s (frame bytes) to one destination that flag it; 0 = no bit-rate check',
    },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_ADDR_CAPACITY,
      help: 'destinations tracked per window; UDP to more is counted as untracked',
    },
    mitigate: {
      type: 'string',
      default: 'none',
      choices: ['none', 'drop', 'limit'],
      help: 'what to do with UDP to a flagged victim: none (report only), drop, limit (to `limit` pps)',
    },
    limit: {
      type: 'number',
      default: 1000,
      min: 0,
      help: 'with mitigate: limit, UDP packets per second let through to each flagged victim',
    },
    top: { type: 'number', default: 10, integer: true, min: 1, max: 1000, help: 'victims listed in a report' },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
  },

  /** Cold: allocates the window table and two flagged tables (capacity / 0.75 slots, ~40 bytes each). */
  create(ctx) {
    const o = ctx.options;
    if (o.pps === 0 && o.mbps === 0) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        'udp-flood: option --pps and option --mbps are both 0: nothing could be flagged',
        {
          fix: 'give a packet rate (--pps) or a bit rate (--mbps) threshold above 0',
        },
      );
    }
    const windowMs = o.window * 1000;
    const mode = o.mitigate === 'drop' ? 1 : o.mitigate === 'limit' ? 2 : 0;
    let cur: AddrTable;
    let flagged: AddrTable;
    let spare: AddrTable;
    try {
      cur = new AddrTable(o.capacity, COLS, 'udp-flood window table');
      flagged = new AddrTable(o.capacity, FCOLS, 'udp-flood flagged table');
      spare = new AddrTable(o.capacity, FCOLS, 'udp-flood flagged table');
    } catch (err) {
      throw new NfcError('NFC_ERR_NF_OPTION', `udp-flood: option --capacity ${o.capacity}: ${(err as Error).message}`, {
        fix: 'use a smaller capacity',
        cause: err,
      });
    }
    /** packets each flagged victim may receive per window in limit mode */
    const budget = Math.floor(o.limit * o.window);
    let windowStart = ctx.now();
    let ticks = 0;
    /** the findings of the last closed window, most packets first */
    let findings: UdpFloodFinding[] = [];

    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      nonIp: ctx.counter('nonIp'),
      udp: ctx.counter('udp'),
      udpBytes: ctx.counter('udpBytes'),
      untracked: ctx.counter('untracked'),
      toVictims: ctx.counter('toVictims'),
      dropped: ctx.counter('dropped'),
      flaggedEvents: ctx.counter('flaggedEvents'),
      flaggedFull: ctx.counter('flaggedFull'),
      flaggedNow: ctx.gauge('flaggedNow'),
      destinations: ctx.gauge('destinations'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      /** every packet handled */
      packets: 0,
      /** not IPv4/IPv6, or an IP header the packet view finds malformed (passed) */
      get nonIp(): number {
        return cells.nonIp.value;
      },
      /** UDP packets (fragments included) */
      get udp(): number {
        return cells.udp.value;
      },
      /** UDP bytes (frame length) */
      get udpBytes(): number {
        return cells.udpBytes.value;
      },
      /** UDP packets whose destination found the window table full (counted nowhere else) */
      get untracked(): number {
        return cells.untracked.value;
      },
      /** UDP packets to a flagged victim */
      get toVictims(): number {
        return cells.toVictims.value;
      },
      /** of those, dropped by the mitigation */
      get dropped(): number {
        return cells.dropped.value;
      },
      /** windows closed */
      windows: 0,
      /** times a destination became flagged (not flagged in the window before) */
      get flaggedEvents(): number {
        return cells.flaggedEvents.value;
      },
      /** victims flagged now */
      get flaggedNow(): number {
        return cells.flaggedNow.value;
      },
      /** victims flagged in the last window but not found to fit in the flagged table (full) */
      get flaggedFull(): number {
        return cells.flaggedFull.value;
      },
    };
    const c = counters;

    /** Closes the window at `now` (cold): the findings, the next flagged set, the report. */
    function closeWindow(now: number): void {
      const secs = Math.max(now - windowStart, 1) / 1000;
      const list: UdpFloodFinding[] = [];
      spare.clear();
      const cols = cur.cols;
      for (let j = 0; j < cur.count; j++) {
        const s = cur.used[j]!;
        const packets = cols[s * COLS]!;
        const bytes = cols[s * COLS + 1]!;
        const pps = packets / secs;
        const mbps = (bytes * 8) / secs / 1e6;
        if (!((o.pps > 0 && pps >= o.pps) || (o.mbps > 0 && mbps >= o.mbps))) continue;
        const wasFlagged = flagged.findKey(cur, s) >= 0;
        if (spare.copyKey(cur, s) < 0) cells.flaggedFull.add();
        if (!wasFlagged) cells.flaggedEvents.add();
        list.push({ victim: cur.address(s), packets, bytes, pps, mbps, new: !wasFlagged });
      }
      list.sort((a, b) => b.packets - a.packets);
      const t = flagged;
      flagged = spare;
      spare = t;
      cells.flaggedNow.set(flagged.count);
      c.windows++;
      findings = list;
      if (list.length > 0) {
        ctx.log(
          `udp-flood: window of ${secs.toFixed(1)} s: ${list.length} victim${list.length === 1 ? '' : 's'} ` +
            `(pps >= ${o.pps || '-'}, Mbit/s >= ${o.mbps || '-'}), mitigation ${o.mitigate}`,
        );
        for (const f of list.slice(0, o.top)) {
          ctx.log(
            `  ${f.victim}  ${f.packets} packets  ${f.bytes} bytes  ${Math.round(f.pps)} pps  ${f.mbps.toFixed(1)} Mbit/s${f.new ? '  (new)' : ''}`,
          );
        }
      }
      cells.destinations.set(cur.count);
      cur.clear();
      windowStart = now;
    }

    function line(): string {
      return (
        `udp-flood: ${c.packets} packets, ${c.udp} UDP (${c.udpBytes} bytes), ${c.flaggedNow} victims flagged, ` +
        `${c.toVictims} to victims, ${c.dropped} dropped, ${c.untracked} untracked (table full), ${c.nonIp} non-IP`
      );
    }

    return {
      counters,
      /** the last closed window's flagged victims, most packets first (cold) */
      findings: (): readonly UdpFloodFinding[] => findings,
      /** the victims flagged now, as text (cold) */
      flagged: (): string[] => Array.from({ length: flagged.count }, (_, j) => flagged.address(flagged.used[j]!)),

      /** Counts UDP per destination; drops or limits UDP to flagged victims. Hot path: no allocation. */
      handle(pkt) {
        c.packets++;
        const v = pkt.ipVersion;
        if (v < 0) {
          cells.nonIp.add();
          return NEXT;
        }
        if (pkt.ipProtocol !== 17) return NEXT;
        cells.udp.add();
        const len = pkt.length;
        cells.udpBytes.add(len);
        const s = cur.dstSlot(pkt, true);
        if (s >= 0) {
          const cols = cur.cols;
          cols[s * COLS]!++;
          cols[s * COLS + 1]! += len;
        } else cells.untracked.add();
        if (flagged.count === 0) return NEXT;
        const f = flagged.dstSlot(pkt, false);
        if (f < 0) return NEXT;
        cells.toVictims.add();
        if (mode === 0) return NEXT;
        if (mode === 2) {
          const fc = flagged.cols;
          if (fc[f * FCOLS]! < budget) {
            fc[f * FCOLS]!++;
            return NEXT;
          }
        }
        cells.dropped.add();
        return DROP;
      },

      /** Every 100 ms: closes the window when it is over; every `interval` s a counter line. Cold. */
      tick(ctx) {
        const now = ctx.now();
        if (now - windowStart >= windowMs) {
          closeWindow(now);
        }
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
