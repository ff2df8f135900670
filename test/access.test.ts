/**
 * Read-only NFs (nfs[].access: read-only, nfchain nf --access read-only): the pool is mapped
 * without write permission and every packet goes back to the manager's TX loop with its
 * verdict. A read-only NF gives the same packets out of every port as the same NF read-write,
 * verdicts of every kind; one that writes a packet dies of it, alone, and every buffer comes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/types.js';
import { capturedPackets, runToEnd, writeSynthCapture } from './helpers/run-topology.js';
import { uniqueName } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const JUDGE = join(root, 'dist/test/fixtures/nfs/judge.js');

function topo(raw: Record<string, unknown>): Topology {
  return validateTopology({ name: uniqueName('ro').slice(0, 32), manager: { statsInterval: 0 }, ...raw }, '<test>');
}

test('a read-only NF gives the same packets out of every port as the same NF read-write, verdicts of every kind', {
  timeout: 90_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-ro-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const N = 1500;
    writeSynthCapture(inPath, N, (i) => 60 + ((i * 37) % 800));
    // a (1) → b (2) → port out1; a: drop, next, toNF(3) (c sends on to b), out(2), next.
    const once = async (access: 'read-write' | 'read-only') => {
      const out1 = join(dir, `${access}-1.pcap`);
      const out2 = join(dir, `${access}-2.pcap`);
      const r = await runToEnd(
        topo({
          ports: [
            { name: 'in', driver: 'pcap', rx: inPath },
            { name: 'out1', driver: 'pcap', tx: out1 },
            { name: 'out2', driver: 'pcap', tx: out2 },
          ],
          nfs: [
            { name: 'a', module: JUDGE, service: 1, access, options: { rules: 'drop,next,tonf:3,out:2,next' } },
            { name: 'b', module: JUDGE, service: 2 },
            { name: 'c', module: JUDGE, service: 3, access, options: { rules: 'tonf:2' } },
          ],
          chain: ['a', 'b', 'port:out1'],
        }),
      );
      assert.deepEqual(r.failed, [], `no NF failed (${access}): ${r.logs.join('\n')}`);
      assert.equal(r.missing, 0, `every buffer back in the pool (${access})`);
      const a = r.status.nfs.find((n) => n.name === 'a')!;
      return { out1: capturedPackets(out1), out2: capturedPackets(out2), a: a.counters, access: a.access };
    };
    const rw = await once('read-write');
    const ro = await once('read-only');
    assert.ok(
      rw.out1.length > 0 && rw.out2.length > 0 && rw.out1.length + rw.out2.length < N,
      'both ports, some dropped',
    );
    assert.equal(ro.access, 'read-only', 'status says a is read-only');
    assert.equal(rw.access, undefined, 'and says nothing of a read-write NF');
    assert.deepEqual(ro.out1, rw.out1, 'out1: the same packets');
    assert.deepEqual(ro.out2, rw.out2, 'out2: the same packets');
    for (const k of ['rx', 'forwarded', 'out', 'dropVerdict'] as const) {
      assert.equal(ro.a[k], rw.a[k], `NF a's ${k} counter: the same whoever routes its packets`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a read-only NF that writes a packet dies of it alone; the manager reclaims it and every buffer comes back', {
  timeout: 90_000,
}, async () => {
  const N = 20_000;
  const r = await runToEnd(
    topo({
      ports: [
        { name: 'g', driver: 'gen', rate: 50_000, count: N, flows: 64 },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        { name: 'w', module: JUDGE, service: 1, access: 'read-only', options: { 'write-after': 1000 } },
        { name: 'x', module: JUDGE, service: 2 },
      ],
      chain: ['w', 'x', 'port:sink'],
    }),
  );
  assert.equal(r.missing, 0, 'every buffer back in the pool');
  const all = r.logs.join('\n');
  assert.match(all, /NF process w exited with SIGSEGV/, `it died of the write:\n${all}`);
  assert.match(all, /NF w#\d+ died .*reclaimed \d+ buffers/, 'the manager took back what it held');
  const x = r.status.nfs.find((n) => n.name === 'x');
  assert.ok(x && x.state === 'running', 'the other NF runs on');
  // Before it died, w handed on what it judged: x received packets through the TX loop.
  assert.ok((x.counters.rx ?? 0) >= 900, `x received what w passed before its write (${x.counters.rx})`);
});

test('read-only is refused for fused and inline NFs, with the reason', () => {
  assert.throws(
    () =>
      topo({
        ports: [{ name: 'g', driver: 'gen' }],
        nfs: [
          { name: 'a', module: JUDGE, service: 1, access: 'read-only', fuse: 'ab' },
          { name: 'b', module: JUDGE, service: 2, fuse: 'ab' },
        ],
        chain: ['a', 'b'],
      }),
    /nfs\[0\] \(a\)\.access: a is read-only but in fused group "ab"/,
  );
});

test('an NF that stops taking packets (its handler spins) is killed after manager.stallTimeout; the rest runs on', {
  timeout: 90_000,
}, async () => {
  const N = 30_000;
  const t = topo({
    manager: { statsInterval: 0, stallTimeout: 1 },
    ports: [
      { name: 'g', driver: 'gen', rate: 20_000, count: N, flows: 64 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 's', module: JUDGE, service: 1, options: { 'spin-after': 300 } },
      { name: 'x', module: JUDGE, service: 2 },
    ],
    chain: ['s', 'x', 'port:sink'],
  });
  const r = await runToEnd(t);
  const all = r.logs.join('\n');
  assert.match(
    all,
    /NF s#\d+ stalled: \d+ packets waiting, none taken for \d+\.\d s \(manager\.stallTimeout\): killing it/,
    all,
  );
  assert.match(all, /NF s#\d+ killed \(it stalled for \d+\.\d s\): reclaimed \d+ buffers/, 'killed and reclaimed');
  assert.equal(r.missing, 0, 'every buffer back in the pool');
  const x = r.status.nfs.find((n) => n.name === 'x');
  assert.ok(x && x.state === 'running', 'the other NF runs on');
  assert.ok(!r.status.nfs.some((n) => n.name === 's'), 's is gone');
});
