/**
 * The layer order of src/ (docs/architecture.md, "Layers"): a module imports only from its own
 * layer or lower ones. Checked over every source file's relative imports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lowest first; a directory (or a top-level file) may import from any entry at or before its own. */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'native', 'util'],
  ['shm'],
  ['packet', 'pcap'],
  ['flow'],
  ['chain'],
  ['ports'],
  ['protocol', 'control'],
  ['topology', 'testbed'],
  ['nflib'],
  ['manager', 'http'],
  ['cli', 'index'],
];

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function layerOf(unit: string): number {
  const i = LAYERS.findIndex((l) => l.includes(unit));
  assert.ok(i >= 0, `src/${unit} is in no layer: add it to LAYERS and to docs/architecture.md`);
  return i;
}

/** The top-level unit of a path under src/: its directory, or a file's name without .ts/.js. */
function unitOf(relPath: string): string {
  const first = relPath.split(sep)[0]!;
  return first.replace(/\.(ts|js)$/, '');
}

test('no module imports from a higher layer', () => {
  const violations: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      if (!e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
      const from = unitOf(relative(SRC, p));
      const text = readFileSync(p, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(SRC, normalize(join(dirname(p), m[1]!)));
        if (target.startsWith('..')) continue; // bench/ and nfs/ are not layers of src/ (cli/bench.ts loads benchmarks on demand)
        const to = unitOf(target);
        if (to !== from && layerOf(to) > layerOf(from))
          violations.push(`${relative(SRC, p)} imports ${m[1]} (${to} is above ${from})`);
      }
    }
  };
  walk(SRC);
  assert.deepEqual(violations, []);
});
