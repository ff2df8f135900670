/**
 * Tests of aes-decrypt on packets made by hand with node:crypto (not by aes-encrypt: the round
 * trips are in nfs/aes-encrypt/index.test.ts): the IV taken from the front of the payload, the
 * plaintext, the packet 16 bytes shorter with lengths and checksums right (reference code of
 * the packet builder), the verdicts, the options, the key errors.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, gsoOffload, NEXT, NfcError, OffloadGso, runNF, toNF } from 'nfchain';
import aesDecrypt from './index.js';
import type { UdpCrypt } from '../aes-encrypt/index.js';
import {
  buildPacket,
  refIpv4HeaderChecksum,
  refL4Checksum,
  type BuiltPacket,
} from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-aes-dec-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const keyPath = join(dir, 'k.key');
writeFileSync(keyPath, `${KEY.toString('hex')}\n`, { mode: 0o600 });
const quiet = { key: keyPath, interval: 0 };

function udp(v6: boolean, payload: Uint8Array, dport = 5000): BuiltPacket {
  return buildPacket({
    l3: v6 ? { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' } : { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'udp', sport: 4000, dport, payload },
  });
}

/** The encrypted form of `plain`, made with node:crypto: IV then ciphertext. */
function sealed(plain: Uint8Array, iv: Uint8Array): Uint8Array {
  const ct = createCipheriv('aes-256-ctr', KEY, iv).update(plain);
  return new Uint8Array([...iv, ...ct]);
}

for (const engine of ['node', 'typescript']) {
  test(`decrypt (${engine}): IV from the payload, plaintext = node's, IV removed, checksums (IPv4, IPv6)`, async () => {
    const plain = [new Uint8Array(1000).map((_, i) => i * 7), new TextEncoder().encode('hello'), new Uint8Array(0)];
    const ivs = [Buffer.alloc(16, 0xff), Buffer.from('00112233445566778899aabbccddeeff', 'hex'), Buffer.alloc(16, 1)];
    const clear = plain.map((p, i) => udp(i === 1, p));
    const wire = plain.map((p, i) => udp(i === 1, sealed(p, ivs[i]!)).bytes);
    const r = await runNF(aesDecrypt, wire, { options: { ...quiet, engine } });
    assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT]);
    for (let i = 0; i < plain.length; i++) {
      const out = r.outputs[i]!.bytes;
      const b = clear[i]!;
      assert.deepEqual(out, b.bytes, `packet ${i}: the original packet, checksums included`);
      if (b.family === 4)
        assert.equal((out[b.l3Offset + 10]! << 8) | out[b.l3Offset + 11]!, refIpv4HeaderChecksum(out, b.l3Offset));
      assert.equal((out[b.l4Offset + 6]! << 8) | out[b.l4Offset + 7]!, refL4Checksum(out, b));
    }
    const inst = r.instance as UdpCrypt;
    assert.equal(inst.transformed, 3);
    assert.equal(inst.bytes, 1005);
  });
}

test('verdicts: not UDP and other ports passed on, short payloads / fragments / GSO / malformed dropped', async () => {
  const tcp = buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'tcp', sport: 1, dport: 2 },
  }).bytes;
  const short = udp(false, new Uint8Array(15)).bytes;
  const other = udp(false, new Uint8Array(40), 53).bytes;
  const frag = buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', ext: [{ type: 44, fragOffset: 10 }] },
    l4: { kind: 'raw', proto: 17, payload: new Uint8Array(24) },
  }).bytes;
  const gso = udp(false, new Uint8Array(40)).bytes;
  const ok = udp(false, sealed(new Uint8Array(3), Buffer.alloc(16)));
  const bad = ok.bytes.slice();
  bad[ok.l4Offset + 4] = 0; // UDP length 3 (< 8)
  bad[ok.l4Offset + 5] = 3;
  const r = await runNF(aesDecrypt, [tcp, short, other, frag, gso, bad, ok.bytes], {
    options: { ...quiet, port: 5000, destination: 4 },
    offloads: [0, 0, 0, 0, gsoOffload(OffloadGso.UDP_L4, 8), 0, 0],
  });
  assert.deepEqual(r.verdicts, [NEXT, DROP, NEXT, DROP, DROP, DROP, toNF(4)]);
  assert.deepEqual(r.outputs[0]!.bytes, tcp);
  assert.deepEqual(r.outputs[1]!.bytes, other);
  const inst = r.instance as UdpCrypt;
  assert.deepEqual(inst.stats(), {
    packets: 7,
    decrypted: 1,
    bytes: 3,
    notUdp: 1,
    otherPort: 1,
    fragments: 1,
    gso: 1,
    malformed: 1,
    short: 1,
  });
  // the declared counters (stats, /metrics, the console): the same counts, packets aside
  assert.deepEqual(r.metrics, {
    decrypted: 1,
    bytes: 3,
    notUdp: 1,
    otherPort: 1,
    fragments: 1,
    gso: 1,
    malformed: 1,
    short: 1,
  });
});

test('interval: counter lines from tick and at stop', async () => {
  const r = await runNF(aesDecrypt, [udp(false, new Uint8Array(3)).bytes], {
    options: { key: keyPath, interval: 1 },
    ticks: 2,
  });
  assert.equal(r.logs.length, 3);
  assert.match(r.logs[0]!, /^aes-decrypt: 1 packets, 0 decrypted .* 1 too short for an IV$/);
});

test('key and option errors name the option', async () => {
  await assert.rejects(runNF(aesDecrypt, [], { options: { interval: 0 } }), (e: unknown) => {
    assert.ok(e instanceof NfcError);
    assert.match(e.message, /aes-decrypt: option --key is missing/);
    return true;
  });
  const k = join(dir, 'short.key');
  writeFileSync(k, 'abcd');
  await assert.rejects(
    runNF(aesDecrypt, [], { options: { key: k } }),
    /aes-decrypt: option --key: .*short\.key: the key is 2 bytes/,
  );
  await assert.rejects(runNF(aesDecrypt, [], { options: { ...quiet, mtu: 1500 } }), /unknown option "mtu"/);
  await assert.rejects(runNF(aesDecrypt, [], { options: { ...quiet, engine: 'x' } }), /option "engine" must be one of/);
});
