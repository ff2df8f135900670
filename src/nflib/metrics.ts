/**
 * The counters and gauges an NF declares (`defineNF({ counters, gauges })`): cells of a float64
 * array — the NF slot's set in the instance's metrics block (shm), or private memory under the
 * harness. One writer (the NF), readers anywhere, as every nfchain counter.
 */
import { NfcError } from '../errors.js';
import { NF_METRICS_MAX } from '../shm/instance-layout.js';
import type { Counter, Gauge, MetricDecl, MetricsSpec } from './define.js';
import { metricDecls } from './define.js';

/** One counter or gauge: a word of a float64 array. Hot path: add/set do not allocate. */
export class MetricCell implements Counter, Gauge {
  constructor(
    private readonly a: Float64Array,
    private readonly i: number,
  ) {}
  add(n = 1): void {
    this.a[this.i]! += n;
  }
  set(v: number): void {
    this.a[this.i] = v;
  }
  get value(): number {
    return this.a[this.i]!;
  }
}

/** One NF's (one member's) declared cells by name. */
export class MetricCells {
  private readonly cells = new Map<string, { cell: MetricCell; kind: 'counter' | 'gauge' }>();

  constructor(
    private readonly nf: string,
    decls: readonly MetricDecl[],
    words: Float64Array,
    /** the word of decls[0] */
    first: number,
  ) {
    decls.forEach((d, i) => {
      this.cells.set(d.name, { cell: new MetricCell(words, first + i), kind: d.kind });
    });
  }

  get(name: string, kind: 'counter' | 'gauge'): MetricCell {
    const c = this.cells.get(name);
    if (c === undefined || c.kind !== kind) {
      const have = [...this.cells].filter(([, v]) => v.kind === kind).map(([k]) => k);
      throw new NfcError('NFC_ERR_NF', `NF ${this.nf}: no ${kind} "${name}" declared`, {
        fix: have.length
          ? `its ${kind}s: ${have.join(', ')}`
          : `declare it: defineNF({ ${kind}s: { ${name}: 'what it counts' }, ... })`,
      });
    }
    return c.cell;
  }
}

/**
 * Every member's cells over one set of words (a process's slot), in metricDecls order; throws
 * when they declare more than NF_METRICS_MAX (cold).
 */
/** What declares metrics: an NF definition. */
type Declares = { counters?: MetricsSpec | undefined; gauges?: MetricsSpec | undefined };

export function memberCells(members: readonly { def: Declares; name: string }[], words: Float64Array): MetricCells[] {
  const all = metricDecls(members);
  if (all.length > NF_METRICS_MAX) {
    throw new NfcError(
      'NFC_ERR_NF',
      `NF ${members.map((m) => m.name).join(' + ')}: ${all.length} counters and gauges declared; a process keeps ${NF_METRICS_MAX} at most`,
    );
  }
  // metricDecls lists each member's declarations in turn: a member's cells are its slice.
  let at = 0;
  return members.map((m) => {
    const n = metricDecls([m]).length;
    const cells = new MetricCells(m.name, all.slice(at, at + n), words, at);
    at += n;
    return cells;
  });
}
