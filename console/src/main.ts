/**
 * The nfchain web console: polls /api/status twice a second, keeps an hour of rates (from
 * /api/history, then from every status), follows /api/events, and draws the overview
 * (#/) or one NF's page (#/nf/<nfId>). Vanilla DOM, uPlot for the charts, nothing external.
 */
import type { ManagerEvent, ManagerStatus } from './api-types.js';
import { ApiError, EventStream, getHistory, getStatus } from './api.js';
import { ChartGroup, type ChartSpec, COLORS, TimeView } from './charts.js';
import { byId, clock, duration, int } from './dom.js';
import { EventLog } from './events.js';
import { TopologyGraph } from './graph.js';
import { NfPage } from './nf-page.js';
import { Store, sample } from './store.js';
import { dropsTables, latencyTable, loopsTable, nfsTable, portsTable } from './tables.js';

const POLL_MS = 500;

const store = new Store();
const view = new TimeView(store);
const graph = new TopologyGraph(byId('graph'), byId('graph-notes'));
const portCharts = new ChartGroup(byId('port-charts'), store, view);
const nfCharts = new ChartGroup(byId('nf-rate-charts'), store, view);
const dropCharts = new ChartGroup(byId('drops-chart'), store, view, 140);
const latencyCharts = new ChartGroup(byId('latency-chart'), store, view, 180);
const log = new EventLog(byId<HTMLUListElement>('events'), byId<HTMLInputElement>('events-filter'), onCrash);
const nfPage = new NfPage(store, view, (id) => log.tags.get(id));
const events = new EventStream(
  (e) => log.add(e),
  (open) => {
    const el = byId('events-state');
    el.textContent = open ? 'live' : 'reconnecting…';
    el.className = open ? 'ok' : 'warn';
  },
);

let status: ManagerStatus | undefined;
let managerPid: number | undefined;
/** samples that came before the history did */
let pending: ManagerStatus[] | undefined = [];
let historyEpoch = 0;

function onCrash(e: ManagerEvent): void {
  nfPage.crashed(e);
  const alert = byId('alert');
  alert.hidden = false;
  alert.textContent = `⚠ ${clock(e.time)} ${e.message}`;
  const shown = e.seq;
  alert.dataset.seq = String(shown);
  setTimeout(() => {
    if (alert.dataset.seq === String(shown)) alert.hidden = true;
  }, 60_000);
}

async function loadHistory(): Promise<void> {
  const epoch = ++historyEpoch;
  pending ??= [];
  try {
    const hist = await getHistory();
    if (epoch !== historyEpoch) return;
    store.load(hist);
  } catch (e) {
    if (epoch !== historyEpoch) return;
    store.clear();
    byId('view-label').textContent = `no history: ${e instanceof Error ? e.message : String(e)}`;
  }
  const waiting = pending ?? [];
  pending = undefined;
  for (const st of waiting) store.append(st.time, sample(st));
  updateChartSpecs();
  view.redraw();
}

function setConn(ok: boolean, text: string): void {
  const el = byId('conn');
  el.textContent = text;
  el.className = ok ? 'ok' : 'bad';
  document.body.dataset.conn = ok ? 'ok' : 'down';
}

function header(st: ManagerStatus): void {
  byId('instance-name').textContent = st.name;
  byId('uptime').textContent = duration(st.uptime);
  byId('pool').textContent = `${int(st.pool.free)} / ${int(st.pool.count)} free`;
  const t = byId('status-time');
  t.textContent = clock(st.time * 1000);
  t.dataset.time = String(st.time);
  if (!location.hash.startsWith('#/nf/')) document.title = `${st.name} · nfchain`;
}

const tagOrder = (tag: string): number => Number(tag.slice(tag.lastIndexOf('#') + 1)) || 0;

function updateChartSpecs(): void {
  const st = status;
  const portNames = new Set<string>(st?.ports.map((p) => p.name) ?? []);
  for (const k of store.keys('port:')) portNames.add(k.slice(5, k.lastIndexOf(':')));
  portCharts.setSpecs(
    [...portNames].map(
      (name): ChartSpec => ({
        id: `port:${name}`,
        title: `port ${name}`,
        unit: 'pps',
        series: [
          { key: `port:${name}:rx`, label: 'rx', color: COLORS.rx },
          { key: `port:${name}:tx`, label: 'tx', color: COLORS.tx },
        ],
      }),
    ),
  );
  const current = new Map((st?.nfs ?? []).map((n) => [n.tag, n]));
  const tags = new Set<string>(current.keys());
  for (const k of store.keys('nf:')) tags.add(k.slice(3, k.lastIndexOf(':')));
  nfCharts.setSpecs(
    [...tags]
      .sort((a, b) => tagOrder(a) - tagOrder(b) || a.localeCompare(b))
      .map((tag): ChartSpec => {
        const nf = current.get(tag);
        return {
          id: `nf:${tag}`,
          title: !nf
            ? `NF ${tag} (gone)`
            : nf.members
              ? `NF ${tag} (fused: services ${nf.members.map((m) => m.service).join(', ')})`
              : `NF ${tag} (service ${nf.service})`,
          unit: 'pps',
          ...(nf ? { href: `#/nf/${nf.nfId}` } : {}),
          series: [
            { key: `nf:${tag}:rx`, label: 'rx', color: COLORS.rx },
            { key: `nf:${tag}:tx`, label: 'tx', color: COLORS.tx },
            { key: `nf:${tag}:drop`, label: 'drop', color: COLORS.drop },
          ],
        };
      }),
  );
  dropCharts.setSpecs([
    {
      id: 'drops',
      title: 'drops, all causes',
      unit: 'pps',
      series: [{ key: 'drops', label: 'drops', color: COLORS.drops }],
    },
  ]);
  const chains = new Set<string>((st?.latency ?? []).map((l) => l.name));
  for (const k of store.keys('latency:')) chains.add(k.slice(8, k.lastIndexOf(':')));
  latencyCharts.setSpecs(
    chains.size === 0
      ? []
      : [
          {
            id: 'latency',
            title: 'latency per chain (p50 solid, p99 dashed)',
            unit: 'us',
            series: [...chains].flatMap((c, i) => {
              const color = COLORS.cycle[i % COLORS.cycle.length]!;
              return [
                { key: `latency:${c}:p50`, label: `${c} p50`, color },
                { key: `latency:${c}:p99`, label: `${c} p99`, color, dash: [6, 4] },
              ];
            }),
          },
        ],
  );
}

function render(st: ManagerStatus): void {
  header(st);
  graph.update(st);
  byId('ports').replaceChildren(portsTable(st));
  byId('nfs').replaceChildren(nfsTable(st));
  byId('drops').replaceChildren(dropsTables(st));
  byId('latency').replaceChildren(latencyTable(st.latency));
  byId('loops').replaceChildren(loopsTable(st));
  nfPage.update(st);
}

function onStatus(st: ManagerStatus): void {
  if (managerPid !== undefined && st.pid !== managerPid) {
    // Another manager (a restart or a takeover): its events and history start again.
    log.clear();
    log.add({
      seq: 0,
      time: Date.now(),
      type: 'console',
      message: `the manager changed (pid ${managerPid} → ${st.pid}): events and history reloaded`,
    });
    events.open();
    store.clear();
    void loadHistory();
  }
  const first = managerPid === undefined;
  managerPid = st.pid;
  status = st;
  if (pending) pending.push(st);
  else if (store.append(st.time, sample(st))) view.tick();
  const version = store.version;
  render(st);
  if (first || version !== lastVersion || specsDirty(st)) updateChartSpecs();
  lastVersion = store.version;
  if (first) {
    events.open();
    void loadHistory();
  }
}

let lastVersion = -1;
let lastSpecKey = '';
function specsDirty(st: ManagerStatus): boolean {
  const key = JSON.stringify([
    st.ports.map((p) => p.name),
    st.nfs.map((n) => [n.tag, n.service]),
    st.latency?.map((l) => l.name),
  ]);
  if (key === lastSpecKey) return false;
  lastSpecKey = key;
  return true;
}

let stopped = false;
async function poll(): Promise<void> {
  const t0 = performance.now();
  try {
    const st = await getStatus();
    onStatus(st);
    setConn(true, 'live');
    byId('banner').hidden = true;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    setConn(false, status ? `no answer since ${clock(status.time * 1000)}` : 'no answer');
    const banner = byId('banner');
    banner.hidden = false;
    banner.textContent = msg;
    if (e instanceof ApiError && e.status === 401) {
      setConn(false, 'unauthorized');
      stopped = true;
    }
  }
  if (!stopped) setTimeout(() => void poll(), Math.max(100, POLL_MS - (performance.now() - t0)));
}

function route(): void {
  const m = /^#\/nf\/(\d+)$/.exec(location.hash);
  const overview = byId('page-overview');
  const nf = byId('page-nf');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-route]')) {
    a.classList.toggle('current', (a.dataset.route === 'nf') === (m !== null));
  }
  byId('topology').hidden = m !== null;
  if (m) {
    overview.hidden = true;
    nf.hidden = false;
    nfPage.show(Number(m[1]), status);
    view.redraw();
  } else {
    nf.hidden = true;
    nfPage.hide();
    overview.hidden = false;
    if (status) document.title = `${status.name} · nfchain`;
    view.redraw();
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
byId('events-state').textContent = 'connecting…';
void poll();
// For the browser test and for curious users: the state behind the page.
Object.assign(window, { nfchainConsole: { store, view, status: () => status } });
