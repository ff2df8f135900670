/**
 * `nfchain bench nf --name ip-router`: the router's forwarding path (checks, LPM, TTL, ARP cache
 * hit, MACs) over 10 000 routes through gateways whose MACs are known (neighbor lines), 1024
 * 64-byte UDP packets to random destinations inside those routes, in on the lan port.
 */
import { defineNFBench, formatIpv4 } from 'nfchain';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const PORTS = [
  { name: 'lan', mac: '02:00:00:00:00:01', ipv4: '10.0.1.1/24' },
  { name: 'wan', mac: '02:00:00:00:00:02', ipv4: '10.0.2.1/24' },
];

export default defineNFBench([
  {
    params: { routes: 10000, packets: 1024 },
    prepare(dir) {
      const next = rng(0xc0ffee);
      const lines = [
        'neighbor 10.0.2.254 lladdr 02:00:00:00:02:fe dev wan',
        'neighbor 10.0.2.253 lladdr 02:00:00:00:02:fd dev wan',
      ];
      const prefixes: number[] = [];
      const seen = new Set<number>();
      while (prefixes.length < 10000) {
        const a = ((20 + (next() % 180)) << 24) | (next() & 0xffff00);
        if (seen.has(a) || a >>> 24 === 127) continue;
        seen.add(a);
        prefixes.push(a >>> 0);
        lines.push(`${formatIpv4(a >>> 0)}/24 via 10.0.2.${253 + (next() & 1)} dev wan`);
      }
      writeFileSync(join(dir, 'routes.txt'), `${lines.join('\n')}\n`);
      const packets = Array.from({ length: 1024 }, (_, k) => {
        const dst = (prefixes[next() % prefixes.length]! | (1 + (next() % 254))) >>> 0;
        return buildPacket({
          eth: { src: '02:00:00:00:aa:07', dst: PORTS[0]!.mac },
          l3: { kind: 'ipv4', src: '10.0.1.7', dst: formatIpv4(dst), ttl: 64 },
          l4: { kind: 'udp', sport: 1024 + k, dport: 53 },
          padTo: 64,
        }).bytes;
      });
      return { options: { routes: 'routes.txt', interval: 0 }, packets, ports: PORTS, inputPort: 0 };
    },
  },
]);
