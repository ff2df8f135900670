/**
 * The event log: newest first, from the /api/events stream (its backlog, then live events).
 * Each entry is <li data-type="<type>" data-seq="<seq>">; crashes are highlighted.
 */
import type { ManagerEvent } from './api-types.js';
import { clock, h } from './dom.js';

const MAX_SHOWN = 500;

const CLASS: Record<string, string> = {
  'nf-crashed': 'crash',
  'nf-stalled': 'crash',
  'manager-stopping': 'warn',
  'nf-stopped': 'warn',
  'port-link': 'info',
};

export class EventLog {
  private count = 0;
  /** the tag each NF id had in the events (the page of an NF that is gone still finds its series) */
  readonly tags = new Map<number, string>();
  private readonly filter: HTMLInputElement;

  constructor(
    private readonly list: HTMLUListElement,
    filter: HTMLInputElement,
    private readonly onCrash: (e: ManagerEvent) => void,
  ) {
    this.filter = filter;
    filter.addEventListener('input', () => this.applyFilter());
  }

  clear(): void {
    this.list.replaceChildren();
    this.count = 0;
    this.tags.clear();
  }

  add(e: ManagerEvent): void {
    const nf =
      e.nfId !== undefined ? h('a', { href: `#/nf/${e.nfId}`, class: 'ev-nf' }, e.nf ?? `#${e.nfId}`) : (e.nf ?? '');
    const li = h(
      'li',
      { 'data-type': e.type, 'data-seq': e.seq, class: CLASS[e.type] ?? undefined },
      h('time', { datetime: new Date(e.time).toISOString() }, clock(e.time, true)),
      h('span', { class: 'ev-type' }, e.type),
      nf,
      h('span', { class: 'ev-msg' }, e.message),
    );
    if (e.nfId !== undefined && e.nf !== undefined) this.tags.set(e.nfId, e.nf);
    if (e.reclaimed !== undefined) li.title = `${e.reclaimed} buffers reclaimed`;
    this.list.prepend(li);
    this.count++;
    if (this.count > MAX_SHOWN) {
      this.list.lastElementChild?.remove();
      this.count--;
    }
    this.applyFilterTo(li);
    if (e.type === 'nf-crashed') this.onCrash(e);
  }

  private applyFilterTo(li: HTMLElement): void {
    const f = this.filter.value.trim().toLowerCase();
    li.hidden = f !== '' && !li.textContent?.toLowerCase().includes(f);
  }

  private applyFilter(): void {
    for (const li of this.list.children) this.applyFilterTo(li as HTMLElement);
  }
}
