/**
 * The rate and latency charts (uPlot) and the time bar that drives them all: a window of 1 to
 * 60 minutes (10 by default), live or paused, and a slider back through the hour the store
 * keeps. Paused, the charts stay as they are while samples keep arriving in the store; the
 * slider (which pauses) moves the window back and forth over them.
 */
import type UPlot from 'uplot';
import { byId, clock, h, pps, si, usec } from './dom.js';
import type { Store } from './store.js';

export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
  dash?: number[];
}

export interface ChartSpec {
  /** stable: data-chart="<id>" on the chart's box */
  id: string;
  title: string;
  unit: 'pps' | 'us';
  series: SeriesSpec[];
  /** a link under the title (the NF page) */
  href?: string;
}

export const COLORS = {
  rx: '#1f6fb4',
  tx: '#2e9e44',
  drop: '#d62728',
  drops: '#d62728',
  cycle: ['#1f6fb4', '#ff7f0e', '#2e9e44', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'],
};

const SPANS = [60, 300, 600, 1800, 3600];
const DEFAULT_SPAN = 600;

/** The shared time window: live (follows the newest sample) or paused at a right edge. */
export class TimeView {
  paused = false;
  /** the window's right edge while paused (seconds since the epoch) */
  end = 0;
  span = DEFAULT_SPAN;
  private readonly groups = new Set<ChartGroup>();
  private readonly pauseBtn = byId<HTMLButtonElement>('pause');
  private readonly spanSel = byId<HTMLSelectElement>('span');
  private readonly slider = byId<HTMLInputElement>('scroll');
  private readonly label = byId('view-label');

  constructor(private readonly store: Store) {
    this.spanSel.replaceChildren(
      ...SPANS.map((s) => h('option', { value: s, selected: s === this.span }, s < 3600 ? `${s / 60} min` : '1 h')),
    );
    this.pauseBtn.addEventListener('click', () => (this.paused ? this.resume() : this.pause()));
    this.spanSel.addEventListener('change', () => {
      this.span = Number(this.spanSel.value) || DEFAULT_SPAN;
      this.redraw();
    });
    this.slider.addEventListener('input', () => this.scrollTo(Number(this.slider.value)));
    document.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement | null;
      if (e.key === ' ' && t?.tagName !== 'INPUT' && t?.tagName !== 'SELECT' && t?.tagName !== 'BUTTON') {
        e.preventDefault();
        this.pauseBtn.click();
      }
    });
  }

  add(g: ChartGroup): void {
    this.groups.add(g);
  }

  remove(g: ChartGroup): void {
    this.groups.delete(g);
  }

  /**
   * The window now: [min, max] in seconds since the epoch. Live, and with less history than the
   * window (a manager just started), it spans what there is (a minute at least).
   */
  range(): [number, number] {
    const newest = this.store.newest ?? Date.now() / 1000;
    if (this.paused) return [this.end - this.span, this.end];
    const oldest = this.store.oldest ?? newest;
    return [Math.max(newest - this.span, Math.min(oldest, newest - 60)), newest];
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.end = this.store.newest ?? Date.now() / 1000;
    this.updateBar();
  }

  resume(): void {
    this.paused = false;
    this.redraw();
  }

  /** The slider: its value is seconds from the oldest sample's window to the right edge. */
  private scrollTo(v: number): void {
    const oldest = this.store.oldest;
    if (oldest === undefined) return;
    if (v >= Number(this.slider.max)) {
      this.resume();
      return;
    }
    this.paused = true;
    this.end = oldest + this.span + v;
    this.redraw();
  }

  /** A new sample arrived: live charts move; paused ones stay, only the bar moves. */
  tick(): void {
    if (!this.paused) this.redraw();
    else this.updateBar();
  }

  redraw(): void {
    for (const g of this.groups) g.draw();
    this.updateBar();
  }

  private updateBar(): void {
    const oldest = this.store.oldest;
    const newest = this.store.newest;
    this.pauseBtn.textContent = this.paused ? '▶ Resume' : '❚❚ Pause';
    this.pauseBtn.setAttribute('aria-pressed', String(this.paused));
    document.body.dataset.paused = String(this.paused);
    if (oldest === undefined || newest === undefined) {
      this.slider.max = '0';
      this.slider.value = '0';
      this.label.textContent = 'no samples yet';
      return;
    }
    const max = Math.max(0, Math.round(newest - oldest - this.span));
    this.slider.max = String(max);
    const [lo, hi] = this.range();
    this.slider.value = String(this.paused ? Math.max(0, Math.min(max, Math.round(hi - oldest - this.span))) : max);
    const fmt = (t: number): string => new Date(t * 1000).toLocaleTimeString([], { hour12: false });
    const kept = Math.round(newest - oldest);
    this.label.textContent = this.paused
      ? `paused: ${fmt(lo)} – ${fmt(hi)} (${Math.round(newest - hi)} s behind; ${kept} s kept)`
      : `live: last ${hi - lo >= 120 ? `${Math.round((hi - lo) / 60)} min` : `${Math.round(hi - lo)} s`} (${kept} s kept)`;
  }
}

/** Time ticks in 24-hour local time: HH:MM when they are a minute or more apart, else HH:MM:SS. */
function timeAxis(_u: UPlot, splits: number[]): string[] {
  const step = splits.length > 1 ? splits[1]! - splits[0]! : 1;
  return splits.map((t) => (step >= 60 ? clock(t * 1000).slice(0, 5) : clock(t * 1000)));
}

function yRange(_u: UPlot, _min: number | null, max: number | null): UPlot.Range.MinMax {
  const m = max === null || !Number.isFinite(max) || max <= 0 ? 1 : max * 1.1;
  return [0, m];
}

function axisValue(unit: 'pps' | 'us'): (u: UPlot, splits: number[]) => string[] {
  // Ticks without trailing zeros: 5 k, 2.5 k, 10 k.
  const trim = (x: string): string => x.replace(/(\.\d*?)0+(?=\s|$)/, '$1').replace(/\.(?=\s|$)/, '');
  return (_u, splits) => splits.map((v) => trim(unit === 'us' ? usec(v) : si(v)));
}

/** A set of charts in one container, rebuilt when their specs change, drawn from the store. */
export class ChartGroup {
  private charts = new Map<string, { spec: ChartSpec; plot: UPlot; box: HTMLElement }>();
  private signature = '';
  private readonly resize: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private readonly store: Store,
    private readonly view: TimeView,
    private readonly height = 150,
  ) {
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
    view.add(this);
  }

  /** Sets the charts this group shows (by spec); unchanged specs keep their chart. */
  setSpecs(specs: ChartSpec[]): void {
    const sig = JSON.stringify(specs);
    if (sig === this.signature) return;
    this.signature = sig;
    const keep = new Map<string, { spec: ChartSpec; plot: UPlot; box: HTMLElement }>();
    for (const spec of specs) {
      const old = this.charts.get(spec.id);
      if (old && JSON.stringify(old.spec) === JSON.stringify(spec)) {
        keep.set(spec.id, old);
        this.charts.delete(spec.id);
      } else keep.set(spec.id, this.make(spec));
    }
    for (const c of this.charts.values()) c.plot.destroy();
    this.charts = keep;
    this.container.replaceChildren(...[...keep.values()].map((c) => c.box));
    if (specs.length === 0) this.container.append(h('p', { class: 'empty' }, 'no data yet'));
    this.fit();
    this.draw();
  }

  private width(box: HTMLElement): number {
    const w = box.clientWidth || this.container.clientWidth;
    return Math.max(240, Math.floor(w) - 2);
  }

  private make(spec: ChartSpec): { spec: ChartSpec; plot: UPlot; box: HTMLElement } {
    const title = h('div', { class: 'chart-title' }, spec.href ? h('a', { href: spec.href }, spec.title) : spec.title);
    const box = h('div', { class: 'chart', 'data-chart': spec.id }, title);
    const fmt = spec.unit === 'us' ? usec : pps;
    const opts: UPlot.Options = {
      width: this.width(this.container) / (this.container.classList.contains('grid') ? 2 : 1),
      height: this.height,
      scales: { x: { time: true }, y: { range: yRange } },
      series: [
        { label: 'time', value: (_u: UPlot, v: number | null) => (v === null ? '–' : clock(v * 1000)) },
        ...spec.series.map(
          (s): UPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            ...(s.dash ? { dash: s.dash } : {}),
            value: (_u: UPlot, v: number | null) => (v === null ? '–' : fmt(v)),
          }),
        ),
      ],
      axes: [
        {
          stroke: '#555',
          grid: { stroke: '#eee', width: 1 },
          ticks: { stroke: '#ddd', width: 1 },
          values: timeAxis,
        },
        {
          stroke: '#555',
          size: 64,
          grid: { stroke: '#eee', width: 1 },
          ticks: { stroke: '#ddd', width: 1 },
          values: axisValue(spec.unit),
        },
      ],
      cursor: { sync: { key: 'nfchain' }, drag: { x: false, y: false, setScale: false } },
      legend: { show: true },
      padding: [8, 28, 0, 0],
    };
    const plot = new uPlot(opts, this.data(spec), box);
    return { spec, plot, box };
  }

  private data(spec: ChartSpec): UPlot.AlignedData {
    return this.store.columns(spec.series.map((s) => s.key));
  }

  /** New data in every chart, and the window the time bar says. */
  draw(): void {
    if (this.container.offsetParent === null) return; // hidden: drawn when shown
    const [min, max] = this.view.range();
    for (const c of this.charts.values()) {
      c.plot.batch(() => {
        c.plot.setData(this.data(c.spec), false);
        c.plot.setScale('x', { min, max });
      });
    }
  }

  fit(): void {
    for (const c of this.charts.values()) {
      const w = this.width(c.box);
      if (Math.abs(c.plot.width - w) > 2) c.plot.setSize({ width: w, height: this.height });
    }
  }

  destroy(): void {
    this.view.remove(this);
    this.resize.disconnect();
    for (const c of this.charts.values()) c.plot.destroy();
    this.charts.clear();
    this.container.replaceChildren();
  }
}
