#!/usr/bin/env node
// Builds the N-API addon in native/ with node-gyp, against the headers of the Node that runs
// this script (no header download). Run by `npm install` / `npm ci` (the "install" script).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');

// The Node install prefix holds include/node/node_api.h on these machines (/usr).
const prefix = resolve(dirname(process.execPath), '..');
const args = ['rebuild', '--release'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

// npm exports the path of its bundled node-gyp to lifecycle scripts; fall back to the copy
// that ships with npm next to this node, then to PATH.
function findNodeGyp() {
  const env = process.env.npm_config_node_gyp;
  if (env && existsSync(env)) return [process.execPath, env];
  const candidates = [join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    const req = createRequire(import.meta.url);
    candidates.push(req.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed locally */
  }
  for (const c of candidates) if (existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

const [cmd, ...pre] = findNodeGyp();
const r = spawnSync(cmd, [...pre, ...args], { cwd: nativeDir, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('nfchain: building the native addon failed (native/). It needs python3, make and a C compiler,');
  console.error('and the Node headers (include/node/node_api.h under the Node prefix, or npm config nodedir).');
  process.exit(r.status ?? 1);
}
