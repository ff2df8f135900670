/** The overview's tables: ports, NFs, drops by cause, latency per chain, the data-plane loops. */
import type { DropEntry, LatencySummary, ManagerStatus } from './api-types.js';
import { bps, h, int, percent, pps, table, usec } from './dom.js';

export function portsTable(st: ManagerStatus): HTMLElement {
  return table(
    ['port', 'driver', 'rx', 'tx', 'rx', 'tx', 'drops', 'rx packets', 'tx packets', 'link'],
    st.ports.map((p) => {
      const lost = p.rxNoBuffer + p.kernelDrops + p.rxOversize + p.rxMalformed + p.txDropped;
      return [
        h('span', { 'data-port': p.name }, p.name),
        p.driver,
        pps(p.rates?.rxPps),
        pps(p.rates?.txPps),
        bps(p.rates?.rxBps),
        bps(p.rates?.txBps),
        p.rates && p.rates.dropPps > 0 ? h('span', { class: 'bad' }, pps(p.rates.dropPps)) : int(lost),
        int(p.rxPackets),
        int(p.txPackets),
        p.link ? `${p.link.interface} ${p.link.up ? 'up' : 'down'} mtu ${p.link.mtu}` : '',
      ];
    }),
    [false, false, true, true, true, true, true, true, true, false],
  );
}

export function nfsTable(st: ManagerStatus): HTMLElement {
  const rows = st.nfs.map((n) => [
    h('a', { href: `#/nf/${n.nfId}`, 'data-nf-link': n.nfId }, n.tag),
    n.members ? `fused: ${n.members.map((m) => `${m.name} (svc ${m.service})`).join(', ')}` : String(n.service),
    h('span', { class: n.state === 'running' ? 'ok' : 'warn' }, n.state),
    n.inline ? 'inline' : String(n.pid),
    n.cpu < 0 ? '–' : String(n.cpu),
    pps(n.rates?.rxPps),
    pps(n.rates?.txPps),
    n.rates && n.rates.dropPps > 0 ? h('span', { class: 'bad' }, pps(n.rates.dropPps)) : pps(n.rates?.dropPps),
  ]);
  if (rows.length === 0) return h('p', { class: 'empty' }, 'no NF registered');
  return table(['NF', 'service', 'state', 'pid', 'cpu', 'rx', 'tx', 'drop'], rows, [
    false,
    false,
    false,
    true,
    true,
    true,
    true,
    true,
  ]);
}

/** Every drop counter that is not zero, by rate, and the same summed per cause. */
export function dropsTables(st: ManagerStatus): HTMLElement {
  const drops = [...(st.drops ?? [])].sort((a, b) => (b.pps ?? 0) - (a.pps ?? 0) || b.count - a.count);
  if (drops.length === 0) return h('p', { class: 'empty', id: 'no-drops' }, 'no drops');
  const byCause = new Map<string, { count: number; pps: number; where: Set<string> }>();
  for (const d of drops) {
    const c = byCause.get(d.reason) ?? { count: 0, pps: 0, where: new Set<string>() };
    c.count += d.count;
    c.pps += d.pps ?? 0;
    c.where.add(d.where);
    byCause.set(d.reason, c);
  }
  const causes = [...byCause.entries()].sort((a, b) => b[1].pps - a[1].pps || b[1].count - a[1].count);
  const row = (d: DropEntry) => [
    d.where,
    d.reason,
    h('span', { class: (d.pps ?? 0) > 0 ? 'bad' : '' }, pps(d.pps)),
    int(d.count),
  ];
  const t1 = table(
    ['cause', 'rate', 'in all', 'where'],
    causes.map(([reason, c]) => [
      h('span', { 'data-cause': reason }, reason),
      h('span', { class: c.pps > 0 ? 'bad' : '' }, pps(c.pps)),
      int(c.count),
      [...c.where].join(', '),
    ]),
    [false, true, true, false],
  );
  const t2 = table(['where', 'cause', 'rate', 'in all'], drops.map(row), [false, false, true, true]);
  return h('div', {}, h('h3', {}, 'by cause'), t1, h('h3', {}, 'by counter'), t2);
}

export function latencyTable(list: LatencySummary[] | undefined, what = 'chain'): HTMLElement {
  if (!list || list.length === 0) return h('p', { class: 'empty' }, 'no latency recorded yet');
  return table(
    [what, 'packets', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'],
    list.map((l) => [
      h('span', { 'data-latency': l.name }, l.name),
      int(l.count),
      usec(l.mean),
      usec(l.p50),
      usec(l.p90),
      usec(l.p99),
      usec(l.p999),
      usec(l.max),
    ]),
    [false, true, true, true, true, true, true, true],
  );
}

export function loopsTable(st: ManagerStatus): HTMLElement {
  const loops = st.loopStats;
  if (!loops || loops.length === 0) return h('p', { class: 'empty' }, 'no loop statistics');
  const nfByTag = new Map(st.nfs.map((n) => [n.tag, n]));
  return table(
    ['loop', 'cpu', 'busy', '', 'pkts/burst'],
    loops.map((l) => {
      const nf = nfByTag.get(l.loop);
      const name = l.loop === 'rx' ? 'manager RX' : l.loop === 'tx' ? 'manager TX' : nf ? `NF ${l.loop}` : `${l.loop}`;
      const busy = l.busy === undefined ? 0 : Math.max(0, Math.min(1, l.busy));
      return [
        nf ? h('a', { href: `#/nf/${nf.nfId}`, 'data-loop': l.loop }, name) : h('span', { 'data-loop': l.loop }, name),
        l.cpu < 0 ? '–' : String(l.cpu),
        percent(l.busy),
        h(
          'span',
          { class: 'bar', title: percent(l.busy) },
          h('span', { class: busy > 0.9 ? 'fill hot' : 'fill', style: `width:${(busy * 100).toFixed(1)}%` }),
        ),
        l.perBurst === undefined ? '–' : l.perBurst.toFixed(1),
      ];
    }),
    [false, true, true, false, true],
  );
}
