/**
 * The 2-minute soak (bench/soak.ts): full-rate traffic through flow-tracker ×2 → simple-forward
 * ×2 while tracker instances are killed with SIGKILL every few seconds (seeded) and started
 * again. Every buffer must be back in the pool at the end, none freed twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../bench/soak.js';

test('soak: 2 minutes of traffic with random NF kills and restarts leaks no buffer and frees none twice', {
  timeout: 240_000,
}, async () => {
  const r = await soak({ seconds: 120, killEvery: [2, 6], seed: 7 });
  assert.ok(r.kills >= 15, `NFs were killed along the way (${r.kills})`);
  assert.ok(r.packets > 0, 'traffic flowed');
  assert.equal(r.leaked, 0, 'every buffer back in the pool');
  assert.equal(r.duplicates, 0, 'no buffer freed twice');
  assert.ok(r.rss.manager!.length >= 10, 'RSS sampled along the way');
});
