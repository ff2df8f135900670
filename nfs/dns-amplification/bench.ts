/**
 * `nfchain bench nf --name dns-amplification`: large DNS responses (UDP source port 53, 1200
 * bytes of payload) from 1000 resolvers to 100 000 destinations, and a mix of requests from
 * 50 000 clients with their small answers and an amplification flood to one victim. The bench
 * harness does not tick, so no window closes: what is measured is the per-packet counting.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

/** The packets copied into one buffer, in order: the harness reads them with less cache missing. */
function pack(pkts: Uint8Array[]): Uint8Array[] {
  const buf = new Uint8Array(pkts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  return pkts.map((p) => {
    buf.set(p, o);
    o += p.length;
    return buf.subarray(o - p.length, o);
  });
}

const host = (net: number, i: number) => `${net}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const udp = (src: string, dst: string, sport: number, dport: number, payload: number) =>
  buildPacket({ l3: { kind: 'ipv4', src, dst }, l4: { kind: 'udp', sport, dport, payload: new Uint8Array(payload) } })
    .bytes;

export default defineNFBench([
  {
    params: { destinations: 100000, size: 1242 },
    prepare: () => ({
      options: { capacity: 131072, interval: 0, mitigate: true },
      packets: pack(Array.from({ length: 100000 }, (_, i) => udp(host(203, i % 1000), host(10, i), 53, 33333, 1200))),
    }),
  },
  {
    params: { clients: 50000, victims: 1, size: '74-1242' },
    prepare: () => {
      const packets: Uint8Array[] = [];
      for (let i = 0; i < 50000; i++) {
        const c = host(10, i);
        packets.push(udp(c, '203.0.113.53', 30000 + (i & 0x7fff), 53, 32));
        packets.push(udp('203.0.113.53', c, 53, 30000 + (i & 0x7fff), 100));
        packets.push(udp(host(198, i % 5000), '192.168.0.66', 53, 4444, 1200));
      }
      return { options: { capacity: 131072, interval: 0, mitigate: true }, packets: pack(packets) };
    },
  },
]);
