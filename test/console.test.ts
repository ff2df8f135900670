/**
 * The web console in a real browser against a real manager: `nfchain start` with
 * `manager.http` on 127.0.0.1:0, then Chromium (Debian's, driven by playwright-core; never a
 * downloaded one) loads the page and checks what a user sees: every port and NF in the graph,
 * edge rates that move, an NF killed with SIGKILL in the event log within 2 s, an NF's page with
 * its counters, no console error, no request beyond loopback. With a token, the API refuses a
 * page that does not carry it and serves one that does.
 *
 * Skipped, with the reason, when not root, with no Chromium (/usr/bin/chromium or `chromium` on
 * PATH), or when playwright-core cannot be imported.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import type { ManagerEvent, ManagerStatus } from '../src/protocol/messages.js';
import type * as ConsoleApi from '../console/src/api-types.js';
import { uniqueName } from './helpers/procs.js';

// The console's own statement of the API (console/src/api-types.d.ts) must accept what the
// manager sends: a compile-time check, so that the two cannot drift apart unnoticed.
type Fits<A extends B, B> = [A, B];
export type ConsoleReadsStatus = Fits<ManagerStatus, ConsoleApi.ManagerStatus>;
export type ConsoleReadsEvents = Fits<ManagerEvent, ConsoleApi.ManagerEvent>;

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(root, 'dist/src/cli/main.js');

function findChromium(): string | undefined {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const d of dirs) {
    try {
      accessSync(join(d, 'chromium'), constants.X_OK);
      return join(d, 'chromium');
    } catch {
      /* not here */
    }
  }
  return undefined;
}

type Playwright = typeof import('playwright-core');
let pw: Playwright | undefined;
let pwError = '';
try {
  pw = await import('playwright-core');
} catch (e) {
  pwError = (e as Error).message.split('\n')[0] ?? '';
}
const chromiumPath = findChromium();
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : chromiumPath === undefined
      ? 'no Chromium: /usr/bin/chromium or chromium on PATH (apt-get install chromium)'
      : pw === undefined
        ? `playwright-core cannot be imported: ${pwError}`
        : false;

/** Resolves with `p`, or rejects after `ms` saying what it was waiting for. */
async function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(f: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `nfchain start` as a child process, its status read the way a user reads it. */
class RunningManager {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  out = '';

  constructor(
    readonly name: string,
    readonly dir: string,
    topology: string,
  ) {
    const file = join(dir, 'topo.yaml');
    writeFileSync(file, topology);
    this.child = spawn(process.execPath, [MAIN, 'start', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d;
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.out += d;
    });
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }

  status(): ManagerStatus | undefined {
    const r = spawnSync(process.execPath, [MAIN, 'status', '--name', this.name, '--json'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.status !== 0) return undefined;
    try {
      return JSON.parse(r.stdout) as ManagerStatus;
    } catch {
      return undefined;
    }
  }

  /** The status once `nfs` NFs run and the HTTP endpoint listens. */
  async ready(nfs: number): Promise<{ url: string; status: ManagerStatus }> {
    return until(
      () => {
        if (this.child.exitCode !== null)
          throw new Error(`nfchain start exited with ${this.child.exitCode}:\n${this.out}`);
        const s = this.status();
        const url = s?.http?.url ?? /http: (http:\/\/\S+)/.exec(this.out)?.[1];
        if (!s || url === undefined || s.nfs.length < nfs || !s.nfs.every((n) => n.state === 'running'))
          return undefined;
        return { url, status: s };
      },
      30_000,
      `the topology to come up with its HTTP endpoint:\n${this.out}`,
    );
  }

  /** SIGINT (it cleans up), then SIGKILL if it is still there after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGKILL');
        await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function launch(): Promise<Browser> {
  return pw!.chromium.launch({
    executablePath: chromiumPath!,
    args: ['--no-sandbox', '--headless=new'],
    timeout: 30_000,
  });
}

async function closeBrowser(b: Browser | undefined): Promise<void> {
  if (!b) return;
  await deadline(b.close(), 10_000, 'the browser to close').catch(() => {
    /* it is killed with this process at worst */
  });
}

/** What the page did that it should not: console errors, uncaught exceptions, requests off loopback. */
function watch(page: Page): { errors: string[]; offHost: string[]; requests: string[] } {
  const w = { errors: [] as string[], offHost: [] as string[], requests: [] as string[] };
  page.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.errors.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    w.requests.push(r.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') w.offHost.push(r.url());
  });
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);
  return w;
}

const nfModule = (name: string): string => join(root, 'nfs', name, 'index.ts');

describe('web console', { skip }, () => {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await closeBrowser(browser);
  });

  test('graph, moving rates, a crash in the event log, an NF page; no errors, nothing beyond loopback', {
    timeout: 120_000,
  }, async () => {
    const name = uniqueName('console').slice(0, 32);
    const m = new RunningManager(
      name,
      mkdtempSync(join(tmpdir(), 'nfchain-console-')),
      [
        `name: ${name}`,
        'manager: { statsInterval: 0, events: false, http: "127.0.0.1:0" }',
        'ports:',
        // A slow ramp, so that the rates move from one second to the next.
        '  - { name: in, driver: gen, rate: 20000, ramp: 60 }',
        '  - { name: out, driver: "null" }',
        'nfs:',
        `  - { name: mon, module: ${nfModule('basic-monitor')}, service: 1, options: { interval: 0 } }`,
        `  - { name: fwd, module: ${nfModule('simple-forward')}, service: 2, instances: 2 }`,
        'chain: [mon, fwd, port:out]',
        '',
      ].join('\n'),
    );
    let page: Page | undefined;
    try {
      const { url, status } = await m.ready(3);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
      const w = watch(page);
      await page.goto(url);

      // Every port and every NF of the topology is in the graph.
      for (const port of ['in', 'out']) await page.waitForSelector(`#graph [data-node="port:${port}"]`);
      for (const svc of [1, 2]) await page.waitForSelector(`#graph [data-node="svc:${svc}"]`);
      for (const nf of status.nfs) {
        const line = page.locator(`#graph [data-node="svc:${nf.service}"] [data-nf="${nf.nfId}"]`);
        await line.waitFor();
        assert.match((await line.textContent()) ?? '', new RegExp(nf.tag), `${nf.tag} in the graph`);
      }
      assert.equal(await page.locator('#instance-name').textContent(), name);

      // The rate on an edge moves within a few seconds.
      const edge = page.locator('#graph [data-edge="port:in->svc:1"]');
      const rate = async (): Promise<string> => ((await edge.textContent()) ?? '').trim();
      const first = await until(
        async () => {
          const r = await rate();
          return /pps$/.test(r) ? r : undefined;
        },
        8000,
        'a rate on the edge port:in->svc:1',
      );
      const changed = await until(
        async () => {
          const r = await rate();
          return r !== first && /pps$/.test(r) ? r : undefined;
        },
        6000,
        `the edge's rate to change from ${first}`,
      );
      assert.notEqual(changed, first);
      assert.match(changed, /^[\d.]+ k?pps$/);
      const statusTime = await page.locator('#status-time').getAttribute('data-time');
      await until(
        async () => ((await page!.locator('#status-time').getAttribute('data-time')) !== statusTime ? true : undefined),
        3000,
        '#status-time to move on (a status a second)',
      );

      // The charts are there, with the past: a chart per port and per NF.
      for (const id of ['port:in', 'port:out', ...status.nfs.map((n) => `nf:${n.tag}`)]) {
        await page.waitForSelector(`[data-chart="${id}"] canvas`);
      }

      // kill -9 one forwarder: its crash is in the event log within 2 s, highlighted.
      const victim = status.nfs.find((n) => n.name === 'fwd')!;
      process.kill(victim.pid, 'SIGKILL');
      const crashed = page.locator(`#events li[data-type="nf-crashed"]`).filter({ hasText: victim.tag });
      await crashed.first().waitFor({ timeout: 2000 });
      assert.match((await crashed.first().getAttribute('class')) ?? '', /crash/);
      // Newest first: the crash is above the events of the start.
      const types = await page
        .locator('#events li')
        .evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')));
      assert.ok(types.indexOf('nf-crashed') < types.lastIndexOf('nf-registered'), types.join(' '));

      // The NF page: its counters, from the link in the NFs table.
      const mon = status.nfs.find((n) => n.name === 'mon')!;
      await page.locator(`a[data-nf-link="${mon.nfId}"]`).click();
      await page.waitForURL(new RegExp(`#/nf/${mon.nfId}$`));
      assert.equal(await page.locator('#page-nf').isVisible(), true);
      assert.equal(await page.locator('#nf-title').textContent(), `NF ${mon.tag}`);
      const rx = page.locator('#nf-counters [data-counter-value="rx"]');
      await rx.waitFor();
      await until(
        async () => {
          const v = Number(((await rx.textContent()) ?? '').replace(/\D/g, ''));
          return v > 0 ? v : undefined;
        },
        5000,
        'a non-zero rx counter on the NF page',
      );
      await page.waitForSelector(`#nf-charts [data-chart="nf:${mon.tag}"] canvas`);

      assert.deepEqual(w.errors, [], 'no console errors');
      assert.deepEqual(w.offHost, [], 'no request beyond 127.0.0.1');
      assert.ok(
        w.requests.some((r) => r.includes('/api/events')),
        'the event stream was opened',
      );
    } finally {
      await page?.close().catch(() => {});
      await m.stop();
    }
  });

  test('with a token: the API refuses a page without it, serves one with it', { timeout: 90_000 }, async () => {
    const name = uniqueName('console-token').slice(0, 32);
    const token = randomBytes(16).toString('hex');
    const m = new RunningManager(
      name,
      mkdtempSync(join(tmpdir(), 'nfchain-console-')),
      [
        `name: ${name}`,
        `manager: { statsInterval: 0, events: false, http: { listen: "127.0.0.1:0", token: "${token}" } }`,
        'ports:',
        '  - { name: in, driver: gen, rate: 5000 }',
        '  - { name: out, driver: "null" }',
        'nfs:',
        `  - { name: fwd, module: ${nfModule('simple-forward')}, service: 1 }`,
        'chain: [fwd, port:out]',
        '',
      ].join('\n'),
    );
    let page: Page | undefined;
    try {
      const { url } = await m.ready(1);
      const api = new URL('api/status', url).href;
      const plain = await deadline(fetch(api), 5000, 'GET /api/status');
      assert.equal(plain.status, 401);
      await plain.body?.cancel();
      const bearer = await deadline(
        fetch(api, { headers: { authorization: `Bearer ${token}` } }),
        5000,
        'GET /api/status',
      );
      assert.equal(bearer.status, 200);
      assert.equal(((await bearer.json()) as ManagerStatus).name, name);

      page = await browser!.newPage();
      page.setDefaultTimeout(10_000);
      // Without the token: the console's own files load (a browser fetches them without the
      // token: <script src>, <link>, module imports), /api/status answers 401, and the page says why.
      const refusedFiles: string[] = [];
      page.on('response', (r) => {
        if (r.status() === 401 && !new URL(r.url()).pathname.startsWith('/api/')) refusedFiles.push(r.url());
      });
      const refused = page
        .waitForResponse((r) => new URL(r.url()).pathname === '/api/status')
        .then(
          (r) => r.status(),
          (e: Error) => `no answer: ${e.message}`,
        );
      await page.goto(url);
      await page.waitForLoadState('load');
      assert.deepEqual(refusedFiles, [], "the console's files are served without the token");
      assert.equal(await refused, 401);
      await page.locator('#banner').filter({ hasText: /401/ }).waitFor();

      // With ?token=: it loads, and everything it asks for is answered.
      const w = watch(page);
      const failed: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${url}?token=${token}`);
      await page.waitForSelector('#graph [data-node="port:in"]');
      await page.waitForSelector('#graph [data-node="svc:1"]');
      await until(
        async () => ((await page!.locator('#events li[data-type="nf-registered"]').count()) > 0 ? true : undefined),
        5000,
        'the event log, over the event stream with the token',
      );
      assert.equal(await page.locator('#banner').isVisible(), false);
      assert.deepEqual(failed, [], 'every request answered');
      assert.deepEqual(w.errors, [], 'no console errors');
      assert.ok(
        w.requests.filter((r) => r.includes('/api/')).every((r) => new URL(r).searchParams.get('token') === token),
        'every API request carries the token',
      );
    } finally {
      await page?.close().catch(() => {});
      await m.stop();
    }
  });
});
