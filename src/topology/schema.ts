/**
 * The topology file's schema (zod): the shape, types, ranges and defaults of every key.
 *
 * Objects are strict, so an unknown key is an error (the loader turns it into "unknown key;
 * did you mean ..."). Every leaf carries one message, a noun phrase saying what is allowed
 * ("an integer in 1..31"); the loader prints it as `expected <that>, got <value>`, so the
 * phrase must read well after "expected".
 *
 * What a schema cannot see — uniqueness, chain hops, files on disk, frame sizes against the
 * pool's data room — is checked afterwards by the loader (src/topology/load.ts).
 * The reference for users is docs/topology.md; keep the two in step.
 */
import * as z from 'zod';
import { POOL_DEFAULTS } from '../shm/pool-layout.js';
import { isPowerOfTwo } from '../shm/layout.js';
import { TOPOLOGY_LIMITS } from './types.js';

/** NF names: short, lower case, usable in file names and metrics labels. */
export const NF_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Manager instance names (they name /dev/shm/nfchain-<name>/). */
export const INSTANCE_NAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
/** Port names (no ':' so that "port:<name>" in a chain is unambiguous). */
export const PORT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
/** NF module files the runtime can load. */
export const NF_MODULE_RE = /\.(?:ts|mts|js|mjs)$/;

/** Largest pool count the schema accepts; the loader also checks the pool's total size. */
const MAX_POOL_COUNT = 2 ** 22;

// ---- leaf builders: every check of a leaf reports the same phrase ----

/** An integer in min..max (max may be MAX_SAFE_INTEGER, shown as ">= min"). */
function int(min: number, max: number = Number.MAX_SAFE_INTEGER, what?: string) {
  const w = what ?? (max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`);
  return z.number({ error: w }).int(w).min(min, w).max(max, w);
}

/** A (possibly fractional) number in min..max. */
function num(min: number, max: number = Infinity, what?: string) {
  const w = what ?? (max === Infinity ? `a number >= ${min}` : `a number in ${min}..${max}`);
  const n = z.number({ error: w }).min(min, w);
  return max === Infinity ? n : n.max(max, w);
}

/** A power of two in min..max. */
function pow2(min: number, max: number) {
  const w = `a power of two in ${min}..${max}`;
  return int(min, max, w).refine(isPowerOfTwo, w);
}

/** A string matching `re`, described by `what`. */
function str(re: RegExp, what: string) {
  return z.string({ error: what }).regex(re, what);
}

const bool = z.boolean({ error: 'true or false' });

/** Where a loop runs: a CPU number or a list of them (the loader checks they exist here). */
const CORES_WHAT = 'a CPU number or a list of CPU numbers (0..1023)';
const cores = z
  .union([int(0, 1023, CORES_WHAT), z.array(int(0, 1023, CORES_WHAT), { error: CORES_WHAT }).min(1, CORES_WHAT)], {
    error: CORES_WHAT,
  })
  .transform((c) => (typeof c === 'number' ? [c] : [...new Set(c)]));

// ---- sections ----

export const PoolSchema = z.strictObject(
  {
    count: pow2(1024, MAX_POOL_COUNT).default(POOL_DEFAULTS.count),
    dataRoom: int(256, 16384).default(POOL_DEFAULTS.dataRoom),
    headroom: int(0, 1024, 'a multiple of 4 in 0..1024')
      .multipleOf(4, 'a multiple of 4 in 0..1024')
      .default(POOL_DEFAULTS.headroom),
    // 64 KiB buffers for GSO super-frames (hosts with TSO on) and frames above dataRoom.
    jumbos: int(0, 4096, 'a jumbo buffer count in 0..4096').default(256),
  },
  { error: 'a mapping (count, dataRoom, headroom, jumbos)' },
);

export const RingsSchema = z.strictObject(
  {
    nfRx: pow2(64, 65536).default(4096),
    nfTx: pow2(64, 65536).default(4096),
  },
  { error: 'a mapping (nfRx, nfTx)' },
);

export const ManagerSchema = z.strictObject(
  {
    ttl: num(0, Infinity, 'a number of seconds >= 0').default(0),
    limit: int(0, Number.MAX_SAFE_INTEGER, 'a packet count >= 0').default(0),
    statsInterval: num(0, Infinity, 'a number of seconds >= 0').default(1),
    poll: z.enum(['adaptive', 'busy'], { error: '"adaptive" or "busy"' }).default('adaptive'),
    // The RX and TX loops in two threads, or in one; auto: one when that gives each loop a core and costs no latency.
    dataplane: z.enum(['auto', 'split', 'combined'], { error: '"auto", "split" or "combined"' }).default('auto'),
    // auto: with a core for every loop and no cores given, pin each loop to its own; none: never.
    placement: z.enum(['auto', 'none'], { error: '"auto" or "none"' }).default('auto'),
    flowTable: pow2(1024, 1 << 22).default(65536),
    flowIdleTimeout: num(0, 32767, 'a number of seconds from 0 (flows never expire) to 32767').default(30),
    // An NF with packets waiting that takes none for this long is killed and reclaimed; 0: never.
    stallTimeout: num(0, 3600, 'a number of seconds from 0 (never) to 3600').default(5),
    // The CPUs of the RX and TX loops (threads of the manager process); absent: the kernel places them.
    cores: z
      .strictObject({ rx: cores.optional(), tx: cores.optional() }, { error: 'a mapping (rx, tx) of CPU numbers' })
      .optional(),
    // Stamp arrivals and record each chain's latency (about 6 ns a packet: bench record).
    latency: z.boolean({ error: 'true or false' }).optional(),
    // The HTTP endpoint (console, /metrics, /api): "[host:]port", or a mapping; absent or false: off.
    http: z
      .union(
        [
          z.literal(false),
          z.string({ error: 'an address' }),
          z.number({ error: 'a port' }),
          z.strictObject(
            {
              listen: z.union([z.string(), z.number()], { error: '"[host:]port"' }),
              token: z.string({ error: 'a string' }).min(16, 'a token of at least 16 characters').optional(),
              tokenFile: z.string({ error: 'a file path' }).optional(),
              remote: z.boolean({ error: 'true or false' }).optional(),
            },
            { error: 'a mapping (listen, token, tokenFile, remote)' },
          ),
        ],
        { error: '"[host:]port" (e.g. 127.0.0.1:9091) or a mapping (listen, token, tokenFile, remote)' },
      )
      .optional(),
    // Where events go, one JSON object a line (appended); false: nowhere. Default: <run dir>/<name>.events.jsonl.
    events: z
      .union([z.literal(false), z.string({ error: 'a file path' })], { error: 'a file path or false' })
      .optional(),
  },
  {
    error:
      'a mapping (ttl, limit, statsInterval, poll, dataplane, placement, flowTable, flowIdleTimeout, cores, latency, http, events)',
  },
);

const portName = str(PORT_NAME_RE, 'a port name ([A-Za-z0-9][A-Za-z0-9_.-]{0,31})');

/**
 * A port's addresses, as NFs learn them (ports/port-info.ts): one "address/prefix" or a list.
 * The loader checks each address and prefix and writes them in canonical form.
 */
const cidrList = (what: string) =>
  z
    .union(
      [z.string({ error: what }), z.array(z.string({ error: what }), { error: what }).max(16, `${what}; at most 16`)],
      {
        error: what,
      },
    )
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .optional();
const addressing = {
  ipv4: cidrList('an IPv4 address with its prefix length, "10.0.1.1/24", or a list of them'),
  ipv6: cidrList('an IPv6 address with its prefix length, "fd00:1::1/64", or a list of them'),
};
/** The MAC of a port that is not an interface (af_packet and af_xdp ports have their interface's). */
const mac = z
  .string({ error: 'a MAC address, aa:bb:cc:dd:ee:ff' })
  .regex(/^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$/, 'a MAC address, aa:bb:cc:dd:ee:ff')
  .optional();

export const GenPortSchema = z.strictObject({
  name: portName,
  driver: z.literal('gen'),
  ...addressing,
  mac,
  rate: num(0, Infinity, 'a rate in packets per second >= 0').default(0),
  // 60..16384 here; the loader checks each size against the pool's dataRoom.
  sizes: z
    .array(int(60, 16384, 'a frame size in 60..16384 bytes'), { error: 'a list of frame sizes' })
    .min(1, 'a list of 1..64 frame sizes')
    .max(64, 'a list of 1..64 frame sizes')
    .default([64]),
  flows: int(1, 1_000_000).default(1024),
  tcp: num(0, 1, 'a share in 0..1').default(0),
  seed: int(0, 0xffff_ffff).default(1),
  count: int(0, Number.MAX_SAFE_INTEGER, 'a packet count >= 0').default(0),
  // Seconds to reach rate from the first packet (a linear ramp): lets the JIT compile the NFs'
  // hot paths before full load.
  ramp: num(0, 60, 'a number of seconds in 0..60').default(0),
});

export const PcapPortSchema = z.strictObject({
  name: portName,
  driver: z.literal('pcap'),
  ...addressing,
  mac,
  // Paths relative to the topology file's directory; the loader checks rx-or-tx and the files.
  rx: z.string({ error: 'a file path' }).min(1, 'a file path').optional(),
  tx: z.string({ error: 'a file path' }).min(1, 'a file path').optional(),
  speed: z
    .union([z.literal('max'), z.literal('realtime'), z.number().positive()], {
      error: '"max", "realtime" or a number > 0',
    })
    .default('max'),
  loop: bool.default(false),
});

export const NullPortSchema = z.strictObject({
  name: portName,
  driver: z.literal('null'),
  ...addressing,
  mac,
});

export const AfPacketPortSchema = z.strictObject({
  name: portName,
  driver: z.literal('af_packet'),
  ...addressing,
  // The loader checks that the interface exists and is up.
  interface: z
    .string({ error: 'an interface name' })
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'an interface name of 1..15 characters'),
  frames: int(64, 16384, 'a frame count in 64..16384').default(256),
  offloads: bool.default(true),
});

export const AfXdpPortSchema = z.strictObject({
  name: portName,
  driver: z.literal('af_xdp'),
  ...addressing,
  interface: z
    .string({ error: 'an interface name' })
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'an interface name of 1..15 characters'),
  queue: int(0, 1023, 'a queue number in 0..1023').default(0),
  ringSize: int(64, 16384, 'a power of two in 64..16384')
    .refine((v) => (v & (v - 1)) === 0, 'a power of two in 64..16384')
    .default(2048),
});

/** One schema per driver: the loader uses it to list the valid keys of a port. */
export const PORT_SCHEMAS = {
  gen: GenPortSchema,
  pcap: PcapPortSchema,
  null: NullPortSchema,
  af_packet: AfPacketPortSchema,
  af_xdp: AfXdpPortSchema,
} as const;

export const PortSchema = z.discriminatedUnion(
  'driver',
  [GenPortSchema, PcapPortSchema, NullPortSchema, AfPacketPortSchema, AfXdpPortSchema],
  { error: 'a port mapping (name, driver, ...)' },
);

export const NfSchema = z.strictObject(
  {
    name: str(NF_NAME_RE, 'an NF name ([a-z0-9][a-z0-9_-]{0,31})'),
    module: z
      .string({ error: 'a path to a .ts, .mts, .js or .mjs file' })
      .regex(NF_MODULE_RE, 'a path to a .ts, .mts, .js or .mjs file'),
    service: int(1, TOPOLOGY_LIMITS.maxService),
    instances: int(1, TOPOLOGY_LIMITS.maxInstances).default(1),
    // The CPUs its processes run on; absent: the kernel places them.
    cores: cores.optional(),
    // A fused group's name: NFs with the same one run in one process (docs/topology.md).
    fuse: str(NF_NAME_RE, 'a fused group name ([a-z0-9][a-z0-9_-]{0,31})').optional(),
    // Run in the manager's data-plane thread, between receive and send (docs/topology.md).
    inline: z.boolean({ error: 'true or false' }).optional(),
    // read-only: the NF maps the packets without write permission and returns verdicts only (docs/security.md).
    access: z.enum(['read-write', 'read-only'], { error: '"read-write" or "read-only"' }).optional(),
    // sandbox: its processes run in a bubblewrap sandbox: no network, few files (docs/security.md).
    isolation: z.enum(['none', 'sandbox'], { error: '"none" or "sandbox"' }).optional(),
    // Free-form here: each NF checks its own options against its option spec when it starts.
    options: z.record(z.string(), z.unknown(), { error: 'a mapping of NF options' }).default({}),
  },
  { error: 'an NF mapping (name, module, service, ...)' },
);

/** A chain hop as written: an NF name, a service id, or "port:<port name>". */
export const HopSchema = z.union([z.string().min(1), int(1, TOPOLOGY_LIMITS.maxService)], {
  error: `an NF name, a service id (1..${TOPOLOGY_LIMITS.maxService}) or "port:<port name>"`,
});

const maxPorts = TOPOLOGY_LIMITS.maxPorts;
const maxNfs = TOPOLOGY_LIMITS.maxNfs;
const maxHops = TOPOLOGY_LIMITS.maxChainHops;

export const TopologySchema = z.strictObject(
  {
    name: str(INSTANCE_NAME_RE, 'an instance name ([A-Za-z0-9_.-]{1,32})').default('default'),
    pool: PoolSchema.prefault({}),
    rings: RingsSchema.prefault({}),
    manager: ManagerSchema.prefault({}),
    ports: z
      .array(PortSchema, { error: `a list of 1..${maxPorts} ports` })
      .min(1, `a list of 1..${maxPorts} ports`)
      .max(maxPorts, `a list of 1..${maxPorts} ports`),
    nfs: z
      .array(NfSchema, { error: `a list of 1..${maxNfs} NFs` })
      .min(1, `a list of 1..${maxNfs} NFs`)
      .max(maxNfs, `a list of 1..${maxNfs} NFs`),
    chain: z
      .array(HopSchema, { error: `a list of 1..${maxHops} hops` })
      .min(1, `a list of 1..${maxHops} hops`)
      .max(maxHops, `a list of 1..${maxHops} hops`),
    // Named chains (ids 1..15) and the flow director's rules; both optional.
    chains: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a chain name ([a-z0-9][a-z0-9_-]{0,31})'),
        z.array(HopSchema).min(1, `a list of 1..${maxHops} hops`).max(maxHops, `a list of 1..${maxHops} hops`),
        { error: 'a mapping of chain names to lists of hops' },
      )
      .default({}),
    flows: z
      .array(
        z.strictObject({
          priority: z.number().int().default(0),
          chain: z.string({ error: 'the name of a chain under chains' }),
          srcPrefix: z.string().optional(),
          dstPrefix: z.string().optional(),
          srcPorts: z.tuple([z.number().int(), z.number().int()]).optional(),
          dstPorts: z.tuple([z.number().int(), z.number().int()]).optional(),
          proto: z.number().int().optional(),
          inPort: z.string({ error: 'the name of a port' }).optional(),
          vlan: z.number().int().optional(),
        }),
        { error: 'a list of flow rules' },
      )
      .default([]),
  },
  { error: 'a mapping with the keys name, pool, rings, manager, ports, nfs, chain' },
);

/** A topology file as written (before defaults). */
export type TopologyInput = z.input<typeof TopologySchema>;
/** A topology file after the schema: defaults filled, paths and hops not yet resolved. */
export type TopologyParsed = z.output<typeof TopologySchema>;
