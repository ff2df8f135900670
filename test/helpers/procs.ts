/** Child-process helpers for tests: run a compiled helper script and collect its JSON report. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

export function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

export interface ChildRun {
  child: ChildProcess;
  /** resolves with the child's stdout when it exits with status 0; rejects otherwise */
  done: Promise<string>;
}

export function runHelper(name: string, args: string[], timeoutMs = 120_000): ChildRun {
  const child = spawn(process.execPath, [helperPath(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const done = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} ${args.join(' ')} exited with ${sig ?? code}: ${err.trim()}`));
    });
  });
  return { child, done };
}

/** A unique instance name for a test's shared-memory directory. */
export function uniqueName(tag: string): string {
  return `test-${tag}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Waits (without blocking the event loop) until `cond()` holds, or throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
