/**
 * `nfchain bench nf --name heavy-hitter`: 64-byte UDP packets of 100 000 flows, each a sketch
 * update (4 rows of 2048) and a top-k check, and a skewed mix where 10 flows carry half the
 * packets (the top-k updated on every one of theirs). The bench harness does not tick, so no
 * window closes.
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
const udp = (i: number) =>
  buildPacket({
    l3: { kind: 'ipv4', src: host(172, i), dst: host(10, i % 4096) },
    l4: { kind: 'udp', sport: 1024 + (i & 0x7fff), dport: 443 },
    padTo: 64,
  }).bytes;

export default defineNFBench([
  {
    params: { flows: 100000, key: 'flow', size: 64 },
    prepare: () => ({ options: { interval: 0 }, packets: pack(Array.from({ length: 100000 }, (_, i) => udp(i))) }),
  },
  {
    params: { flows: 100000, heavy: 10, heavyShare: 0.5, key: 'src', size: 64 },
    prepare: () => ({
      options: { interval: 0, key: 'src', action: 'mark' },
      packets: pack(Array.from({ length: 200000 }, (_, i) => (i % 2 === 0 ? udp(i % 10) : udp(10 + (i >> 1))))),
    }),
  },
]);
