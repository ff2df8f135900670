/**
 * bench director: flow-director classification per packet (5-tuple + inPort + vlan → chain),
 * with 10 and 1000 rules, with and without the exact-match cache.
 *
 *   cache=on   FlowDirector.classify(key, inPort, vlan, hash): 4096 flows visited round robin,
 *              so after the first lap every packet is a cache hit (flows repeat)
 *   cache=off  FlowDirector.classifyUncached(key, inPort, vlan): the linear scan over the
 *              compiled rules that a flow's first packet pays (the cache insert it also pays
 *              is not included: see bench flow for lookupOrAdd's cost)
 *
 * Rules look like an ACL: a /16../32 IPv4 destination prefix inside 10.0.0.0/8, a protocol and
 * one destination port or a small range, some with a source prefix; random priorities.
 *
 *   traffic=mixed  flows go to 10.0.0.0/16 with ports from the rules' set, so that some match
 *                  (the fraction is printed as `matched`); a matched flow stops the scan at
 *                  its first matching rule
 *   traffic=miss   flows go to 172.16.0.0/16, which no rule matches: every rule is scanned
 *                  (the worst case of the linear scan)
 * Keys are precomputed in typed
 * arrays with their symmetric hash (what the RX loop leaves in the meta); per packet one
 * reusable FlowKey is filled, as the packet view does.
 *
 *   nfchain bench director [--rules 10,1000] [--cache on,off] [--traffic mixed,miss]
 *                          [--index auto] [--flows 4096] [--count N] [--runs R] [--json]
 *
 * --index: the destination-port index of the rules (director.ts): auto (from INDEX_MIN_RULES, 8, rules on),
 * on or off; a list such as on,off compares them.
 */
import { NfcError } from '../src/errors.js';
import { fileURLToPath } from 'node:url';
import { FlowKey, hashFlowKey } from '../src/packet/flow-key.js';
import { FlowDirector, type FlowRule } from '../src/flow/director.js';
import { mulberry32 } from '../src/util/prng.js';
import { flagSpecs } from '../src/util/args.js';
import { benchArgs, emit, JSON_FLAG, median, runChild, runsFlag, type BenchResult } from './common.js';

const PORTS = [22, 53, 80, 123, 443, 8080, 3306, 5432] as const;

export interface DirectorBenchOptions {
  rules: number[];
  caches: string[];
  traffic: string[];
  /** 'auto', 'on' or 'off' each */
  index: string[];
  flows: number;
  count: number;
  runs: number;
  json: boolean;
}

export async function directorBench(o: DirectorBenchOptions): Promise<BenchResult[]> {
  for (const c of o.caches) {
    if (c !== 'on' && c !== 'off')
      throw new NfcError('NFC_ERR_USAGE', `bench director: unknown --cache "${c}"`, { fix: 'use on, off or on,off' });
  }
  for (const t of o.traffic) {
    if (t !== 'mixed' && t !== 'miss')
      throw new NfcError('NFC_ERR_USAGE', `bench director: unknown --traffic "${t}"`, {
        fix: 'use mixed, miss or mixed,miss',
      });
  }
  for (const x of o.index) {
    if (x !== 'auto' && x !== 'on' && x !== 'off')
      throw new NfcError('NFC_ERR_USAGE', `bench director: unknown --index "${x}"`, {
        fix: 'use auto, on, off or a list such as on,off',
      });
  }
  for (const n of o.rules) {
    if (!Number.isInteger(n) || n < 0)
      throw new NfcError('NFC_ERR_USAGE', `bench director: bad rule count "${n}"`, { fix: 'use e.g. --rules 10,1000' });
  }
  if (!Number.isInteger(o.flows) || o.flows < 1 || o.flows > 49152) {
    throw new NfcError('NFC_ERR_USAGE', `bench director: --flows ${o.flows} must be 1..49152`, {
      fix: 'the cache (65536 slots) holds 49152 flows',
    });
  }
  const results: BenchResult[] = [];
  for (const traffic of o.traffic)
    for (const rules of o.rules) {
      for (const cache of o.caches)
        for (const index of o.index) {
          const runs: number[] = [];
          let matched = '';
          for (let r = 0; r < o.runs; r++) {
            const out = (
              await runChild(import.meta.url, [
                'child',
                String(rules),
                cache,
                traffic,
                String(o.flows),
                String(o.count),
                index,
              ])
            )
              .trim()
              .split(' ');
            runs.push(Number(out[0]));
            matched = out[1] ?? '';
          }
          const rate = median(runs);
          const res: BenchResult = {
            bench: 'director',
            params:
              o.index.length > 1 || o.index[0] !== 'auto'
                ? { rules, cache, traffic, index }
                : { rules, cache, traffic },
            rate,
            unit: 'mpps',
            nsPerItem: 1000 / rate,
            runs,
            extra: { flows: o.flows, matched },
          };
          emit(res, o.json);
          results.push(res);
        }
    }
  return results;
}

function makeRules(n: number): FlowRule[] {
  const rnd = mulberry32(0xd1ec);
  const rules: FlowRule[] = [];
  for (let i = 0; i < n; i++) {
    const len = [16, 20, 24, 28, 32][rnd() % 5]!;
    const a = (0x0a000000 | (rnd() & 0x00ffffff & (rnd() % 4 === 0 ? 0xffffff : 0x00ffff))) >>> 0;
    const net = (a & ((0xffffffff << (32 - len)) >>> 0)) >>> 0;
    const r: FlowRule = {
      priority: rnd() % 100,
      chain: rnd() % 16,
      dstPrefix: `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`,
      proto: rnd() & 1 ? 6 : 17,
    };
    const p = PORTS[rnd() % PORTS.length]!;
    r.dstPorts = rnd() % 4 === 0 ? [p, p + 100] : [p, p];
    if (rnd() % 4 === 0) r.srcPrefix = `192.168.${rnd() % 4}.0/24`;
    rules.push(r);
  }
  return rules;
}

interface Keys {
  src: Uint32Array;
  dst: Uint32Array;
  /** srcPort << 16 | dstPort */
  ports: Uint32Array;
  proto: Uint8Array;
  hash: Uint32Array;
}

function makeKeys(flows: number, miss: boolean): Keys {
  const rnd = mulberry32(0xf10a);
  const k: Keys = {
    src: new Uint32Array(flows),
    dst: new Uint32Array(flows),
    ports: new Uint32Array(flows),
    proto: new Uint8Array(flows),
    hash: new Uint32Array(flows),
  };
  const key = new FlowKey();
  for (let i = 0; i < flows; i++) {
    k.src[i] = (0xc0a80000 + (rnd() & 0x3ff)) >>> 0; // 192.168.0.0/22
    // 10.0.0.0/16, where the rules point; or 172.16.0.0/16, which no rule matches.
    k.dst[i] = ((miss ? 0xac100000 : 0x0a000000) + (rnd() & 0xffff)) >>> 0;
    k.ports[i] = (((1024 + i) << 16) | PORTS[rnd() % PORTS.length]!) >>> 0; // distinct source ports
    k.proto[i] = rnd() & 1 ? 6 : 17;
    const p = k.ports[i]!;
    key.setIpv4(k.src[i]!, k.dst[i]!, k.proto[i]!, p >>> 16, p & 0xffff);
    k.hash[i] = hashFlowKey(key, true);
  }
  return k;
}

/**
 * `count` packets through classify (cached) or classifyUncached; returns a checksum of the
 * chains so nothing is optimised away. The hot loop: no allocation (one FlowKey per call).
 */
function loop(d: FlowDirector, k: Keys, start: number, count: number, cached: boolean): number {
  const key = new FlowKey();
  const { src, dst, ports, proto, hash } = k;
  const n = src.length;
  let f = start % n;
  let sum = 0;
  for (let p = 0; p < count; p++) {
    const pt = ports[f]!;
    key.setIpv4(src[f]!, dst[f]!, proto[f]!, pt >>> 16, pt & 0xffff);
    const c = cached ? d.classify(key, 0, -1, hash[f]!) : d.classifyUncached(key, 0, -1);
    sum = (sum + c) | 0;
    if (++f === n) f = 0;
  }
  return sum;
}

/** Runs in the child: returns `Mpps matched-fraction checksum`. */
function child(nRules: number, cache: string, traffic: string, flows: number, count: number, index: string): string {
  const d = new FlowDirector({
    defaultChain: 0,
    cacheCapacity: 65536,
    index: index === 'auto' ? 'auto' : index === 'on',
  });
  // Rules with chain 0 would hide matches in the `matched` figure: keep them off chain 0.
  for (const r of makeRules(nRules)) d.add({ ...r, chain: r.chain === 0 ? 1 : r.chain });
  d.compile();
  const k = makeKeys(flows, traffic === 'miss');
  const cached = cache === 'on';
  const key = new FlowKey();
  let matched = 0;
  for (let i = 0; i < flows; i++) {
    const pt = k.ports[i]!;
    key.setIpv4(k.src[i]!, k.dst[i]!, k.proto[i]!, pt >>> 16, pt & 0xffff);
    if (d.classifyUncached(key, 0, -1) !== 0) matched++;
  }
  // Warm up the JIT (and, with the cache, fill it: every flow seen once), then measure.
  const warm = Math.min(count, Math.max(200_000, flows * 4));
  loop(d, k, 0, warm, cached);
  const t0 = process.hrtime.bigint();
  const sum = loop(d, k, warm, count, cached);
  const ns = Number(process.hrtime.bigint() - t0);
  if (cached && d.stats().cacheFull !== 0) throw new NfcError('NFC_ERR_BENCH', 'director bench: the cache filled up');
  // The checksum goes out too, so the loop's result is used.
  return `${(count / ns) * 1000} ${(matched / flows).toFixed(2)} ${sum}`;
}

export const DIRECTOR_FLAGS = flagSpecs([
  {
    name: 'rules',
    kind: 'list',
    of: 'integer',
    min: 0,
    default: [10, 1000],
    value: 'R,...',
    help: 'rules in the director',
  },
  {
    name: 'cache',
    kind: 'list',
    choices: ['on', 'off'],
    default: ['on', 'off'],
    value: 'C,...',
    help: 'on: classify through the exact-match cache; off: the uncached scan',
  },
  {
    name: 'traffic',
    kind: 'list',
    choices: ['mixed', 'miss'],
    default: ['mixed', 'miss'],
    value: 'T,...',
    help: 'mixed: some flows match a rule; miss: none does (every rule scanned)',
  },
  {
    name: 'index',
    kind: 'list',
    choices: ['auto', 'on', 'off'],
    default: ['auto'],
    value: 'X,...',
    help: "the director's rule index",
  },
  {
    name: 'flows',
    kind: 'integer',
    min: 1,
    max: 49152,
    default: 4096,
    value: 'F',
    help: 'flows visited round robin (the cache holds 49152)',
  },
  {
    name: 'count',
    kind: 'integer',
    min: 0,
    default: 0,
    value: 'N',
    help: "packets per run (0: about a second's worth)",
  },
  runsFlag(5),
  JSON_FLAG,
]);

export function directorBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const v = benchArgs('director', argv, DIRECTOR_FLAGS).values;
  return directorBench({
    rules: v.rules,
    caches: v.cache,
    traffic: v.traffic,
    index: v.index,
    flows: v.flows,
    count: v.count,
    runs: v.runs,
    json: v.json,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  const [, , , r, c, t, fl, n, x] = process.argv;
  const rules = Number(r);
  // Default count: about a second of work whatever the rule count.
  const count =
    Number(n) || (c === 'on' ? 20_000_000 : Math.max(200_000, Math.floor(20_000_000 / Math.max(1, rules / 10))));
  process.stdout.write(`${child(rules, c ?? 'on', t ?? 'mixed', Number(fl), count, x ?? 'auto')}\n`);
}
