/**
 * bridge: sends each packet out of the "other" port (OpenNetVM's bridge). With two ports,
 * port 0 → port 1 and port 1 → port 0; with more, ports pair up as (0,1), (2,3), ... — port p
 * goes out of p ^ 1 if that port exists, else back out of p (the odd one out of an odd count).
 *
 * The verdict for each input port is computed once, when the instance is made; the handler is
 * one table read. Each instance counts packets per input port, and in its declared counters
 * (stats, /metrics, the console) packets bridged and packets sent back out of their own port.
 */
import { defineNF, out } from 'nfchain';

/** Ports a topology can have (port ids 0..7, the range out() encodes). */
const MAX_PORTS = 8;

export default defineNF({
  name: 'bridge',
  description: 'sends each packet out of the paired port: 0 <-> 1, 2 <-> 3, ...',
  counters: {
    bridged: 'packets sent out of the paired port (p ^ 1)',
    sentBack: 'packets sent back out of their input port (the odd one out: no pair)',
  },
  options: {
    ports: {
      type: 'number',
      default: 2,
      integer: true,
      min: 1,
      max: MAX_PORTS,
      help: 'number of ports; port p is paired with p ^ 1 when that port exists',
    },
  },

  /** Cold: one instance: its verdict table and counters. */
  create(ctx) {
    const n = ctx.options.ports;
    /** verdict for each input port */
    const verdicts = new Int32Array(MAX_PORTS);
    /** packets received per input port */
    const perPort = new Float64Array(MAX_PORTS);
    const bridged = ctx.counter('bridged');
    const sentBack = ctx.counter('sentBack');
    /** per input port: the counter of its outcome */
    const outcome = [bridged];
    for (let p = 0; p < MAX_PORTS; p++) {
      const q = p ^ 1;
      verdicts[p] = out(q < n ? q : p);
      outcome[p] = q < n ? bridged : sentBack;
    }
    return {
      /** Out of the paired port. Hot path: no allocation. */
      handle(pkt) {
        const p = pkt.inputPort;
        if (p >= MAX_PORTS) return out(p); // cannot happen with a valid topology; the router drops it
        perPort[p]!++;
        outcome[p]!.add();
        return verdicts[p]!;
      },

      /** Cold: one line with the packets bridged per input port. */
      stop(ctx) {
        const parts: string[] = [];
        for (let p = 0; p < ctx.options.ports; p++) {
          parts.push(`${p}→${out(p) === verdicts[p] ? p : p ^ 1}: ${perPort[p]}`);
        }
        ctx.log(`bridge: packets by input port ${parts.join(', ')}`);
      },

      /** Packets received on each input port (cold; for tests). */
      counts(): number[] {
        return Array.from(perPort);
      },
    };
  },
});
