/**
 * Benchmark NF: parses each packet's headers (the 5-tuple into a reusable key, the TTL) and
 * passes it on with NEXT — the work of a typical header-inspecting NF, without side effects.
 */
import { defineNF, NEXT, DROP, FlowKey } from 'nfchain';

const key = new FlowKey();
let sink = 0;

export default defineNF({
  name: 'parse-nf',
  description: 'parses the 5-tuple and TTL of every packet, then NEXT',
  handle(pkt) {
    if (pkt.flowKey(key)) sink = (sink + key.srcPort + pkt.ipv4Ttl) | 0;
    return sink === -12345 ? DROP : NEXT;
  },
});
