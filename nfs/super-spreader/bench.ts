/**
 * `nfchain bench nf --name super-spreader`: 100 000 sources each contacting one host (a table
 * entry and a bitmap bit per source), and a scan mix: 10 scanners sweeping 10 000 hosts each
 * among 90 000 ordinary sources. The bench harness does not tick, so no window closes: what is
 * measured is the per-packet work.
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
const tcp = (src: string, dst: string, dport: number) =>
  buildPacket({ l3: { kind: 'ipv4', src, dst }, l4: { kind: 'tcp', sport: 40000, dport, flags: 0x02 }, padTo: 64 })
    .bytes;

export default defineNFBench([
  {
    params: { sources: 100000, size: 64 },
    prepare: () => ({
      options: { capacity: 131072, interval: 0 },
      packets: pack(Array.from({ length: 100000 }, (_, i) => tcp(host(172, i), host(10, i % 1000), 443))),
    }),
  },
  {
    params: { scanners: 10, hostsEach: 10000, sources: 90000, count: 'endpoints', size: 64 },
    prepare: () => ({
      options: { capacity: 131072, interval: 0, count: 'endpoints', mitigate: true },
      packets: pack(
        Array.from({ length: 190000 }, (_, i) =>
          i % 19 < 10 ? tcp(host(198, i % 19), host(10, i >> 1), 22) : tcp(host(172, i), host(10, i % 1000), 443),
        ),
      ),
    }),
  },
]);
