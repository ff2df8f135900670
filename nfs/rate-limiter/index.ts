/**
 * rate-limiter: a token bucket per flow (symmetric 5-tuple, in a flow table) or per input port,
 * refilled at `rate` packets/s or bits/s up to `depth`; after OpenNetVM's simple_fwd_tb.
 *
 *   police (default)   a packet that finds enough tokens passes (NEXT) and takes them; one that
 *                      does not is dropped and counted.
 *   shape              such a packet is held (ctx.keep()) in its bucket's FIFO queue and sent
 *                      when the bucket has refilled: from tick() (every 1 ms) or when a later
 *                      packet of the bucket arrives. Queues share `queue` places (at most 1024,
 *                      the held limit of an NF process); a packet that finds them full is dropped
 *                      and counted.
 *
 * Time: ctx.now() is read once per burst in handle() (when ctx.handled has moved on: it is
 * updated after each burst) and at each tick; so tokens are granted with the resolution of a
 * burst, or of a tick (1 ms) when the NF is idle.
 *
 * Buckets: per flow, each flow table entry holds a bucket id (value word 0) that indexes the
 * typed arrays below; ids come back when the flow expires (`idle-timeout`). Non-IP packets (no
 * 5-tuple), and new flows that find the table full, share bucket 0. Per port, the bucket is the
 * input port id (ports 63 and above share bucket 63).
 */
import { createFlowTable, defineNF, DROP, FlowKey, flowTableFor, NEXT, NfcError } from 'nfchain';

/** tick() period, ms: the release resolution of shaping when no packets arrive. */
const TICK_MS = 1;
const TICKS_PER_SECOND = 1000 / TICK_MS;
const PORT_BUCKETS = 64;
/** the largest frame a bits/s bucket must hold at least */
const MIN_DEPTH_BYTES = 1514;
/** the held limit of an NF process */
const HELD_MAX = 1024;

export default defineNF({
  name: 'rate-limiter',
  description: 'token bucket per flow or per port: drops (police) or delays (shape) what exceeds the rate',
  tickInterval: TICK_MS,
  counters: {
    passed: 'packets within the rate, passed at once',
    dropped: 'packets over the rate, dropped (police)',
    delayed: "packets over the rate, held in their bucket's queue (shape)",
    released: 'held packets sent when their bucket refilled (shape)',
    queueFull: 'packets over the rate dropped because the queue was full (shape)',
    noFlow: 'packets without a 5-tuple (by flow): bucket 0',
    tableFull: 'new flows that found the flow table full: bucket 0',
    lostAtStop: 'packets still queued when the NF stopped (freed)',
  },
  gauges: {
    queued: 'packets held now (shape)',
    flows: 'flows with a bucket now (by flow)',
  },
  options: {
    by: {
      type: 'string',
      default: 'flow',
      choices: ['flow', 'port'],
      help: 'one bucket per flow (5-tuple) or per input port',
    },
    rate: {
      type: 'number',
      default: 1000,
      min: 0.001,
      help: 'tokens per second: packets/s (unit pps) or bits/s (unit bps)',
    },
    unit: {
      type: 'string',
      default: 'pps',
      choices: ['pps', 'bps'],
      help: 'what rate counts: packets or bits (of the frame)',
    },
    depth: {
      type: 'number',
      default: 0,
      min: 0,
      help: 'bucket size: packets (pps) or bytes (bps); 0 = 100 ms of rate (at least 1 packet, or 1514 bytes)',
    },
    mode: {
      type: 'string',
      default: 'police',
      choices: ['police', 'shape'],
      help: 'drop (police) or delay (shape) what exceeds the rate',
    },
    queue: {
      type: 'number',
      default: 512,
      integer: true,
      min: 1,
      max: HELD_MAX,
      help: 'shape: packets held at most, all buckets together (the process may hold 1024)',
    },
    flows: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: 4 * 1024 * 1024,
      help: 'by flow: most flows at once',
    },
    'idle-timeout': {
      type: 'number',
      default: 30,
      min: 0,
      help: 'by flow: seconds without a packet after which a flow is forgotten; 0 = never',
    },
    interval: { type: 'number', default: 0, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: one instance: its buckets, flow table and queues (allocates them all). */
  create(ctx) {
    const o = ctx.options;
    const bps = o.unit === 'bps';
    const shape = o.mode === 'shape';
    const byFlow = o.by === 'flow';
    /** tokens per ms (packets, or bytes) */
    const perMs = bps ? o.rate / 8000 : o.rate / 1000;
    let depth = o.depth;
    if (depth === 0) depth = bps ? Math.max(MIN_DEPTH_BYTES, perMs * 100) : Math.max(1, perMs * 100);
    else if (bps && depth < MIN_DEPTH_BYTES)
      throw new NfcError('NFC_ERR_NF_OPTION', `rate-limiter: option "depth": ${depth} bytes cannot hold a full frame`, {
        fix: `with unit bps, depth is in bytes: give at least ${MIN_DEPTH_BYTES} (or 0 for 100 ms of rate)`,
      });
    else if (!bps && depth < 1)
      throw new NfcError('NFC_ERR_NF_OPTION', `rate-limiter: option "depth": ${depth} packets cannot hold a packet`, {
        fix: 'with unit pps, depth is in packets: give at least 1 (or 0 for 100 ms of rate)',
      });

    const nBuckets = byFlow ? o.flows + 1 : PORT_BUCKETS;
    const tokens = new Float64Array(nBuckets);
    const last = new Float64Array(nBuckets);
    /** per flow: the table, the free bucket ids (a stack), and buckets whose flow expired while they held packets */
    const table = byFlow
      ? createFlowTable(
          flowTableFor(o.flows, { symmetric: true, idleTimeoutMs: o['idle-timeout'] * 1000, valueWords: 1 }),
          'rate-limiter flows',
        )
      : undefined;
    const freeIds = new Int32Array(nBuckets);
    let nFree = 0;
    for (let id = nBuckets - 1; id >= 1; id--) freeIds[nFree++] = id;
    const orphan = new Uint8Array(nBuckets);
    const key = new FlowKey();
    /** shape: held packets, in slots linked into one FIFO per bucket */
    const qcap = o.queue;
    const slotDesc = new Int32Array(qcap);
    const slotCost = new Float64Array(qcap);
    const slotNext = new Int32Array(qcap);
    const freeSlots = new Int32Array(qcap);
    let nFreeSlots = 0;
    for (let s = qcap - 1; s >= 0; s--) freeSlots[nFreeSlots++] = s;
    const head = new Int32Array(nBuckets).fill(-1);
    const tail = new Int32Array(nBuckets).fill(-1);
    const qlen = new Int32Array(nBuckets);
    /** buckets with packets queued */
    const active = new Int32Array(Math.min(nBuckets, qcap));
    const inActive = new Uint8Array(nBuckets);
    let nActive = 0;
    // Bucket 0 (and every port bucket) starts full, like a new flow's.
    for (let id = 0; id < (byFlow ? 1 : nBuckets); id++) tokens[id] = depth;

    /** the declared counters and gauges (stats, /metrics, the console) */
    const cells = {
      passed: ctx.counter('passed'),
      dropped: ctx.counter('dropped'),
      delayed: ctx.counter('delayed'),
      released: ctx.counter('released'),
      queueFull: ctx.counter('queueFull'),
      noFlow: ctx.counter('noFlow'),
      tableFull: ctx.counter('tableFull'),
      lostAtStop: ctx.counter('lostAtStop'),
    };
    /** the instance's counters (tests, the counter line): the declared ones read through to `cells` */
    const counters = {
      get passed(): number {
        return cells.passed.value;
      },
      /** dropped over the rate (police) */
      get dropped(): number {
        return cells.dropped.value;
      },
      /** shape: held, then sent */
      get delayed(): number {
        return cells.delayed.value;
      },
      get released(): number {
        return cells.released.value;
      },
      /** shape: dropped because the queue (or the process's held table) was full */
      get queueFull(): number {
        return cells.queueFull.value;
      },
      /** packets without a 5-tuple (by flow): bucket 0 */
      get noFlow(): number {
        return cells.noFlow.value;
      },
      /** new flows that found the table full: bucket 0 */
      get tableFull(): number {
        return cells.tableFull.value;
      },
      /** packets still queued when the NF stopped (freed) */
      get lostAtStop(): number {
        return cells.lostAtStop.value;
      },
    };
    const queuedGauge = ctx.gauge('queued');
    const flowsGauge = ctx.gauge('flows');
    let clock = ctx.now();
    let seenHandled = -1;
    let ticks = 0;
    const reportTicks = o.interval * TICKS_PER_SECOND;
    const sweep = table ? Math.ceil(table.capacity / TICKS_PER_SECOND) : 0;
    let prev = { ...counters };

    const freeId = (id: number): void => {
      orphan[id] = 0;
      freeIds[nFree++] = id;
    };
    /** a flow leaves the table: its bucket id is free, or once its queue is empty */
    const onExpire = (idx: number): void => {
      const id = table!.value(idx, 0);
      if (id === 0) return; // a flow that got the shared bucket (no id was free)
      if (qlen[id]! > 0) orphan[id] = 1;
      else freeId(id);
    };

    function refill(id: number): void {
      const t = tokens[id]! + (clock - last[id]!) * perMs;
      tokens[id] = t > depth ? depth : t;
      last[id] = clock;
    }

    /** Sends bucket id's queued packets while its tokens allow. */
    function drain(id: number): void {
      let s = head[id]!;
      while (s >= 0) {
        const c = slotCost[s]!;
        if (tokens[id]! < c) break;
        tokens[id]! -= c;
        ctx.send(slotDesc[s]!, NEXT);
        cells.released.add();
        const n = slotNext[s]!;
        freeSlots[nFreeSlots++] = s;
        qlen[id]!--;
        s = n;
      }
      head[id] = s;
      if (s < 0) tail[id] = -1;
    }

    const describe = (c: typeof counters): string =>
      `${c.passed} passed, ${c.dropped} dropped over the rate` +
      (shape ? `, ${c.delayed} delayed, ${c.released} released, ${c.queueFull} dropped (queue full)` : '') +
      (byFlow ? `, ${c.noFlow} without a flow, ${c.tableFull} table full` : '');
    if (o.interval > 0)
      ctx.log(
        `rate-limiter: ${o.mode} ${o.rate} ${o.unit} per ${o.by}, depth ${depth} ${bps ? 'bytes' : 'packets'}` +
          (shape ? `, queue ${qcap}` : ''),
      );

    return {
      counters,
      /** the flow table (by flow), for tests */
      table,
      /** packets queued now (shape) */
      get queued(): number {
        return qcap - nFreeSlots;
      },
      /** bucket ids in use (by flow) */
      get bucketsInUse(): number {
        return nBuckets - 1 - nFree;
      },
      get depth(): number {
        return depth;
      },

      /** Hot path: no allocation. */
      handle(pkt, ctx) {
        if (ctx.handled !== seenHandled) {
          seenHandled = ctx.handled;
          clock = ctx.now();
        }
        let id: number;
        if (byFlow) {
          if (!pkt.flowKey(key)) {
            cells.noFlow.add();
            id = 0;
          } else {
            const idx = table!.lookupOrAdd(key, clock);
            if (idx < 0) {
              cells.tableFull.add();
              id = 0;
            } else if (table!.lastAdded) {
              // Every id is taken only while expired flows' queues still drain: share bucket 0.
              if (nFree === 0) {
                cells.tableFull.add();
                id = 0;
              } else {
                id = freeIds[--nFree]!;
                tokens[id] = depth;
                last[id] = clock;
              }
              table!.setValue(idx, 0, id);
              table!.touch(idx, pkt.length, clock);
            } else {
              id = table!.value(idx, 0);
              table!.touch(idx, pkt.length, clock);
            }
          }
        } else {
          const p = pkt.inputPort;
          id = p < PORT_BUCKETS ? p : PORT_BUCKETS - 1;
        }
        refill(id);
        const cost = bps ? pkt.length : 1;
        if (!shape) {
          if (tokens[id]! >= cost) {
            tokens[id]! -= cost;
            cells.passed.add();
            return NEXT;
          }
          cells.dropped.add();
          return DROP;
        }
        if (qlen[id]! > 0) drain(id);
        if (qlen[id] === 0 && tokens[id]! >= cost) {
          tokens[id]! -= cost;
          cells.passed.add();
          return NEXT;
        }
        if (nFreeSlots === 0 || ctx.keep() < 0) {
          cells.queueFull.add();
          return DROP;
        }
        const s = freeSlots[--nFreeSlots]!;
        slotDesc[s] = pkt.desc;
        slotCost[s] = cost;
        slotNext[s] = -1;
        if (qlen[id] === 0) {
          head[id] = s;
          if (inActive[id] === 0) {
            inActive[id] = 1;
            active[nActive++] = id;
          }
        } else slotNext[tail[id]!] = s;
        tail[id] = s;
        qlen[id]!++;
        cells.delayed.add();
        return DROP; // ignored: the packet is kept
      },

      /** Every 1 ms: releases what the buckets allow, expires idle flows, the gauges, reports. */
      tick(ctx) {
        clock = ctx.now();
        if (nActive > 0) {
          let k = 0;
          for (let i = 0; i < nActive; i++) {
            const id = active[i]!;
            refill(id);
            drain(id);
            if (qlen[id]! > 0) active[k++] = id;
            else {
              inActive[id] = 0;
              if (orphan[id] === 1) freeId(id);
            }
          }
          nActive = k;
        }
        if (table) table.expire(clock, onExpire, sweep);
        queuedGauge.set(qcap - nFreeSlots);
        if (table) flowsGauge.set(table.count);
        if (reportTicks > 0 && ++ticks >= reportTicks) {
          ticks = 0;
          const d = { ...counters };
          for (const k of Object.keys(d) as (keyof typeof counters)[]) d[k] -= prev[k];
          prev = { ...counters };
          ctx.log(
            `rate-limiter: last ${o.interval} s: ${describe(d)}` +
              (shape ? `; ${qcap - nFreeSlots} queued` : '') +
              (table ? `; ${table.count} flows` : ''),
          );
        }
      },

      stop(ctx) {
        cells.lostAtStop.add(qcap - nFreeSlots);
        queuedGauge.set(qcap - nFreeSlots);
        if (table) flowsGauge.set(table.count);
        if (ctx.options.interval > 0)
          ctx.log(
            `rate-limiter: in all ${describe(counters)}${shape ? `; ${counters.lostAtStop} still queued at stop (freed)` : ''}`,
          );
      },
    };
  },
});
