/** The command-line flag parser every command uses (no other imports: commands load it cheaply). */
import { NfcError } from '../errors.js';

export interface Flags {
  positional: string[];
  flags: Map<string, string>;
}

/** `--key value`, `--key=value`, `--flag` (boolean flags listed in `bool`). */
export function parseArgs(argv: readonly string[], bool: readonly string[] = []): Flags {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) flags.set(key, a.slice(eq + 1));
    else if (bool.includes(key)) flags.set(key, 'true');
    else {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new NfcError('NFC_ERR_USAGE', `--${key} needs a value`);
      flags.set(key, v);
      i++;
    }
  }
  return { positional, flags };
}
