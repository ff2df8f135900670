/**
 * The HTTP endpoint's settings (cold): `manager.http` in the topology or `--http` on the command
 * line — "[host:]port", a port, or { listen, token, tokenFile, remote } — checked into where to
 * listen and what a request must carry.
 *
 * Off unless asked for. A bare port listens on 127.0.0.1. A host that is not a loopback address
 * is refused unless `remote: true` (`--http-remote`) says so; then the manager warns at start,
 * and more loudly without a token. A token (16 characters at least) comes inline, from a file
 * (its first line; better: keep it out of the topology) or from $NFCHAIN_HTTP_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { NfcError } from '../errors.js';
import type { HttpSetting } from '../topology/types.js';

export interface HttpOptions {
  host: string;
  /** 0: any free port (the URL in status and the log says which) */
  port: number;
  token?: string | undefined;
  /** the host is not a loopback address (allowed by `remote`) */
  remote: boolean;
}

export const TOKEN_ENV = 'NFCHAIN_HTTP_TOKEN';
const MIN_TOKEN = 16;

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost". */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** "[host:]port", "[v6]:port" or a port number into host and port; throws naming `where`. */
export function parseListen(v: string | number, where: string): { host: string; port: number } {
  const bad = (why: string): never => {
    throw new NfcError('NFC_ERR_USAGE', `${where}: ${JSON.stringify(v)} ${why}`, {
      fix: 'give "[host:]port", e.g. 9091 or 127.0.0.1:9091 ([::1]:9091 for IPv6); port 0 takes any free port',
    });
  };
  let host = '127.0.0.1';
  let portText = String(v).trim();
  if (typeof v === 'string') {
    const m6 = /^\[([^\]]+)\]:(.*)$/.exec(portText);
    const colon = portText.lastIndexOf(':');
    if (m6) {
      host = m6[1]!;
      portText = m6[2]!;
      if (isIP(host) !== 6) bad(`has "${host}" in brackets, which is not an IPv6 address`);
    } else if (colon >= 0) {
      if (portText.indexOf(':') !== colon) bad('is an IPv6 address without brackets');
      host = portText.slice(0, colon) || '127.0.0.1';
      portText = portText.slice(colon + 1);
      if (host !== 'localhost' && isIP(host) === 0) bad(`has "${host}", which is not an IP address (or localhost)`);
    }
  }
  if (!/^\d+$/.test(portText)) bad('has no port number');
  const port = Number(portText);
  if (port > 65535) bad('has a port above 65535');
  return { host, port };
}

/**
 * The setting checked (cold). `baseDir`: where a relative tokenFile is from. Returns null when
 * the endpoint is off.
 */
export function httpOptions(
  s: HttpSetting | undefined,
  where = 'manager.http',
  baseDir = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): HttpOptions | null {
  if (s === undefined || s === false) return null;
  const o = typeof s === 'object' ? s : { listen: s };
  const { host, port } = parseListen(o.listen, typeof s === 'object' ? `${where}.listen` : where);
  const remote = !isLoopback(host);
  if (remote && o.remote !== true) {
    throw new NfcError('NFC_ERR_USAGE', `${where}: ${host} is not a loopback address`, {
      fix: `the endpoint shows every packet counter and NF option: to serve it beyond this machine say so — "remote: true" in manager.http (--http-remote), ideally with a token (tokenFile, $${TOKEN_ENV}) — or listen on 127.0.0.1`,
    });
  }
  let token = o.token;
  if (token === undefined && o.tokenFile !== undefined) {
    const file = resolve(baseDir, o.tokenFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new NfcError('NFC_ERR_USAGE', `${where}.tokenFile: cannot read ${file}: ${(err as Error).message}`);
    }
    token = text.split('\n')[0]!.trim();
    if (token.length < MIN_TOKEN)
      throw new NfcError(
        'NFC_ERR_USAGE',
        `${where}.tokenFile: ${file}: its first line must be a token of ${MIN_TOKEN} characters or more`,
      );
  }
  if (token === undefined && env[TOKEN_ENV] !== undefined && env[TOKEN_ENV] !== '') {
    token = env[TOKEN_ENV]!.trim();
    if (token.length < MIN_TOKEN)
      throw new NfcError('NFC_ERR_USAGE', `$${TOKEN_ENV}: a token of ${MIN_TOKEN} characters or more`);
  }
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token))
    throw new NfcError('NFC_ERR_USAGE', `${where}: the token must be printable ASCII without spaces`);
  return { host, port, token, remote };
}
