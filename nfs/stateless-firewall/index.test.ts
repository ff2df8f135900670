/**
 * Tests of the stateless firewall: blacklist and whitelist over every list (IPv4 /32 and
 * prefixes, IPv6, ports and ranges), packets without ports, lists from a file, non-IP and
 * malformed packets, option and file errors, the report.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, NEXT, NfcError, runNF } from 'nfchain';
import slf from './index.js';
import { buildPacket, type L4Spec } from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-slf-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const p4 = (src: string, dst: string, l4: L4Spec) => buildPacket({ l3: { kind: 'ipv4', src, dst }, l4 }).bytes;
const p6 = (src: string, dst: string, l4: L4Spec) => buildPacket({ l3: { kind: 'ipv6', src, dst }, l4 }).bytes;
const udp = (sport: number, dport: number): L4Spec => ({ kind: 'udp', sport, dport });
const ping: L4Spec = { kind: 'icmp', type: 8, code: 0 };

const pkts = [
  p4('10.0.0.1', '192.168.0.1', udp(1000, 80)), // 0 src listed (/32)
  p4('172.16.5.5', '192.168.0.1', udp(1000, 80)), // 1 src in 172.16/12
  p4('8.8.8.8', '192.168.0.9', udp(1000, 80)), // 2 dst listed
  p4('8.8.8.8', '192.168.0.1', udp(22, 80)), // 3 sport listed
  p4('8.8.8.8', '192.168.0.1', udp(1000, 8050)), // 4 dport in range
  p4('8.8.8.8', '192.168.0.1', udp(1000, 80)), // 5 nothing listed
  p6('2001:db8::1', 'fd00::1', udp(1000, 80)), // 6 src in 2001:db8::/32
  p6('2001:db9::1', 'fd00::1', udp(1000, 80)), // 7 nothing
  p4('8.8.8.8', '192.168.0.1', ping), // 8 no ports
  p4('10.0.0.1', '192.168.0.9', udp(22, 8000)), // 9 every list holds it
];
const lists = { src: '10.0.0.1, 172.16.0.0/12,2001:db8::/32', dst: '192.168.0.9', sport: '22', dport: '8000-8099' };

test('blacklist: dropped when any list holds the field', async () => {
  const r = await runNF(slf, pkts, { options: { ...lists } });
  assert.deepEqual(r.verdicts, [DROP, DROP, DROP, DROP, DROP, NEXT, DROP, NEXT, NEXT, DROP]);
  assert.deepEqual(r.instance.stats(), { passed: 3, dropped: 7, nonIp: 0, mode: 'blacklist' });
  // the declared counters: 3 src + 1 dst + 1 sport + 1 dport entries
  assert.deepEqual(r.metrics, { passed: 3, dropped: 7, nonIp: 0, entries: 6 });
});

test('whitelist: passes only when every given list holds the field; no ports fails a port list', async () => {
  const r = await runNF(slf, pkts, { options: { ...lists, mode: 'whitelist' } });
  assert.deepEqual(r.verdicts, [DROP, DROP, DROP, DROP, DROP, DROP, DROP, DROP, DROP, NEXT]);
  const srcOnly = await runNF(slf, pkts, { options: { mode: 'whitelist', src: lists.src } });
  assert.deepEqual(srcOnly.verdicts, [NEXT, NEXT, DROP, DROP, DROP, DROP, NEXT, DROP, DROP, NEXT]);
  const none = await runNF(slf, pkts, { options: { mode: 'whitelist' } });
  assert.ok(
    none.verdicts.every((v) => v === NEXT),
    'no lists: everything passes',
  );
});

test('lists from a file are added to the options; the file may set the mode', async () => {
  const f = join(dir, 'lists.yaml');
  writeFileSync(f, 'mode: whitelist\nsrc: [10.0.0.1]\ndport:\n  - 8000-8099\n  - 80\n');
  const r = await runNF(slf, pkts, { options: { file: f, sport: '22,1000' } });
  assert.deepEqual(r.verdicts, [NEXT, DROP, DROP, DROP, DROP, DROP, DROP, DROP, DROP, NEXT]);
});

test('non-IP and malformed packets take non-ip', async () => {
  const arp = buildPacket({
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '10.0.0.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '10.0.0.2',
    },
  }).bytes;
  const cut = pkts[0]!.slice(0, 20);
  const a = await runNF(slf, [arp, cut], { options: { ...lists, interval: 1 }, ticks: 1 });
  assert.deepEqual(a.verdicts, [NEXT, NEXT]);
  assert.equal(a.instance.stats().nonIp, 2);
  assert.match(a.logs.join('\n'), /blacklist, 3 src, 1 dst, 1 sport, 1 dport entries/);
  assert.equal(a.logs.filter((l) => /0 passed, 0 dropped, 2 non-IP \(accept\)/.test(l)).length, 2, 'tick and stop');
  const d = await runNF(slf, [arp, cut], { options: { 'non-ip': 'drop' } });
  assert.deepEqual(d.verdicts, [DROP, DROP]);
});

async function rejects(options: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(
    () => runNF(slf, [], { options }),
    (e: unknown) => {
      assert.ok(e instanceof NfcError, String(e));
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('option and file errors name the option, or the file, line and field', async () => {
  await rejects({ src: '10.0.0.300' }, /option --src: "10\.0\.0\.300" is not an IPv4 address/);
  await rejects({ dst: '10.0.0.0/33' }, /option --dst: "10\.0\.0\.0\/33": the prefix length must be 0\.\.32/);
  await rejects({ sport: '22,x' }, /option --sport: "x" is not a port/);
  await rejects({ dport: '90-80' }, /option --dport: "90-80" is not a port/);
  await rejects({ mode: 'greylist' }, /option "mode" must be one of blacklist, whitelist/);
  await rejects({ 'non-ip': 'x' }, /option "non-ip" must be one of accept, drop/);
  await rejects({ interval: -1 }, /option "interval" must be at least 0/);
  await rejects({ file: join(dir, 'nope.yaml') }, /nope\.yaml: cannot read the stateless-firewall lists/);
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'src:\n  - 10.0.0.1\n  - 1.2.3\ndport: 99999\n');
  await rejects({ file: f }, /bad\.yaml:3: src\[1\]: "1\.2\.3" is not an IPv4 address/);
  await rejects({ file: f }, /bad\.yaml:4: dport: "99999" is not a port/);
  const k = join(dir, 'key.yaml');
  writeFileSync(k, 'srcs: [10.0.0.1]\n');
  await rejects({ file: k }, /key\.yaml:1: .*srcs/);
});
