/**
 * The manager's HTTP API as the console uses it. The page is opened as `/?token=<token>` when
 * the manager has a token; every request the console makes carries it on as a query parameter
 * (EventSource cannot set headers). Only same-origin, relative URLs: nothing leaves the host.
 */
import type { History, ManagerEvent, ManagerStatus } from './api-types.js';

const token = new URLSearchParams(location.search).get('token');

/** A path with the token added when the page has one. */
export function apiUrl(path: string, params: Record<string, string> = {}): string {
  const q = new URLSearchParams(params);
  if (token !== null) q.set('token', token);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A failed request: `status` is the HTTP status, or 0 when there was no answer. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** GET a JSON document, with a deadline. */
export async function getJSON<T>(path: string, timeoutMs = 5000): Promise<T> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(apiUrl(path), { signal: ctl.signal, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(ctl.signal.aborted ? `${path}: no answer in ${timeoutMs} ms` : `${path}: ${String(e)}`, 0);
    }
    if (!res.ok) {
      const why =
        res.status === 401 ? 'unauthorized: open the console with ?token=<the manager token>' : res.statusText;
      throw new ApiError(`${path}: HTTP ${res.status} ${why}`, res.status);
    }
    return (await res.json()) as T;
  } finally {
    clearTimeout(timer);
  }
}

export const getStatus = (): Promise<ManagerStatus> => getJSON<ManagerStatus>('/api/status');
export const getHistory = (): Promise<History> => getJSON<History>('/api/history', 15_000);

/**
 * The event stream: the backlog, then live events, each given once (by seq). EventSource
 * reconnects by itself and sends Last-Event-ID, so a reconnect gets only what it missed.
 */
export class EventStream {
  private es: EventSource | undefined;
  private lastSeq = 0;

  constructor(
    private readonly onEvent: (e: ManagerEvent) => void,
    private readonly onState: (open: boolean) => void,
  ) {}

  open(): void {
    this.close();
    this.lastSeq = 0;
    const es = new EventSource(apiUrl('/api/events'));
    es.addEventListener('nfchain', (m: MessageEvent<string>) => {
      let e: ManagerEvent;
      try {
        e = JSON.parse(m.data) as ManagerEvent;
      } catch {
        return;
      }
      if (typeof e.seq === 'number' && e.seq <= this.lastSeq) return;
      this.lastSeq = e.seq;
      this.onEvent(e);
    });
    es.addEventListener('open', () => this.onState(true));
    es.addEventListener('error', () => this.onState(false));
    this.es = es;
  }

  close(): void {
    this.es?.close();
    this.es = undefined;
  }
}
