/**
 * `nfchain bench nf --name aes-encrypt`: AES-128-CTR over 1500-byte UDP frames of 1024 flows
 * (1458 bytes of payload; the frames leave 16 bytes longer), with each engine; and AES-256 with
 * node:crypto. The key file is written into the case's directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

export function udpFrames(size: number, flows = 1024): Uint8Array[] {
  return Array.from(
    { length: flows },
    (_, i) =>
      buildPacket({
        l3: { kind: 'ipv4', src: `10.0.${i >> 8}.${i & 255}`, dst: '192.168.0.1' },
        l4: { kind: 'udp', sport: 1024 + i, dport: 5000, payload: new Uint8Array(size - 42).fill(i & 0xff) },
      }).bytes,
  );
}

/** Writes a key of `bytes` bytes into `dir`; returns its path. */
export function benchKey(dir: string, bytes: number): string {
  const p = join(dir, `aes${bytes * 8}.key`);
  writeFileSync(p, `${'0123456789abcdef'.repeat(bytes / 8)}\n`, { mode: 0o600 });
  return p;
}

export default defineNFBench(
  (
    [
      ['node', 16],
      ['typescript', 16],
      ['node', 32],
    ] as const
  ).map(([engine, bytes]) => ({
    params: { engine, bits: bytes * 8, size: 1500 },
    prepare: (dir: string) => ({
      options: { key: benchKey(dir, bytes), engine, interval: 0 },
      packets: udpFrames(1500),
    }),
  })),
);
