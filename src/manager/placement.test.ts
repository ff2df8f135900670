/** Where the loops run: one manager loop or two, and a CPU per loop when there are enough. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { validateTopology } from '../topology/load.js';
import { dataplaneMode, placeLoops } from './placement.js';

const FWD = fileURLToPath(new URL('../../../nfs/simple-forward/index.ts', import.meta.url));

function topo(nfs: number, extra: { fuse?: boolean; manager?: Record<string, unknown>; cores?: number[] } = {}) {
  return validateTopology(
    {
      name: 'place',
      manager: extra.manager ?? {},
      ports: [
        { name: 'gen', driver: 'gen' },
        { name: 'sink', driver: 'null' },
      ],
      nfs: Array.from({ length: nfs }, (_, i) => ({
        name: `n${i + 1}`,
        module: FWD,
        service: i + 1,
        ...(extra.fuse ? { fuse: 'g' } : {}),
        ...(i === 0 && extra.cores ? { cores: extra.cores } : {}),
      })),
      chain: Array.from({ length: nfs }, (_, i) => i + 1),
    },
    '<test>',
  );
}

test('auto: RX and TX in one loop when that gives each loop a core; a CPU per loop then', () => {
  const p = placeLoops(topo(3, { fuse: true }), [0, 1]);
  assert.equal(p.dataplane, 'combined');
  assert.deepEqual([p.rx, p.tx], [[0], [0]]);
  assert.equal(p.launches.length, 1, 'the fused group is one launch');
  assert.deepEqual(p.launches[0]!.cores, [1]);
  assert.deepEqual(
    p.launches[0]!.members!.map((m) => m.name),
    ['n1', 'n2', 'n3'],
  );
  assert.match(p.notes.join('\n'), /RX\+TX on CPU 0, g on CPU 1/);
});

test('auto: more loops than cores even combined: two manager loops, nothing pinned, and the log says why', () => {
  const p = placeLoops(topo(3), [0, 1]);
  assert.equal(p.dataplane, 'split');
  assert.equal(p.rx, undefined);
  assert.ok(p.launches.every((l) => l.cores === undefined));
  assert.match(p.notes.join('\n'), /5 packet loops \(RX, TX and 3 NF processes\) share 2 cores.*nfs\[\]\.fuse/);
});

test('enough cores for all: two manager loops, each loop on its own CPU', () => {
  const p = placeLoops(topo(2), [0, 1, 2, 3]);
  assert.equal(p.dataplane, 'split');
  assert.deepEqual([p.rx, p.tx], [[0], [1]]);
  assert.deepEqual(
    p.launches.map((l) => l.cores),
    [[2], [3]],
  );
});

test('a wire port keeps RX and TX apart; cores given or placement none: the kernel places the rest', () => {
  const wire = topo(1);
  wire.ports[0] = { name: 'eth', driver: 'af_packet', interface: 'lo' } as (typeof wire.ports)[number];
  assert.equal(dataplaneMode(wire, 1, 2), 'split');
  const given = placeLoops(topo(1, { cores: [1] }), [0, 1]);
  assert.equal(given.dataplane, 'combined');
  assert.equal(given.rx, undefined, 'the manager loop is not pinned when the topology pins something');
  assert.deepEqual(given.launches[0]!.cores, [1], 'the given cores stay');
  const none = placeLoops(topo(1, { manager: { placement: 'none' } }), [0, 1]);
  assert.equal(none.rx, undefined);
  assert.equal(none.launches[0]!.cores, undefined);
  assert.equal(placeLoops(topo(1, { manager: { dataplane: 'split' } }), [0, 1]).dataplane, 'split');
  assert.equal(placeLoops(topo(3, { manager: { dataplane: 'combined' } }), [0, 1]).dataplane, 'combined');
});
