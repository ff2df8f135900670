/**
 * Tests for the flow table: add/lookup/remove for IPv4 and IPv6 keys, symmetric tables, a full
 * table, idle and hard timeouts with an injected clock, bounded expire slices, tombstones and
 * compaction against a Map model under a long seeded random workload, value words and counters,
 * a second handle on the same memory, and option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NfcError } from '../errors.js';
import { mulberry32 } from '../util/prng.js';
import { FlowKey, hashFlowKey } from '../packet/flow-key.js';
import { FlowTable, flowTableBytes, initFlowTable, type FlowTableOptions } from './flow-table.js';

function makeTable(opts: FlowTableOptions, byteOffset = 0): FlowTable {
  const buf = new ArrayBuffer(byteOffset + flowTableBytes(opts));
  initFlowTable(buf, byteOffset, opts);
  return new FlowTable(buf, byteOffset);
}

const v4 = (i: number, proto = 6): FlowKey => FlowKey.ipv4(0x0a000000 + i, 0xc0a80001, proto, 10000 + (i & 0x7fff), 80);
const v6 = (i: number): FlowKey =>
  FlowKey.ipv6([0x20010db8, 0, i >>> 16, i & 0xffff], [0x20010db8, 0, 0, 1], 17, 5000 + (i & 0xfff), 53);

/** Text form of a key, the model's Map key (tests may use strings; the table may not). */
function keyText(k: FlowKey): string {
  return `${k.family}/${k.proto}/${[...k.addr].join(',')}/${k.srcPort}/${k.dstPort}`;
}

function assertInvalidArg(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NfcError, `expected NfcError, got ${String(err)}`);
    assert.equal(err.code, 'NFC_ERR_INVALID_ARG');
    assert.match(err.message, re);
    assert.ok(err.fix !== undefined && err.fix.length > 0, 'the error says how to fix it');
    return true;
  });
}

test('IPv4: add, lookup, lastAdded, remove', () => {
  const t = makeTable({ capacity: 64, valueWords: 2 });
  assert.equal(t.count, 0);
  const k = v4(1);
  assert.equal(t.lookup(k), -1);
  const idx = t.lookupOrAdd(k, 1000);
  assert.ok(idx >= 0 && idx < 64);
  assert.equal(t.lastAdded, true);
  assert.equal(t.count, 1);
  assert.equal(t.lookupOrAdd(k, 2000), idx);
  assert.equal(t.lastAdded, false);
  assert.equal(t.lookup(k), idx);
  assert.equal(t.lookup(k, hashFlowKey(k, false)), idx, 'a given hash finds the same entry');
  // Differs in one field each: not found.
  for (const other of [
    v4(2),
    v4(1, 17),
    FlowKey.ipv4(0x0a000001, 0xc0a80002, 6, 10001, 80),
    FlowKey.ipv4(0x0a000001, 0xc0a80001, 6, 10001, 81),
  ]) {
    assert.equal(t.lookup(other), -1, other.toString());
  }
  assert.equal(t.lookup(new FlowKey().copyFrom(k).reverse()), -1, 'asymmetric: the reverse is another flow');
  const out = t.keyAt(idx, new FlowKey());
  assert.ok(out.equals(k));
  assert.equal(t.firstSeen(idx), 1000);
  assert.equal(t.lastSeen(idx), 1000, 'lookupOrAdd of an existing flow does not touch it');
  assert.equal(t.remove(idx), true);
  assert.equal(t.remove(idx), false, 'removing twice');
  assert.equal(t.remove(-1), false);
  assert.equal(t.lookup(k), -1);
  assert.equal(t.count, 0);
  assert.equal(t.adds, 1);
});

test('IPv6: add, lookup, remove; an IPv4 key with the same low words is another flow', () => {
  const t = makeTable({ capacity: 256 });
  const keys = Array.from({ length: 100 }, (_, i) => v6(i * 7919));
  const idx = keys.map((k) => t.lookupOrAdd(k, 0));
  assert.equal(new Set(idx).size, 100);
  keys.forEach((k, i) => {
    assert.equal(t.lookup(k), idx[i]);
  });
  // Same as key 0 except one word of the source address.
  const near = new FlowKey().copyFrom(keys[0]!);
  near.addr[1] = 1;
  assert.equal(t.lookup(near), -1);
  near.copyFrom(keys[0]!).addr[7] = 2;
  assert.equal(t.lookup(near), -1);
  const k4 = FlowKey.ipv4(keys[0]!.addr[0]!, keys[0]!.addr[4]!, 17, keys[0]!.srcPort, keys[0]!.dstPort);
  assert.equal(t.lookup(k4), -1);
  const out = new FlowKey();
  assert.ok(t.keyAt(idx[42]!, out).equals(keys[42]!));
  assert.equal(out.family, 6);
  for (let i = 0; i < 100; i += 2) assert.ok(t.remove(idx[i]!));
  keys.forEach((k, i) => {
    assert.equal(t.lookup(k), i % 2 ? idx[i] : -1);
  });
  assert.equal(t.count, 50);
});

test('symmetric: a key and its reverse find one entry; asymmetric: two entries', () => {
  const sym = makeTable({ capacity: 64, symmetric: true });
  const asym = makeTable({ capacity: 64 });
  assert.equal(sym.symmetric, true);
  assert.equal(asym.symmetric, false);
  for (const k of [v4(5), v6(5)]) {
    const r = new FlowKey().copyFrom(k).reverse();
    const i = sym.lookupOrAdd(k, 0);
    assert.equal(sym.lastReversed, false);
    assert.equal(sym.lookupOrAdd(r, 1), i);
    assert.equal(sym.lastAdded, false);
    assert.equal(sym.lastReversed, true, 'the reply direction');
    assert.equal(sym.lookup(r, hashFlowKey(r, true)), i, 'with the meta flow hash');
    assert.equal(sym.lastReversed, true);
    assert.equal(sym.lookup(k), i);
    assert.equal(sym.lastReversed, false);
    assert.ok(sym.keyAt(i, new FlowKey()).equals(k), 'keyAt gives the first direction seen');

    const a = asym.lookupOrAdd(k, 0);
    const b = asym.lookupOrAdd(r, 0);
    assert.notEqual(a, b);
    assert.equal(asym.lastAdded, true);
  }
  assert.equal(sym.count, 2);
  assert.equal(asym.count, 4);
  // A:1 -> B:2 and A:2 -> B:1 are different flows even in a symmetric table.
  const x = FlowKey.ipv4(1, 2, 6, 1, 2);
  const y = FlowKey.ipv4(1, 2, 6, 2, 1);
  assert.notEqual(sym.lookupOrAdd(x, 0), sym.lookupOrAdd(y, 0));
  assert.equal(sym.lastAdded, true);
});

test('a full table returns -1 and counts, never throws; room comes back after remove', () => {
  const t = makeTable({ capacity: 16 });
  assert.equal(t.maxCount, 12);
  const idx: number[] = [];
  for (let i = 0; i < 12; i++) {
    idx.push(t.lookupOrAdd(v4(i), 0));
    assert.ok(idx[i]! >= 0);
  }
  assert.equal(t.lookupOrAdd(v4(100), 0), -1);
  assert.equal(t.lastAdded, false);
  assert.equal(t.lookupOrAdd(v4(101), 0), -1);
  assert.equal(t.fullCount, 2);
  assert.equal(t.count, 12);
  assert.equal(t.lookupOrAdd(v4(3), 0), idx[3], 'existing flows are still found when full');
  assert.equal(t.fullCount, 2);
  t.remove(idx[3]!);
  assert.ok(t.lookupOrAdd(v4(100), 0) >= 0);
  assert.equal(t.lastAdded, true);
  assert.equal(t.lookupOrAdd(v4(101), 0), -1);
  assert.equal(t.fullCount, 3);

  const loose = makeTable({ capacity: 16, maxLoad: 0.5 });
  for (let i = 0; i < 8; i++) assert.ok(loose.lookupOrAdd(v4(i), 0) >= 0);
  assert.equal(loose.lookupOrAdd(v4(8), 0), -1);
});

test('value words and counters', () => {
  const t = makeTable({ capacity: 32, valueWords: 3 });
  const i = t.lookupOrAdd(v4(1), 500);
  for (let w = 0; w < 3; w++) assert.equal(t.value(i, w), 0);
  t.setValue(i, 0, 7);
  t.setValue(i, 1, 0xdeadbeef);
  t.setValue(i, 2, -1);
  assert.equal(t.value(i, 0), 7);
  assert.equal(t.value(i, 1), 0xdeadbeef);
  assert.equal(t.value(i, 2), 0xffffffff, 'value words are u32');
  assert.equal(t.packets(i), 0);
  t.touch(i, 60, 510);
  t.touch(i, 1500, 520.5);
  assert.equal(t.packets(i), 2);
  assert.equal(t.bytes(i), 1560);
  assert.equal(t.firstSeen(i), 500);
  assert.equal(t.lastSeen(i), 520.5);
  // An odd number of value words keeps the f64 fields aligned (cold records are padded).
  assert.equal(flowTableBytes({ capacity: 32, valueWords: 3 }), flowTableBytes({ capacity: 32, valueWords: 4 }));
  // Counters past 2^32 (f64).
  for (let k = 0; k < 3; k++) t.touch(i, 2 ** 31, 600);
  assert.equal(t.bytes(i), 1560 + 3 * 2 ** 31);
  const j = t.lookupOrAdd(v4(2), 0);
  assert.equal(t.value(j, 0), 0, 'a neighbour is untouched');
  // A slot reused after remove starts from zero.
  t.remove(i);
  t.remove(j);
  const k = t.lookupOrAdd(v4(1), 900);
  for (let w = 0; w < 3; w++) assert.equal(t.value(k, w), 0);
  assert.equal(t.packets(k), 0);
  assert.equal(t.bytes(k), 0);
  assert.equal(t.firstSeen(k), 900);
  assert.equal(t.hashAt(k), hashFlowKey(v4(1), false));
});

test('idle timeout evicts at lastSeen + idle, not before; the callback can read the entry', () => {
  const t = makeTable({ capacity: 64, idleTimeoutMs: 100 });
  const a = t.lookupOrAdd(v4(1), 0);
  const b = t.lookupOrAdd(v4(2), 0);
  t.touch(a, 64, 50);
  const seen: string[] = [];
  const key = new FlowKey();
  const onExpire = (idx: number): void => {
    seen.push(t.keyAt(idx, key).toString());
  };
  assert.equal(t.expire(99.9, onExpire), 0);
  assert.equal(t.expire(100, onExpire), 1, 'b idle for exactly 100 ms');
  assert.deepEqual(seen, [v4(2).toString()]);
  assert.equal(t.lookup(v4(2)), -1);
  assert.equal(t.lookup(v4(1)), a);
  assert.equal(t.expire(149, onExpire), 0);
  t.touch(a, 64, 140);
  assert.equal(t.expire(200, onExpire), 0, 'touched again at 140');
  assert.equal(t.expire(240), 1);
  assert.equal(t.count, 0);
  assert.equal(t.expiredCount, 2);
  assert.ok(b >= 0);
});

test('hard timeout evicts at firstSeen + hard however busy the flow; 0 means none', () => {
  const t = makeTable({ capacity: 64, hardTimeoutMs: 1000, idleTimeoutMs: 0 });
  const a = t.lookupOrAdd(v4(1), 10);
  for (let now = 10; now < 1010; now += 10) {
    t.touch(a, 100, now);
    assert.equal(t.expire(now), 0, `at ${now}`);
  }
  assert.equal(t.expire(1010), 1);
  assert.equal(t.lookup(v4(1)), -1);

  const none = makeTable({ capacity: 64 });
  none.lookupOrAdd(v4(1), 0);
  assert.equal(none.expire(1e12), 0, 'no timeouts: nothing expires');
  none.setTimeouts(5, 0);
  assert.equal(none.idleTimeoutMs, 5);
  assert.equal(none.expire(4), 0);
  assert.equal(none.expire(5), 1);

  // Both timeouts: whichever comes first.
  const both = makeTable({ capacity: 64, idleTimeoutMs: 100, hardTimeoutMs: 250 });
  const i = both.lookupOrAdd(v4(1), 0);
  both.touch(i, 1, 90);
  both.touch(i, 1, 180);
  assert.equal(both.expire(249), 0);
  assert.equal(both.expire(250), 1);
});

test('expire with max scans a slice and resumes where it stopped', () => {
  const t = makeTable({ capacity: 64, idleTimeoutMs: 10 });
  const idx = new Set<number>();
  for (let i = 0; i < 40; i++) idx.add(t.lookupOrAdd(v4(i * 13), 0));
  assert.equal(idx.size, 40);
  const removed: number[][] = [];
  let slice: number[] = [];
  const onExpire = (i: number): void => {
    slice.push(i);
  };
  let total = 0;
  for (let call = 0; call < 4; call++) {
    slice = [];
    const n = t.expire(100, onExpire, 16);
    assert.equal(n, slice.length);
    removed.push(slice);
    total += n;
    // Call c scans slots [16c, 16c + 16).
    for (const i of slice) assert.ok(i >= 16 * call && i < 16 * call + 16, `slot ${i} in slice ${call}`);
    assert.equal(t.count, 40 - total);
  }
  assert.equal(total, 40);
  assert.deepEqual(
    removed.flat().sort((a, b) => a - b),
    [...idx].sort((a, b) => a - b),
  );
  // The cursor wraps: a slice across the end of the table.
  for (let i = 0; i < 40; i++) t.lookupOrAdd(v4(i * 13), 200);
  slice = [];
  assert.equal(t.expire(300, onExpire, 50), slice.length);
  assert.ok(slice.every((i) => i < 50));
  const before = t.count;
  slice = [];
  assert.equal(t.expire(300, onExpire, 50), before, 'slots 50..63 then 0..35: the rest');
  assert.equal(t.count, 0);
  assert.equal(t.expire(300, undefined, 0), 0, 'max 0 scans nothing');
});

test('prefetch and prefetchBurst change nothing', () => {
  const t = makeTable({ capacity: 64, symmetric: true });
  const keys = [v4(1), v4(2), v6(3)];
  const idx = keys.map((k) => t.lookupOrAdd(k, 0));
  const hashes = Uint32Array.from(keys, (k) => hashFlowKey(k, true));
  t.prefetchBurst(hashes, hashes.length);
  t.prefetch(hashes[0]!);
  t.prefetch(0x7fffffff);
  keys.forEach((k, i) => {
    assert.equal(t.lookup(k, hashes[i]), idx[i]);
  });
  assert.equal(t.count, 3);
});

test('iteration: nextUsed and forEach visit each entry once', () => {
  const t = makeTable({ capacity: 128 });
  const want = new Set<number>();
  for (let i = 0; i < 60; i++) want.add(t.lookupOrAdd(v4(i), 0));
  for (const i of [...want].slice(0, 20)) {
    t.remove(i);
    want.delete(i);
  }
  const got: number[] = [];
  for (let i = t.nextUsed(0); i >= 0; i = t.nextUsed(i + 1)) got.push(i);
  assert.deepEqual(
    got,
    [...want].sort((a, b) => a - b),
  );
  const viaForEach: number[] = [];
  t.forEach((i) => {
    viaForEach.push(i);
  });
  assert.deepEqual(viaForEach, got);
  assert.equal(t.nextUsed(128), -1);
  // Removing during forEach is allowed.
  t.forEach((i) => {
    t.remove(i);
  });
  assert.equal(t.count, 0);
  assert.equal(t.nextUsed(0), -1);
});

test('removal next to an empty slot leaves no tombstone; compact() clears the rest', () => {
  const t = makeTable({ capacity: 1024 });
  const keys = Array.from({ length: 700 }, (_, i) => v4(i * 31));
  const idx = keys.map((k) => t.lookupOrAdd(k, 0));
  for (let i = 0; i < 700; i += 3) t.remove(idx[i]!);
  const tombs = t.tombstones;
  assert.ok(tombs > 0 && tombs < 234, `some removals left tombstones (${tombs})`);
  const g0 = t.generation();
  assert.equal(t.compact(), tombs);
  assert.equal(t.tombstones, 0);
  assert.equal(t.generation(), g0 + 2, 'generation advanced by the compaction, even again');
  keys.forEach((k, i) => {
    const j = t.lookup(k);
    if (i % 3 === 0) assert.equal(j, -1);
    else assert.ok(j >= 0 && t.keyAt(j, new FlowKey()).equals(k));
  });
  t.clear();
  assert.equal(t.count, 0);
  assert.equal(t.lookup(keys[1]!), -1);
});

test('long seeded random workload with tombstones and compaction matches a Map model', () => {
  for (const symmetric of [false, true]) {
    const rnd = mulberry32(symmetric ? 0x5eed : 0xc0ffee);
    const capacity = 512;
    const t = makeTable({ capacity, valueWords: 2, symmetric });
    // 900 distinct flows for 384 places: the table fills up, and churn makes tombstones.
    const keys: FlowKey[] = [];
    for (let i = 0; i < 900; i++) {
      const r = rnd();
      keys.push(
        i % 3 === 0
          ? FlowKey.ipv6([0x20010db8, r, i, 0], [0x20010db8, 0, 0, i & 7], 6, r & 0xffff, 443)
          : // Few addresses and ports: many hash collisions of near-identical keys.
            FlowKey.ipv4(0x0a000000 + (r & 15), 0x0a000100 + (i & 3), i & 1 ? 6 : 17, i & 0xff, 53),
      );
    }
    const canon = (k: FlowKey): string => {
      const f = keyText(k);
      if (!symmetric) return f;
      const r = keyText(new FlowKey().copyFrom(k).reverse());
      return f < r ? f : r;
    };
    // Keys whose reverse is another key in the pool would merge in the symmetric model too: fine.
    const model = new Map<string, { v0: number; packets: number; bytes: number; last: number }>();
    const probe = new FlowKey();
    let compactions = 0;
    let maxTombs = 0;
    let fulls = 0;
    let now = 0;
    for (let step = 0; step < 60_000; step++) {
      now += 1;
      const k = keys[rnd() % keys.length]!;
      const q = symmetric && rnd() & 1 ? probe.copyFrom(k).reverse() : k;
      const name = canon(q);
      const m = model.get(name);
      const op = rnd() % 100;
      const tombsBefore = t.tombstones;
      if (op < 45) {
        const i = t.lookupOrAdd(q, now, rnd() & 1 ? hashFlowKey(q, symmetric) : undefined);
        if (m) {
          assert.ok(i >= 0);
          assert.equal(t.lastAdded, false);
        } else if (model.size >= t.maxCount) {
          assert.equal(i, -1);
          fulls++;
          continue;
        } else {
          assert.ok(i >= 0, `add at step ${step}`);
          assert.equal(t.lastAdded, true);
          if (t.tombstones < tombsBefore - 1) compactions++;
          assert.ok(
            t.tombstones <= capacity / 4,
            `after an add, at most a quarter of the slots are tombstones (${t.tombstones})`,
          );
          model.set(name, { v0: 0, packets: 0, bytes: 0, last: now });
        }
        const e = model.get(name)!;
        const bytes = 64 + (rnd() % 1400);
        t.touch(i, bytes, now);
        e.packets++;
        e.bytes += bytes;
        e.last = now;
        const v = rnd();
        t.setValue(i, 0, v);
        e.v0 = v;
      } else if (op < 80) {
        const i = t.lookup(q);
        if (!m) {
          assert.equal(i, -1, `lookup of a removed/absent flow at step ${step}`);
          continue;
        }
        assert.ok(i >= 0, `lookup at step ${step}`);
        assert.equal(t.value(i, 0), m.v0);
        assert.equal(t.packets(i), m.packets);
        assert.equal(t.bytes(i), m.bytes);
        assert.equal(t.lastSeen(i), m.last);
        const back = t.keyAt(i, new FlowKey());
        assert.equal(canon(back), name);
      } else {
        const i = t.lookup(q);
        assert.equal(i >= 0, m !== undefined);
        if (i >= 0) {
          assert.ok(t.remove(i));
          model.delete(name);
        }
      }
      maxTombs = Math.max(maxTombs, t.tombstones);
      assert.equal(t.count, model.size);
      if (step % 10_000 === 9_999) {
        if (step === 29_999) t.compact();
        // Every flow in the model is found, and nothing else is in the table.
        let seen = 0;
        t.forEach(() => {
          seen++;
        });
        assert.equal(seen, model.size);
        for (const k2 of keys) assert.equal(t.lookup(k2) >= 0, model.has(canon(k2)));
      }
    }
    assert.ok(fulls > 0, 'the workload reached a full table');
    assert.ok(compactions > 0, `compaction ran on add (max tombstones ${maxTombs})`);
    assert.ok(maxTombs > capacity / 4, `removals alone may pass a quarter (${maxTombs}); the next add compacts`);
    assert.equal(t.fullCount, fulls);
  }
});

test('a second FlowTable on the same memory sees the same entries', () => {
  const opts = { capacity: 256, valueWords: 4, symmetric: true, idleTimeoutMs: 30_000 };
  const off = 192;
  const buf = new ArrayBuffer(off + flowTableBytes(opts) + 64);
  initFlowTable(buf, off, opts);
  const writer = new FlowTable(buf, off);
  const reader = new FlowTable(buf, off);
  assert.equal(reader.capacity, 256);
  assert.equal(reader.valueWords, 4);
  assert.equal(reader.symmetric, true);
  assert.equal(reader.idleTimeoutMs, 30_000);
  const keys = Array.from({ length: 50 }, (_, i) => (i & 1 ? v6(i) : v4(i)));
  for (const [n, k] of keys.entries()) {
    const i = writer.lookupOrAdd(k, n);
    writer.setValue(i, 3, n * 11);
    writer.touch(i, 100 + n, n + 1);
  }
  assert.equal(reader.count, 50);
  const out = new FlowKey();
  for (const [n, k] of keys.entries()) {
    const i = reader.lookup(new FlowKey().copyFrom(k).reverse());
    assert.equal(i, writer.lookup(k));
    assert.equal(reader.lastReversed, true);
    assert.equal(reader.value(i, 3), n * 11);
    assert.equal(reader.packets(i), 1);
    assert.equal(reader.bytes(i), 100 + n);
    assert.equal(reader.lastSeen(i), n + 1);
    assert.ok(reader.keyAt(i, out).equals(k));
  }
  // The seqlock protocol a reader follows: generation even and unchanged around the read.
  const g = reader.generation();
  assert.equal(g % 2, 0);
  writer.remove(writer.lookup(keys[10]!));
  assert.equal(reader.lookup(keys[10]!), -1);
  // Fill keys[10]'s slot again with a new flow: if it reuses a tombstone, generation moves.
  writer.lookupOrAdd(keys[10]!, 99);
  assert.ok(reader.generation() % 2 === 0);
  writer.compact();
  assert.notEqual(reader.generation(), g, 'compaction is visible to readers');
  assert.equal(reader.tombstones, 0);
  for (const k of keys) assert.ok(reader.lookup(k) >= 0);
  // A table whose words were never formatted.
  assert.throws(
    () => new FlowTable(new ArrayBuffer(4096), 0),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_LAYOUT',
  );
  assert.throws(
    () => new FlowTable(buf, 64),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_LAYOUT',
  );
});

test('bad options give NFC_ERR_INVALID_ARG with a fix', () => {
  assertInvalidArg(() => flowTableBytes({ capacity: 1000 }), /capacity 1000 must be a power of two/);
  assert.throws(() => flowTableBytes({ capacity: 1000 }), /fix: use 1024/);
  assertInvalidArg(() => flowTableBytes({ capacity: 4 }), /capacity 4/);
  assertInvalidArg(() => flowTableBytes({ capacity: 0 }), /capacity 0/);
  assertInvalidArg(() => flowTableBytes({ capacity: 2 ** 27 }), /capacity/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, valueWords: -1 }), /valueWords -1/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, valueWords: 65 }), /valueWords 65/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, valueWords: 1.5 }), /valueWords 1.5/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, maxLoad: 0 }), /maxLoad 0/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, maxLoad: 1 }), /maxLoad 1/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, idleTimeoutMs: -1 }), /idleTimeoutMs -1/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, hardTimeoutMs: Number.NaN }), /hardTimeoutMs NaN/);
  assertInvalidArg(() => flowTableBytes({ capacity: 64, symmetric: 'yes' as unknown as boolean }), /symmetric/);
  assertInvalidArg(() => initFlowTable(new ArrayBuffer(1 << 16), 0, { capacity: 100 }), /capacity 100/);
  assertInvalidArg(() => makeTable({ capacity: 64 }).setTimeouts(-5, 0), /idleTimeoutMs -5/);
  // Region problems are layout errors.
  const small = new ArrayBuffer(1024);
  assert.throws(
    () => initFlowTable(small, 0, { capacity: 1024 }),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_LAYOUT',
  );
  assert.throws(
    () => initFlowTable(new ArrayBuffer(1 << 16), 32, { capacity: 8 }),
    (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_LAYOUT',
  );
});
