/**
 * Core placement (cold): the CPUs this process may run on, their text form ("0-3,6"), and pinning
 * the calling thread — a worker thread pins itself, not its process.
 */
import { availableParallelism } from 'node:os';
import { NfcError } from '../errors.js';
import { native } from '../native.js';

/** The CPUs the calling thread may run on (all of them without the addon). */
export function allowedCpus(): number[] {
  try {
    return native().allowedCpus();
  } catch {
    return Array.from({ length: availableParallelism() }, (_, i) => i);
  }
}

/** CPU numbers as ranges: [0, 1, 2, 5] → "0-2,5". */
export function describeCpus(cpus: readonly number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Parses "0-2,5" (or "1") into CPU numbers; an NfcError naming `what` when it does not parse. */
export function parseCpus(text: string, what: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const lo = m ? Number(m[1]) : Number.NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi > 1023) {
      throw new NfcError('NFC_ERR_USAGE', `${what}: "${text}" is not a list of CPUs`, { fix: 'e.g. 1, 0,1 or 0-3' });
    }
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus];
}

/**
 * Pins the calling thread to `cpus` (nothing when undefined). The CPUs must be ones the thread
 * may run on; `what` names the loop in the error ("the RX loop", "NF fw#3").
 */
export function pinThread(cpus: readonly number[] | undefined, what: string): void {
  if (cpus === undefined || cpus.length === 0) return;
  const allowed = allowedCpus();
  const missing = cpus.filter((c) => !allowed.includes(c));
  if (missing.length > 0) {
    throw new NfcError('NFC_ERR_INVALID_ARG', `${what}: CPU ${missing.join(', ')} is not one it may run on`, {
      fix: `use CPUs from ${describeCpus(allowed)}`,
    });
  }
  native().setAffinity(cpus);
}

/** The CPU the calling thread runs on now; -1 when unknown. */
export function currentCpu(): number {
  try {
    return native().getCpu();
  } catch {
    return -1;
  }
}
