/**
 * The manager's periodic stats, as OpenNetVM's manager prints them: a ports table (rx/tx
 * packets per second and totals) and an NFs table (tag, id, service, state, rx/tx per second,
 * drops by reason). Rates come from the difference with the previous snapshot. Also used by
 * `nfchain stats`.
 */
import type { LoopPlace, ManagerStatus } from '../protocol/messages.js';
import { ROUTE_DROPS } from './observe.js';

/** Drop counters by reason, as the status and /metrics name them. */
const DROP_REASONS = ROUTE_DROPS;

function fmt(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function drops(c: Record<string, number>): string {
  const parts: string[] = [];
  for (const [k, label] of DROP_REASONS) if ((c[k] ?? 0) > 0) parts.push(`${label} ${fmt(c[k]!)}`);
  return parts.length ? parts.join(', ') : '-';
}

/** Where a loop runs, as text: "on CPU 1 (pinned to 1)", "on CPU 0", "CPU not known yet". */
export function describePlace(p: LoopPlace): string {
  const on = p.cpu >= 0 ? `on CPU ${p.cpu}` : 'CPU not known yet';
  return p.cores ? `${on} (pinned to ${p.cores.join(',')})` : on;
}

/** The two tables as text; `prev` (an earlier snapshot) gives the per-second rates. */
export function formatStats(now: ManagerStatus, prev?: ManagerStatus): string {
  const dt = prev ? Math.max(1e-3, now.time - prev.time) : 0;
  const rate = (cur: number, old: number | undefined): string =>
    prev && old !== undefined ? fmt((cur - old) / dt) : '-';
  const lines: string[] = [];
  lines.push(
    `nfchain "${now.name}"  up ${now.uptime.toFixed(0)} s  pool ${now.pool.free}/${now.pool.count} free  chain: ${now.chain.join(' → ') || '(empty)'}`,
    `  loops: RX ${describePlace(now.loops.rx)}, TX ${describePlace(now.loops.tx)}`,
  );
  lines.push('PORTS');
  lines.push(
    `  ${pad('port', 14)} ${pad('rx pps', 9, true)} ${pad('rx total', 10, true)} ${pad('tx pps', 9, true)} ${pad('tx total', 10, true)} ${pad('no buf', 8, true)} ${pad('tx drop', 8, true)} ${pad('kernel drop', 11, true)}`,
  );
  for (const p of now.ports) {
    const o = prev?.ports.find((x) => x.id === p.id);
    lines.push(
      `  ${pad(`${p.id} ${p.name} (${p.driver})`, 14)} ${pad(rate(p.rxPackets, o?.rxPackets), 9, true)} ${pad(fmt(p.rxPackets), 10, true)} ` +
        `${pad(rate(p.txPackets, o?.txPackets), 9, true)} ${pad(fmt(p.txPackets), 10, true)} ${pad(fmt(p.rxNoBuffer), 8, true)} ${pad(fmt(p.txDropped), 8, true)} ` +
        `${pad(p.driver === 'af_packet' ? fmt(p.kernelDrops) : '-', 11, true)}`,
    );
  }
  lines.push('NFS');
  lines.push(
    `  ${pad('tag', 18)} ${pad('id', 3, true)} ${pad('svc', 4, true)} ${pad('cpu', 3, true)} ${pad('state', 9)} ${pad('rx pps', 9, true)} ${pad('tx pps', 9, true)} ${pad('rx total', 10, true)}  drops`,
  );
  for (const nf of now.nfs) {
    const o = prev?.nfs.find((x) => x.nfId === nf.nfId);
    const tx = (nf.counters.forwarded ?? 0) + (nf.counters.out ?? 0);
    const otx = o ? (o.counters.forwarded ?? 0) + (o.counters.out ?? 0) : undefined;
    lines.push(
      `  ${pad(nf.tag, 18)} ${pad(String(nf.nfId), 3, true)} ${pad(String(nf.service), 4, true)} ${pad(nf.cpu >= 0 ? String(nf.cpu) : '-', 3, true)} ${pad(nf.state, 9)} ` +
        `${pad(rate(nf.counters.rx ?? 0, o?.counters.rx), 9, true)} ${pad(rate(tx, otx), 9, true)} ${pad(fmt(nf.counters.rx ?? 0), 10, true)}  ${drops(nf.counters)}`,
    );
  }
  if (now.nfs.length === 0) lines.push('  (no NF registered)');
  for (const nf of now.nfs) {
    const members = nf.members
      ? `fused group of ${nf.members.map((x) => `${x.name} (service ${x.service})`).join(', ')}`
      : '';
    const where = nf.inline ? "inline in the manager's loop" : '';
    if (members || where) lines.push(`  ${nf.tag}: ${[members, where].filter((x) => x).join(', ')}`);
  }
  for (const nf of now.nfs) {
    if (!nf.metrics?.length) continue;
    lines.push(
      `  ${nf.tag}: ${nf.metrics.map((m) => `${m.member ? `${m.member}.` : ''}${m.name} ${fmt(m.value)}`).join(', ')}`,
    );
  }
  if (now.serviceTotals?.length) {
    lines.push('SERVICES');
    lines.push(
      `  ${pad('service', 22)} ${pad('inst', 4, true)} ${pad('rx pps', 9, true)} ${pad('tx pps', 9, true)} ${pad('rx total', 10, true)} ${pad('drops', 8, true)}`,
    );
    for (const t of now.serviceTotals) {
      const o = prev?.serviceTotals?.find((x) => x.service === t.service);
      lines.push(
        `  ${pad(`${t.service} ${t.name}`, 22)} ${pad(String(t.instances), 4, true)} ${pad(rate(t.rx, o?.rx), 9, true)} ${pad(rate(t.tx, o?.tx), 9, true)} ` +
          `${pad(fmt(t.rx), 10, true)} ${pad(fmt(t.drops), 8, true)}`,
      );
    }
  }
  const lat = (now.latency ?? []).concat(now.nfs.flatMap((n) => (n.latency && n.latency.count > 0 ? [n.latency] : [])));
  if (lat.length) {
    lines.push('LATENCY (µs, since start: chains arrival → departure; NFs arrival → verdict)');
    lines.push(
      `  ${pad('', 18)} ${pad('packets', 10, true)} ${pad('mean', 8, true)} ${pad('p50', 8, true)} ${pad('p99', 8, true)} ${pad('p99.9', 8, true)} ${pad('max', 9, true)}`,
    );
    const us = (v: number): string => (v >= 1000 ? v.toFixed(0) : v.toFixed(1));
    for (const l of lat) {
      lines.push(
        `  ${pad(l.name, 18)} ${pad(fmt(l.count), 10, true)} ${pad(us(l.mean), 8, true)} ${pad(us(l.p50), 8, true)} ${pad(us(l.p99), 8, true)} ` +
          `${pad(us(l.p999), 8, true)} ${pad(us(l.max), 9, true)}`,
      );
    }
  }
  const rxDrops = drops(now.rx);
  if (rxDrops !== '-') lines.push(`  manager RX drops: ${rxDrops}`);
  if ((now.tx.dropBadPort ?? 0) > 0) lines.push(`  manager TX drops: bad port ${fmt(now.tx.dropBadPort!)}`);
  return `${lines.join('\n')}\n\n`;
}
