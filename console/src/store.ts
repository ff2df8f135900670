/**
 * The rate history the charts draw: one sample a second, up to an hour, keyed as
 * `/api/history` keys its series (port:<name>:rx|tx, nf:<tag>:rx|tx|drop, drops,
 * latency:<chain>:p50|p99). Loaded from /api/history, then appended to from every status.
 */
import type { History, ManagerStatus } from './api-types.js';

export const MAX_SAMPLES = 3600;

export class Store {
  time: number[] = [];
  readonly series = new Map<string, (number | null)[]>();
  /** bumped when a series appears or goes, so the charts know to rebuild */
  version = 0;

  get newest(): number | undefined {
    return this.time[this.time.length - 1];
  }

  get oldest(): number | undefined {
    return this.time[0];
  }

  load(h: History): void {
    this.time = h.time.slice(-MAX_SAMPLES);
    this.series.clear();
    const n = this.time.length;
    for (const [k, v] of Object.entries(h.series)) {
      const vals = v.slice(-n);
      while (vals.length < n) vals.unshift(null);
      if (vals.some((x) => x !== null)) this.series.set(k, vals);
    }
    this.version++;
  }

  clear(): void {
    this.time = [];
    this.series.clear();
    this.version++;
  }

  /**
   * One sample; ignored unless it is most of a second newer than the last (the console polls
   * twice a second, and the history has a point a second: the charts keep that pace).
   */
  append(t: number, values: Map<string, number | null>): boolean {
    const last = this.newest;
    if (last !== undefined && t < last + 0.9) return false;
    const n = this.time.length;
    this.time.push(t);
    for (const [k, arr] of this.series) arr.push(values.get(k) ?? null);
    for (const [k, v] of values) {
      if (this.series.has(k) || v === null) continue;
      const arr: (number | null)[] = new Array<number | null>(n).fill(null);
      arr.push(v);
      this.series.set(k, arr);
      this.version++;
    }
    if (this.time.length > MAX_SAMPLES) {
      const cut = this.time.length - MAX_SAMPLES;
      this.time.splice(0, cut);
      for (const [k, arr] of this.series) {
        arr.splice(0, cut);
        // A series that is all gaps now (an NF gone for an hour) goes.
        if (arr[0] === null && arr.every((x) => x === null)) {
          this.series.delete(k);
          this.version++;
        }
      }
    }
    return true;
  }

  /** Keys with a prefix, in the order they appeared. */
  keys(prefix: string): string[] {
    return [...this.series.keys()].filter((k) => k.startsWith(prefix));
  }

  /** Copies, for a chart: [time, ...series] (missing series are all gaps). */
  columns(keys: string[]): [number[], ...(number | null)[][]] {
    const n = this.time.length;
    return [
      this.time.slice(),
      ...keys.map((k) => this.series.get(k)?.slice() ?? new Array<number | null>(n).fill(null)),
    ];
  }
}

/** The values a status adds to the history, keyed as the server keys them. */
export function sample(s: ManagerStatus): Map<string, number | null> {
  const v = new Map<string, number | null>();
  for (const p of s.ports) {
    if (!p.rates) continue;
    v.set(`port:${p.name}:rx`, p.rates.rxPps);
    v.set(`port:${p.name}:tx`, p.rates.txPps);
  }
  let rated = s.ports.some((p) => p.rates !== undefined);
  for (const n of s.nfs) {
    if (!n.rates) continue;
    rated = true;
    v.set(`nf:${n.tag}:rx`, n.rates.rxPps);
    v.set(`nf:${n.tag}:tx`, n.rates.txPps);
    v.set(`nf:${n.tag}:drop`, n.rates.dropPps);
  }
  if (s.drops && rated)
    v.set(
      'drops',
      s.drops.reduce((a, d) => a + (d.pps ?? 0), 0),
    );
  for (const l of s.latency ?? []) {
    v.set(`latency:${l.name}:p50`, l.p50);
    v.set(`latency:${l.name}:p99`, l.p99);
  }
  return v;
}
