/**
 * The observer with statuses whose times the test sets: rates over the newest sample at least a
 * quarter second old (a stop shows within half a second), loop load over a second, one history
 * point a second from samples four times as often, drops by cause with their rates.
 */
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { createInstance } from '../shm/instance.js';
import { CounterSet, LoopCounters } from '../shm/instance-layout.js';
import type { ManagerStatus, PortStatus } from '../protocol/messages.js';
import { validateTopology } from '../topology/load.js';
import { Observer, SAMPLE_MS } from './observe.js';
import { uniqueName } from '../../test/helpers/procs.js';

const topo = validateTopology(
  {
    name: 'observe-test',
    ports: [
      { name: 'in', driver: 'gen' },
      { name: 'out', driver: 'null' },
    ],
    nfs: [
      { name: 'fwd', module: fileURLToPath(new URL('../../nfs/simple-forward/index.js', import.meta.url)), service: 1 },
    ],
    chain: ['fwd', 'port:out'],
  },
  '<observe test>',
);

function port(id: number, name: string, rx: number, tx: number, noBuf = 0): PortStatus {
  return {
    id,
    name,
    driver: id === 0 ? 'gen' : 'null',
    rxPackets: rx,
    rxBytes: rx * 64,
    rxNoBuffer: noBuf,
    kernelDrops: 0,
    rxOversize: 0,
    rxMalformed: 0,
    rxTsNormalized: 0,
    txPackets: tx,
    txBytes: tx * 64,
    txDropped: 0,
  };
}

/** Equal to a millionth. */
function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, not ${expected}`);
}

/** A status at `ms` (since 0) with `rx` packets in, as many out, and `noBuf` lost for want of a buffer. */
function status(ms: number, rx: number, noBuf = 0): ManagerStatus {
  return {
    time: ms / 1000,
    ports: [port(0, 'in', rx, 0, noBuf), port(1, 'out', 0, rx)],
    nfs: [],
    services: [],
    rx: {},
    tx: {},
    loops: { rx: { cpu: 0 }, tx: { cpu: 1 } },
  } as unknown as ManagerStatus;
}

test('observer: rates over the last quarter to half second, loop load over a second, a history point a second', () => {
  const inst = createInstance({ name: uniqueName('observe'), pool: { count: 64 }, nfRx: 64, nfTx: 64, ports: 2 });
  try {
    const o = new Observer({
      topo,
      inst,
      chains: () => [{ id: 0, name: 'default', hops: ['port:out'] }],
      entries: new Map(),
    });
    const rxLoop = inst.counters.set(CounterSet.loopRx);
    // 1000 packets a second for 3 s, sampled every SAMPLE_MS; the RX loop idle a quarter of the time.
    let t = 0;
    for (; t <= 3000; t += SAMPLE_MS) {
      rxLoop[LoopCounters.idleMs] = t / 4;
      o.sample(status(t, t));
    }
    t -= SAMPLE_MS; // 3000: the newest sample
    rxLoop[LoopCounters.idleMs] = (t + 100) / 4;
    const steady = o.enrich(status(t + 100, t + 100));
    const pin = steady.ports.find((p) => p.name === 'in')!;
    near(pin.rates?.rxPps, 1000, 'rx pps');
    near(steady.ports.find((p) => p.name === 'out')!.rates?.txPps, 1000, 'tx pps');
    const edge = steady.graph!.edges.find((e) => e.from === 'port:in' && e.to === 'port:out');
    near(edge?.pps, 1000, 'the edge into a port carries what the port sends');
    const rxStats = steady.loopStats!.find((l) => l.loop === 'rx')!;
    near(rxStats.busy, 0.75, 'the RX loop busy');

    // Traffic stops at 3000 (the counters stay). Half a second later the rate shown is 0:
    // the reference sample (3250, at least a quarter second old) is after the stop.
    o.sample(status(3250, 3000));
    o.sample(status(3500, 3000));
    const stopped = o.enrich(status(3500 + 1, 3000));
    near(stopped.ports.find((p) => p.name === 'in')!.rates?.rxPps, 0, 'half a second after the stop');
    // Stopped at 3100, looked at 3300: the window (3000..3300) shows a third of the rate.
    const o2 = new Observer({ topo, inst, chains: () => [], entries: new Map() });
    for (let u = 0; u <= 3000; u += SAMPLE_MS) o2.sample(status(u, u));
    const early = o2.enrich(status(3300, 3100)).ports.find((p) => p.name === 'in')!.rates!.rxPps;
    near(early, 1000 / 3, 'two tenths of a second after the stop');

    // One point a second: samples at 0..3500 every 250 ms give points at 1, 2, 3 s (0 is the base).
    const h = o.history();
    assert.deepEqual(h.time, [1, 2, 3]);
    assert.deepEqual(h.series['port:in:rx'], [1000, 1000, 1000]);
    assert.equal(h.interval, 1);
  } finally {
    inst.dir.remove();
  }
});

test('observer: drops by cause, with the rate of each', () => {
  const inst = createInstance({ name: uniqueName('observe'), pool: { count: 64 }, nfRx: 64, nfTx: 64, ports: 2 });
  try {
    const o = new Observer({ topo, inst, chains: () => [], entries: new Map() });
    o.sample(status(0, 0, 0));
    o.sample(status(250, 250, 50));
    const s = o.enrich(status(500, 500, 100));
    const d = s.drops!.find((x) => x.where === 'port:in' && x.reason === 'no buffer');
    assert.equal(d?.count, 100);
    near(d?.pps, 200, 'no-buffer drops per second');
    near(s.ports.find((p) => p.name === 'in')!.rates!.dropPps, 200, 'the port drop rate');
  } finally {
    inst.dir.remove();
  }
});
