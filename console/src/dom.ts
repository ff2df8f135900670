/** DOM and SVG building, and number formats. Text always goes in as text (names come from topology files). */

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | number | null | undefined | false;

function apply(e: Element, attrs: Attrs | undefined, children: Child[]): void {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'number' ? String(c) : c);
  }
}

/** An HTML element: h('td', { class: 'num' }, '12'). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  apply(e, attrs, children);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  apply(e, attrs, children);
  return e;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`console: no element #${id} in the page`);
  return e as T;
}

/** A table: a header row and body rows, each cell a string or a node; numeric columns right-aligned. */
export function table(head: string[], rows: Child[][], numeric: boolean[] = []): HTMLTableElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...head.map((x, i) => h('th', { class: numeric[i] ? 'num' : undefined }, x)))),
    h(
      'tbody',
      {},
      ...rows.map((r) => h('tr', {}, ...r.map((c, i) => h('td', { class: numeric[i] ? 'num' : undefined }, c)))),
    ),
  );
}

/** 1234567 → "1.23 M", 12345 → "12.3 k", 999 → "999". */
export function si(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  const fmt = (v: number, unit: string): string => {
    const d = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return `${(x < 0 ? -v : v).toFixed(Math.min(d, digits))} ${unit}`.trimEnd();
  };
  if (a >= 1e9) return fmt(a / 1e9, 'G');
  if (a >= 1e6) return fmt(a / 1e6, 'M');
  if (a >= 1e3) return fmt(a / 1e3, 'k');
  return a === Math.round(a) ? String(x) : fmt(a, '');
}

/** A packet rate: "12.3 kpps". */
export function pps(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${si(x)}pps`.replace(/(\d)pps$/, '$1 pps');
}

/** A bit rate: "6.40 Mbit/s". */
export function bps(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${si(x)}bit/s`.replace(/(\d)bit/, '$1 bit');
}

/** An integer with thin spaces between thousands: 16 384. */
export function int(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return Math.round(x)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

/** Microseconds: "41.2 µs", "1.25 ms". */
export function usec(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x >= 1000) return `${(x / 1000).toFixed(x >= 100_000 ? 0 : 2)} ms`;
  return `${x.toFixed(x >= 100 ? 0 : 1)} µs`;
}

export function percent(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(1)} %`;
}

/** Seconds → "3 d 4 h", "2 h 05 min", "4 min 07 s", "12 s". */
export function duration(sec: number): string {
  const t = Math.max(0, Math.floor(sec));
  const d = Math.floor(t / 86400);
  const hh = Math.floor((t % 86400) / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = t % 60;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${p2(mm)} min`;
  if (mm > 0) return `${mm} min ${p2(ss)} s`;
  return `${ss} s`;
}

/** A local wall-clock time, HH:MM:SS (with milliseconds when asked). */
export function clock(ms: number, millis = false): string {
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const base = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  return millis ? `${base}.${String(d.getMilliseconds()).padStart(3, '0')}` : base;
}
