/**
 * `nfchain bench nf --name flow-tracker`: per-flow counting in the symmetric flow table, 64-byte
 * UDP packets of 1 000 and of 100 000 flows (both directions), the table sized for them.
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function flows(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const fwd = i % 2 === 0;
    out.push(
      buildPacket({
        l3: { kind: 'ipv4', src: fwd ? a : '192.168.0.1', dst: fwd ? '192.168.0.1' : a },
        l4: { kind: 'udp', sport: fwd ? 1024 + (i % 60000) : 53, dport: fwd ? 53 : 1024 + (i % 60000) },
        padTo: 64,
      }).bytes,
    );
  }
  return out;
}

export default defineNFBench(
  [1000, 100_000].map((n) => ({
    params: { flows: n },
    prepare: () => ({ options: { capacity: n * 2, interval: 0, 'idle-timeout': 0 }, packets: flows(n) }),
  })),
);
