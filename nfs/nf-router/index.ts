/**
 * nf-router: sends each packet to the service its destination IP is routed to (OpenNetVM's
 * nf_router): a routes file of `DESTINATION SERVICE` lines, host addresses or prefixes, IPv4
 * and IPv6, the longest matching prefix winning (routes.ts). Verdict toNF(service); no route, or
 * not IP: the `default` verdict (NEXT or DROP), counted.
 */
import { defineNF, DROP, NEXT, NfcError } from 'nfchain';
import { resolve } from 'node:path';
import { loadRoutes, MAX_SERVICE, RouteTable } from './routes.js';

export { parseRoutes, loadRoutes, RouteTable, type Route } from './routes.js';

export default defineNF({
  name: 'nf-router',
  description: 'routes packets to services by destination IP (longest prefix), IPv4 and IPv6',
  counters: {
    routed: 'packets sent to the service of their route',
    noRoute: 'IP packets no route matched: the default verdict',
    notIp: 'packets not IPv4/IPv6: the default verdict',
  },
  gauges: {
    routes: 'routes in the table (IPv4 and IPv6)',
  },
  options: {
    config: {
      type: 'string',
      default: '',
      help: 'the routes file: "DESTINATION SERVICE" lines (required; a relative path is from the topology file directory)',
    },
    default: {
      type: 'string',
      default: 'next',
      choices: ['next', 'drop'],
      help: 'verdict of packets with no route, and of non-IP packets',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: reads the routes, builds the table; allocates it and the counters. */
  create(ctx) {
    const o = ctx.options;
    if (o.config === '')
      throw new NfcError('NFC_ERR_NF_OPTION', 'nf-router: option "config" is missing: the routes file', {
        fix: 'pass e.g. --config routes.conf, or options: { config: routes.conf } (format: nfs/nf-router/README.md)',
      });
    const routes = loadRoutes(resolve(ctx.baseDir, o.config), o.config);
    const table = new RouteTable(routes);
    const fallback = o.default === 'drop' ? DROP : NEXT;
    const routed = ctx.counter('routed');
    const noRoute = ctx.counter('noRoute');
    const notIp = ctx.counter('notIp');
    ctx.gauge('routes').set(table.routes4 + table.routes6);
    /** the declared counters (read through), and packets per service */
    const counters = {
      get routed(): number {
        return routed.value;
      },
      get noRoute(): number {
        return noRoute.value;
      },
      get notIp(): number {
        return notIp.value;
      },
      /** packets routed to each service (index = service id) */
      perService: new Float64Array(MAX_SERVICE + 1),
    };
    const dst6 = new Uint32Array(4);
    let ticks = 0;
    let last = 0;
    const services = (): string =>
      [...counters.perService]
        .map((n, s) => [s, n] as const)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ') || 'none';
    if (o.interval > 0) ctx.log(`nf-router: ${table.routes4} IPv4 and ${table.routes6} IPv6 routes from ${o.config}`);

    return {
      counters,
      table,

      /** Hot path: no allocation. */
      handle(pkt) {
        const v = pkt.ipVersion;
        let verdict = -1;
        if (v === 4) verdict = table.lookup4(pkt.data.getInt32(pkt.byteOffset + pkt.l3Offset + 16));
        else if (v === 6) {
          pkt.ipv6Dst(dst6);
          verdict = table.lookup6(dst6[0]! | 0, dst6[1]! | 0, dst6[2]! | 0, dst6[3]! | 0);
        } else {
          notIp.add();
          return fallback;
        }
        if (verdict < 0) {
          noRoute.add();
          return fallback;
        }
        routed.add();
        counters.perService[verdict >>> 8]!++;
        return verdict;
      },

      tick(ctx) {
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval) return;
        ticks = 0;
        const d = counters.routed - last;
        last = counters.routed;
        ctx.log(
          `nf-router: last ${interval} s: ${d} routed; in all ${counters.routed} routed, ${counters.noRoute} no route, ${counters.notIp} not IP; per service ${services()}`,
        );
      },

      stop(ctx) {
        if (ctx.options.interval > 0)
          ctx.log(
            `nf-router: in all ${counters.routed} routed, ${counters.noRoute} no route, ${counters.notIp} not IP; per service ${services()}`,
          );
      },
    };
  },
});
