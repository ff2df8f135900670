/**
 * The manager's events (cold): NFs registered, started, stopped, crashed (and what was
 * reclaimed), scaled; chains and flow rules changed; port links going up or down. Each event is
 * a line of the manager's log too. They go to whoever follows them — the HTTP endpoint's
 * `/api/events` stream, `nfchain events` on the control socket — and to the events log file,
 * one JSON object a line, appended (the file moves to `<file>.1` past 16 MiB). The last 1000 are
 * kept, so a follower that connects late sees what it missed.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runDir } from '../control/socket.js';
import type { EventType, ManagerEvent } from '../protocol/messages.js';

const BACKLOG = 1000;
const ROTATE_BYTES = 16 * 1024 * 1024;

/** The events log's default place: beside the control socket, `<run dir>/<name>.events.jsonl`. */
export function defaultEventsFile(name: string): string {
  return join(runDir(), `${name}.events.jsonl`);
}

export type EventFields = Omit<ManagerEvent, 'seq' | 'time' | 'type' | 'message'>;

export class EventLog {
  private seq = 0;
  private readonly backlog: ManagerEvent[] = [];
  private readonly followers = new Set<(e: ManagerEvent) => void>();
  private fd = -1;
  private written = 0;

  /**
   * `file`: where to append (null: nowhere). A file that cannot be opened is reported through
   * `warn` once and the events still flow to followers.
   */
  constructor(
    readonly file: string | null,
    private readonly warn: (line: string) => void,
  ) {
    if (file === null) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      this.fd = openSync(file, 'a', 0o600);
      this.written = fstatSync(this.fd).size;
    } catch (err) {
      this.warn(`warning: events log ${file}: ${(err as Error).message}; events are not written to a file`);
      this.fd = -1;
    }
  }

  get lastSeq(): number {
    return this.seq;
  }

  emit(type: EventType, message: string, fields: EventFields = {}): ManagerEvent {
    const e: ManagerEvent = { seq: ++this.seq, time: Date.now(), type, message, ...fields };
    this.backlog.push(e);
    if (this.backlog.length > BACKLOG) this.backlog.shift();
    if (this.fd >= 0) this.write(e);
    for (const f of this.followers) {
      try {
        f(e);
      } catch {
        /* a follower's failure is its own */
      }
    }
    return e;
  }

  /** Events after `seq` still kept (the newest last). */
  since(seq = 0, max = BACKLOG): ManagerEvent[] {
    const out = this.backlog.filter((e) => e.seq > seq);
    return out.length > max ? out.slice(out.length - max) : out;
  }

  /** Calls `f` for every event from now on; returns the way to stop. */
  follow(f: (e: ManagerEvent) => void): () => void {
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  close(): void {
    this.followers.clear();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private write(e: ManagerEvent): void {
    const line = `${JSON.stringify(e)}\n`;
    try {
      if (this.written + line.length > ROTATE_BYTES && this.file !== null) {
        closeSync(this.fd);
        renameSync(this.file, `${this.file}.1`);
        this.fd = openSync(this.file, 'a', 0o600);
        this.written = 0;
      }
      this.written += writeSync(this.fd, line);
    } catch (err) {
      this.warn(`warning: events log ${this.file}: ${(err as Error).message}; no more events are written to it`);
      try {
        closeSync(this.fd);
      } catch {
        /* gone already */
      }
      this.fd = -1;
    }
  }
}
