/**
 * scaling-example: forwards every packet (NEXT) and scales its own service — after OpenNetVM's
 * scaling_example, which spawns copies of itself. Two modes:
 *
 *   instances: N   (N > 0) the first instance asks the manager, once, for N instances of the
 *                  service; the manager starts processes like this one (same module, options)
 *   instances: 0   autoscaling: every tick each instance looks at its own packet rate; above
 *                  `up-pps` it asks for one instance more, below `down-pps` for one less
 *                  (within min..max), at most once per `cooldown` seconds
 *
 * New instances take only flows that start after they joined (existing flows keep their
 * instance, and with it any per-flow state); `rebalance: true` moves a share of the existing
 * flows to them as well — right for this NF, which keeps no per-flow state. Autoscaling always
 * asks with rebalance: its signal is each instance's own load, which only spreads when the
 * flows do (with long-lived flows, a new instance would otherwise get none of them).
 *
 * Requests go to the manager over the NF's control connection (ctx.scale); the manager takes
 * them one at a time, so instances asking for the same count at once start it only once.
 * Retiring takes the newest instances out of service first. Each instance's state lives in
 * what create() makes. Its declared counters and gauges (stats, /metrics, the console): the
 * scale requests it made and the ones that failed, its own packet rate and the service's
 * instances as it last saw them (tick).
 */
import { defineNF, NEXT, NfcError, type NFContext } from 'nfchain';

/**
 * What autoscaling asks for when one instance carries `ownPps` and the service has `instances`:
 * one more above upPps, one less below downPps, back into min..max if outside; else as is.
 * Exported for tests.
 */
export function scaleStep(
  ownPps: number,
  instances: number,
  upPps: number,
  downPps: number,
  min: number,
  max: number,
): number {
  if (instances < min) return min;
  if (instances > max) return max;
  if (ownPps > upPps && instances < max) return instances + 1;
  if (ownPps < downPps && instances > min) return instances - 1;
  return instances;
}

type Options = {
  instances: number;
  min: number;
  max: number;
  'up-pps': number;
  'down-pps': number;
  cooldown: number;
  rebalance: boolean;
};

export default defineNF({
  name: 'scaling-example',
  description: 'forwards packets and starts or retires instances of its own service (OpenNetVM scaling_example)',
  counters: {
    scaleRequests: 'scale requests this instance made',
    scaleFailures: 'scale requests the manager refused (or that failed)',
  },
  gauges: {
    pps: "this instance's packet rate over the last tick (packets/s)",
    instances: "the service's running instances, as this instance last saw them",
  },
  options: {
    instances: {
      type: 'number',
      default: 0,
      integer: true,
      min: 0,
      max: 8,
      help: 'ask once for this many instances; 0: autoscale by packet rate',
    },
    min: { type: 'number', default: 1, integer: true, min: 1, max: 8, help: 'autoscaling: fewest instances' },
    max: { type: 'number', default: 4, integer: true, min: 1, max: 8, help: 'autoscaling: most instances' },
    'up-pps': {
      type: 'number',
      default: 100_000,
      min: 1,
      help: 'autoscaling: above this rate (packets/s) an instance asks for one more',
    },
    'down-pps': {
      type: 'number',
      default: 30_000,
      min: 0,
      help: 'autoscaling: below this rate an instance asks for one less; at most half of up-pps',
    },
    cooldown: { type: 'number', default: 3, min: 0, help: 'autoscaling: seconds between two requests of an instance' },
    rebalance: {
      type: 'boolean',
      default: false,
      help: 'new instances take a share of existing flows too (only for NFs without per-flow state)',
    },
  },

  /** Cold: one instance: checks the options; its counters and its scaling state. */
  create(ctx) {
    const o = ctx.options;
    if (o['down-pps'] * 2 > o['up-pps']) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `scaling-example: down-pps ${o['down-pps']} is more than half of up-pps ${o['up-pps']}`,
        {
          fix: 'keep down-pps at most up-pps / 2, or instances flap: one less would push the others over up-pps',
        },
      );
    }
    if (o.min > o.max)
      throw new NfcError('NFC_ERR_NF_OPTION', `scaling-example: min ${o.min} is more than max ${o.max}`);
    let packets = 0;
    let lastPackets = 0;
    let lastMs = ctx.now();
    let lastAskMs = -Infinity;
    let asking = false;
    let asked = false;
    const scaleRequests = ctx.counter('scaleRequests');
    const scaleFailures = ctx.counter('scaleFailures');
    const ppsGauge = ctx.gauge('pps');
    const instancesGauge = ctx.gauge('instances');

    const ask = (ctx: NFContext<Options>, n: number, why: string, rebalance: boolean): void => {
      asking = true;
      lastAskMs = ctx.now();
      scaleRequests.add();
      ctx.log(`asking for ${n} instances of service ${ctx.service} (${why})`);
      ctx
        .scale(n, ctx.service, { rebalance })
        .then(
          (r) =>
            ctx.log(
              `service ${r.service}: ${r.before} → ${r.instances} instances` +
                (r.started.length ? `, started ${r.started.map((id) => `#${id}`).join(' ')}` : '') +
                (r.retired.length ? `, retired ${r.retired.map((id) => `#${id}`).join(' ')}` : ''),
            ),
          (err: unknown) => {
            scaleFailures.add();
            ctx.log(`scaling failed: ${(err as Error).message}`);
          },
        )
        .finally(() => {
          asking = false;
        });
    };

    return {
      /** Counts and forwards. Hot path: no allocation. */
      handle() {
        packets++;
        return NEXT;
      },

      /** Cold: decides whether to ask for another instance count. */
      tick(ctx) {
        const now = ctx.now();
        const secs = (now - lastMs) / 1000;
        const pps = secs > 0 ? (packets - lastPackets) / secs : 0;
        lastPackets = packets;
        lastMs = now;
        ppsGauge.set(pps);
        const have = ctx.instances(ctx.service);
        instancesGauge.set(have);
        if (asking) return;
        const o = ctx.options;
        if (o.instances > 0) {
          // Fixed mode: the first instance asks, once, while it is alone (the manager would take a
          // duplicate request after the first anyway: it would find the count reached).
          if (!asked && have <= 1 && have < o.instances) {
            asked = true;
            ask(ctx, o.instances, `instances: ${o.instances}`, o.rebalance);
          }
          return;
        }
        if (now - lastAskMs < o.cooldown * 1000) return;
        const want = scaleStep(pps, have, o['up-pps'], o['down-pps'], o.min, o.max);
        if (want !== have)
          ask(ctx, want, `this instance: ${Math.round(pps)} pps, ${have} instance${have === 1 ? '' : 's'}`, true);
      },

      stop(ctx) {
        ctx.log(`scaling-example: ${packets} packets forwarded`);
      },

      /** Packets this instance forwarded (cold; for tests). */
      get forwarded(): number {
        return packets;
      },
    };
  },
});
