/**
 * `nfchain bench nf --name l3fwd`: LPM forwarding over a large table.
 *
 *   case 1: 100 000 random IPv4 routes (mostly /24; some /8../23 and /25../32), 4096 64-byte UDP
 *           packets to random addresses inside random routes, 4 ports, gateways with neighbors
 *   case 2: 20 000 random IPv6 routes (/32../64, mostly /48, some /128), 4096 packets likewise
 *
 * Routes and packets come from a seeded generator: every run measures the same workload.
 */
import { defineNFBench, formatIpv4, formatIpv6 } from 'nfchain';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPacket } from '../../test/helpers/packet-builder.js';

/** xorshift32: deterministic routes and packets. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const PORTS = [0, 1, 2, 3].map((i) => ({ name: `p${i}`, mac: `02:00:00:00:0${i}:01` }));
const PACKETS = 1024;

/** A prefix length with the mix of a real table: mostly /24. */
function v4Length(r: number): number {
  const x = r % 100;
  if (x < 3) return 8 + (r % 8); // /8../15
  if (x < 15) return 16 + (r % 8); // /16../23
  if (x < 85) return 24;
  return 25 + (r % 8); // /25../32
}

function neighborLines(family: 4 | 6): string[] {
  return PORTS.map((p, i) =>
    family === 4
      ? `neighbor 10.255.${i}.2 lladdr 02:00:00:00:${i.toString(16).padStart(2, '0')}:02 dev ${p.name}`
      : `neighbor fd00:ff:${i}::2 lladdr 02:00:00:00:${i.toString(16).padStart(2, '0')}:02 dev ${p.name}`,
  );
}

export default defineNFBench([
  {
    params: { family: 'ipv4', routes: 100000, packets: PACKETS },
    prepare(dir) {
      const next = rng(0x13579bdf);
      const lines = neighborLines(4);
      const prefixes: [number, number][] = [];
      const seen = new Set<string>();
      while (prefixes.length < 100000) {
        const len = v4Length(next());
        const addr = (next() & (len === 0 ? 0 : 0xffffffff << (32 - len))) >>> 0;
        const first = addr >>> 24;
        if (first === 0 || first >= 224 || first === 10) continue;
        const k = `${addr}/${len}`;
        if (seen.has(k)) continue;
        seen.add(k);
        prefixes.push([addr, len]);
        const i = next() & 3;
        lines.push(`${formatIpv4(addr)}/${len} via 10.255.${i}.2 dev p${i}`);
      }
      for (let i = 0; i < 4; i++) lines.push(`10.255.${i}.0/24 dev p${i}`);
      writeFileSync(join(dir, 'routes.txt'), `${lines.join('\n')}\n`);
      const packets: Uint8Array[] = [];
      for (let k = 0; k < PACKETS; k++) {
        const [addr, len] = prefixes[next() % prefixes.length]!;
        const host = len === 32 ? 0 : next() & ((1 << (32 - len)) - 1) & 0x7fffffff;
        packets.push(
          buildPacket({
            eth: { src: '02:00:00:00:09:09', dst: PORTS[0]!.mac },
            l3: { kind: 'ipv4', src: '192.0.2.1', dst: formatIpv4((addr | host) >>> 0), ttl: 64 },
            l4: { kind: 'udp', sport: 1024 + (k & 1023), dport: 53 },
            padTo: 64,
          }).bytes,
        );
      }
      return { options: { routes: 'routes.txt', interval: 0 }, packets, ports: PORTS };
    },
  },
  {
    params: { family: 'ipv6', routes: 20000, packets: PACKETS },
    prepare(dir) {
      const next = rng(0x2468ace1);
      const lines = neighborLines(6);
      const prefixes: [Uint32Array, number][] = [];
      const seen = new Set<string>();
      while (prefixes.length < 20000) {
        const r = next() % 100;
        const len = r < 10 ? 32 : r < 25 ? 40 : r < 75 ? 48 : r < 95 ? 56 + (next() % 9) : 128;
        const w = Uint32Array.of(0x20010000 | (next() & 0x0fff), next(), next(), next());
        for (let i = 0; i < 4; i++) {
          const keep = len - i * 32;
          w[i] = keep >= 32 ? w[i]! : keep <= 0 ? 0 : (w[i]! & (0xffffffff << (32 - keep))) >>> 0;
        }
        const k = `${w.join('.')}/${len}`;
        if (seen.has(k)) continue;
        seen.add(k);
        prefixes.push([w, len]);
        const i = next() & 3;
        lines.push(`${formatIpv6(w)}/${len} via fd00:ff:${i}::2 dev p${i}`);
      }
      writeFileSync(join(dir, 'routes.txt'), `${lines.join('\n')}\n`);
      const packets: Uint8Array[] = [];
      for (let k = 0; k < PACKETS; k++) {
        const [w, len] = prefixes[next() % prefixes.length]!;
        const a = Uint32Array.from(w);
        for (let i = 0; i < 4; i++) {
          const keep = len - i * 32;
          const hostBits = keep >= 32 ? 0 : keep <= 0 ? 0xffffffff : (0xffffffff >>> keep) >>> 0;
          a[i] = (a[i]! | (next() & hostBits)) >>> 0;
        }
        packets.push(
          buildPacket({
            eth: { src: '02:00:00:00:09:09', dst: PORTS[0]!.mac },
            l3: { kind: 'ipv6', src: '2001:db8::1', dst: formatIpv6(a), hopLimit: 64 },
            l4: { kind: 'udp', sport: 1024 + (k & 1023), dport: 53 },
            padTo: 64,
          }).bytes,
        );
      }
      return { options: { routes: 'routes.txt', interval: 0 }, packets, ports: PORTS };
    },
  },
]);
