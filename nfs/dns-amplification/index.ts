/**
 * dns-amplification: watches DNS over UDP per address in time windows: responses (UDP source
 * port 53) to each destination, and requests (UDP destination port 53) from each source. A
 * response whose UDP payload is at least `large` bytes is a large response. When a window
 * closes, a destination is flagged as a victim when, over the window, it received
 *
 *   - at least `rate` large responses per second, and
 *   - at least `mbps` Mbit/s of them (0: no volume check), and
 *   - more than `ratio` large responses per request it sent itself (it did not ask for them).
 *
 * Victims are reported. With `mitigate`, during the next window large responses to a victim are
 * dropped beyond `ratio` per request the victim sends in that window (so the answers it did ask
 * for still arrive); small responses and everything else pass (NEXT).
 *
 * Windows close in tick() (every 100 ms), never per packet. Later IP fragments carry no UDP
 * header: they are counted as fragments and passed (a large response sent fragmented is counted
 * by its first fragment, whose UDP length says the whole payload).
 */
import { DROP, defineNF, NEXT, NfcError, AddrTable, MAX_ADDR_CAPACITY } from 'nfchain';

const TICK_MS = 100;
/** Per address: requests it sent, responses to it, large responses to it, their bytes, large responses passed while flagged. */
const REQ = 0,
  RESP = 1,
  LARGE = 2,
  LBYTES = 3,
  PASSED = 4,
  COLS = 5;

/** A flagged victim of a closed window (cold). */
export interface DnsVictim {
  victim: string;
  /** requests it sent */
  requests: number;
  /** responses it received, and of those the large ones, and their bytes (frames) */
  responses: number;
  large: number;
  largeBytes: number;
  /** large responses per second, Mbit/s of them */
  rate: number;
  mbps: number;
  new: boolean;
}

export default defineNF({
  name: 'dns-amplification',
  description: 'flags destinations receiving many large DNS responses they did not ask for; can drop those responses',
  tickInterval: TICK_MS,
  counters: {
    nonIp: 'packets not IPv4/IPv6, or with a malformed IP header (passed)',
    otherUdp: 'UDP neither from nor to port 53 (passed)',
    fragments: 'later fragments of UDP datagrams (no UDP header; passed)',
    malformed: 'UDP without a whole header (passed)',
    requests: 'DNS requests (UDP to port 53)',
    responses: 'DNS responses (UDP from port 53)',
    largeResponses: 'responses with at least `large` bytes of payload',
    untracked: 'DNS packets whose address found the window table full',
    toVictims: 'large responses to a flagged victim',
    dropped: 'large responses to victims dropped (mitigate)',
    victimEvents: 'times a destination became a victim (not flagged in the window before)',
  },
  gauges: {
    victimsNow: 'victims flagged now (by the last closed window)',
    addresses: 'addresses that sent DNS requests or received responses in the last closed window',
  },
  options: {
    window: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'seconds per detection window' },
    large: {
      type: 'number',
      default: 512,
      integer: true,
      min: 0,
      max: 65535,
      help: 'UDP payload bytes from which a DNS response counts as large',
    },
    rate: {
      type: 'number',
      default: 100,
      min: 0.001,
      help: 'large responses per second to one destination from which it may be flagged',
    },
    mbps: {
      type: 'number',
      default: 1,
      min: 0,
      help: 'Mbit/s of large responses to one destination from which it may be flagged; 0 = no volume check',
    },
    ratio: {
      type: 'number',
      default: 5,
      min: 1,
      help: 'large responses per request the destination sent, above which they are unsolicited',
    },
    mitigate: {
      type: 'boolean',
      default: false,
      help: 'drop large responses to a flagged victim beyond `ratio` per request it sends',
    },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_ADDR_CAPACITY,
      help: 'addresses tracked per window; DNS packets of more are counted as untracked',
    },
    top: { type: 'number', default: 10, integer: true, min: 1, max: 1000, help: 'victims listed in a report' },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between counter lines; 0 = quiet' },
  },

  /** Cold: allocates the window table and two victim sets (capacity / 0.75 slots each). */
  create(ctx) {
    const o = ctx.options;
    if (o.rate * o.window < 1) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `dns-amplification: option --rate ${o.rate} with --window ${o.window} is less than one response per window: any large response would flag its destination`,
        { fix: 'raise --rate or --window so that rate × window is at least 1' },
      );
    }
    const windowMs = o.window * 1000;
    const large = o.large;
    const ratio = o.ratio;
    const mitigate = o.mitigate;
    let cur: AddrTable, victims: AddrTable, spare: AddrTable;
    try {
      cur = new AddrTable(o.capacity, COLS, 'dns-amplification window table');
      victims = new AddrTable(o.capacity, 0, 'dns-amplification victims');
      spare = new AddrTable(o.capacity, 0, 'dns-amplification victims');
    } catch (err) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `dns-amplification: option --capacity ${o.capacity}: ${(err as Error).message}`,
        {
          fix: 'use a smaller capacity',
          cause: err,
        },
      );
    }
    let windowStart = ctx.now();
    let ticks = 0;
    let findings: DnsVictim[] = [];
    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      nonIp: ctx.counter('nonIp'),
      otherUdp: ctx.counter('otherUdp'),
      fragments: ctx.counter('fragments'),
      malformed: ctx.counter('malformed'),
      requests: ctx.counter('requests'),
      responses: ctx.counter('responses'),
      largeResponses: ctx.counter('largeResponses'),
      untracked: ctx.counter('untracked'),
      toVictims: ctx.counter('toVictims'),
      dropped: ctx.counter('dropped'),
      victimEvents: ctx.counter('victimEvents'),
      victimsNow: ctx.gauge('victimsNow'),
      addresses: ctx.gauge('addresses'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      packets: 0,
      /** not IPv4/IPv6, or a malformed IP header (passed) */
      get nonIp(): number {
        return cells.nonIp.value;
      },
      /** UDP that is neither from nor to port 53 (passed) */
      get otherUdp(): number {
        return cells.otherUdp.value;
      },
      /** later fragments of UDP datagrams (no UDP header; passed) */
      get fragments(): number {
        return cells.fragments.value;
      },
      /** UDP without a whole header (cut short; passed) */
      get malformed(): number {
        return cells.malformed.value;
      },
      get requests(): number {
        return cells.requests.value;
      },
      get responses(): number {
        return cells.responses.value;
      },
      /** responses with at least `large` bytes of payload */
      get largeResponses(): number {
        return cells.largeResponses.value;
      },
      /** DNS packets whose address found the window table full */
      get untracked(): number {
        return cells.untracked.value;
      },
      /** large responses to a flagged victim, and those dropped */
      get toVictims(): number {
        return cells.toVictims.value;
      },
      get dropped(): number {
        return cells.dropped.value;
      },
      windows: 0,
      get victimEvents(): number {
        return cells.victimEvents.value;
      },
      get victimsNow(): number {
        return cells.victimsNow.value;
      },
    };
    const c = counters;

    function closeWindow(now: number): void {
      const secs = Math.max(now - windowStart, 1) / 1000;
      const list: DnsVictim[] = [];
      spare.clear();
      const cols = cur.cols;
      for (let j = 0; j < cur.count; j++) {
        const s = cur.used[j]!;
        const b = s * COLS;
        const lg = cols[b + LARGE]!;
        if (lg === 0) continue;
        const bytes = cols[b + LBYTES]!;
        const req = cols[b + REQ]!;
        const rate = lg / secs;
        const mbps = (bytes * 8) / secs / 1e6;
        if (rate < o.rate || mbps < o.mbps || lg <= ratio * req) continue;
        const wasFlagged = victims.findKey(cur, s) >= 0;
        spare.copyKey(cur, s);
        if (!wasFlagged) cells.victimEvents.add();
        list.push({
          victim: cur.address(s),
          requests: req,
          responses: cols[b + RESP]!,
          large: lg,
          largeBytes: bytes,
          rate,
          mbps,
          new: !wasFlagged,
        });
      }
      list.sort((a, b) => b.largeBytes - a.largeBytes);
      const t = victims;
      victims = spare;
      spare = t;
      cells.victimsNow.set(victims.count);
      c.windows++;
      findings = list;
      if (list.length > 0) {
        ctx.log(
          `dns-amplification: window of ${secs.toFixed(1)} s: ${list.length} victim${list.length === 1 ? '' : 's'} of unsolicited large responses${mitigate ? ' (mitigating)' : ''}`,
        );
        for (const v of list.slice(0, o.top)) {
          ctx.log(
            `  ${v.victim}  ${v.large} large responses (${Math.round(v.rate)}/s, ${v.mbps.toFixed(2)} Mbit/s, ${v.largeBytes} bytes) for ${v.requests} requests${v.new ? '  (new)' : ''}`,
          );
        }
      }
      cells.addresses.set(cur.count);
      cur.clear();
      windowStart = now;
    }

    function line(): string {
      return (
        `dns-amplification: ${c.packets} packets, ${c.requests} DNS requests, ${c.responses} responses ` +
        `(${c.largeResponses} large), ${c.victimsNow} victims flagged, ${c.toVictims} large responses to victims, ` +
        `${c.dropped} dropped, ${c.untracked} untracked, ${c.fragments} fragments, ${c.malformed} malformed, ${c.nonIp} non-IP`
      );
    }

    return {
      counters,
      /** the last closed window's victims, most large-response bytes first (cold) */
      findings: (): readonly DnsVictim[] => findings,
      /** victims flagged now (cold) */
      flagged: () => Array.from({ length: victims.count }, (_, j) => victims.address(victims.used[j]!)),

      /** Counts DNS requests and responses per address; drops unsolicited large responses to victims. Hot path: no allocation. */
      handle(pkt) {
        c.packets++;
        if (pkt.ipVersion < 0) {
          cells.nonIp.add();
          return NEXT;
        }
        if (pkt.ipProtocol !== 17) return NEXT;
        const sp = pkt.srcPort;
        if (sp < 0) {
          if (pkt.isFragment) cells.fragments.add();
          else cells.malformed.add();
          return NEXT;
        }
        const cols = cur.cols;
        if (sp === 53) {
          cells.responses.add();
          const d = cur.dstSlot(pkt, true);
          if (d < 0) cells.untracked.add();
          else cols[d * COLS + RESP]!++;
          // a first fragment's UDP length says the whole datagram's payload
          const payload = pkt.isFragment ? pkt.udpLength - 8 : pkt.payloadLength;
          if (payload < large) return NEXT;
          cells.largeResponses.add();
          if (d >= 0) {
            cols[d * COLS + LARGE]!++;
            cols[d * COLS + LBYTES]! += pkt.length;
          }
          if (victims.count === 0 || victims.dstSlot(pkt, false) < 0) return NEXT;
          cells.toVictims.add();
          if (!mitigate) return NEXT;
          if (d >= 0 && cols[d * COLS + PASSED]! < ratio * cols[d * COLS + REQ]!) {
            cols[d * COLS + PASSED]!++;
            return NEXT;
          }
          cells.dropped.add();
          return DROP;
        }
        if (pkt.dstPort === 53) {
          cells.requests.add();
          const s = cur.srcSlot(pkt, true);
          if (s < 0) cells.untracked.add();
          else cols[s * COLS + REQ]!++;
          return NEXT;
        }
        cells.otherUdp.add();
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
