/**
 * Tests for the address text helpers (address.ts): MAC, IPv4 and IPv6 formatting and parsing,
 * and the errors the parsers throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac } from './address.js';
import { NfcError } from '../errors.js';
import { V4_DST, V6_DST } from './packet-view-test-helpers.js';

// ---------------------------------------------------------------------------------------------
// Cold helpers

test('format and parse helpers', () => {
  assert.equal(formatMac(0x020000000001), '02:00:00:00:00:01');
  assert.equal(parseMac('02:00:00:00:00:01'), 0x020000000001);
  assert.equal(parseMac('FF-ff-FF-ff-FF-ff'), 0xffffffffffff);
  assert.equal(parseIpv4('192.168.1.2'), V4_DST);
  assert.equal(formatIpv4(parseIpv4('255.0.10.1')), '255.0.10.1');
  assert.deepEqual([...parseIpv6('2001:db8:0:1::2')], V6_DST);
  assert.deepEqual([...parseIpv6('::')], [0, 0, 0, 0]);
  assert.deepEqual([...parseIpv6('::ffff:10.0.0.1')], [0, 0, 0xffff, 0x0a000001]);
  assert.deepEqual([...parseIpv6('1:2:3:4:5:6:7:8')], [0x10002, 0x30004, 0x50006, 0x70008]);
  assert.equal(formatIpv6(parseIpv6('fe80::1')), 'fe80::1');
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '']) {
    assert.throws(
      () => parseIpv4(bad),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
      bad,
    );
  }
  for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4::5:6:7:8']) {
    assert.throws(
      () => parseIpv6(bad),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
      bad,
    );
  }
  for (const bad of ['02:00:00:00:00', '02:00:00:00:00:0g', '020000000001']) {
    assert.throws(
      () => parseMac(bad),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_INVALID_ARG',
      bad,
    );
  }
});
