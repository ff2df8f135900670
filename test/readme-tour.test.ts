/**
 * The README's tour block, run as written (with 'nfchain' pointed at this build) against a
 * capture made here: the README cannot drift from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PcapWriter } from '../src/pcap/pcap-writer.js';
import { PacketView } from '../src/packet/packet-view.js';
import { synthFlow, writeSynth } from '../src/ports/synth.js';
import { uniqueName } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('README tour runs and moves every packet of a capture through a ring', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a ```js block');
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-tour-'));
  try {
    // A capture of 20 synthetic packets of assorted kinds.
    const buf = new ArrayBuffer(4096);
    const u8 = new Uint8Array(buf);
    const view = new PacketView(buf);
    const w = PcapWriter.create(join(dir, 'capture.pcap'));
    for (let i = 0; i < 20; i++) {
      const len = writeSynth(new DataView(buf), u8, view, 0, 100, synthFlow(i));
      w.write(u8, 0, len, 1_700_000_000 + i, 0);
    }
    w.close();
    const name = uniqueName('tour');
    const code = m[1]!
      .replace("from 'nfchain'", `from ${JSON.stringify(pathToFileURL(join(root, 'dist/src/index.js')).href)}`)
      .replace("ShmDir.create('tour')", `ShmDir.create(${JSON.stringify(name)})`);
    writeFileSync(join(dir, 'tour.mjs'), code);
    const r = spawnSync(process.execPath, ['tour.mjs'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 21, r.stdout);
    assert.match(lines[20]!, /^sent 20, received 20, free buffers 4096 of 4096$/);
    assert.match(lines[0]!, /^4 \d+ (53|80|443|8080) [0-9a-f]+$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
