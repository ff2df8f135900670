/**
 * `nfchain bench nf --name udp-flood`: 64-byte UDP packets to 100 000 destinations (each a new
 * entry of the window table, then found again on every later lap), and the same with a
 * 90 / 10 mix where one destination gets most of the traffic. The bench harness does not tick,
 * so no window closes: what is measured is the per-packet counting.
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

const dst = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const udp = (d: string, i: number) =>
  buildPacket({
    l3: { kind: 'ipv4', src: `172.16.${(i >> 8) & 255}.${i & 255}`, dst: d },
    l4: { kind: 'udp', sport: 1024 + (i & 0x7fff), dport: 53 },
    padTo: 64,
  }).bytes;

export default defineNFBench([
  {
    params: { destinations: 100000, size: 64 },
    prepare: () => ({
      options: { capacity: 131072, interval: 0, mitigate: 'drop' },
      packets: pack(Array.from({ length: 100000 }, (_, i) => udp(dst(i), i))),
    }),
  },
  {
    params: { destinations: 10001, victimShare: 0.9, size: 64 },
    prepare: () => ({
      options: { capacity: 131072, interval: 0, mitigate: 'drop' },
      packets: pack(
        Array.from({ length: 100000 }, (_, i) => (i % 10 === 0 ? udp(dst(i / 10), i) : udp('192.168.1.1', i))),
      ),
    }),
  },
]);
