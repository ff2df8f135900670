/**
 * `nfchain nf <module> --service N [flags] [-- nf options]`: one NF instance as a process (its
 * flags: NF_FLAGS in usage.ts).
 *
 * Loads the module, checks its options, registers with the manager over the control socket,
 * maps the shared memory, runs setup(), reports ready, then runs the engine until the NF
 * stops (TTL, packet limit, SIGINT/SIGTERM, the manager asking, or the NF itself).
 */
import { NfcError } from '../errors.js';
import { parseCommandLine, type Parsed } from '../util/args.js';
import { parseCpus, pinThread } from '../util/cpus.js';
import { NF_FLAGS, NF_UNKNOWN_HINT, NF_USAGE } from './usage.js';
import { ControlClient } from '../control/socket.js';
import type { RegisteredReply } from '../protocol/messages.js';
import { attachInstance } from '../shm/instance.js';
import { IH, ManagerState } from '../shm/instance-layout.js';
import { metricDecls, optionsFromArgv, parseOptions } from './define.js';
import { checkMembers, NfEngine, recordsLatency, type MemberSpec } from './engine.js';
import { loadNF } from './load.js';

export interface NfArgs {
  module: string;
  service: number;
  nfId: number;
  manager: string;
  ttl: number;
  limit: number;
  poll: 'adaptive' | 'busy' | undefined;
  /** the name shown in stats and logs (default: the NF definition's name) */
  label: string | undefined;
  /** where relative paths in the options are from (ctx.baseDir; default the working directory) */
  baseDir: string | undefined;
  options: Record<string, unknown>;
  /** seconds to wait for a new manager when this one dies (--manager-wait) */
  managerWait: number;
  /** read-only: the pool mapped without write permission, verdicts only (--access) */
  access: 'read-write' | 'read-only';
  /** the CPUs the NF's packet loop (its main thread) is pinned to (--cores; absent: not pinned) */
  cores?: number[] | undefined;
  /** more NFs in this process, a fused group (--fuse); the module above is its first member */
  fuse?: FusedMember[] | undefined;
  /** the fused group's name (--fuse-name) */
  group?: string | undefined;
}

/** A further member of a fused group: an NF module for a service, with its options. */
export interface FusedMember {
  module: string;
  service: number;
  /** the name shown in logs and status (default: the NF's own name) */
  name?: string | undefined;
  options: Record<string, unknown>;
}

/** How often an NF whose manager died looks for a new one (ms). */
const RECONNECT_MS = 50;

/** `nfchain nf`'s arguments, parsed with NF_FLAGS (cold). */
export function parseNfArgs(argv: readonly string[]): NfArgs {
  return nfArgs(parseCommandLine(argv, NF_FLAGS, NF_USAGE, { unknownHint: NF_UNKNOWN_HINT }));
}

/** NfArgs from a parsed command line: the module, the flags, the NF's options (after `--`) (cold). */
export function nfArgs(p: Parsed<typeof NF_FLAGS>): NfArgs {
  const [module, extra] = p.positionals;
  if (!module) throw new NfcError('NFC_ERR_USAGE', 'which NF module?', { fix: NF_USAGE });
  if (extra !== undefined) {
    throw new NfcError('NFC_ERR_USAGE', `one module per NF process (got ${module} and ${extra})`);
  }
  const v = p.values;
  let jsonOptions: Record<string, unknown> = {};
  if (v['options-json'] !== undefined) {
    // Used by `nfchain start` to pass a topology's options verbatim.
    try {
      jsonOptions = { ...(JSON.parse(v['options-json']) as Record<string, unknown>) };
    } catch {
      throw new NfcError('NFC_ERR_USAGE', '--options-json needs a JSON object');
    }
  }
  return {
    module,
    service: v.service,
    nfId: v.instance ?? 0,
    manager: v.name,
    ttl: v.ttl,
    limit: v.limit,
    poll: v.poll,
    label: v.label,
    baseDir: v['base-dir'],
    managerWait: v['manager-wait'],
    access: v.access === 'read-only' ? 'read-only' : 'read-write',
    ...(v.cores !== undefined ? { cores: parseCpus(v.cores, '--cores') } : {}),
    ...(v.fuse !== undefined ? { fuse: parseFuse(v.fuse) } : {}),
    ...(v['fuse-name'] !== undefined ? { group: v['fuse-name'] } : {}),
    options: { ...jsonOptions, ...optionsFromArgv(p.rest) },
  };
}

/**
 * The --fuse value: `module:service` pairs separated by commas, or a JSON list of
 * { module, service, name?, options? } (cold).
 */
export function parseFuse(text: string): FusedMember[] {
  const bad = (what: string): never => {
    throw new NfcError('NFC_ERR_USAGE', `--fuse: ${what}`, {
      fix: '--fuse b.ts:2,c.ts:3 (module:service, comma-separated), or a JSON list of { module, service, options }',
    });
  };
  if (text.trim().startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      return bad('not valid JSON');
    }
    if (!Array.isArray(list)) return bad('a JSON list is needed');
    return list.map((x: unknown, i) => {
      const m = x as Partial<FusedMember> | null;
      if (!m || typeof m.module !== 'string' || !Number.isInteger(m.service)) {
        return bad(`member ${i} needs "module" (a path) and "service" (an integer)`);
      }
      const o = m.options ?? {};
      if (typeof o !== 'object' || Array.isArray(o)) return bad(`member ${i}: "options" must be an object`);
      return {
        module: m.module,
        service: m.service!,
        name: typeof m.name === 'string' ? m.name : undefined,
        options: o,
      };
    });
  }
  return text.split(',').map((part) => {
    const at = part.lastIndexOf(':');
    const service = Number(part.slice(at + 1));
    if (at <= 0 || !Number.isInteger(service)) return bad(`"${part}" is not module:service`);
    return { module: part.slice(0, at), service, options: {} };
  });
}

/** The engine; a failure closes the control connection (the manager frees the slot, the process can exit). */
function newEngine(client: ControlClient, o: ConstructorParameters<typeof NfEngine>[0]): NfEngine {
  try {
    return new NfEngine(o);
  } catch (err) {
    client.close();
    throw err;
  }
}

/** Runs an NF process to its end; returns the exit code (cold). */
export async function runNf(args: NfArgs): Promise<number> {
  // Output goes to whoever started us; if that was a manager that died, the pipe is gone and
  // a write fails with EPIPE: the NF carries on without its output rather than die of it.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const def = await loadNF(args.module);
  const options = parseOptions(def, args.options, `nfchain nf ${args.module}`);
  const members: MemberSpec[] = [{ def, options, service: args.service, name: args.label }];
  for (const f of args.fuse ?? []) {
    const d = await loadNF(f.module);
    members.push({
      def: d,
      options: parseOptions(d, f.options, `nfchain nf --fuse ${f.module}`),
      service: f.service,
      name: f.name,
    });
  }
  const fused = members.length > 1;
  checkMembers(members, args.access);
  const label = fused ? (args.group ?? members.map((m) => m.name ?? m.def.name).join('+')) : (args.label ?? def.name);
  // What the manager needs to start more processes like this one (scaling) and to show it.
  const memberList = fused
    ? [
        { name: args.label ?? def.name, module: args.module, service: args.service, options: args.options },
        ...(args.fuse ?? []).map((f, i) => ({
          name: f.name ?? members[i + 1]!.def.name,
          module: f.module,
          service: f.service,
          options: f.options,
        })),
      ]
    : undefined;
  // Before registering: a placement this machine cannot honour stops the NF here, with the reason.
  pinThread(args.cores, `NF ${label}`);
  // What the manager shows of it: its counters and gauges, whether it records latency, its options as parsed.
  const described = {
    metrics: metricDecls(members.map((m) => ({ def: m.def, name: m.name ?? m.def.name }))),
    latency: recordsLatency(members),
    parsedOptions: fused
      ? Object.fromEntries(members.map((m) => [m.name ?? m.def.name, m.options]))
      : members[0]!.options,
  };
  let client = await ControlClient.connect(args.manager);
  const reg = await client.request<RegisteredReply>({
    type: 'register',
    name: label,
    service: args.service,
    nfId: args.nfId,
    pid: process.pid,
    module: args.module,
    access: args.access,
    options: args.options,
    ...(memberList ? { members: memberList } : {}),
    ...described,
  });
  const tag = `${label}#${reg.nfId}`;
  const log = (line: string): void => {
    process.stdout.write(`[${tag}] ${line}\n`);
  };
  const inst = attachInstance(reg.instance, { poolReadOnly: args.access === 'read-only' });
  const engine = newEngine(client, {
    inst,
    nfId: reg.nfId,
    members,
    poll: args.poll ?? reg.poll,
    ttl: args.ttl,
    limit: args.limit,
    log,
    control: (req, timeoutMs) => client.request(req, timeoutMs),
    chains: reg.chains,
    ports: reg.ports,
    baseDir: args.baseDir,
    access: args.access,
  });
  let exitCode = 0;
  const onSignal = (sig: string) => () => engine.stop(`${sig} received`);
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));
  let told = false;
  const reattach = {
    type: 'reattach',
    nfId: reg.nfId,
    generation: reg.generation,
    pid: process.pid,
    name: label,
    service: args.service,
    module: args.module,
    options: args.options,
    ...(memberList ? { members: memberList } : {}),
    ...described,
  } as const;
  /**
   * The control connection closed. A manager that stops tells its NFs first; one that closes
   * without a word died: pause (hold everything, recorded in the slot) and wait for a manager
   * of the same name to take this NF back, looking every RECONNECT_MS.
   */
  const onClose = (): void => {
    if (told || engine.stopping || Atomics.load(inst.i32, IH.managerState) === ManagerState.STOPPING) {
      engine.stop('the manager went away');
      return;
    }
    engine.pause();
    log(
      `the manager went away without stopping us: paused, waiting up to ${args.managerWait} s for a manager to take over`,
    );
    const end = Date.now() + args.managerWait * 1000;
    void (async () => {
      for (;;) {
        if (engine.stopping) return;
        if (Date.now() > end) {
          exitCode = 3;
          engine.stop(`the manager went away and no manager took over within ${args.managerWait} s`);
          return;
        }
        let c: ControlClient;
        try {
          c = await ControlClient.connect(args.manager, 500);
        } catch {
          await new Promise((r) => setTimeout(r, RECONNECT_MS));
          continue;
        }
        try {
          await c.request(reattach, Math.max(1000, end - Date.now()));
        } catch (err) {
          c.close();
          exitCode = 3;
          engine.stop(`the new manager did not take this NF back: ${(err as Error).message}`);
          return;
        }
        client = c;
        listen(c);
        engine.resume();
        log('taken back by a new manager: running');
        return;
      }
    })();
  };
  const listen = (c: ControlClient): void => {
    c.onNotice = (n) => {
      if (n.type === 'stop') {
        told = true;
        engine.stop(n.reason);
      }
    };
    c.onClose = onClose;
  };
  listen(client);
  try {
    await engine.setup();
  } catch (err) {
    // Leave at once (the manager frees the slot), rather than sit registered until it stops.
    try {
      await client.request(
        { type: 'stopping', nfId: reg.nfId, reason: `setup() failed: ${(err as Error).message}` },
        2000,
      );
    } catch {
      /* the manager may be gone */
    }
    client.close();
    throw err;
  }
  await client.request({ type: 'ready', nfId: reg.nfId, listening: engine.listening() });
  log(
    `running: ${fused ? `fused group of ${members.map((m) => `${m.name ?? m.def.name} (service ${m.service})`).join(', ')}` : `service ${args.service}`}, ` +
      `${engine.pool.count} buffers, poll ${args.poll ?? reg.poll}`,
  );
  const reason = await engine.run();
  log(`stopped: ${reason} (${engine.handled} packets)`);
  if (!client.closed) {
    try {
      await client.request({ type: 'stopping', nfId: reg.nfId, reason }, 2000);
    } catch {
      /* the manager may already be gone */
    }
  }
  client.close();
  return exitCode;
}
