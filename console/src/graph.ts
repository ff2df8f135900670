/**
 * The topology as an SVG graph: ports that packets come in on at the left, the services in
 * chain order, ports that packets leave by at the right; each service lists the NF instances
 * (and fused groups) serving it; every chain hop is an edge with its packet rate, and drops are
 * shown on the node where they happen. Laid out again only when the topology changes; the
 * rates and states are updated in place every second.
 *
 * Stable hooks: data-node="port:<name>" (data-side="in" or "out": a port that is both appears
 * twice), data-node="svc:<id>", data-edge="<from>-><to>" (its text is the rate),
 * data-drop="<node>" (the drop badge), data-nf="<nfId>" (an instance line, a link to its page).
 */
import type { DropEntry, GraphEdge, GraphNode, ManagerStatus, NfStatus } from './api-types.js';
import { h, pps, s } from './dom.js';

const PORT_W = 128;
const SVC_W = 176;
const COL_GAP = 84;
const ROW_GAP = 34;
const PAD = 24;
const PORT_H = 50;
const LINE = 18;

interface Placed {
  /** the layout key: 'in|port:x', 'out|port:x' or the node id */
  key: string;
  node: GraphNode;
  side?: 'in' | 'out';
  col: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Live {
  edges: Map<string, { g: SVGGElement; path: SVGPathElement; text: SVGTextElement; bg: SVGRectElement }>;
  portRates: Map<string, SVGTextElement>;
  badges: Map<string, SVGTextElement>;
  nfLines: Map<string, { dot: SVGCircleElement; rate: SVGTextElement; title: SVGTitleElement }>;
}

const edgeKey = (e: GraphEdge): string => `${e.from}->${e.to}`;

function stateClass(state: string): string {
  if (state === 'running') return 'ok';
  if (state === 'crashed' || state === 'dead' || state === 'stopped' || state === 'gone') return 'bad';
  return 'warn';
}

export class TopologyGraph {
  private signature = '';
  private live: Live | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly notes: HTMLElement,
  ) {}

  update(st: ManagerStatus): void {
    const g = st.graph;
    if (!g) {
      this.signature = '';
      this.container.replaceChildren(h('p', { class: 'empty' }, 'the manager gives no graph'));
      return;
    }
    const sig = JSON.stringify([
      g.nodes.map((n) => [n.id, n.kind, n.label, n.nfs ?? []]),
      g.edges.map((e) => [e.from, e.to, e.chains]),
      st.nfs.map((n) => [n.tag, n.nfId, n.members?.map((m) => m.service) ?? [], n.inline ?? false]),
      st.ports.map((p) => [p.name, p.driver]),
    ]);
    if (sig !== this.signature || !this.live) {
      this.signature = sig;
      this.live = this.build(st);
    }
    this.refresh(st, this.live);
  }

  private build(st: ManagerStatus): Live {
    const g = st.graph!;
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    const isPort = (id: string): boolean => byId.get(id)?.kind === 'port' || id.startsWith('port:');
    const srcKey = (id: string): string => (isPort(id) ? `in|${id}` : id);
    const dstKey = (id: string): string => (isPort(id) ? `out|${id}` : id);
    const edges = g.edges.filter((e) => byId.has(e.from) && byId.has(e.to));

    // Adjacency in edge order (chain order), between layout keys.
    const out = new Map<string, string[]>();
    for (const e of edges) {
      const a = srcKey(e.from);
      const list = out.get(a) ?? [];
      list.push(dstKey(e.to));
      out.set(a, list);
    }
    const inPorts = g.nodes.filter((n) => n.kind === 'port' && edges.some((e) => e.from === n.id));
    const outPorts = g.nodes.filter((n) => n.kind === 'port' && edges.some((e) => e.to === n.id));
    // A port on no hop: on the left if it receives, else on the right.
    const loose = g.nodes.filter((n) => n.kind === 'port' && !inPorts.includes(n) && !outPorts.includes(n));
    const driver = new Map(st.ports.map((p) => [p.name, p]));
    for (const n of loose) {
      const p = driver.get(n.label) ?? driver.get(n.id.slice(5));
      if (p && p.rxPackets === 0 && (p.txPackets > 0 || p.driver === 'null')) outPorts.push(n);
      else inPorts.push(n);
    }
    const services = g.nodes.filter((n) => n.kind !== 'port');

    // Depth-first from the in-ports, then from services no port reaches: discovery order,
    // back edges (a hop to a node on the current path) left out of the ranking.
    const order: string[] = [];
    const post: string[] = [];
    const state = new Map<string, 1 | 2>();
    const back = new Set<string>();
    const dfs = (k: string): void => {
      state.set(k, 1);
      order.push(k);
      for (const t of out.get(k) ?? []) {
        const st2 = state.get(t);
        if (st2 === 1) back.add(`${k}|${t}`);
        else if (st2 === undefined) dfs(t);
      }
      state.set(k, 2);
      post.push(k);
    };
    for (const p of inPorts) if (!state.has(`in|${p.id}`)) dfs(`in|${p.id}`);
    for (const n of services) if (!state.has(n.id)) dfs(n.id);
    const rank = new Map<string, number>();
    for (const k of post.reverse()) {
      if (!rank.has(k)) rank.set(k, k.startsWith('in|') ? 0 : 1);
      for (const t of out.get(k) ?? []) {
        if (back.has(`${k}|${t}`)) continue;
        rank.set(t, Math.max(rank.get(t) ?? 0, rank.get(k)! + 1));
      }
    }
    let maxSvc = 0;
    for (const n of services) maxSvc = Math.max(maxSvc, rank.get(n.id) ?? 1);
    const outCol = maxSvc + 1;

    const rankOf = (k: string): number =>
      k.startsWith('in|') ? 0 : k.startsWith('out|') ? outCol : (rank.get(k) ?? 1);
    const placed = new Map<string, Placed>();
    const columns: Placed[][] = Array.from({ length: outCol + 1 }, () => []);
    const nfCount = (n: GraphNode): number => Math.max(1, n.nfs?.length ?? 0);
    const add = (key: string, node: GraphNode, col: number, side?: 'in' | 'out'): void => {
      if (placed.has(key)) return;
      const w = node.kind === 'port' ? PORT_W : SVC_W;
      const ht = node.kind === 'port' ? PORT_H : 30 + LINE * nfCount(node) + 6;
      const p: Placed = { key, node, col, x: 0, y: 0, w, h: ht, ...(side ? { side } : {}) };
      placed.set(key, p);
      columns[col]!.push(p);
    };
    for (const p of inPorts) add(`in|${p.id}`, p, 0, 'in');
    const seen = new Set(order);
    for (const k of order) {
      if (k.startsWith('in|')) continue;
      if (k.startsWith('out|')) continue;
      const n = byId.get(k);
      if (n) add(k, n, Math.min(maxSvc, Math.max(1, rank.get(k) ?? 1)));
    }
    for (const n of services) if (!seen.has(n.id)) add(n.id, n, 1);
    const outOrder = order.filter((k) => k.startsWith('out|'));
    for (const n of outPorts) if (!outOrder.includes(`out|${n.id}`)) outOrder.push(`out|${n.id}`);
    for (const k of outOrder) add(k, byId.get(k.slice(4))!, outCol, 'out');

    // Positions: columns left to right, each stacked and centred on the tallest.
    const colH = columns.map((c) => c.reduce((a, p) => a + p.h, 0) + ROW_GAP * Math.max(0, c.length - 1));
    const maxH = Math.max(PORT_H, ...colH);
    // Room above for a group's label, and for hops that jump over a column.
    const jumps = edges.some((e) => {
      const a = rankOf(srcKey(e.from));
      const b = rankOf(dstKey(e.to));
      return b > a + 1;
    });
    const top = PAD + 22 + (jumps ? 40 : 0);
    let x = PAD;
    columns.forEach((c, i) => {
      const w = Math.max(0, ...c.map((p) => p.w));
      let y = top + (maxH - colH[i]!) / 2;
      for (const p of c) {
        p.x = x + (w - p.w) / 2;
        p.y = y;
        y += p.h + ROW_GAP;
      }
      if (c.length > 0 || i === 0 || i === outCol) x += w + COL_GAP;
    });
    const hasBack = edges.some((e) => {
      const a = placed.get(srcKey(e.from));
      const b = placed.get(dstKey(e.to));
      return a && b && b.col <= a.col;
    });
    const width = x - COL_GAP + PAD;
    const height = top + maxH + PAD + 24 + (hasBack ? 50 : 0);

    const svg = s('svg', {
      id: 'graph-svg',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      style: `min-width:${Math.round(width * 0.75)}px`,
      role: 'img',
      'aria-label': 'topology: ports, services and the chain hops between them',
    });
    svg.append(
      s(
        'defs',
        {},
        s(
          'marker',
          {
            id: 'arrow',
            viewBox: '0 0 10 10',
            refX: 9,
            refY: 5,
            markerWidth: 7,
            markerHeight: 7,
            orient: 'auto-start-reverse',
            markerUnits: 'userSpaceOnUse',
          },
          s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }),
        ),
      ),
    );

    // Fused groups: a dashed box round the services a group serves.
    const nodeOfService = (svc: number): Placed | undefined => placed.get(`svc:${svc}`);
    const groupLayer = s('g', { class: 'groups' });
    for (const nf of st.nfs) {
      if (!nf.members || nf.members.length === 0) continue;
      const boxes = nf.members.map((m) => nodeOfService(m.service)).filter((p): p is Placed => p !== undefined);
      if (boxes.length === 0) continue;
      const x0 = Math.min(...boxes.map((b) => b.x)) - 10;
      const y0 = Math.min(...boxes.map((b) => b.y)) - 10;
      const x1 = Math.max(...boxes.map((b) => b.x + b.w)) + 10;
      const y1 = Math.max(...boxes.map((b) => b.y + b.h)) + 10;
      groupLayer.append(
        s(
          'g',
          { class: 'group', 'data-group': nf.tag },
          s('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 8 }),
          s(
            'text',
            { x: x0 + 6, y: y0 - 5, class: 'group-label' },
            `fused ${nf.tag}${nf.inline ? ' · inline' : ''}: ${nf.members.map((m) => m.name).join(' + ')}`,
          ),
        ),
      );
    }
    svg.append(groupLayer);

    // Edges under the nodes.
    const live: Live = { edges: new Map(), portRates: new Map(), badges: new Map(), nfLines: new Map() };
    const edgeLayer = s('g', { class: 'edges' });
    const labelLayer = s('g', { class: 'edge-labels' });
    const bottom = top + maxH + 34;
    for (const e of edges) {
      const a = placed.get(srcKey(e.from));
      const b = placed.get(dstKey(e.to));
      if (!a || !b) continue;
      let d: string;
      let lx: number;
      let ly: number;
      if (b.col === a.col + 1) {
        const x0 = a.x + a.w;
        const y0 = a.y + a.h / 2;
        const x1 = b.x - 2;
        const y1 = b.y + b.h / 2;
        const dx = (x1 - x0) / 2;
        d = `M${x0},${y0} C${x0 + dx},${y0} ${x1 - dx},${y1} ${x1},${y1}`;
        lx = (x0 + x1) / 2;
        ly = (y0 + y1) / 2;
      } else if (b.col > a.col) {
        // Over a column or more: an arc above the nodes it would cross.
        const x0 = a.x + a.w - 12;
        const y0 = a.y;
        const x1 = b.x + 12;
        const y1 = b.y - 2;
        const yTop = PAD - 4;
        d = `M${x0},${y0} C${x0 + 40},${yTop} ${x1 - 40},${yTop} ${x1},${y1}`;
        lx = (x0 + x1) / 2;
        ly = (y0 + 3 * yTop + y1) / 4 + 4;
      } else {
        // Back to an earlier column (or the same one): a loop under the graph.
        const x0 = a.x + a.w / 2;
        const y0 = a.y + a.h;
        const x1 = b.x + b.w / 2 + 8;
        const y1 = b.y + b.h + 2;
        d = `M${x0},${y0} C${x0},${bottom + 30} ${x1},${bottom + 30} ${x1},${y1}`;
        lx = (x0 + x1) / 2;
        ly = (y0 + 3 * (bottom + 30) + y1) / 4 - 2;
      }
      const key = edgeKey(e);
      const path = s('path', { d, class: 'edge-line', 'marker-end': 'url(#arrow)' });
      edgeLayer.append(path);
      const bg = s('rect', { class: 'edge-label-bg', x: lx - 30, y: ly - 10, width: 60, height: 16, rx: 3 });
      const text = s('text', { x: lx, y: ly + 2, class: 'edge-label', 'text-anchor': 'middle' }, '–');
      const eg = s('g', { 'data-edge': key, 'data-chains': e.chains.join(' ') }, bg, text);
      labelLayer.append(s('g', {}, s('title', {}, `${e.from} → ${e.to}\nchains: ${e.chains.join(', ') || '–'}`), eg));
      live.edges.set(key, { g: eg, path, text, bg });
    }
    svg.append(edgeLayer);

    // Nodes.
    const nodeLayer = s('g', { class: 'nodes' });
    const nfByTag = new Map(st.nfs.map((n) => [n.tag, n]));
    for (const p of placed.values()) {
      const n = p.node;
      const g2 = s('g', {
        class: `node ${n.kind}`,
        'data-node': n.id,
        ...(p.side ? { 'data-side': p.side } : {}),
        transform: `translate(${p.x},${p.y})`,
      });
      g2.append(s('rect', { width: p.w, height: p.h, rx: n.kind === 'port' ? 22 : 6 }));
      if (n.kind === 'port') {
        const port = st.ports.find((x) => `port:${x.name}` === n.id);
        g2.append(
          s(
            'text',
            { x: p.w / 2, y: 20, 'text-anchor': 'middle', class: 'node-title' },
            n.label,
            // The driver, unless the label says it already ("in (gen)").
            s('tspan', { class: 'node-sub' }, port && !n.label.includes(port.driver) ? `  ${port.driver}` : ''),
          ),
        );
        const rate = s('text', { x: p.w / 2, y: 38, 'text-anchor': 'middle', class: 'node-rate' }, '–');
        g2.append(rate);
        live.portRates.set(p.key, rate);
      } else {
        g2.append(s('text', { x: 10, y: 20, class: 'node-title' }, n.label));
        const tags = n.nfs ?? [];
        if (tags.length === 0) {
          g2.append(s('text', { x: 10, y: 38, class: 'node-sub bad' }, 'no instance'));
        }
        tags.forEach((tag, i) => {
          const nf = nfByTag.get(tag);
          const y = 30 + LINE * i + 12;
          const dot = s('circle', { cx: 16, cy: y - 4, r: 4, class: 'dot' });
          // The rate it receives, or its state when it is not running.
          const rate = s('text', { x: SVC_W - 10, y, 'text-anchor': 'end', class: 'nf-rate' }, '');
          const label = s('text', { x: 26, y, class: 'nf-tag' }, tag);
          const title = s('title', {}, tag);
          g2.append(s('a', nf ? { href: `#/nf/${nf.nfId}`, 'data-nf': nf.nfId } : {}, title, dot, label, rate));
          live.nfLines.set(`${n.id}|${tag}`, { dot, rate, title });
        });
      }
      const badge = s('text', { x: p.w / 2, y: p.h + 15, 'text-anchor': 'middle', class: 'drop-badge' }, '');
      badge.dataset.drop = n.id;
      g2.append(badge);
      live.badges.set(p.key, badge);
      nodeLayer.append(g2);
    }
    svg.append(nodeLayer, labelLayer);
    this.container.replaceChildren(svg);
    return live;
  }

  private refresh(st: ManagerStatus, live: Live): void {
    const g = st.graph!;
    const byTag = new Map<string, NfStatus>(st.nfs.map((n) => [n.tag, n]));
    for (const e of g.edges) {
      const l = live.edges.get(edgeKey(e));
      if (!l) continue;
      const v = e.pps;
      const txt = pps(v);
      if (l.text.textContent !== txt) l.text.textContent = txt;
      const w = Math.max(36, txt.length * 6.4 + 10);
      l.bg.setAttribute('width', String(w));
      l.bg.setAttribute('x', String(Number(l.text.getAttribute('x')) - w / 2));
      const flowing = v !== undefined && v > 0;
      l.path.classList.toggle('idle', !flowing);
      l.path.style.strokeWidth = String(flowing ? Math.min(7, 1.4 + 0.9 * Math.log10(1 + v)) : 1.2);
    }
    for (const p of st.ports) {
      // Where packets come in, what the port receives; where they leave, what it sends.
      for (const side of ['in', 'out']) {
        const el = live.portRates.get(`${side}|port:${p.name}`);
        const t = side === 'in' ? `rx ${pps(p.rates?.rxPps)}` : `tx ${pps(p.rates?.txPps)}`;
        if (el && el.textContent !== t) el.textContent = t;
      }
    }
    for (const [key, line] of live.nfLines) {
      const tag = key.slice(key.indexOf('|') + 1);
      const nf = byTag.get(tag);
      const state = nf?.state ?? 'gone';
      const cls = stateClass(state);
      line.dot.setAttribute('class', `dot ${cls}`);
      line.rate.setAttribute('class', `nf-rate ${cls}`);
      line.rate.textContent = state !== 'running' ? state : nf?.rates ? pps(nf.rates.rxPps) : '';
      line.title.textContent = nf
        ? `${tag}: ${state}, pid ${nf.pid}${nf.inline ? ' (inline)' : ''}, cpu ${nf.cpu}; rx ${pps(nf.rates?.rxPps)}, tx ${pps(nf.rates?.txPps)}, drop ${pps(nf.rates?.dropPps)}`
        : `${tag}: gone`;
    }
    // Drops where they happen: the node's rate, the reasons in its tooltip.
    const reasons = new Map<string, DropEntry[]>();
    const nodeOf = (d: DropEntry): string | undefined => {
      if (d.where.startsWith('port:')) return d.where;
      if (d.where.startsWith('nf:')) {
        const tag = d.where.slice(3);
        return g.nodes.find((n) => n.nfs?.includes(tag))?.id;
      }
      return undefined;
    };
    const manager: DropEntry[] = [];
    for (const d of st.drops ?? []) {
      const n = nodeOf(d);
      if (n === undefined) manager.push(d);
      else reasons.set(n, [...(reasons.get(n) ?? []), d]);
    }
    for (const [key, badge] of live.badges) {
      const id = key.replace(/^(in|out)\|/, '');
      const node = g.nodes.find((n) => n.id === id);
      const rate = node?.dropPps;
      const list = reasons.get(id) ?? [];
      const show = rate !== undefined && rate > 0;
      const text = show ? `✕ ${pps(rate)} dropped` : '';
      if (badge.firstChild?.nodeValue !== text) {
        badge.replaceChildren(text);
        if (show && list.length > 0) {
          badge.append(
            s('title', {}, list.map((d) => `${d.where}: ${d.reason} ${pps(d.pps)} (${d.count} in all)`).join('\n')),
          );
        }
      }
      badge.parentElement?.classList.toggle('dropping', show);
    }
    const mgr = manager.filter((d) => (d.pps ?? 0) > 0);
    this.notes.replaceChildren(
      ...(mgr.length
        ? [
            h('span', { class: 'bad' }, 'drops in the manager: '),
            mgr.map((d) => `${d.where} ${d.reason} ${pps(d.pps)}`).join(', '),
          ]
        : []),
    );
  }
}
