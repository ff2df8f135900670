/**
 * The manager's control socket: a Unix socket (mode 0600) in a run directory only its user can
 * enter, carrying newline-delimited JSON (protocol/messages.ts). Server side for the manager,
 * client side for NFs and the CLI.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, NfcError, type ErrorCode } from '../errors.js';
import { checkShmName } from '../shm/shm-file.js';
import type { Reply, Request, RequestBody, Notice } from '../protocol/messages.js';

/** The directory of control sockets: $NFCHAIN_RUN_DIR, /run/nfchain (root), or /tmp/nfchain-<uid>. */
export function runDir(): string {
  if (process.env.NFCHAIN_RUN_DIR) return process.env.NFCHAIN_RUN_DIR;
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/nfchain' : `/tmp/nfchain-${uid}`;
}

export function socketPath(name: string): string {
  checkShmName(name, 'instance name');
  return join(runDir(), `${name}.sock`);
}

/** Splits a stream into JSON lines; calls `onMessage` for each parsed object (cold). */
function lineReader(sock: Socket, onMessage: (msg: unknown) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = { type: 'invalid', line };
      }
      onMessage(msg);
    }
  });
}

export function send(sock: Socket, msg: Reply | Request | Notice): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
}

/**
 * Throws NFC_ERR_CONTROL when a manager of this name answers on its socket (cold). A socket
 * file nobody answers on was left by a manager that did not stop cleanly.
 */
export async function ensureNotRunning(name: string): Promise<void> {
  const path = socketPath(name);
  if (!existsSync(path)) return;
  if (lstatSync(path).isSymbolicLink())
    throw new NfcError('NFC_ERR_CONTROL', `${path} is a symbolic link; refusing to use it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
  if (alive) {
    throw new NfcError('NFC_ERR_CONTROL', `a manager named "${name}" is already running (${path})`, {
      fix: `stop it (nfchain status --name ${name}; Ctrl-C in its terminal) or use another name`,
    });
  }
}

export interface ControlServer {
  server: Server;
  path: string;
  close(): void;
}

/**
 * Listens on the instance's socket. `onConnection` gets each client with a message callback
 * setter. Refuses to replace a socket that a live manager still answers on.
 */
export async function listenControl(
  name: string,
  onClient: (sock: Socket, onMessage: (cb: (msg: unknown) => void) => void) => void,
): Promise<ControlServer> {
  const dir = runDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = socketPath(name);
  await ensureNotRunning(name);
  if (existsSync(path)) unlinkSync(path); // left by a manager that did not stop cleanly
  const server = createServer((sock) => {
    let handler: (msg: unknown) => void = () => {};
    lineReader(sock, (m) => handler(m));
    sock.on('error', () => {});
    onClient(sock, (cb) => {
      handler = cb;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    server,
    path,
    close() {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

/** A client connection with request/response matching by id. */
export class ControlClient {
  private readonly sock: Socket;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  /** unsolicited messages (notices) */
  onNotice: (n: Notice) => void = () => {};
  /** the connection closed (the manager went away) */
  onClose: () => void = () => {};

  private constructor(sock: Socket) {
    this.sock = sock;
    lineReader(sock, (m) => {
      const msg = m as Reply | Notice;
      if ('id' in msg && typeof msg.id === 'number' && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id)!;
        this.pending.delete(msg.id);
        p.resolve(msg);
      } else {
        this.onNotice(msg as Notice);
      }
    });
    sock.on('close', () => {
      for (const p of this.pending.values())
        p.reject(new NfcError('NFC_ERR_CONTROL', 'the manager closed the control connection'));
      this.pending.clear();
      this.onClose();
    });
    sock.on('error', () => {});
  }

  static connect(name: string, timeoutMs = 3000): Promise<ControlClient> {
    const path = socketPath(name);
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const t = setTimeout(() => {
        sock.destroy();
        reject(new NfcError('NFC_ERR_CONTROL', `no answer from ${path}`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve(new ControlClient(sock));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(
          new NfcError('NFC_ERR_CONTROL', `cannot reach the manager "${name}" at ${path}: ${err.code ?? err.message}`, {
            fix: `start it first (nfchain manager --name ${name}, or nfchain start <topology>), or pass the right --name`,
          }),
        );
      });
    });
  }

  /** Sends a request and waits for its answer; an error answer rejects with its code. */
  async request<R extends Reply>(req: RequestBody, timeoutMs = 10_000): Promise<R> {
    if (this.sock.destroyed) throw new NfcError('NFC_ERR_CONTROL', 'the manager closed the control connection');
    const id = this.nextId++;
    const p = new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      setTimeout(() => {
        if (this.pending.delete(id))
          reject(new NfcError('NFC_ERR_CONTROL', `the manager did not answer "${req.type}" within ${timeoutMs} ms`));
      }, timeoutMs).unref();
    });
    send(this.sock, { ...req, id } as Request);
    const r = await p;
    if (r.type === 'error') {
      // The manager answers with one of this build's codes; a code this build does not know
      // (another version's manager) is kept in the message.
      if (r.code in ErrorCodes) throw new NfcError(r.code as ErrorCode, r.message);
      throw new NfcError('NFC_ERR_CONTROL', `${r.message} (${r.code})`);
    }
    return r as R;
  }

  /** True once the connection is closed (either side). */
  get closed(): boolean {
    return this.sock.destroyed;
  }

  close(): void {
    this.sock.end();
  }
}
