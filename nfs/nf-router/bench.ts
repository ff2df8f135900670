/**
 * `nfchain bench nf --name nf-router`: 10,000 IPv4 routes (/16, /24 and /32, so up to three
 * probes a packet) and 1,000 IPv6 routes; 64-byte UDP packets to 1,024 destinations, nearly all
 * routed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { routes4: 10000, routes6: 1000, family: 'ipv4' },
    prepare: (dir) => {
      const lines: string[] = [];
      for (let i = 0; i < 256; i++) lines.push(`10.${i}.0.0/16 ${1 + (i % 31)}`);
      for (let i = 0; i < 8000; i++) lines.push(`10.${i >> 5}.${(i & 31) * 8}.0/24 ${1 + (i % 31)}`);
      for (let i = 0; i < 10000 - 8256; i++) lines.push(`10.${i & 255}.${(i >> 8) * 8 + 1}.${i & 255} ${1 + (i % 31)}`);
      for (let i = 0; i < 1000; i++) lines.push(`fd00:${i.toString(16)}::/32 ${1 + (i % 31)}`);
      writeFileSync(join(dir, 'routes.conf'), `${lines.join('\n')}\n`);
      return {
        options: { config: 'routes.conf' },
        packets: Array.from(
          { length: 1024 },
          (_, i) =>
            buildPacket({
              l3: { kind: 'ipv4', src: '192.168.0.1', dst: `10.${i & 255}.${(i >> 2) & 255}.${i & 255}` },
              l4: { kind: 'udp', sport: 1024 + i, dport: 53 },
              padTo: 64,
            }).bytes,
        ),
      };
    },
  },
]);
