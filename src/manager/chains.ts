/**
 * The manager's chains (cold): their names (the chain table in shared memory holds only hops,
 * by chain id; 0 is the default chain), setting one while traffic flows, and listing them.
 */
import { NfcError } from '../errors.js';
import type { InstanceView } from '../shm/instance.js';
import { MAX_CHAINS, MAX_HOPS, MAX_SERVICES } from '../shm/instance-layout.js';
import { readChain, writeChain, type Hop } from '../chain/chain-table.js';
import type { Topology } from '../topology/types.js';

const CHAIN_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export class Chains {
  /** chain names by id; 0 is the default chain */
  names: string[];

  constructor(private readonly topo: Topology) {
    this.names = ['default', ...topo.chains.map((c) => c.name)];
  }

  /** The topology's default chain (0) and named chains (1..) into the chain table. */
  writeAll(inst: InstanceView): void {
    const all = [this.topo.chain, ...this.topo.chains.map((c) => c.hops)];
    all.forEach((hops, c) => {
      writeChain(
        inst,
        c,
        hops.map(
          (h): Hop => (h.kind === 'service' ? { kind: 'service', id: h.service } : { kind: 'port', id: h.port }),
        ),
      );
    });
  }

  /**
   * Sets (or makes) a named chain: hops are a service id, an NF name of the topology or
   * port:<name>. The table is written hops first, then the length. Returns the chain's id.
   */
  set(inst: InstanceView, name: string, hops: readonly (string | number)[]): number {
    if (!CHAIN_NAME.test(name))
      throw new NfcError('NFC_ERR_CHAIN', `chain name "${name}": use [a-z0-9][a-z0-9_-]{0,31}`);
    if (hops.length < 1 || hops.length > MAX_HOPS)
      throw new NfcError('NFC_ERR_CHAIN', `a chain has 1..${MAX_HOPS} hops`);
    const parsed = hops.map((h): Hop => {
      if (typeof h === 'number' || /^\d+$/.test(h)) {
        const s = Number(h);
        if (s < 1 || s >= MAX_SERVICES)
          throw new NfcError('NFC_ERR_CHAIN', `hop ${h}: services are 1..${MAX_SERVICES - 1}`);
        return { kind: 'service', id: s };
      }
      if (h.startsWith('port:')) {
        const p = this.topo.ports.findIndex((x) => x.name === h.slice(5));
        if (p < 0) throw new NfcError('NFC_ERR_NOT_FOUND', `hop ${h}: no such port`);
        return { kind: 'port', id: p };
      }
      const nf = this.topo.nfs.find((x) => x.name === h);
      if (!nf) throw new NfcError('NFC_ERR_CHAIN', `hop ${h}: not a service id, an NF name or port:<name>`);
      return { kind: 'service', id: nf.service };
    });
    let c = this.names.indexOf(name);
    if (c < 0) {
      if (this.names.length >= MAX_CHAINS) throw new NfcError('NFC_ERR_LIMIT', `at most ${MAX_CHAINS} chains`);
      c = this.names.length;
      this.names.push(name);
    }
    writeChain(inst, c, parsed);
    return c;
  }

  /** Every chain with its hops as text (`service 2`, `port:out`). */
  list(inst: InstanceView): { id: number; name: string; hops: string[] }[] {
    return this.names.map((name, c) => ({
      id: c,
      name,
      hops: readChain(inst, c).map((h) =>
        h.kind === 'service' ? `service ${h.id}` : `port:${this.topo.ports[h.id]?.name ?? h.id}`,
      ),
    }));
  }
}
