/**
 * The load balancer's config file: the boundary where YAML or JSON text becomes a trusted
 * LbConfig. After it, the data path trusts the addresses it gets.
 *
 *   text ──parse (yaml; JSON is YAML)──▶ raw ──shape (zod)──▶ parsed ──checks──▶ LbConfig
 *
 * Each stage that fails throws one NfcError (NFC_ERR_NF_OPTION: the file is what the `config`
 * option names) listing every problem it found, one per line, as
 * `<file>:<line>: <path>: <what is wrong>` with a `fix:` line, e.g.
 *
 *   lb.yaml:5: backends[1].ip: "192.168.1.300" is not an IPv4 address
 *     fix: write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)
 *
 * Reading, parsing, line numbers and the error are nfchain's config-file helpers
 * (src/util/config-file.ts); what is here is this file's schema, wording and checks.
 *
 * Cold code: runs once in setup(); it allocates freely.
 */
import * as z from 'zod';
import {
  configDocument,
  configError,
  formatIpv4,
  parseConfigText,
  parseIpv4,
  parseMac,
  problemsFromZod,
  readConfigFile,
  zodIssueMessage,
  type ConfigDocument,
  type ConfigFileOptions,
  type ConfigPath,
  type ConfigProblem,
  type ZodHints,
} from 'nfchain';

/** Most backends a config may list. */
export const MAX_BACKENDS = 1024;

export interface LbBackend {
  /** IPv4 address, unsigned 32-bit */
  ip: number;
  /** destination MAC written on packets sent to it (48-bit number), or -1: left as it is */
  mac: number;
  /** for reports: `name` from the file, else the address */
  name: string;
}

export interface LbConfig {
  /** the file it came from, as given */
  file: string;
  /** the virtual IP clients send to, unsigned 32-bit */
  vip: number;
  /** destination MAC written on replies to clients, or -1: left as it is */
  clientMac: number;
  backends: LbBackend[];
}

const BackendSchema = z.strictObject({
  ip: z.string(),
  mac: z.string().optional(),
  name: z.string().min(1, 'a non-empty string').optional(),
});

const ConfigSchema = z.strictObject(
  {
    vip: z.string(),
    clientMac: z.string().optional(),
    backends: z.array(BackendSchema),
  },
  { error: 'a mapping with vip and backends' },
);

/** Keys of each mapping, for "did you mean" and "takes" hints. */
const TOP_KEYS = Object.keys(ConfigSchema.shape);
const BACKEND_KEYS = Object.keys(BackendSchema.shape);

/** What to write, per key: the `fix` of a missing or mistyped value. */
const EXAMPLES: Record<string, string> = {
  vip: 'the address clients send to, e.g. vip: 10.0.0.100',
  clientMac: 'the MAC of the client side\'s next hop, e.g. clientMac: "02:00:00:00:00:fe"',
  backends: 'a list of backends, e.g. backends: [{ ip: 192.168.1.11 }, { ip: 192.168.1.12 }]',
  ip: "the backend's address, e.g. ip: 192.168.1.11",
  mac: 'the backend\'s MAC (or its next hop\'s), e.g. mac: "02:00:00:00:01:11"',
  name: 'a label for reports, e.g. name: web1',
};

/** The smallest config, for fixes. */
const SMALLEST = 'vip: 10.0.0.100 and backends: [{ ip: 192.168.1.11 }, { ip: 192.168.1.12 }]';
const IPV4_FIX = 'write it as a.b.c.d with each part 0..255 (this NF handles IPv4 only)';
const MAC_FIX = 'write it as aa:bb:cc:dd:ee:ff, six hex pairs (quote it in YAML)';

/** A load-balancer config, for config-file.ts: its error code and wording. */
const LB_FILE: ConfigFileOptions = {
  code: 'NFC_ERR_NF_OPTION',
  what: 'the load-balancer config',
  notFoundFix:
    'check the "config" option; a relative path is taken from the topology file\'s directory (with nfchain nf: the working directory)',
  heading: true,
};

/** What this file adds to the wording of schema issues: its keys, and an example for each. */
const LB_HINTS: ZodHints = {
  knownKeys: (path) => (path.length === 0 ? TOP_KEYS : BACKEND_KEYS),
  // Names the key itself, and lists what the mapping takes even when there is a suggestion.
  unknownKey: ({ path, key, guess, known }) => ({
    path: [...path, key],
    what: `unknown key "${key}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
    fix: `${path.length === 0 ? 'the file' : 'a backend'} takes: ${known.join(', ')}`,
  }),
  fix: (path) => {
    const last = path[path.length - 1];
    if (path.length === 0) return `give at least ${SMALLEST}`;
    return typeof last === 'string' ? EXAMPLES[last] : EXAMPLES.backends;
  },
};

/**
 * Reads and checks a load-balancer config file (YAML, or JSON). The caller resolves a relative path
 * (the NF: against ctx.baseDir). Throws NfcError NFC_ERR_NF_OPTION naming the file, the line, the
 * field and the fix of each problem.
 */
export function loadLbConfig(path: string): LbConfig {
  return checkLbConfig(readConfigFile(path, LB_FILE), path);
}

/** Checks config text; `file` names it in messages. See loadLbConfig. */
export function parseLbConfig(text: string, file: string): LbConfig {
  return checkLbConfig(parseConfigText(text, file, LB_FILE), file);
}

function checkLbConfig(doc: ConfigDocument, file: string): LbConfig {
  if (doc.raw === null || doc.raw === undefined) {
    // An empty file has no line to point at.
    throw configError(
      file,
      configDocument(doc.raw),
      [{ path: [], what: 'the file is empty', fix: `give at least ${SMALLEST}` }],
      LB_FILE,
    );
  }
  const shape = ConfigSchema.safeParse(doc.raw, { error: zodIssueMessage });
  if (!shape.success) throw configError(file, doc, problemsFromZod(shape.error.issues, doc.raw, LB_HINTS), LB_FILE);
  const c = shape.data;

  const problems: ConfigProblem[] = [];
  const ipv4 = (text: string, path: ConfigPath): number => {
    try {
      return parseIpv4(text);
    } catch {
      problems.push({ path, what: `"${text}" is not an IPv4 address`, fix: IPV4_FIX });
      return -1;
    }
  };
  const mac = (text: string | undefined, path: ConfigPath): number => {
    if (text === undefined) return -1;
    try {
      return parseMac(text);
    } catch {
      problems.push({ path, what: `"${text}" is not a MAC address`, fix: MAC_FIX });
      return -1;
    }
  };

  const vip = ipv4(c.vip, ['vip']);
  const clientMac = mac(c.clientMac, ['clientMac']);
  if (c.backends.length === 0) {
    problems.push({
      path: ['backends'],
      what: 'the list is empty: there is nothing to balance over',
      fix: 'list at least one backend, e.g. backends: [{ ip: 192.168.1.11 }]',
    });
  } else if (c.backends.length > MAX_BACKENDS) {
    problems.push({
      path: ['backends'],
      what: `${c.backends.length} backends; at most ${MAX_BACKENDS}`,
      fix: 'spread them over several VIPs (one load-balancer instance each)',
    });
  }
  const seen = new Map<number, number>();
  const backends: LbBackend[] = c.backends.map((b, i) => {
    const ip = ipv4(b.ip, ['backends', i, 'ip']);
    if (ip >= 0) {
      const before = seen.get(ip);
      if (before !== undefined) {
        problems.push({
          path: ['backends', i, 'ip'],
          what: `${b.ip} is listed already, as backends[${before}]`,
          fix: 'list each backend once',
        });
      } else if (ip === vip) {
        problems.push({
          path: ['backends', i, 'ip'],
          what: `${b.ip} is the VIP`,
          fix: 'a backend needs an address of its own; the VIP is the one clients use',
        });
      }
      seen.set(ip, i);
    }
    return { ip, mac: mac(b.mac, ['backends', i, 'mac']), name: b.name ?? b.ip };
  });
  if (problems.length > 0) throw configError(file, doc, problems, LB_FILE);
  return { file, vip, clientMac, backends };
}

/** A config in one line, for logs (cold). */
export function describeLbConfig(c: LbConfig): string {
  return `VIP ${formatIpv4(c.vip)}, ${c.backends.length} backend${c.backends.length === 1 ? '' : 's'} (${c.file})`;
}
