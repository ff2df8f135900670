/**
 * Tests for the gen port: packets are valid frames, the same seed gives the same bytes, the
 * flow count, TCP share, size rotation, count limit and rate limit hold, both template modes
 * give identical bytes, and an empty pool is counted, not thrown. Every test checks that all
 * buffers are back in the pool afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { Meta } from '../shm/pool-layout.js';
import type { GenPortConfig } from './config.js';
import { openGenRx, type GenRxOptions, type GenRxPort } from './gen.js';
import { portRig, type PortRig } from '../../test/helpers/port-rig.js';

function rig(count = 256, dataRoom?: number): PortRig {
  return portRig({ count, ...(dataRoom === undefined ? {} : { dataRoom }), portId: 3, portName: 'gen0' });
}

function assertNoLeak(r: PortRig): void {
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count, 'every buffer is back in the pool');
}

function cfg(over: Partial<GenPortConfig> = {}): GenPortConfig {
  return { name: 'gen0', driver: 'gen', rate: 0, sizes: [64], flows: 16, tcp: 0.5, seed: 1, count: 0, ...over };
}

interface Pkt {
  bytes: Uint8Array;
  hash: number;
  proto: number;
}

/** Receives `n` packets (bursts of 32), checks their validity and meta, and frees them. */
function collect(r: PortRig, port: GenRxPort, n: number, keepBytes = false): Pkt[] {
  const out: Pkt[] = [];
  const descs = new Uint32Array(32);
  const before = Date.now() / 1000;
  while (out.length < n) {
    const got = port.rxBurst(descs, Math.min(32, n - out.length));
    assert.ok(got > 0, 'an unlimited gen port always produces');
    for (let i = 0; i < got; i++) {
      const d = descs[i]!;
      const len = r.pool.length(d);
      const v = r.view.reset(r.pool.dataOffset(d), len);
      assert.equal(v.ipVersion, 4);
      assert.ok(v.ipv4ChecksumOk(), 'IPv4 header checksum');
      assert.ok(v.l4ChecksumOk(), 'TCP/UDP checksum');
      assert.equal(v.ipv4TotalLength, len - 14);
      assert.equal(r.pool.meta(d, Meta.port), 3);
      const ts = r.pool.meta(d, Meta.tsSec) + r.pool.meta(d, Meta.tsNsec) / 1e9;
      assert.ok(ts >= before - 1 && ts <= Date.now() / 1000 + 1, `timestamp ${ts} is now`);
      assert.ok(r.pool.meta(d, Meta.tsNsec) < 1e9);
      out.push({
        bytes: keepBytes ? r.pool.bytes(d).slice() : new Uint8Array(0),
        hash: v.flowHash(),
        proto: v.ipProtocol,
      });
    }
    r.cache.free(descs, got);
  }
  return out;
}

test('gen packets are valid Ethernet/IPv4/UDP|TCP frames with checksums, port and timestamp', () => {
  const r = rig();
  const port = openGenRx(cfg({ sizes: [60, 128, 1514], flows: 50 }), r.ctx);
  const pkts = collect(r, port, 900);
  assert.ok(pkts.some((p) => p.proto === 6) && pkts.some((p) => p.proto === 17));
  assert.equal(port.generated, 900);
  assert.equal(port.done, false);
  assert.equal(port.mode, 'per-flow');
  port.close();
  assertNoLeak(r);
});

test('the same seed gives identical bytes; another seed does not', () => {
  const r = rig();
  const c = cfg({ sizes: [64, 300], flows: 100, seed: 42 });
  const a = collect(r, openGenRx(c, r.ctx), 500, true);
  const b = collect(r, openGenRx(c, r.ctx), 500, true);
  const other = collect(r, openGenRx({ ...c, seed: 43 }, r.ctx), 500, true);
  for (let i = 0; i < a.length; i++) assert.deepEqual(a[i]!.bytes, b[i]!.bytes, `packet ${i}`);
  assert.ok(
    a.some((p, i) => !equalBytes(p.bytes, other[i]!.bytes)),
    'seed 43 differs from seed 42',
  );
  assertNoLeak(r);
});

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

test('patch mode writes the same bytes as per-flow templates (addresses, ports, IP id, checksums)', () => {
  const r = rig();
  for (const c of [
    cfg({ sizes: [60, 61, 333, 1514], flows: 300, tcp: 0.4, seed: 7 }),
    cfg({ flows: 1, tcp: 0 }),
    cfg({ flows: 5, tcp: 1 }),
  ]) {
    const per = collect(r, openGenRx(c, r.ctx, { templates: 'per-flow' }), 1200, true);
    const patched = openGenRx(c, r.ctx, { templates: 'patch' } satisfies GenRxOptions);
    assert.equal(patched.mode, 'patch');
    const pat = collect(r, patched, 1200, true);
    for (let i = 0; i < per.length; i++) assert.deepEqual(pat[i]!.bytes, per[i]!.bytes, `packet ${i}`);
  }
  assertNoLeak(r);
});

test('many flows switch to patch mode automatically and stay valid and distinct', () => {
  const r = rig();
  const port = openGenRx(cfg({ flows: 1_000_000, sizes: [64, 1000], tcp: 0.5 }), r.ctx);
  assert.equal(port.mode, 'patch');
  const pkts = collect(r, port, 4000);
  // 4000 draws from a million flows: nearly all distinct.
  assert.ok(new Set(pkts.map((p) => p.hash)).size > 3950);
  assertNoLeak(r);
  assert.throws(
    () => openGenRx(cfg({ flows: 1_000_000 }), r.ctx, { templates: 'per-flow' }),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
  );
});

test('the flow count is respected: distinct flow hashes equal flows', () => {
  const r = rig();
  for (const flows of [1, 7, 200]) {
    const pkts = collect(r, openGenRx(cfg({ flows, tcp: 0.3 }), r.ctx), flows * 60);
    assert.equal(new Set(pkts.map((p) => p.hash)).size, flows, `flows=${flows}`);
  }
  const patched = collect(r, openGenRx(cfg({ flows: 200 }), r.ctx, { templates: 'patch' }), 12000);
  assert.equal(new Set(patched.map((p) => p.hash)).size, 200, 'patch mode');
  assertNoLeak(r);
});

test('the TCP share of packets follows cfg.tcp', () => {
  const r = rig();
  for (const tcp of [0, 0.3, 0.75, 1]) {
    const pkts = collect(r, openGenRx(cfg({ flows: 1000, tcp, seed: 9 }), r.ctx), 20000);
    const share = pkts.filter((p) => p.proto === 6).length / pkts.length;
    assert.ok(Math.abs(share - tcp) < 0.04, `tcp=${tcp}: share ${share}`);
    assert.ok(pkts.every((p) => p.proto === 6 || p.proto === 17));
  }
  assertNoLeak(r);
});

test('sizes rotate through cfg.sizes across bursts', () => {
  const r = rig();
  const sizes = [64, 100, 200, 1514, 77];
  const port = openGenRx(cfg({ sizes }), r.ctx);
  const descs = new Uint32Array(32);
  const lens: number[] = [];
  for (const max of [3, 32, 7, 1, 20]) {
    const got = port.rxBurst(descs, max);
    assert.equal(got, max);
    for (let i = 0; i < got; i++) lens.push(r.pool.length(descs[i]!));
    r.cache.free(descs, got);
  }
  lens.forEach((len, i) => {
    assert.equal(len, sizes[i % sizes.length], `packet ${i}`);
  });
  assertNoLeak(r);
});

test('count stops the port after that many packets, then done', () => {
  const r = rig();
  const port = openGenRx(cfg({ count: 100 }), r.ctx);
  const descs = new Uint32Array(32);
  const bursts: number[] = [];
  for (let k = 0; k < 6; k++) {
    const got = port.rxBurst(descs, 32);
    bursts.push(got);
    r.cache.free(descs, got);
  }
  assert.deepEqual(bursts, [32, 32, 32, 4, 0, 0]);
  assert.equal(port.done, true);
  assert.equal(port.generated, 100);
  assertNoLeak(r);
});

test('rate limiting: about 10 000 pps over 300 ms, and no flood after a stall', async () => {
  const r = rig();
  const port = openGenRx(cfg({ rate: 10_000 }), r.ctx);
  const descs = new Uint32Array(32);
  let total = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 300) {
    const got = port.rxBurst(descs, 32);
    assert.ok(got <= 32);
    total += got;
    r.cache.free(descs, got);
    if (got === 0) await new Promise((res) => setTimeout(res, 1));
  }
  assert.ok(total >= 1000 && total <= 6000, `${total} packets in 300 ms at 10 000 pps`);
  // After 200 ms without polls, the bucket holds at most 10 ms (100 packets) or two bursts.
  await new Promise((res) => setTimeout(res, 200));
  let burst = 0;
  for (let k = 0; k < 10; k++) {
    const got = port.rxBurst(descs, 32);
    burst += got;
    r.cache.free(descs, got);
  }
  assert.ok(burst <= 140, `${burst} packets right after a stall`);
  assert.equal(port.rxNoBuffer, 0);
  assertNoLeak(r);
});

test('an empty pool is counted in rxNoBuffer and nothing throws; the sequence is kept', () => {
  const r = rig(64);
  const c = cfg({ sizes: [64, 128], flows: 10 });
  const reference = collect(r, openGenRx(c, r.ctx), 40, true);
  const port = openGenRx(c, r.ctx);
  const held = new Uint32Array(64);
  assert.equal(r.cache.alloc(held, 60), 60);
  const descs = new Uint32Array(32);
  const got1 = port.rxBurst(descs, 32);
  assert.equal(got1, 4, 'the four free buffers');
  assert.equal(port.rxNoBuffer, 28);
  const first = Array.from({ length: got1 }, (_, i) => r.pool.bytes(descs[i]!).slice());
  r.cache.free(descs, got1);
  const more = new Uint32Array(4);
  assert.equal(r.cache.alloc(more, 4), 4);
  assert.equal(port.rxBurst(descs, 32), 0, 'pool empty');
  assert.equal(port.rxNoBuffer, 60);
  r.cache.free(more, 4);
  r.cache.free(held, 60);
  const rest = collect(r, port, 36, true);
  const all = [...first, ...rest.map((p) => p.bytes)];
  all.forEach((b, i) => {
    assert.deepEqual(b, reference[i]!.bytes, `packet ${i} of the sequence`);
  });
  assertNoLeak(r);
});

test('bad configurations are NFC_ERR_INVALID_ARG naming the port and the option', () => {
  const r = rig(64, 1024);
  const bad: [Partial<GenPortConfig>, RegExp][] = [
    [{ sizes: [] }, /sizes/],
    [{ sizes: [59] }, /sizes\[0\]/],
    [{ sizes: [64, 2000] }, /sizes\[1\].*1024/],
    [{ sizes: [64.5] }, /sizes\[0\]/],
    [{ flows: 0 }, /flows/],
    [{ flows: 2 ** 24 + 1 }, /flows/],
    [{ tcp: 1.5 }, /tcp/],
    [{ tcp: Number.NaN }, /tcp/],
    [{ rate: -1 }, /rate/],
    [{ count: -3 }, /count/],
    [{ seed: Number.POSITIVE_INFINITY }, /seed/],
  ];
  for (const [over, re] of bad) {
    assert.throws(
      () => openGenRx(cfg(over), r.ctx),
      (e: unknown) => {
        assert.ok(e instanceof NfcError);
        assert.equal(e.code, 'NFC_ERR_INVALID_ARG');
        assert.match(e.message, /port "gen0"/);
        assert.match(e.message, re);
        assert.ok(e.fix !== undefined);
        return true;
      },
      JSON.stringify(over),
    );
  }
  assertNoLeak(r);
});
