/**
 * The control requests the manager answers: one entry per request type, its handler beside it
 * (cold). The table is typed by the protocol's union (protocol/messages.ts), so a request type
 * without a handler does not compile. Adding a control command: its request and reply types in
 * protocol/messages.ts, an entry here, and its CLI command in the CLI's command table.
 *
 * Lifecycle requests (`ready`, `stopping`) are taken only from the connection that registered
 * the NF (Registry.own); `register` only for the process at the other end of the connection.
 * A connection that registered an NF speaks for that NF only: NF_REQUESTS, nothing an operator
 * does (shutdown, chains, flow rules, messages, another register).
 */
import type { Request, Reply } from '../protocol/messages.js';
import type { Conn } from './processes.js';
import type { Manager } from './manager.js';
import { send } from '../control/socket.js';

/** What a connection that registered an NF may send: its lifecycle, and scale (ctx.scale()). */
export const NF_REQUESTS: ReadonlySet<Request['type']> = new Set(['ready', 'stopping', 'scale']);

type Handler<T extends Request['type']> = (
  m: Manager,
  req: Extract<Request, { type: T }>,
  conn: Conn,
) => Reply | Promise<Reply>;

export const REQUESTS: { readonly [T in Request['type']]: Handler<T> } = {
  register: (m, req, conn) => m.register(req, conn),
  reattach: (m, req, conn) => m.reattach(req, conn),
  ready: (m, req, conn) => {
    const e = m.registry.own(req.nfId, conn, 'ready');
    if (Array.isArray(req.listening)) e.listening = req.listening.filter((s) => e.services.includes(s));
    if (!e.inService) m.registry.putInService(e);
    return { type: 'ok', id: req.id };
  },
  stopping: (m, req, conn) => {
    const e = m.registry.own(req.nfId, conn, 'stopping');
    m.log(`NF ${e.name}#${e.nfId} stopping: ${req.reason}`);
    // Answered at once: the NF exits after the answer, and its buffers are taken back only
    // once the process is gone.
    m.registry.gone(req.nfId, `it stopped (${req.reason})`, true);
    return { type: 'ok', id: req.id };
  },
  status: (m, req) => ({ type: 'status', id: req.id, status: m.status() }),
  shutdown: (m, req) => {
    setImmediate(() => void m.stop('shutdown requested'));
    return { type: 'ok', id: req.id };
  },
  message: (m, req) => {
    // Refuse what would never be read: the NF (or the group member serving the service) has no message().
    const messenger = m.messenger();
    const e = m.registry.nfs.get(messenger.resolve(req.to));
    if (e?.listening !== undefined) {
      const hears = 'service' in req.to ? e.listening.includes(req.to.service) : e.listening.length > 0;
      if (!hears) return { type: 'message-result', id: req.id, result: 'no-handler' };
    }
    return { type: 'message-result', id: req.id, result: messenger.send(req.to, req.payload) };
  },
  'flow-add': (m, req) => {
    const ruleId = m.rules.add(req.rule);
    m.rulesChanged();
    m.event('flow-rule-added', `flow rule ${ruleId} added: ${JSON.stringify(req.rule)}`, {
      detail: { ruleId, rule: req.rule },
    });
    return { type: 'flow-added', id: req.id, ruleId };
  },
  'flow-del': (m, req) => {
    m.rules.delete(req.ruleId);
    m.rulesChanged();
    m.event('flow-rule-removed', `flow rule ${req.ruleId} removed`, { detail: { ruleId: req.ruleId } });
    return { type: 'ok', id: req.id };
  },
  'flow-list': async (m, req) => {
    const rules = m.rules.specs().map((r) => ({ id: r.id, ...r.spec }));
    const table = await m.flowStats();
    return table ? { type: 'flows', id: req.id, rules, table } : { type: 'flows', id: req.id, rules };
  },
  'chain-set': (m, req) => {
    const c = m.chains.set(m.inst, req.name, req.hops);
    m.saveState();
    m.event('chain-set', `chain ${req.name} (${c}) set: ${req.hops.join(' → ')}`, {
      chain: req.name,
      detail: { chainId: c, hops: req.hops },
    });
    return { type: 'ok', id: req.id };
  },
  'chain-list': (m, req) => ({ type: 'chains', id: req.id, chains: m.chains.list(m.inst) }),
  events: (m, req, conn) => {
    const since = Number.isInteger(req.since) && req.since! > 0 ? req.since! : 0;
    const reply: Reply = { type: 'events', id: req.id, events: m.events.since(since) };
    if (req.follow === true && !conn.sock.destroyed) {
      // Each new event as a notice. Events are emitted from other callbacks (timers, sockets),
      // never before this reply is written (a microtask later): the backlog comes first.
      const stop = m.events.follow((event) => send(conn.sock, { type: 'event', event }));
      conn.sock.once('close', stop);
    }
    return reply;
  },
  scale: async (m, req) => ({
    type: 'scaled',
    id: req.id,
    ...(await m.scale(req.service, req.instances, req.rebalance === true)),
  }),
};
