/**
 * `nfchain bench nf --name arp-response`: ARP requests for 64 addresses of a list, half of them
 * answered (rewritten into replies in place), half for addresses it does not hold (ignored).
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const request = (i: number) =>
  buildPacket({
    eth: { dst: 'ff:ff:ff:ff:ff:ff', src: `02:aa:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}` },
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: `02:aa:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`,
      senderIp: `10.1.${i >> 8}.${i & 255}`,
      targetMac: '00:00:00:00:00:00',
      targetIp: `10.0.0.${i & 127}`,
    },
    padTo: 60,
  }).bytes;

export default defineNFBench([
  {
    params: { addresses: 64, answered: '50%' },
    prepare: () => ({
      options: { addresses: Array.from({ length: 64 }, (_, i) => `10.0.0.${i}`).join(',') },
      ports: [{ name: 'lan', mac: '02:00:00:00:00:10' }],
      packets: Array.from({ length: 1024 }, (_, i) => request(i)),
    }),
  },
]);
