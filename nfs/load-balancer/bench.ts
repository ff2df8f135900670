/**
 * `nfchain bench nf --name load-balancer`: client packets to the VIP from 10 000 flows, each
 * rewritten to its backend (round robin per flow), and the backends' replies rewritten back,
 * alternately; 64-byte UDP.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const VIP = '10.0.0.100';
const BACKENDS = ['192.168.1.11', '192.168.1.12', '192.168.1.13'];

export default defineNFBench([
  {
    params: { flows: 10_000, backends: 3 },
    prepare(dir) {
      const config = join(dir, 'lb.json');
      writeFileSync(config, JSON.stringify({ vip: VIP, backends: BACKENDS.map((ip) => ({ ip })) }));
      const packets: Uint8Array[] = [];
      const inputPort: number[] = [];
      for (let i = 0; i < 10_000; i++) {
        const client = `172.16.${(i >> 8) & 255}.${i & 255}`;
        const sport = 1024 + (i % 60000);
        packets.push(
          buildPacket({ l3: { kind: 'ipv4', src: client, dst: VIP }, l4: { kind: 'udp', sport, dport: 80 }, padTo: 64 })
            .bytes,
        );
        inputPort.push(0);
        // The reply, from the backend round robin gives this flow (flows are new in this order).
        packets.push(
          buildPacket({
            l3: { kind: 'ipv4', src: BACKENDS[i % 3]!, dst: client },
            l4: { kind: 'udp', sport: 80, dport: sport },
            padTo: 64,
          }).bytes,
        );
        inputPort.push(1);
      }
      return {
        options: { config, 'server-port': 1, 'client-port': 0, capacity: 65536 },
        ports: [{ name: 'client' }, { name: 'server' }],
        inputPort,
        packets,
      };
    },
  },
]);
