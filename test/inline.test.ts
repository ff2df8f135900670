/**
 * Inline NFs (nfs[].inline): an NF or fused group run by the manager's data-plane loop gives the
 * same packets as the NFs run as processes, works beside NF processes, cannot be scaled, fails
 * start cleanly when its setup throws, and gives every buffer back; bad topologies are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/types.js';
import type { Manager } from '../src/manager/manager.js';
import { NfcError } from '../src/errors.js';
import { capturedPackets, runToEnd, writeSynthCapture } from './helpers/run-topology.js';
import { uniqueName } from './helpers/procs.js';
import { allowedCpus } from '../src/util/cpus.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SORTER = join(root, 'dist/test/fixtures/nfs/sorter.js');
const BAD_SETUP = join(root, 'dist/test/fixtures/nfs/bad-setup.js');

function topo(raw: Record<string, unknown>): Topology {
  return validateTopology({ name: uniqueName('in').slice(0, 32), manager: { statsInterval: 0 }, ...raw }, '<test>');
}

/** The topology to its end (helpers/run-topology.ts), with a hook once it runs and the log lines in `logs`. */
const run = (t: Topology, onRunning?: (m: Manager) => void, logs?: string[]) =>
  runToEnd(t, { ...(onRunning ? { onRunning } : {}), ...(logs ? { logs } : {}) });

test('an inline group gives the packets the same NFs give as processes, beside an NF process', {
  timeout: 90_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-inline-'));
  try {
    const inPath = join(dir, 'in.pcap');
    writeSynthCapture(inPath, 900, (i) => 60 + ((i * 31) % 700));
    const once = async (mode: 'processes' | 'inline') => {
      const out1 = join(dir, `${mode}-1.pcap`);
      const out2 = join(dir, `${mode}-2.pcap`);
      const fuse = mode === 'inline' ? { fuse: 'abc', inline: true } : {};
      const r = await run(
        topo({
          ports: [
            { name: 'in', driver: 'pcap', rx: inPath },
            { name: 'out1', driver: 'pcap', tx: out1 },
            { name: 'out2', driver: 'pcap', tx: out2 },
          ],
          nfs: [
            {
              name: 'a',
              module: SORTER,
              service: 1,
              options: { rules: 'drop,next,tonf:3,tonf:4,out:2,next' },
              ...fuse,
            },
            { name: 'b', module: SORTER, service: 2, options: { rules: 'next' }, ...fuse },
            {
              name: 'c',
              module: SORTER,
              service: 3,
              options: { rules: 'next,next,next,next,next,next,drop' },
              ...fuse,
            },
            { name: 'd', module: SORTER, service: 4, options: { rules: 'tonf:2' } },
          ],
          chain: ['a', 'b', 'c', 'port:out1'],
        }),
      );
      assert.deepEqual(r.failed, [], `no NF failed (${mode})`);
      assert.equal(r.missing, 0, `every buffer back in the pool (${mode})`);
      return { out1: capturedPackets(out1), out2: capturedPackets(out2), status: r.status, logs: r.logs };
    };
    const procs = await once('processes');
    const inl = await once('inline');
    const g = inl.status.nfs.find((n) => n.inline)!;
    assert.ok(g, 'the status shows the inline group');
    assert.equal(g.pid, process.pid, "it runs in the manager's process");
    assert.deepEqual(
      g.members!.map((m) => m.name),
      ['a', 'b', 'c'],
    );
    assert.equal(inl.status.nfs.length, 2, 'the inline group and d');
    assert.ok(procs.out1.length > 0 && procs.out2.length > 0, 'both ports carry packets');
    assert.deepEqual(inl.out1, procs.out1, 'out1: the same packets');
    assert.deepEqual(inl.out2, procs.out2, 'out2: the same packets');
    for (const svc of [1, 2, 3]) {
      const count = (logs: string[]) =>
        logs.find((l) => l.includes(`service ${svc} handled`))?.replace(/.*handled /, '') ?? 'none';
      assert.equal(count(inl.logs), count(procs.logs), `service ${svc} handled the same packets`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an inline NF cannot be scaled; its packets pass, every buffer comes back, the CPUs are given back', {
  timeout: 60_000,
}, async () => {
  let scaleError: unknown;
  const cpusBefore = allowedCpus();
  let cpusDuring: number[] = [];
  const N = 20_000;
  const r = await run(
    topo({
      ports: [
        { name: 'g', driver: 'gen', rate: 200_000, count: N, flows: 64 },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [{ name: 'fwd', module: SORTER, service: 1, inline: true }],
      chain: ['fwd', 'port:sink'],
    }),
    (m) => {
      cpusDuring = allowedCpus();
      m.scale('fwd', 2).then(
        () => {},
        (err: unknown) => {
          scaleError = err;
        },
      );
    },
  );
  assert.ok(scaleError instanceof NfcError && scaleError.code === 'NFC_ERR_SCALE', String(scaleError));
  assert.match((scaleError as Error).message, /runs inline, in the manager's loop/);
  assert.equal(r.status.ports[1]!.txPackets, N, 'every packet passed');
  assert.equal(r.missing, 0);
  if (cpusBefore.length > 1) {
    assert.ok(!cpusDuring.includes(r.status.loops.rx.cpu), "the main thread ran off the loop's CPU");
  }
  assert.deepEqual(allowedCpus(), cpusBefore, "the main thread's CPUs are back");
});

test('an inline NF whose setup throws stops the start with its reason', { timeout: 60_000 }, async () => {
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 1000, count: 10 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [{ name: 'bad', module: BAD_SETUP, service: 1, inline: true }],
    chain: ['bad', 'port:sink'],
  });
  const logs: string[] = [];
  await assert.rejects(
    runTopology(t, { signals: false, stats: null, log: (l) => logs.push(l), nfOutput: (l) => logs.push(l) }),
    /inline NF bad: bad-setup: \/nonexistent\/config\.yaml does not exist/,
  );
  assert.equal(existsSync(`/dev/shm/nfchain-${t.name}`), false, 'shared files removed');
});

test('inline is refused for two units, part of a group, several instances, own cores, or split loops', () => {
  const base =
    (nfs: Record<string, unknown>[], manager: Record<string, unknown> = {}) =>
    () =>
      validateTopology(
        { name: 'x', manager, ports: [{ name: 'g', driver: 'gen' }], nfs, chain: nfs.map((n) => n.name) },
        'inline.yaml',
      );
  const nf = (name: string, service: number, extra: Record<string, unknown> = {}) => ({
    name,
    module: SORTER,
    service,
    ...extra,
  });
  assert.throws(
    base([nf('a', 1, { inline: true }), nf('b', 2, { inline: true })]),
    /nfs\[1\] \(b\)\.inline: NF b and NF a are both inline: the manager's loop runs one/,
  );
  assert.throws(
    base([nf('a', 1, { inline: true, fuse: 'g' }), nf('b', 2, { fuse: 'g' })]),
    /nfs\[1\] \(b\)\.inline: b is in fused group "g", which runs inline, but says nothing of it/,
  );
  assert.throws(
    base([nf('a', 1, { inline: true, instances: 2 })]),
    /nfs\[0\] \(a\)\.instances: 2 instances, but an inline NF runs once/,
  );
  assert.throws(
    base([nf('a', 1, { inline: true, cores: 0 })]),
    /nfs\[0\] \(a\)\.cores: an inline NF runs on the manager loop's CPU/,
  );
  assert.throws(
    base([nf('a', 1, { inline: true })], { dataplane: 'split' }),
    /manager\.dataplane: "split", but NF a runs inline/,
  );
});
