/**
 * payload-scan: looks for a set of byte strings in the payload of TCP and UDP packets, with an
 * Aho–Corasick automaton in typed arrays (automaton.ts: one table read per byte), after
 * OpenNetVM's payload_scan (which looks for one string with strstr).
 *
 *   TCP/UDP, a pattern found     mode drop: DROP; pass: NEXT; invert: NEXT
 *   TCP/UDP, no pattern found    mode drop: NEXT; pass: NEXT; invert: DROP
 *   anything else                NEXT, counted as not scanned (not IP, other protocols,
 *                                later fragments, headers cut short)
 *
 * The payload is the bytes after the TCP or UDP header inside the IP packet (Ethernet padding
 * excluded). Every occurrence of every pattern is counted (the whole payload is scanned even
 * after a first match), per pattern and in total; patterns split across packets are not found.
 *
 * Each instance has its own automaton and counters; the instance returned by create() carries
 * them (`runNF(...).instance.counters`, `.automaton`, `.stats()`). The NF's declared counters
 * (stats, /metrics, the console) are copied from them at the end of each burst.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineNF, DROP, NEXT, NfcError } from 'nfchain';
import { Automaton, type Layout, MAX_STATES } from './automaton.js';

export { Automaton, MAX_STATES } from './automaton.js';

/** Indices of the counters array. */
export const Counter = {
  packets: 0,
  /** TCP/UDP packets whose payload was scanned */
  scanned: 1,
  /** payload bytes scanned */
  bytes: 2,
  /** scanned packets with at least one pattern */
  matched: 3,
  /** pattern occurrences, all patterns */
  occurrences: 4,
  dropped: 5,
  /** not TCP/UDP (or no whole transport header): passed on unscanned */
  notScanned: 6,
} as const;
const COUNTERS = 7;
/** Counter names by index. */
const COUNTER_NAMES = (Object.entries(Counter) as [keyof typeof Counter, number][])
  .sort((a, b) => a[1] - b[1])
  .map(([n]) => n);
/** The counters the NF declares (packets is the platform's own count of what it handled). */
const PUBLISHED = [
  Counter.scanned,
  Counter.bytes,
  Counter.matched,
  Counter.occurrences,
  Counter.dropped,
  Counter.notScanned,
];

/**
 * Parses one pattern with escapes: `\xHH` (any byte), `\\` (a backslash), `\,` (a comma, for the
 * `pattern` list). Returns the bytes, or the problem as text. Cold.
 */
export function parsePattern(text: string): Uint8Array | string {
  const out: number[] = [];
  const utf8 = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out.push(...utf8.encode(ch));
      continue;
    }
    const next = text[i + 1];
    if (next === '\\' || next === ',') {
      out.push(next.charCodeAt(0));
      i++;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      out.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      return `bad escape "${text.slice(i, i + 4)}" at character ${i + 1}: write \\xHH (two hex digits), \\\\ or \\,`;
    }
  }
  if (out.length === 0) return 'an empty pattern';
  return Uint8Array.from(out);
}

/** A pattern as text for reports: printable ASCII as is, other bytes as \xHH. Cold. */
export function showPattern(p: Uint8Array): string {
  let s = '';
  for (const b of p)
    s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return s;
}

const FIX_SYNTAX = 'one pattern per line (or a comma list); \\xHH for any byte, \\\\ for a backslash, \\, for a comma';

/**
 * The patterns of the `patterns` file (one per line; empty lines and lines starting with # are
 * skipped; everything else on the line counts, spaces included) and of the `pattern` list.
 * Errors name the option, the file and line. Cold.
 */
export function loadPatterns(file: string, list: string, baseDir: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (file !== '') {
    const path = resolve(baseDir, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `payload-scan: option --patterns: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { fix: "check the path; a relative one is taken from the topology file's directory", cause: err },
      );
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
      if (line === '' || line.startsWith('#')) continue;
      const p = parsePattern(line);
      if (typeof p === 'string')
        throw new NfcError('NFC_ERR_NF_OPTION', `payload-scan: option --patterns: ${path}:${i + 1}: ${p}`, {
          fix: `${FIX_SYNTAX}; # at the start of a line is a comment (\\x23 for a pattern that starts with #)`,
        });
      out.push(p);
    }
    if (out.length === 0)
      throw new NfcError('NFC_ERR_NF_OPTION', `payload-scan: option --patterns: ${path} has no pattern`, {
        fix: 'write one pattern per line (lines starting with # are comments)',
      });
  }
  if (list !== '') {
    // split at commas not escaped
    const items: string[] = [];
    let cur = '';
    for (let i = 0; i < list.length; i++) {
      if (list[i] === '\\' && i + 1 < list.length) {
        cur += list[i]! + list[i + 1]!;
        i++;
      } else if (list[i] === ',') {
        items.push(cur);
        cur = '';
      } else cur += list[i];
    }
    items.push(cur);
    items.forEach((item, k) => {
      const p = parsePattern(item);
      if (typeof p === 'string')
        throw new NfcError('NFC_ERR_NF_OPTION', `payload-scan: option --pattern: item ${k + 1} ("${item}"): ${p}`, {
          fix: FIX_SYNTAX,
        });
      out.push(p);
    });
  }
  if (out.length === 0)
    throw new NfcError(
      'NFC_ERR_NF_OPTION',
      'payload-scan: no patterns: give option --patterns (a file) or --pattern (a list)',
      {
        fix: 'e.g. --pattern "GET /admin,\\x90\\x90\\x90\\x90", or --patterns sigs.txt with one per line',
      },
    );
  return out;
}

export default defineNF({
  name: 'payload-scan',
  description:
    'drops (or passes, or counts) TCP/UDP packets whose payload holds one of a set of strings (Aho–Corasick)',
  counters: {
    scanned: 'TCP/UDP packets whose payload was scanned',
    bytes: 'payload bytes scanned',
    matched: 'scanned packets with at least one pattern',
    occurrences: 'pattern occurrences, all patterns',
    dropped: 'packets dropped (mode drop: matched; invert: not matched)',
    notScanned: 'packets not TCP/UDP (or no whole transport header): passed on unscanned',
  },
  gauges: {
    patterns: 'patterns looked for',
  },
  options: {
    patterns: {
      type: 'string',
      default: '',
      help: 'file of patterns, one per line, \\xHH escapes, # comments; relative to the topology file',
    },
    pattern: { type: 'string', default: '', help: 'patterns as a comma list, \\xHH escapes (\\, for a comma)' },
    mode: {
      type: 'string',
      default: 'drop',
      choices: ['drop', 'pass', 'invert'],
      help: 'drop packets that match / only count / drop packets that do not match',
    },
    'ignore-case': { type: 'boolean', default: false, help: 'ASCII letters match in either case' },
    table: {
      type: 'string',
      default: 'auto',
      choices: ['auto', 'dense', 'classes'],
      help: 'automaton layout: dense (256 entries per state) or byte classes; auto = classes when at most 127 distinct bytes',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: reads the patterns and builds the automaton. Allocates. */
  create(ctx) {
    const o = ctx.options;
    const patterns = loadPatterns(o.patterns, o.pattern, ctx.baseDir);
    let total = 1;
    for (const p of patterns) total += p.length;
    if (total > MAX_STATES)
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `payload-scan: option --${o.patterns !== '' ? 'patterns' : 'pattern'}: ${patterns.length} patterns of ${total - 1} bytes in all; the automaton takes at most ${MAX_STATES - 1}`,
        { fix: 'use fewer or shorter patterns, or split them over several payload-scan NFs in the chain' },
      );
    const ac = new Automaton(patterns, o['ignore-case'], o.table as Layout | 'auto');
    const names = patterns.map(showPattern);
    const onMatch = o.mode === 'drop' ? DROP : NEXT;
    const onMiss = o.mode === 'invert' ? DROP : NEXT;
    const c = new Float64Array(COUNTERS);
    /** the declared counters and the Counter index each copies (at the end of each burst) */
    const published = PUBLISHED.map((k) => ({ cell: ctx.counter(COUNTER_NAMES[k]!), k }));
    ctx.gauge('patterns').set(patterns.length);
    const last = new Float64Array(COUNTERS);
    const lastPer = new Float64Array(patterns.length);
    let ticks = 0;
    /** A scanned packet's verdict from its occurrences, counted. Hot path: no allocation. */
    const decide = (found: number): number => {
      let v = onMiss;
      if (found > 0) {
        c[Counter.matched]!++;
        c[Counter.occurrences]! += found;
        v = onMatch;
      }
      if (v === DROP) c[Counter.dropped]!++;
      return v;
    };
    if (o.interval > 0)
      ctx.log(
        `payload-scan: ${patterns.length} patterns, ${ac.states} states, ${ac.layout} table ` +
          `(${(ac.tableBytes / 1024).toFixed(0)} KiB), mode ${o.mode}`,
      );

    /** The report (cold): totals since the last one, and the patterns found since. */
    const report = (what: string, since: Float64Array, sincePer: Float64Array): string[] => {
      const d = (k: number): number => c[k]! - since[k]!;
      const lines = [
        `payload-scan: ${what}: ${d(Counter.packets)} packets, ${d(Counter.scanned)} scanned (${d(Counter.bytes)} bytes), ` +
          `${d(Counter.matched)} matched (${d(Counter.occurrences)} occurrences), ${d(Counter.dropped)} dropped, ` +
          `${d(Counter.notScanned)} not TCP/UDP`,
      ];
      const hits: [number, number][] = [];
      for (let p = 0; p < names.length; p++) {
        const n = ac.packets[p]! - sincePer[p]!;
        if (n > 0) hits.push([p, n]);
      }
      hits.sort((a, b) => b[1] - a[1]);
      for (const [p, n] of hits.slice(0, 10)) lines.push(`  "${names[p]}": ${n} packets`);
      if (hits.length > 10) lines.push(`  ... and ${hits.length - 10} more patterns found`);
      return lines;
    };

    return {
      /** the automaton (its per-pattern counters: occurrences, packets) */
      automaton: ac,
      /** Counter-indexed totals */
      counters: c,
      patterns: names,

      /**
       * Scans the burst's payloads two at a time (Automaton.scanPair: two chains of table reads
       * overlap). Hot path: no allocation.
       */
      handleBurst(b, ctx) {
        const pool = ctx.pool;
        const view = b.view;
        const verdicts = b.verdicts;
        let pend = -1;
        let pendOff = 0;
        let pendLen = 0;
        for (let i = 0; i < b.n; i++) {
          const pkt = view.attach(pool, b.descs[i]!);
          c[Counter.packets]!++;
          const off = pkt.payloadOffset;
          if (off < 0) {
            c[Counter.notScanned]!++;
            verdicts[i] = NEXT;
            continue;
          }
          const len = pkt.payloadLength;
          c[Counter.scanned]!++;
          c[Counter.bytes]! += len;
          if (pend < 0) {
            pend = i;
            pendOff = pkt.byteOffset + off;
            pendLen = len;
            continue;
          }
          ac.scanPair(view.bytes, pendOff, pendLen, pkt.byteOffset + off, len);
          verdicts[pend] = decide(ac.foundA);
          verdicts[i] = decide(ac.foundB);
          pend = -1;
        }
        if (pend >= 0) verdicts[pend] = decide(ac.scan(view.bytes, pendOff, pendLen));
        for (let j = 0; j < published.length; j++) {
          const p = published[j]!;
          p.cell.add(c[p.k]! - p.cell.value);
        }
      },

      /** Every `interval` seconds: the report. Cold. */
      tick(ctx) {
        if (ctx.options.interval === 0 || ++ticks < ctx.options.interval) return;
        ticks = 0;
        for (const line of report(`last ${ctx.options.interval} s`, last, lastPer)) ctx.log(line);
        last.set(c);
        lastPer.set(ac.packets);
      },

      stop(ctx) {
        if (ctx.options.interval === 0) return;
        for (const line of report('in all', new Float64Array(COUNTERS), new Float64Array(names.length))) ctx.log(line);
      },

      /** A copy of the counters (cold). */
      stats() {
        return {
          packets: c[Counter.packets]!,
          scanned: c[Counter.scanned]!,
          bytes: c[Counter.bytes]!,
          matched: c[Counter.matched]!,
          occurrences: c[Counter.occurrences]!,
          dropped: c[Counter.dropped]!,
          notScanned: c[Counter.notScanned]!,
          perPattern: names.map((pattern, p) => ({
            pattern,
            packets: ac.packets[p]!,
            occurrences: ac.occurrences[p]!,
          })),
        };
      },
    };
  },
});
