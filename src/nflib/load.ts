/**
 * Loads an NF module (TypeScript or JavaScript) and checks that its default export is an NF
 * definition. Errors name the module and say what to fix.
 */
import { register } from 'node:module';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NfcError } from '../errors.js';
import { isNFDefinition, type NFDefinition, type OptionsSpec } from './define.js';

let hooked = false;

/** Registers the TypeScript hooks once per process (cold). */
export function enableTypeScriptModules(): void {
  if (hooked) return;
  register('./ts-hooks.js', import.meta.url);
  hooked = true;
}

export async function loadNF(modulePath: string): Promise<NFDefinition<OptionsSpec>> {
  const abs = resolvePath(modulePath);
  if (!existsSync(abs)) {
    throw new NfcError('NFC_ERR_NF', `NF module ${abs} does not exist`, {
      fix: 'check the path (relative paths are from the current directory, or from the topology file)',
    });
  }
  if (/\.(m?ts)$/.test(abs)) enableTypeScriptModules();
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (err) {
    throw new NfcError('NFC_ERR_NF', `NF module ${abs} failed to load: ${(err as Error).message}`, { cause: err });
  }
  const def = mod.default;
  if (!isNFDefinition(def)) {
    throw new NfcError('NFC_ERR_NF', `NF module ${abs} has no NF definition as its default export`, {
      fix: "end it with `export default defineNF({ name, create(ctx) { return { handle(pkt) { ... } }; } })` (import { defineNF } from 'nfchain')",
    });
  }
  return def;
}
