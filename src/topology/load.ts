/**
 * The topology loader: the boundary where a topology file becomes a trusted Topology.
 *
 *   text ──parse (YAML, or JSON for .json)──▶ raw ──schema (zod)──▶ parsed ──checks──▶ Topology
 *
 * Each stage that fails throws one NfcError (NFC_ERR_TOPOLOGY) listing every problem it found,
 * in file order, one per line, as `<file>:<line>: <path>: <what is wrong>` with a `fix:` line
 * where there is something specific to do, e.g.
 *
 *   demo.yaml:12: nfs[1] (forward): unknown key "servce"; did you mean "service"?
 *
 * Line numbers come from the YAML document's node ranges (JSON is YAML, so the same works for
 * .json files). The checks after the schema are the ones a schema cannot express: unique names
 * and service ids, chain hops that name something that exists, NF modules and capture files on
 * disk, frame sizes against the pool's data room. After this file, nothing re-checks a Topology.
 *
 * Cold code: runs once at start-up (and on reconfiguration); it allocates freely.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import { poolGeometry } from '../shm/pool-layout.js';
import type { PortConfig } from '../ports/config.js';
import {
  ManagerSchema, NfSchema, PoolSchema, PORT_SCHEMAS, RingsSchema, TopologySchema, type TopologyParsed,
} from './schema.js';
import type { Hop, NfConfig, Topology } from './types.js';
import { FlowDirector, type FlowRule } from '../flow/director.js';

/** A step in a path into the document: a mapping key or a list index. */
type Seg = string | number;

/** One thing wrong with a topology. */
interface Problem {
  /** what the message names, e.g. ['nfs', 1] printed as `nfs[1] (forward)` */
  path: Seg[];
  /** where to take the line number from (defaults to `path`); a key's own line for unknown keys */
  at?: Seg[];
  what: string;
  fix?: string | undefined;
}

/** At most this many problems are listed in one error; the rest are counted. */
const MAX_LISTED = 10;

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Reads, parses, validates and resolves a topology file (YAML; JSON when the name ends in
 * .json). Relative paths in the file are taken from the file's directory.
 * Throws NfcError NFC_ERR_TOPOLOGY naming the file, the line and the path of each problem.
 */
export function loadTopology(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new NfcError('NFC_ERR_TOPOLOGY', `${path}: cannot read the topology file (${code})`, {
      fix: code === 'ENOENT' ? `check the path (relative paths are taken from ${process.cwd()})` : 'check the path and its permissions',
      cause: err,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not content
  const isJson = extname(path).toLowerCase() === '.json';
  const { raw, locator } = isJson ? parseJson(text, path) : parseYaml(text, path);
  return check(raw, path, resolve(path), locator);
}

/**
 * Validates a topology given as data: for topologies built in code (pass BUILT_IN_TOPOLOGY,
 * '<built-in>', as `file`) and for tests. `file` names the topology in messages and, unless it
 * is a '<...>' pseudo-name, is where relative paths are taken from (otherwise the working
 * directory). `source`, the text `raw` was parsed from, adds line numbers to messages.
 */
export function validateTopology(raw: unknown, file: string, source?: string): Topology {
  const locator = source === undefined ? undefined : locatorFor(source);
  const pseudo = file.startsWith('<');
  return check(raw, file, pseudo ? file : resolve(file), locator, pseudo ? process.cwd() : undefined);
}

// ---------------------------------------------------------------------------------------------
// Parsing and line numbers

/** Finds the line of a path in the source text (1-based). */
class Locator {
  constructor(private readonly doc: Document, private readonly lines: LineCounter) {}

  /**
   * The line of the node at `path`. When the last step is a mapping key, the key's line (where
   * a reader looks for `service:`); when the path runs out of the document (a missing key), the
   * line of the deepest node that exists.
   */
  line(path: readonly Seg[]): number | undefined {
    let node: unknown = this.doc.contents;
    let offset = this.offsetOf(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        const keyOffset = this.offsetOf(pair.key);
        if (i === path.length - 1 || pair.value === null) return this.lineAt(keyOffset ?? offset);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined || item === null) break;
        node = item;
      } else {
        break;
      }
      offset = this.offsetOf(node) ?? offset;
    }
    return this.lineAt(offset);
  }

  private offsetOf(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range?.[0];
  }

  lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }
}

/** A locator for `source`, or none if the text does not parse as YAML (nor JSON). */
function locatorFor(source: string): Locator | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false });
  return doc.errors.length === 0 ? new Locator(doc, lines) : undefined;
}

function parseYaml(text: string, file: string): { raw: unknown; locator: Locator } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    // Later parser errors usually follow from the first; report that one, with its line.
    const line = lines.linePos(first.pos[0]).line;
    throw new NfcError('NFC_ERR_TOPOLOGY', `${file}:${line}: YAML syntax error: ${first.message}`, {
      fix: 'check the indentation and the quoting on that line and the one before it',
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new NfcError('NFC_ERR_TOPOLOGY', `${file}: YAML error: ${(err as Error).message}`, { cause: err });
  }
  return { raw, locator: new Locator(doc, lines) };
}

function parseJson(text: string, file: string): { raw: unknown; locator: Locator | undefined } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8 says "... in JSON at position N" (and in newer versions "(line L column C)").
    const msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    const line = pos?.[1] === undefined ? undefined : lineOfOffset(text, Number(pos[1]));
    const what = msg.replace(/\s*in JSON at position \d+.*$/s, '').replace(/^JSON\.parse: /, '');
    throw new NfcError('NFC_ERR_TOPOLOGY', `${file}${line === undefined ? '' : `:${line}`}: JSON syntax error: ${what}`, {
      fix: 'JSON needs double-quoted keys and strings and no trailing commas (or write the topology as .yaml)',
      cause: err,
    });
  }
  return { raw, locator: locatorFor(text) };
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Validation

/**
 * Schema, then the checks after it, then resolution. `display` names the file in messages,
 * `absFile` goes into Topology.file, `baseDir` resolves relative paths.
 */
function check(raw: unknown, display: string, absFile: string, locator: Locator | undefined, baseDir?: string): Topology {
  const input = nullDriverAsName(raw);
  const result = TopologySchema.safeParse(input, { error: fallbackMessage });
  if (!result.success) fail(display, locator, input, problemsFromIssues(result.error.issues, input));
  const { topology, problems } = resolveTopology(result.data, absFile, baseDir ?? dirname(absFile));
  if (problems.length > 0 || topology === undefined) fail(display, locator, input, problems);
  return topology;
}

/**
 * YAML reads `driver: null` (as the format's own example writes it) as the null value, not the
 * string "null"; the null driver is meant. Returns `raw` with such ports' driver made a string.
 */
function nullDriverAsName(raw: unknown): unknown {
  const ports = valueAt(raw, ['ports']).value;
  if (!Array.isArray(ports)) return raw;
  const isNullDriver = (port: unknown): boolean => {
    const d = valueAt(port, ['driver']);
    return d.found && d.value === null;
  };
  if (!ports.some(isNullDriver)) return raw;
  return { ...(raw as object), ports: ports.map((p: unknown) => (isNullDriver(p) ? { ...(p as object), driver: 'null' } : p)) };
}

/** Throws the NfcError for `problems` (sorted by line, at most MAX_LISTED listed). */
function fail(file: string, locator: Locator | undefined, raw: unknown, problems: Problem[]): never {
  const seen = new Set<string>();
  const rows: { line: number | undefined; text: string; fix: string | undefined }[] = [];
  for (const p of problems) {
    const line = locator?.line(p.at ?? p.path);
    const where = describePath(p.path, raw);
    const text = `${file}${line === undefined ? '' : `:${line}`}: ${where === '' ? '' : `${where}: `}${p.what}`;
    if (seen.has(text)) continue; // e.g. an integer check and a power-of-two check on one value
    seen.add(text);
    rows.push({ line, text, fix: p.fix });
  }
  rows.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)); // stable: same-line problems keep their order
  const first = rows[0];
  if (rows.length === 1 && first !== undefined) {
    throw new NfcError('NFC_ERR_TOPOLOGY', first.text, first.fix === undefined ? undefined : { fix: first.fix });
  }
  const listed = rows.slice(0, MAX_LISTED).map((r) => (r.fix === undefined ? r.text : `${r.text}\n  fix: ${r.fix}`));
  if (rows.length > MAX_LISTED) {
    const more = rows.length - MAX_LISTED;
    listed.push(`(and ${more} more problem${more === 1 ? '' : 's'})`);
  }
  throw new NfcError('NFC_ERR_TOPOLOGY', listed.join('\n'));
}

/** Messages for checks that carry none of their own: the same "expected <phrase>" style. */
function fallbackMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type': return article(String(issue.expected));
    case 'too_small': return `a value >= ${String(issue.minimum)}`;
    case 'too_big': return `a value <= ${String(issue.maximum)}`;
    case 'invalid_value': return issue.values.map((v) => JSON.stringify(v)).join(' or ');
    default: return 'a valid value';
  }
}

function article(type: string): string {
  switch (type) {
    case 'object': case 'record': return 'a mapping';
    case 'array': return 'a list';
    case 'boolean': return 'true or false';
    case 'int': return 'an integer';
    default: return `a ${type}`;
  }
}

/** Turns zod's issues into problems worded for the topology file. */
function problemsFromIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): Problem[] {
  const out: Problem[] = [];
  const pathOf = (issue: z.core.$ZodIssue): Seg[] => issue.path.filter((s): s is Seg => typeof s === 'string' || typeof s === 'number');
  // Unknown keys first: a misspelt key is also a missing one, and one message is enough.
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = pathOf(issue);
    for (const key of issue.keys) {
      const p = unknownKey(path, key, raw);
      if (p.suggests !== undefined) suggested.add(JSON.stringify([...path, p.suggests]));
      out.push(p);
    }
  }
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = pathOf(issue);
    const parent = path.slice(0, -1);
    const last = path[path.length - 1];
    const { found, value } = valueAt(raw, path);
    if (!found && suggested.has(JSON.stringify(path))) continue;
    if (issue.code === 'invalid_union' && issue.discriminator === 'driver') {
      const drivers = Object.keys(PORT_SCHEMAS);
      if (!found) {
        // The schema stops at a missing driver, so a misspelt "driver" key is found here.
        const portKeys = new Set(Object.values(PORT_SCHEMAS).flatMap((s) => Object.keys(s.shape)));
        const item = valueAt(raw, parent).value;
        const typo = Object.keys(item ?? {}).find((k) => !portKeys.has(k) && didYouMean(k, ['driver']) !== undefined);
        if (typo !== undefined) {
          out.push({ path: parent, at: [...parent, typo], what: `unknown key "${typo}"; did you mean "driver"?` });
        } else {
          out.push({ path: parent, what: 'missing required key "driver"', fix: `driver is one of: ${drivers.join(', ')}` });
        }
      } else if (typeof value === 'string') {
        const guess = didYouMean(value, drivers);
        out.push({
          path,
          what: `unknown driver "${value}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
          fix: `driver is one of: ${drivers.join(', ')}`,
        });
      } else {
        out.push({ path, what: `expected one of ${drivers.map((d) => `"${d}"`).join(', ')}, got ${describeValue(value)}` });
      }
      continue;
    }
    if (!found && path.length > 0 && typeof last === 'string') {
      out.push({ path: parent, at: parent, what: `missing required key "${last}" (${issue.message})` });
      continue;
    }
    if (path.length === 0 && (value === null || value === undefined)) {
      out.push({ path, what: `the file is empty; expected ${issue.message}`, fix: 'see docs/topology.md for an example' });
      continue;
    }
    let what = `expected ${issue.message}, got ${describeValue(value)}`;
    if (issue.code === 'invalid_value' && typeof value === 'string') {
      const guess = didYouMean(value, issue.values.map(String));
      if (guess !== undefined) what += `; did you mean "${guess}"?`;
    }
    out.push({ path, what });
  }
  return out;
}

/** The keys a strict mapping at `path` accepts (ports depend on their driver). */
function knownKeys(path: readonly Seg[], raw: unknown): string[] {
  const [section, index] = path;
  if (path.length === 0) return Object.keys(TopologySchema.shape);
  if (path.length === 1 && section === 'pool') return Object.keys(PoolSchema.shape);
  if (path.length === 1 && section === 'rings') return Object.keys(RingsSchema.shape);
  if (path.length === 1 && section === 'manager') return Object.keys(ManagerSchema.shape);
  if (path.length === 2 && section === 'nfs') return Object.keys(NfSchema.shape);
  if (path.length === 2 && section === 'ports' && typeof index === 'number') {
    const driver = valueAt(raw, [...path, 'driver']).value;
    if (typeof driver === 'string' && Object.hasOwn(PORT_SCHEMAS, driver)) {
      return Object.keys(PORT_SCHEMAS[driver as keyof typeof PORT_SCHEMAS].shape);
    }
  }
  return [];
}

function unknownKey(path: Seg[], key: string, raw: unknown): Problem & { suggests?: string } {
  const known = knownKeys(path, raw);
  const guess = didYouMean(key, known);
  const what = `unknown ${path.length === 0 ? 'top-level ' : ''}key "${key}"`;
  if (guess !== undefined) return { path, at: [...path, key], what: `${what}; did you mean "${guess}"?`, suggests: guess };
  // A port key that belongs to another driver: say so rather than just listing keys.
  if (path[0] === 'ports') {
    const driver = String(valueAt(raw, [...path, 'driver']).value);
    const owner = Object.entries(PORT_SCHEMAS).find(([, s]) => Object.hasOwn(s.shape, key))?.[0];
    if (owner !== undefined) {
      return { path, at: [...path, key], what: `${what}: ${driver} ports have no "${key}" (${owner} ports do)`, fix: `keys of ${driver} ports: ${known.join(', ')}` };
    }
  }
  return { path, at: [...path, key], what, fix: known.length > 0 ? `valid keys here: ${known.join(', ')}` : undefined };
}

/** Checks what the schema cannot, resolves paths and hops; returns the problems found. */
function resolveTopology(t: TopologyParsed, file: string, baseDir: string): { topology?: Topology; problems: Problem[] } {
  const problems: Problem[] = [];

  try {
    poolGeometry(t.pool);
  } catch (err) {
    if (!(err instanceof NfcError)) throw err;
    problems.push({ path: ['pool'], what: err.message.split('\n')[0] ?? err.message, fix: err.fix });
  }

  // Ports: unique names, frame sizes that fit a buffer, capture files that can be used.
  const portIds = new Map<string, number>();
  const ports: PortConfig[] = [];
  t.ports.forEach((p, i) => {
    const prev = portIds.get(p.name);
    if (prev !== undefined) {
      problems.push({ path: ['ports', i, 'name'], what: `duplicate port name "${p.name}" (ports[${prev}] has it too)`, fix: 'give each port its own name' });
    } else {
      portIds.set(p.name, i);
    }
    switch (p.driver) {
      case 'gen':
        p.sizes.forEach((size, k) => {
          if (size > t.pool.dataRoom) {
            problems.push({
              path: ['ports', i, 'sizes', k],
              what: `frame size ${size} does not fit the pool's dataRoom of ${t.pool.dataRoom} bytes`,
              fix: `use sizes up to ${t.pool.dataRoom}, or raise pool.dataRoom`,
            });
          }
        });
        ports.push({ name: p.name, driver: 'gen', rate: p.rate, sizes: p.sizes, flows: p.flows, tcp: p.tcp, seed: p.seed, count: p.count });
        break;
      case 'pcap': {
        const cfg: PortConfig = { name: p.name, driver: 'pcap', speed: p.speed, loop: p.loop };
        if (p.rx === undefined && p.tx === undefined) {
          problems.push({ path: ['ports', i], what: 'a pcap port needs rx (a capture to read), tx (a capture to write) or both' });
        }
        if (p.rx !== undefined) {
          cfg.rx = resolve(baseDir, p.rx);
          const bad = checkReadableFile(cfg.rx);
          if (bad !== undefined) problems.push({ path: ['ports', i, 'rx'], what: `capture ${cfg.rx} ${bad}`, fix: `rx is relative to ${baseDir}` });
        }
        if (p.tx !== undefined) {
          cfg.tx = resolve(baseDir, p.tx);
          const bad = checkWritableFile(cfg.tx);
          if (bad !== undefined) problems.push({ path: ['ports', i, 'tx'], what: `capture ${cfg.tx}: ${bad}`, fix: `tx is relative to ${baseDir}` });
        }
        ports.push(cfg);
        break;
      }
      case 'null':
        ports.push({ name: p.name, driver: 'null' });
        break;
      case 'af_packet': {
        const bad = checkInterface(p.interface);
        if (bad !== undefined) problems.push({ path: ['ports', i, 'interface'], what: bad.what, fix: bad.fix });
        ports.push({ name: p.name, driver: 'af_packet', interface: p.interface, blockSize: p.blockSize, blocks: p.blocks });
        break;
      }
      case 'af_xdp': {
        const bad = checkInterface(p.interface) ?? checkXdp();
        if (bad !== undefined) problems.push({ path: ['ports', i, 'interface'], what: bad.what, fix: bad.fix });
        ports.push({ name: p.name, driver: 'af_xdp', interface: p.interface, queue: p.queue, ringSize: p.ringSize });
        break;
      }
    }
  });

  // NFs: unique names and service ids, module files that exist.
  const nfByName = new Map<string, number>();
  const nfByService = new Map<number, number>();
  const nfs: NfConfig[] = [];
  t.nfs.forEach((nf, i) => {
    const prevName = nfByName.get(nf.name);
    if (prevName !== undefined) {
      problems.push({ path: ['nfs', i, 'name'], what: `duplicate NF name "${nf.name}" (nfs[${prevName}] has it too)`, fix: 'give each NF its own name' });
    } else {
      nfByName.set(nf.name, i);
    }
    const prevService = nfByService.get(nf.service);
    if (prevService !== undefined) {
      problems.push({
        path: ['nfs', i, 'service'],
        what: `service ${nf.service} is already provided by nfs[${prevService}] (${t.nfs[prevService]?.name ?? '?'})`,
        fix: 'give each NF its own service id; to run more copies of one NF, raise its instances',
      });
    } else {
      nfByService.set(nf.service, i);
    }
    const module = resolve(baseDir, nf.module);
    const bad = checkReadableFile(module);
    if (bad !== undefined) problems.push({ path: ['nfs', i, 'module'], what: `module ${module} ${bad}`, fix: `module is relative to ${baseDir}` });
    nfs.push({ name: nf.name, module, service: nf.service, instances: nf.instances, options: nf.options });
  });

  // The chain: each hop names an NF, a service some NF provides, or a port.
  const chain: Hop[] = [];
  t.chain.forEach((hop, i) => {
    const r = resolveHop(hop, t, portIds, nfByName, nfByService);
    if ('what' in r) problems.push({ path: ['chain', i], what: r.what, fix: r.fix });
    else chain.push(r);
  });

  // Named chains (ids 1..15) and the flow rules that pick them.
  const chains: { name: string; hops: Hop[] }[] = [];
  const chainIds = new Map<string, number>();
  for (const [cname, hops] of Object.entries(t.chains)) {
    if (chains.length === 15) {
      problems.push({ path: ['chains', cname], what: 'at most 15 named chains', fix: 'merge chains, or use the default chain' });
      break;
    }
    const resolved: Hop[] = [];
    hops.forEach((hop, i) => {
      const r = resolveHop(hop, t, portIds, nfByName, nfByService);
      if ('what' in r) problems.push({ path: ['chains', cname, i], what: r.what, fix: r.fix });
      else resolved.push(r);
    });
    chains.push({ name: cname, hops: resolved });
    chainIds.set(cname, chains.length);
  }
  const flows: FlowRule[] = [];
  t.flows.forEach((f, i) => {
    const id = chainIds.get(f.chain);
    if (id === undefined) {
      const guess = didYouMean(f.chain, [...chainIds.keys()]);
      problems.push({ path: ['flows', i, 'chain'], what: `no chain named "${f.chain}"${guess ? `; did you mean "${guess}"?` : ''}`, fix: 'name a chain defined under chains' });
      return;
    }
    const rule: FlowRule = { priority: f.priority, chain: id };
    if (f.srcPrefix !== undefined) rule.srcPrefix = f.srcPrefix;
    if (f.dstPrefix !== undefined) rule.dstPrefix = f.dstPrefix;
    if (f.srcPorts !== undefined) rule.srcPorts = f.srcPorts;
    if (f.dstPorts !== undefined) rule.dstPorts = f.dstPorts;
    if (f.proto !== undefined) rule.proto = f.proto;
    if (f.vlan !== undefined) rule.vlan = f.vlan;
    if (f.inPort !== undefined) {
      const p = portIds.get(f.inPort);
      if (p === undefined) {
        problems.push({ path: ['flows', i, 'inPort'], what: `no port named "${f.inPort}"`, fix: `ports: ${[...portIds.keys()].join(', ')}` });
        return;
      }
      rule.inPort = p;
    }
    // The director checks prefixes, ranges and values; its message names the field.
    try {
      new FlowDirector({ defaultChain: 0, cacheCapacity: 0 }).add(rule);
    } catch (err) {
      problems.push({ path: ['flows', i], what: (err as Error).message.split('\n')[0]!, fix: 'see docs/topology.md, flows' });
      return;
    }
    flows.push(rule);
  });

  if (problems.length > 0) return { problems };
  return {
    problems,
    topology: { file, name: t.name, pool: t.pool, rings: t.rings, manager: t.manager, ports, nfs, chain, chains, flows },
  };
}

function resolveHop(
  hop: string | number,
  t: TopologyParsed,
  portIds: ReadonlyMap<string, number>,
  nfByName: ReadonlyMap<string, number>,
  nfByService: ReadonlyMap<number, number>,
): Hop | { what: string; fix?: string | undefined } {
  const services = () => `services: ${t.nfs.map((nf) => `${nf.service} (${nf.name})`).join(', ')}`;
  if (typeof hop === 'number') {
    if (nfByService.has(hop)) return { kind: 'service', service: hop };
    return { what: `service ${hop} has no NF`, fix: services() };
  }
  if (hop.startsWith('port:')) {
    const name = hop.slice('port:'.length);
    const port = portIds.get(name);
    if (port !== undefined) return { kind: 'port', port };
    const guess = didYouMean(name, [...portIds.keys()]);
    return {
      what: `no port named "${name}"${guess === undefined ? '' : `; did you mean "port:${guess}"?`}`,
      fix: `ports: ${[...portIds.keys()].join(', ')}`,
    };
  }
  const nf = nfByName.get(hop);
  if (nf !== undefined) return { kind: 'service', service: t.nfs[nf]?.service ?? 0 };
  if (/^\d+$/.test(hop)) return { what: `no NF named "${hop}"`, fix: `for service ${hop}, write the number without quotes` };
  if (portIds.has(hop)) return { what: `no NF named "${hop}"`, fix: `to send packets out of port ${hop}, write "port:${hop}"` };
  const guess = didYouMean(hop, [...nfByName.keys()]);
  return {
    what: `no NF named "${hop}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
    fix: `NFs: ${[...nfByName.keys()].join(', ')}; a hop may also be a service id or "port:<port name>"`,
  };
}

/** Why `path` cannot be read as a file, or undefined if it can. */
function checkReadableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'is not a regular file';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code ?? 'error'})`;
  }
}

/** Why a file cannot be created or replaced at `path`, or undefined if it can. */
function checkWritableFile(path: string): string | undefined {
  const dir = dirname(path);
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return 'is a directory';
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? `directory ${dir} does not exist` : `directory ${dir} is not writable (${code ?? 'error'})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Wording helpers

/** The value at `path` in the raw document, and whether it is there at all. */
function valueAt(raw: unknown, path: readonly Seg[]): { found: boolean; value: unknown } {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return { found: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: v };
}

/** `nfs[0] (monitor).module`: list items in ports and nfs carry their name, when they have one. */
function describePath(path: readonly Seg[], raw: unknown): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
      if (i === 1 && (path[0] === 'nfs' || path[0] === 'ports')) {
        const name = valueAt(raw, [path[0], seg, 'name']).value;
        if (typeof name === 'string' && name !== '') out += ` (${name})`;
      }
    } else {
      out += out === '' ? seg : `.${seg}`;
    }
  });
  return out;
}

/** The value as the user would recognise it in the file. */
function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

/**
 * The candidate closest to `word` (case-insensitive optimal-string-alignment distance, so a
 * swap of two neighbouring letters counts as one edit), if it is within 2 edits.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance && d < Math.max(c.length, 2)) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  // d[i][j] = distance between a[0..i) and b[0..j); rows kept as flat arrays.
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * Why an af_packet port on `ifname` cannot open, or undefined when it can: the interface must
 * exist and be up, and the process needs root (CAP_NET_RAW) for packet sockets.
 */
function checkInterface(ifname: string): { what: string; fix: string } | undefined {
  const sys = `/sys/class/net/${ifname}`;
  if (!existsSync(sys)) {
    return { what: `interface "${ifname}" does not exist`, fix: 'check `ip link`; for a test bed of two namespaces, run `nfchain testbed up`' };
  }
  let flags = 0;
  try {
    flags = parseInt(readFileSync(`${sys}/flags`, 'utf8').trim(), 16);
  } catch {
    /* unreadable: let the port report it when it opens */
  }
  if ((flags & 1) === 0) return { what: `interface "${ifname}" is down`, fix: `ip link set ${ifname} up` };
  if (process.getuid?.() !== 0) {
    return { what: `af_packet needs root (or CAP_NET_RAW) to open interface "${ifname}"`, fix: 'run nfchain as root, or give node CAP_NET_RAW (setcap cap_net_raw+ep $(command -v node))' };
  }
  return undefined;
}

/** Why af_xdp ports cannot be used with this build, or undefined. */
function checkXdp(): { what: string; fix: string } | undefined {
  if (native().xdpAvailable()) return undefined;
  return { what: 'this nfchain was built without af_xdp support (libxdp was missing)', fix: 'apt-get install libxdp-dev libbpf-dev, then npm rebuild (or npm install)' };
}
