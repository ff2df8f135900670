#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node:test.
// Node 20's `node --test` takes files, not globs, so the list is gathered here.
import { readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(join(root, 'dist'));
files.sort();
const chosen = filter.length ? files.filter((f) => filter.some((s) => f.includes(s))) : files;
if (chosen.length === 0) {
  console.error('run-tests: no test files matched', filter.join(' '));
  process.exit(1);
}
// Cross-process tests pin both cores; run files one at a time so timings do not starve.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...chosen], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
