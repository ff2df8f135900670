/**
 * Running the host tools the testbed shells out to (`ip`, `sysctl`, `ethtool`), and what this
 * machine can do: whether it runs as root, has ethtool, and can make network namespaces.
 * testbed.ts (which re-exports the capability checks) builds, checks and removes testbeds
 * with these.
 *
 * Tools run with execFileSync (no shell), optionally inside a namespace through
 * `ip netns exec`, with a timeout and LC_ALL=C; a failure becomes an NFC_ERR_TESTBED naming
 * the command and its stderr. Everything here is cold code.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { NfcError } from '../errors.js';

// ---- running tools ------------------------------------------------------------------------

const EXEC_TIMEOUT_MS = 15_000;
const toolCache = new Map<string, string | undefined>();

/** The absolute path of a tool: PATH first, then the sbin directories a non-login PATH may lack. */
export function findTool(tool: string): string | undefined {
  if (toolCache.has(tool)) return toolCache.get(tool);
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  let found: string | undefined;
  for (const d of dirs) {
    const p = join(d, tool);
    if (isAbsolute(p) && existsSync(p)) {
      found = p;
      break;
    }
  }
  toolCache.set(tool, found);
  return found;
}

function needTool(tool: string): string {
  const p = findTool(tool);
  if (p === undefined) {
    throw new NfcError('NFC_ERR_TESTBED', `\`${tool}\` is not installed (looked in PATH, /usr/sbin, /sbin)`, {
      fix:
        tool === 'ip'
          ? 'apt-get install iproute2'
          : tool === 'sysctl'
            ? 'apt-get install procps'
            : `apt-get install ${tool}`,
    });
  }
  return p;
}

/** How a tool run ended: its output, and why it failed when it did. */
export interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  status: number | null;
  error?: string;
}

/** Runs a tool (optionally inside a namespace, through `ip netns exec`); never throws. */
export function tryRun(tool: string, args: readonly string[], ns?: string): RunResult {
  const file = ns === undefined ? needTool(tool) : needTool('ip');
  const argv = ns === undefined ? [...args] : ['netns', 'exec', ns, needTool(tool), ...args];
  try {
    const stdout = execFileSync(file, argv, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: EXEC_TIMEOUT_MS,
      env: { ...process.env, LC_ALL: 'C' },
    });
    return { ok: true, stdout, stderr: '', status: 0 };
  } catch (e) {
    const err = e as {
      status?: number | null;
      stdout?: string;
      stderr?: string;
      code?: string;
      signal?: string | null;
      message?: string;
    };
    const why =
      err.code === 'ETIMEDOUT'
        ? `timed out after ${EXEC_TIMEOUT_MS / 1000} s`
        : err.signal
          ? `killed by ${err.signal}`
          : err.code && typeof err.status !== 'number'
            ? err.code
            : undefined;
    return {
      ok: false,
      stdout: String(err.stdout ?? ''),
      stderr: String(err.stderr ?? '').trim(),
      status: err.status ?? null,
      ...(why !== undefined ? { error: why } : {}),
    };
  }
}

function commandLine(tool: string, args: readonly string[], ns?: string): string {
  return [...(ns === undefined ? [] : ['ip', 'netns', 'exec', ns]), tool, ...args].join(' ');
}

/** The NFC_ERR_TESTBED error for a failed run, naming the command line and its stderr. */
export function failure(tool: string, args: readonly string[], r: RunResult, ns?: string): NfcError {
  const how = r.error ?? `exit status ${r.status}`;
  const detail = r.stderr !== '' ? `: ${r.stderr.split('\n').join(' | ')}` : '';
  return new NfcError('NFC_ERR_TESTBED', `\`${commandLine(tool, args, ns)}\` failed (${how})${detail}`, {
    ...(!isRoot() ? { fix: 'the testbed needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run it with sudo' } : {}),
  });
}

/** Runs a tool and returns its stdout; throws NFC_ERR_TESTBED naming the command and its stderr. */
export function run(tool: string, args: readonly string[], ns?: string): string {
  const r = tryRun(tool, args, ns);
  if (!r.ok) throw failure(tool, args, r, ns);
  return r.stdout;
}

// ---- capabilities -------------------------------------------------------------------------

/** True when this process runs as root (uid 0). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** True when `ethtool` is installed (offloads are switched off and checked only then). */
export function hasEthtool(): boolean {
  return findTool('ethtool') !== undefined;
}

/**
 * Whether network namespaces can be made here, and if not why: needs root, `ip`, and an
 * `ip netns add` of a throw-away namespace that works (it is removed again).
 */
export function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux')
    return { ok: false, reason: `network namespaces are Linux only (this is ${process.platform})` };
  if (!isRoot())
    return { ok: false, reason: 'not running as root (the testbed needs CAP_NET_ADMIN and CAP_SYS_ADMIN)' };
  if (findTool('ip') === undefined) return { ok: false, reason: '`ip` (iproute2) is not installed' };
  if (findTool('sysctl') === undefined) return { ok: false, reason: '`sysctl` (procps) is not installed' };
  const probe = `nfcprobe${randomBytes(4).toString('hex')}`;
  const add = tryRun('ip', ['netns', 'add', probe]);
  if (!add.ok) {
    tryRun('ip', ['netns', 'del', probe]);
    return {
      ok: false,
      reason: `\`ip netns add\` does not work here: ${add.stderr || add.error || `exit status ${add.status}`}`,
    };
  }
  const del = tryRun('ip', ['netns', 'del', probe]);
  if (!del.ok) return { ok: false, reason: `\`ip netns del ${probe}\` failed: ${del.stderr}` };
  return { ok: true };
}

/** True when network namespaces can be made here (see netnsSupport for the reason when not). */
export function canUseNetns(): boolean {
  return netnsSupport().ok;
}
