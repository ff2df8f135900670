/**
 * Starts NF instances as `nfchain nf` processes and keeps track of them: used by
 * `nfchain start` for the topology's NFs, and by the manager when a service is scaled up
 * (`nfchain scale`, an NF's ctx.scale()). Output lines are prefixed with the instance's tag.
 * Cold code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { GroupMember } from '../protocol/messages.js';
import type { Topology } from '../topology/types.js';
import { sandboxArgs } from './sandbox.js';
import { findProgram } from '../util/programs.js';

/**
 * What one instance runs: an NF module for a service, with its options; or a fused group, whose
 * members (the first being module/service/options above) all run in the one process.
 */
export interface NfLaunch {
  /** the NF's name in the topology, or the fused group's (labels its logs and status) */
  name: string;
  /** absolute path of the module (a fused group: its first member's) */
  module: string;
  service: number;
  options: Record<string, unknown>;
  /** the CPUs its processes are pinned to (absent: not pinned) */
  cores?: number[] | undefined;
  /** a fused group: every member, in order (absent: one NF) */
  members?: GroupMember[] | undefined;
  /** it runs in the manager's data-plane thread, not as a process (manager/inline.ts) */
  inline?: boolean | undefined;
  /** read-only: its processes map the pool without write permission (--access) */
  access?: 'read-write' | 'read-only' | undefined;
  /** sandbox: its processes run in a bubblewrap sandbox (sandbox.ts) */
  isolation?: 'none' | 'sandbox' | undefined;
}

/** The services a launch serves: its own, or every member's of a fused group. */
export function launchServices(l: NfLaunch): number[] {
  return l.members ? l.members.map((m) => m.service) : [l.service];
}

/**
 * What `nfchain start` launches for a topology: each NF outside fused groups, and each fused
 * group as one launch whose members are its NFs; with the number of processes of each (cold).
 */
export function topologyLaunches(topo: Topology): (NfLaunch & { instances: number })[] {
  const out: (NfLaunch & { instances: number })[] = [];
  for (const nf of topo.nfs) if (nf.fuse === undefined) out.push(nf);
  for (const g of topo.groups) {
    const members = g.members.map((n) => topo.nfs.find((nf) => nf.name === n)!);
    const first = members[0]!;
    out.push({
      ...(first.inline ? { inline: true } : {}),
      name: g.name,
      module: first.module,
      service: first.service,
      options: first.options,
      instances: g.instances,
      ...(g.cores !== undefined ? { cores: g.cores } : {}),
      ...(first.isolation ? { isolation: first.isolation } : {}),
      members: members.map((m) => ({ name: m.name, module: m.module, service: m.service, options: m.options })),
    });
  }
  return out;
}

/** Where the NFs' relative option paths are from (ctx.baseDir): the topology file's directory. */
export type BaseDir = string;

interface Child {
  child: ChildProcess;
  tag: string;
  exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export class NfLauncher {
  private readonly children: Child[] = [];
  /** tags of processes that exited with an error while not expected to stop */
  readonly failed: string[] = [];
  private count = new Map<string, number>();
  /** set once stopAll() has begun: exits are then expected */
  private stopping = false;

  constructor(
    private readonly manager: string,
    private readonly out: (line: string) => void,
    private readonly log: (line: string) => void,
    private readonly baseDir: BaseDir = process.cwd(),
  ) {}

  /** Starts one instance; its tag is `name` or `name.k` from the second instance on. */
  start(nf: NfLaunch): string {
    const k = this.count.get(nf.name) ?? 0;
    this.count.set(nf.name, k + 1);
    const tag = k === 0 ? nf.name : `${nf.name}.${k}`;
    const first = nf.members?.[0];
    const args = [
      MAIN,
      'nf',
      nf.module,
      '--service',
      String(nf.service),
      '--name',
      this.manager,
      '--label',
      first ? first.name : nf.name,
      '--base-dir',
      this.baseDir,
      '--options-json',
      JSON.stringify(nf.options),
      ...(nf.cores !== undefined ? ['--cores', nf.cores.join(',')] : []),
      ...(nf.access === 'read-only' ? ['--access', 'read-only'] : []),
      ...(nf.members ? ['--fuse', JSON.stringify(nf.members.slice(1)), '--fuse-name', nf.name] : []),
    ];
    const child =
      nf.isolation === 'sandbox'
        ? spawn(
            findProgram('bwrap') ?? 'bwrap',
            [
              ...sandboxArgs(this.manager, [nf.module, ...(nf.members ?? []).map((m) => m.module)], this.baseDir),
              process.execPath,
              ...args,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          )
        : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: child.stdout! }).on('line', (l) => this.out(l.startsWith('[') ? l : `[${tag}] ${l}`));
    createInterface({ input: child.stderr! }).on('line', (l) => this.out(`[${tag}] ${l}`));
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code, signal) => {
        if (code !== 0 && !this.stopping) {
          this.failed.push(tag);
          this.log(`NF process ${tag} exited with ${signal ?? code}`);
        }
        resolve(code);
      });
    });
    this.children.push({ child, tag, exited });
    return tag;
  }

  /** Processes started so far. */
  get started(): number {
    return this.children.length;
  }

  /** Waits for every process to exit (the manager told them to stop); kills stragglers after 3 s. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    const all = Promise.all(this.children.map((c) => c.exited));
    const t = setTimeout(() => {
      for (const c of this.children) c.child.kill('SIGKILL');
    }, 3000);
    for (const c of this.children)
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
    await all;
    clearTimeout(t);
  }
}
