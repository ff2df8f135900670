/**
 * aes-decrypt: undoes aes-encrypt (OpenNetVM's aes_decrypt): takes the 16-byte IV from the front
 * of the UDP payload, decrypts the rest with AES-CTR under the key file's key (128 or 256-bit),
 * and removes the IV: the packet is 16 bytes shorter, lengths and checksums updated. The code
 * is aes-encrypt's (nfs/aes-encrypt/crypt.ts), run the other way.
 *
 *   UDP, from or to `port` (any if 0)   decrypted; verdict `destination` (NEXT if 0)
 *   not UDP, or UDP of another port     passed on unchanged (NEXT), counted
 *   UDP payload shorter than the IV,    dropped, counted
 *   UDP fragment, GSO super-frame,
 *   malformed
 *
 * CTR has no integrity check: a packet not made by aes-encrypt with this key is "decrypted"
 * into garbage, not refused (see the README's security notes).
 */
import { defineNF } from 'nfchain';
import { COMMON_COUNTERS, COMMON_OPTIONS, UdpCrypt } from '../aes-encrypt/crypt.js';

export default defineNF({
  name: 'aes-decrypt',
  description: 'decrypts UDP payloads that aes-encrypt encrypted (AES-CTR, IV in front), removing the IV',
  counters: {
    decrypted: 'UDP packets decrypted (IV removed)',
    ...COMMON_COUNTERS,
    short: 'UDP payloads shorter than the IV: dropped',
  },
  options: COMMON_OPTIONS,

  /** Cold: reads the key, makes the key schedule or the cipher batch. Allocates. */
  create(ctx) {
    return new UdpCrypt(ctx, false, new Uint8Array(8));
  },
});
