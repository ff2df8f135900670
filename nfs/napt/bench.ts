/**
 * `nfchain bench nf --name napt`: 100 000 flows (half TCP, half UDP), both directions: each
 * flow's inside packet, then the reply from outside to its outside port. Ports are allocated in
 * order from the range's start per protocol, so flow i (class i & 1) gets 1024 + (i >> 1): the
 * replies are built for that. The first pass (in the warm-up) makes the mappings.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const FLOWS = 100_000;
const NAT = '203.0.113.1';

export default defineNFBench([
  {
    params: { flows: FLOWS, protos: 'tcp+udp', directions: 2 },
    prepare: () => {
      const packets: Uint8Array[] = [];
      const inputPort: number[] = [];
      for (let i = 0; i < FLOWS; i++) {
        const host = `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
        const server = `198.51.100.${1 + (i % 200)}`;
        const sport = 1024 + (i % 60000);
        const natPort = 1024 + (i >> 1);
        const tcp = (i & 1) === 0;
        const dport = tcp ? 443 : 53;
        packets.push(
          buildPacket({
            l3: { kind: 'ipv4', src: host, dst: server },
            l4: tcp ? { kind: 'tcp', sport, dport, flags: 0x10 } : { kind: 'udp', sport, dport },
            padTo: 64,
          }).bytes,
          buildPacket({
            l3: { kind: 'ipv4', src: server, dst: NAT },
            l4: tcp
              ? { kind: 'tcp', sport: dport, dport: natPort, flags: 0x10 }
              : { kind: 'udp', sport: dport, dport: natPort },
            padTo: 64,
          }).bytes,
        );
        inputPort.push(0, 1);
      }
      return {
        options: { outside: 'wan', inside: 'lan', capacity: 131072, interval: 0 },
        ports: [
          { name: 'lan', ipv4: '10.0.0.1/8' },
          { name: 'wan', ipv4: `${NAT}/24` },
        ],
        packets,
        inputPort,
      };
    },
  },
]);
