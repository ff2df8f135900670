/**
 * Benchmark NF: parses each packet's headers (the 5-tuple into a reusable key, the TTL) and
 * passes it on with NEXT — the work of a typical header-inspecting NF, without side effects.
 * Per-instance form: several of it can run in one fused group.
 */
import { defineNF, NEXT, DROP, FlowKey } from 'nfchain';

export default defineNF({
  name: 'parse-nf',
  description: 'parses the 5-tuple and TTL of every packet, then NEXT',
  create() {
    const key = new FlowKey();
    let sink = 0;
    return {
      handle(pkt) {
        if (pkt.flowKey(key)) sink = (sink + key.srcPort + pkt.ipv4Ttl) | 0;
        return sink === -12345 ? DROP : NEXT;
      },
    };
  },
});
