/**
 * `nfchain bench nf --name l2fwd`: 64-byte UDP frames arriving on ports 0 and 1 (paired), MACs
 * rewritten: DPDK's l2fwd workload.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { ports: 2, size: 64 },
    prepare: () => ({
      ports: [
        { name: 'p0', mac: '02:00:00:00:01:00' },
        { name: 'p1', mac: '02:00:00:00:01:01' },
      ],
      packets: Array.from(
        { length: 1024 },
        (_, i) =>
          buildPacket({
            l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
            l4: { kind: 'udp', sport: 1024 + i, dport: 53 },
            padTo: 64,
          }).bytes,
      ),
      inputPort: Array.from({ length: 1024 }, (_, i) => i & 1),
    }),
  },
]);
