/**
 * The example topology files in examples/ are valid and name NFs that load with their options.
 * (Other files there — an NF's rules or routes beside its topology — are checked by the NF
 * when the topology that names them loads.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadTopology, validateTopology } from '../src/topology/load.js';
import { checkNfs } from '../src/cli/start.js';

const dir = fileURLToPath(new URL('../../examples/', import.meta.url));

/** A topology has a top-level `nfs` (YAML key at the start of a line, or a JSON key). */
const isTopology = (text: string): boolean => /^nfs:/m.test(text) || /"nfs"\s*:/.test(text);

/** The topology with every interface port on `lo`, as af_packet (af_xdp needs a driver that may be absent). */
function withLo(raw: { ports?: { driver?: string; interface?: string }[] }): unknown {
  return {
    ...raw,
    ports: (raw.ports ?? []).map((p) => {
      if (p.driver !== 'af_packet' && p.driver !== 'af_xdp') return p;
      const { queue: _q, ringSize: _r, ...rest } = p as Record<string, unknown>;
      return { ...rest, driver: 'af_packet', interface: 'lo' };
    }),
  };
}

for (const f of readdirSync(dir).filter(
  (x) => /\.(ya?ml|json)$/.test(x) && isTopology(readFileSync(join(dir, x), 'utf8')),
)) {
  test(`examples/${f} is a valid topology whose NFs load`, async () => {
    const path = join(dir, f);
    const text = readFileSync(path, 'utf8');
    // Interfaces the example names (af_packet, af_xdp) need not exist here: everything else is
    // checked as `nfchain start` would, with each interface read as `lo`.
    const raw = parse(text) as { ports?: { driver?: string; interface?: string }[] };
    const real = (raw.ports ?? []).filter((p) => p.driver === 'af_packet' || p.driver === 'af_xdp');
    const t = real.length === 0 ? loadTopology(path) : validateTopology(withLo(raw), path, text);
    assert.ok(t.nfs.length > 0 && t.chain.length > 0);
    await checkNfs(t);
  });
}
