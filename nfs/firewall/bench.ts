/**
 * `nfchain bench nf --name firewall`: 1000 seeded random rules (prefixes, protocols, ports,
 * a tenth without a dport), 64-byte TCP/UDP packets of 1024 flows that hit many of the rules.
 * Case 1: with the per-flow verdict cache (the default); case 2: cache off, every packet
 * classified (the classifier's own cost).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';
import { prng, randomIpv4, randomPort, randomRules, rulesJson } from './gen.js';

function workload(dir: string, cache: number) {
  const file = join(dir, 'rules.json');
  writeFileSync(file, rulesJson(randomRules(7, 1000), 'accept'));
  const rnd = prng(11);
  const packets = Array.from(
    { length: 1024 },
    () =>
      buildPacket({
        l3: { kind: 'ipv4', src: randomIpv4(rnd), dst: randomIpv4(rnd) },
        l4:
          rnd() < 0.5
            ? { kind: 'tcp', sport: 1024 + Math.floor(rnd() * 60000), dport: randomPort(rnd), flags: 0x10 }
            : { kind: 'udp', sport: 1024 + Math.floor(rnd() * 60000), dport: randomPort(rnd) },
        padTo: 64,
      }).bytes,
  );
  return { options: { rules: file, cache, interval: 0 }, packets };
}

export default defineNFBench([
  { params: { rules: 1000, flows: 1024, cache: 'on' }, prepare: (dir) => workload(dir, 65536) },
  { params: { rules: 1000, flows: 1024, cache: 'off' }, prepare: (dir) => workload(dir, 0) },
]);
