/**
 * NFs learn the manager's ports: name, driver, MAC, MTU, link state and the topology's addresses
 * (ports[].ipv4 / ipv6 / mac), as processes and inline, and can send a packet they made out of a
 * named port. The loader checks the addresses; runNF gives NFs ports too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../src/cli/start.js';
import { validateTopology } from '../src/topology/load.js';
import type { Topology } from '../src/topology/types.js';
import type { ManagerStatus } from '../src/protocol/messages.js';
import { describePorts, readLink } from '../src/ports/port-info.js';
import { NfcError } from '../src/errors.js';
import { openNF, runNF } from '../src/nflib/harness.js';
import { defineNF, NEXT, out } from '../src/index.js';
import { uniqueName } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const REPORTER = join(root, 'dist/test/fixtures/nfs/port-reporter.js');

function topo(raw: Record<string, unknown>): Topology {
  return validateTopology({ name: uniqueName('pi').slice(0, 32), manager: { statsInterval: 0 }, ...raw }, '<test>');
}

function refused(raw: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => topo(raw),
    (err: unknown) => err instanceof NfcError && pattern.test(err.message),
  );
}

const NF = { name: 'rep', module: REPORTER, service: 1 };

test('the loader writes port addresses in canonical form and refuses bad ones naming the field', () => {
  const t = topo({
    ports: [
      { name: 'lan', driver: 'gen', count: 1, ipv4: '10.0.1.1/24', ipv6: ['FD00:1:0::1/64'], mac: '2:0:0:0:0:AA' },
      { name: 'wan', driver: 'null', ipv4: ['192.0.2.1/30', '198.51.100.7/32'] },
    ],
    nfs: [NF],
    chain: [1],
  });
  assert.deepEqual(t.ports[0]!.ipv4, ['10.0.1.1/24']);
  assert.deepEqual(t.ports[0]!.ipv6, ['fd00:1::1/64']);
  assert.equal(t.ports[0]!.mac, '02:00:00:00:00:aa');
  assert.deepEqual(t.ports[1]!.ipv4, ['192.0.2.1/30', '198.51.100.7/32']);
  assert.equal(t.ports[1]!.ipv6, undefined);

  const one = (port: Record<string, unknown>) => ({
    ports: [{ name: 'p', driver: 'null', ...port }],
    nfs: [NF],
    chain: [1],
  });
  refused(one({ ipv4: '10.0.1.1' }), /ports\[0\] \(p\)\.ipv4\[0\].*needs a prefix length 0\.\.32/s);
  refused(one({ ipv4: '10.0.1.300/24' }), /ports\[0\] \(p\)\.ipv4\[0\].*not an IPv4 address/s);
  refused(one({ ipv4: '10.0.1.1/33' }), /prefix length 0\.\.32/);
  refused(one({ ipv6: 'fd00::1/129' }), /ports\[0\] \(p\)\.ipv6\[0\].*prefix length 0\.\.128/s);
  refused(one({ ipv6: 'fd00:::1/64' }), /not an IPv6 address/);
  refused(one({ ipv4: 5 }), /ports\[0\] \(p\)\.ipv4.*IPv4 address with its prefix length/s);
  refused(one({ mac: 'aa:bb' }), /ports\[0\] \(p\)\.mac.*MAC address/s);
  refused(
    {
      ports: [
        { name: 'a', driver: 'null', ipv4: '10.0.0.1/24' },
        { name: 'b', driver: 'null', ipv4: '10.0.0.1/16' },
      ],
      nfs: [NF],
      chain: [1],
    },
    /ports\[1\] \(b\)\.ipv4\[0\].*10\.0\.0\.1 is given twice \(also at ports\[0\]\.ipv4\)/s,
  );
  // An interface has its own MAC: af_packet ports take no `mac`.
  refused(
    { ports: [{ name: 'a', driver: 'af_packet', interface: 'lo', mac: '02:00:00:00:00:01' }], nfs: [NF], chain: [1] },
    /unknown key "mac"/,
  );
});

test('an interface is described from the kernel, a synthetic port from the topology', () => {
  const [lo, gen] = describePorts([
    { name: 'l', driver: 'af_packet', interface: 'lo', frames: 64, offloads: true, ipv4: ['127.0.0.1/8'] },
    { name: 'g', driver: 'null' },
  ]);
  assert.equal(lo!.interface, 'lo');
  assert.equal(lo!.mac, '00:00:00:00:00:00');
  assert.ok(lo!.mtu >= 1500, `lo's MTU from sysfs: ${lo!.mtu}`);
  assert.deepEqual(lo!.ipv4, ['127.0.0.1/8']);
  assert.equal(gen!.mac, '02:00:00:00:00:02', 'a synthetic, locally administered MAC: 02:..:<id + 1>');
  assert.equal(gen!.mtu, 1500);
  assert.equal(readLink({ name: 'l', driver: 'af_packet', interface: 'lo', frames: 64, offloads: true }), true);
  assert.equal(readLink({ name: 'g', driver: 'null' }), true);
  assert.equal(
    readLink({ name: 'x', driver: 'af_packet', interface: 'nfc-none-such', frames: 64, offloads: true }),
    false,
    'an interface that is gone is down',
  );
});

for (const inline of [false, true]) {
  test(`an NF ${inline ? 'run inline' : 'process'} sees the ports and sends a packet it made out of a named port`, {
    timeout: 60_000,
  }, async () => {
    const t = topo({
      ports: [
        { name: 'in', driver: 'gen', count: 50, ipv4: ['10.0.1.1/24'], ipv6: 'fd00:1::1/64' },
        { name: 'sink', driver: 'null', mac: '02:aa:00:00:00:01', ipv4: '192.0.2.1/30' },
        { name: 'other', driver: 'null' },
      ],
      nfs: [{ ...NF, ...(inline ? { inline: true } : {}) }],
      chain: [1],
    });
    const logs: string[] = [];
    const r = await runTopology(t, {
      untilDone: true,
      signals: false,
      stats: null,
      log: (l) => logs.push(l),
      nfOutput: (l) => logs.push(l),
    });
    assert.equal(existsSync(`/dev/shm/nfchain-${t.name}`), false);
    const line = logs.find((l) => l.includes('ports ['));
    assert.ok(line, `the NF logged its ports:\n${logs.join('\n')}`);
    const ports = JSON.parse(line.slice(line.indexOf('ports [') + 6)) as Record<string, unknown>[];
    assert.deepEqual(ports, [
      {
        id: 0,
        name: 'in',
        driver: 'gen',
        interface: '',
        mac: '02:00:00:00:00:01',
        mtu: 1500,
        ipv4: ['10.0.1.1/24'],
        ipv6: ['fd00:1::1/64'],
        up: true,
      },
      {
        id: 1,
        name: 'sink',
        driver: 'null',
        interface: '',
        mac: '02:aa:00:00:00:01',
        mtu: 1500,
        ipv4: ['192.0.2.1/30'],
        ipv6: [],
        up: true,
      },
      {
        id: 2,
        name: 'other',
        driver: 'null',
        interface: '',
        mac: '02:00:00:00:00:03',
        mtu: 1500,
        ipv4: [],
        ipv6: [],
        up: true,
      },
    ]);
    const s = r.manager.finalStatus as ManagerStatus;
    assert.equal(s.ports[1]!.txPackets, 50, 'every copy left by the named port');
    assert.equal(s.ports[2]!.txPackets, 0);
    assert.equal(r.manager.missingAtExit, 0);
  });
}

test('an NF naming a port that does not exist fails to start, naming the ports there are', {
  timeout: 60_000,
}, async () => {
  const t = topo({
    ports: [
      { name: 'in', driver: 'gen', count: 10 },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [{ ...NF, options: { out: 'snik' } }],
    chain: [1],
  });
  const logs: string[] = [];
  await assert.rejects(
    runTopology(t, {
      untilDone: true,
      signals: false,
      stats: null,
      log: (l) => logs.push(l),
      nfOutput: (l) => logs.push(l),
    }),
    /failed to start/,
  );
  assert.ok(
    logs.some((l) => /no port "snik"; did you mean "sink"\?/.test(l) && /in, sink/.test(l)),
    `the NF said which ports exist:\n${logs.join('\n')}`,
  );
});

test('runNF gives NFs ports (default one "port0"), with parsed addresses and link state', async () => {
  let link = true;
  const seen: unknown[] = [];
  const nf = defineNF({
    name: 'ports-seen',
    create(ctx) {
      const lan = ctx.port('lan');
      seen.push(lan.ipv4[0], lan.macBytes, lan.hasIpv4(0x0a000101), lan.hasIpv4(0x0a000102), lan.ipv6[0]?.address);
      return {
        handle: () => (lan.up ? out(ctx.port(1).id) : NEXT),
      };
    },
  });
  const s = await openNF(nf, {
    ports: [
      { name: 'lan', mac: '02:00:00:00:01:01', ipv4: '10.0.1.1/24', ipv6: 'fd00::1/64', up: () => link },
      { name: 'wan' },
    ],
  });
  assert.deepEqual(seen, [
    { address: '10.0.1.1', addr: 0x0a000101, prefix: 24, mask: 0xffffff00, network: 0x0a000100 },
    new Uint8Array([2, 0, 0, 0, 1, 1]),
    true,
    false,
    'fd00::1',
  ]);
  const frame = new Uint8Array(60);
  assert.equal(s.push([frame])[0]!.verdict, out(1));
  link = false;
  assert.equal(s.push([frame])[0]!.verdict, NEXT, 'link state is read at each access');
  await s.stop();

  const names: string[] = [];
  const def = await runNF(
    defineNF({
      name: 'default-port',
      create(ctx) {
        names.push(...ctx.ports.map((p) => p.name));
        assert.throws(() => ctx.port('eth9'), /no port "eth9".*port0/s);
        assert.throws(
          () => ctx.port('eth9', { option: 'wan' }),
          (e: unknown) =>
            e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && /option --wan: no port "eth9"/.test(e.message),
        );
        return { handle: () => NEXT };
      },
    }),
    [],
  );
  assert.equal(def.handled, 0);
  assert.deepEqual(names, ['port0']);
});

test('an NF session is driven step by step: packets, virtual time, ticks and messages', async () => {
  const nf = defineNF({
    name: 'stepper',
    tickInterval: 100,
    create(ctx) {
      let seen = 0;
      let lastAt = -1;
      return {
        handle() {
          seen++;
          lastAt = ctx.now();
          return NEXT;
        },
        tick() {
          if (seen > 0) {
            const d = ctx.newPacket(new Uint8Array(60).fill(seen));
            if (d >= 0) ctx.send(d, out(0));
          }
        },
        message(payload) {
          ctx.log(`message ${JSON.stringify(payload)} at ${ctx.now()}, last packet at ${lastAt}`);
        },
      };
    },
  });
  const s = await openNF(nf);
  assert.equal(s.push([new Uint8Array(60), new Uint8Array(60)]).length, 2);
  s.advance(250);
  const made = s.tick(2);
  assert.equal(made.length, 2, 'one packet made per tick');
  assert.equal(made[0]!.source, 'created');
  assert.equal(made[0]!.bytes[0], 2);
  assert.equal(s.now, 450);
  s.push([new Uint8Array(60)]);
  s.message({ hello: 1 });
  assert.deepEqual(s.logs, ['message {"hello":1} at 450, last packet at 450']);
  const r = await s.stop();
  assert.equal(r.handled, 3);
  assert.equal(r.ticks, 2);
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT]);
  assert.equal(r.outputs.length, 5);
  assert.equal(r.outputs[4]!.index, 2, 'inputs are numbered across pushes');
  assert.throws(() => s.push([]), /push\(\) after stop\(\)/);

  const quiet = await openNF(defineNF({ name: 'no-msg', create: () => ({ handle: () => NEXT }) }));
  assert.throws(() => quiet.message('x'), /has no message\(\) hook/);
  await quiet.stop();
});
