/** manager.http / --http: addresses, the loopback rule, tokens, and the errors for bad values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpOptions, isLoopback, parseListen, TOKEN_ENV } from './http-options.js';
import { NfcError } from '../errors.js';
import { validateTopology } from './load.js';

const noEnv = {};

test('a port alone listens on 127.0.0.1; hosts and IPv6 in brackets are read', () => {
  assert.deepEqual(parseListen(9091, 'x'), { host: '127.0.0.1', port: 9091 });
  assert.deepEqual(parseListen('9091', 'x'), { host: '127.0.0.1', port: 9091 });
  assert.deepEqual(parseListen(':0', 'x'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen('127.0.0.2:80', 'x'), { host: '127.0.0.2', port: 80 });
  assert.deepEqual(parseListen('[::1]:9091', 'x'), { host: '::1', port: 9091 });
  assert.deepEqual(parseListen('localhost:1', 'x'), { host: 'localhost', port: 1 });
  assert.equal(httpOptions(undefined), null);
  assert.equal(httpOptions(false), null);
  const o = httpOptions('9091', 'manager.http', '/', noEnv)!;
  assert.deepEqual(o, { host: '127.0.0.1', port: 9091, token: undefined, remote: false });
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '10.0.0.1', '::', 'fe80::1']) assert.ok(!isLoopback(h), h);
});

test('bad addresses are refused naming the setting and the value', () => {
  const cases: [string | number, RegExp][] = [
    ['nope', /manager\.http: "nope" has no port number/],
    ['127.0.0.1:99999', /port above 65535/],
    ['[zz]:1', /not an IPv6 address/],
    ['::1:80', /IPv6 address without brackets/],
    ['example.com:80', /not an IP address/],
    ['10.0.0.1:', /no port number/],
  ];
  for (const [v, re] of cases) {
    assert.throws(
      () => httpOptions(v, 'manager.http', '/', noEnv),
      (e: unknown) => e instanceof NfcError && e.code === 'NFC_ERR_USAGE' && re.test(e.message),
      String(v),
    );
  }
});

test('an address beyond loopback needs remote: true', () => {
  assert.throws(
    () => httpOptions('0.0.0.0:9091', 'manager.http', '/', noEnv),
    (e: unknown) =>
      e instanceof NfcError && /not a loopback address/.test(e.message) && /remote: true/.test(e.fix ?? ''),
  );
  const o = httpOptions({ listen: '0.0.0.0:9091', remote: true }, 'manager.http', '/', noEnv)!;
  assert.equal(o.remote, true);
  assert.equal(o.host, '0.0.0.0');
});

test('tokens: inline, from a file (its first line), from the environment; short ones refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-http-'));
  try {
    writeFileSync(join(dir, 'tok'), 'abcdefghijklmnopqrstuvwxyz\nignored\n');
    writeFileSync(join(dir, 'short'), 'abc\n');
    assert.equal(httpOptions({ listen: 1, tokenFile: 'tok' }, 'm', dir, noEnv)!.token, 'abcdefghijklmnopqrstuvwxyz');
    assert.equal(httpOptions({ listen: 1, token: 'x'.repeat(20) }, 'm', dir, noEnv)!.token, 'x'.repeat(20));
    assert.equal(httpOptions(1, 'm', dir, { [TOKEN_ENV]: 'y'.repeat(16) })!.token, 'y'.repeat(16));
    assert.throws(() => httpOptions({ listen: 1, tokenFile: 'short' }, 'm', dir, noEnv), /16 characters or more/);
    assert.throws(() => httpOptions({ listen: 1, tokenFile: 'missing' }, 'm', dir, noEnv), /cannot read/);
    assert.throws(() => httpOptions(1, 'm', dir, { [TOKEN_ENV]: 'short' }), /16 characters or more/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the topology loader checks manager.http before anything starts', () => {
  const module = fileURLToPath(new URL('../../../nfs/simple-forward/index.ts', import.meta.url));
  const base = {
    name: 'h',
    ports: [
      { name: 'g', driver: 'gen' },
      { name: 'n', driver: 'null' },
    ],
    nfs: [{ name: 'f', module, service: 1 }],
    chain: ['f', 'port:n'],
  };
  for (const [http, re] of [
    ['0.0.0.0:9091', /manager\.http: 0\.0\.0\.0 is not a loopback address/],
    ['x:y', /manager\.http: "x:y"/],
    [{ listen: 1, token: 'short' }, /manager\.http\.token/],
    [{ listen: 1, bogus: 1 }, /manager\.http/],
  ] as const) {
    assert.throws(
      () => validateTopology({ ...base, manager: { http } }, 'topo.yaml'),
      (e: unknown) => e instanceof NfcError && re.test(e.message),
      JSON.stringify(http),
    );
  }
  const t = validateTopology({ ...base, manager: { http: '127.0.0.1:0', latency: false, events: false } }, 'topo.yaml');
  assert.equal(t.manager.http, '127.0.0.1:0');
  assert.equal(t.manager.latency, false);
  assert.equal(t.manager.events, false);
});
