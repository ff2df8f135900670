/** The example topology files in examples/ are valid and name NFs that load with their options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../src/topology/load.js';
import { checkNfs } from '../src/cli/start.js';

const dir = fileURLToPath(new URL('../../examples/', import.meta.url));

for (const f of readdirSync(dir).filter((x) => /\.(ya?ml|json)$/.test(x))) {
  test(`examples/${f} is a valid topology whose NFs load`, async () => {
    const t = loadTopology(join(dir, f));
    assert.ok(t.nfs.length > 0 && t.chain.length > 0);
    await checkNfs(t);
  });
}
