/** `nfchain bench nf --name scaling-example`: its per-packet path (forwarding) over 64-byte UDP packets of 1024 flows. */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { flows: 1024, size: 64 },
    prepare: () => ({
      options: {},
      packets: Array.from(
        { length: 1024 },
        (_, i) =>
          buildPacket({
            l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
            l4: { kind: 'udp', sport: 1024 + i, dport: 53 },
            padTo: 64,
          }).bytes,
      ),
    }),
  },
]);
