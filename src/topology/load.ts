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
 * Reading, parsing, line numbers, the wording of schema issues and the error itself are
 * src/util/config-file.ts, shared with NFs' own config files; what is here is the topology's
 * own: which keys each mapping takes, the port drivers, and the checks after the schema, the
 * ones a schema cannot express: unique names and service ids, chain hops that name something
 * that exists, NF modules and capture files on disk, frame sizes against the pool's data room.
 * After this file, nothing re-checks a Topology.
 *
 * Cold code: runs once at start-up (and on reconfiguration); it allocates freely.
 */
import { httpOptions } from './http-options.js';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { NfcError } from '../errors.js';
import { native } from '../native.js';
import { allowedCpus, describeCpus } from '../util/cpus.js';
import { findProgram } from '../util/programs.js';
import { poolGeometry } from '../shm/pool-layout.js';
import type { PortAddressing, PortConfig } from '../ports/config.js';
import { formatIpv4, formatIpv6, formatMac, parseMac, tryParseIpv4, tryParseIpv6 } from '../packet/address.js';
import {
  configDocument,
  configError,
  didYouMean,
  describeValue,
  problemsFromZod,
  readConfigFile,
  valueAt,
  zodIssueMessage,
  type ConfigDocument,
  type ConfigFileOptions,
  type ConfigPath,
  type ConfigProblem,
  type ZodHints,
} from '../util/config-file.js';
import {
  ManagerSchema,
  NfSchema,
  PoolSchema,
  PORT_SCHEMAS,
  RingsSchema,
  TopologySchema,
  type TopologyParsed,
} from './schema.js';
import type { FusedGroupConfig, Hop, NfConfig, Topology } from './types.js';
import { FlowDirector, type FlowRule } from '../flow/director.js';

export { didYouMean } from '../util/config-file.js';

/** A topology file, for config-file.ts: its error code, its wording, and the lists whose items have names. */
const TOPOLOGY_FILE: ConfigFileOptions = {
  code: 'NFC_ERR_TOPOLOGY',
  what: 'the topology file',
  format: 'yaml',
  namedItems: ['nfs', 'ports'],
};

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Reads, parses, validates and resolves a topology file (YAML; JSON when the name ends in
 * .json). Relative paths in the file are taken from the file's directory.
 * Throws NfcError NFC_ERR_TOPOLOGY naming the file, the line and the path of each problem.
 */
export function loadTopology(path: string): Topology {
  const isJson = extname(path).toLowerCase() === '.json';
  const doc = readConfigFile(
    path,
    isJson
      ? {
          ...TOPOLOGY_FILE,
          format: 'json',
          syntaxFix:
            'JSON needs double-quoted keys and strings and no trailing commas (or write the topology as .yaml)',
        }
      : TOPOLOGY_FILE,
  );
  return check(doc, path, resolve(path));
}

/**
 * Validates a topology given as data: for topologies built in code (pass BUILT_IN_TOPOLOGY,
 * '<built-in>', as `file`) and for tests. `file` names the topology in messages and, unless it
 * is a '<...>' pseudo-name, is where relative paths are taken from (otherwise the working
 * directory). `source`, the text `raw` was parsed from, adds line numbers to messages.
 */
export function validateTopology(raw: unknown, file: string, source?: string): Topology {
  const pseudo = file.startsWith('<');
  return check(configDocument(raw, source), file, pseudo ? file : resolve(file), pseudo ? process.cwd() : undefined);
}

// ---------------------------------------------------------------------------------------------
// Validation

/**
 * Schema, then the checks after it, then resolution. `display` names the file in messages,
 * `absFile` goes into Topology.file, `baseDir` resolves relative paths.
 */
function check(doc: ConfigDocument, display: string, absFile: string, baseDir?: string): Topology {
  const input = nullDriverAsName(doc.raw);
  const result = TopologySchema.safeParse(input, { error: zodIssueMessage });
  if (!result.success)
    throw configError(display, doc, problemsFromZod(result.error.issues, input, TOPOLOGY_HINTS), TOPOLOGY_FILE);
  const { topology, problems } = resolveTopology(result.data, absFile, baseDir ?? dirname(absFile));
  if (problems.length > 0 || topology === undefined) throw configError(display, doc, problems, TOPOLOGY_FILE);
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
  return {
    ...(raw as object),
    ports: ports.map((p: unknown) => (isNullDriver(p) ? { ...(p as object), driver: 'null' } : p)),
  };
}

/** What the topology adds to the wording of schema issues: its keys, its port drivers. */
const TOPOLOGY_HINTS: ZodHints = {
  knownKeys,
  // A port key that belongs to another driver: say so rather than just listing keys.
  unknownKey: ({ path, key, guess, known }, raw) => {
    if (guess !== undefined || path[0] !== 'ports') return undefined;
    const driver = String(valueAt(raw, [...path, 'driver']).value);
    const owner = Object.entries(PORT_SCHEMAS).find(([, s]) => Object.hasOwn(s.shape, key))?.[0];
    if (owner === undefined) return undefined;
    return {
      path,
      at: [...path, key],
      what: `unknown key "${key}": ${driver} ports have no "${key}" (${owner} ports do)`,
      fix: `keys of ${driver} ports: ${known.join(', ')}`,
    };
  },
  issue: (issue, path, raw) =>
    issue.code === 'invalid_union' && issue.discriminator === 'driver' ? driverProblem(path, raw) : undefined,
  fix: (path) => (path.length === 0 ? 'see docs/topology.md for an example' : undefined),
};

/** The keys a strict mapping at `path` accepts (ports depend on their driver). */
function knownKeys(path: ConfigPath, raw: unknown): string[] {
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

/** A port's driver is missing, misspelt or unknown (`path` ends in 'driver'). */
function driverProblem(path: ConfigPath, raw: unknown): ConfigProblem {
  const drivers = Object.keys(PORT_SCHEMAS);
  const parent = path.slice(0, -1);
  const { found, value } = valueAt(raw, path);
  if (!found) {
    // The schema stops at a missing driver, so a misspelt "driver" key is found here.
    const portKeys = new Set(Object.values(PORT_SCHEMAS).flatMap((s) => Object.keys(s.shape)));
    const item = valueAt(raw, parent).value;
    const typo = Object.keys(item ?? {}).find((k) => !portKeys.has(k) && didYouMean(k, ['driver']) !== undefined);
    if (typo !== undefined)
      return { path: parent, at: [...parent, typo], what: `unknown key "${typo}"; did you mean "driver"?` };
    return { path: parent, what: 'missing required key "driver"', fix: `driver is one of: ${drivers.join(', ')}` };
  }
  if (typeof value === 'string') {
    const guess = didYouMean(value, drivers);
    return {
      path,
      what: `unknown driver "${value}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
      fix: `driver is one of: ${drivers.join(', ')}`,
    };
  }
  return { path, what: `expected one of ${drivers.map((d) => `"${d}"`).join(', ')}, got ${describeValue(value)}` };
}

/**
 * A port's addresses (ports[i].ipv4 / ipv6 / mac), checked and written in canonical form:
 * "10.0.1.1/24", "fd00:1::1/64", "02:00:00:00:00:01". One address on two ports is refused.
 */
function portAddressing(
  p: { ipv4?: string[] | undefined; ipv6?: string[] | undefined; mac?: string | undefined },
  i: number,
  seen: Map<string, string>,
  problems: ConfigProblem[],
): PortAddressing {
  const out: PortAddressing = {};
  const cidr = (family: 'ipv4' | 'ipv6', text: string, k: number): string | undefined => {
    const path: ConfigPath = ['ports', i, family, k];
    const max = family === 'ipv4' ? 32 : 128;
    const slash = text.indexOf('/');
    const addr = slash < 0 ? text : text.slice(0, slash);
    const len = slash < 0 ? Number.NaN : Number(text.slice(slash + 1));
    const example = family === 'ipv4' ? '10.0.1.1/24' : 'fd00:1::1/64';
    const words = family === 'ipv4' ? undefined : tryParseIpv6(addr);
    const v4 = family === 'ipv4' ? tryParseIpv4(addr) : undefined;
    if (family === 'ipv4' ? v4 === undefined : words === undefined) {
      problems.push({
        path,
        what: `"${text}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`,
        fix: `write it as ${example}`,
      });
      return undefined;
    }
    if (slash < 0 || !Number.isInteger(len) || len < 0 || len > max || !/^\d{1,3}$/.test(text.slice(slash + 1))) {
      problems.push({
        path,
        what: `"${text}" needs a prefix length 0..${max} after "/"`,
        fix: `write the address with its network's prefix length, e.g. ${example}`,
      });
      return undefined;
    }
    const canonical = `${family === 'ipv4' ? formatIpv4(v4!) : formatIpv6(words!)}/${len}`;
    const host = canonical.slice(0, canonical.indexOf('/'));
    const prev = seen.get(host);
    if (prev !== undefined) {
      problems.push({
        path,
        what: `address ${host} is given twice (also at ${prev})`,
        fix: 'give each address to one port',
      });
      return undefined;
    }
    seen.set(host, `ports[${i}].${family}`);
    return canonical;
  };
  for (const family of ['ipv4', 'ipv6'] as const) {
    const list = p[family];
    if (list === undefined) continue;
    const good: string[] = [];
    list.forEach((text, k) => {
      const c = cidr(family, text, k);
      if (c !== undefined) good.push(c);
    });
    out[family] = good;
  }
  if (p.mac !== undefined) out.mac = formatMac(parseMac(p.mac));
  return out;
}

/** Checks what the schema cannot, resolves paths and hops; returns the problems found. */
function resolveTopology(
  t: TopologyParsed,
  file: string,
  baseDir: string,
): { topology?: Topology; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];

  try {
    poolGeometry(t.pool);
  } catch (err) {
    if (!(err instanceof NfcError)) throw err;
    problems.push({ path: ['pool'], what: err.message.split('\n')[0] ?? err.message, fix: err.fix });
  }

  // Ports: unique names, frame sizes that fit a buffer, capture files that can be used.
  const portIds = new Map<string, number>();
  const ports: PortConfig[] = [];
  const seenAddress = new Map<string, string>();
  t.ports.forEach((p, i) => {
    const prev = portIds.get(p.name);
    if (prev !== undefined) {
      problems.push({
        path: ['ports', i, 'name'],
        what: `duplicate port name "${p.name}" (ports[${prev}] has it too)`,
        fix: 'give each port its own name',
      });
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
        ports.push({
          name: p.name,
          driver: 'gen',
          rate: p.rate,
          sizes: p.sizes,
          flows: p.flows,
          tcp: p.tcp,
          seed: p.seed,
          count: p.count,
          ...(p.ramp > 0 ? { ramp: p.ramp } : {}),
        });
        break;
      case 'pcap': {
        const cfg: PortConfig = { name: p.name, driver: 'pcap', speed: p.speed, loop: p.loop };
        if (p.rx === undefined && p.tx === undefined) {
          problems.push({
            path: ['ports', i],
            what: 'a pcap port needs rx (a capture to read), tx (a capture to write) or both',
          });
        }
        if (p.rx !== undefined) {
          cfg.rx = resolve(baseDir, p.rx);
          const bad = checkReadableFile(cfg.rx);
          if (bad !== undefined)
            problems.push({
              path: ['ports', i, 'rx'],
              what: `capture ${cfg.rx} ${bad}`,
              fix: `rx is relative to ${baseDir}`,
            });
        }
        if (p.tx !== undefined) {
          cfg.tx = resolve(baseDir, p.tx);
          const bad = checkWritableFile(cfg.tx);
          if (bad !== undefined)
            problems.push({
              path: ['ports', i, 'tx'],
              what: `capture ${cfg.tx}: ${bad}`,
              fix: `tx is relative to ${baseDir}`,
            });
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
        ports.push({
          name: p.name,
          driver: 'af_packet',
          interface: p.interface,
          frames: p.frames,
          offloads: p.offloads,
        });
        break;
      }
      case 'af_xdp': {
        const bad = checkInterface(p.interface) ?? checkXdp();
        if (bad !== undefined) problems.push({ path: ['ports', i, 'interface'], what: bad.what, fix: bad.fix });
        ports.push({ name: p.name, driver: 'af_xdp', interface: p.interface, queue: p.queue, ringSize: p.ringSize });
        break;
      }
    }
    Object.assign(ports[ports.length - 1]!, portAddressing(p, i, seenAddress, problems));
  });

  // NFs: unique names and service ids, module files that exist.
  const nfByName = new Map<string, number>();
  const nfByService = new Map<number, number>();
  const nfs: NfConfig[] = [];
  t.nfs.forEach((nf, i) => {
    const prevName = nfByName.get(nf.name);
    if (prevName !== undefined) {
      problems.push({
        path: ['nfs', i, 'name'],
        what: `duplicate NF name "${nf.name}" (nfs[${prevName}] has it too)`,
        fix: 'give each NF its own name',
      });
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
    if (bad !== undefined)
      problems.push({
        path: ['nfs', i, 'module'],
        what: `module ${module} ${bad}`,
        fix: `module is relative to ${baseDir}`,
      });
    const badCores = checkCores(nf.cores);
    if (badCores !== undefined) problems.push({ path: ['nfs', i, 'cores'], ...badCores });
    nfs.push({
      name: nf.name,
      module,
      service: nf.service,
      instances: nf.instances,
      options: nf.options,
      ...(nf.cores !== undefined ? { cores: nf.cores } : {}),
      ...(nf.fuse !== undefined ? { fuse: nf.fuse } : {}),
      ...(nf.inline === true ? { inline: true } : {}),
      ...(nf.access === 'read-only' ? { access: 'read-only' as const } : {}),
      ...(nf.isolation === 'sandbox' ? { isolation: 'sandbox' as const } : {}),
    });
  });
  for (const loop of ['rx', 'tx'] as const) {
    const bad = checkCores(t.manager.cores?.[loop]);
    if (bad !== undefined) problems.push({ path: ['manager', 'cores', loop], ...bad });
  }

  // The chain: each hop names an NF, a service some NF provides, or a port.
  const chain: Hop[] = [];
  t.chain.forEach((hop, i) => {
    const r = resolveHop(hop, t, portIds, nfByName, nfByService);
    if ('what' in r) problems.push({ path: ['chain', i], what: r.what, fix: r.fix });
    else chain.push(r);
  });

  const groups = fusedGroups(nfs, chain, problems);
  checkInline(nfs, t.manager.dataplane, problems);
  checkAccess(nfs, problems);
  checkIsolation(nfs, problems);
  // The HTTP endpoint's address and token, and the events log, relative to the topology file.
  const http = t.manager.http;
  if (http !== undefined && http !== false) {
    if (typeof http === 'object' && http.tokenFile !== undefined) http.tokenFile = resolve(baseDir, http.tokenFile);
    try {
      httpOptions(http, 'manager.http', baseDir, {});
    } catch (err) {
      const e = err as NfcError;
      problems.push({
        path: ['manager', 'http'],
        what: e.message.split('\n')[0]!.replace(/^manager\.http(\.listen)?: /, ''),
        ...(e.fix ? { fix: e.fix } : {}),
      });
    }
  }
  if (typeof t.manager.events === 'string') t.manager.events = resolve(baseDir, t.manager.events);

  // Named chains (ids 1..15) and the flow rules that pick them.
  const chains: { name: string; hops: Hop[] }[] = [];
  const chainIds = new Map<string, number>();
  for (const [cname, hops] of Object.entries(t.chains)) {
    if (chains.length === 15) {
      problems.push({
        path: ['chains', cname],
        what: 'at most 15 named chains',
        fix: 'merge chains, or use the default chain',
      });
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
      problems.push({
        path: ['flows', i, 'chain'],
        what: `no chain named "${f.chain}"${guess ? `; did you mean "${guess}"?` : ''}`,
        fix: 'name a chain defined under chains',
      });
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
        problems.push({
          path: ['flows', i, 'inPort'],
          what: `no port named "${f.inPort}"`,
          fix: `ports: ${[...portIds.keys()].join(', ')}`,
        });
        return;
      }
      rule.inPort = p;
    }
    // The director checks prefixes, ranges and values; its message names the field.
    try {
      new FlowDirector({ defaultChain: 0, cacheCapacity: 0 }).add(rule);
    } catch (err) {
      problems.push({
        path: ['flows', i],
        what: (err as Error).message.split('\n')[0]!,
        fix: 'see docs/topology.md, flows',
      });
      return;
    }
    flows.push(rule);
  });

  if (problems.length > 0) return { problems };
  return {
    problems,
    topology: {
      file,
      name: t.name,
      pool: t.pool,
      rings: t.rings,
      manager: t.manager,
      ports,
      nfs,
      groups,
      chain,
      chains,
      flows,
    },
  };
}

/** A read-only NF runs as a process of its own: not fused (members write packets to hand them on), not inline. */
function checkAccess(nfs: NfConfig[], problems: ConfigProblem[]): void {
  nfs.forEach((nf, i) => {
    if (nf.access !== 'read-only') return;
    if (nf.fuse !== undefined || nf.inline) {
      problems.push({
        path: ['nfs', i, 'access'],
        what: `${nf.name} is read-only but ${nf.inline ? 'inline (part of the manager)' : `in fused group "${nf.fuse}"`}`,
        fix: 'run a read-only NF as a process of its own (no fuse, no inline)',
      });
    }
  });
}

/** A sandboxed NF: bubblewrap is there; not inline (that is the manager's process); a fused group's members agree. */
function checkIsolation(nfs: NfConfig[], problems: ConfigProblem[]): void {
  nfs.forEach((nf, i) => {
    const group = nf.fuse === undefined ? [] : nfs.filter((x) => x.fuse === nf.fuse);
    if (group.some((x) => x.isolation !== nf.isolation)) {
      problems.push({
        path: ['nfs', i, 'isolation'],
        what: `the members of fused group "${nf.fuse}" do not agree on isolation (one process runs them all)`,
        fix: 'give the same isolation on every member of the group',
      });
    }
    if (nf.isolation !== 'sandbox') return;
    if (nf.inline) {
      problems.push({
        path: ['nfs', i, 'isolation'],
        what: `${nf.name} is inline: it runs in the manager's process, which no sandbox can hold`,
        fix: 'run a sandboxed NF as a process (no inline)',
      });
    } else if (findProgram('bwrap') === undefined) {
      problems.push({
        path: ['nfs', i, 'isolation'],
        what: 'a sandbox needs bubblewrap (bwrap), which is not installed',
        fix: 'apt-get install bubblewrap, or leave isolation out',
      });
    }
  });
}

/**
 * NFs run inline (nfs[].inline): one NF, or every member of one fused group; one instance; no
 * cores of their own (they run on the manager loop's); the manager's RX and TX in one loop.
 */
function checkInline(nfs: NfConfig[], dataplane: string, problems: ConfigProblem[]): void {
  const inline = nfs.map((nf, i) => ({ nf, i })).filter((x) => x.nf.inline);
  if (inline.length === 0) return;
  const first = inline[0]!;
  const unit = (nf: NfConfig): string => (nf.fuse !== undefined ? `fused group "${nf.fuse}"` : `NF ${nf.name}`);
  for (const { nf, i } of inline.slice(1)) {
    if (nf.fuse === undefined || nf.fuse !== first.nf.fuse) {
      problems.push({
        path: ['nfs', i, 'inline'],
        what: `${unit(nf)} and ${unit(first.nf)} are both inline: the manager's loop runs one`,
        fix: 'fuse the NFs you want inline into one group (the same fuse name), or run the others as processes',
      });
    }
  }
  if (first.nf.fuse !== undefined) {
    nfs.forEach((nf, i) => {
      if (nf.fuse === first.nf.fuse && !nf.inline) {
        problems.push({
          path: ['nfs', i, 'inline'],
          what: `${nf.name} is in fused group "${nf.fuse}", which runs inline, but says nothing of it`,
          fix: 'give inline: true to every member of the group (it is one unit)',
        });
      }
    });
  }
  for (const { nf, i } of inline) {
    if (nf.instances !== 1) {
      problems.push({
        path: ['nfs', i, 'instances'],
        what: `${nf.instances} instances, but an inline NF runs once, in the manager's loop`,
        fix: 'use instances: 1, or run the NF as processes (no inline) to scale it',
      });
    }
    if (nf.cores !== undefined) {
      problems.push({
        path: ['nfs', i, 'cores'],
        what: "an inline NF runs on the manager loop's CPU",
        fix: 'give the CPU as manager.cores.rx',
      });
    }
  }
  if (dataplane === 'split') {
    problems.push({
      path: ['manager', 'dataplane'],
      what: `"split", but ${unit(first.nf)} runs inline, in the one loop that receives and sends`,
      fix: 'leave dataplane at auto (or combined)',
    });
  }
}

/**
 * The fused groups (nfs[].fuse): members ordered as the default chain meets them (then file
 * order), so that a packet usually passes the group in one sweep; their instances and cores must
 * agree, and a group's name is no NF's (both label processes).
 */
function fusedGroups(nfs: NfConfig[], chain: Hop[], problems: ConfigProblem[]): FusedGroupConfig[] {
  const byName = new Map<string, number[]>();
  nfs.forEach((nf, i) => {
    if (nf.fuse === undefined) return;
    const list = byName.get(nf.fuse) ?? [];
    list.push(i);
    byName.set(nf.fuse, list);
  });
  const groups: FusedGroupConfig[] = [];
  const chainPos = (svc: number): number => {
    const p = chain.findIndex((h) => h.kind === 'service' && h.service === svc);
    return p < 0 ? chain.length : p;
  };
  for (const [name, idx] of byName) {
    const first = idx[0]!;
    const where = (i: number, key: string): ConfigProblem['path'] => ['nfs', i, key];
    if (idx.length < 2) {
      problems.push({
        path: where(first, 'fuse'),
        what: `fused group "${name}" has one NF only`,
        fix: 'give two NFs or more the same fuse name (or remove fuse: an NF alone runs in a process of its own)',
      });
      continue;
    }
    if (nfs.some((nf) => nf.name === name)) {
      problems.push({
        path: where(first, 'fuse'),
        what: `fused group "${name}" has the name of an NF`,
        fix: 'give the group a name no NF has (both name processes in logs and status)',
      });
    }
    for (const i of idx.slice(1)) {
      if (nfs[i]!.instances !== nfs[first]!.instances) {
        problems.push({
          path: where(i, 'instances'),
          what: `${nfs[i]!.instances} instances, but ${nfs[first]!.name} in the same fused group "${name}" has ${nfs[first]!.instances}`,
          fix: 'a fused group scales as a whole: give its NFs the same instances (or none but the first)',
        });
      }
    }
    const withCores = idx.filter((i) => nfs[i]!.cores !== undefined);
    for (const i of withCores.slice(1)) {
      if (nfs[i]!.cores!.join(',') !== nfs[withCores[0]!]!.cores!.join(',')) {
        problems.push({
          path: where(i, 'cores'),
          what: `cores ${nfs[i]!.cores!.join(',')} differ from ${nfs[withCores[0]!]!.name}'s (${nfs[withCores[0]!]!.cores!.join(',')}) in the same fused group "${name}"`,
          fix: 'the group is one process: give its cores once (on any member), or the same on each',
        });
      }
    }
    const members = [...idx].sort((a, b) => chainPos(nfs[a]!.service) - chainPos(nfs[b]!.service) || a - b);
    const cores = withCores.length > 0 ? nfs[withCores[0]!]!.cores : undefined;
    groups.push({
      name,
      members: members.map((i) => nfs[i]!.name),
      instances: nfs[first]!.instances,
      ...(cores !== undefined ? { cores } : {}),
    });
  }
  return groups;
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
  if (/^\d+$/.test(hop))
    return { what: `no NF named "${hop}"`, fix: `for service ${hop}, write the number without quotes` };
  if (portIds.has(hop))
    return { what: `no NF named "${hop}"`, fix: `to send packets out of port ${hop}, write "port:${hop}"` };
  const guess = didYouMean(hop, [...nfByName.keys()]);
  return {
    what: `no NF named "${hop}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
    fix: `NFs: ${[...nfByName.keys()].join(', ')}; a hop may also be a service id or "port:<port name>"`,
  };
}

/** Why `path` cannot be read as a file, or undefined if it can. */
/** A placement's CPUs must be ones this process may run on (cold). */
function checkCores(cores: readonly number[] | undefined): { what: string; fix: string } | undefined {
  if (cores === undefined) return undefined;
  const allowed = allowedCpus();
  const missing = cores.filter((c) => !allowed.includes(c));
  if (missing.length === 0) return undefined;
  return {
    what: `CPU ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not one this machine lets nfchain run on`,
    fix: `use CPUs from ${describeCpus(allowed)}`,
  };
}

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
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? `directory ${dir} does not exist`
      : `directory ${dir} is not writable (${code ?? 'error'})`;
  }
}

/**
 * Why an af_packet port on `ifname` cannot open, or undefined when it can: the interface must
 * exist and be up, and the process needs root (CAP_NET_RAW) for packet sockets.
 */
function checkInterface(ifname: string): { what: string; fix: string } | undefined {
  const sys = `/sys/class/net/${ifname}`;
  if (!existsSync(sys)) {
    return {
      what: `interface "${ifname}" does not exist`,
      fix: 'check `ip link`; for a test bed of two namespaces, run `nfchain testbed up`',
    };
  }
  let flags = 0;
  try {
    flags = parseInt(readFileSync(`${sys}/flags`, 'utf8').trim(), 16);
  } catch {
    /* unreadable: let the port report it when it opens */
  }
  if ((flags & 1) === 0) return { what: `interface "${ifname}" is down`, fix: `ip link set ${ifname} up` };
  if (process.getuid?.() !== 0) {
    return {
      what: `af_packet needs root (or CAP_NET_RAW) to open interface "${ifname}"`,
      fix: 'run nfchain as root, or give node CAP_NET_RAW (setcap cap_net_raw+ep $(command -v node))',
    };
  }
  return undefined;
}

/** Why af_xdp ports cannot be used with this build, or undefined. */
function checkXdp(): { what: string; fix: string } | undefined {
  if (native().xdpAvailable()) return undefined;
  return {
    what: 'this nfchain was built without af_xdp support (libxdp was missing)',
    fix: 'apt-get install libxdp-dev libbpf-dev, then npm rebuild (or npm install)',
  };
}
