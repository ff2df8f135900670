/**
 * `nfchain bench nf --name aes-decrypt`: AES-128-CTR decryption of 1500-byte frames that
 * aes-encrypt made (from 1484-byte frames of 1024 flows, in order, so that consecutive frames'
 * IVs follow on and a burst is one cipher call), with each engine.
 */
import { defineNFBench, runNF } from 'nfchain';
import aesEncrypt from '../aes-encrypt/index.js';
import { benchKey, udpFrames } from '../aes-encrypt/bench.js';

export default defineNFBench(
  (['node', 'typescript'] as const).map((engine) => ({
    params: { engine, bits: 128, size: 1500 },
    prepare: async (dir: string) => {
      const key = benchKey(dir, 16);
      const enc = await runNF(aesEncrypt, udpFrames(1484), { options: { key, interval: 0 } });
      return { options: { key, engine, interval: 0 }, packets: enc.outputs.map((o) => o.bytes) };
    },
  })),
);
