/**
 * `nfchain bench nf --name fair-queue`: the enqueue path. 64-byte UDP packets of 1024 flows at a
 * link rate far above what arrives (8 Gbit/s, burst 1 MB): while the bench's clock stands still
 * the credit is spent, then packets queue (keep) until the queue is full and further ones are
 * dropped tail; the figure is the classification and queue decision per packet.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { flows: 1024, size: 64 },
    prepare: () => ({
      options: { rate: 8e9, burst: 1e6 },
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
