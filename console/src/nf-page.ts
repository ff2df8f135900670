/**
 * One NF's page (#/nf/<nfId>): what it is, its counters (with their rates), the counters and
 * gauges it declared, its options, its latency when it records it, and its rate chart.
 */
import type { ManagerEvent, ManagerStatus, NfStatus } from './api-types.js';
import { ChartGroup, COLORS, type TimeView } from './charts.js';
import { byId, clock, h, int, pps, si, table } from './dom.js';
import type { Store } from './store.js';
import { latencyTable } from './tables.js';

export class NfPage {
  private nfId = -1;
  private last: { nf: NfStatus; time: number } | undefined;
  private prev: { counters: Record<string, number>; time: number } | undefined;
  private charts: ChartGroup | undefined;
  private crash: ManagerEvent | undefined;

  constructor(
    private readonly store: Store,
    private readonly view: TimeView,
    /** an NF's tag from the events, for one that is not in the status */
    private readonly tagOf: (nfId: number) => string | undefined,
  ) {}

  show(nfId: number, st: ManagerStatus | undefined): void {
    if (nfId !== this.nfId) {
      this.nfId = nfId;
      this.last = undefined;
      this.prev = undefined;
      this.crash = undefined;
      this.charts?.destroy();
      this.charts = new ChartGroup(byId('nf-charts'), this.store, this.view, 200);
      byId('nf-title').textContent = `NF #${nfId}`;
      for (const id of ['nf-info', 'nf-counters', 'nf-metrics', 'nf-options', 'nf-latency']) byId(id).replaceChildren();
    }
    if (st) this.update(st);
  }

  hide(): void {
    this.charts?.destroy();
    this.charts = undefined;
    this.nfId = -1;
  }

  /** A crash of this NF, from the event log. */
  crashed(e: ManagerEvent): void {
    if (e.nfId === this.nfId) this.crash = e;
  }

  update(st: ManagerStatus): void {
    if (this.nfId < 0) return;
    const nf = st.nfs.find((n) => n.nfId === this.nfId);
    const page = byId('page-nf');
    page.dataset.nfId = String(this.nfId);
    page.dataset.present = String(nf !== undefined);
    const notice = byId('nf-notice');
    if (!nf) {
      const seen = this.last;
      notice.hidden = false;
      notice.textContent =
        `NF #${this.nfId} is not in the manager's status now` +
        (this.crash ? ` (crashed at ${clock(this.crash.time)}: ${this.crash.message})` : '') +
        (seen ? `; what follows is as it was at ${clock(seen.time * 1000)}.` : '.');
      byId('nf-details').hidden = !seen;
      if (seen) this.render(seen.nf, undefined);
      else {
        const tag = this.tagOf(this.nfId);
        if (tag !== undefined) {
          byId('nf-title').textContent = `NF ${tag}`;
          this.chart(tag);
        }
      }
      return;
    }
    notice.hidden = true;
    byId('nf-details').hidden = false;
    const rates = this.counterRates(nf, st.time);
    this.last = { nf, time: st.time };
    this.render(nf, rates);
  }

  private counterRates(nf: NfStatus, time: number): Record<string, number> | undefined {
    const prev = this.prev;
    this.prev = { counters: nf.counters, time };
    if (!prev || time <= prev.time) return undefined;
    const dt = time - prev.time;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(nf.counters)) {
      const p = prev.counters[k];
      if (p !== undefined && v >= p) out[k] = (v - p) / dt;
    }
    return out;
  }

  private render(nf: NfStatus, rates: Record<string, number> | undefined): void {
    document.title = `${nf.tag} · nfchain`;
    byId('nf-title').textContent = `NF ${nf.tag}`;
    const info: [string, string][] = [
      ['name', nf.name],
      ['service', String(nf.service)],
      ['state', nf.state],
      ['pid', nf.inline ? `${nf.pid} (inline: the manager's loop)` : String(nf.pid)],
      ['cpu', nf.cpu < 0 ? '–' : String(nf.cpu)],
      ['rx', pps(nf.rates?.rxPps)],
      ['tx', pps(nf.rates?.txPps)],
      ['drop', pps(nf.rates?.dropPps)],
    ];
    if (nf.members) info.push(['fused group', nf.members.map((m) => `${m.name} (service ${m.service})`).join(', ')]);
    byId('nf-info').replaceChildren(...info.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]));

    const counters = Object.entries(nf.counters);
    byId('nf-counters').replaceChildren(
      counters.length === 0
        ? h('p', { class: 'empty' }, 'no counters')
        : table(
            ['counter', 'value', 'per second'],
            counters.map(([k, v]) => [
              h('span', { 'data-counter': k }, k),
              h('span', { class: v > 0 && k.startsWith('drop') ? 'bad' : '', 'data-counter-value': k }, int(v)),
              rates?.[k] !== undefined ? si(rates[k]) : '–',
            ]),
            [false, true, true],
          ),
    );

    const metrics = nf.metrics ?? [];
    const hasMember = metrics.some((m) => m.member !== undefined);
    byId('nf-metrics').replaceChildren(
      metrics.length === 0
        ? h('p', { class: 'empty' }, 'this NF declares no counters or gauges')
        : table(
            [...(hasMember ? ['member'] : []), 'name', 'kind', 'value', 'help'],
            metrics.map((m) => [
              ...(hasMember ? [m.member ?? ''] : []),
              h('span', { 'data-metric': m.name }, m.name),
              m.kind,
              Number.isInteger(m.value) ? int(m.value) : m.value.toPrecision(4),
              h('span', { class: 'help' }, m.help),
            ]),
            [...(hasMember ? [false] : []), false, false, true, false],
          ),
    );

    const opts = nf.options;
    byId('nf-options').replaceChildren(
      !opts
        ? h('p', { class: 'empty' }, 'not known (the NF registered by itself)')
        : Object.keys(opts).length === 0
          ? h('p', { class: 'empty' }, 'none')
          : table(
              ['option', 'value'],
              Object.entries(opts).map(([k, v]) => [
                h('span', { 'data-option': k }, k),
                h('code', {}, typeof v === 'string' ? v : JSON.stringify(v)),
              ]),
            ),
    );

    const lat = byId('nf-latency-section');
    lat.hidden = !nf.latency;
    if (nf.latency) byId('nf-latency').replaceChildren(latencyTable([nf.latency], 'NF'));

    this.chart(nf.tag);
  }

  private chart(tag: string): void {
    this.charts?.setSpecs([
      {
        id: `nf:${tag}`,
        title: `${tag}: packets per second`,
        unit: 'pps',
        series: [
          { key: `nf:${tag}:rx`, label: 'rx', color: COLORS.rx },
          { key: `nf:${tag}:tx`, label: 'tx', color: COLORS.tx },
          { key: `nf:${tag}:drop`, label: 'drop', color: COLORS.drop },
        ],
      },
    ]);
  }
}
