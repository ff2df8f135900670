import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUCKETS, join, leave } from './indirection.js';

function shares(w: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of w) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

test('joins share the buckets evenly', () => {
  const w = new Int32Array(BUCKETS);
  const members: number[] = [];
  for (const id of [4, 7, 9]) {
    members.push(id);
    join(w, 0, members, id);
  }
  const s = shares(w);
  assert.deepEqual([...s.keys()].sort(), [4, 7, 9]);
  for (const n of s.values()) assert.ok(n >= Math.floor(BUCKETS / 3) && n <= Math.ceil(BUCKETS / 3) + 1, `${n}`);
});

test('a leaving instance moves only its own buckets; everyone else keeps theirs', () => {
  const w = new Int32Array(BUCKETS);
  const members = [1, 2, 3];
  for (let i = 0; i < members.length; i++) join(w, 0, members.slice(0, i + 1), members[i]!);
  const before = Int32Array.from(w);
  leave(w, 0, [1, 3], 2);
  for (let b = 0; b < BUCKETS; b++) {
    if (before[b] !== 2) assert.equal(w[b], before[b], `bucket ${b} kept its instance`);
    else assert.ok(w[b] === 1 || w[b] === 3, `bucket ${b} moved to a remaining instance`);
  }
  const s = shares(w);
  assert.ok(Math.abs(s.get(1)! - s.get(3)!) <= 1, 'the moved buckets are spread');
  leave(w, 0, [3], 1);
  leave(w, 0, [], 3);
  assert.ok(
    w.every((x) => x === 0),
    'no instance left: every bucket empty',
  );
});
