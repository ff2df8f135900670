/**
 * The manager with real NF processes: a capture through a 3-NF chain compared packet by
 * packet, every verdict and drop reason through the counters, kill -9 of an instance under
 * load, NF TTL and packet limit, and checks that stop before anything starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/types.js';
import { PcapReader } from '../src/pcap/pcap-reader.js';
import { PcapWriter } from '../src/pcap/pcap-writer.js';
import { PacketView } from '../src/packet/packet-view.js';
import { FlowKey } from '../src/packet/flow-key.js';
import { synthFlow, writeSynth, SynthKind, type SynthFlow } from '../src/ports/synth.js';
import { Manager } from '../src/manager/manager.js';
import { checkBusyPoll } from '../src/manager/placement.js';
import { IH, SERVICE_BUCKETS } from '../src/shm/instance-layout.js';
import { standaloneTopology } from '../src/cli/commands.js';
import { NfcError } from '../src/errors.js';
import { uniqueName, waitFor } from './helpers/procs.js';
import type {
  FlowAddedReply,
  FlowListReply,
  FlowTableStats,
  ManagerStatus,
  MessageReply,
  ScaledReply,
} from '../src/protocol/messages.js';
import { ControlClient } from '../src/control/socket.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const VERDICT_TS = join(root, 'test/fixtures/nfs/verdict.ts');
const VERDICT_JS = join(root, 'dist/test/fixtures/nfs/verdict.js');
const KEEPER_JS = join(root, 'dist/test/fixtures/nfs/keeper.js');
const TAGGER_JS = join(root, 'dist/test/fixtures/nfs/tagger.js');
const TALKER_JS = join(root, 'dist/test/fixtures/nfs/talker.js');
const LISTENER_JS = join(root, 'dist/test/fixtures/nfs/listener.js');
const MAIN = join(root, 'dist/src/cli/main.js');

function topo(raw: Record<string, unknown>): Topology {
  return validateTopology({ name: uniqueName('m').slice(0, 32), manager: { statsInterval: 0 }, ...raw }, '<test>');
}

async function run(t: Topology, untilDone = true): Promise<{ status: ManagerStatus; missing: number; logs: string[] }> {
  const logs: string[] = [];
  const r = await runTopology(t, {
    untilDone,
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
  });
  assert.ok(r.manager.finalStatus, 'status taken at stop');
  assert.equal(existsSync(`/dev/shm/nfchain-${t.name}`), false, 'shared files removed');
  return { status: r.manager.finalStatus!, missing: r.manager.missingAtExit, logs };
}

/**
 * Writes a capture of synthetic packets to `path`: `each(emit)` calls emit(flow, frame size,
 * seconds, nanoseconds) once per packet, in order (cold; for tests).
 */
function writeCapture(
  path: string,
  each: (emit: (f: SynthFlow, size: number, sec: number, nsec: number) => void) => void,
): void {
  const buf = new ArrayBuffer(4096);
  const u8 = new Uint8Array(buf);
  const dv = new DataView(buf);
  const view = new PacketView(buf);
  const w = PcapWriter.create(path, { nanosecond: true });
  each((f, size, sec, nsec) => w.write(u8, 0, writeSynth(dv, u8, view, 0, size, f), sec, nsec));
  w.close();
}

const nf = (
  name: string,
  service: number,
  options: Record<string, unknown>,
  module = VERDICT_JS,
  instances = 1,
): Record<string, unknown> => ({ name, module, service, instances, options });

test('a capture through a 3-NF chain comes out packet for packet as expected (TTL decremented once)', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-golden-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const outPath = join(dir, 'out.pcap');
    const buf = new ArrayBuffer(4096);
    const u8 = new Uint8Array(buf);
    const dv = new DataView(buf);
    const view = new PacketView(buf);
    const expected: { bytes: Uint8Array; sec: number; nsec: number }[] = [];
    const w = PcapWriter.create(inPath, { nanosecond: true });
    const kinds = [
      SynthKind.IPV4_UDP,
      SynthKind.IPV4_TCP,
      SynthKind.VLAN_IPV4_UDP,
      SynthKind.QINQ_IPV4_TCP,
      SynthKind.IPV4_OPTIONS_UDP,
    ];
    for (let i = 0; i < 300; i++) {
      const len = writeSynth(dv, u8, view, 0, 60 + ((i * 37) % 1400), synthFlow(i, kinds));
      w.write(u8, 0, len, 1_700_000_000 + (i >> 4), (i * 1000) % 1e9);
      // Expected: TTL - 1 and the IPv4 header checksum recomputed from scratch (here, byte by byte).
      const e = u8.slice(0, len);
      view.reset(0, len);
      const l3 = view.l3Offset;
      e[l3 + 8] = e[l3 + 8]! - 1;
      e[l3 + 10] = 0;
      e[l3 + 11] = 0;
      let sum = 0;
      for (let k = 0; k < (e[l3]! & 15) * 4; k += 2) sum += (e[l3 + k]! << 8) | e[l3 + k + 1]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      e[l3 + 10] = (~sum >> 8) & 0xff;
      e[l3 + 11] = ~sum & 0xff;
      expected.push({ bytes: e, sec: 1_700_000_000 + (i >> 4), nsec: (i * 1000) % 1e9 });
    }
    w.close();
    const t = topo({
      ports: [
        { name: 'in', driver: 'pcap', rx: inPath },
        { name: 'out', driver: 'pcap', tx: outPath },
      ],
      nfs: [
        nf('ttl', 1, { 'ttl-dec': true }, VERDICT_TS),
        nf('fwd', 2, {}, VERDICT_TS),
        nf('last', 3, { verdict: 'out', dest: 1 }, VERDICT_TS),
      ],
      chain: ['ttl', 'fwd', 'last'],
    });
    const { status, missing } = await run(t);
    assert.equal(missing, 0, 'every buffer back in the pool');
    assert.equal(status.ports[1]!.txPackets, 300);
    const got = [...PcapReader.open(outPath)];
    assert.equal(got.length, expected.length);
    got.forEach((p, i) => {
      assert.deepEqual(p.data, expected[i]!.bytes, `packet ${i}`);
      assert.equal(p.tsSec, expected[i]!.sec);
      assert.equal(p.tsNsec, expected[i]!.nsec);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NEXT through a chain of 5 NFs, then out a port: each hop gets what the one before forwarded', {
  timeout: 60_000,
}, async () => {
  const N = 20_000;
  const t = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 100_000, count: N, flows: 64 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [1, 2, 3, 4, 5].map((s) => nf(`n${s}`, s, {})),
    chain: [1, 2, 3, 4, 5, 'port:sink'],
  });
  const { status, missing } = await run(t);
  assert.equal(missing, 0);
  assert.equal(status.ports[0]!.rxPackets, N);
  const by = (s: number) => status.nfs.find((n) => n.service === s)!.counters;
  // Rings this deep at this rate do not fill here; if a loaded machine ever makes them,
  // every drop is still counted where it happened, and the accounting below stays exact.
  assert.equal(by(1).rx! + (status.rx.dropRingFull ?? 0), N, 'RX: delivered to hop 1 or counted');
  for (let s = 1; s < 5; s++) {
    const c = by(s);
    assert.equal(c.forwarded! + c.dropRingFull!, c.rx, `hop ${s}: forwarded + ring-full = received`);
    assert.equal(by(s + 1).rx, c.forwarded, `hop ${s + 1} received what hop ${s} forwarded`);
    assert.equal(c.out, 0, `hop ${s} sends nothing to a port`);
  }
  assert.equal(by(5).out! + by(5).dropTxFull!, by(5).rx, 'the last hop sends everything to the port');
  assert.equal(status.ports[1]!.txPackets, by(5).out);
  assert.ok(
    status.ports[1]!.txPackets >= N * 0.99,
    `almost everything arrives (${status.ports[1]!.txPackets} of ${N})`,
  );
});

test('a 16-hop chain (NEXT back and forth between two NFs) delivers every packet, in order', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-16hop-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const outPath = join(dir, 'out.pcap');
    writeCapture(inPath, (emit) => {
      for (let i = 0; i < 500; i++) emit(synthFlow(i % 7, [SynthKind.IPV4_UDP]), 64 + (i % 200), 1_700_000_000, i);
    });
    const t = topo({
      ports: [
        { name: 'in', driver: 'pcap', rx: inPath },
        { name: 'out', driver: 'pcap', tx: outPath },
      ],
      nfs: [nf('ping', 1, {}), nf('pong', 2, {})],
      chain: [...Array.from({ length: 16 }, (_, i) => (i % 2) + 1), 'port:out'],
    });
    const { status, missing } = await run(t);
    assert.equal(missing, 0);
    assert.equal(status.nfs.find((n) => n.service === 1)!.counters.rx, 500 * 8, 'each packet visited hop 1, 3, ... 15');
    assert.equal(status.nfs.find((n) => n.service === 2)!.counters.rx, 500 * 8);
    const got = [...PcapReader.open(outPath)];
    assert.equal(got.length, 500);
    got.forEach((p, i) => {
      assert.equal(p.tsNsec, i, `packet ${i} in order`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the flow director: every packet of 1200 flows follows its class's chain; misses take the default chain", {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-flows-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const expect = new Map<number, number>([
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
    writeCapture(inPath, (emit) => {
      for (let i = 0; i < 2400; i++) {
        const f = synthFlow(i % 1200);
        emit(f, 80, 1_700_000_000, i);
        const tcp =
          f.kind === SynthKind.IPV4_TCP || f.kind === SynthKind.IPV6_TCP || f.kind === SynthKind.QINQ_IPV4_TCP;
        const svc = !tcp && f.dstPort === 53 ? 1 : tcp && f.dstPort === 80 ? 2 : f.dstPort === 443 ? 3 : 4;
        expect.set(svc, expect.get(svc)! + 1);
      }
    });
    const t = topo({
      ports: [
        { name: 'in', driver: 'pcap', rx: inPath },
        { name: 'out', driver: 'null' },
      ],
      nfs: [nf('dns', 1, {}), nf('web', 2, {}), nf('tls', 3, {}), nf('other', 4, {})],
      chain: ['other', 'port:out'],
      chains: { dns: ['dns', 'port:out'], web: ['web', 'port:out'], tls: ['tls', 'port:out'] },
      flows: [
        { priority: 10, chain: 'dns', proto: 17, dstPorts: [53, 53] },
        { priority: 10, chain: 'web', proto: 6, dstPorts: [80, 80] },
        { priority: 5, chain: 'tls', dstPorts: [443, 443] },
      ],
    });
    const { status, missing } = await run(t);
    assert.equal(missing, 0);
    for (const [svc, n] of expect) {
      assert.ok(n > 0, `class of service ${svc} is in the capture`);
      assert.equal(status.nfs.find((x) => x.service === svc)!.counters.rx, n, `service ${svc} got exactly its class`);
    }
    assert.equal(status.ports[1]!.txPackets, 2400);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flow rules and chains changed under traffic: the new rule takes effect, no packet of any flow is lost', {
  timeout: 60_000,
}, async () => {
  const N = 60_000;
  const t = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 20_000, count: N, flows: 64, tcp: 0.5 },
      { name: 'out', driver: 'null' },
    ],
    nfs: [nf('plain', 1, {}), nf('tcp', 2, {})],
    chain: ['plain', 'port:out'],
    chains: { tcp: ['tcp', 'port:out'] },
  });
  const logs: string[] = [];
  let listed = '';
  const r = await runTopology(t, {
    untilDone: true,
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: () => {},
    onRunning: () => {
      void (async () => {
        await new Promise((res) => setTimeout(res, 1000));
        const c = await ControlClient.connect(t.name);
        const added = await c.request<FlowAddedReply>({
          type: 'flow-add',
          rule: { chain: 'tcp', proto: 6, priority: 5 },
        });
        await c.request({ type: 'chain-set', name: 'spare', hops: ['plain', 'port:out'] });
        await assert.rejects(c.request({ type: 'flow-add', rule: { chain: 'nope' } }), /no chain named "nope"/);
        listed = JSON.stringify((await c.request<FlowListReply>({ type: 'flow-list' })).rules);
        assert.ok(added.ruleId > 0);
        c.close();
      })();
    },
  });
  const st = r.manager.finalStatus!;
  assert.equal(r.manager.missingAtExit, 0);
  const by = (s: number) => st.nfs.find((x) => x.service === s)!.counters;
  assert.equal(st.ports[0]!.rxPackets, N);
  assert.equal(by(1).rx! + by(2).rx!, N, 'every packet went through one of the two chains');
  assert.equal(st.ports[1]!.txPackets, N, 'and every one came out: nothing lost while the rules changed');
  assert.ok(by(2).rx! > 1000, 'TCP flows moved to the tcp chain once the rule was in');
  assert.match(listed, /"chain":"tcp".*"proto":6/);
  assert.ok(logs.some((l) => /chain spare \(2\) set/.test(l)));
});

test('TONF goes straight to the named service, OUT to the named port', { timeout: 60_000 }, async () => {
  const N = 10_000;
  const t = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 100_000, count: N },
      { name: 'a', driver: 'null' },
      { name: 'b', driver: 'null' },
    ],
    nfs: [
      nf('first', 1, { verdict: 'tonf', dest: 3 }),
      nf('skipped', 2, {}),
      nf('third', 3, { verdict: 'out', dest: 2 }),
    ],
    chain: [1, 2, 3],
  });
  const { status, missing } = await run(t);
  assert.equal(missing, 0);
  const by = (s: number) => status.nfs.find((n) => n.service === s)!.counters;
  // Deep rings at a modest rate: drops are not expected, and if a loaded machine makes some,
  // each is counted where it happened, so the accounting below stays exact.
  assert.equal(by(1).rx! + (status.rx.dropRingFull ?? 0), N);
  assert.equal(by(1).forwarded! + by(1).dropRingFull!, by(1).rx, 'first sends everything to service 3');
  assert.equal(by(2).rx, 0, 'service 2 is skipped');
  assert.equal(by(3).rx, by(1).forwarded);
  assert.equal(by(3).out! + by(3).dropTxFull!, by(3).rx);
  assert.equal(status.ports[2]!.txPackets, by(3).out, 'out port 2');
  assert.equal(status.ports[1]!.txPackets, 0);
  assert.ok(
    status.ports[2]!.txPackets >= N * 0.99,
    `almost everything arrives (${status.ports[2]!.txPackets} of ${N})`,
  );
});

test('DROP is counted as a verdict drop; TONF to a service without instances as no-instance', {
  timeout: 60_000,
}, async () => {
  const N = 5_000;
  const t = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 100_000, count: N },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('half', 1, { verdict: 'tonf', dest: 9 }), nf('dropper', 2, { verdict: 'drop' })],
    chain: [1, 2],
  });
  const { status, missing } = await run(t);
  assert.equal(missing, 0);
  assert.equal(
    status.nfs.find((n) => n.service === 1)!.counters.dropNoInstance,
    status.nfs.find((n) => n.service === 1)!.counters.rx,
  );
  assert.equal(status.nfs.find((n) => n.service === 1)!.counters.rx! + (status.rx.dropRingFull ?? 0), N);
  assert.equal(status.nfs.find((n) => n.service === 2)!.counters.rx, 0);

  const t2 = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 100_000, count: N },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('dropper', 1, { verdict: 'drop' })],
    chain: [1, 'port:sink'],
  });
  const r2 = await run(t2);
  assert.equal(r2.missing, 0);
  assert.equal(r2.status.nfs[0]!.counters.dropVerdict, r2.status.nfs[0]!.counters.rx);
  assert.equal(r2.status.nfs[0]!.counters.rx! + (r2.status.rx.dropRingFull ?? 0), N);
  assert.equal(r2.status.ports[1]!.txPackets, 0);
});

test('a slow NF behind a small ring: ring-full drops are counted and every packet is accounted for', {
  timeout: 60_000,
}, async () => {
  const N = 50_000;
  const t = topo({
    rings: { nfRx: 64, nfTx: 64 },
    ports: [
      { name: 'g', driver: 'gen', rate: 0, count: N },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('slow', 1, { spin: 2000 })],
    chain: [1, 'port:sink'],
  });
  const { status, missing } = await run(t);
  assert.equal(missing, 0);
  const full = status.rx.dropRingFull ?? 0;
  assert.ok(full > 0, 'the manager RX counted ring-full drops');
  assert.equal(status.nfs[0]!.counters.rx! + full + (status.rx.dropNotRunning ?? 0), N, 'received = handled + dropped');
  const c = status.nfs[0]!.counters;
  assert.equal(status.ports[1]!.txPackets + c.dropTxFull!, c.rx, 'sent out = handled - tx-ring-full drops');
});

test('an NF that keeps packets and creates new ones: everything kept is sent later, nothing leaks', {
  timeout: 60_000,
}, async () => {
  const N = 4_000;
  const t = topo({
    rings: { nfRx: 16384, nfTx: 16384 },
    ports: [
      { name: 'g', driver: 'gen', rate: 50_000, count: N },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('keeper', 1, { create: 5 }, KEEPER_JS)],
    chain: [1, 'port:sink'],
  });
  const { status, missing } = await run(t);
  assert.equal(missing, 0, 'every buffer back in the pool');
  const c = status.nfs[0]!.counters;
  assert.equal(c.rx! + (status.rx.dropRingFull ?? 0), N);
  assert.equal(c.kept, Math.floor(c.rx! / 2), 'every other packet kept');
  assert.ok(c.created! >= 1 && c.created! <= 5, `created ${c.created}`);
  assert.equal(
    status.ports[1]!.txPackets + c.dropTxFull!,
    c.rx! + c.created!,
    'kept packets were sent at the ticks, plus the new ones',
  );
});

test('kill -9 of one of two instances under load: forwarding goes on, every buffer comes back', {
  timeout: 90_000,
}, async () => {
  const N = 600_000;
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 150_000, count: N, flows: 512 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('fwd', 1, {}, VERDICT_JS, 2)],
    chain: [1, 'port:sink'],
  });
  const logs: string[] = [];
  let killedAt = 0;
  let victim = 0;
  let noticedMs = -1;
  let txAtKill = 0;
  let txLater = 0;
  const r = await runTopology(t, {
    untilDone: true,
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    onRunning: (m: Manager) => {
      void (async () => {
        await new Promise((res) => setTimeout(res, 800));
        const s = m.status();
        victim = s.nfs[0]!.pid;
        txAtKill = s.ports[1]!.txPackets;
        killedAt = Date.now();
        process.kill(victim, 'SIGKILL');
        await waitFor(() => !m.status().nfs.some((n) => n.pid === victim), 5000, 'the manager to notice');
        noticedMs = Date.now() - killedAt;
        await new Promise((res) => setTimeout(res, 500));
        txLater = m.status().ports[1]!.txPackets;
      })();
    },
  });
  assert.ok(victim > 0, 'an instance was killed');
  assert.ok(noticedMs >= 0 && noticedMs < 1000, `noticed within a second (took ${noticedMs} ms)`);
  assert.ok(txLater > txAtKill, 'packets kept flowing after the kill');
  assert.equal(
    r.manager.missingAtExit,
    0,
    `every buffer back in the pool (${logs.filter((l) => /died|warning/.test(l)).join('; ')})`,
  );
  assert.ok(
    logs.some((l) => /died .*reclaimed \d+ buffers/.test(l)),
    'the reclaim was logged',
  );
  const st = r.manager.finalStatus!;
  assert.equal(st.ports[0]!.rxPackets, N);
  assert.equal(st.nfs.length, 1, 'one instance left');
});

test('with 3 instances, removing one moves only its flows; every other flow keeps its instance', {
  timeout: 90_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-scale-'));
  try {
    const outPath = join(dir, 'out.pcap');
    const t = topo({
      ports: [
        { name: 'g', driver: 'gen', rate: 20_000, flows: 128, sizes: [64] },
        { name: 'o', driver: 'pcap', tx: outPath },
      ],
      nfs: [nf('tag', 1, {}, TAGGER_JS, 3)],
      chain: [1],
    });
    let removed = 0;
    let tGone = 0;
    const logs: string[] = [];
    await runTopology(t, {
      signals: false,
      stats: null,
      log: (l) => logs.push(l),
      nfOutput: (l) => logs.push(l),
      onRunning: (m: Manager) => {
        void (async () => {
          try {
            await new Promise((r) => setTimeout(r, 1500));
            const victim = m.status().nfs.sort((a, b) => a.nfId - b.nfId)[1]!;
            removed = victim.nfId;
            process.kill(victim.pid, 'SIGTERM');
            await waitFor(() => !m.status().nfs.some((n) => n.nfId === removed), 5000, 'the instance to leave');
            tGone = Date.now() / 1000;
            await new Promise((r) => setTimeout(r, 1500));
          } catch (err) {
            logs.push(`test: ${(err as Error).message}`);
          } finally {
            void m.stop('test over');
          }
        })();
      },
    });
    assert.ok(removed > 0 && tGone > 0, logs.filter((l) => l.startsWith('test:')).join('; '));
    // Each packet carries the id of the instance that handled it (TTL). Exact, whatever the
    // timing: a flow that never was on the removed instance was handled by one instance only; a
    // flow that was moved from it to exactly one other (its last packets, drained by the leaving
    // instance, may be written after the first ones of the new instance: order is not checked).
    const tags = new Map<string, Set<number>>();
    const view = new PacketView(new ArrayBuffer(4096));
    const key = new FlowKey();
    for (const p of PcapReader.open(outPath)) {
      const u8 = new Uint8Array(view.bytes.buffer);
      u8.set(p.data, 0);
      view.reset(0, p.data.length);
      assert.ok(view.flowKey(key));
      const k = key.toString();
      if (!tags.has(k)) tags.set(k, new Set());
      tags.get(k)!.add(view.ipv4Ttl);
    }
    assert.ok(tags.size > 100, `flows seen: ${tags.size}`);
    const gone = removed & 0xff;
    let moved = 0;
    let kept = 0;
    for (const [k, ids] of tags) {
      if (!ids.has(gone)) {
        assert.equal(ids.size, 1, `flow ${k} kept its instance: ${[...ids].join(', ')}`);
        kept++;
      } else {
        assert.ok(ids.size <= 2, `flow ${k} went from the removed instance to one other: ${[...ids].join(', ')}`);
        if (ids.size === 2) moved++;
      }
    }
    assert.ok(moved > 0 && kept > 0, `moved ${moved}, kept ${kept}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nfchain scale under traffic: flows that existed keep their instance when one joins; a retired instance moves only its flows', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-join-'));
  try {
    // A capture played at its own pace: flows A (0..99) for 7 s, flows B (100..199) from 3.5 s.
    // The test holds the input (Manager.pauseRx) while it scales, so each change happens at a
    // known packet of the capture, whatever the machine's load: packet i has capture time ts[i].
    const inPath = join(dir, 'in.pcap');
    const outPath = join(dir, 'out.pcap');
    const BASE = 1_700_000_000;
    const udp = [SynthKind.IPV4_UDP];
    const ts: number[] = [];
    writeCapture(inPath, (emit) => {
      for (let ms = 0; ms < 7000; ms += 10) {
        const flows = ms < 3500 ? 100 : 200;
        for (let i = 0; i < flows; i++) {
          const nsec = (ms % 1000) * 1e6 + i * 1000;
          emit(synthFlow(i, udp), 64, BASE + Math.floor(ms / 1000), nsec);
          ts.push(Math.floor(ms / 1000) + nsec / 1e9);
        }
      }
    });
    const indexAt = (sec: number): number => ts.findIndex((x) => x >= sec);
    const t = topo({
      ports: [
        { name: 'in', driver: 'pcap', rx: inPath, speed: 'realtime' },
        { name: 'o', driver: 'pcap', tx: outPath },
      ],
      nfs: [nf('tag', 1, {}, TAGGER_JS, 2)],
      chain: [1],
    });
    const logs: string[] = [];
    const ev = {
      /** capture time of the last packet received before the join, and before the retire */
      joinAt: 0,
      retireAt: 0,
      added: [] as number[],
      cli: '',
      retired: [] as number[],
      table: undefined as FlowTableStats | undefined,
    };
    /** Holds the input and returns the capture time of the last packet received (the pipeline drained). */
    const hold = async (m: Manager, what: string): Promise<number> => {
      await m.pauseRx();
      await waitFor(() => m.pipelineEmpty(), 10_000, `the chain to drain (${what})`);
      const n = m.status().ports[0]!.rxPackets;
      assert.ok(n > 0 && n <= ts.length, `${n} packets received`);
      return ts[n - 1]!;
    };
    await runTopology(t, {
      signals: false,
      stats: null,
      log: (l) => logs.push(l),
      nfOutput: (l) => logs.push(l),
      onRunning: (m: Manager) => {
        void (async () => {
          try {
            // Flows A for a while (the first 0.2 s of the capture), then the join.
            await waitFor(() => m.status().ports[0]!.rxPackets >= indexAt(0.2), 30_000, 'flows A to flow');
            ev.joinAt = await hold(m, 'join');
            // Up to 3 with the command, as a user would.
            const cli = spawn(process.execPath, [MAIN, 'scale', 'tag', '3', '--name', t.name], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let outText = '';
            cli.stdout.on('data', (d: Buffer) => {
              outText += d.toString();
            });
            cli.stderr.on('data', (d: Buffer) => {
              outText += d.toString();
            });
            const code = await new Promise<number | null>((r) => cli.on('exit', r));
            ev.cli = outText.trim();
            assert.equal(code, 0, outText);
            ev.added = m
              .status()
              .nfs.map((n) => n.nfId)
              .filter((id) => id > 2);
            m.enableRx();
            // Flows B run on three instances for a second (to 4.5 s of the capture), then the retire.
            await waitFor(() => m.status().ports[0]!.rxPackets >= indexAt(4.5), 60_000, 'flows B to flow');
            ev.retireAt = await hold(m, 'retire');
            // Down to 2 through the control API: the newest instance is retired.
            const c = await ControlClient.connect(t.name);
            const r = await c.request<ScaledReply>({ type: 'scale', service: 1, instances: 2 });
            c.close();
            ev.retired = r.retired;
            await waitFor(
              () => !m.status().nfs.some((n) => r.retired.includes(n.nfId)),
              10_000,
              'the retired instance to leave',
            );
            ev.table = await m.flowStats();
            m.enableRx();
          } catch (err) {
            logs.push(`test: ${(err as Error).message}`);
            m.enableRx();
          }
        })();
      },
      untilDone: true,
    });
    const problems = logs.filter((l) => l.startsWith('test:'));
    assert.deepEqual(problems, [], logs.join('\n'));
    assert.match(ev.cli, /^service 1: 2 → 3 instances \(started #3\)$/);
    assert.deepEqual(ev.added, [3]);
    assert.deepEqual(ev.retired, [3]);
    assert.ok(
      logs.some((l) => /affinity epoch 1: new flows of service 1/.test(l)),
      'the join made a new epoch',
    );
    // The manager's flow table: flows A hold epoch 0, flows B epoch 1 (the current one).
    // (Flows whose hashes share a slot count once: with 2^20 slots and 200 flows, rarely.)
    const aff = ev.table!.affinity;
    assert.equal(aff.epoch, 1);
    assert.ok(
      aff.epochs[0]! >= 97 && aff.epochs[0]! <= 100 && aff.epochs[1]! >= 97 && aff.epochs[1]! <= 100,
      `flows per epoch ${aff.epochs.join('/')}`,
    );
    assert.deepEqual(aff.epochs.slice(2), [0, 0]);
    assert.equal(aff.tracked, aff.epochs[0]! + aff.epochs[1]!);
    assert.equal(ev.table!.director, false, 'no rules and no pins: no flow table lookups');
    const joinAt = ev.joinAt;
    const marks = new Map<number, { ts: number; id: number }[]>();
    const pv = new PacketView(new ArrayBuffer(4096));
    const key = new FlowKey();
    for (const p of PcapReader.open(outPath)) {
      new Uint8Array(pv.bytes.buffer).set(p.data, 0);
      pv.reset(0, p.data.length);
      assert.ok(pv.flowKey(key));
      const flow = key.addr[4]! & 0xffff;
      if (!marks.has(flow)) marks.set(flow, []);
      marks.get(flow)!.push({ ts: p.tsSec - BASE + p.tsNsec / 1e9, id: pv.ipv4Ttl });
    }
    // Flows A started before the join: each stayed on one of the first two instances, start to end.
    for (let f = 0; f < 100; f++) {
      const ids = new Set(marks.get(f)?.map((x) => x.id));
      assert.equal(ids.size, 1, `flow A${f} kept its instance through the join (saw ${[...ids].join(', ')})`);
      assert.ok(!ids.has(3), `flow A${f} never went to the new instance`);
    }
    // Flows B started after it: the new instance takes a share; the retire moves only its flows.
    let onNew = 0;
    let moved = 0;
    let kept = 0;
    let started = 0; // flows B that began once the new instance was in service
    for (let f = 100; f < 200; f++) {
      const m = marks.get(f) ?? [];
      if ((m[0]?.ts ?? 0) > joinAt) started++;
      const before = new Set(m.filter((x) => x.ts <= ev.retireAt).map((x) => x.id));
      const after = new Set(m.filter((x) => x.ts > ev.retireAt).map((x) => x.id));
      assert.equal(before.size, 1, `flow B${f}: one instance before the retire (saw ${[...before].join(', ')})`);
      assert.equal(after.size, 1, `flow B${f}: one instance after the retire (saw ${[...after].join(', ')})`);
      const [was] = before;
      const [is] = after;
      if (was === 3) {
        onNew++;
        assert.notEqual(is, 3);
        moved++;
      } else {
        assert.equal(is, was, `flow B${f} kept instance ${was}`);
        kept++;
      }
    }
    assert.ok(started > 0, `flows B began after the join (${joinAt.toFixed(2)} s in)`);
    assert.ok(onNew >= started / 10, `the new instance took a share of the new flows (${onNew} of ${started})`);
    assert.ok(moved > 0 && kept > 0, `moved ${moved}, kept ${kept}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an NF pins flows (flow-director example): later packets of each flow go straight down its chain', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-pins-'));
  try {
    const inPath = join(dir, 'in.pcap');
    const FLOWS = 150;
    const ROUNDS = 20;
    const want = { dns: 0, web: 0, other: 0 };
    writeCapture(inPath, (emit) => {
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < FLOWS; i++) {
          const cls = i % 3;
          const f = {
            ...synthFlow(i, [cls === 0 ? SynthKind.IPV4_UDP : SynthKind.IPV4_TCP]),
            dstPort: cls === 0 ? 53 : cls === 1 ? 80 : 22,
          };
          emit(f, 64, 1_700_000_000, r * 50_000_000 + i * 1000); // a round every 50 ms
          want[cls === 0 ? 'dns' : cls === 1 ? 'web' : 'other']++;
        }
      }
    });
    const t = topo({
      ports: [
        { name: 'in', driver: 'pcap', rx: inPath, speed: 'realtime' },
        { name: 'out', driver: 'null' },
      ],
      nfs: [
        {
          name: 'director',
          module: join(root, 'dist/nfs/flow-director/index.js'),
          service: 1,
          options: { map: '53=dns,80=web' },
        },
        nf('dns', 2, {}),
        nf('web', 3, {}),
      ],
      chain: ['director', 'port:out'],
      chains: { dns: ['dns', 'port:out'], web: ['web', 'port:out'] },
    });
    const { status, missing, logs } = await run(t);
    assert.equal(missing, 0);
    const rx = (name: string): number => status.nfs.find((n) => n.name === name)!.counters.rx!;
    assert.equal(rx('dns'), want.dns, 'every packet of the DNS flows reached the dns NF');
    assert.equal(rx('web'), want.web, 'every packet of the web flows reached the web NF');
    assert.equal(status.ports[1]!.txPackets, FLOWS * ROUNDS);
    const director = rx('director');
    assert.ok(
      director >= want.other + (2 * FLOWS) / 3,
      `the director saw each flow's first packet and every unmatched one (${director})`,
    );
    assert.ok(
      director < FLOWS * ROUNDS,
      `pinned flows bypassed the director (${director} of ${FLOWS * ROUNDS} packets)`,
    );
    assert.ok(
      logs.some((l) => /flow-director: \d+ flows pinned/.test(l)),
      logs.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an NF scales its own service (scaling-example): the manager starts the processes, and they carry traffic', {
  timeout: 60_000,
}, async () => {
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 20_000, flows: 256, sizes: [64] },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      {
        name: 'scaler',
        module: join(root, 'dist/nfs/scaling-example/index.js'),
        service: 1,
        options: { instances: 3, rebalance: true },
      },
    ],
    chain: [1, 'port:sink'],
  });
  const logs: string[] = [];
  let seen: ManagerStatus | undefined;
  await runTopology(t, {
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    onRunning: (m: Manager) => {
      void (async () => {
        try {
          await waitFor(
            () => m.status().nfs.filter((n) => n.state === 'running').length === 3,
            20_000,
            'three running instances',
          );
          // The scale request is answered once the manager sees the new instances in service,
          // which may be after they run: wait for the NF to report the answer.
          await waitFor(
            () => logs.some((l) => /service 1: 1 → 3 instances, started/.test(l)),
            20_000,
            'the NF to get the answer',
          );
          // Let the new instances carry some traffic.
          const rx = (): number[] => m.status().nfs.map((n) => n.counters.rx!);
          const before = rx();
          await waitFor(() => rx().every((v, i) => v > (before[i] ?? 0)), 10_000, 'every instance to receive packets');
          seen = m.status();
        } catch (err) {
          logs.push(`test: ${(err as Error).message}`);
        } finally {
          void m.stop('test over');
        }
      })();
    },
  });
  assert.ok(seen, logs.join('\n'));
  // The service table lists instances in the order they came into service; the registry in the
  // order they registered. Neither order is the test's to control: compare the sets.
  const byId = (a: number, b: number): number => a - b;
  assert.deepEqual(
    seen.services.map((x) => ({ service: x.service, nfs: [...x.nfs].sort(byId) })),
    [{ service: 1, nfs: seen.nfs.map((n) => n.nfId).sort(byId) }],
  );
  assert.ok(
    logs.some((l) => /asking for 3 instances of service 1/.test(l)),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => /service 1: 1 → 3 instances, started #\d+ #\d+/.test(l)),
    logs.join('\n'),
  );
  assert.equal(logs.filter((l) => /asking for/.test(l)).length, 1, 'the new instances did not ask again');
});

test('scale: instances that fail to start reject the request with the reason; the service keeps what it had', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-scalefail-'));
  const flag = join(dir, 'fail');
  const t = topo({
    ports: [
      { name: 'g', driver: 'gen', rate: 1000 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [nf('s', 1, { 'fail-if': flag }, join(root, 'dist/test/fixtures/nfs/bad-setup.js'))],
    chain: [1, 'port:sink'],
  });
  const logs: string[] = [];
  let err: unknown;
  let after: ManagerStatus | undefined;
  let down: unknown;
  try {
    await runTopology(t, {
      signals: false,
      stats: null,
      log: (l) => logs.push(l),
      nfOutput: (l) => logs.push(l),
      onRunning: (m: Manager) => {
        void (async () => {
          try {
            writeFileSync(flag, '');
            await m.scale('s', 3).catch((e: unknown) => {
              err = e;
            });
            // Both new processes must have exited (the request rejects when the first failure is
            // seen, naming every instance that has failed by then), and left the registry.
            await waitFor(
              () => m.launcher.failed.length === 2 && m.status().nfs.length === 1,
              10_000,
              'the failed instances to be gone',
            );
            after = m.status();
            down = await m.scale(1, 0);
          } catch (e) {
            logs.push(`test: ${(e as Error).message}`);
          } finally {
            void m.stop('test over');
          }
        })();
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(
    err instanceof NfcError &&
      err.code === 'NFC_ERR_NF' &&
      /scaling service 1: NF s\.\d(, s\.\d)* failed to start/.test(err.message),
    String(err),
  );
  assert.ok(
    logs.some((l) => /config\.yaml does not exist/.test(l)),
    'the failing NF said why',
  );
  assert.deepEqual(after?.services, [{ service: 1, nfs: [after!.nfs[0]!.nfId] }], 'the first instance still serves');
  assert.deepEqual(
    down,
    { service: 1, before: 1, instances: 0, started: [], retired: [after!.nfs[0]!.nfId] },
    'scaled to 0',
  );
});

test('affinity epochs: each join under held flows makes a new epoch that only new flows see; a fifth reuses the oldest, with a warning', {
  timeout: 90_000,
}, async () => {
  const t = topo({ ports: [{ name: 'sink', driver: 'null' }], nfs: [nf('v', 1, {})], chain: [1, 'port:sink'] });
  const logs: string[] = [];
  const seen: { epoch: number; members: number[][] }[] = [];
  await runTopology(t, {
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    onRunning: (m: Manager) => {
      void (async () => {
        const i32 = m.inst.i32;
        const table = (e: number): number[] => {
          const base = m.inst.serviceWord(1) + SERVICE_BUCKETS + e * 64;
          return [...new Set(i32.subarray(base, base + 64))].sort((a, b) => a - b);
        };
        const snap = (): void => {
          seen.push({ epoch: Atomics.load(i32, IH.epoch), members: [0, 1, 2, 3].map(table) });
        };
        try {
          snap();
          for (let n = 2; n <= 5; n++) {
            // Flows hold the current epoch (the RX loop counts them there; no traffic here, so the test does).
            Atomics.store(i32, IH.epochFlows + Atomics.load(i32, IH.epoch), 10);
            await m.scale(1, n);
            snap();
          }
          // A leave is applied to every epoch: the first instance goes, from every table.
          await m.scale(1, 4);
          snap();
        } catch (err) {
          logs.push(`test: ${(err as Error).message}`);
        } finally {
          void m.stop('test over');
        }
      })();
    },
  });
  assert.deepEqual(
    logs.filter((l) => l.startsWith('test:')),
    [],
  );
  const ids = seen[4]!.members.flat();
  const [a, b, c, d] = [...new Set(ids)].filter((x) => x > 0).sort((x, y) => x - y);
  assert.deepEqual(
    seen.slice(0, 4).map((x) => x.epoch),
    [0, 1, 2, 3],
    'each join under held flows: a new epoch',
  );
  assert.deepEqual(seen[0]!.members[0], [a]);
  assert.deepEqual(seen[1]!.members.slice(0, 2), [[a], [a, b]], 'epoch 0 (old flows) does not know the new instance');
  assert.deepEqual(seen[3]!.members, [[a], [a, b], [a, b, c], [a, b, c, d]]);
  assert.equal(seen[4]!.epoch, 0, 'all four epochs held: the oldest is reused');
  assert.ok(
    logs.some((l) => /warning: all 4 affinity epochs hold flows; 10 flows of epoch 0 may move/.test(l)),
    logs.join('\n'),
  );
  assert.equal(seen[4]!.members[0]!.length, 5, 'the reused epoch has every instance');
  const gone = Math.max(...seen[4]!.members[0]!);
  assert.ok(
    seen[5]!.members.every((m) => !m.includes(gone)),
    'the retired (newest) instance left every epoch',
  );
});

test('messages NF to NF keep their order; a full inbox, a missing destination and a big payload are errors to the sender', {
  timeout: 60_000,
}, async () => {
  const t = topo({
    ports: [{ name: 'n', driver: 'null' }],
    nfs: [nf('talk', 1, { to: 2, count: 100 }, TALKER_JS), nf('listen', 2, {}, LISTENER_JS)],
    chain: [1],
  });
  const logs: string[] = [];
  let fromManager = '';
  let noDestination = '';
  let noHandler = '';
  await runTopology(t, {
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    onRunning: (m: Manager) => {
      void (async () => {
        try {
          await waitFor(() => logs.some((l) => /talker: ok=/.test(l)), 30_000, 'the talker to send');
          const c = await ControlClient.connect(t.name);
          // The talker may have just filled the listener's inbox: 'ring-full' until it drains.
          for (let i = 0; i < 100; i++) {
            fromManager = (
              await c.request<MessageReply>({ type: 'message', to: { service: 2 }, payload: { hello: 'from the CLI' } })
            ).result;
            if (fromManager !== 'ring-full') break;
            await new Promise((res) => setTimeout(res, 20));
          }
          const none = await c.request<MessageReply>({ type: 'message', to: { instance: 30 }, payload: 1 });
          noDestination = none.result;
          // The talker has no message() hook: the manager refuses what it would never read.
          noHandler = (await c.request<MessageReply>({ type: 'message', to: { service: 1 }, payload: 1 })).result;
          c.close();
          await waitFor(
            () => logs.some((l) => /from the manager/.test(l)),
            10_000,
            'the listener to get the manager message',
          );
        } catch (err) {
          logs.push(`test: ${(err as Error).message}`);
        } finally {
          // Always stop, or a failure here would leave the topology running.
          void m.stop('test over');
        }
      })();
    },
  });
  const talk = /talker: ok=(\d+) ring-full=(\d+) nowhere=(\S+) big=(\S+)/.exec(logs.join('\n'));
  assert.ok(talk, logs.join('\n'));
  const ok = Number(talk[1]);
  const full = Number(talk[2]);
  assert.equal(ok + full, 100, 'every send got a result');
  assert.ok(ok >= 64, 'at least a full inbox of messages went through');
  assert.equal(talk[3], 'no-destination');
  assert.equal(talk[4], 'too-large');
  const heard = /listener: got=(\d+) ordered=(\w+)/.exec(logs.join('\n'));
  assert.ok(heard, logs.join('\n'));
  assert.equal(Number(heard[1]), ok, 'every message sent with ok arrived');
  assert.equal(heard[2], 'true', 'in the order sent');
  assert.equal(fromManager, 'ok');
  assert.equal(noDestination, 'no-destination');
  assert.equal(noHandler, 'no-handler');
  assert.ok(logs.some((l) => /listener: from the manager: \{"hello":"from the CLI"\}/.test(l)));
});

test('NF --ttl and --limit stop the NF cleanly; its slot and buffers come back', { timeout: 60_000 }, async () => {
  const t = standaloneTopology(uniqueName('ttl').slice(0, 32), ['gen', 'null'], '1,port:1', 50_000);
  t.manager.statsInterval = 0;
  const m = new Manager({ topology: t, log: () => {}, stats: null });
  await m.start();
  try {
    const runNfProc = (extra: string[]): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, [MAIN, 'nf', VERDICT_JS, '--service', '1', '--name', t.name, ...extra], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d;
        });
        c.stderr.on('data', (d: Buffer) => {
          out += d;
        });
        c.on('exit', (code) => resolve({ code, out }));
      });
    const ttl = await runNfProc(['--ttl', '1']);
    assert.equal(ttl.code, 0, ttl.out);
    assert.match(ttl.out, /stopped: TTL of 1 s reached/);
    const lim = await runNfProc(['--limit', '2000']);
    assert.equal(lim.code, 0, lim.out);
    assert.match(lim.out, /stopped: packet limit of 2000 reached \((\d+) packets\)/);
    const handled = Number(/\((\d+) packets\)/.exec(lim.out)![1]);
    assert.ok(handled >= 2000 && handled < 2000 + 32, 'stops within the burst that reached the limit');
    await waitFor(() => m.status().nfs.length === 0, 15_000, 'the NF to leave');
  } finally {
    await m.stop('test over');
  }
  assert.equal(m.missingAtExit, 0);
});

test('bad NF modules and options stop `start` before anything starts', { timeout: 30_000 }, async () => {
  const bad = topo({
    ports: [{ name: 'g', driver: 'gen', count: 10 }],
    nfs: [nf('v', 1, { verdcit: 'drop' })],
    chain: [1],
  });
  await assert.rejects(
    runTopology(bad, { signals: false, stats: null, log: () => {} }),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_NF_OPTION' &&
      /unknown option "verdcit"; did you mean "verdict"/.test(e.message),
  );
  assert.equal(existsSync(`/dev/shm/nfchain-${bad.name}`), false);
  const notNf = topo({
    ports: [{ name: 'g', driver: 'gen', count: 10 }],
    nfs: [nf('b', 1, {}, join(root, 'test/fixtures/nfs/broken.ts'))],
    chain: [1],
  });
  await assert.rejects(
    runTopology(notNf, { signals: false, stats: null, log: () => {} }),
    (e: unknown) =>
      e instanceof NfcError && e.code === 'NFC_ERR_NF' && /no NF definition as its default export/.test(e.message),
  );
  const badValue = topo({
    ports: [{ name: 'g', driver: 'gen', count: 10 }],
    nfs: [nf('v', 1, { verdict: 'explode' })],
    chain: [1],
  });
  await assert.rejects(
    runTopology(badValue, { signals: false, stats: null, log: () => {} }),
    (e: unknown) =>
      e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && /must be one of drop, next, tonf, out/.test(e.message),
  );
  // setup() throwing: the NF leaves at once and start fails, naming it (no wait for a timeout).
  const badSetup = topo({
    ports: [{ name: 'g', driver: 'gen', count: 10 }],
    nfs: [nf('s', 1, {}, join(root, 'dist/test/fixtures/nfs/bad-setup.js'))],
    chain: [1],
  });
  const out: string[] = [];
  await assert.rejects(
    runTopology(badSetup, { signals: false, stats: null, log: () => {}, nfOutput: (l) => out.push(l) }),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF' && /NF s failed to start/.test(e.message),
  );
  assert.ok(
    out.some((l) => /config\.yaml does not exist/.test(l)),
    out.join('\n'),
  );
  assert.equal(existsSync(`/dev/shm/nfchain-${badSetup.name}`), false);
});

test('a manager replaces the shared files of one that died (no live socket), and refuses to run twice', {
  timeout: 30_000,
}, async () => {
  const t = standaloneTopology(uniqueName('stale').slice(0, 32), ['null'], 'port:0', 0);
  t.manager.statsInterval = 0;
  mkdirSync(`/dev/shm/nfchain-${t.name}`, { mode: 0o700 });
  writeFileSync(`/dev/shm/nfchain-${t.name}/pool`, 'left over');
  const logs: string[] = [];
  const m = new Manager({ topology: t, log: (l) => logs.push(l), stats: null });
  await m.start();
  try {
    assert.ok(logs.some((l) => /removed .* left by a manager that did not stop cleanly/.test(l)));
    const second = new Manager({ topology: t, log: () => {}, stats: null });
    await assert.rejects(
      second.start(),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_CONTROL' && /already running/.test(e.message),
    );
  } finally {
    await m.stop('test over');
  }
  assert.equal(existsSync(`/dev/shm/nfchain-${t.name}`), false);
});

test('poll busy is refused when the polling loops outnumber the cores, with the counts and the fix', () => {
  // 2 cores: RX + TX + 1 NF instance = 3 loops.
  assert.throws(
    () => checkBusyPoll('busy', 1, 2),
    (e: unknown) =>
      e instanceof NfcError &&
      e.code === 'NFC_ERR_TOPOLOGY' &&
      /3 \(RX, TX and 1 NF process\) and this machine has 2 cores/.test(e.message) &&
      /adaptive/.test(e.fix ?? '') &&
      /fuse/.test(e.fix ?? ''),
  );
  assert.doesNotThrow(() => checkBusyPoll('busy', 2, 4), '4 loops on 4 cores');
  assert.doesNotThrow(() => checkBusyPoll('busy', 1, 2, 1), 'RX and TX combined in one loop + 1 NF process on 2 cores');
  assert.doesNotThrow(() => checkBusyPoll('adaptive', 30, 2), 'adaptive loops sleep: any number');
});
