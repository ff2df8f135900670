/** nfchain's version, from its package.json (cold: read once). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function nfchainVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
