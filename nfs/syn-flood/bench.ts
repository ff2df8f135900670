/**
 * `nfchain bench nf --name syn-flood`: a SYN flood from 100 000 spoofed sources to one victim
 * (every SYN a window-table update per destination and per source, and a half-open flow added),
 * and a mix of whole handshakes (SYN, SYN-ACK, ACK) from 30 000 clients with the flood. The
 * bench harness does not tick: no window closes, nothing times out, so the flows table is sized
 * to hold every handshake.
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
const tcp = (src: string, dst: string, sport: number, dport: number, flags: number, seq: number) =>
  buildPacket({ l3: { kind: 'ipv4', src, dst }, l4: { kind: 'tcp', sport, dport, flags, seq }, padTo: 64 }).bytes;

export default defineNFBench([
  {
    params: { spoofedSources: 100000, size: 64 },
    prepare: () => ({
      options: { capacity: 131072, flows: 131072, interval: 0 },
      packets: pack(
        Array.from({ length: 100000 }, (_, i) => tcp(host(10, i), '192.168.0.1', 1024 + (i & 0x7fff), 80, 0x02, i)),
      ),
    }),
  },
  {
    params: { handshakes: 30000, spoofedSources: 10000, size: 64 },
    prepare: () => {
      const packets: Uint8Array[] = [];
      for (let i = 0; i < 30000; i++) {
        const c = host(172, i);
        const sp = 1024 + (i & 0x7fff);
        packets.push(tcp(c, '192.168.0.2', sp, 443, 0x02, 1000));
        packets.push(tcp('192.168.0.2', c, 443, sp, 0x12, 5000));
        packets.push(tcp(c, '192.168.0.2', sp, 443, 0x10, 1001));
        if (i % 3 === 0) packets.push(tcp(host(10, i), '192.168.0.1', sp, 80, 0x02, i));
      }
      return { options: { capacity: 131072, flows: 131072, interval: 0, mitigate: true }, packets: pack(packets) };
    },
  },
]);
