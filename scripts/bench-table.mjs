#!/usr/bin/env node
// Turns `nfchain bench ... --json` lines (stdin) into the README's figures table rows.
import { readFileSync } from 'node:fs';

const GOALS = {
  'ring api=copy burst=32': '≥ 200 M desc/s',
  'ring api=zc burst=32': '≥ 200 M desc/s',
  'parse pool=hot': '≤ 20 ns/pkt',
};
const UNITS = { mpps: 'Mpps', mdesc: 'M desc/s', mbufs: 'M bufs/s' };
for (const line of readFileSync(0, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  const r = JSON.parse(line);
  const unit = Object.keys(UNITS).find((u) => u in r);
  const params = Object.entries(r)
    .filter(([k]) => !['bench', 'runs', 'nsPerPkt', 'count', unit].includes(k))
    .map(([k, v]) => `${k}=${v}`).join(' ');
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  const lo = fmt(Math.min(...r.runs));
  const hi = fmt(Math.max(...r.runs));
  const goal = GOALS[`${r.bench} ${params.replace(/ capacity=\d+/, '')}`] ?? '';
  console.log(`| ${r.bench} | ${params} | ${r[unit].toFixed(1)} ${UNITS[unit]} | ${r.nsPerPkt.toFixed(2)} | ${lo}–${hi} | ${goal} |`);
}
