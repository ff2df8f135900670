/**
 * `nfchain bench nf --name load-generator`: the receive and measure path. 64-byte packets of its
 * own (signature of instance 1, as the bench runs it), each checked, timed into the histogram and
 * dropped; a tenth are other UDP traffic (NEXT).
 */
import { defineNFBench } from 'nfchain';
import { buildPacket } from '../../test/helpers/packet-builder.js';

function own(seq: number): Uint8Array {
  const payload = new Uint8Array(18);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, 0x4e460001);
  dv.setUint32(4, seq);
  dv.setFloat64(8, 0);
  return buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 10000 + (seq & 15), dport: 9, payload },
  }).bytes;
}

export default defineNFBench([
  {
    params: { size: 64, own: '90%' },
    prepare: () => ({
      options: { rate: 0 },
      packets: Array.from({ length: 1024 }, (_, i) =>
        i % 10 === 9
          ? buildPacket({
              l3: { kind: 'ipv4', src: '10.9.0.1', dst: '10.0.0.2' },
              l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(22) },
            }).bytes
          : own(i),
      ),
    }),
  },
]);
