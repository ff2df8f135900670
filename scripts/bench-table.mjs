#!/usr/bin/env node
// Turns `nfchain bench ... --json` lines (stdin) into the README's figures table rows.
import { readFileSync } from 'node:fs';

const GOALS = {
  'ring api=copy burst=32': '≥ 200 M desc/s',
  'ring api=zc burst=32': '≥ 200 M desc/s',
  'parse pool=hot': '≤ 20 ns/pkt',
  'speed nfs=1 packets=1024 poll=adaptive': '≥ 25 Mpps',
  'speed nfs=3 packets=1024 poll=adaptive': '≥ 10 Mpps',
  'chain nfs=3 size=64 poll=adaptive': '≥ 8 Mpps (not met)',
  'startup module=js': '≤ 300 ms',
  'startup module=ts': '≤ 300 ms',
  'flow flows=100k order=hot prefetch=off': '≥ 20 Mpps',
  'flow flows=100k order=hot prefetch=on': '≥ 20 Mpps',
};
const UNITS = { mpps: 'Mpps', mdesc: 'M desc/s', mbufs: 'M bufs/s', ms: 'ms' };
for (const line of readFileSync(0, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  const r = JSON.parse(line);
  const unit = Object.keys(UNITS).find((u) => u in r);
  const params = Object.entries(r)
    .filter(
      ([k]) =>
        !['bench', 'runs', 'nsPerPkt', 'count', 'aggregateMpps', 'capacity', 'flows_', 'matched', unit].includes(k),
    )
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  const lo = fmt(Math.min(...r.runs));
  const hi = fmt(Math.max(...r.runs));
  const goal = GOALS[`${r.bench} ${params.replace(/ capacity=\d+/, '')}`] ?? '';
  const ns = r.nsPerPkt === undefined || r.nsPerPkt === null ? '' : r.nsPerPkt.toFixed(2);
  const extra = r.aggregateMpps ? ` (all NFs: ${r.aggregateMpps.toFixed(1)})` : '';
  console.log(
    `| ${r.bench} | ${params} | ${r[unit].toFixed(1)} ${UNITS[unit]}${extra} | ${ns} | ${lo}–${hi} | ${goal} |`,
  );
}
