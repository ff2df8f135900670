/**
 * The flags of `nfchain nf` and its usage line, generated from them: the CLI's help shows them,
 * the runner parses with them and its errors quote the usage. Light on purpose: the CLI's
 * command table imports it without loading the NF runtime or the manager.
 */
import { flagSpecs, usageLine } from '../util/args.js';
import { MAX_NFS, MAX_SERVICES } from '../shm/instance-layout.js';

/** How long an NF whose manager died waits for a new one to take it back (s, default). */
export const MANAGER_WAIT_S = 10;

export const NF_FLAGS = flagSpecs([
  {
    name: 'service',
    short: 's',
    kind: 'integer',
    min: 1,
    max: MAX_SERVICES - 1,
    required: true,
    value: 'N',
    help: `the service this instance provides (1..${MAX_SERVICES - 1})`,
  },
  {
    name: 'instance',
    short: 'i',
    kind: 'integer',
    min: 1,
    max: MAX_NFS - 1,
    value: 'I',
    help: `ask for NF id I (1..${MAX_NFS - 1}; default: the lowest free one)`,
  },
  {
    name: 'name',
    short: 'n',
    kind: 'string',
    default: 'default',
    value: 'MANAGER',
    help: 'the manager instance to attach to',
  },
  { name: 'label', kind: 'string', value: 'L', help: "the name shown in stats and logs (default: the NF's own name)" },
  {
    name: 'base-dir',
    kind: 'string',
    value: 'D',
    help: "where relative paths in the NF's options are from (ctx.baseDir; default: here)",
  },
  { name: 'ttl', kind: 'integer', min: 0, max: 1e9, default: 0, value: 'S', help: 'stop after S seconds, 0 for never' },
  {
    name: 'limit',
    kind: 'integer',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: 0,
    value: 'N',
    help: 'stop after N packets, 0 for never',
  },
  {
    name: 'access',
    kind: 'string',
    choices: ['read-write', 'read-only'],
    default: 'read-write',
    help: 'read-only: map the packets without write permission (a write kills this NF) and return verdicts only',
  },
  {
    name: 'poll',
    kind: 'string',
    choices: ['busy', 'adaptive'],
    help: "adaptive (sleep on a futex when idle) or busy (spin); default: the manager's",
  },
  {
    name: 'manager-wait',
    kind: 'integer',
    min: 0,
    max: 3600,
    default: MANAGER_WAIT_S,
    value: 'S',
    help: 'if the manager dies: pause, wait S s for a new one to take this NF back, then exit 3',
  },
  {
    name: 'cores',
    kind: 'string',
    value: 'CPUS',
    help: "pin the NF's packet loop to these CPUs: 1, 0,2 or 0-3 (default: the kernel places it)",
  },
  {
    name: 'fuse',
    kind: 'string',
    value: 'MEMBERS',
    help:
      'run more NFs in this process, a fused group: module:service pairs (b.ts:2,c.ts:3), or a JSON list of ' +
      '{ name, module, service, options } (nfchain start passes a topology group so)',
  },
  {
    name: 'fuse-name',
    kind: 'string',
    value: 'G',
    help: "the fused group's name, shown in status and logs (default: the members' names joined with +)",
  },
  {
    name: 'options-json',
    kind: 'string',
    value: 'JSON',
    help: "the NF's options as one JSON object (nfchain start passes a topology's options so)",
  },
]);

/** Said with an unknown flag of `nfchain nf`. */
export const NF_UNKNOWN_HINT = '(NF options go after --)';

/** The usage line of `nfchain nf` (the CLI's help and the runner's errors show it). */
export const NF_USAGE = `${usageLine('nfchain nf <module.ts|.js>', NF_FLAGS)} [-- --option value ...]`;
