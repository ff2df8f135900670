/**
 * fair-queue: per-flow FIFO queues of held packets (ctx.keep()), served by deficit round robin
 * (DRR, by bytes: each backlogged flow may send `quantum` bytes per round) at a configured link
 * rate (packets/s or bits/s), so that flows share the rate fairly whatever their packet sizes.
 *
 *   arrival    the link credit is refilled (rate × time since the last refill, up to `burst`);
 *              the queues are served with it; then, if nothing is queued and there is credit,
 *              the packet passes at once (NEXT); else it joins its flow's queue — unless that
 *              queue holds `flow-queue` packets, or all queues `queue` packets (drop tail,
 *              counted).
 *   tick()     every 1 ms: refill, serve the queues (DRR), expire idle flows, report.
 *
 * Credit may go below zero by the last packet sent (a packet is sent when credit is positive),
 * and is paid back before the next: the long-run rate is exact, packets are never split.
 *
 * Flows: the symmetric 5-tuple in a flow table; each entry holds a queue id (value word 0).
 * Packets without a 5-tuple, and new flows that find every id taken, share queue 0. Time:
 * ctx.now() once per burst (when ctx.handled moves on) and per tick.
 */
import { createFlowTable, defineNF, DROP, FlowKey, flowTableFor, NEXT } from 'nfchain';

/** tick() period, ms: how often the queues are served when no packet arrives. */
const TICK_MS = 1;
const TICKS_PER_SECOND = 1000 / TICK_MS;
/** the held limit of an NF process */
const HELD_MAX = 1024;

export default defineNF({
  name: 'fair-queue',
  description: 'per-flow queues served by deficit round robin at a set rate (fair sharing of a link)',
  tickInterval: TICK_MS,
  counters: {
    passed: 'packets sent at once (nothing queued, credit left)',
    queued: 'packets queued',
    sent: 'packets sent from the queues',
    flowFull: "packets dropped: their flow's queue was full",
    queueFull: 'packets dropped: all queues together (or the held table) were full',
    noFlow: 'packets without a 5-tuple (queue 0)',
    tableFull: 'new flows that found no free queue (queue 0)',
    lostAtStop: 'packets still queued when the NF stopped (freed)',
  },
  gauges: {
    backlog: 'packets queued now',
    backlogged: 'flows with packets queued now',
    flows: 'flows with a queue now',
  },
  options: {
    rate: { type: 'number', default: 1e9, min: 0.001, help: 'link rate: bits/s (unit bps) or packets/s (unit pps)' },
    unit: {
      type: 'string',
      default: 'bps',
      choices: ['bps', 'pps'],
      help: 'what rate counts: bits of the frame, or packets',
    },
    burst: {
      type: 'number',
      default: 0,
      min: 0,
      help: 'credit that may build up while idle: bytes (bps) or packets (pps); 0 = 1 ms of rate (at least one packet or 1514 bytes)',
    },
    quantum: {
      type: 'number',
      default: 1514,
      integer: true,
      min: 64,
      max: 65536,
      help: 'bytes each backlogged flow may send per round',
    },
    queue: {
      type: 'number',
      default: HELD_MAX,
      integer: true,
      min: 1,
      max: HELD_MAX,
      help: 'packets queued at most, all flows together',
    },
    'flow-queue': {
      type: 'number',
      default: 64,
      integer: true,
      min: 1,
      max: HELD_MAX,
      help: 'packets queued at most per flow (drop tail)',
    },
    flows: { type: 'number', default: 4096, integer: true, min: 1, max: 1024 * 1024, help: 'most flows at once' },
    'idle-timeout': {
      type: 'number',
      default: 10,
      min: 0,
      help: 'seconds without a packet after which a flow is forgotten; 0 = never',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: one instance: flow table, queues, DRR ring (allocates them all). */
  create(ctx) {
    const o = ctx.options;
    const bps = o.unit === 'bps';
    const perMs = bps ? o.rate / 8000 : o.rate / 1000;
    const burst = o.burst > 0 ? o.burst : bps ? Math.max(1514, perMs) : Math.max(1, perMs);
    const quantum = o.quantum;
    const qcap = o.queue;
    const flowCap = o['flow-queue'];
    const nQueues = o.flows + 1;
    const table = createFlowTable(
      flowTableFor(o.flows, { symmetric: true, idleTimeoutMs: o['idle-timeout'] * 1000, valueWords: 1 }),
      'fair-queue flows',
    );
    const key = new FlowKey();
    const freeIds = new Int32Array(nQueues);
    let nFree = 0;
    for (let id = nQueues - 1; id >= 1; id--) freeIds[nFree++] = id;
    const orphan = new Uint8Array(nQueues);
    // Packets: slots linked into one FIFO per queue.
    const slotDesc = new Int32Array(qcap);
    const slotLen = new Float64Array(qcap);
    const slotNext = new Int32Array(qcap);
    const freeSlots = new Int32Array(qcap);
    let nFreeSlots = 0;
    for (let s = qcap - 1; s >= 0; s--) freeSlots[nFreeSlots++] = s;
    const head = new Int32Array(nQueues).fill(-1);
    const tail = new Int32Array(nQueues).fill(-1);
    const qlen = new Int32Array(nQueues);
    const deficit = new Float64Array(nQueues);
    // DRR: the backlogged queues, a ring (each at most once: at most qcap of them, + queue 0).
    const ringCap = qcap + 1;
    const ring = new Int32Array(ringCap);
    let rHead = 0;
    let nActive = 0;
    /** the queue at the ring's head has had its quantum for this turn */
    let granted = false;
    let credit = burst;
    let lastRefill = ctx.now();
    let clock = lastRefill;
    let seenHandled = -1;

    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      passed: ctx.counter('passed'),
      queued: ctx.counter('queued'),
      sent: ctx.counter('sent'),
      flowFull: ctx.counter('flowFull'),
      queueFull: ctx.counter('queueFull'),
      noFlow: ctx.counter('noFlow'),
      tableFull: ctx.counter('tableFull'),
      lostAtStop: ctx.counter('lostAtStop'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      /** sent at once (nothing queued) */
      get passed(): number {
        return cells.passed.value;
      },
      get queued(): number {
        return cells.queued.value;
      },
      /** sent from the queues */
      get sent(): number {
        return cells.sent.value;
      },
      /** dropped: the flow's queue was full */
      get flowFull(): number {
        return cells.flowFull.value;
      },
      /** dropped: all queues together (or the process's held table) were full */
      get queueFull(): number {
        return cells.queueFull.value;
      },
      /** packets without a 5-tuple (queue 0) */
      get noFlow(): number {
        return cells.noFlow.value;
      },
      /** new flows that found no free queue (queue 0) */
      get tableFull(): number {
        return cells.tableFull.value;
      },
      /** still queued when the NF stopped (freed) */
      get lostAtStop(): number {
        return cells.lostAtStop.value;
      },
      /** DRR rounds a queue went round without sending (its packet larger than its deficit) */
      turns: 0,
    };
    const backlogGauge = ctx.gauge('backlog');
    const backloggedGauge = ctx.gauge('backlogged');
    const flowsGauge = ctx.gauge('flows');
    /** The gauges := the queues now (tick and stop). */
    const gauges = (): void => {
      backlogGauge.set(qcap - nFreeSlots);
      backloggedGauge.set(nActive);
      flowsGauge.set(nQueues - 1 - nFree);
    };
    /** packets sent per queue id (for tests and reports of shares) */
    const sentPerQueue = new Float64Array(nQueues);

    const freeId = (id: number): void => {
      orphan[id] = 0;
      freeIds[nFree++] = id;
    };
    const onExpire = (idx: number): void => {
      const id = table.value(idx, 0);
      if (id === 0) return;
      if (qlen[id]! > 0) orphan[id] = 1;
      else freeId(id);
    };

    function refill(): void {
      const c = credit + (clock - lastRefill) * perMs;
      credit = c > burst ? burst : c;
      lastRefill = clock;
    }

    /** Serves the backlogged queues by DRR while there is credit. */
    function serve(): void {
      while (credit > 0 && nActive > 0) {
        const id = ring[rHead]!;
        if (!granted) {
          deficit[id]! += quantum;
          granted = true;
        }
        const s = head[id]!;
        const len = slotLen[s]!;
        if (len <= deficit[id]!) {
          deficit[id]! -= len;
          credit -= bps ? len : 1;
          ctx.send(slotDesc[s]!, NEXT);
          cells.sent.add();
          sentPerQueue[id]!++;
          const n = slotNext[s]!;
          freeSlots[nFreeSlots++] = s;
          head[id] = n;
          if (--qlen[id]! === 0) {
            tail[id] = -1;
            deficit[id] = 0;
            rHead = rHead + 1 === ringCap ? 0 : rHead + 1;
            nActive--;
            granted = false;
            if (orphan[id] === 1) freeId(id);
          }
        } else {
          // Its head packet is more than its deficit: its turn is over, to the back of the ring.
          counters.turns++;
          rHead = rHead + 1 === ringCap ? 0 : rHead + 1;
          let t = rHead + nActive - 1;
          if (t >= ringCap) t -= ringCap;
          ring[t] = id;
          granted = false;
        }
      }
    }

    let ticks = 0;
    const reportTicks = o.interval * TICKS_PER_SECOND;
    const sweep = Math.ceil(table.capacity / TICKS_PER_SECOND);
    let prev = { ...counters };
    const describe = (c: typeof counters): string =>
      `${c.passed} passed at once, ${c.queued} queued, ${c.sent} sent from queues, ${c.flowFull} dropped (flow queue full), ` +
      `${c.queueFull} dropped (queue full), ${c.noFlow} without a flow, ${c.tableFull} table full`;
    if (o.interval > 0)
      ctx.log(
        `fair-queue: ${o.rate} ${o.unit}, burst ${burst} ${bps ? 'bytes' : 'packets'}, quantum ${quantum} bytes, queue ${qcap} (${flowCap} per flow)`,
      );

    return {
      counters,
      sentPerQueue,
      table,
      /** packets queued now */
      get backlog(): number {
        return qcap - nFreeSlots;
      },
      /** flows with packets queued now */
      get backlogged(): number {
        return nActive;
      },
      get queuesInUse(): number {
        return nQueues - 1 - nFree;
      },

      /** Hot path: no allocation. */
      handle(pkt, ctx) {
        if (ctx.handled !== seenHandled) {
          seenHandled = ctx.handled;
          clock = ctx.now();
          refill();
          if (nActive > 0) serve();
        }
        let id = 0;
        if (!pkt.flowKey(key)) cells.noFlow.add();
        else {
          const idx = table.lookupOrAdd(key, clock);
          if (idx < 0) cells.tableFull.add();
          else {
            if (table.lastAdded) {
              if (nFree === 0) cells.tableFull.add();
              else id = freeIds[--nFree]!;
              table.setValue(idx, 0, id);
            } else id = table.value(idx, 0);
            table.touch(idx, pkt.length, clock);
          }
        }
        const len = pkt.length;
        if (nActive === 0 && credit > 0) {
          credit -= bps ? len : 1;
          cells.passed.add();
          return NEXT;
        }
        if (qlen[id]! >= flowCap) {
          cells.flowFull.add();
          return DROP;
        }
        if (nFreeSlots === 0 || ctx.keep() < 0) {
          cells.queueFull.add();
          return DROP;
        }
        const s = freeSlots[--nFreeSlots]!;
        slotDesc[s] = pkt.desc;
        slotLen[s] = len;
        slotNext[s] = -1;
        if (qlen[id] === 0) {
          head[id] = s;
          let t = rHead + nActive;
          if (t >= ringCap) t -= ringCap;
          ring[t] = id;
          nActive++;
        } else slotNext[tail[id]!] = s;
        tail[id] = s;
        qlen[id]!++;
        cells.queued.add();
        return DROP; // ignored: the packet is kept
      },

      /** Every 1 ms: refill, serve, expire, the gauges, report. */
      tick(ctx) {
        clock = ctx.now();
        refill();
        if (nActive > 0) serve();
        table.expire(clock, onExpire, sweep);
        gauges();
        if (reportTicks > 0 && ++ticks >= reportTicks) {
          ticks = 0;
          const d = { ...counters };
          for (const k of Object.keys(d) as (keyof typeof counters)[]) d[k] -= prev[k];
          prev = { ...counters };
          ctx.log(
            `fair-queue: last ${o.interval} s: ${describe(d)}; ${qcap - nFreeSlots} queued now in ${nActive} flows`,
          );
        }
      },

      stop(ctx) {
        cells.lostAtStop.add(qcap - nFreeSlots);
        gauges();
        if (ctx.options.interval > 0)
          ctx.log(`fair-queue: in all ${describe(counters)}; ${counters.lostAtStop} still queued at stop (freed)`);
      },
    };
  },
});
