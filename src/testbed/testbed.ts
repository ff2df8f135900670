/**
 * The network-namespace testbed: two "hosts" on either side of a middlebox, for running
 * nfchain on real (virtual) interfaces.
 *
 *   namespace <name>-a                 root namespace                 namespace <name>-b
 *   eth0 10.201.0.1/24  <-- veth -->  <name>-a0    <name>-b0  <-- veth -->  eth0 10.201.0.2/24
 *   02:00:00:00:0a:01                (no address, not bridged)              02:00:00:00:0b:01
 *
 * A and B share a subnet; nothing joins <name>-a0 and <name>-b0, so A reaches B only when
 * something (nfchain, with af_packet or af_xdp ports on those two interfaces) forwards frames
 * between them at layer 2. IPv6 is off on the root-side ends (and, unless asked, in the
 * namespaces) so the kernel sends nothing of its own through the chain. Offloads stay at the
 * kernel's defaults (checksum offload, TSO and GSO on: what every container's veth has), so a
 * forwarder sees what it would see between real hosts — GSO super-frames of up to 64 KiB and
 * partial checksums; `offloads: 'off'` switches them off on all four ends (needs ethtool), for
 * complete, MTU-sized frames. See docs/testbed.md.
 *
 * Everything here shells out with execFileSync (no shell) to `ip`, `sysctl` and `ethtool`,
 * and is cold code: it runs once, before or after an experiment. Running those tools and the
 * capability checks (root, ethtool, network namespaces) are host-tools.ts's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NfcError } from '../errors.js';
import { failure, findTool, hasEthtool, run, tryRun } from './host-tools.js';

export { canUseNetns, findTool, hasEthtool, isRoot, netnsSupport } from './host-tools.js';

/** What a testbed is made of (the same for a given name, whether it exists or not). */
export interface Testbed {
  /** the testbed name, [a-z0-9]{1,8} */
  name: string;
  /** host A's namespace, `<name>-a` */
  nsA: string;
  /** host B's namespace, `<name>-b` */
  nsB: string;
  /** the root-namespace end of A's veth pair, `<name>-a0` (an nfchain port goes here) */
  ifA: string;
  /** the root-namespace end of B's veth pair, `<name>-b0` */
  ifB: string;
  /** A's address (on eth0 in nsA), without the prefix length */
  ipA: string;
  /** B's address (on eth0 in nsB), without the prefix length */
  ipB: string;
  /** A's eth0 MAC */
  macA: string;
  /** B's eth0 MAC */
  macB: string;
}

export interface TestbedOptions {
  /** leave IPv6 on inside the namespaces (default false: off; always off on the root-side ends) */
  ipv6?: boolean;
  /** 'on' (default): the veths keep the kernel's default offloads; 'off': switched off with ethtool */
  offloads?: TestbedOffloads;
}

/** Offloads on the testbed's veths: the kernel's defaults, or off. */
export type TestbedOffloads = 'on' | 'off';

/** What testbedDown removed (empty lists: there was nothing). */
export interface TestbedRemoved {
  name: string;
  /** root-side veths deleted (their namespace ends go with them) */
  links: string[];
  /** namespaces deleted */
  namespaces: string[];
}

/** The state of a testbed on this machine. */
export interface TestbedStatus {
  /** some part of it exists (a namespace or a root-side veth) */
  exists: boolean;
  /** every part exists and is configured as testbedUp makes it */
  complete: boolean;
  /** what is missing or different, one line each (empty when complete) */
  problems: string[];
}

/** The port drivers a testbed topology can use. */
export type TestbedDriver = 'af_packet' | 'af_xdp';

/** The interfaces' MTU. */
export const TESTBED_MTU = 1500;
/** Prefix length of the testbed's subnet (10.201.0.0/24). */
export const TESTBED_PREFIX = 24;
/** The offloads switched off on every veth end with `offloads: 'off'` (ethtool -K names). */
export const TESTBED_OFFLOADS = ['tx', 'rx', 'tso', 'gso', 'gro'] as const;
/** The same offloads as `ethtool -k` prints them. */
const OFFLOAD_FEATURES = [
  'tx-checksumming',
  'rx-checksumming',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
] as const;
/** Those a new veth has on (the kernel's defaults: GRO is off on a veth). */
const DEFAULT_ON_FEATURES = OFFLOAD_FEATURES.filter((f) => f !== 'generic-receive-offload');

/** Checks an `offloads` value (cold). */
export function checkOffloads(v: unknown, where = '--offloads'): TestbedOffloads {
  if (v === undefined) return 'on';
  if (v !== 'on' && v !== 'off') {
    throw new NfcError('NFC_ERR_USAGE', `${where} takes on or off, got ${JSON.stringify(v)}`, {
      fix: "on (the default) leaves the veths' offloads as the kernel makes them, as on real hosts; off switches checksum offload, TSO, GSO and GRO off",
    });
  }
  return v;
}

const NAME_RE = /^[a-z0-9]{1,8}$/;

/** The testbed called `name`, described (nothing is created; the name is checked). */
export function describeTestbed(name = 'nfc'): Testbed {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `testbed name ${JSON.stringify(name)} is not 1-8 of a-z 0-9`, {
      fix: 'interface names are at most 15 characters and the testbed adds "-a0"; pick a short lowercase name such as "nfc"',
    });
  }
  return {
    name,
    nsA: `${name}-a`,
    nsB: `${name}-b`,
    ifA: `${name}-a0`,
    ifB: `${name}-b0`,
    ipA: '10.201.0.1',
    ipB: '10.201.0.2',
    macA: '02:00:00:00:0a:01',
    macB: '02:00:00:00:0b:01',
  };
}

// ---- looking at what exists ---------------------------------------------------------------

interface LinkJson {
  ifindex: number;
  link_index?: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  linkinfo?: { info_kind?: string };
}

interface AddrJson {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

function parseJsonList<T>(text: string, what: string): T[] {
  const t = text.trim();
  if (t === '') return [];
  try {
    const v = JSON.parse(t) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch (e) {
    throw new NfcError('NFC_ERR_TESTBED', `could not read the JSON output of ${what}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Names of the named network namespaces (`ip netns list`). */
export function listNetns(): string[] {
  return parseJsonList<{ name: string }>(run('ip', ['-j', 'netns', 'list']), '`ip -j netns list`').map((n) => n.name);
}

/** Links of the root namespace, or of a named one. */
function listLinks(ns?: string): LinkJson[] {
  const args = [...(ns === undefined ? [] : ['-n', ns]), '-j', '-d', 'link', 'show'];
  return parseJsonList<LinkJson>(run('ip', args), `\`ip ${args.join(' ')}\``);
}

function ipv4Addresses(ns: string, dev: string): string[] {
  const args = ['-n', ns, '-j', 'addr', 'show', 'dev', dev];
  const list = parseJsonList<AddrJson>(run('ip', args), `\`ip ${args.join(' ')}\``);
  return list.flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  );
}

/**
 * The offloads not as `want` says on a device, from `ethtool -k`: for 'off', those of
 * TESTBED_OFFLOADS that are on; for 'on', those of the kernel's defaults that are off.
 */
function offloadsNot(want: TestbedOffloads, dev: string, ns?: string): string[] {
  const text = run('ethtool', ['-k', dev], ns);
  const wrong: string[] = [];
  for (const f of want === 'off' ? OFFLOAD_FEATURES : DEFAULT_ON_FEATURES) {
    const m = new RegExp(`^${f}: (\\S+)`, 'm').exec(text);
    if (m && (want === 'off' ? m[1] !== 'off' : !m[1]!.startsWith('on'))) wrong.push(f);
  }
  return wrong;
}

/** Whether the kernel has IPv6 at all (booted with ipv6.disable=1 it has no conf tree). */
function kernelHasIpv6(): boolean {
  return existsSync('/proc/sys/net/ipv6/conf');
}

/**
 * What exists of the testbed `name` and whether it is complete: both namespaces, both veth
 * pairs with their peers, MACs, addresses, MTU, links up, IPv6 as asked, and (where ethtool
 * is installed) the offloads as asked.
 */
export function testbedStatus(name = 'nfc', opts: TestbedOptions = {}): TestbedStatus {
  const tb = describeTestbed(name);
  const offloads = checkOffloads(opts.offloads, 'offloads');
  const problems: string[] = [];
  const namespaces = listNetns();
  const root = listLinks();
  let exists = false;
  const sides = [
    { ns: tb.nsA, dev: tb.ifA, ip: tb.ipA, mac: tb.macA },
    { ns: tb.nsB, dev: tb.ifB, ip: tb.ipB, mac: tb.macB },
  ];
  for (const s of sides) {
    const outer = root.find((l) => l.ifname === s.dev);
    const hasNs = namespaces.includes(s.ns);
    if (outer) exists = true;
    if (hasNs) exists = true;
    if (!outer) problems.push(`link ${s.dev} does not exist`);
    else {
      if (outer.linkinfo?.info_kind !== 'veth')
        problems.push(`link ${s.dev} is not a veth (${outer.linkinfo?.info_kind ?? 'unknown kind'})`);
      if (!outer.flags?.includes('UP')) problems.push(`link ${s.dev} is down`);
      if (outer.mtu !== TESTBED_MTU) problems.push(`link ${s.dev} has MTU ${outer.mtu}, not ${TESTBED_MTU}`);
      if (kernelHasIpv6()) {
        const p = `/proc/sys/net/ipv6/conf/${s.dev}/disable_ipv6`;
        const v = existsSync(p) ? readFileSync(p, 'utf8').trim() : '?';
        if (v !== '1') problems.push(`IPv6 is not disabled on ${s.dev}`);
      }
    }
    if (!hasNs) {
      problems.push(`namespace ${s.ns} does not exist`);
      continue;
    }
    let inner: LinkJson[];
    try {
      inner = listLinks(s.ns);
    } catch (e) {
      problems.push(`namespace ${s.ns} cannot be entered: ${(e as Error).message}`);
      continue;
    }
    const lo = inner.find((l) => l.ifname === 'lo');
    if (!lo?.flags?.includes('UP')) problems.push(`lo is down in ${s.ns}`);
    const eth = inner.find((l) => l.ifname === 'eth0');
    if (!eth) {
      problems.push(`eth0 does not exist in ${s.ns}`);
      continue;
    }
    if (eth.linkinfo?.info_kind !== 'veth') problems.push(`eth0 in ${s.ns} is not a veth`);
    if (!outer || eth.link_index !== outer.ifindex || outer.link_index !== eth.ifindex)
      problems.push(`eth0 in ${s.ns} is not the peer of ${s.dev}`);
    if (eth.address !== s.mac) problems.push(`eth0 in ${s.ns} has MAC ${eth.address}, not ${s.mac}`);
    if (eth.mtu !== TESTBED_MTU) problems.push(`eth0 in ${s.ns} has MTU ${eth.mtu}, not ${TESTBED_MTU}`);
    if (!eth.flags?.includes('UP')) problems.push(`eth0 in ${s.ns} is down`);
    const addrs = ipv4Addresses(s.ns, 'eth0');
    const want = `${s.ip}/${TESTBED_PREFIX}`;
    if (addrs.length !== 1 || addrs[0] !== want)
      problems.push(`eth0 in ${s.ns} has IPv4 ${addrs.join(', ') || 'none'}, not ${want}`);
    if (kernelHasIpv6()) {
      const v = run('sysctl', ['-n', 'net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.eth0.disable_ipv6'], s.ns)
        .trim()
        .split(/\s+/);
      const want6 = opts.ipv6 ? '0' : '1';
      if (v[0] !== want6 || v[1] !== want6)
        problems.push(
          `IPv6 is ${opts.ipv6 ? 'disabled' : 'enabled'} in ${s.ns}, not ${opts.ipv6 ? 'enabled' : 'disabled'}`,
        );
    }
    if (hasEthtool()) {
      const how = offloads === 'off' ? 'on' : 'off';
      if (outer) {
        const wrong = offloadsNot(offloads, s.dev);
        if (wrong.length) problems.push(`offloads ${how} for ${s.dev}: ${wrong.join(', ')}`);
      }
      const wrong = offloadsNot(offloads, 'eth0', s.ns);
      if (wrong.length) problems.push(`offloads ${how} for eth0 in ${s.ns}: ${wrong.join(', ')}`);
    }
  }
  return { exists, complete: problems.length === 0, problems: exists ? problems : ['the testbed does not exist'] };
}

// ---- up and down --------------------------------------------------------------------------

function create(tb: Testbed, opts: TestbedOptions): void {
  const ipv6 = kernelHasIpv6();
  const sides = [
    { ns: tb.nsA, dev: tb.ifA, ip: tb.ipA, mac: tb.macA },
    { ns: tb.nsB, dev: tb.ifB, ip: tb.ipB, mac: tb.macB },
  ];
  for (const s of sides) {
    run('ip', ['netns', 'add', s.ns]);
    // Before any interface comes up, so eth0 never sends a router solicitation or DAD probe.
    if (ipv6 && !opts.ipv6) {
      run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], s.ns);
    }
  }
  const off = TESTBED_OFFLOADS.flatMap((o) => [o, 'off']);
  for (const s of sides) {
    run('ip', [
      'link',
      'add',
      s.dev,
      'mtu',
      String(TESTBED_MTU),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'mtu',
      String(TESTBED_MTU),
      'address',
      s.mac,
      'netns',
      s.ns,
    ]);
    if (ipv6) run('sysctl', ['-q', '-w', `net.ipv6.conf.${s.dev}.disable_ipv6=1`]);
    if (opts.offloads === 'off') {
      run('ethtool', ['-K', s.dev, ...off]);
      run('ethtool', ['-K', 'eth0', ...off], s.ns);
    }
    run('ip', ['-n', s.ns, 'addr', 'add', `${s.ip}/${TESTBED_PREFIX}`, 'dev', 'eth0']);
    run('ip', ['-n', s.ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', s.ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['link', 'set', s.dev, 'up']);
  }
}

/**
 * Creates the testbed `name` (default "nfc") and returns its description. Idempotent: a
 * complete testbed is left as it is; a half-made one (after a crash, or with other options)
 * is removed and made again. On failure, what was made is removed before the error is thrown.
 */
export function testbedUp(name = 'nfc', opts: TestbedOptions = {}): Testbed {
  const tb = describeTestbed(name);
  if (checkOffloads(opts.offloads, 'offloads') === 'off' && !hasEthtool()) {
    throw new NfcError('NFC_ERR_TESTBED', 'offloads off needs ethtool, which is not installed', {
      fix: 'apt-get install ethtool, or leave the offloads on (the default)',
    });
  }
  const before = testbedStatus(name, opts);
  if (before.complete) return tb;
  if (before.exists) testbedDown(name);
  try {
    create(tb, opts);
    const after = testbedStatus(name, opts);
    if (!after.complete) {
      throw new NfcError(
        'NFC_ERR_TESTBED',
        `testbed ${name} was made but is not as it should be: ${after.problems.join('; ')}`,
      );
    }
  } catch (e) {
    try {
      testbedDown(name);
    } catch {
      /* the first error is the one to report */
    }
    throw e;
  }
  return tb;
}

function removeLink(dev: string): boolean {
  if (!listLinks().some((l) => l.ifname === dev)) return false;
  const args = ['link', 'del', dev];
  const r = tryRun('ip', args);
  if (r.ok) return true;
  if (listLinks().some((l) => l.ifname === dev)) throw failure('ip', args, r);
  return false; // gone in the meantime (its peer's namespace went away)
}

function removeNetns(ns: string): boolean {
  if (!listNetns().includes(ns)) return false;
  const args = ['netns', 'del', ns];
  const r = tryRun('ip', args);
  if (r.ok) return true;
  if (listNetns().includes(ns)) throw failure('ip', args, r);
  return false;
}

/**
 * Removes the testbed `name` whatever state it is in: the root-side veths (which takes their
 * namespace ends with them), then the namespaces. Anything that does not exist is skipped.
 */
export function testbedDown(name = 'nfc'): TestbedRemoved {
  const tb = describeTestbed(name);
  const links = [tb.ifA, tb.ifB].filter(removeLink);
  const namespaces = [tb.nsA, tb.nsB].filter(removeNetns);
  return { name, links, namespaces };
}

// ---- the topology -------------------------------------------------------------------------

/** The directory of the nfchain package (the one holding its package.json). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'nfchain') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = dirname(dir);
    if (up === dir)
      throw new NfcError('NFC_ERR_TESTBED', 'cannot find the nfchain package directory (to locate nfs/bridge)');
    dir = up;
  }
}

/** The absolute path of the bridge example NF's module. */
export function bridgeModule(): string {
  return join(packageRoot(), 'nfs', 'bridge', 'index.ts');
}

/** A YAML scalar for a path: double-quoted (a JSON string is a valid YAML double-quoted scalar). */
function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** An NF name for a module path: its directory for index.*, else its file name; [a-z0-9_-]. */
function nfNameFor(module: string): string {
  const file = basename(module).replace(/\.(ts|mts|js|mjs)$/, '');
  const base = file === 'index' ? basename(dirname(module)) : file;
  const n = base
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 32);
  return n === '' ? 'nf' : n;
}

/**
 * The text of a topology file (YAML) that bridges the testbed's two root-side veths through
 * an NF: port a on `<name>-a0`, port b on `<name>-b0`, both with `driver`; one NF, service 1,
 * as the whole chain. The NF is the package's `bridge` example unless `nf` names another
 * module (made absolute; its NF name comes from the module's directory or file name). The
 * manager instance is named `testbed-<name>`.
 */
export function testbedTopology(tb: Testbed, opts: { driver: TestbedDriver; nf?: string }): string {
  if (opts.driver !== 'af_packet' && opts.driver !== 'af_xdp') {
    throw new NfcError(
      'NFC_ERR_INVALID_ARG',
      `driver ${JSON.stringify(opts.driver)}: the testbed's ports take af_packet or af_xdp`,
    );
  }
  const module = opts.nf === undefined ? bridgeModule() : resolve(opts.nf);
  // A custom name is quoted: a bare number would be a service id in the chain.
  const nf = opts.nf === undefined ? 'bridge' : yamlString(nfNameFor(module));
  return [
    `# nfchain testbed "${tb.name}": ${tb.nsA} (${tb.ipA}) <-> ${tb.ifA} | nfchain | ${tb.ifB} <-> ${tb.nsB} (${tb.ipB})`,
    `# start: nfchain start <this file>; then: ip netns exec ${tb.nsA} ping ${tb.ipB}`,
    `name: testbed-${tb.name}`,
    'ports:',
    `  - { name: a, driver: ${opts.driver}, interface: ${tb.ifA} }`,
    `  - { name: b, driver: ${opts.driver}, interface: ${tb.ifB} }`,
    'nfs:',
    `  - { name: ${nf}, module: ${yamlString(module)}, service: 1 }`,
    `chain: [${nf}]`,
    '',
  ].join('\n');
}

/**
 * Joins the two root-side veths with tc (ingress u32 match-all + mirred redirect, each way):
 * a stand-in for nfchain (tests, and the `tc mirred` peer of `bench ports`).
 * Returns false when this kernel lacks the tc pieces.
 */
export function joinWithTc(tb: Testbed): boolean {
  const tc = findTool('tc');
  if (tc === undefined) return false;
  try {
    for (const [from, to] of [
      [tb.ifA, tb.ifB],
      [tb.ifB, tb.ifA],
    ] as const) {
      execFileSync(tc, ['qdisc', 'add', 'dev', from, 'ingress'], { stdio: 'pipe' });
      execFileSync(
        tc,
        [
          'filter',
          'add',
          'dev',
          from,
          'ingress',
          'protocol',
          'all',
          'u32',
          'match',
          'u32',
          '0',
          '0',
          'action',
          'mirred',
          'egress',
          'redirect',
          'dev',
          to,
        ],
        { stdio: 'pipe' },
      );
    }
    return true;
  } catch {
    unjoinTc(tb);
    return false;
  }
}

/** Removes what joinWithTc() added (whatever of it there is). */
export function unjoinTc(tb: Testbed): void {
  const tc = findTool('tc');
  if (tc === undefined) return;
  for (const dev of [tb.ifA, tb.ifB]) spawnSync(tc, ['qdisc', 'del', 'dev', dev, 'ingress'], { stdio: 'ignore' });
}
