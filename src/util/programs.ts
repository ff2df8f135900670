/** Programs nfchain runs (cold). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The path of executable `name` on PATH (then in /usr/bin and /usr/sbin), or undefined. */
export function findProgram(name: string): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin']) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
