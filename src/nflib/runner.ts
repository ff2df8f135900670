/**
 * `nfchain nf <module> --service N [--instance I] [--name M] [--ttl S] [--limit N]
 * [--poll busy|adaptive] [-- nf options]`: one NF instance as a process.
 *
 * Loads the module, checks its options, registers with the manager over the control socket,
 * maps the shared memory, runs setup(), reports ready, then runs the engine until the NF
 * stops (TTL, packet limit, SIGINT/SIGTERM, the manager asking, or the NF itself).
 */
import { NfcError } from '../errors.js';
import { NF_USAGE } from './usage.js';
import { ControlClient } from '../control/socket.js';
import type { RegisteredReply } from '../protocol/messages.js';
import { attachInstance } from '../shm/instance.js';
import { IH, MAX_NFS, MAX_SERVICES, ManagerState } from '../shm/instance-layout.js';
import { optionsFromArgv, parseOptions } from './define.js';
import { NfEngine } from './engine.js';
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
}


/** How long an NF whose manager died waits for a new one to take it back (s, default), and how often it looks (ms). */
const MANAGER_WAIT_S = 10;
const RECONNECT_MS = 50;

export function parseNfArgs(argv: readonly string[]): NfArgs {
  const dd = argv.indexOf('--');
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const nfOpts = dd >= 0 ? argv.slice(dd + 1) : [];
  let module: string | undefined;
  const jsonOptions: Record<string, unknown> = {};
  const a: Omit<NfArgs, 'module' | 'options'> = {
    service: 0, nfId: 0, manager: 'default', ttl: 0, limit: 0, poll: undefined, label: undefined, baseDir: undefined, managerWait: MANAGER_WAIT_S,
  };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max) {
      throw new NfcError('NFC_ERR_USAGE', `${flag} needs an integer between ${min} and ${max}, got ${v ?? 'nothing'}`, { fix: NF_USAGE });
    }
    return n;
  };
  for (let i = 0; i < own.length; i++) {
    const f = own[i]!;
    switch (f) {
      case '--service': case '-s': a.service = num(f, own[++i], 1, MAX_SERVICES - 1); break;
      case '--instance': case '-i': a.nfId = num(f, own[++i], 1, MAX_NFS - 1); break;
      case '--name': case '-n': a.manager = own[++i] ?? ''; break;
      case '--label': a.label = own[++i]; break;
      case '--base-dir': a.baseDir = own[++i]; break;
      case '--ttl': a.ttl = num(f, own[++i], 0, 1e9); break;
      case '--limit': a.limit = num(f, own[++i], 0, Number.MAX_SAFE_INTEGER); break;
      case '--manager-wait': a.managerWait = num(f, own[++i], 0, 3600); break;
      case '--options-json': {
        // Used by `nfchain start` to pass a topology's options verbatim.
        try {
          Object.assign(jsonOptions, JSON.parse(own[++i] ?? '') as Record<string, unknown>);
        } catch {
          throw new NfcError('NFC_ERR_USAGE', '--options-json needs a JSON object');
        }
        break;
      }
      case '--poll': {
        const p = own[++i];
        if (p !== 'busy' && p !== 'adaptive') throw new NfcError('NFC_ERR_USAGE', `--poll takes busy or adaptive, got ${p ?? 'nothing'}`);
        a.poll = p;
        break;
      }
      default:
        if (f.startsWith('-')) throw new NfcError('NFC_ERR_USAGE', `unknown flag ${f} (NF options go after --)`, { fix: NF_USAGE });
        if (module) throw new NfcError('NFC_ERR_USAGE', `one module per NF process (got ${module} and ${f})`);
        module = f;
    }
  }
  if (!module) throw new NfcError('NFC_ERR_USAGE', 'which NF module?', { fix: NF_USAGE });
  if (!a.service) throw new NfcError('NFC_ERR_USAGE', '--service is required', { fix: NF_USAGE });
  return { module, ...a, options: { ...jsonOptions, ...optionsFromArgv(nfOpts) } };
}


/** Runs an NF process to its end; returns the exit code (cold). */
export async function runNf(args: NfArgs): Promise<number> {
  // Output goes to whoever started us; if that was a manager that died, the pipe is gone and
  // a write fails with EPIPE: the NF carries on without its output rather than die of it.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const def = await loadNF(args.module);
  const options = parseOptions(def, args.options, `nfchain nf ${args.module}`);
  let client = await ControlClient.connect(args.manager);
  const reg = await client.request<RegisteredReply>({
    type: 'register', name: args.label ?? def.name, service: args.service, nfId: args.nfId, pid: process.pid, module: args.module, options: args.options,
  });
  const tag = `${args.label ?? def.name}#${reg.nfId}`;
  const log = (line: string): void => { process.stdout.write(`[${tag}] ${line}\n`); };
  const inst = attachInstance(reg.instance);
  const engine = new NfEngine({
    inst, nfId: reg.nfId, service: args.service, def, options: options as Record<string, unknown>,
    poll: args.poll ?? reg.poll, ttl: args.ttl, limit: args.limit, log,
    control: (req, timeoutMs) => client.request(req, timeoutMs), chains: reg.chains, baseDir: args.baseDir,
  });
  let exitCode = 0;
  const onSignal = (sig: string) => () => engine.stop(`${sig} received`);
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));
  let told = false;
  const reattach = { type: 'reattach', nfId: reg.nfId, generation: reg.generation, pid: process.pid, name: args.label ?? def.name,
    service: args.service, module: args.module, options: args.options } as const;
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
    log(`the manager went away without stopping us: paused, waiting up to ${args.managerWait} s for a manager to take over`);
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
      await client.request({ type: 'stopping', nfId: reg.nfId, reason: `setup() failed: ${(err as Error).message}` }, 2000);
    } catch {
      /* the manager may be gone */
    }
    client.close();
    throw err;
  }
  await client.request({ type: 'ready', nfId: reg.nfId });
  log(`running: service ${args.service}, ${engine.pool.count} buffers, poll ${args.poll ?? reg.poll}`);
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
