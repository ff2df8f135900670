/**
 * Tests of the basic-monitor NF with runNF: every packet passes, the counters by protocol,
 * the table and its rates, quiet mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEXT, openNF, runNF } from 'nfchain';
import monitor from './index.js';
import { buildPacket } from '../../test/helpers/packet-builder.js';

const v4 = { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' } as const;
const v6 = { kind: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2' } as const;
const payload = new Uint8Array(100);
const mix = [
  buildPacket({ l3: v4, l4: { kind: 'tcp', sport: 1, dport: 80 }, padTo: 60 }),
  buildPacket({ l3: v4, l4: { kind: 'tcp', sport: 2, dport: 80, payload } }),
  buildPacket({ eth: { vlans: [{ id: 7 }] }, l3: v6, l4: { kind: 'tcp', sport: 3, dport: 443 } }),
  buildPacket({ l3: v4, l4: { kind: 'udp', sport: 4, dport: 53 }, padTo: 60 }),
  buildPacket({ l3: v6, l4: { kind: 'udp', sport: 5, dport: 53, payload } }),
  buildPacket({ l3: v4, l4: { kind: 'icmp', type: 8, code: 0, id: 1, seq: 1 }, padTo: 60 }),
  buildPacket({ l3: v6, l4: { kind: 'icmp6', type: 128, code: 0, id: 1, seq: 1 } }),
  buildPacket({ l3: v4, l4: { kind: 'raw', proto: 47, payload } }), // GRE
  buildPacket({
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
  }),
  buildPacket({ l3Raw: payload }), // an unknown EtherType
].map((p) => p.bytes);
// An IPv4 header with IHL 4 (malformed): counted as non-IP.
const malformed = mix[3]!.slice();
malformed[14] = 0x44;
const all = [...mix, malformed];
const totalBytes = all.reduce((s, p) => s + p.length, 0);

test('every packet passes unchanged and is counted by protocol', async () => {
  const r = await runNF(monitor, all, { options: { interval: 0 } });
  assert.ok(r.verdicts.every((v) => v === NEXT));
  assert.equal(r.outputs.length, all.length);
  r.outputs.forEach((o, i) => {
    assert.deepEqual(o.bytes, all[i]);
  });
  assert.deepEqual(r.instance.stats(), {
    packets: 11,
    bytes: totalBytes,
    ipv4: 5,
    ipv6: 3,
    nonIp: 3,
    tcp: 3,
    udp: 2,
    icmp: 2,
    otherL4: 1,
  });
  assert.deepEqual(r.metrics, r.instance.stats(), 'the declared counters (stats, /metrics) are the same counts');
  assert.equal(r.metrics.tcp, 3);
  assert.deepEqual(r.logs, [], 'interval 0 is quiet');
});

test('the table: totals, the last interval, pps and Mbps', async () => {
  const r = await runNF(monitor, all, { ticks: 2 }); // default interval: 1 s
  const tables = r.logs.filter((l) => l.startsWith('basic-monitor: 1.0 s'));
  assert.equal(tables.length, 2);
  const mbps = ((totalBytes * 8) / 1e6).toFixed(3);
  assert.equal(r.logs[0], `basic-monitor: 1.0 s, 11 pps, ${mbps} Mbps`);
  assert.match(r.logs[1]!, /^counter\s+total\s+last 1\.0 s$/);
  assert.match(r.logs[2]!, /^packets\s+11\s+11$/);
  assert.match(r.logs[3]!, new RegExp(`^bytes\\s+${totalBytes}\\s+${totalBytes}$`));
  assert.ok(r.logs.some((l) => /^non-IP\s+3\s+3$/.test(l)));
  // the second table: nothing new in its interval
  const second = r.logs.slice(r.logs.indexOf(tables[1]!));
  assert.equal(second[0], 'basic-monitor: 1.0 s, 0 pps, 0.000 Mbps');
  assert.match(second[2]!, /^packets\s+11\s+0$/);
  assert.equal(r.logs.at(-1), `basic-monitor: 11 packets, ${totalBytes} bytes in all`);
});

test('interval 3: one table every three ticks, over 3 s', async () => {
  const r = await runNF(monitor, all, { options: { interval: 3 }, ticks: 7 });
  const heads = r.logs.filter((l) => l.startsWith('basic-monitor: 3.0 s'));
  assert.equal(heads.length, 2);
  assert.equal(heads[0], `basic-monitor: 3.0 s, 4 pps, ${((totalBytes * 8) / 3 / 1e6).toFixed(3)} Mbps`);
});

test('each instance counts its own packets', async () => {
  const a = await runNF(monitor, all.slice(0, 2), { options: { interval: 0 } });
  const b = await runNF(monitor, all.slice(0, 3), { options: { interval: 0 } });
  assert.equal(a.instance.stats().packets, 2);
  assert.equal(b.instance.stats().packets, 3);
});

test('messages: report logs the table now, reset zeroes the counters, anything else is not understood', async () => {
  const s = await openNF(monitor, { options: { interval: 0 } });
  s.push(all);
  s.advance(2000);
  s.message({ report: true });
  assert.ok(
    s.logs.some((l) => /^basic-monitor: 2\.0 s, 6 pps/.test(l)),
    s.logs.join('\n'),
  );
  assert.ok(s.logs.some((l) => new RegExp(`^packets\\s+${all.length}\\s+${all.length}$`).test(l)));
  s.message({ reset: true });
  assert.ok(
    s.logs.some((l) => l === `basic-monitor: counters reset (${all.length} packets, ${totalBytes} bytes before)`),
  );
  s.push(mix.slice(0, 2));
  s.message({ what: 1 });
  assert.ok(
    s.logs.some((l) => /message not understood: \{"what":1\} \(send \{"report":true\} or \{"reset":true\}\)/.test(l)),
  );
  const r = await s.stop();
  const stats = (r.instance as unknown as { stats(): Record<string, number> }).stats();
  assert.equal(stats.packets, 2, 'counted from zero after the reset');
  assert.equal(r.metrics.packets, all.length + 2, 'the declared counters never go back: the reset is not theirs');
  assert.equal(r.metrics.bytes, totalBytes + mix[0]!.length + mix[1]!.length);
});
