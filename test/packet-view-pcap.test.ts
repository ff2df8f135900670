/**
 * Round trip through a capture file: the hand-built sample packets are written with PcapWriter,
 * read back with PcapReader (both straight from the reader's buffer and copied into a pool slot,
 * as the pcap port does), and PacketView must give the same answers as on the originals. Also
 * checks a capture cut by snaplen: headers still parse, the transport checksum is reported as
 * not checkable rather than wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapReader } from '../src/pcap/pcap-reader.js';
import { PcapWriter } from '../src/pcap/pcap-writer.js';
import { PacketView } from '../src/packet/packet-view.js';
import { FlowKey } from '../src/packet/flow-key.js';
import { samplePackets } from './helpers/packet-builder.js';

const NUMERIC_GETTERS = [
  'ethDst',
  'ethSrc',
  'vlanCount',
  'etherType',
  'l3Offset',
  'arpOp',
  'arpSenderMac',
  'arpTargetMac',
  'arpSenderIp',
  'arpTargetIp',
  'ipVersion',
  'ipProtocol',
  'fragmentOffset',
  'ipv4Ihl',
  'ipv4Tos',
  'ipv4TotalLength',
  'ipv4Id',
  'ipv4Flags',
  'ipv4Ttl',
  'ipv4Protocol',
  'ipv4Checksum',
  'ipv4Src',
  'ipv4Dst',
  'ipv6TrafficClass',
  'ipv6FlowLabel',
  'ipv6PayloadLength',
  'ipv6NextHeader',
  'ipv6HopLimit',
  'l4Offset',
  'srcPort',
  'dstPort',
  'payloadOffset',
  'payloadLength',
  'tcpSrcPort',
  'tcpDstPort',
  'tcpSeq',
  'tcpAck',
  'tcpDataOffset',
  'tcpFlags',
  'tcpWindow',
  'tcpChecksum',
  'udpSrcPort',
  'udpDstPort',
  'udpLength',
  'udpChecksum',
  'icmpType',
  'icmpCode',
  'icmpEchoId',
  'icmpEchoSeq',
  'icmp6Type',
  'icmp6Code',
  'icmp6EchoId',
  'icmp6EchoSeq',
] as const satisfies ReadonlyArray<keyof PacketView>;

/** The view's answers for the packet it points at (cold: allocates). */
function answers(v: PacketView): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const g of NUMERIC_GETTERS) out[g] = v[g];
  const a = new Uint32Array(4);
  const key = new FlowKey();
  out.vlanIds = [v.vlanId(0), v.vlanId(1)];
  out.isFragment = v.isFragment;
  out.ipv6Src = v.ipv6Src(a) ? [...a] : null;
  out.ipv6Dst = v.ipv6Dst(a) ? [...a] : null;
  out.ipv4ChecksumOk = v.ipv4ChecksumOk();
  out.l4ChecksumOk = v.l4ChecksumOk();
  out.flowKey = v.flowKey(key) ? key.toString() : null;
  out.flowHash = v.flowHash();
  return out;
}

test('PacketView gives the same answers on packets that went through a pcap file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-pv-pcap-'));
  try {
    const samples = samplePackets();
    const expected = samples.map((s) => answers(new PacketView(s.p.bytes.slice().buffer).reset(0, s.p.bytes.length)));
    const file = join(dir, 'samples.pcap');
    const w = PcapWriter.create(file, { nanosecond: true });
    samples.forEach((s, i) => {
      w.write(s.p.bytes, 0, s.p.bytes.length, 1_700_000_000 + i, i * 1000);
    });
    w.close();
    assert.equal(w.count, samples.length);

    // Straight from the reader's buffer.
    const r = PcapReader.open(file);
    let i = 0;
    try {
      for (let rec = r.next(); rec !== null; rec = r.next(), i++) {
        const s = samples[i]!;
        assert.equal(rec.capLen, s.p.bytes.length, s.name);
        assert.equal(rec.tsSec, 1_700_000_000 + i);
        const v = new PacketView(rec.bytes.buffer).reset(rec.bytes.byteOffset + rec.offset, rec.capLen);
        assert.deepEqual(answers(v), expected[i], s.name);
      }
    } finally {
      r.close();
    }
    assert.equal(i, samples.length);

    // Copied into the slots of a pool, one view reused for every packet.
    const slot = 2048;
    const pool = new Uint8Array(slot * samples.length);
    const r2 = PcapReader.open(file);
    const lengths: number[] = [];
    try {
      for (let n = r2.readInto(pool, 0, slot); n >= 0; n = r2.readInto(pool, lengths.length * slot, slot))
        lengths.push(n);
    } finally {
      r2.close();
    }
    assert.equal(lengths.length, samples.length);
    const view = new PacketView(pool.buffer);
    lengths.forEach((n, k) => {
      assert.deepEqual(answers(view.reset(k * slot, n)), expected[k], samples[k]!.name);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a capture cut by snaplen: headers parse, the transport checksum is not checkable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfchain-pv-pcap-'));
  try {
    const samples = samplePackets().filter((s) => s.p.bytes.length > 64);
    const file = join(dir, 'snap.pcap');
    const w = PcapWriter.create(file, { snaplen: 64 });
    for (const s of samples) w.write(s.p.bytes, 0, s.p.bytes.length, 1, 0);
    w.close();
    const r = PcapReader.open(file);
    try {
      for (const s of samples) {
        const rec = r.next();
        assert.ok(rec !== null);
        assert.equal(rec.capLen, 64);
        assert.equal(rec.origLen, s.p.bytes.length);
        const v = new PacketView(rec.bytes.buffer).reset(rec.bytes.byteOffset + rec.offset, rec.capLen);
        const cut = new PacketView(s.p.bytes.slice(0, 64).buffer).reset(0, 64);
        assert.deepEqual(answers(v), answers(cut), s.name);
        assert.equal(v.l4ChecksumOk(), false, s.name);
        assert.equal(v.fixL4Checksum(), false, s.name);
      }
      assert.equal(r.next(), null);
    } finally {
      r.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
