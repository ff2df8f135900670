/**
 * Tests for the pcap port: a capture written with PcapWriter goes in through openPcapRx and
 * out through openPcapTx, and the second file has the same packets and timestamps; realtime
 * and scaled pacing, loop, truncation to the data room, an empty pool, link-type and file
 * errors. Every test checks that all buffers are back in the pool afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { PcapReader, type PcapPacket } from '../pcap/pcap-reader.js';
import { PcapWriter } from '../pcap/pcap-writer.js';
import { PacketView } from '../packet/packet-view.js';
import { Meta } from '../shm/pool-layout.js';
import type { PcapPortConfig } from './config.js';
import { openPcapRx, openPcapTx, type PcapRxPort } from './pcap.js';
import { synthFlow, writeSynth } from './synth.js';
import { portRig, type PortRig } from '../../test/helpers/port-rig.js';

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-pcap-port-'));
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function tmp(name: string): string {
  return join(dir, `${seq++}-${name}`);
}

function rig(count = 256, dataRoom?: number): PortRig {
  return portRig({ count, ...(dataRoom === undefined ? {} : { dataRoom }), portId: 5, portName: 'wire' });
}

function assertNoLeak(r: PortRig): void {
  assert.equal(r.pool.ringFreeCount() + r.cache.cached, r.pool.count, 'every buffer is back in the pool');
}

function cfg(over: Partial<PcapPortConfig> = {}): PcapPortConfig {
  return { name: 'wire', driver: 'pcap', speed: 'max', loop: false, ...over };
}

interface Spec {
  size: number;
  tsSec: number;
  tsNsec: number;
}

/** Writes a nanosecond Ethernet capture of valid synthetic frames; returns the packets. */
function writeCapture(path: string, specs: Spec[], linkType = 1): PcapPacket[] {
  const buf = new ArrayBuffer(16384);
  const u8 = new Uint8Array(buf);
  const dv = new DataView(buf);
  const view = new PacketView(buf);
  const w = PcapWriter.create(path, { nanosecond: true, linkType });
  const out: PcapPacket[] = [];
  specs.forEach((s, i) => {
    const len = writeSynth(dv, u8, view, 0, s.size, synthFlow(i));
    w.write(u8, 0, len, s.tsSec, s.tsNsec);
    out.push({
      tsSec: s.tsSec,
      tsNsec: s.tsNsec,
      capLen: len,
      origLen: len,
      linkType,
      interfaceId: 0,
      data: u8.slice(0, len),
    });
  });
  w.close();
  return out;
}

function readAll(path: string): PcapPacket[] {
  const r = PcapReader.open(path);
  try {
    return [...r];
  } finally {
    r.close();
  }
}

function specs(n: number, stepNs: number, t0Sec = 1_700_000_000, t0Nsec = 999_000_000): Spec[] {
  return Array.from({ length: n }, (_, i) => {
    const ns = t0Nsec + i * stepNs;
    return { size: 60 + ((i * 37) % 1400), tsSec: t0Sec + Math.floor(ns / 1e9), tsNsec: ns % 1e9 };
  });
}

/** Drains an RX port in bursts of `max`, freeing each burst; returns the burst sizes. */
function drain(r: PortRig, port: PcapRxPort, max = 32, onPacket?: (d: number) => void): number[] {
  const descs = new Uint32Array(64);
  const bursts: number[] = [];
  for (let k = 0; k < 100_000 && !port.done; k++) {
    const n = port.rxBurst(descs, max);
    for (let i = 0; i < n; i++) onPacket?.(descs[i]!);
    r.cache.free(descs, n);
    bursts.push(n);
  }
  assert.ok(port.done, 'the port finished');
  return bursts;
}

test('pcap in → pcap out: same packet bytes and timestamps, meta set', () => {
  const r = rig();
  const inPath = tmp('in.pcap');
  const outPath = tmp('out.pcap');
  const written = writeCapture(inPath, specs(100, 123_456_789));
  const rx = openPcapRx(cfg({ rx: inPath }), r.ctx);
  const tx = openPcapTx(cfg({ tx: outPath }), r.ctx);
  assert.equal(rx.done, false);
  const descs = new Uint32Array(32);
  let k = 0;
  while (!rx.done) {
    const n = rx.rxBurst(descs, 32);
    for (let i = 0; i < n; i++, k++) {
      const d = descs[i]!;
      const w = written[k]!;
      assert.equal(r.pool.length(d), w.capLen);
      assert.equal(r.pool.meta(d, Meta.port), 5);
      assert.equal(r.pool.meta(d, Meta.tsSec), w.tsSec);
      assert.equal(r.pool.meta(d, Meta.tsNsec), w.tsNsec);
    }
    assert.equal(tx.txBurst(descs, n), n);
  }
  assert.equal(rx.rxBurst(descs, 32), 0, 'nothing after the end');
  assert.equal(rx.received, 100);
  assert.equal(rx.passes, 1);
  assert.equal(rx.error, null);
  tx.flush();
  tx.close();
  rx.close();
  assert.equal(tx.sent, 100);
  assert.equal(tx.txDropped, 0);
  const got = readAll(outPath);
  assert.equal(got.length, written.length);
  got.forEach((p, i) => {
    const w = written[i]!;
    assert.deepEqual(p.data, w.data, `packet ${i} bytes`);
    assert.equal(p.tsSec, w.tsSec, `packet ${i} seconds`);
    assert.equal(p.tsNsec, w.tsNsec, `packet ${i} nanoseconds`);
    assert.equal(p.linkType, 1);
  });
  assertNoLeak(r);
});

test('a microsecond capture keeps its timestamps too', () => {
  const r = rig();
  const inPath = tmp('us.pcap');
  const outPath = tmp('us-out.pcap');
  const w = PcapWriter.create(inPath);
  const frame = new Uint8Array(60);
  frame[12] = 0x08;
  for (let i = 0; i < 5; i++) w.write(frame, 0, 60, 1_600_000_000 + i, i * 200_000_000 + 123_000);
  w.close();
  const rx = openPcapRx(cfg({ rx: inPath }), r.ctx);
  const tx = openPcapTx(cfg({ tx: outPath }), r.ctx);
  const descs = new Uint32Array(32);
  while (!rx.done) tx.txBurst(descs, rx.rxBurst(descs, 32));
  tx.close();
  const a = readAll(inPath);
  const b = readAll(outPath);
  assert.deepEqual(
    b.map((p) => [p.tsSec, p.tsNsec]),
    a.map((p) => [p.tsSec, p.tsNsec]),
  );
  assertNoLeak(r);
});

test('bursts never exceed max and deliver everything', () => {
  const r = rig();
  const path = tmp('bursts.pcap');
  writeCapture(path, specs(70, 1000));
  const port = openPcapRx(cfg({ rx: path }), r.ctx);
  const bursts = drain(r, port, 16);
  assert.ok(bursts.every((b) => b <= 16));
  assert.equal(
    bursts.reduce((a, b) => a + b, 0),
    70,
  );
  assertNoLeak(r);
});

test('realtime pacing: a capture spanning 200 ms is delivered over about 200 ms', async () => {
  const r = rig();
  const path = tmp('paced.pcap');
  writeCapture(path, specs(11, 20_000_000)); // one packet every 20 ms, across a second boundary
  for (const [speed, span] of [
    ['realtime', 200],
    [4, 50],
  ] as const) {
    const port = openPcapRx(cfg({ rx: path, speed }), r.ctx);
    const descs = new Uint32Array(32);
    const times: number[] = [];
    let t0 = -1;
    while (!port.done) {
      const now = performance.now();
      if (t0 < 0) t0 = now;
      const n = port.rxBurst(descs, 32);
      for (let i = 0; i < n; i++) times.push(now - t0);
      r.cache.free(descs, n);
      if (n === 0) await new Promise((res) => setTimeout(res, 1));
    }
    assert.equal(times.length, 11);
    assert.ok(times[0]! < 20, `first packet at once (${times[0]} ms)`);
    for (let i = 0; i < 11; i++) {
      assert.ok(
        times[i]! >= (i * span) / 10 - 2,
        `speed ${speed}: packet ${i} at ${times[i]} ms, due at ${(i * span) / 10} ms`,
      );
    }
    const last = times[10]!;
    assert.ok(last >= span - 2 && last < span + 800, `speed ${speed}: last packet at ${last} ms (expected ~${span})`);
  }
  assertNoLeak(r);
});

test('loop: the capture starts again at its end; passes counted; never done', () => {
  const r = rig();
  const path = tmp('loop.pcap');
  const written = writeCapture(path, specs(5, 1_000_000));
  const port = openPcapRx(cfg({ rx: path, loop: true }), r.ctx);
  const descs = new Uint32Array(32);
  const seen: Uint8Array[] = [];
  while (seen.length < 23) {
    const n = port.rxBurst(descs, 7);
    assert.ok(n > 0);
    for (let i = 0; i < n; i++) seen.push(r.pool.bytes(descs[i]!).slice());
    r.cache.free(descs, n);
  }
  seen.forEach((b, i) => {
    assert.deepEqual(b, written[i % 5]!.data, `packet ${i}`);
  });
  assert.equal(port.done, false);
  assert.ok(port.passes >= 4);
  port.close();
  assert.equal(port.rxBurst(descs, 32), 0, 'closed');
  assertNoLeak(r);
});

test('loop with realtime pacing keeps the pace across passes', async () => {
  const r = rig();
  const path = tmp('loop-paced.pcap');
  writeCapture(path, specs(3, 20_000_000)); // 3 packets over 40 ms
  const port = openPcapRx(cfg({ rx: path, loop: true, speed: 'realtime' }), r.ctx);
  const descs = new Uint32Array(32);
  let got = 0;
  const t0 = performance.now();
  while (got < 7) {
    const n = port.rxBurst(descs, 32);
    got += n;
    r.cache.free(descs, n);
    if (n === 0) await new Promise((res) => setTimeout(res, 1));
  }
  // Packet 7 (third pass, first packet) is due at 2 × 40 ms: passes join without a gap.
  const dt = performance.now() - t0;
  assert.ok(dt >= 78 && dt < 800, `7 packets took ${dt} ms (due at 80 ms)`);
  port.close();
  assertNoLeak(r);
});

test('loop over a capture without packets ends instead of spinning', () => {
  const r = rig();
  const path = tmp('empty.pcap');
  writeCapture(path, []);
  const port = openPcapRx(cfg({ rx: path, loop: true }), r.ctx);
  assert.equal(port.done, true);
  assert.equal(port.rxBurst(new Uint32Array(32), 32), 0);
  assertNoLeak(r);
});

test('packets larger than the data room are truncated to it and counted', () => {
  const r = rig(64, 256);
  const path = tmp('big.pcap');
  const written = writeCapture(path, [
    { size: 100, tsSec: 1, tsNsec: 0 },
    { size: 1000, tsSec: 1, tsNsec: 1 },
    { size: 256, tsSec: 1, tsNsec: 2 },
    { size: 257, tsSec: 1, tsNsec: 3 },
  ]);
  const port = openPcapRx(cfg({ rx: path }), r.ctx);
  const lens: number[] = [];
  drain(r, port, 32, (d) => {
    const k = lens.length;
    lens.push(r.pool.length(d));
    assert.deepEqual(r.pool.bytes(d), written[k]!.data.subarray(0, 256), `packet ${k} (prefix)`);
  });
  assert.deepEqual(lens, [100, 256, 256, 256]);
  assert.equal(port.truncated, 2);
  assertNoLeak(r);
});

test('an empty pool: counted in rxNoBuffer, no exception, no packet lost', () => {
  const r = rig(64);
  const path = tmp('nobuf.pcap');
  const written = writeCapture(path, specs(40, 1000));
  const port = openPcapRx(cfg({ rx: path }), r.ctx);
  const held = new Uint32Array(64);
  assert.equal(r.cache.alloc(held, 61), 61);
  const descs = new Uint32Array(32);
  const seen: Uint8Array[] = [];
  const take = (n: number): void => {
    for (let i = 0; i < n; i++) seen.push(r.pool.bytes(descs[i]!).slice());
    r.cache.free(descs, n);
  };
  const n1 = port.rxBurst(descs, 32);
  assert.equal(n1, 3);
  assert.equal(port.rxNoBuffer, 1);
  take(n1);
  assert.equal(r.cache.alloc(held.subarray(61), 3), 3);
  assert.equal(port.rxBurst(descs, 32), 0);
  assert.equal(port.rxNoBuffer, 2);
  r.cache.free(held, 64);
  while (!port.done) take(port.rxBurst(descs, 32));
  assert.equal(seen.length, 40);
  seen.forEach((b, i) => {
    assert.deepEqual(b, written[i]!.data, `packet ${i}`);
  });
  assertNoLeak(r);
});

function assertNfcError(fn: () => unknown, code: string, ...patterns: RegExp[]): NfcError {
  let caught: NfcError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NfcError, `expected NfcError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const p of patterns) assert.match(e.message, p);
    caught = e;
    return true;
  });
  return caught!;
}

function literal(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

test('a capture that is not Ethernet is refused at open, naming the file and the link type', () => {
  const r = rig();
  const path = tmp('rawip.pcap');
  writeCapture(path, specs(3, 1000), 101);
  const e = assertNfcError(
    () => openPcapRx(cfg({ rx: path }), r.ctx),
    'NFC_ERR_PCAP_FORMAT',
    /port "wire"/,
    literal(path),
    /link type 101 \(raw IP\)/,
    /Ethernet/,
  );
  assert.ok(e.fix !== undefined);
  const empty = tmp('sll-empty.pcap');
  writeCapture(empty, [], 113);
  assertNfcError(() => openPcapRx(cfg({ rx: empty }), r.ctx), 'NFC_ERR_PCAP_FORMAT', /link type 113/);
  assertNoLeak(r);
});

test('a missing capture and an unwritable output are NFC_ERR_PCAP_IO naming the port, the path and a fix', () => {
  const r = rig();
  const missing = join(dir, 'no-such-file.pcap');
  const e1 = assertNfcError(
    () => openPcapRx(cfg({ rx: missing }), r.ctx),
    'NFC_ERR_PCAP_IO',
    /port "wire"/,
    literal(missing),
    /ENOENT/,
  );
  assert.match(e1.fix ?? '', /exists/);
  const noDir = join(dir, 'no-such-dir', 'out.pcap');
  const e2 = assertNfcError(
    () => openPcapTx(cfg({ tx: noDir }), r.ctx),
    'NFC_ERR_PCAP_IO',
    /port "wire"/,
    literal(noDir),
  );
  assert.match(e2.fix ?? '', /writable/);
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    assertNfcError(() => openPcapTx(cfg({ tx: join(ro, 'x.pcap') }), r.ctx), 'NFC_ERR_PCAP_IO', /EACCES/);
  }
  const bad = tmp('bad.pcap');
  writeGarbage(bad);
  assertNfcError(() => openPcapRx(cfg({ rx: bad }), r.ctx), 'NFC_ERR_PCAP_FORMAT', /port "wire"/, literal(bad));
  assertNoLeak(r);
});

/** A file that is not a capture: a pcap header with its magic number overwritten. */
function writeGarbage(path: string): void {
  PcapWriter.create(path).close();
  const bytes = readFileSync(path);
  bytes.set([1, 2, 3, 4], 0);
  writeFileSync(path, bytes);
}

test('bad speed and absent paths are NFC_ERR_INVALID_ARG', () => {
  const r = rig();
  const path = tmp('ok.pcap');
  writeCapture(path, specs(1, 0));
  for (const speed of [0, -1, Number.NaN, 'fast' as unknown as number]) {
    assertNfcError(() => openPcapRx(cfg({ rx: path, speed }), r.ctx), 'NFC_ERR_INVALID_ARG', /speed/);
  }
  assertNfcError(() => openPcapRx(cfg(), r.ctx), 'NFC_ERR_INVALID_ARG', /rx/);
  assertNfcError(() => openPcapTx(cfg(), r.ctx), 'NFC_ERR_INVALID_ARG', /tx/);
  assertNoLeak(r);
});

test('the TX side after close drops and frees what it is given', () => {
  const r = rig();
  const out = tmp('closed.pcap');
  const tx = openPcapTx(cfg({ tx: out }), r.ctx);
  tx.close();
  tx.close();
  const descs = new Uint32Array(8);
  assert.equal(r.cache.alloc(descs, 8), 8);
  assert.equal(tx.txBurst(descs, 8), 0);
  assert.equal(tx.txDropped, 8);
  assert.equal(readAll(out).length, 0);
  assertNoLeak(r);
});

test('a capture corrupt half-way ends the replay with `error` set, without throwing', () => {
  const r = rig();
  const path = tmp('cut.pcap');
  writeCapture(path, specs(10, 1000));
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 10)); // the last record loses its tail
  const port = openPcapRx(cfg({ rx: path }), r.ctx);
  const bursts = drain(r, port, 4);
  assert.equal(
    bursts.reduce((a, b) => a + b, 0),
    9,
  );
  assert.ok(port.error instanceof NfcError);
  assert.equal(port.error.code, 'NFC_ERR_PCAP_FORMAT');
  assert.match(port.error.message, /port "wire"/);
  assertNoLeak(r);
});

/** A little-endian pcapng file: one section, the given interfaces, one EPB per packet (µs). */
function pcapng(linkTypes: number[], packets: { ifc: number; data: Uint8Array; tsUs: number }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array): void => {
    const len = 12 + body.length;
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, len, true);
    b.set(body, 8);
    dv.setUint32(len - 4, len, true);
    blocks.push(b);
  };
  const shb = new DataView(new ArrayBuffer(16));
  shb.setUint32(0, 0x1a2b3c4d, true);
  shb.setUint16(4, 1, true);
  shb.setInt32(8, -1, true);
  shb.setInt32(12, -1, true);
  block(0x0a0d0d0a, new Uint8Array(shb.buffer));
  for (const lt of linkTypes) {
    const idb = new DataView(new ArrayBuffer(8));
    idb.setUint16(0, lt, true);
    idb.setUint32(4, 65535, true);
    block(1, new Uint8Array(idb.buffer));
  }
  for (const p of packets) {
    const padded = (p.data.length + 3) & ~3;
    const body = new Uint8Array(20 + padded);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, p.ifc, true);
    dv.setUint32(4, Math.floor(p.tsUs / 2 ** 32), true);
    dv.setUint32(8, p.tsUs % 2 ** 32, true);
    dv.setUint32(12, p.data.length, true);
    dv.setUint32(16, p.data.length, true);
    body.set(p.data, 20);
    block(6, body);
  }
  const out = new Uint8Array(blocks.reduce((a, b) => a + b.length, 0));
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

test('pcapng: Ethernet packets are read with their timestamps; other interfaces are skipped and counted', () => {
  const r = rig();
  const path = tmp('two-ifc.pcapng');
  const frames = writeCapture(tmp('frames.pcap'), specs(6, 1000));
  const packets = frames.map((f, i) => ({ ifc: i % 2, data: f.data, tsUs: 1_700_000_000_000_000 + i * 1500 }));
  writeFileSync(path, pcapng([1, 101], packets));
  const port = openPcapRx(cfg({ rx: path }), r.ctx);
  const got: [Uint8Array, number, number][] = [];
  drain(r, port, 32, (d) =>
    got.push([r.pool.bytes(d).slice(), r.pool.meta(d, Meta.tsSec), r.pool.meta(d, Meta.tsNsec)]),
  );
  assert.equal(got.length, 3);
  got.forEach(([bytes, sec, nsec], k) => {
    const p = packets[2 * k]!;
    assert.deepEqual(bytes, p.data);
    assert.equal(sec, Math.floor(p.tsUs / 1e6));
    assert.equal(nsec, (p.tsUs % 1e6) * 1000);
  });
  assert.equal(port.skipped, 3);
  const sll = tmp('sll.pcapng');
  writeFileSync(sll, pcapng([113], [{ ifc: 0, data: frames[0]!.data, tsUs: 1 }]));
  assertNfcError(
    () => openPcapRx(cfg({ rx: sll }), r.ctx),
    'NFC_ERR_PCAP_FORMAT',
    /link type 113 \(Linux cooked capture \(SLL\)\)/,
  );
  assertNoLeak(r);
});

test('records with a sub-second field of a second or more are delivered and counted, over every loop pass', () => {
  const r = rig();
  const path = tmp('usec.pcap');
  writeCapture(path, specs(4, 1000));
  // The capture is in nanoseconds: records 1 and 3 get a sub-second field of 1.5e9 ns.
  const bytes = readFileSync(path);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 24;
  for (let i = 0; i < 4; i++) {
    if (i % 2 === 1) dv.setUint32(at + 4, 1_500_000_000, true);
    at += 16 + dv.getUint32(at + 8, true);
  }
  writeFileSync(path, bytes);
  const port = openPcapRx(cfg({ rx: path, loop: true }), r.ctx);
  const descs = new Uint32Array(32);
  let got = 0;
  while (got < 8) {
    const n = port.rxBurst(descs, 8 - got);
    r.cache.free(descs, n);
    got += n;
  }
  assert.equal(port.normalized, 4, 'two records per pass, two passes');
  port.close();
  assertNoLeak(r);
});
