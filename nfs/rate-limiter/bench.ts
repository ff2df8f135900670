/**
 * `nfchain bench nf --name rate-limiter`: the police path (per flow: a flow-table lookup and a
 * bucket per packet; per port: a bucket) and the shape path (bucket, queue full once the queue
 * has filled), over 64-byte UDP packets of 1024 flows. The bench's clock does not move, so
 * after each bucket's depth the packets are over the rate: the figure is the decision's cost.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const packets = () =>
  Array.from(
    { length: 1024 },
    (_, i) =>
      buildPacket({
        l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
        l4: { kind: 'udp', sport: 1024 + i, dport: 53 },
        padTo: 64,
      }).bytes,
  );

export default defineNFBench([
  {
    params: { mode: 'police', by: 'flow', flows: 1024 },
    prepare: () => ({ options: { rate: 1e6 }, packets: packets() }),
  },
  {
    params: { mode: 'police', by: 'port', flows: 1024 },
    prepare: () => ({ options: { rate: 1e6, by: 'port' }, packets: packets() }),
  },
  {
    params: { mode: 'shape', by: 'flow', flows: 1024 },
    prepare: () => ({ options: { rate: 1e6, mode: 'shape' }, packets: packets() }),
  },
]);
