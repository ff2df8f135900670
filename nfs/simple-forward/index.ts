/**
 * simple-forward: the smallest useful NF (OpenNetVM's simple_forward). Every packet goes on
 * unchanged: to the next hop of its chain (NEXT), or, with `destination`, straight to that
 * service (toNF). It counts packets and, with `interval`, logs a summary line from tick().
 *
 * Each instance's state lives in what create() makes: several instances may share a process.
 */
import { defineNF, NEXT, toNF } from 'nfchain';

export default defineNF({
  name: 'simple-forward',
  description: 'forwards every packet unchanged: to the next hop, or to one service',
  options: {
    destination: {
      type: 'number',
      default: 0,
      integer: true,
      min: 0,
      max: 31,
      help: 'service to send every packet to; 0 = the next hop of the chain (NEXT)',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between summary lines; 0 = quiet' },
  },

  /** Cold: one instance: its verdict, computed once, and its counters. */
  create(ctx) {
    const dest = ctx.options.destination;
    const verdict = dest === 0 ? NEXT : toNF(dest);
    let packets = 0;
    /** for the summary: packets and time at the last line, ticks since it */
    let lastPackets = 0;
    let lastMs = ctx.now();
    let ticks = 0;
    return {
      /** Counts and forwards. Hot path: no allocation. */
      handle() {
        packets++;
        return verdict;
      },

      /** Every `interval` ticks (one a second): one summary line. Cold. */
      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const now = ctx.now();
        const delta = packets - lastPackets;
        const secs = (now - lastMs) / 1000;
        const pps = secs > 0 ? delta / secs : 0;
        ctx.log(`simple-forward: ${packets} packets, +${delta} in ${secs.toFixed(1)} s (${Math.round(pps)} pps)`);
        lastPackets = packets;
        lastMs = now;
      },

      stop(ctx) {
        if (ctx.options.interval > 0) ctx.log(`simple-forward: ${packets} packets forwarded in all`);
      },

      /** Packets this instance forwarded (for tests and embedding programs). Cold. */
      get forwarded(): number {
        return packets;
      },
    };
  },
});
