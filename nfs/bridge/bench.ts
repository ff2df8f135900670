/** `nfchain bench nf --name bridge`: 64-byte UDP frames arriving on ports 0 and 1, each sent out of the other. */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { ports: 2, flows: 1024, size: 64 },
    prepare: () => ({
      options: { ports: 2 },
      ports: [{ name: 'p0' }, { name: 'p1' }],
      inputPort: Array.from({ length: 1024 }, (_, i) => i & 1),
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
