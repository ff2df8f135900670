/**
 * aes-encrypt: encrypts the payload of UDP packets with AES-CTR (128 or 256-bit, from the key
 * file's length), after OpenNetVM's aes_encrypt, and puts the 16-byte IV in front of it so that
 * aes-decrypt needs only the packet and the key (crypt.ts: wire format, engines, counters).
 *
 *   UDP, from or to `port` (any if 0)   IV prepended, payload encrypted, lengths and checksums
 *                                       updated; verdict `destination` (NEXT if 0)
 *   not UDP, or UDP of another port     passed on unchanged (NEXT), counted
 *   UDP fragment, GSO super-frame,      dropped, counted (never passed on in clear)
 *   malformed, no room, too big
 *
 * Each instance has its own key schedule, nonce (8 random bytes) and counters: the instance is
 * a UdpCrypt (`runNF(...).instance.transformed`, `.stats()`).
 */
import { randomBytes } from 'node:crypto';
import { defineNF } from 'nfchain';
import { COMMON_COUNTERS, COMMON_OPTIONS, UdpCrypt } from './crypt.js';

export { UdpCrypt, loadKey, IV_BYTES } from './crypt.js';

export default defineNF({
  name: 'aes-encrypt',
  description: 'encrypts UDP payloads with AES-CTR, a 16-byte IV in front of each (aes-decrypt undoes it)',
  counters: {
    encrypted: 'UDP packets encrypted (IV prepended)',
    ...COMMON_COUNTERS,
    noRoom: 'packets with no room in the buffer for the IV: dropped',
    tooBig: 'packets that would exceed mtu (or 65535 bytes) with the IV: dropped',
  },
  options: {
    ...COMMON_OPTIONS,
    mtu: {
      type: 'number',
      default: 0,
      integer: true,
      min: 0,
      max: 65535,
      help: 'largest IP packet after encryption (16 bytes more than before); larger ones are dropped; 0 = no limit',
    },
  },

  /** Cold: reads the key, makes the key schedule or the cipher batch, draws the nonce. Allocates. */
  create(ctx) {
    return new UdpCrypt(ctx, true, randomBytes(8));
  },
});
