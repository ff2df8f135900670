/** `nfchain bench nf --name basic-monitor`: counting by protocol over a mix of TCP, UDP and ICMP, IPv4 and IPv6, 64-byte frames. */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const v4 = (i: number) => ({ kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' }) as const;
const v6 = (i: number) => ({ kind: 'ipv6', src: `2001:db8::${(i + 1).toString(16)}`, dst: '2001:db8::ffff' }) as const;

export default defineNFBench([
  {
    params: { flows: 1024, mix: 'tcp,udp,icmp,v6' },
    prepare: () => ({
      options: { interval: 0 },
      packets: Array.from({ length: 1024 }, (_, i) => {
        const l4 =
          i % 4 === 0
            ? ({ kind: 'tcp', sport: 1024 + i, dport: 80 } as const)
            : i % 4 === 1
              ? ({ kind: 'udp', sport: 1024 + i, dport: 53 } as const)
              : i % 4 === 2
                ? ({ kind: 'icmp', type: 8, code: 0, id: i, seq: 1 } as const)
                : ({ kind: 'udp', sport: 1024 + i, dport: 443 } as const);
        return buildPacket({ l3: i % 4 === 3 ? v6(i) : v4(i), l4, padTo: 64 }).bytes;
      }),
    }),
  },
]);
