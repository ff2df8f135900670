/**
 * Tests of aes-encrypt (and, for round trips, aes-decrypt, whose own tests are beside it):
 * the TypeScript AES against FIPS-197 and node:crypto, the wire format (IV in front, lengths,
 * checksums recomputed from scratch by the packet builder's reference code), the keystream
 * against node's aes-*-ctr, both engines, every verdict path and option, and key file errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DROP,
  gsoOffload,
  NEXT,
  NfcError,
  OFFLOAD_CSUM_PARTIAL,
  OffloadGso,
  openNF,
  PacketView,
  runNF,
  toNF,
  type Burst,
} from 'nfchain';
import aesEncrypt, { type UdpCrypt } from './index.js';
import aesDecrypt from '../aes-decrypt/index.js';
import { AesTables, expandKey } from './aes.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  type BuiltPacket,
  type PacketSpec,
} from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-aes-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}
const KEY128 = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
const KEY256 = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
const key128 = keyFile('k128.key', `# test key\n${KEY128.toString('hex')}\n`);
const key256 = keyFile('k256.key', `${KEY256.toString('hex').slice(0, 32)}\n${KEY256.toString('hex').slice(32)}\n`);

/** A seeded PRNG (xorshift32), for payloads and lengths. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
function bytesOf(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
  return b;
}

function udp4(
  payload: Uint8Array,
  opts: { sport?: number; dport?: number; noChecksum?: boolean; padTo?: number } = {},
) {
  const spec: PacketSpec = {
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: {
      kind: 'udp',
      sport: opts.sport ?? 4000,
      dport: opts.dport ?? 5000,
      payload,
      ...(opts.noChecksum ? { noChecksum: true } : {}),
    },
    ...(opts.padTo ? { padTo: opts.padTo } : {}),
  };
  return buildPacket(spec);
}
function udp6(payload: Uint8Array): BuiltPacket {
  return buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'udp', sport: 4000, dport: 5000, payload },
  });
}

/** The layout of `b` after encryption: 16 bytes more of transport. */
function grown(b: BuiltPacket, by = 16): BuiltPacket {
  return { ...b, l4Length: b.l4Length + by, payloadLength: b.payloadLength + by };
}

/** node's AES-CTR of `data` from counter block `iv`: the reference keystream. */
function nodeCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createCipheriv(`aes-${key.length * 8}-ctr`, key, iv).update(data));
}

/** Checks an encrypted packet against its plaintext: layout, IV, ciphertext, checksums. Returns the IV. */
function checkEncrypted(out: Uint8Array, b: BuiltPacket, key: Uint8Array): Uint8Array {
  const payload = b.bytes.subarray(b.payloadOffset, b.payloadOffset + b.payloadLength);
  assert.equal(out.length, b.l3Offset + (b.family === 4 ? 20 : 40) + 8 + 16 + b.payloadLength);
  const headers = out.slice(0, b.payloadOffset);
  headers[b.l4Offset + 6] = 0; // the UDP checksum: checked below
  headers[b.l4Offset + 7] = 0;
  assert.deepEqual(headers, withLengths(b, 16), 'headers');
  const iv = out.slice(b.payloadOffset, b.payloadOffset + 16);
  const ct = out.subarray(b.payloadOffset + 16);
  assert.deepEqual(ct, nodeCtr(key, iv, payload), 'ciphertext = node aes-ctr from the IV');
  checkChecksums(out, grown(b));
  return iv;
}

/** The built packet's header bytes with IP/UDP lengths grown by `by` and checksums as the reference computes. */
function withLengths(b: BuiltPacket, by: number): Uint8Array {
  const h = b.bytes.slice(0, b.payloadOffset);
  const dv = new DataView(h.buffer);
  if (b.family === 4) {
    dv.setUint16(b.l3Offset + 2, dv.getUint16(b.l3Offset + 2) + by);
    dv.setUint16(b.l3Offset + 10, refIpv4HeaderChecksum(h, b.l3Offset));
  } else {
    dv.setUint16(b.l3Offset + 4, dv.getUint16(b.l3Offset + 4) + by);
  }
  dv.setUint16(b.l4Offset + 4, dv.getUint16(b.l4Offset + 4) + by);
  h[b.l4Offset + 6] = 0;
  h[b.l4Offset + 7] = 0;
  return h;
}

/** The IPv4 header checksum and the UDP checksum of `out` (laid out as `b`) are what the reference computes. */
function checkChecksums(out: Uint8Array, b: BuiltPacket, udpNone = false): void {
  if (b.family === 4) {
    const stored = (out[b.l3Offset + 10]! << 8) | out[b.l3Offset + 11]!;
    assert.equal(stored, refIpv4HeaderChecksum(out, b.l3Offset), 'IPv4 header checksum');
  }
  const udp = (out[b.l4Offset + 6]! << 8) | out[b.l4Offset + 7]!;
  if (udpNone) assert.equal(udp, 0, 'UDP checksum stays 0 (none)');
  else assert.equal(udp, refL4Checksum(out, b), 'UDP checksum');
}
const quiet = { key: key128, interval: 0 };

test('TypeScript AES: FIPS-197 C.1 and C.3 vectors, and the key schedule of A.1', () => {
  const pt = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  for (const [k, expect] of [
    ['000102030405060708090a0b0c0d0e0f', '69c4e0d86a7b0430d8cdb78070b4c55a'],
    ['000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '8ea2b7ca516745bfeafc49904b496089'],
  ] as const) {
    const aes = new AesTables(Buffer.from(k, 'hex'));
    // CTR over zeros from counter block = the plaintext is that block's encryption.
    const out = new Uint8Array(16);
    aes.ctrXor(out, 0, 16, pt, 0);
    assert.equal(Buffer.from(out).toString('hex'), expect);
  }
  const w = expandKey(KEY128);
  assert.equal((w[43]! >>> 0).toString(16), 'b6630ca6'); // FIPS-197 A.1: w[43]
  assert.throws(() => expandKey(new Uint8Array(24)), /24 bytes/);
});

test('TypeScript AES-CTR equals node aes-128/256-ctr: random keys, IVs (counter carries), lengths', () => {
  const rand = prng(7);
  for (let t = 0; t < 60; t++) {
    const key = bytesOf(rand, t % 2 === 0 ? 16 : 32);
    const iv = bytesOf(rand, 16);
    if (t % 5 === 0) iv.fill(0xff, 4); // the increment carries across words
    const len = rand() % 300;
    const data = bytesOf(rand, len + 3);
    const mine = data.slice();
    new AesTables(key).ctrXor(mine, 3, len, iv, 0);
    assert.deepEqual(mine.subarray(3), nodeCtr(key, iv, data.subarray(3)), `case ${t}`);
    assert.deepEqual(mine.subarray(0, 3), data.subarray(0, 3), 'bytes before the range untouched');
  }
});

for (const engine of ['node', 'typescript'] as const) {
  test(`encrypt (${engine}): IV in front, ciphertext = node aes-128-ctr, lengths and checksums (IPv4, IPv6)`, async () => {
    const rand = prng(11);
    const built = [
      udp4(bytesOf(rand, 1400)),
      udp6(bytesOf(rand, 333)),
      udp4(bytesOf(rand, 5)),
      udp4(new Uint8Array(0)),
    ];
    const r = await runNF(
      aesEncrypt,
      built.map((b) => b.bytes),
      { options: { ...quiet, engine } },
    );
    assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT]);
    const ivs = built.map((b, i) => checkEncrypted(r.outputs[i]!.bytes, b, KEY128));
    // One stream: each IV is the one before plus the blocks the packet before used.
    const ctr = (iv: Uint8Array) => Buffer.from(iv).readBigUInt64BE(8);
    assert.deepEqual(
      ivs.map((iv) => Buffer.from(iv).subarray(0, 8).toString('hex')),
      Array(4).fill(Buffer.from(ivs[0]!).subarray(0, 8).toString('hex')),
      'one nonce per instance',
    );
    assert.equal(ctr(ivs[1]!) - ctr(ivs[0]!), 88n); // ceil(1400 / 16)
    assert.equal(ctr(ivs[2]!) - ctr(ivs[1]!), 21n);
    assert.equal(ctr(ivs[3]!) - ctr(ivs[2]!), 1n);
    const inst = r.instance as UdpCrypt;
    assert.equal(inst.transformed, 4);
    assert.equal(inst.bytes, 1400 + 333 + 5);
    assert.deepEqual([r.metrics.encrypted, r.metrics.bytes], [4, 1400 + 333 + 5], 'the declared counters');
    assert.equal(inst.cipherCalls, engine === 'node' ? 1 : 0, 'one cipher call for the burst');
  });

  test(`round trip (${engine}, AES-128 and AES-256): encrypt then decrypt gives the original bytes`, async () => {
    const rand = prng(23);
    const built: BuiltPacket[] = [];
    for (let i = 0; i < 70; i++) {
      const len = rand() % 1460;
      built.push(i % 3 === 0 ? udp6(bytesOf(rand, len)) : udp4(bytesOf(rand, len), { noChecksum: i % 7 === 0 }));
    }
    for (const key of [key128, key256]) {
      const enc = await runNF(
        aesEncrypt,
        built.map((b) => b.bytes),
        { options: { key, interval: 0, engine } },
      );
      assert.equal(enc.outputs.length, built.length);
      for (let i = 0; i < built.length; i++) {
        if (i % 7 === 0 && i % 3 !== 0) checkChecksums(enc.outputs[i]!.bytes, grown(built[i]!), true);
        else checkChecksums(enc.outputs[i]!.bytes, grown(built[i]!));
      }
      // decrypt with the other engine too: the format does not depend on it
      for (const decEngine of ['node', 'typescript']) {
        const dec = await runNF(
          aesDecrypt,
          enc.outputs.map((o) => o.bytes),
          { options: { key, interval: 0, engine: decEngine } },
        );
        assert.deepEqual(
          dec.outputs.map((o) => Buffer.from(o.bytes).toString('hex')),
          built.map((b) => Buffer.from(b.bytes).toString('hex')),
        );
      }
    }
  });
}

test('different packets get different keystreams; two instances draw different nonces', async () => {
  const same = udp4(new Uint8Array(64).fill(0x41));
  const a = await runNF(aesEncrypt, [same.bytes, same.bytes], { options: quiet });
  const b = await runNF(aesEncrypt, [same.bytes], { options: quiet });
  const ct = (o: Uint8Array) => Buffer.from(o.subarray(same.payloadOffset)).toString('hex');
  const [x, y] = a.outputs.map((o) => ct(o.bytes));
  assert.notEqual(x, y, 'same plaintext, different IV and ciphertext');
  assert.notEqual(ct(b.outputs[0]!.bytes).slice(0, 16), x!.slice(0, 16), 'another nonce');
});

test('the decryptor takes runs of following IVs in one cipher call and starts a new one where they break', async () => {
  const rand = prng(5);
  const built = Array.from({ length: 8 }, () => udp4(bytesOf(rand, 100 + (rand() % 200))));
  const enc = await runNF(
    aesEncrypt,
    built.map((b) => b.bytes),
    { options: quiet },
  );
  const order = [0, 1, 2, 5, 3, 4, 6, 7]; // runs: 0-2, 5, 3-4, 6-7
  const dec = await runNF(
    aesDecrypt,
    order.map((i) => enc.outputs[i]!.bytes),
    { options: quiet },
  );
  assert.deepEqual(
    dec.outputs.map((o) => Buffer.from(o.bytes).toString('hex')),
    order.map((i) => Buffer.from(built[i]!.bytes).toString('hex')),
  );
  assert.equal((dec.instance as UdpCrypt).cipherCalls, 4);
});

test('not UDP, other ports: passed on unchanged; option port filters', async () => {
  const tcp = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'tcp', sport: 1, dport: 5000, payload: new Uint8Array(20) },
  }).bytes;
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
  const icmp6 = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'icmp6', type: 128, code: 0 },
  }).bytes;
  const to5000 = udp4(new Uint8Array(10), { sport: 999, dport: 5000 });
  const from5000 = udp4(new Uint8Array(10), { sport: 5000, dport: 999 });
  const other = udp4(new Uint8Array(10), { sport: 53, dport: 53 });
  const r = await runNF(aesEncrypt, [tcp, arp, icmp6, to5000.bytes, from5000.bytes, other.bytes], {
    options: { ...quiet, port: 5000 },
  });
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT, NEXT, NEXT]);
  assert.deepEqual(r.outputs[0]!.bytes, tcp);
  assert.deepEqual(r.outputs[1]!.bytes, arp);
  assert.deepEqual(r.outputs[2]!.bytes, icmp6);
  assert.equal(r.outputs[3]!.bytes.length, to5000.bytes.length + 16);
  assert.equal(r.outputs[4]!.bytes.length, from5000.bytes.length + 16);
  assert.deepEqual(r.outputs[5]!.bytes, other.bytes, 'port 53: not encrypted');
  const inst = r.instance as UdpCrypt;
  assert.deepEqual([inst.notUdp, inst.otherPort, inst.transformed], [3, 1, 2]);
});

test('option destination: transformed packets go to that service; others still NEXT', async () => {
  const r = await runNF(aesEncrypt, [udp4(new Uint8Array(4)).bytes, buildPacket({ l3Raw: new Uint8Array(50) }).bytes], {
    options: { ...quiet, destination: 3 },
  });
  assert.deepEqual(r.verdicts, [toNF(3), NEXT]);
});

test('dropped, never passed in clear: fragments, GSO, malformed, too big for mtu or 65535', async () => {
  const frag1 = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', flags: 1 },
    l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(32) },
  }).bytes;
  const frag2 = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', fragOffset: 5, proto: 17 },
    l4: { kind: 'raw', proto: 17, payload: new Uint8Array(32) },
  }).bytes;
  const long = udp4(new Uint8Array(40));
  const badLen = long.bytes.slice();
  badLen[long.l4Offset + 5] = 200; // UDP length beyond the IP packet
  const truncated = long.bytes.slice(0, long.bytes.length - 10); // IP length beyond the frame
  const big = udp4(new Uint8Array(1472)); // IP packet 1500 -> 1516 encrypted
  const fits = udp4(new Uint8Array(1456)); // 1484 -> 1500
  const r = await runNF(aesEncrypt, [frag1, frag2, long.bytes, badLen, truncated, big.bytes, fits.bytes], {
    options: { ...quiet, mtu: 1500 },
    offloads: [0, 0, gsoOffload(OffloadGso.UDP_L4, 8), 0, 0, 0, 0],
  });
  assert.deepEqual(r.verdicts, [DROP, DROP, DROP, DROP, DROP, DROP, NEXT]);
  const inst = r.instance as UdpCrypt;
  assert.deepEqual([inst.fragments, inst.gso, inst.malformed, inst.tooBig, inst.transformed], [2, 1, 2, 1, 1]);
  // Without mtu: only the 65535-byte limit of IP and UDP lengths.
  const r2 = await runNF(aesEncrypt, [big.bytes], { options: quiet });
  assert.deepEqual(r2.verdicts, [NEXT]);
});

test('a partial UDP checksum (offload) is completed; a zero one over IPv4 stays zero', async () => {
  const b = udp4(bytesOf(prng(3), 200));
  const partial = b.bytes.slice();
  // the field holds the pseudo-header sum, as a sender with checksum offload leaves it
  const r = await runNF(aesEncrypt, [partial, udp4(new Uint8Array(30), { noChecksum: true }).bytes], {
    options: quiet,
    offloads: [OFFLOAD_CSUM_PARTIAL, 0],
  });
  checkChecksums(r.outputs[0]!.bytes, grown(b));
  assert.equal(r.outputs[0]!.offload & OFFLOAD_CSUM_PARTIAL, 0, 'the partial flag is cleared');
  checkChecksums(r.outputs[1]!.bytes, grown(udp4(new Uint8Array(30), { noChecksum: true })), true);
});

test('Ethernet padding and VLAN tags: encrypt and decrypt keep them', async () => {
  const padded = udp4(new Uint8Array(2), { padTo: 60 });
  const vlan = buildPacket({
    eth: { vlans: [{ id: 7 }] },
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(100).fill(9) },
  });
  const enc = await runNF(aesEncrypt, [padded.bytes, vlan.bytes], { options: quiet });
  checkEncrypted(enc.outputs[1]!.bytes, vlan, KEY128);
  const dec = await runNF(
    aesDecrypt,
    enc.outputs.map((o) => o.bytes),
    { options: quiet },
  );
  assert.deepEqual(dec.outputs[0]!.bytes, padded.bytes);
  assert.deepEqual(dec.outputs[1]!.bytes, vlan.bytes);
});

/** Runs one packet through an open session's instance in a buffer whose headroom is used up. */
async function withoutHeadroom(data: Uint8Array, engine: string) {
  // 64 B meta + 128 B headroom + 1856 B data room: a 2048-byte buffer, no slack after it.
  const s = await openNF(aesEncrypt, { options: { ...quiet, engine }, dataRoom: 1856 });
  const pool = s.ctx.pool;
  const d = s.ctx.newPacket();
  assert.ok(d >= 0);
  assert.ok(pool.prepend(d, pool.headroom)); // data now starts right after the meta
  pool.write(d, data);
  const burst: Burst = {
    descs: Uint32Array.of(d),
    verdicts: Int32Array.of(NEXT),
    n: 1,
    view: new PacketView(pool.buffer),
  };
  (s.instance as UdpCrypt).handleBurst(burst, s.ctx as never);
  const out = pool.bytes(d).slice();
  s.ctx.drop(d);
  await s.stop();
  return { verdict: burst.verdicts[0]!, out, inst: s.instance as UdpCrypt };
}

test('no headroom: the payload moves to the back instead; no room there either: dropped', async () => {
  for (const engine of ['node', 'typescript']) {
    const b = udp4(bytesOf(prng(9), 300), { padTo: 400 });
    const ok = await withoutHeadroom(b.bytes, engine);
    assert.equal(ok.verdict, NEXT);
    // Ethernet padding is dropped on this path: the frame ends with the datagram.
    const unpadded = udp4(bytesOf(prng(9), 300));
    checkEncrypted(ok.out, unpadded, KEY128);
    const full = udp4(new Uint8Array(2048 - 64 - 42 - 8)); // fills the buffer from the meta on
    const no = await withoutHeadroom(full.bytes, engine);
    assert.equal(no.verdict, DROP);
    assert.equal(no.inst.noRoom, 1);
  }
});

test('interval: a counter line every interval ticks and at stop; 0: quiet', async () => {
  const pkts = [udp4(new Uint8Array(10)).bytes];
  const r = await runNF(aesEncrypt, pkts, { options: { key: key128, interval: 2 }, ticks: 4 });
  assert.equal(r.logs.length, 3);
  assert.match(r.logs[0]!, /^aes-encrypt: 1 packets, 1 encrypted \(10 payload bytes\), 0 not UDP/);
  assert.match(r.logs[2]!, /\(in all\)$/);
  const q = await runNF(aesEncrypt, pkts, { options: quiet, ticks: 4 });
  assert.deepEqual(q.logs, []);
  assert.deepEqual((q.instance as UdpCrypt).stats(), {
    packets: 1,
    encrypted: 1,
    bytes: 10,
    notUdp: 0,
    otherPort: 0,
    fragments: 0,
    gso: 0,
    malformed: 0,
    noRoom: 0,
    tooBig: 0,
  });
  assert.deepEqual(q.metrics, {
    encrypted: 1,
    bytes: 10,
    notUdp: 0,
    otherPort: 0,
    fragments: 0,
    gso: 0,
    malformed: 0,
    noRoom: 0,
    tooBig: 0,
  });
});

test('key file errors name the option, the file (and line) and the fix; a readable key file is warned about', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /aes-encrypt: option --key is missing[\s\S]*fix: write one with: openssl rand -hex 16/],
    [{ key: join(dir, 'nope.key') }, /option --key: cannot read the key file .*nope\.key \(ENOENT\)/],
    [
      { key: keyFile('bad.key', '# comment\n2b7e1516 28aed2a6 abf71588 09cf4f3g\n') },
      /option --key: .*bad\.key:2: "g" is not a hex digit/,
    ],
    [{ key: keyFile('odd.key', 'abc') }, /option --key: .*odd\.key: an odd number of hex digits \(3\)/],
    [
      { key: keyFile('24.key', '00'.repeat(24)) },
      /option --key: .*24\.key: the key is 24 bytes; AES-CTR here takes 16 \(AES-128\) or 32/,
    ],
  ];
  for (const [options, re] of cases) {
    await assert.rejects(runNF(aesEncrypt, [], { options: { interval: 0, ...options } }), (e: unknown) => {
      assert.ok(e instanceof NfcError);
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, re);
      return true;
    });
  }
  const open = keyFile('open.key', KEY128.toString('hex'), 0o644);
  const r = await runNF(aesEncrypt, [], { options: { key: open, interval: 0 } });
  assert.match(r.logs[0]!, /warning: the key file .*open\.key can be read by other users/);
  // relative to baseDir
  const rel = await runNF(aesEncrypt, [udp4(new Uint8Array(1)).bytes], {
    options: { key: 'k128.key', interval: 0 },
    baseDir: dir,
  });
  assert.equal(rel.outputs.length, 1);
});

test('bad option values are refused naming the option', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ engine: 'openssl' }, /option "engine" must be one of node, typescript/],
    [{ port: 70000 }, /option "port" must be at most 65535/],
    [{ destination: 32 }, /option "destination" must be at most 31/],
    [{ mtu: -1 }, /option "mtu" must be at least 0/],
    [{ interval: 0.5 }, /option "interval" must be an integer/],
  ];
  for (const [options, re] of cases) {
    await assert.rejects(runNF(aesEncrypt, [], { options: { ...quiet, ...options } }), re);
  }
});
