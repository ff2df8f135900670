/**
 * Tests of arp-response with runNF: replies built in place (every field checked byte by byte),
 * the port rules of `ports` and of a list, the `other` verdict for everything not answered,
 * malformed ARP, the counters and reports, and the option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP, NEXT, NfcError, out, runNF, type PortSpec } from 'nfchain';
import arp from './index.js';
import { buildPacket, ipv4Bytes, macBytes } from '../../test/helpers/packet-builder.js';

const HOST_MAC = '02:aa:00:00:00:01';
const PORTS: PortSpec[] = [
  { name: 'lan', mac: '02:00:00:00:00:10', ipv4: '10.0.1.1/24' },
  { name: 'wan', mac: '02:00:00:00:00:20', ipv4: ['192.0.2.1/24', '192.0.2.2/24'] },
];

function request(targetIp: string, opts: { senderIp?: string; senderMac?: string; vlan?: number; op?: number } = {}) {
  const senderMac = opts.senderMac ?? HOST_MAC;
  return buildPacket({
    eth: {
      dst: 'ff:ff:ff:ff:ff:ff',
      src: senderMac,
      ...(opts.vlan !== undefined ? { vlans: [{ id: opts.vlan }] } : {}),
    },
    l3: {
      kind: 'arp',
      op: opts.op ?? 1,
      senderMac,
      senderIp: opts.senderIp ?? '10.0.1.50',
      targetMac: '00:00:00:00:00:00',
      targetIp,
    },
    padTo: 60,
  }).bytes;
}

/** Checks a reply: Ethernet and ARP fields, byte by byte (no VLAN: ARP at 14). */
function assertReply(bytes: Uint8Array, answerMac: string, answeredIp: string, toMac: string, toIp: string, l3 = 14) {
  assert.deepEqual([...bytes.subarray(0, 6)], macBytes(toMac), 'Ethernet dst = the asker');
  assert.deepEqual([...bytes.subarray(6, 12)], macBytes(answerMac), 'Ethernet src = the answering MAC');
  assert.equal(bytes[l3 + 6]! * 256 + bytes[l3 + 7]!, 2, 'op = reply');
  assert.deepEqual([...bytes.subarray(l3 + 8, l3 + 14)], macBytes(answerMac), 'sender MAC');
  assert.deepEqual([...bytes.subarray(l3 + 14, l3 + 18)], ipv4Bytes(answeredIp), 'sender IP = the address asked for');
  assert.deepEqual([...bytes.subarray(l3 + 18, l3 + 24)], macBytes(toMac), 'target MAC = the asker');
  assert.deepEqual([...bytes.subarray(l3 + 24, l3 + 28)], ipv4Bytes(toIp), 'target IP = the asker');
}

test('ports (default): answers for a port address on its own port, with its MAC, out of it', async () => {
  const r = await runNF(arp, [request('10.0.1.1'), request('192.0.2.2', { senderIp: '192.0.2.9' })], {
    ports: PORTS,
    inputPort: [0, 1],
  });
  assert.deepEqual(r.verdicts, [out(0), out(1)]);
  assertReply(r.outputs[0]!.bytes, '02:00:00:00:00:10', '10.0.1.1', HOST_MAC, '10.0.1.50');
  assertReply(r.outputs[1]!.bytes, '02:00:00:00:00:20', '192.0.2.2', HOST_MAC, '192.0.2.9');
  assert.equal(r.instance.counters.answered, 2);
  // the declared counters (stats, /metrics): the same; the three port addresses answered for
  assert.deepEqual(r.metrics, { answered: 2, ignored: 0, malformed: 0, notArp: 0, addresses: 3 });
});

test('ports: an address of another port is not answered (ignored, NEXT)', async () => {
  const r = await runNF(arp, [request('192.0.2.1')], { ports: PORTS, inputPort: 0 });
  assert.deepEqual(r.verdicts, [NEXT]);
  assert.deepEqual(r.instance.counters, { answered: 0, ignored: 1, malformed: 0, notArp: 0 });
});

test('a list: any port, the ingress MAC or the MAC given; VLAN tags kept', async () => {
  const r = await runNF(arp, [request('10.9.9.9'), request('10.9.9.9'), request('10.8.8.8', { vlan: 7 })], {
    ports: PORTS,
    inputPort: [0, 1, 1],
    options: { addresses: '10.9.9.9, 10.8.8.8=02:00:00:00:be:ef' },
  });
  assert.deepEqual(r.verdicts, [out(0), out(1), out(1)]);
  assertReply(r.outputs[0]!.bytes, '02:00:00:00:00:10', '10.9.9.9', HOST_MAC, '10.0.1.50');
  assertReply(r.outputs[1]!.bytes, '02:00:00:00:00:20', '10.9.9.9', HOST_MAC, '10.0.1.50');
  const v = r.outputs[2]!.bytes;
  assert.equal(v[12]! * 256 + v[13]!, 0x8100, 'the VLAN tag is still there');
  assert.equal((v[14]! * 256 + v[15]!) & 0xfff, 7);
  assertReply(v, '02:00:00:00:be:ef', '10.8.8.8', HOST_MAC, '10.0.1.50', 18);
});

test('ports mixed with a list', async () => {
  const r = await runNF(arp, [request('10.0.1.1'), request('10.7.7.7')], {
    ports: PORTS,
    inputPort: 1,
    options: { addresses: 'ports,10.7.7.7' },
  });
  assert.deepEqual(r.verdicts, [NEXT, out(1)]);
});

test('other ARP (replies, other addresses, gratuitous) and non-ARP: NEXT, counted', async () => {
  const ipv4 = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.1.5', dst: '10.0.1.1' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  });
  const ipv6 = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  });
  const pkts = [
    request('10.0.1.1', { op: 2 }),
    request('10.0.1.77'),
    request('10.0.1.1', { senderIp: '10.0.1.1' }),
    ipv4.bytes,
    ipv6.bytes,
  ];
  const r = await runNF(arp, pkts, { ports: PORTS });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT, NEXT]);
  assert.deepEqual(r.instance.counters, { answered: 0, ignored: 3, malformed: 0, notArp: 2 });
  assert.deepEqual([r.metrics.ignored, r.metrics.notArp], [3, 2]);
  for (let i = 0; i < pkts.length; i++) assert.deepEqual(r.outputs[i]!.bytes, pkts[i], 'not changed');
});

test('other: drop drops what is not answered', async () => {
  const ipv4 = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.1.5', dst: '10.0.1.1' },
    l4: { kind: 'udp', sport: 1, dport: 2 },
  });
  const r = await runNF(arp, [request('10.0.1.77'), ipv4.bytes, request('10.0.1.1')], {
    ports: PORTS,
    options: { other: 'drop' },
  });
  assert.deepEqual(r.verdicts, [DROP, DROP, out(0)]);
});

test('malformed ARP: truncated, another hardware type, a multicast sender; counted, never thrown', async () => {
  const good = request('10.0.1.1');
  const truncated = good.slice(0, 14 + 20);
  const ethernetOnly = good.slice(0, 10);
  const htype = good.slice();
  htype[15] = 6; // hardware type 6 (IEEE 802)
  const multicast = request('10.0.1.1', { senderMac: '01:00:5e:00:00:01' });
  const r = await runNF(arp, [truncated, htype, multicast, ethernetOnly], { ports: PORTS });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT]);
  assert.deepEqual(r.instance.counters, { answered: 0, ignored: 0, malformed: 3, notArp: 1 });
});

test('an input port the manager does not describe is not answered', async () => {
  const r = await runNF(arp, [request('10.7.7.7'), request('10.7.7.7')], {
    ports: PORTS,
    inputPort: [5, 9],
    options: { addresses: '10.7.7.7' },
  });
  assert.deepEqual(r.verdicts, [NEXT, NEXT]);
  assert.equal(r.instance.counters.ignored, 2);
});

test('interval: the addresses at start, a line per interval, totals at stop', async () => {
  const r = await runNF(arp, [request('10.0.1.1'), request('10.0.1.3')], {
    ports: PORTS,
    options: { interval: 2 },
    ticks: 4,
  });
  assert.match(r.logs[0]!, /answering for 10\.0\.1\.1 on lan, 192\.0\.2\.1 on wan, 192\.0\.2\.2 on wan/);
  assert.equal(r.logs[1], 'arp-response: last 2 s: 1 answered, 1 ignored, 0 malformed, 0 not ARP');
  assert.equal(r.logs[2], 'arp-response: last 2 s: 0 answered, 0 ignored, 0 malformed, 0 not ARP');
  assert.equal(r.logs[3], 'arp-response: in all: 1 answered, 1 ignored, 0 malformed, 0 not ARP');
  const quiet = await runNF(arp, [request('10.0.1.1')], { ports: PORTS, ticks: 3 });
  assert.deepEqual(quiet.logs, []);
});

test('option errors name the option', async () => {
  const cases: [Record<string, unknown>, RegExp, PortSpec[]?][] = [
    [{ addresses: '10.0.0.300' }, /option "addresses": "10\.0\.0\.300" \(in "10\.0\.0\.300"\) is not an IPv4 address/],
    [{ addresses: '10.0.0.1=02:00:zz:00:00:01' }, /option "addresses": "02:00:zz:00:00:01" .* is not a MAC address/],
    [{ addresses: '10.0.0.1=01:00:5e:00:00:01' }, /option "addresses": 01:00:5e:00:00:01 .* is a multicast MAC/],
    [{ addresses: '10.0.0.1,10.0.0.1' }, /option "addresses": 10\.0\.0\.1 is listed twice/],
    [{ addresses: ' , ' }, /option "addresses": is empty/],
    [{}, /option "addresses": "ports" names no address/, [{ name: 'bare' }]],
    [{ other: 'reject' }, /option "other" must be one of next, drop/],
    [{ interval: -1 }, /option "interval" must be at least 0/],
  ];
  for (const [options, re, ports] of cases) {
    await assert.rejects(
      runNF(arp, [], { options, ports: ports ?? PORTS }),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_NF_OPTION' && re.test(e.message),
      `${JSON.stringify(options)}`,
    );
  }
});
