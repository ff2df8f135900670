/**
 * `nfchain bench nf --name stateful-firewall`: 100 000 established UDP flows, both directions
 * (each flow's inside packet, then its reply from outside), 64-byte packets. The first pass
 * (in the warm-up) opens the flows; every later packet is of a known flow.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const FLOWS = 100_000;

export default defineNFBench([
  {
    params: { flows: FLOWS, proto: 'udp', directions: 2 },
    prepare: () => {
      const packets: Uint8Array[] = [];
      const inputPort: number[] = [];
      for (let i = 0; i < FLOWS; i++) {
        const host = `10.0.${(i >> 8) & 255}.${i & 255}`;
        const server = `198.51.100.${1 + (i % 200)}`;
        const sport = 1024 + (i % 60000);
        packets.push(
          buildPacket({
            l3: { kind: 'ipv4', src: host, dst: server },
            l4: { kind: 'udp', sport, dport: 53 },
            padTo: 64,
          }).bytes,
          buildPacket({
            l3: { kind: 'ipv4', src: server, dst: host },
            l4: { kind: 'udp', sport: 53, dport: sport },
            padTo: 64,
          }).bytes,
        );
        inputPort.push(0, 1);
      }
      return {
        options: { inside: 'lan', capacity: 131072, interval: 0 },
        ports: [{ name: 'lan' }, { name: 'wan' }],
        packets,
        inputPort,
      };
    },
  },
]);
