/**
 * The manager's HTTP endpoint and its events, against a running topology with NF processes:
 * /metrics checked by promtool and equal to the status when the input is paused, counters
 * monotonic, the token, /api/history, the event stream (a kill -9 shows as nf-crashed), the
 * events log, `nfchain events`, NF-declared counters, latency histograms; and the loopback rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTopology } from '../src/cli/start.js';
import { standaloneTopology } from '../src/cli/commands.js';
import { Manager } from '../src/manager/manager.js';
import { validateTopology } from '../src/topology/load.js';
import type { ManagerEvent, ManagerStatus } from '../src/protocol/messages.js';
import { uniqueName, waitFor } from './helpers/procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const COUNTING = join(root, 'dist/test/fixtures/nfs/counting.js');
const FORWARD = join(root, 'dist/nfs/simple-forward/index.js');
const MAIN = join(root, 'dist/src/cli/main.js');
const TOKEN = 'test-token-0123456789abcdef';
const run2 = promisify(execFile);
const promtool = spawnSync('promtool', ['--version']).status === 0;

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** GET with a deadline (a test must not hang on a server that does not answer). */
function fetchText(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on('error', reject);
  });
}

const auth = { Authorization: `Bearer ${TOKEN}` };

/** Samples of the text format: `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

/** Follows /api/events: every event seen so far, and a way to stop. */
function follow(url: string): { events: ManagerEvent[]; close(): void } {
  const events: ManagerEvent[] = [];
  let buf = '';
  const req = get(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data) events.push(JSON.parse(data.slice(6)) as ManagerEvent);
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  return { events, close: () => req.destroy() };
}

test('the HTTP endpoint: metrics, status, history, token, events and a crash', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-http-'));
  const eventsFile = join(dir, 'events.jsonl');
  const name = uniqueName('http').slice(0, 32);
  const topo = validateTopology(
    {
      name,
      manager: { statsInterval: 0, ttl: 80, http: { listen: '127.0.0.1:0', token: TOKEN }, events: eventsFile },
      ports: [
        { name: 'gen', driver: 'gen', rate: 200000, sizes: [64] },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        { name: 'counting', module: COUNTING, service: 1 },
        { name: 'forward', module: FORWARD, service: 2 },
      ],
      chain: ['counting', 'forward', 'port:sink'],
    },
    '<test>',
  );
  let running: Manager | undefined;
  const logs: string[] = [];
  const run = runTopology(topo, {
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    onRunning: (m) => {
      running = m;
    },
  });
  let stream: ReturnType<typeof follow> | undefined;
  try {
    await waitFor(() => running !== undefined, 30_000, 'the topology to run');
    const m = running!;
    const url = m.status().http!.url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(
      logs.some((l) => l.startsWith(`http: ${url}`)),
      'the URL is logged',
    );

    // The token: none or a wrong one gets 401; the header or the query parameter gets in.
    const none = await fetchText(`${url}api/status`);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal((await fetchText(`${url}metrics`, { Authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
    assert.equal((await fetchText(`${url}api/status?token=${TOKEN}`)).status, 200);
    assert.equal((await fetchText(`${url}api/status`, { Authorization: 'Basic x' })).status, 401);

    stream = follow(`${url}api/events?token=${TOKEN}`);
    await waitFor(() => m.status().ports[0]!.rxPackets > 20_000, 20_000, 'traffic');

    // Counters only go up between two scrapes.
    const a = parseMetrics((await fetchText(`${url}metrics`, auth)).body);
    await new Promise((r) => setTimeout(r, 300));
    const text = (await fetchText(`${url}metrics`, auth)).body;
    const b = parseMetrics(text);
    let compared = 0;
    for (const [k, v] of a) {
      if (!/_total\{|_total$|_bucket\{|_count\{|_sum\{/.test(k)) continue;
      assert.ok(b.has(k), `${k} still there`);
      assert.ok(b.get(k)! >= v, `${k}: ${b.get(k)} after ${v}`);
      compared++;
    }
    assert.ok(compared > 30, `${compared} counters compared`);
    assert.ok(
      b.get('nfchain_port_rx_packets_total{port="gen",driver="gen"}')! >
        a.get('nfchain_port_rx_packets_total{port="gen",driver="gen"}')!,
    );

    if (promtool) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
    } else {
      t.diagnostic('promtool not installed (Debian package prometheus): the format check was skipped');
    }

    // Input paused and the chain drained: /metrics and /api/status agree exactly.
    await m.pauseRx();
    await waitFor(() => m.pipelineEmpty(), 10_000, 'the chain to drain');
    await new Promise((r) => setTimeout(r, 50));
    const s = JSON.parse((await fetchText(`${url}api/status`, auth)).body) as ManagerStatus;
    const mm = parseMetrics((await fetchText(`${url}metrics`, auth)).body);
    const gen = s.ports[0]!;
    const sink = s.ports[1]!;
    assert.equal(mm.get('nfchain_port_rx_packets_total{port="gen",driver="gen"}'), gen.rxPackets);
    assert.equal(mm.get('nfchain_port_tx_packets_total{port="sink",driver="null"}'), sink.txPackets);
    const dropped = (s.drops ?? []).reduce((n, d) => n + d.count, 0);
    assert.equal(
      sink.txPackets + dropped,
      gen.rxPackets,
      `every packet received was sent or counted as dropped: ${JSON.stringify(s.drops)}`,
    );
    const counting = s.nfs.find((n) => n.name === 'counting')!;
    const forward = s.nfs.find((n) => n.name === 'forward')!;
    const l = `nf="counting",instance="${counting.nfId}",service="1"`;
    assert.equal(mm.get(`nfchain_nf_rx_packets_total{${l}}`), counting.counters.rx);
    // Packets the RX loop could not hand to the first NF (its ring full while it warmed up) are counted there.
    const atRx = (s.drops ?? []).filter((d) => d.where === 'manager-rx').reduce((n, d) => n + d.count, 0);
    assert.equal(counting.counters.rx, gen.rxPackets - atRx);
    // The NF's declared counters: in the status and in /metrics.
    const val = (n: string): number | undefined => counting.metrics?.find((x) => x.name === n)?.value;
    assert.equal(val('seen'), counting.counters.rx, 'seen counts every packet');
    assert.equal(val('odd'), 0, 'gen sends 64-byte frames: none odd');
    assert.equal(val('lastLength'), 64, 'gen sends 64-byte frames');
    assert.equal(mm.get(`nfchain_nf_count_total{${l},name="seen"}`), counting.counters.rx);
    assert.equal(mm.get(`nfchain_nf_level{${l},name="lastLength"}`), 64);
    assert.equal(forward.metrics, undefined, 'simple-forward declares nothing');
    // Latency: every packet that left on the default chain, and every packet the NF handled.
    const lat = s.latency!.find((x) => x.name === 'default')!;
    assert.equal(lat.count, sink.txPackets);
    assert.ok(lat.p50 > 0 && lat.p50 <= lat.p99 && lat.p99 <= lat.p999 && lat.p999 <= lat.max, JSON.stringify(lat));
    assert.equal(mm.get('nfchain_latency_seconds_count{chain="default"}'), sink.txPackets);
    assert.equal(mm.get('nfchain_latency_seconds_bucket{chain="default",le="+Inf"}'), sink.txPackets);
    assert.equal(counting.latency!.count, counting.counters.rx);
    assert.equal(mm.get(`nfchain_nf_latency_seconds_count{${l}}`), counting.counters.rx);
    // What the console draws: ports, services, the chain's hops.
    const g = s.graph!;
    for (const id of ['port:gen', 'port:sink', 'svc:1', 'svc:2'])
      assert.ok(
        g.nodes.some((n) => n.id === id),
        id,
      );
    for (const e of ['port:gen->svc:1', 'svc:1->svc:2', 'svc:2->port:sink'])
      assert.ok(
        g.edges.some((x) => `${x.from}->${x.to}` === e),
        e,
      );
    assert.deepEqual(
      s.serviceTotals!.map((x) => [x.service, x.name, x.instances, x.rx]),
      [
        [1, 'counting', 1, counting.counters.rx],
        [2, 'forward', 1, forward.counters.rx],
      ],
    );
    assert.deepEqual(
      s.loopStats!.map((x) => x.loop).sort(),
      ['counting#' + counting.nfId, 'forward#' + forward.nfId, 'rx', 'tx'].sort(),
    );
    m.enableRx();

    // An hour of points, one a second, as columns.
    await waitFor(() => m.status().uptime > 3, 10_000, 'three seconds of history');
    const h = JSON.parse((await fetchText(`${url}api/history`, auth)).body) as {
      time: number[];
      series: Record<string, (number | null)[]>;
    };
    assert.ok(h.time.length >= 2, `${h.time.length} points`);
    for (const k of ['port:gen:rx', 'port:sink:tx', `nf:counting#${counting.nfId}:rx`, 'drops', 'latency:default:p99'])
      assert.equal(h.series[k]?.length, h.time.length, k);
    assert.ok(h.series['port:gen:rx']!.some((v) => v !== null && v > 0));

    // The event stream had the backlog; kill -9 an NF: nf-crashed within 2 s, with what was reclaimed.
    const types = stream.events.map((e) => e.type);
    for (const ty of ['manager-started', 'nf-registered', 'nf-started']) assert.ok(types.includes(ty as never), ty);
    const killedAt = Date.now();
    process.kill(counting.pid, 'SIGKILL');
    await waitFor(
      () => stream!.events.some((e) => e.type === 'nf-crashed' && e.nfId === counting.nfId),
      2000,
      'nf-crashed on /api/events within 2 s',
    );
    const crash = stream.events.find((e) => e.type === 'nf-crashed')!;
    t.diagnostic(`nf-crashed arrived ${Date.now() - killedAt} ms after kill -9`);
    assert.equal(crash.nf, `counting#${counting.nfId}`);
    assert.equal(typeof crash.reclaimed, 'number');
    // The same events in the log file, and through `nfchain events`.
    const lines = readFileSync(eventsFile, 'utf8')
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as ManagerEvent);
    assert.ok(lines.some((e) => e.type === 'nf-crashed' && e.seq === crash.seq));
    // Not execFileSync: the manager runs in this process and must answer meanwhile.
    const cli = (
      await run2(process.execPath, [MAIN, 'events', '--name', name, '--no-follow', '--json'], { timeout: 20_000 })
    ).stdout;
    const viaCli = cli
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as ManagerEvent);
    assert.deepEqual(
      viaCli.map((e) => e.seq),
      lines.map((e) => e.seq).slice(0, viaCli.length),
    );
    assert.ok(viaCli.some((e) => e.type === 'nf-crashed'));
    const since = (
      await run2(process.execPath, [MAIN, 'events', '--name', name, '--no-follow', '--since', String(crash.seq - 1)], {
        timeout: 20_000,
      })
    ).stdout;
    assert.match(since.split('\n')[0]!, /nf-crashed +NF counting#\d+ died/);
  } finally {
    stream?.close();
    if (running) await running.stop('test over');
    const r = await run;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.manager.missingAtExit, 0, 'every buffer back');
  }
});

test('the endpoint stays on loopback unless asked; latency can be switched off', { timeout: 60_000 }, async () => {
  const name = uniqueName('httpl').slice(0, 32);
  const t1 = standaloneTopology(name, ['gen', 'null'], 'port:1', 50_000);
  t1.manager.statsInterval = 0;
  t1.manager.events = false;
  t1.manager.http = '0.0.0.0:0';
  assert.throws(() => new Manager({ topology: t1 }), /0\.0\.0\.0 is not a loopback address/);
  t1.manager.http = { listen: '0.0.0.0:0', remote: true };
  const logs: string[] = [];
  const m = new Manager({ topology: t1, log: (l) => logs.push(l), stats: null });
  await m.start();
  try {
    const url = m.status().http!.url;
    assert.ok(
      logs.some((l) => /warning: the HTTP endpoint listens on 0\.0\.0\.0.*with no token/.test(l)),
      logs.join('\n'),
    );
    const port = new URL(url).port;
    assert.equal((await fetchText(`http://127.0.0.1:${port}/api/status`)).status, 200);
    await waitFor(() => m.status().ports[1]!.txPackets > 1000, 20_000, 'traffic');
    assert.ok(m.status().latency![0]!.count > 0, 'latency recorded by default');
    const notFound = await fetchText(`http://127.0.0.1:${port}/nothing`);
    assert.equal(notFound.status, 404);
  } finally {
    await m.stop('test over');
  }
  assert.equal(m.missingAtExit, 0);

  const t2 = standaloneTopology(uniqueName('httpo').slice(0, 32), ['gen', 'null'], 'port:1', 50_000);
  t2.manager.statsInterval = 0;
  t2.manager.events = false;
  t2.manager.latency = false;
  const m2 = new Manager({ topology: t2, log: () => {}, stats: null });
  await m2.start();
  try {
    await waitFor(() => m2.status().ports[1]!.txPackets > 1000, 20_000, 'traffic');
    assert.deepEqual(m2.status().latency, [], 'no latency recorded');
    assert.equal(m2.status().http, undefined, 'no endpoint unless asked');
  } finally {
    await m2.stop('test over');
  }
  assert.ok(!existsSync(`/dev/shm/nfchain-${t2.name}`));
});
