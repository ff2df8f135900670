/**
 * Interoperability of PcapWriter and PcapReader with tshark, tcpdump and editcap: they read what
 * PcapWriter writes, and PcapReader reads the pcapng editcap writes. Each test is skipped when
 * its tool is not installed.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { PcapWriter } from './pcap-writer.js';
import { dir, packetBytes, readAll, tmp, useTempDir } from './pcap-test-helpers.js';

useTempDir();

describe('interoperability with Wireshark tools and tcpdump', () => {
  // tshark wants a writable profile directory and warns when run as root; neither matters here.
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, LC_ALL: 'C' });
  const has = (cmd: string, args: string[]): boolean =>
    spawnSync(cmd, args, { stdio: 'ignore', env: env() }).status === 0;
  const run = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: env(), maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const lengths = Array.from({ length: 300 }, (_, i) => (i === 7 ? 70_000 : 42 + ((i * 53) % 1473)));

  function writeSample(nanosecond: boolean): string {
    const path = tmp(`interop-${nanosecond ? 'ns' : 'us'}.pcap`);
    const w = PcapWriter.create(path, { nanosecond });
    lengths.forEach((len, i) => {
      w.write(packetBytes(i, len), 0, len, 1_700_000_000 + i, i * 1_000_003);
    });
    w.close();
    return path;
  }

  for (const nanosecond of [false, true]) {
    test(`tshark reads PcapWriter output (${nanosecond ? 'ns' : 'µs'}): counts, lengths and times match`, (t) => {
      if (!has('tshark', ['-v'])) {
        t.skip('tshark not installed: apt-get install tshark');
        return;
      }
      const path = writeSample(nanosecond);
      const out = run('tshark', [
        '-r',
        path,
        '-T',
        'fields',
        '-e',
        'frame.len',
        '-e',
        'frame.cap_len',
        '-e',
        'frame.time_epoch',
      ]);
      const rows = out
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      assert.equal(rows.length, lengths.length);
      rows.forEach(([len, cap, time], i) => {
        const want = lengths[i]!;
        assert.equal(Number(len), want, `frame ${i + 1} frame.len`);
        assert.equal(Number(cap), Math.min(want, 65535), `frame ${i + 1} frame.cap_len`);
        const ns = i * 1_000_003;
        const frac = nanosecond ? String(ns).padStart(9, '0') : String(Math.floor(ns / 1000)).padStart(6, '0');
        assert.ok(time?.startsWith(`${1_700_000_000 + i}.${frac}`), `frame ${i + 1} time ${time}`);
      });
    });
  }

  test('tcpdump reads PcapWriter output', (t) => {
    if (!has('tcpdump', ['--version'])) {
      t.skip('tcpdump not installed: apt-get install tcpdump');
      return;
    }
    const path = writeSample(false);
    // --count prints only "N packets"; decoding our synthetic bytes would print odd lines.
    const out = run('tcpdump', ['--count', '-r', path]);
    assert.match(out, new RegExp(`^${lengths.length} packets`, 'm'));
  });

  test('PcapReader reads pcapng written by editcap (nanosecond interface)', (t) => {
    if (!has('editcap', ['-v'])) {
      t.skip('editcap not installed: apt-get install tshark');
      return;
    }
    const src = writeSample(true);
    const ng = tmp('editcap.pcapng');
    run('editcap', ['-F', 'pcapng', src, ng]);
    const a = readAll(src);
    const b = readAll(ng);
    assert.equal(b.length, a.length);
    b.forEach((p, i) => {
      assert.deepEqual(p, a[i]);
    });
    assert.deepEqual([...readFileSync(ng).subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], 'editcap wrote pcapng');
  });
});
