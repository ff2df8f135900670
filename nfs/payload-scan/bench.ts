/**
 * `nfchain bench nf --name payload-scan`: 100 patterns (8-16 random printable bytes) over
 * 1500-byte TCP packets of 1024 flows with random printable payloads (about 1 in 10 holds a
 * pattern, so the match path runs too), in each table layout; and 1000 patterns (auto layout:
 * byte classes). The pattern file is written into the case's directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function prng(seed: number): () => number {
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

/** Printable ASCII except backslash (no escapes needed in the file). */
function printable(rand: () => number): number {
  const b = 0x20 + (rand() % 95);
  return b === 0x5c ? 0x5d : b;
}

function workload(dir: string, count: number, size: number) {
  const rand = prng(count);
  const pats: Uint8Array[] = [];
  for (let i = 0; i < count; i++) pats.push(Uint8Array.from({ length: 8 + (rand() % 9) }, () => printable(rand)));
  const file = join(dir, `patterns-${count}.txt`);
  writeFileSync(file, `${pats.map((p) => Buffer.from(p).toString('latin1')).join('\n')}\n`);
  const packets = Array.from({ length: 1024 }, (_, i) => {
    const payload = Uint8Array.from({ length: size - 54 }, () => printable(rand));
    if (i % 10 === 0) payload.set(pats[i % count]!, 100 + (i % 700));
    return buildPacket({
      l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
      l4: { kind: 'tcp', sport: 1024 + i, dport: 80, payload },
    }).bytes;
  });
  return { file, packets };
}

export default defineNFBench(
  (
    [
      [100, 'dense'],
      [100, 'classes'],
      [1000, 'auto'],
    ] as const
  ).map(([patterns, table]) => ({
    params: { patterns, table, size: 1500 },
    prepare: (dir: string) => {
      const w = workload(dir, patterns, 1500);
      return { options: { patterns: w.file, table, mode: 'drop', interval: 0 }, packets: w.packets };
    },
  })),
);
