/**
 * isolation: sandbox — an NF process in bubblewrap forwards as any other, and from inside sees
 * no network interface, cannot write beside its module, sees only its own instance in /dev/shm
 * and next to nothing of /etc. Skipped, with the reason, without root or without bwrap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateTopology } from '../src/topology/load.js';
import { findProgram } from '../src/util/programs.js';
import { runToEnd } from './helpers/run-topology.js';
import { uniqueName } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PEEK = join(root, 'dist/test/fixtures/nfs/peek.js');
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : findProgram('bwrap') === undefined
      ? 'no bubblewrap (apt-get install bubblewrap)'
      : false;

test('a sandboxed NF forwards, and sees no network, no writable file, no other instance', {
  skip,
  timeout: 90_000,
}, async () => {
  const name = uniqueName('sbx').slice(0, 32);
  const N = 5000;
  try {
    const r = await runToEnd(
      validateTopology(
        {
          name,
          manager: { statsInterval: 0 },
          ports: [
            { name: 'g', driver: 'gen', rate: 20_000, count: N, flows: 16 },
            { name: 'sink', driver: 'null' },
          ],
          nfs: [{ name: 'peek', module: PEEK, service: 1, isolation: 'sandbox' }],
          chain: ['peek', 'port:sink'],
        },
        '<test>',
      ),
    );
    assert.deepEqual(r.failed, [], r.logs.join('\n'));
    assert.equal(r.missing, 0, 'every buffer back');
    assert.equal(r.status.ports[1]!.txPackets, N, 'every packet through the sandboxed NF');
    const line = r.logs.find((l) => l.includes('peek: '));
    assert.ok(line, r.logs.join('\n'));
    const seen = JSON.parse(line.slice(line.indexOf('peek: ') + 6)) as {
      interfaces: string[];
      write: string;
      shm: string[] | string;
      etc: string[] | string;
      pid: number;
    };
    assert.deepEqual(
      seen.interfaces.filter((i) => i !== 'lo'),
      [],
      'no network interface but loopback',
    );
    assert.equal(seen.write, 'EROFS', 'its module directory is read-only');
    assert.deepEqual(seen.shm, [`nfchain-${name}`], "only its own instance's shared files");
    assert.deepEqual(seen.etc, ['ld.so.cache'], 'nothing of /etc but the loader cache');
    const nf = r.status.nfs.find((n) => n.name === 'peek')!;
    assert.notEqual(seen.pid, nf.pid, 'a pid namespace of its own (the manager knows it by its host pid)');
  } finally {
    rmSync(join(root, 'dist/test/fixtures/nfs/peek-was-here'), { force: true });
  }
});

test('a sandbox is refused for an inline NF and for a fused group whose members disagree, with the reason', () => {
  const base = { name: 'sbx-bad', ports: [{ name: 'g', driver: 'gen' }] };
  assert.throws(
    () =>
      validateTopology(
        { ...base, nfs: [{ name: 'a', module: PEEK, service: 1, inline: true, isolation: 'sandbox' }], chain: ['a'] },
        '<test>',
      ),
    /nfs\[0\] \(a\)\.isolation: a is inline: it runs in the manager's process, which no sandbox can hold/,
  );
  assert.throws(
    () =>
      validateTopology(
        {
          ...base,
          nfs: [
            { name: 'a', module: PEEK, service: 1, fuse: 'ab', isolation: 'sandbox' },
            { name: 'b', module: PEEK, service: 2, fuse: 'ab' },
          ],
          chain: ['a', 'b'],
        },
        '<test>',
      ),
    /the members of fused group "ab" do not agree on isolation/,
  );
});
