/**
 * Tests of the flow-director NF with runNF: flows pinned by destination and source port,
 * ranges, the fallback, packets without a flow, and map errors. The end-to-end test (pins
 * taking effect in a running manager) is in test/manager.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEXT, NfcError, runNF } from 'nfchain';
import director from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const v4 = { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' } as const;
const chains = ['default', 'dns', 'web', 'rest'];
const udp = (sport: number, dport: number): Uint8Array =>
  buildPacket({ l3: v4, l4: { kind: 'udp', sport, dport }, padTo: 60 }).bytes;
const tcp = (sport: number, dport: number): Uint8Array =>
  buildPacket({ l3: v4, l4: { kind: 'tcp', sport, dport }, padTo: 60 }).bytes;

test('flows are pinned by destination port, then source port (replies), and ranges', async () => {
  const pkts = [udp(5000, 53), tcp(40000, 80), tcp(80, 40000), tcp(40001, 8050), tcp(40002, 9999)];
  const r = await runNF(director, pkts, { options: { map: '53=dns,80=web,8000-8099=web' }, chains });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT, NEXT]);
  assert.deepEqual(
    r.flowChains.map((p) => [p.index, p.chain]),
    [
      [0, 1],
      [1, 2],
      [2, 2],
      [3, 2],
    ],
  );
  assert.match(r.flowChains[0]!.flow, /udp 10\.0\.0\.1:5000 -> 10\.0\.0\.2:53/);
  assert.deepEqual(r.instance.stats(), { pinned: 4, unmatched: 1, noFlow: 0, inboxFull: 0 });
  assert.deepEqual(r.metrics, { pinned: 4, unmatched: 1, noFlow: 0, inboxFull: 0 }, 'the declared counters');
});

test('the fallback chain takes flows no entry matches; packets without a flow stay on their chain', async () => {
  const arp = buildPacket({
    eth: { dst: 'ff:ff:ff:ff:ff:ff' },
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.0.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.2',
    },
    padTo: 60,
  }).bytes;
  const icmp = buildPacket({ l3: v4, l4: { kind: 'icmp', type: 8, code: 0, id: 1, seq: 1 }, padTo: 60 }).bytes;
  const r = await runNF(director, [udp(1, 53), tcp(2, 22), icmp, arp], {
    options: { map: '53=dns', fallback: 'rest' },
    chains,
  });
  assert.deepEqual(
    r.flowChains.map((p) => [p.index, p.chain]),
    [
      [0, 1],
      [1, 3],
      [2, 3],
    ],
    'ICMP has a flow (no ports): the fallback',
  );
  assert.deepEqual(r.instance.stats(), { pinned: 3, unmatched: 0, noFlow: 1, inboxFull: 0 });
  assert.equal(r.outputs.length, 4, 'every packet goes on (NEXT)');
});

test('map errors name the entry and the fix, before any packet', async () => {
  const bad = async (options: Record<string, unknown>, re: RegExp): Promise<void> => {
    await assert.rejects(
      runNF(director, [udp(1, 2)], { options, chains }),
      (e: unknown) => e instanceof NfcError && re.test(e.message) && e.code === 'NFC_ERR_NF_OPTION',
    );
  };
  await bad({ map: '53:dns' }, /map entry "53:dns" is not PORT=CHAIN/);
  await bad({ map: '53=nowhere' }, /no chain named "nowhere"/);
  await bad({ map: '90-80=web' }, /ports are 0..65535, low to high/);
  await bad({ map: '70000=web' }, /ports are 0..65535/);
  await bad({ fallback: 'nowhere' }, /fallback chain "nowhere" does not exist/);
});
