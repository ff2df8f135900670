/**
 * bench console: how long a change takes to show in the web console, in a real browser.
 *
 * A manager runs here with its HTTP endpoint on loopback (gen → basic-monitor → 2 × simple-forward
 * → null); Debian's Chromium, driven by playwright-core, has the console open. Each round:
 *
 *   rate-drop   the RX loop stops receiving (pauseRx) → the edge port:in → svc:1 shows under half
 *               its rate before
 *   rate-zero   … → that edge shows 0 pps
 *   rate-up     the RX loop receives again → the edge shows a rate above 0
 *   nf-new      a third forwarder registers (scale, from its nf-registered event) → it is in the graph
 *   nf-crash    that forwarder gets SIGKILL → its nf-crashed row is in the event log
 *
 * Each figure is the time from the change in the manager to the page showing it (ms; the page
 * is watched with requestAnimationFrame polling). The console polls /api/status every second and
 * follows /api/events, so events show at once and rates within a poll. Median and max of R rounds.
 *
 *   nfchain bench console [--runs R] [--json]      (root; Chromium and playwright-core)
 */
import { fileURLToPath } from 'node:url';
import { accessSync, constants } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { NfcError } from '../src/errors.js';
import type { Manager } from '../src/manager/manager.js';
import type { ManagerEvent } from '../src/protocol/messages.js';
import { validateTopology } from '../src/topology/load.js';
import { flagSpecs } from '../src/util/args.js';
import { withTopology } from './wire.js';
import { benchArgs, emit, JSON_FLAG, median, runsFlag, type BenchResult } from './common.js';

const NF = (name: string): string => fileURLToPath(new URL(`../nfs/${name}/index.js`, import.meta.url));

export const CONSOLE_FLAGS = flagSpecs([runsFlag(5), JSON_FLAG]);

const FIGURES = ['rate-drop', 'rate-zero', 'rate-up', 'nf-new', 'nf-crash'] as const;
type Figure = (typeof FIGURES)[number];

function chromium(): string {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new NfcError('NFC_ERR_BENCH', 'bench console needs Chromium at /usr/bin/chromium', {
    fix: 'apt-get install chromium',
  });
}

/** The rate an edge of the graph shows, in packets per second (NaN when it shows none). */
const EDGE_RATE = `(key) => {
  const t = document.querySelector('#graph [data-edge="' + key + '"]')?.textContent?.trim() ?? '';
  const m = /^([\\d.]+)\\s*([kMG]?)pps$/.exec(t);
  return m ? Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 })[m[2]] : NaN;
}`;

export async function consoleBenchFromArgv(argv: readonly string[]): Promise<BenchResult[]> {
  const { runs, json } = benchArgs('console', argv, CONSOLE_FLAGS).values;
  if (process.getuid?.() !== 0) throw new NfcError('NFC_ERR_BENCH', 'bench console needs root (shared files, pidfds)');
  const executablePath = chromium();
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch (e) {
    throw new NfcError('NFC_ERR_BENCH', `bench console needs playwright-core: ${(e as Error).message.split('\n')[0]}`, {
      fix: 'npm install (it is a development dependency)',
    });
  }
  const name = `bench-console-${randomUUID().slice(0, 8)}`;
  const topo = validateTopology(
    {
      name,
      manager: { statsInterval: 0, events: false, http: '127.0.0.1:0' },
      ports: [
        { name: 'in', driver: 'gen', rate: 20000 },
        { name: 'out', driver: 'null' },
      ],
      nfs: [
        { name: 'mon', module: NF('basic-monitor'), service: 1, options: { interval: 0 } },
        { name: 'fwd', module: NF('simple-forward'), service: 2, instances: 2 },
      ],
      chain: ['mon', 'fwd', 'port:out'],
    },
    '<bench console>',
  );
  const times = new Map<Figure, number[]>(FIGURES.map((f) => [f, []]));
  const browser = await pw.chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--headless=new'],
    timeout: 30_000,
  });
  try {
    await withTopology(topo, rounds);
  } finally {
    await browser.close().catch(() => {});
  }
  return FIGURES.map((f) => {
    const xs = times.get(f)!;
    const res: BenchResult = {
      bench: 'console',
      params: { change: f },
      rate: median(xs),
      unit: 'ms',
      nsPerItem: 0,
      runs: xs,
      extra: { maxMs: Number(Math.max(...xs).toFixed(1)) },
    };
    emit(res, json);
    return res;
  });

  async function rounds(m: Manager): Promise<void> {
    const url = m.status().http!.url;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(15_000);
    await page.goto(url);
    const edge = 'port:in->svc:1';
    const rateIs = (test: string, arg: number): Promise<unknown> =>
      page.waitForFunction(`((r) => ${test})((${EDGE_RATE})(${JSON.stringify(edge)}))`, arg, { polling: 'raf' });
    /** Runs `change`, then waits for the page; the time between, in ms. */
    const time = async (f: Figure, change: () => Promise<unknown>, shown: () => Promise<unknown>): Promise<void> => {
      const t0 = performance.now();
      await change();
      await shown();
      times.get(f)!.push(performance.now() - t0);
    };
    // A steady rate on the edge first (the gen port's rate, as the console shows it).
    await page.waitForFunction(`(${EDGE_RATE})(${JSON.stringify(edge)}) > 15000`, undefined, { polling: 500 });
    for (let r = 0; r < runs; r++) {
      const before = (await page.evaluate(`(${EDGE_RATE})(${JSON.stringify(edge)})`)) as number;
      // pauseRx resolves once the RX loop has stopped: the change happened then.
      let paused = 0;
      const pausing = m.pauseRx().then(() => {
        paused = performance.now();
      });
      await pausing;
      await rateIs(`r < ${before / 2}`, 0);
      times.get('rate-drop')!.push(performance.now() - paused);
      await rateIs('r === 0', 0);
      times.get('rate-zero')!.push(performance.now() - paused);
      await time(
        'rate-up',
        async () => m.enableRx(),
        () => rateIs('r > 0', 0),
      );
      // Back to the steady rate before the next round's drop.
      await page.waitForFunction(`(${EDGE_RATE})(${JSON.stringify(edge)}) > 15000`, undefined, { polling: 500 });

      // A new forwarder: from the manager's nf-registered event to its line in the graph.
      let t0 = 0;
      const registered = new Promise<ManagerEvent>((resolve) => {
        const off = m.events.follow((e) => {
          if (e.type === 'nf-registered' && e.service === 2) {
            t0 = performance.now();
            off();
            resolve(e);
          }
        });
      });
      const scaled = await m.scale(2, 3);
      const id = scaled.started[0]!;
      await registered;
      await page.waitForSelector(`#graph [data-node="svc:2"] [data-nf="${id}"]`, { state: 'attached' });
      times.get('nf-new')!.push(performance.now() - t0);

      // kill -9 it: from the kill to its crash in the event log.
      const nf = m.baseStatus().nfs.find((n) => n.nfId === id && n.state === 'running');
      if (!nf) throw new NfcError('NFC_ERR_BENCH', `bench console: NF ${id} is not running after the scale-up`);
      await time(
        'nf-crash',
        async () => process.kill(nf.pid, 'SIGKILL'),
        () =>
          page
            .locator('#events li[data-type="nf-crashed"]')
            .filter({ hasText: nf.tag })
            .first()
            .waitFor({ state: 'attached' }),
      );
      // Two forwarders again once the crashed one is reclaimed.
      const end = Date.now() + 10_000;
      while (m.baseStatus().nfs.some((n) => n.nfId === id && n.pid === nf.pid)) {
        if (Date.now() > end)
          throw new NfcError('NFC_ERR_BENCH', `bench console: NF ${nf.tag} was not reclaimed in 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await page.close();
  }
}
