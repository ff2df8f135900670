/**
 * `nfchain bench nf --name flow-director`: every packet is the first of its flow (the harness has
 * no flow director to pin into, so each one is classified and pinned again): the cost of the
 * decision and the pin request, 64-byte UDP and TCP to mapped ports.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export default defineNFBench([
  {
    params: { flows: 1024, map: '53=dns,80=web' },
    prepare: () => ({
      options: { map: '53=dns,80=web,8000-8099=web', fallback: 'rest' },
      chains: ['default', 'dns', 'web', 'rest'],
      packets: Array.from(
        { length: 1024 },
        (_, i) =>
          buildPacket({
            l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
            l4:
              i % 2 === 0
                ? { kind: 'udp', sport: 1024 + i, dport: 53 }
                : { kind: 'tcp', sport: 1024 + i, dport: i % 4 === 1 ? 80 : 9000 },
            padTo: 64,
          }).bytes,
      ),
    }),
  },
]);
