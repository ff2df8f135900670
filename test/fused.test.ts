/**
 * Fused groups (nfs[].fuse): NFs in one process give what the same NFs give as separate
 * processes, packet for packet, with verdicts of every kind, into and out of the group; a kill -9
 * of a group process under load loses no buffer; two instances of one NF in one process keep
 * their own state; a verdict loop inside a group ends, counted; `nfchain status` shows groups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/types.js';
import type { Manager } from '../src/manager/manager.js';
import type { ManagerStatus } from '../src/protocol/messages.js';
import { capturedPackets, runToEnd, writeSynthCapture } from './helpers/run-topology.js';
import { uniqueName, waitFor } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SORTER = join(root, 'dist/test/fixtures/nfs/sorter.js');
const MODULE_FORM = join(root, 'dist/test/fixtures/nfs/moduleform.js');
const ECHO = join(root, 'dist/test/fixtures/nfs/echo.js');

function topo(raw: Record<string, unknown>): Topology {
  return validateTopology({ name: uniqueName('fz').slice(0, 32), manager: { statsInterval: 0 }, ...raw }, '<test>');
}

/** The topology to its end (helpers/run-topology.ts), with a hook once it runs and the log lines in `logs`. */
const run = (t: Topology, onRunning?: (m: Manager) => void, logs?: string[]) =>
  runToEnd(t, { ...(onRunning ? { onRunning } : {}), ...(logs ? { logs } : {}) });

test('a fused group and the same NFs as separate processes give the same packets out of every port', {
  timeout: 90_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-fused-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const N = 1200;
    writeSynthCapture(inPath, N, (i) => 60 + ((i * 53) % 900));
    // a (1) → b (2) → c (3) → port out1 is the chain; a sends by source port: drop, next,
    // toNF(3) (a member, skipping b), toNF(4) (d, outside the group; d sends back to b), out(2), next.
    const run1 = async (fused: boolean, tag: string) => {
      const out1 = join(dir, `${tag}-1.pcap`);
      const out2 = join(dir, `${tag}-2.pcap`);
      const fuse = fused ? { fuse: 'abc' } : {};
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
      assert.deepEqual(r.failed, [], `no NF failed (${tag})`);
      assert.equal(r.missing, 0, `every buffer back in the pool (${tag})`);
      return { out1: capturedPackets(out1), out2: capturedPackets(out2), status: r.status, logs: r.logs };
    };
    const sep = await run1(false, 'separate');
    const fz = await run1(true, 'fused');
    assert.equal(sep.status.nfs.length, 4, 'four NF processes when separate');
    assert.equal(fz.status.nfs.length, 2, 'the group and d when fused');
    const group = fz.status.nfs.find((n) => n.members)!;
    assert.deepEqual(
      group.members!.map((m) => `${m.name}:${m.service}`),
      ['a:1', 'b:2', 'c:3'],
      'the group lists its members in chain order',
    );
    assert.ok(sep.out1.length > 0 && sep.out2.length > 0, 'both ports carry packets');
    assert.ok(sep.out1.length + sep.out2.length < N, 'some packets were dropped (by a and c)');
    assert.deepEqual(fz.out1, sep.out1, 'out1: the same packets');
    assert.deepEqual(fz.out2, sep.out2, 'out2: the same packets');
    assert.ok((group.counters.fused ?? 0) > 0, 'hops were taken inside the group');
    // Each member handled as many packets as its separate process did (each member logs its own count).
    for (const svc of [1, 2, 3, 4]) {
      const count = (logs: string[]) =>
        logs.find((l) => l.includes(`service ${svc} handled`))?.replace(/.*handled /, '') ?? 'none';
      assert.equal(count(fz.logs), count(sep.logs), `service ${svc} handled the same packets`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of a fused group process under load: the other instance carries on, every buffer comes back', {
  timeout: 90_000,
}, async () => {
  const N = 400_000;
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 100_000, count: N, flows: 512 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'x', module: SORTER, service: 1, instances: 2, fuse: 'pair' },
      { name: 'y', module: SORTER, service: 2, instances: 2, fuse: 'pair' },
    ],
    chain: ['x', 'y', 'port:sink'],
  });
  let victim = 0;
  let txAtKill = 0;
  let txLater = 0;
  const r = await run(t, (m) => {
    void (async () => {
      await new Promise((res) => setTimeout(res, 800));
      const s = m.status();
      assert.equal(s.nfs.length, 2, 'two group processes');
      victim = s.nfs[0]!.pid;
      txAtKill = s.ports[1]!.txPackets;
      process.kill(victim, 'SIGKILL');
      await waitFor(() => !m.status().nfs.some((n) => n.pid === victim), 5000, 'the manager to notice');
      await new Promise((res) => setTimeout(res, 500));
      txLater = m.status().ports[1]!.txPackets;
    })();
  });
  assert.ok(victim > 0, 'a group process was killed');
  assert.ok(txLater > txAtKill, 'packets kept flowing after the kill');
  assert.equal(r.missing, 0, 'every buffer back in the pool');
  assert.ok(
    r.logs.some((l) => /pair#\d+ (died|killed) .*reclaimed \d+ buffers/.test(l)),
    'the reclaim of the group was logged',
  );
  assert.equal(r.status.ports[0]!.rxPackets, N);
  assert.equal(r.status.nfs.length, 1, 'one group process left');
  assert.deepEqual(r.status.services.map((s) => s.service).sort(), [1, 2], 'both services still served');
});

test('two instances of one NF in one process keep separate state; a verdict loop in a group circles, not stalls', {
  timeout: 60_000,
}, async () => {
  const N = 3000;
  // p (1) drops packets with an even source port; q (2) is the same module: it sees only the rest.
  // r (3) sends what q gives it to itself, decrementing the TTL each time: it circles inside the
  // group, once round the group's ring every MAX_GROUP_HOPS members, until its TTL runs out.
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 50_000, count: N, flows: 64 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'p', module: SORTER, service: 1, options: { rules: 'drop,next' }, fuse: 'twins' },
      { name: 'q', module: SORTER, service: 2, options: { rules: 'next,next,next,tonf:3' }, fuse: 'twins' },
      { name: 'r', module: SORTER, service: 3, options: { rules: 'tonf:3' }, fuse: 'twins' },
    ],
    chain: ['p', 'q', 'port:sink'],
  });
  const r = await run(t);
  assert.equal(r.missing, 0, 'every buffer back in the pool');
  const handled = (svc: number) =>
    Number(r.logs.find((l) => l.includes(`service ${svc} handled`))?.replace(/.*handled /, '') ?? -1);
  const g = r.status.nfs[0]!;
  const sent = r.status.ports[1]!.txPackets;
  assert.equal(handled(1), N, 'p saw every packet');
  assert.ok(handled(2) > 0 && handled(2) < N, 'p dropped some, not all');
  assert.equal(handled(2) + (N - handled(2)), N);
  const looped = handled(2) - sent;
  assert.ok(looped > 0, 'q sent some packets to r');
  // TTL 64 from the generator: p and q take it to 62; r decrements it 62 times and drops it at 0.
  assert.equal(handled(3), looped * 63, 'r handled each looping packet until its TTL ran out');
  assert.ok(g.counters.yielded! >= looped, 'each looping packet went round the group ring');
  assert.equal(g.counters.dropVerdict!, N - sent, 'every packet not sent was dropped by a verdict');
});

test('a module-form NF cannot be fused with itself; the error names the fix', { timeout: 60_000 }, async () => {
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 1000, count: 10 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'm1', module: MODULE_FORM, service: 1, fuse: 'mm' },
      { name: 'm2', module: MODULE_FORM, service: 2, fuse: 'mm' },
    ],
    chain: ['m1', 'm2', 'port:sink'],
  });
  const logs: string[] = [];
  await assert.rejects(
    runTopology(t, { signals: false, stats: null, log: (l) => logs.push(l), nfOutput: (l) => logs.push(l) }),
    /failed to start/,
  );
  assert.ok(
    logs.some((l) => /appears twice, but it keeps its state at module scope/.test(l)),
    `the NF says why (${logs.join(' | ')})`,
  );
});

test('a message to a member service reaches that member, one to the NF id every member; scaling a member scales the group', {
  timeout: 90_000,
}, async () => {
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 1000 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'e1', module: ECHO, service: 1, fuse: 'echoes' },
      { name: 'e2', module: ECHO, service: 2, fuse: 'echoes' },
    ],
    chain: ['e1', 'e2', 'port:sink'],
  });
  let scaled: { before: number; instances: number; started: number[] } | undefined;
  let during: ManagerStatus | undefined;
  let sent: string[] = [];
  const logs: string[] = [];
  const r = await run(
    t,
    (m) => {
      void (async () => {
        try {
          const id = m.status().nfs[0]!.nfId;
          sent = [
            m.messenger().send({ service: 2 }, { to: 'two' }),
            m.messenger().send({ instance: id }, { to: 'all' }),
          ];
          await waitFor(() => logs.filter((l) => /got \{"to":"all"\}/.test(l)).length === 2, 10_000, 'both members');
          scaled = await m.scale('e2', 2);
          during = m.status();
        } catch (err) {
          logs.push(`test: ${(err as Error).message}`);
        } finally {
          void m.stop('test over');
        }
      })();
    },
    logs,
  );
  assert.deepEqual(sent, ['ok', 'ok'], 'both messages were taken');
  assert.deepEqual(
    r.logs.filter((l) => /got \{"to":"two"\}/.test(l)).map((l) => l.replace(/.*(service \d+).*/, '$1')),
    ['service 2'],
    'the message to service 2 reached e2 only',
  );
  assert.deepEqual(
    r.logs
      .filter((l) => /got \{"to":"all"\}/.test(l))
      .map((l) => l.replace(/.*(service \d+).*/, '$1'))
      .sort(),
    ['service 1', 'service 2'],
    'the message to the NF id reached both members',
  );
  assert.ok(scaled, 'the scale request was answered');
  assert.equal(scaled!.before, 1);
  assert.equal(scaled!.instances, 2);
  assert.equal(during!.nfs.length, 2, 'two group processes');
  assert.ok(
    during!.nfs.every((n) => n.members?.length === 2),
    'each is the whole group',
  );
  for (const svc of [1, 2]) {
    assert.equal(during!.services.find((s) => s.service === svc)?.nfs.length, 2, `service ${svc} has both processes`);
  }
  assert.equal(r.missing, 0);
});
