/**
 * speed-tester: measures how fast packets can go round an NF (OpenNetVM's speed_tester). It
 * creates `packets` UDP packets of `size` bytes and sends them to `destination` (by default
 * its own service); every packet it receives it sends there again, so the same packets
 * circulate for ever and the rate at which it handles them is the platform's NF-to-NF rate.
 *
 * Lifecycle:
 *   create() builds the packets with ctx.newPacket() (held: the NF is not in service yet, and
 *            a packet sent to a service with no running instance is dropped);
 *   launch   on the first tick or the first packet handled, whichever comes first, sends them
 *            all with ctx.send(d, toNF(destination));
 *   handle() counts and returns toNF(destination); with `count`, stops the NF after that many;
 *   tick()   every `interval` seconds logs the rate in Mpps and a machine-readable line
 *            `speed-tester rate_mpps=<x>` (what the benchmarks read from the NF's output).
 *
 * Each instance's state lives in what create() makes. Its declared counter and gauges (stats,
 * /metrics, the console): `handled` (copied from the local count every tick, 100 ms, and at stop:
 * the packet path stays one increment), `rateMpps` (each rate line) and `circulating`.
 */
import { defineNF, Meta, NfcError, PacketView, SynthKind, toNF, writeSynth, type NFContext } from 'nfchain';

/** Most packets an NF may hold at once (the engine's HELD_MAX): the launch holds them all. */
const MAX_PACKETS = 1024;
/** tick() runs ten times a second so the launch follows the start closely. */
const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;

const options = {
  destination: {
    type: 'number',
    default: 0,
    integer: true,
    min: 0,
    max: 31,
    help: "service to send the packets to; 0 = this NF's own service",
  },
  packets: {
    type: 'number',
    default: 128,
    integer: true,
    min: 0,
    max: MAX_PACKETS,
    help: 'packets to create and keep circulating (0: only pass on what arrives)',
  },
  size: {
    type: 'number',
    default: 64,
    integer: true,
    min: 60,
    max: 9216,
    help: "frame size in bytes (without FCS); at most the pool's data room",
  },
  interval: { type: 'number', default: 1, integer: true, min: 0, help: 'seconds between rate lines; 0 = quiet' },
  count: {
    type: 'number',
    default: 0,
    integer: true,
    min: 0,
    help: 'stop after handling this many packets; 0 = never',
  },
} as const;

type Ctx = NFContext<{
  readonly destination: number;
  readonly packets: number;
  readonly size: number;
  readonly interval: number;
  readonly count: number;
}>;

export default defineNF({
  name: 'speed-tester',
  description: 'creates packets and keeps sending them round; prints the rate in Mpps',
  options,
  tickInterval: TICK_MS,
  counters: {
    handled: 'packets handled (and sent round again)',
  },
  gauges: {
    rateMpps: 'the rate of the last rate line, in Mpps',
    circulating: 'packets this instance created and set going',
  },

  /** Cold: one instance: checks the size against the pool and creates the packets (allocates). */
  create(ctx) {
    const o = ctx.options;
    if (o.size > ctx.pool.dataRoom) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `speed-tester: option "size" is ${o.size}, larger than the pool's data room of ${ctx.pool.dataRoom} bytes`,
        {
          fix: `use a size of at most ${ctx.pool.dataRoom}, or a larger pool.dataRoom in the topology`,
        },
      );
    }
    const destination = o.destination === 0 ? ctx.service : o.destination;
    const verdict = toNF(destination);
    const limit = o.count;
    let handled = 0;
    let launched = false;
    let ticks = 0;
    let lastHandled = 0;
    let lastMs = ctx.now();
    let lastRate = 0;
    // One frame buffer, rewritten per packet: IPv4/UDP 10.0.0.1 → 10.0.0.2, source port
    // varying so the flow hash spreads the packets over the destination's instances.
    const frame = new Uint8Array(o.size);
    const dv = new DataView(frame.buffer);
    const view = new PacketView(frame.buffer);
    const descs: number[] = [];
    for (let i = 0; i < o.packets; i++) {
      const len = writeSynth(dv, frame, view, 0, o.size, {
        kind: SynthKind.IPV4_UDP,
        src: 0x0a000001,
        dst: 0x0a000002,
        srcPort: 1024 + i,
        dstPort: 9,
      });
      const d = ctx.newPacket(frame.subarray(0, len));
      if (d < 0) {
        ctx.log(`speed-tester: could create only ${i} of ${o.packets} packets (pool or hold table full)`);
        break;
      }
      ctx.pool.setMeta(d, Meta.flowHash, view.flowHash());
      descs.push(d);
    }
    /** descriptors created here, sent at launch */
    const created = Uint32Array.from(descs);
    const handledCell = ctx.counter('handled');
    const rateGauge = ctx.gauge('rateMpps');
    const circulating = ctx.gauge('circulating');
    /** The declared counter := the local count (cold: tick and stop). */
    const publish = (): void => {
      handledCell.add(handled - handledCell.value);
    };

    /** Sends the packets made by create() (cold: once). */
    const launch = (ctx: Ctx): void => {
      launched = true;
      for (let i = 0; i < created.length; i++) ctx.send(created[i]!, verdict);
      circulating.set(created.length);
      lastHandled = handled;
      lastMs = ctx.now();
    };

    return {
      /** Counts and sends the packet round again. Hot path: no allocation. */
      handle(_pkt, ctx) {
        if (!launched) launch(ctx);
        handled++;
        if (handled === limit) {
          ctx.log(`speed-tester: count of ${limit} packets reached, stopping`);
          ctx.stop();
        }
        return verdict;
      },

      /** Launches, then every `interval` seconds: the rate. Cold. */
      tick(ctx) {
        publish();
        if (!launched) {
          // Wait until the destination is in service: packets sent earlier would be dropped.
          if (ctx.instances(destination) > 0) launch(ctx);
          return;
        }
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval * TICKS_PER_SECOND) return;
        ticks = 0;
        const now = ctx.now();
        const ms = now - lastMs;
        lastRate = ms > 0 ? (handled - lastHandled) / ms / 1000 : 0;
        rateGauge.set(lastRate);
        ctx.log(
          `speed-tester: ${lastRate.toFixed(3)} Mpps (${handled - lastHandled} packets in ${(ms / 1000).toFixed(1)} s)`,
        );
        ctx.log(`speed-tester rate_mpps=${lastRate.toFixed(6)}`);
        lastHandled = handled;
        lastMs = now;
      },

      stop(ctx) {
        publish();
        if (ctx.options.interval > 0) ctx.log(`speed-tester: ${handled} packets handled in all`);
      },

      /** The rate of the last rate line, in Mpps (0 before the first). Cold. */
      get lastRateMpps(): number {
        return lastRate;
      },

      /** Packets this instance handled. Cold. */
      get handled(): number {
        return handled;
      },
    };
  },
});
