/**
 * Seeded fuzz of PacketView: truncated and corrupted packets, proving that no getter or setter
 * throws, reads outside the packet or writes outside it, that the fast flowHash agrees with the
 * full parse, and that incremental checksum updates keep verifying checksums verifying.
 * NFC_FUZZ_SEED and NFC_FUZZ_N choose the seed and the number of packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketView } from './packet-view.js';
import { MacField } from './protocol.js';
import { FlowKey, hashFlowKey } from './flow-key.js';
import { buildPacket, samplePackets } from '../../test/helpers/packet-builder.js';
import { mulberry32f as mulberry32 } from '../util/prng.js';
import { snapshot } from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Fuzz: truncated and corrupted packets

const FUZZ_SEED = Number(process.env.NFC_FUZZ_SEED ?? 0x6e66c0de) >>> 0;
const FUZZ_N = Number(process.env.NFC_FUZZ_N ?? 100_000);

/** Byte values that steer the parser into its branches more often than uniform noise would. */
const INTERESTING = [
  0x00, 0x01, 0xff, 0x40, 0x45, 0x4f, 0x44, 0x60, 0x81, 0x88, 0xa8, 0x86, 0xdd, 0x08, 0x06, 0x11, 0x3a, 0x2c, 0x2b,
  0x3c, 0x33, 0x50, 0xf0, 0x20, 0x3b,
];

/** What must hold for any packet: offsets inside it, lengths non-negative, fields in range. */
function checkInvariants(o: Record<string, unknown>, len: number, where: () => string): void {
  const n = (k: string): number => o[k] as number;
  const bad = (what: string): never => assert.fail(`${what} at ${where()}`);
  if (n('l3Offset') > len) bad('l3Offset beyond the packet');
  if (n('l4Offset') > len) bad('l4Offset beyond the packet');
  if (n('l4Offset') >= 0 && n('l4Offset') < n('l3Offset') + 20) bad('l4Offset inside the L3 header');
  if (n('payloadOffset') >= 0) {
    if (n('payloadLength') < 0) bad('negative payloadLength');
    if (n('payloadOffset') + n('payloadLength') > len) bad('payload beyond the packet');
    if (n('payloadOffset') < n('l4Offset') + 8) bad('payload inside the L4 header');
  } else if (n('payloadLength') !== -1) {
    bad('payloadLength without payloadOffset');
  }
  const td = n('tcpDataOffset');
  if (td !== -1 && (td < 5 || td > 15 || n('l4Offset') + td * 4 > len)) bad('TCP header beyond the packet');
  const ihl = n('ipv4Ihl');
  if (ihl !== -1 && (ihl < 5 || n('ipv4TotalLength') < ihl * 4 || n('l3Offset') + ihl * 4 > len))
    bad('bad IPv4 header accepted');
  if ((n('srcPort') === -1) !== (n('tcpSrcPort') === -1 && n('udpSrcPort') === -1))
    bad('srcPort disagrees with TCP/UDP');
}

test(`fuzz: ${FUZZ_N} truncated/corrupted packets — no throw, no read or write outside the packet (seed 0x${FUZZ_SEED.toString(16)})`, (t) => {
  const started = Date.now();
  const rnd = mulberry32(FUZZ_SEED);
  const ri = (n: number): number => Math.floor(rnd() * n);
  const templates = samplePackets();
  // A few more seeds with deep structure.
  templates.push({
    name: 'ipv6-8ext',
    p: buildPacket({
      l3: { kind: 'ipv6', src: '::1', dst: '::2', ext: Array.from({ length: 8 }, () => ({ type: 60 }) as const) },
      l4: { kind: 'tcp', sport: 1, dport: 2 },
    }),
  });
  templates.push({
    name: 'qinq-ipv4-icmp',
    p: buildPacket({
      eth: { vlans: [{ tpid: 0x88a8, id: 1 }, { id: 2 }] },
      l3: { kind: 'ipv4', src: '1.2.3.4', dst: '5.6.7.8', options: [1, 1, 1, 1] },
      l4: { kind: 'icmp', type: 0, code: 0, id: 1, seq: 2 },
    }),
  });

  const maxTemplate = Math.max(...templates.map((t) => t.p.bytes.length));
  const MAXLEN = maxTemplate + 24;
  const PAD = 48;
  // A and B: the packet at the same offset amid two complementary fills. C: the packet flush
  // against the end of its ArrayBuffer, so any read past the end would throw a RangeError.
  const sizeAB = PAD + MAXLEN + PAD;
  const FILL_A = 0xa5;
  const FILL_B = 0x5a;
  const FILL_C = 0xc3;
  const bufA = new Uint8Array(sizeAB);
  const bufB = new Uint8Array(sizeAB);
  const bufC = new Uint8Array(PAD + MAXLEN);
  const vA = new PacketView(bufA.buffer);
  const vB = new PacketView(bufB.buffer);
  const vC = new PacketView(bufC.buffer);
  const pkt = new Uint8Array(MAXLEN);
  const v6a = new Uint32Array(4);
  const v6b = new Uint32Array(4);
  const macBytes = new Uint8Array(6);
  const fuzzKey = new FlowKey();
  const results = [new Array<boolean>(0), new Array<boolean>(0), new Array<boolean>(0)];
  let withL4Ok = 0;
  let withIpOk = 0;

  const outsideUntouched = (buf: Uint8Array, from: number, to: number, fill: number): boolean => {
    for (let i = 0; i < from; i++) if (buf[i] !== fill) return false;
    for (let i = to; i < buf.length; i++) if (buf[i] !== fill) return false;
    return true;
  };

  for (let iter = 0; iter < FUZZ_N; iter++) {
    const t = templates[ri(templates.length)]!;
    const base = t.p.bytes;
    pkt.set(base);
    for (let i = base.length; i < MAXLEN; i++) pkt[i] = ri(256);
    // Corrupt: a few random bytes, biased to the first 80 (the headers), with interesting values.
    const nCorrupt = ri(5);
    for (let c = 0; c < nCorrupt; c++) {
      const pos = rnd() < 0.7 ? ri(Math.min(80, base.length)) : ri(base.length);
      pkt[pos] = rnd() < 0.5 ? INTERESTING[ri(INTERESTING.length)]! : ri(256);
    }
    const mode = rnd();
    const len =
      mode < 0.45 ? base.length : mode < 0.9 ? ri(base.length + 1) : base.length + 1 + ri(MAXLEN - base.length);
    const off = ri(PAD + 1);
    const offC = bufC.length - len;
    bufA.fill(FILL_A);
    bufB.fill(FILL_B);
    bufC.fill(FILL_C);
    bufA.set(pkt.subarray(0, len), off);
    bufB.set(pkt.subarray(0, len), off);
    bufC.set(pkt.subarray(0, len), offC);

    const where = (): string =>
      `iteration ${iter} (seed 0x${FUZZ_SEED.toString(16)}): template ${t.name}, length ${len}, ` +
      `packet ${Buffer.from(pkt.subarray(0, len)).toString('hex')}`;

    // 1. Getters: identical whatever surrounds the packet.
    let sA: string;
    let sB: string;
    let sC: string;
    try {
      // The fast flowHash on a fresh view: same answer whatever surrounds the packet, and the
      // same as hashing the key the full parse gives.
      const hA = vA.reset(off, len).flowHash();
      const hB = vB.reset(off, len).flowHash();
      const hC = vC.reset(offC, len).flowHash();
      if (hA !== hB || hA !== hC) assert.fail(`flowHash read outside the packet at ${where()}`);
      const hKey = vA.flowKey(fuzzKey) ? hashFlowKey(fuzzKey, true) : 0;
      if (hA !== hKey) assert.fail(`fast flowHash ${hA} != hashFlowKey(flowKey) ${hKey} at ${where()}`);
      const o = snapshot(vA.reset(off, len));
      checkInvariants(o, len, where);
      sA = JSON.stringify(o);
      sB = JSON.stringify(snapshot(vB.reset(off, len)));
      sC = JSON.stringify(snapshot(vC.reset(offC, len)));
    } catch (e) {
      assert.fail(`getter threw ${String(e)} at ${where()}`);
    }
    if (sA !== sB || sA !== sC) {
      assert.deepEqual(JSON.parse(sB), JSON.parse(sA), `getters read outside the packet at ${where()}`);
      assert.deepEqual(JSON.parse(sC), JSON.parse(sA), `getters read outside the packet at ${where()}`);
    }

    // 2. Setters with the same random values on all three: same return values, same packet
    // bytes afterwards, nothing written outside, checksums that verified still verify.
    const ipOk = vA.ipv4ChecksumOk();
    const l4Ok = vA.l4ChecksumOk();
    if (ipOk) withIpOk++;
    if (l4Ok) withL4Ok++;
    const mac = Math.floor(rnd() * 2 ** 48);
    for (let i = 0; i < 6; i++) macBytes[i] = ri(256);
    const ip1 = ri(2 ** 32);
    const ip2 = ri(2 ** 32);
    const p1 = ri(65536);
    const p2 = ri(65536);
    const small = ri(256);
    for (let i = 0; i < 4; i++) {
      v6a[i] = ri(2 ** 32);
      v6b[i] = ri(2 ** 32);
    }
    const views = [vA, vB, vC];
    try {
      for (let k = 0; k < 3; k++) {
        const v = views[k]!;
        const r = results[k]!;
        r.length = 0;
        r.push(
          v.setEthDst(mac),
          v.setEthSrc(mac + 1),
          v.writeMac(MacField.ARP_SENDER, macBytes),
          v.setMac(MacField.ARP_TARGET, mac),
          v.setArpOp(small),
          v.setArpSenderIp(ip1),
          v.setArpTargetIp(ip2),
          v.setIpv4Src(ip1),
          v.setIpv4Dst(ip2),
          v.setIpv4Ttl(small),
          v.setIpv4Tos(small ^ 0x5a),
          v.decrementTtl(),
          v.setIpv6Src(v6a),
          v.setIpv6Dst(v6b),
          v.setIpv6HopLimit(small),
          v.setSrcPort(p1),
          v.setDstPort(p2),
          v.setTcpSrcPort(p2),
          v.setTcpDstPort(p1),
          v.setUdpSrcPort(p2),
          v.setUdpDstPort(p1),
        );
        if (k === 0) {
          // Incremental updates keep a verifying checksum verifying.
          if (ipOk && !v.ipv4ChecksumOk()) assert.fail(`IPv4 checksum broken by setters at ${where()}`);
          if (l4Ok && !v.l4ChecksumOk()) assert.fail(`L4 checksum broken by setters at ${where()}`);
        }
        const fixedIp = v.fixIpv4Checksum();
        const fixedL4 = v.fixL4Checksum();
        r.push(fixedIp, fixedL4);
        if (fixedIp && !v.ipv4ChecksumOk()) assert.fail(`fixIpv4Checksum did not fix at ${where()}`);
        if (fixedL4 && !v.l4ChecksumOk()) assert.fail(`fixL4Checksum did not fix at ${where()}`);
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`setter threw ${String(e)} at ${where()}`);
    }
    assert.deepEqual(results[1], results[0], `setter results differ at ${where()}`);
    assert.deepEqual(results[2], results[0], `setter results differ at ${where()}`);
    if (
      !outsideUntouched(bufA, off, off + len, FILL_A) ||
      !outsideUntouched(bufB, off, off + len, FILL_B) ||
      !outsideUntouched(bufC, offC, offC + len, FILL_C)
    ) {
      assert.fail(`a setter wrote outside the packet at ${where()}`);
    }
    for (let i = 0; i < len; i++) {
      if (bufA[off + i] !== bufB[off + i] || bufA[off + i] !== bufC[offC + i]) {
        assert.fail(`setters wrote differently depending on outside bytes (byte ${i}) at ${where()}`);
      }
    }
    // 3. The parse cached before the setters still describes the packet.
    const cached = JSON.stringify(snapshot(vA));
    const fresh = JSON.stringify(snapshot(vA.reset(off, len)));
    if (cached !== fresh)
      assert.deepEqual(JSON.parse(cached), JSON.parse(fresh), `setters invalidated the parse at ${where()}`);
  }
  const ms = Date.now() - started;
  // The fuzz must reach the interesting states, not just bounce off malformed headers.
  assert.ok(withIpOk > FUZZ_N / 10, `only ${withIpOk} packets with a valid IPv4 header`);
  assert.ok(withL4Ok > FUZZ_N / 10, `only ${withL4Ok} packets with a valid L4 checksum`);
  // Timings are not tests: the duration is reported, never asserted.
  t.diagnostic(`fuzz of ${FUZZ_N} packets took ${ms} ms`);
});
