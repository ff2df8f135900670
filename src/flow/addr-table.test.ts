/** AddrTable (flow/addr-table.ts): IPv4 and IPv6 keys, a full table, clear(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddrTable } from './addr-table.js';

test('an address table keys IPv4 and IPv6 addresses, refuses adds when full, and clears', () => {
  const t = new AddrTable(3, 1);
  assert.equal(t.slot4(0x0a000001, false), -1);
  const a = t.slot4(0x0a000001, true);
  assert.equal(t.slot4(0x0a000001, true), a);
  const b = t.slot6(0x20010db8, 0, 0, 1, true);
  assert.notEqual(a, b);
  assert.equal(t.slot6(0x20010db8, 0, 0, 1, false), b);
  assert.equal(t.slot6(0x20010db8, 0, 0, 2, false), -1);
  t.slot4(0x0a000002, true);
  assert.equal(t.slot4(0x0a000003, true), -1);
  assert.equal(t.full, 1);
  assert.equal(t.address(a), '10.0.0.1');
  assert.equal(t.address(b), '2001:db8::1');
  t.cols[a] = 5;
  t.clear();
  assert.equal(t.count, 0);
  assert.equal(t.cols[a], 0);
  assert.equal(t.slot4(0x0a000001, false), -1);
  assert.throws(() => new AddrTable(0, 1), /capacity 0/);
});
