/**
 * Every error code is declared once (src/errors.ts), documented once (docs/errors.md), and
 * every code thrown anywhere in src/, nfs/ and bench/ is a declared one, and every declared one is used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from './errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('error codes: declared, documented and used agree', () => {
  const declared = Object.keys(ErrorCodes).sort();
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(NFC_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...documented].sort(), declared, 'docs/errors.md has one table row per code in src/errors.ts');
  assert.equal(new Set(documented).size, documented.length, 'no code documented twice');
  const used = new Set<string>();
  for (const f of ['src', 'nfs', 'bench'].flatMap((d) => sources(join(ROOT, d)))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/'(NFC_ERR_[A-Z_]+)'/g)) used.add(m[1]!);
  }
  const unknown = [...used].filter((c) => !(c in ErrorCodes));
  assert.deepEqual(unknown, [], 'codes used in src/, nfs/ and bench/ but not declared in src/errors.ts');
  const unused = declared.filter((c) => !used.has(c));
  assert.deepEqual(unused, [], 'codes declared in src/errors.ts that nothing in src/, nfs/ or bench/ uses');
});
