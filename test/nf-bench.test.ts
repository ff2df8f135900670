/**
 * Every NF's bench.ts (nfchain bench nf): each case prepares its workload and the NF handles it
 * for a moment, passing or dropping what the case makes (a workload that broke would make the
 * benchmark measure nothing). No figure is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchable, loadCases, runCase } from '../bench/nf.js';

const names = benchable();

test('NFs have workloads for bench nf', () => {
  assert.ok(names.length >= 20, `NFs with a bench.ts: ${names.join(', ')}`);
  assert.ok(names.includes('simple-forward') && names.includes('l3fwd'));
});

for (const name of names) {
  test(`bench nf --name ${name}: every case runs`, { timeout: 120_000 }, async () => {
    const { cases } = await loadCases(name);
    assert.ok(cases.length > 0);
    for (let c = 0; c < cases.length; c++) {
      const r = await runCase(name, c, 0.05, 20);
      assert.ok(r.handled > 0, `${name} case ${c} (${JSON.stringify(cases[c]!.params)}) handled packets`);
      assert.ok(r.passed + r.dropped <= 1.0001, `${name} case ${c}: shares ${r.passed} + ${r.dropped}`);
      assert.ok(Number.isFinite(r.mpps) && r.mpps > 0);
    }
  });
}
