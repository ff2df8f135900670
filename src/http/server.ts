/**
 * The manager's HTTP endpoint (cold; the manager's main thread, never a data-plane loop): the
 * web console, `/metrics`, the JSON API and the event stream.
 *
 *   GET /                 the console (console/index.html; its script and style, uPlot)
 *   GET /metrics          Prometheus text (metrics.ts)
 *   GET /api/status       the status, with rates, latency, loops, drops and the graph
 *   GET /api/history      an hour of per-second points, as columns
 *   GET /api/events       server-sent events: the last 200, then each as it happens
 *                         (?since=<seq> or Last-Event-ID: only later ones)
 *   GET /api/events.json  the kept events as a JSON array
 *
 * Everything reads shared counters or the manager's own state: a request costs the data path
 * nothing but the CPU time of this thread. With a token, every request for data (/metrics,
 * /api/...) needs `Authorization: Bearer <token>` or `?token=<token>` (a browser's EventSource cannot set a
 * header); a wrong or missing one gets 401. Only GET and HEAD; the responses say not to cache.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timingSafeEqual } from 'node:crypto';
import { NfcError } from '../errors.js';
import type { ManagerEvent, ManagerStatus } from '../protocol/messages.js';
import type { EventLog } from '../manager/events.js';
import type { HttpOptions } from '../topology/http-options.js';

/** What the endpoint serves, from the manager. */
export interface HttpSource {
  status(): ManagerStatus;
  history(): unknown;
  metrics(): string;
  readonly events: EventLog;
}

/** The package's root (dist/src/http → three up), where console/ and dist/console/ are. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SSE_BACKLOG = 200;
/** A comment line to every event-stream client this often, so proxies and browsers keep the stream. */
const SSE_KEEPALIVE_MS = 15_000;

interface Asset {
  file: string;
  type: string;
}

function assets(): Map<string, Asset> {
  const m = new Map<string, Asset>();
  m.set('/', { file: join(ROOT, 'console', 'index.html'), type: 'text/html; charset=utf-8' });
  m.set('/index.html', { file: join(ROOT, 'console', 'index.html'), type: 'text/html; charset=utf-8' });
  m.set('/style.css', { file: join(ROOT, 'console', 'style.css'), type: 'text/css; charset=utf-8' });
  try {
    const req = createRequire(import.meta.url);
    const dist = dirname(req.resolve('uplot/dist/uPlot.iife.min.js'));
    m.set('/vendor/uplot.js', { file: join(dist, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' });
    m.set('/vendor/uplot.css', { file: join(dist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' });
  } catch {
    /* uPlot not installed: the console's charts are missing, the rest works */
  }
  return m;
}

export class HttpEndpoint {
  private readonly server: Server;
  private readonly assets = assets();
  private readonly cache = new Map<string, Buffer>();
  private readonly streams = new Set<ServerResponse>();
  private unfollow: () => void = () => {};
  private keepalive: NodeJS.Timeout | undefined;
  url = '';

  constructor(
    private readonly o: HttpOptions,
    private readonly src: HttpSource,
    private readonly log: (line: string) => void,
  ) {
    this.server = createServer((req, res) => this.serve(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Listens; resolves with the URL (the port the kernel gave for port 0). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new NfcError(
            'NFC_ERR_USAGE',
            `manager.http: cannot listen on ${this.o.host}:${this.o.port}: ${err.code ?? err.message}`,
            {
              fix:
                err.code === 'EADDRINUSE'
                  ? 'another process has that port: pick another (0: any free one)'
                  : 'check the address',
            },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const a = this.server.address();
    const port = typeof a === 'object' && a !== null ? a.port : this.o.port;
    const host = this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host;
    this.url = `http://${host}:${port}/`;
    this.unfollow = this.src.events.follow((e) => {
      for (const res of this.streams) writeEvent(res, e);
    });
    this.keepalive = setInterval(() => {
      for (const res of this.streams) res.write(': keepalive\n\n');
    }, SSE_KEEPALIVE_MS);
    this.keepalive.unref();
    if (this.o.remote) {
      this.log(
        `warning: the HTTP endpoint listens on ${this.o.host}, beyond this machine${this.o.token ? '' : ', with no token: anyone who can reach it sees every counter and NF option'}`,
      );
    }
    return this.url;
  }

  /** Closes the listener, every event stream and every open connection. */
  async close(): Promise<void> {
    this.unfollow();
    if (this.keepalive) clearInterval(this.keepalive);
    for (const res of this.streams) res.end();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('only GET and HEAD\n');
      return;
    }
    // The console's own files hold no data (a browser fetches them without the token: a script
    // or style link cannot carry it); the data — /api and /metrics — needs the token.
    const data = url.pathname === '/metrics' || url.pathname.startsWith('/api/');
    if (data && !this.authorized(req, url)) {
      res
        .writeHead(401, { 'WWW-Authenticate': 'Bearer realm="nfchain"', 'Content-Type': 'text/plain' })
        .end('a token is needed: Authorization: Bearer <token>, or ?token=<token>\n');
      return;
    }
    try {
      switch (url.pathname) {
        case '/metrics':
          send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.src.metrics());
          return;
        case '/api/status':
          json(res, this.src.status());
          return;
        case '/api/history':
          json(res, this.src.history());
          return;
        case '/api/events.json':
          json(res, this.src.events.since(sinceOf(req, url)));
          return;
        case '/api/events':
          this.stream(req, res, url);
          return;
      }
      const asset = this.asset(url.pathname);
      if (asset) {
        send(res, 200, asset.type, asset.body);
        return;
      }
      send(res, 404, 'text/plain', `no ${url.pathname} here: /, /metrics, /api/status, /api/history, /api/events\n`);
    } catch (err) {
      this.log(`http: ${url.pathname}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain', `${(err as Error).message}\n`);
      else res.end();
    }
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const want = this.o.token;
    if (want === undefined) return true;
    const h = req.headers.authorization;
    const given = h?.startsWith('Bearer ') ? h.slice(7).trim() : (url.searchParams.get('token') ?? '');
    const a = Buffer.from(given);
    const b = Buffer.from(want);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private stream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 1000\n\n');
    for (const e of this.src.events.since(sinceOf(req, url), SSE_BACKLOG)) writeEvent(res, e);
    this.streams.add(res);
    req.on('close', () => this.streams.delete(res));
  }

  /** A console file: index, style, uPlot, or the compiled script (dist/console/*.js). */
  private asset(path: string): { type: string; body: Buffer } | undefined {
    let a = this.assets.get(path);
    const m = /^\/app\/([a-z0-9-]+\.js)$/.exec(path);
    if (!a && m) a = { file: join(ROOT, 'dist', 'console', m[1]!), type: 'text/javascript; charset=utf-8' };
    if (!a) return undefined;
    let body = this.cache.get(a.file);
    if (!body) {
      try {
        body = readFileSync(a.file);
      } catch {
        return undefined;
      }
      this.cache.set(a.file, body);
    }
    return { type: a.type, body };
  }
}

function sinceOf(req: IncomingMessage, url: URL): number {
  const v = url.searchParams.get('since') ?? req.headers['last-event-id'];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function writeEvent(res: ServerResponse, e: ManagerEvent): void {
  res.write(`id: ${e.seq}\nevent: nfchain\ndata: ${JSON.stringify(e)}\n\n`);
}

function send(res: ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function json(res: ServerResponse, v: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(v));
}
