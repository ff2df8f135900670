/**
 * Tests of payload-scan: the automaton against a naive search over seeded random payloads and
 * patterns (both layouts, both table widths, single and paired scans), overlapping patterns,
 * patterns at the payload's edges (Ethernet padding excluded), case, IPv6, the three modes, the
 * packets it does not scan, the report, and the errors of every option.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DROP, NEXT, NfcError, runNF } from 'nfchain';
import payloadScan, { Automaton, Counter, loadPatterns, parsePattern, showPattern } from './index.js';
import { buildPacket, type BuiltPacket } from '../../test/helpers/packet-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'nfchain-scan-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

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
const enc = (s: string) => new TextEncoder().encode(s);

/** Occurrences of `p` in `text`, overlapping ones included (the reference). */
function naiveCount(text: Uint8Array, p: Uint8Array, ignoreCase = false): number {
  const f = (b: number) => (ignoreCase && b >= 0x41 && b <= 0x5a ? b + 32 : b);
  let n = 0;
  for (let i = 0; i + p.length <= text.length; i++) {
    let j = 0;
    while (j < p.length && f(text[i + j]!) === f(p[j]!)) j++;
    if (j === p.length) n++;
  }
  return n;
}

function tcp(payload: Uint8Array, padTo?: number): BuiltPacket {
  return buildPacket({
    l3: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2' },
    l4: { kind: 'tcp', sport: 1234, dport: 80, payload },
    ...(padTo ? { padTo } : {}),
  });
}
function udp6(payload: Uint8Array): BuiltPacket {
  return buildPacket({
    l3: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2' },
    l4: { kind: 'udp', sport: 1, dport: 2, payload },
  });
}

test('automaton = naive search: seeded random patterns and texts, both layouts, case folding, scan and scanPair', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = prng(seed);
    const alphabet = seed % 3 === 0 ? 'aAbB' : 'abc';
    const word = (n: number) => enc(Array.from({ length: n }, () => alphabet[rand() % alphabet.length]).join(''));
    const pats = Array.from({ length: 1 + (rand() % 20) }, () => word(1 + (rand() % 5)));
    const ignoreCase = seed % 2 === 0;
    for (const layout of ['dense', 'classes', 'auto'] as const) {
      const ac = new Automaton(pats, ignoreCase, layout);
      const expectOcc = new Array(pats.length).fill(0);
      const expectPkts = new Array(pats.length).fill(0);
      const texts = Array.from({ length: 20 }, () => word(rand() % 200));
      const buf = new Uint8Array(texts.reduce((a, t) => a + t.length + 3, 0));
      const offs: number[] = [];
      let at = 0;
      for (const t of texts) {
        buf.set(t, at + 3);
        offs.push(at + 3);
        at += t.length + 3;
      }
      for (let k = 0; k < texts.length; k++) {
        let total = 0;
        pats.forEach((p, i) => {
          const n = naiveCount(texts[k]!, p, ignoreCase);
          expectOcc[i] += n;
          if (n > 0) expectPkts[i]++;
          total += n;
        });
        if (k % 2 === 0 || k + 1 >= texts.length) {
          // even: alone; odd: with the next one as a pair
          assert.equal(ac.scan(buf, offs[k]!, texts[k]!.length), total, `seed ${seed} ${layout} text ${k}`);
        } else {
          ac.scanPair(buf, offs[k]!, texts[k]!.length, offs[k + 1]!, texts[k + 1]!.length);
          let next = 0;
          for (const p of pats) next += naiveCount(texts[k + 1]!, p, ignoreCase);
          pats.forEach((p, i) => {
            const n = naiveCount(texts[k + 1]!, p, ignoreCase);
            expectOcc[i] += n;
            if (n > 0) expectPkts[i]++;
          });
          assert.equal(ac.foundA, total, `seed ${seed} ${layout} pair ${k} A`);
          assert.equal(ac.foundB, next, `seed ${seed} ${layout} pair ${k} B`);
          k++;
        }
      }
      assert.deepEqual([...ac.occurrences], expectOcc, `seed ${seed} ${layout}: occurrences per pattern`);
      assert.deepEqual([...ac.packets], expectPkts, `seed ${seed} ${layout}: packets per pattern`);
    }
  }
});

test('more than 32768 states: the Int32 table gives the same answers', () => {
  const rand = prng(99);
  const pats = Array.from({ length: 3000 }, () => Uint8Array.from({ length: 20 }, () => 0x61 + (rand() % 4)));
  const ac = new Automaton(pats, false, 'classes');
  assert.ok(ac.states > 32768 && ac.table instanceof Int32Array);
  const text = Uint8Array.from({ length: 5000 }, () => 0x61 + (rand() % 4));
  text.set(pats[7]!, 100);
  let expect = 0;
  for (const p of pats) expect += naiveCount(text, p);
  assert.ok(expect >= 1);
  assert.equal(ac.scan(text, 0, text.length), expect);
  ac.scanPair(text, 0, 2500, 2500, 2500);
  let split = 0;
  for (const p of pats) split += naiveCount(text.subarray(0, 2500), p) + naiveCount(text.subarray(2500), p);
  assert.equal(ac.foundA + ac.foundB, split);
});

test('overlapping patterns (he, she, his, hers) and the counters per pattern and in total', async () => {
  const r = await runNF(
    payloadScan,
    [tcp(enc('ushers')).bytes, tcp(enc('this is hers')).bytes, tcp(enc('none')).bytes],
    {
      options: { pattern: 'he,she,his,hers', mode: 'pass', interval: 0 },
    },
  );
  assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT]);
  const s = r.instance.stats();
  assert.deepEqual(
    s.perPattern.map((p) => [p.pattern, p.packets, p.occurrences]),
    [
      ['he', 2, 2],
      ['she', 1, 1],
      ['his', 1, 1],
      ['hers', 2, 2],
    ],
  );
  assert.deepEqual([s.packets, s.scanned, s.matched, s.occurrences, s.dropped], [3, 3, 2, 6, 0]);
  assert.equal(s.bytes, 6 + 12 + 4);
});

test('patterns at the payload edges match; bytes outside it (headers, Ethernet padding) do not', async () => {
  const edges = tcp(enc('ABCxxxxxXYZ'));
  const short = tcp(enc('AB'), 80); // "AB" then zero padding: "AB\x00" must not match
  const header = tcp(enc('zzz')); // the TCP port 80 = 0x0050 = "\x00P" is in the header only
  const r = await runNF(payloadScan, [edges.bytes, short.bytes, header.bytes], {
    options: { pattern: 'ABC,XYZ,AB\\x00,\\x00P', interval: 0 },
  });
  assert.deepEqual(r.verdicts, [DROP, NEXT, NEXT]);
  assert.deepEqual(
    r.instance.stats().perPattern.map((p) => p.packets),
    [1, 1, 0, 0],
  );
});

test('ignore-case, IPv6 and UDP; modes drop, pass, invert', async () => {
  const pkts = [tcp(enc('GET /Admin HTTP/1.1')).bytes, udp6(enc('get /admin')).bytes, tcp(enc('GET /index')).bytes];
  const exact = await runNF(payloadScan, pkts, { options: { pattern: 'GET /admin', interval: 0 } });
  assert.deepEqual(exact.verdicts, [NEXT, NEXT, NEXT], 'case matters by default');
  const folded = await runNF(payloadScan, pkts, {
    options: { pattern: 'GET /admin', 'ignore-case': true, interval: 0 },
  });
  assert.deepEqual(folded.verdicts, [DROP, DROP, NEXT]);
  const invert = await runNF(payloadScan, pkts, {
    options: { pattern: 'get /ADMIN', 'ignore-case': true, mode: 'invert', interval: 0 },
  });
  assert.deepEqual(invert.verdicts, [NEXT, NEXT, DROP]);
  assert.equal(invert.instance.counters[Counter.dropped], 1);
  // the declared counters (stats, /metrics, the console): the three payloads scanned, two matched
  const bytes = 'GET /Admin HTTP/1.1'.length + 'get /admin'.length + 'GET /index'.length;
  assert.deepEqual(invert.metrics, {
    scanned: 3,
    bytes,
    matched: 2,
    occurrences: 2,
    dropped: 1,
    notScanned: 0,
    patterns: 1,
  });
  const pass = await runNF(payloadScan, pkts, { options: { pattern: 'GET', mode: 'pass', interval: 0 } });
  assert.deepEqual(pass.verdicts, [NEXT, NEXT, NEXT]);
  assert.equal(pass.instance.counters[Counter.matched], 2);
});

test('not scanned, passed on (NEXT) in every mode: ICMP, ARP, non-IP, later fragments, cut-short headers', async () => {
  const icmp = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' },
    l4: { kind: 'icmp', type: 8, code: 0 },
  });
  const arp = buildPacket({
    l3: {
      kind: 'arp',
      op: 1,
      senderMac: '02:00:00:00:00:01',
      senderIp: '1.1.1.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '2.2.2.2',
    },
  });
  const frag = buildPacket({
    l3: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', fragOffset: 3, proto: 6 },
    l4: { kind: 'raw', proto: 6, payload: enc('evil evil evil evil') },
  });
  const cut = tcp(enc('evil')).bytes.slice(0, 14 + 20 + 10); // TCP header cut short
  const pkts = [icmp.bytes, arp.bytes, frag.bytes, cut, new Uint8Array(10)];
  for (const mode of ['drop', 'invert']) {
    const r = await runNF(payloadScan, pkts, { options: { pattern: 'evil', mode, interval: 0 } });
    assert.deepEqual(r.verdicts, [NEXT, NEXT, NEXT, NEXT, NEXT]);
    assert.equal(r.instance.counters[Counter.notScanned], 5);
    assert.equal(r.instance.counters[Counter.scanned], 0);
    assert.deepEqual([r.metrics.notScanned, r.metrics.scanned, r.metrics.dropped], [5, 0, 0]);
  }
  // an empty payload is scanned and matches nothing: invert drops it
  const empty = await runNF(payloadScan, [tcp(new Uint8Array(0)).bytes], {
    options: { pattern: 'x', mode: 'invert', interval: 0 },
  });
  assert.deepEqual(empty.verdicts, [DROP]);
});

test('a burst with an odd number of scanned packets (pairs and one alone) and a random workload = naive', async () => {
  const rand = prng(4242);
  const pats = ['ab', 'bca', 'cc', 'abcab'];
  const payloads = Array.from({ length: 45 }, () =>
    enc(Array.from({ length: rand() % 60 }, () => 'abc'[rand() % 3]).join('')),
  );
  const pkts = payloads.map((p, i) => (i % 4 === 3 ? udp6(p).bytes : tcp(p).bytes));
  const r = await runNF(payloadScan, pkts, { options: { pattern: pats.join(','), interval: 0 } });
  const expect = payloads.map((p) => (pats.some((q) => naiveCount(p, enc(q)) > 0) ? DROP : NEXT));
  assert.deepEqual(r.verdicts, expect);
  const occ = pats.map((q) => payloads.reduce((a, p) => a + naiveCount(p, enc(q)), 0));
  assert.deepEqual([...r.instance.automaton.occurrences], occ);
});

test('the patterns file: comments, escapes, CRLF, spaces kept; together with the list', async () => {
  const f = file(
    'sigs.txt',
    '# signatures\r\n\r\nGET /admin\r\n\\x90\\x90\\x90\r\n\\x23hash\r\ntwo words \r\nback\\\\slash\r\n',
  );
  const pats = loadPatterns(f, 'x\\,y,z', dir);
  assert.deepEqual(pats.map(showPattern), [
    'GET /admin',
    '\\x90\\x90\\x90',
    '#hash',
    'two words ',
    'back\\x5cslash',
    'x,y',
    'z',
  ]);
  assert.deepEqual(loadPatterns('sigs.txt', '', dir).length, 5, 'relative to baseDir');
  const r = await runNF(
    payloadScan,
    [tcp(Uint8Array.of(1, 0x90, 0x90, 0x90, 2)).bytes, tcp(enc('two words  ')).bytes],
    {
      options: { patterns: 'sigs.txt', interval: 0 },
      baseDir: dir,
    },
  );
  assert.deepEqual(r.verdicts, [DROP, DROP]);
  assert.deepEqual(parsePattern('\\x4'), 'bad escape "\\x4" at character 1: write \\xHH (two hex digits), \\\\ or \\,');
});

test('interval: the report every interval ticks (since the last one) and at stop', async () => {
  const r = await runNF(payloadScan, [tcp(enc('abc abc')).bytes, tcp(enc('xyz')).bytes], {
    options: { pattern: 'abc,q\\x01', interval: 2 },
    ticks: 4,
  });
  assert.match(r.logs[0]!, /^payload-scan: 2 patterns, \d+ states, (dense|classes) table/);
  assert.equal(
    r.logs[1],
    'payload-scan: last 2 s: 2 packets, 2 scanned (10 bytes), 1 matched (2 occurrences), 1 dropped, 0 not TCP/UDP',
  );
  assert.equal(r.logs[2], '  "abc": 1 packets');
  assert.match(r.logs[3]!, /^payload-scan: last 2 s: 0 packets/);
  assert.match(r.logs[4]!, /^payload-scan: in all: 2 packets/);
  assert.equal(r.logs.length, 6);
  const quiet = await runNF(payloadScan, [tcp(enc('abc')).bytes], {
    options: { pattern: 'abc', interval: 0 },
    ticks: 3,
  });
  assert.deepEqual(quiet.logs, []);
});

test('option errors name the option (and the file and line)', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /payload-scan: no patterns: give option --patterns \(a file\) or --pattern/],
    [{ pattern: 'a,,b' }, /option --pattern: item 2 \(""\): an empty pattern/],
    [{ pattern: 'a\\q' }, /option --pattern: item 1 \("a\\q"\): bad escape "\\q"/],
    [{ patterns: join(dir, 'missing.txt') }, /option --patterns: cannot read .*missing\.txt \(ENOENT\)/],
    [{ patterns: file('bad.txt', 'ok\n# c\nbad\\xZZ\n') }, /option --patterns: .*bad\.txt:3: bad escape "\\xZZ"/],
    [{ patterns: file('empty.txt', '# nothing\n\n') }, /option --patterns: .*empty\.txt has no pattern/],
    [
      { patterns: file('huge.txt', `${'a'.repeat(300000)}\n`) },
      /option --patterns: 1 patterns of 300000 bytes in all; the automaton takes at most/,
    ],
    [{ pattern: 'a', mode: 'block' }, /option "mode" must be one of drop, pass, invert/],
    [{ pattern: 'a', table: 'sparse' }, /option "table" must be one of auto, dense, classes/],
    [{ pattern: 'a', 'ignore-case': 'maybe' }, /option "ignore-case" must be true or false/],
    [{ pattern: 'a', interval: -1 }, /option "interval" must be at least 0/],
  ];
  for (const [options, re] of cases) {
    await assert.rejects(runNF(payloadScan, [], { options }), (e: unknown) => {
      assert.ok(e instanceof NfcError, String(e));
      assert.equal(e.code, 'NFC_ERR_NF_OPTION');
      assert.match(e.message, re);
      return true;
    });
  }
});

test('option table: dense and classes give the same verdicts', async () => {
  const pkts = [tcp(enc('xx needle xx')).bytes, tcp(enc('haystack')).bytes];
  for (const table of ['dense', 'classes', 'auto']) {
    const r = await runNF(payloadScan, pkts, { options: { pattern: 'needle', table, interval: 0 } });
    assert.deepEqual(r.verdicts, [DROP, NEXT], table);
    assert.equal(r.instance.automaton.layout, table === 'dense' ? 'dense' : 'classes');
  }
});
