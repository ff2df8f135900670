/**
 * `nfchain bench nf --name stateless-firewall`: a blacklist of 256 source addresses, 16 source
 * prefixes and 32 destination ports, 64-byte UDP packets of 1024 flows (about a quarter of
 * them listed, so dropped).
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const src = [
  ...Array.from({ length: 256 }, (_, i) => `10.1.${i >> 4}.${(i & 15) * 16}`),
  ...Array.from({ length: 16 }, (_, i) => `172.${16 + i}.0.0/16`),
].join(',');
const dport = Array.from({ length: 32 }, (_, i) => 6000 + i * 7).join(',');

export default defineNFBench([
  {
    params: { mode: 'blacklist', entries: 304, flows: 1024 },
    prepare: () => ({
      options: { mode: 'blacklist', src, dport },
      packets: Array.from(
        { length: 1024 },
        (_, i) =>
          buildPacket({
            l3: { kind: 'ipv4', src: `10.1.${(i >> 4) & 15}.${(i & 15) * 8}`, dst: '192.168.0.1' },
            l4: { kind: 'udp', sport: 1024 + i, dport: 5000 + (i % 1500) },
            padTo: 64,
          }).bytes,
      ),
    }),
  },
]);
