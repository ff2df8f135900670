/**
 * load-generator: makes UDP packets at a set rate from tick() and measures their latency when
 * they come back to it (OpenNetVM's load_generator).
 *
 *   tick() (every 1 ms)   creates the packets due at `rate` since the first tick
 *                         (ctx.newPacket from a template made in create()), each with its
 *                         flow's source port, a signature, a sequence number and a timestamp
 *                         (ctx.now(), ms, f64) in the payload, the UDP checksum computed, and
 *                         sends it to `port` (out), `service` (toNF), or the chain (NEXT).
 *   handle()              a packet with its signature (UDP payload: magic "NF" + this instance's
 *                         id, 16 bits) is one of its own back: latency = now - timestamp into a
 *                         log-linear histogram (histogram.ts), then DROP. Anything else: NEXT.
 *
 * Payload (after the UDP header): u32 magic 0x4e46_<instance>, u32 sequence, f64 timestamp (ms).
 * Latency resolution: ctx.now() is read once per burst in handle(), so a latency includes the
 * handling of up to a burst (32 packets) before it; the histogram is in whole µs.
 */
import {
  defineNF,
  DROP,
  formatIpv4,
  IpProto,
  l4ChecksumIpv4,
  NEXT,
  NfcError,
  out,
  parseIpv4,
  parseMac,
  ipv4HeaderChecksum,
  toNF,
} from 'nfchain';
import { LatencyHistogram } from './histogram.js';

export { LatencyHistogram, bucketOf, bucketLow, bucketHigh, BUCKETS } from './histogram.js';

const TICK_MS = 1;
const TICKS_PER_SECOND = 1000 / TICK_MS;
/** headers before the payload: Ethernet 14, IPv4 20, UDP 8 */
const PAYLOAD_AT = 42;
const SIGNATURE_BYTES = 16;
/** the smallest frame (Ethernet's 60 without FCS) holds the signature: 42 + 16 = 58 */
const MIN_SIZE = 60;
/** most packets created per tick (the rest is skipped and counted late) */
const MAX_PER_TICK = 512;
const MAGIC_HIGH = 0x4e46;
const UDP = IpProto.UDP;

/** The magic of an instance's packets. */
export function magicOf(instance: number): number {
  return ((MAGIC_HIGH << 16) | (instance & 0xffff)) >>> 0;
}

const optionError = (option: string, what: string, fix: string): NfcError =>
  new NfcError('NFC_ERR_NF_OPTION', `load-generator: option "${option}": ${what}`, { fix });

export default defineNF({
  name: 'load-generator',
  description: 'makes UDP packets at a set rate and measures their latency when they come back',
  tickInterval: TICK_MS,
  counters: {
    sent: 'packets made and sent',
    received: 'own packets back (latency measured, then dropped)',
    reordered: 'own packets that came back after a later one',
    badTimestamp: 'own packets with a timestamp in the future (not measured): dropped',
    foreign: "packets with another generator's signature (passed on)",
    late: 'packets due but skipped: more than 512 in one tick, or no buffer',
    noBuffer: 'packets not made for want of a buffer',
  },
  gauges: {
    latencyP50Us: 'median latency of the packets back so far (µs), updated every second',
    latencyP99Us: '99th percentile latency of the packets back so far (µs), updated every second',
    latencyMaxUs: 'largest latency of the packets back so far (µs), updated every second',
  },
  options: {
    rate: { type: 'number', default: 1000, min: 0, max: 10_000_000, help: 'packets per second; 0 = only measure' },
    size: {
      type: 'number',
      default: 64,
      integer: true,
      min: MIN_SIZE,
      max: 9000,
      help: 'frame bytes (no FCS), 60..data room',
    },
    flows: {
      type: 'number',
      default: 1,
      integer: true,
      min: 1,
      max: 65536,
      help: 'flows: source ports sport, sport+1, ...',
    },
    port: { type: 'string', default: '', help: 'send out of this port (name or id); also its MAC as source' },
    service: {
      type: 'number',
      default: 0,
      integer: true,
      min: 0,
      max: 31,
      help: 'send to this service; 0 (and no port) = NEXT',
    },
    'src-ip': { type: 'string', default: '10.0.0.1', help: 'source IPv4 address' },
    'dst-ip': { type: 'string', default: '10.0.0.2', help: 'destination IPv4 address' },
    'dst-mac': { type: 'string', default: '02:00:00:00:00:02', help: 'destination MAC' },
    sport: { type: 'number', default: 10000, integer: true, min: 0, max: 65535, help: 'first UDP source port' },
    dport: { type: 'number', default: 9, integer: true, min: 0, max: 65535, help: 'UDP destination port' },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: checks the options, builds the template; allocates it, the histogram and the counters. */
  create(ctx) {
    const o = ctx.options;
    if (o.port !== '' && o.service !== 0)
      throw optionError(
        'port',
        `given with "service" ${o.service}: a packet goes one way`,
        'give port or service, not both',
      );
    let verdict: number = NEXT;
    let srcMac = 0x020000000001;
    if (o.port !== '') {
      let p: ReturnType<typeof ctx.port>;
      try {
        p = ctx.port(/^\d+$/.test(o.port) ? Number(o.port) : o.port);
      } catch (e) {
        throw optionError(
          'port',
          (e as Error).message.split('\n')[0]!.replace(/^NF load-generator: /, ''),
          (e as NfcError).fix ?? '',
        );
      }
      if (p.id > 7)
        throw optionError(
          'port',
          `port ${p.name} has id ${p.id}; out() names ports 0..7`,
          'use one of the first 8 ports',
        );
      verdict = out(p.id);
      srcMac = parseMac(p.mac);
    } else if (o.service !== 0) verdict = toNF(o.service);
    const ip = (name: 'src-ip' | 'dst-ip'): number => {
      try {
        return parseIpv4(o[name]);
      } catch {
        throw optionError(name, `"${o[name]}" is not an IPv4 address`, 'write a.b.c.d');
      }
    };
    const src = ip('src-ip');
    const dst = ip('dst-ip');
    let dstMac: number;
    try {
      dstMac = parseMac(o['dst-mac']);
    } catch {
      throw optionError('dst-mac', `"${o['dst-mac']}" is not a MAC address`, 'write aa:bb:cc:dd:ee:ff');
    }
    const size = o.size;
    if (size > ctx.pool.dataRoom)
      throw optionError(
        'size',
        `${size} bytes do not fit a buffer of ${ctx.pool.dataRoom}`,
        `give at most ${ctx.pool.dataRoom}`,
      );
    if (o.sport + o.flows - 1 > 65535)
      throw optionError(
        'flows',
        `${o.flows} flows from source port ${o.sport} pass 65535`,
        `give at most ${65536 - o.sport} flows, or a lower sport`,
      );

    // The template: Ethernet, IPv4 (checksum done), UDP (checksum per packet), zeroed payload.
    const tpl = new Uint8Array(size);
    const tv = new DataView(tpl.buffer);
    tv.setUint16(0, Math.floor(dstMac / 2 ** 32));
    tv.setUint32(2, dstMac % 2 ** 32);
    tv.setUint16(6, Math.floor(srcMac / 2 ** 32));
    tv.setUint32(8, srcMac % 2 ** 32);
    tv.setUint16(12, 0x0800);
    tv.setUint8(14, 0x45);
    tv.setUint16(16, size - 14);
    tv.setUint8(22, 64);
    tv.setUint8(23, UDP);
    tv.setUint32(26, src);
    tv.setUint32(30, dst);
    tv.setUint16(24, ipv4HeaderChecksum(tv, 14));
    tv.setUint16(36, o.dport);
    tv.setUint16(38, size - 34);
    tv.setUint32(PAYLOAD_AT, magicOf(ctx.instance));

    const magic = magicOf(ctx.instance) | 0;
    const pool = ctx.pool;
    const dv = new DataView(pool.buffer);
    const hist = new LatencyHistogram();
    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      sent: ctx.counter('sent'),
      received: ctx.counter('received'),
      reordered: ctx.counter('reordered'),
      badTimestamp: ctx.counter('badTimestamp'),
      foreign: ctx.counter('foreign'),
      late: ctx.counter('late'),
      noBuffer: ctx.counter('noBuffer'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      get sent(): number {
        return cells.sent.value;
      },
      get received(): number {
        return cells.received.value;
      },
      /** own packets that came back before a later one */
      get reordered(): number {
        return cells.reordered.value;
      },
      /** own packets with a timestamp in the future (or not a number): dropped, not measured */
      get badTimestamp(): number {
        return cells.badTimestamp.value;
      },
      /** packets with another generator's signature (NEXT) */
      get foreign(): number {
        return cells.foreign.value;
      },
      /** packets due that were skipped: more than 512 in one tick, or no buffer */
      get late(): number {
        return cells.late.value;
      },
      get noBuffer(): number {
        return cells.noBuffer.value;
      },
    };
    let start = -1;
    let due = 0;
    let seq = 0;
    let maxSeq = -1;
    let clock = 0;
    let seenHandled = -1;
    let ticks = 0;
    const reportTicks = o.interval * TICKS_PER_SECOND;
    let lastSent = 0;
    let lastReceived = 0;
    const flows = o.flows;
    const sport0 = o.sport;
    const l4Len = size - 34;

    const p50 = ctx.gauge('latencyP50Us');
    const p99 = ctx.gauge('latencyP99Us');
    const pMax = ctx.gauge('latencyMaxUs');
    let latencyTicks = 0;
    /** The latency gauges := the histogram's percentiles (cold: once a second and at stop). */
    const latencyGauges = (): void => {
      if (hist.count === 0) return;
      p50.set(hist.percentile(50));
      p99.set(hist.percentile(99));
      pMax.set(hist.max);
    };
    const summary = (): string =>
      `latency p50 ${hist.percentile(50)} µs, p99 ${hist.percentile(99)} µs, max ${hist.max} µs (${hist.count} measured)`;
    if (o.interval > 0)
      ctx.log(
        `load-generator: ${o.rate} pps of ${size} bytes, ${flows} flow${flows === 1 ? '' : 's'}, ${formatIpv4(src)} → ${formatIpv4(dst)}:${o.dport}`,
      );

    return {
      counters,
      histogram: hist,

      /** Own packets back: measured and dropped; the rest: NEXT. Hot path: no allocation. */
      handle(pkt, ctx) {
        if (pkt.ipProtocol !== UDP || pkt.payloadLength < SIGNATURE_BYTES) return NEXT;
        const at = pkt.byteOffset + pkt.payloadOffset;
        const m = pkt.data.getInt32(at);
        if (m !== magic) {
          if (m >>> 16 === MAGIC_HIGH) cells.foreign.add();
          return NEXT;
        }
        if (ctx.handled !== seenHandled) {
          seenHandled = ctx.handled;
          clock = ctx.now();
        }
        const s = pkt.data.getUint32(at + 4);
        const lat = clock - pkt.data.getFloat64(at + 8);
        if (!(lat >= 0)) {
          cells.badTimestamp.add();
          return DROP;
        }
        if (s < maxSeq) cells.reordered.add();
        else maxSeq = s;
        cells.received.add();
        hist.record(lat * 1000);
        return DROP;
      },

      /** Every 1 ms: the packets due; reports. Hot path for the packets it makes: no allocation. */
      tick(ctx) {
        const now = ctx.now();
        if (start < 0) start = now - TICK_MS;
        const target = Math.floor(((now - start) * o.rate) / 1000);
        let n = target - due;
        if (n > MAX_PER_TICK) {
          cells.late.add(n - MAX_PER_TICK);
          n = MAX_PER_TICK;
        }
        due = target;
        for (let i = 0; i < n; i++) {
          const d = ctx.newPacket(tpl);
          if (d < 0) {
            cells.noBuffer.add(n - i);
            cells.late.add(n - i);
            break;
          }
          const base = pool.dataOffset(d);
          const f = seq % flows;
          dv.setUint16(base + 34, sport0 + f);
          dv.setUint32(base + PAYLOAD_AT + 4, seq);
          dv.setFloat64(base + PAYLOAD_AT + 8, now);
          dv.setUint16(base + 40, 0);
          dv.setUint16(base + 40, l4ChecksumIpv4(dv, base + 14, base + 34, l4Len, UDP));
          seq = (seq + 1) >>> 0;
          ctx.send(d, verdict);
          cells.sent.add();
        }
        if (++latencyTicks >= TICKS_PER_SECOND) {
          latencyTicks = 0;
          latencyGauges();
        }
        if (reportTicks > 0 && ++ticks >= reportTicks) {
          ticks = 0;
          const ds = counters.sent - lastSent;
          const dr = counters.received - lastReceived;
          lastSent = counters.sent;
          lastReceived = counters.received;
          ctx.log(
            `load-generator: last ${o.interval} s: ${ds} sent (${Math.round(ds / o.interval)} pps), ${dr} back; in all ${counters.sent} sent, ${counters.received} back, ${counters.reordered} reordered, ${counters.late} late; ${summary()}`,
          );
        }
      },

      stop(ctx) {
        latencyGauges();
        if (ctx.options.interval > 0)
          ctx.log(
            `load-generator: in all ${counters.sent} sent, ${counters.received} back (${counters.sent - counters.received} not back), ${counters.reordered} reordered, ${counters.badTimestamp} bad timestamps; ${summary()}`,
          );
      },
    };
  },
});
