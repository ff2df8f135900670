/**
 * stateful-firewall: connection tracking between inside and outside ports.
 *
 *   from inside    a TCP SYN (SYN without ACK/RST), any UDP, ICMP/ICMPv6 or other IP packet
 *                  opens a flow (its 5-tuple, both directions, in a symmetric flow table);
 *                  packets of known flows pass (NEXT)
 *   from outside   packets of a known flow, in the reply direction, pass; everything else is
 *                  dropped and counted (no flow, wrong direction, invalid TCP)
 *
 * Flows live in one of two symmetric tables: IPv4 flows (any protocol, whichever parse read the
 * packet) in the NF's compact table (FlowTable4, 32-byte entries), the rest (IPv6) in a platform
 * flow table (createFlowTable). `capacity` bounds the two together.
 *
 * TCP state (the flow's state word: state in bits 0-3, FIN seen from the opener in bit 4, from
 * the responder in bit 5):
 *
 *   SYN_SENT ──SYN+ACK from the responder──▶ SYN_RECV ──ACK from the opener──▶ ESTABLISHED
 *   ESTABLISHED ──FIN (one side)──▶ FIN_WAIT ──FIN (other side)──▶ CLOSING
 *   any ──RST──▶ CLOSED           CLOSED ──SYN from the opener──▶ SYN_SENT (port reuse)
 *
 * In SYN_SENT, a responder packet other than SYN+ACK or RST is invalid (dropped). Malformed
 * TCP headers are invalid. Each state has an idle timeout (options): FIN_WAIT, CLOSING and
 * CLOSED use `tcp-closing-timeout` (short), SYN_SENT/SYN_RECV `tcp-syn-timeout`. UDP, ICMP and
 * other protocols have one state each and their own timeout.
 *
 * ICMPv6 neighbour discovery (types 133-137) always passes: IPv6 does not work without it.
 * Packets that are not IPv4/IPv6 (ARP) take `non-ip`.
 *
 * Time: handle() does not read the clock; tick() (every 100 ms) reads ctx.now() into `clock`,
 * which stamps packets (the table's lastSeen), and sweeps a tenth of the table, removing the
 * flows idle longer than their state's timeout.
 */
import {
  createFlowTable,
  defineNF,
  DROP,
  FlowKey,
  flowTableFor,
  hashFlowKey,
  Meta,
  NEXT,
  NfcError,
  BURST,
  type PacketView,
} from 'nfchain';

const META_FLOW_HASH = Meta.flowHash;
const META_PORT = Meta.port;

const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;
const MAX_CAPACITY = 4 * 1024 * 1024;

/** Flow states (value word 0, bits 0-3). */
export const State = {
  synSent: 1,
  synRecv: 2,
  established: 3,
  finWait: 4,
  closing: 5,
  closed: 6,
  udp: 7,
  icmp: 8,
  other: 9,
} as const;
export const STATE_NAMES = [
  '',
  'syn-sent',
  'syn-recv',
  'established',
  'fin-wait',
  'closing',
  'closed',
  'udp',
  'icmp',
  'other',
];
const SYN_SENT = 1,
  SYN_RECV = 2,
  ESTABLISHED = 3,
  FIN_WAIT = 4,
  CLOSING = 5,
  CLOSED = 6,
  UDP = 7,
  ICMP = 8,
  OTHER = 9;
const FIN_ORIG = 0x10;
const FIN_REPLY = 0x20;
const TCP_FIN = 0x01,
  TCP_SYN = 0x02,
  TCP_RST = 0x04,
  TCP_ACK = 0x10;

/** Counters (cold copy). */
export interface StatefulStats {
  /** packets passed, of known flows or opening one */
  passed: number;
  /** flows opened from inside */
  opened: number;
  /** from outside, of no known flow (or in the opener's direction): dropped */
  noFlow: number;
  /** TCP packets that break the state machine, malformed TCP, inside non-SYN without a flow: dropped */
  invalid: number;
  /** new flows when the table was full: dropped */
  tableFull: number;
  /** flows removed by their idle timeout */
  expired: number;
  /** ICMPv6 neighbour discovery, passed */
  nd: number;
  nonIp: number;
  activeFlows: number;
}

const HASH_SEED = 0x9e3779b9;

/** One endpoint's hash (flow-key.ts endpointHash with the IPv4 seed). */
function endpoint4(addr: number, port: number): number {
  let h = Math.imul(addr ^ HASH_SEED, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h ^ port, 0x85ebca77);
}

/**
 * hashFlowKey(key, true) of an IPv4 key, from its fields (the same value, so the RX loop's meta
 * hash of an IPv4 packet is its FlowTable4 hash): 31 bits, symmetric. Hot path: no allocation.
 */
export function hash4(src: number, dst: number, proto: number, ports: number): number {
  let h = ((endpoint4(src, ports >>> 16) + endpoint4(dst, ports & 0xffff)) | 0) ^ Math.imul(proto + 1, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

/** Slots of a table for `flows` flows: a power of two, load at most 0.75 (as flowTableFor). */
export function slotsFor(flows: number): number {
  return Math.max(8, 2 ** Math.ceil(Math.log2(Math.ceil(flows / 0.75))));
}

/**
 * The firewall's IPv4 flow table: symmetric (a flow's two directions are one entry), open
 * addressing with linear probing, 32-byte entries in one Int32Array (two to a cache line), no
 * tombstones (remove shifts the rest of the cluster back), so the hot area of 100 000 flows
 * (262 144 slots) is 8 MiB, a lookup usually one line. Entry i, words at i << 3:
 *
 *   0 ctl: 0 = empty, else 1 | proto << 1 | the hash's bits 9-30 (a tag: a probe compares the
 *     rest of an entry only when it matches)   1 src   2 dst (the opener's direction)
 *   3 ports (sport << 16 | dport)   4 state word   5 hash (home slot for remove)
 *   6-7 lastSeen (f64, ms: Float64Array index (i << 2) + 3)
 *
 * The caller keeps the count below the slots (at most 0.75 of them), so every probe ends at an
 * empty slot. Methods are hot-path and allocation-free unless said cold.
 */
export class FlowTable4 {
  readonly slots: number;
  readonly mask: number;
  readonly w: Int32Array;
  readonly f: Float64Array;
  /** entries in use */
  count = 0;
  /** Set by lookup: true when the key was found in the reply direction. */
  lastReversed = false;
  /** what prefetch read (so the reads are not dropped) */
  sink = 0;

  /** Cold. Allocates: the table (slots × 32 bytes). */
  constructor(slots: number) {
    this.slots = slots;
    this.mask = slots - 1;
    const buf = new ArrayBuffer(slots * 32);
    this.w = new Int32Array(buf);
    this.f = new Float64Array(buf);
  }

  /** Touches the home slot of each of the n hashes and the slot after it. */
  prefetch(hashes: Uint32Array, n: number): void {
    const w = this.w;
    const mask = this.mask;
    let x = 0;
    for (let j = 0; j < n; j++) {
      const h = hashes[j]!;
      x ^= w[(h & mask) << 3]! ^ w[((h + 1) & mask) << 3]!;
    }
    this.sink = x;
  }

  /** The entry of the flow (either direction), or -1; sets lastReversed. `h`: hash4 of the key. */
  lookup(src: number, dst: number, proto: number, ports: number, h: number): number {
    const w = this.w;
    const mask = this.mask;
    const ctl = 1 | (proto << 1) | ((h >>> 9) << 9);
    const rports = (ports << 16) | (ports >>> 16);
    let i = h & mask;
    for (;;) {
      const b = i << 3;
      const c = w[b]!;
      if (c === ctl) {
        const s = w[b + 1]!;
        const d = w[b + 2]!;
        const p = w[b + 3]!;
        if (s === src && d === dst && p === ports) {
          this.lastReversed = false;
          return i;
        }
        if (s === dst && d === src && p === rports) {
          this.lastReversed = true;
          return i;
        }
      } else if (c === 0) {
        return -1;
      }
      i = (i + 1) & mask;
    }
  }

  /** Adds a flow known to be missing (the caller checked room): state word `st`, lastSeen `now`. */
  add(src: number, dst: number, proto: number, ports: number, h: number, st: number, now: number): number {
    const w = this.w;
    const mask = this.mask;
    let i = h & mask;
    while (w[i << 3] !== 0) i = (i + 1) & mask;
    const b = i << 3;
    w[b + 1] = src;
    w[b + 2] = dst;
    w[b + 3] = ports;
    w[b + 4] = st;
    w[b + 5] = h;
    this.f[(i << 2) + 3] = now;
    w[b] = 1 | (proto << 1) | ((h >>> 9) << 9);
    this.count++;
    return i;
  }

  isUsed(i: number): boolean {
    return this.w[i << 3] !== 0;
  }
  state(i: number): number {
    return this.w[(i << 3) + 4]!;
  }
  setState(i: number, st: number): void {
    this.w[(i << 3) + 4] = st;
  }
  lastSeen(i: number): number {
    return this.f[(i << 2) + 3]!;
  }
  touch(i: number, now: number): void {
    this.f[(i << 2) + 3] = now;
  }

  /**
   * Removes entry i (used): the entries after it in its cluster that may move back do (each
   * into the hole, the hole moving on), so no probe passes an empty slot before its key. An
   * entry may move into slot i: a sweep looks at slot i again.
   */
  remove(i: number): void {
    const w = this.w;
    const mask = this.mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const b = j << 3;
      if (w[b] === 0) break;
      const home = w[b + 5]! & mask;
      // The entry at j may fill the hole unless its home lies after the hole (cyclically, up to j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        w.copyWithin(hole << 3, b, b + 8);
        hole = j;
      }
    }
    w[hole << 3] = 0;
    this.count--;
  }

  /** Removes every entry (cold). */
  clear(): void {
    this.w.fill(0);
    this.count = 0;
  }
}

export default defineNF({
  name: 'stateful-firewall',
  description: 'connection tracking: inside opens flows, outside gets replies of known flows only',
  tickInterval: TICK_MS,
  counters: {
    passed: 'packets passed: of known flows, or opening one',
    opened: 'flows opened from inside',
    noFlow: "packets from outside of no known flow (or in the opener's direction): dropped",
    invalid: 'TCP packets that break the state machine, malformed TCP, non-SYN opening: dropped',
    tableFull: 'packets that would open a flow when capacity flows exist: dropped',
    expired: 'flows removed by their idle timeout',
    nd: 'ICMPv6 neighbour discovery packets, passed',
    nonIp: 'packets that are not IPv4/IPv6, or with a malformed IP header (the non-ip verdict)',
  },
  gauges: {
    flows: 'flows tracked now (IPv4 and IPv6)',
  },
  options: {
    inside: {
      type: 'string',
      default: '',
      help: 'the inside port names, comma-separated (required); every other port is outside',
    },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: MAX_CAPACITY,
      help: 'most flows at once; packets opening a flow beyond it are dropped',
    },
    'tcp-timeout': {
      type: 'number',
      default: 3600,
      min: 0,
      help: 'seconds an established TCP flow may idle; 0 = never',
    },
    'tcp-syn-timeout': { type: 'number', default: 30, min: 0, help: 'seconds a TCP handshake may idle' },
    'tcp-closing-timeout': {
      type: 'number',
      default: 10,
      min: 0,
      help: 'seconds a closing (FIN) or reset (RST) TCP flow stays',
    },
    'udp-timeout': { type: 'number', default: 30, min: 0, help: 'seconds a UDP flow may idle' },
    'icmp-timeout': { type: 'number', default: 10, min: 0, help: 'seconds an ICMP/ICMPv6 flow may idle' },
    'other-timeout': { type: 'number', default: 30, min: 0, help: 'seconds a flow of another IP protocol may idle' },
    'non-ip': {
      type: 'string',
      default: 'accept',
      choices: ['accept', 'drop'],
      help: 'what happens to packets that are not IPv4/IPv6 (ARP, malformed IP headers)',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: the inside ports, the flow table, the timeouts. */
  create(ctx) {
    const o = ctx.options;
    const names = o.inside
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (names.length === 0) {
      throw new NfcError('NFC_ERR_NF_OPTION', 'stateful-firewall: option "inside" is missing: the inside port names', {
        fix: `pass e.g. --inside ${ctx.ports[0]?.name ?? 'lan'} (the manager's ports: ${ctx.ports.map((p) => p.name).join(', ') || 'none'})`,
      });
    }
    /** port id → 1 when inside */
    const insideMap = new Uint8Array(65536);
    for (const n of names) {
      let id: number;
      try {
        id = ctx.port(n).id;
      } catch (e) {
        const err = e as NfcError;
        throw new NfcError('NFC_ERR_NF_OPTION', `stateful-firewall: option "inside": ${err.message}`, {
          fix: err.fix ?? 'name ports of the topology',
        });
      }
      insideMap[id] = 1;
    }
    if (names.length >= ctx.ports.length && ctx.ports.length > 0) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `stateful-firewall: option "inside": every port is inside (${names.join(', ')})`,
        {
          fix: 'leave at least one port outside: the one towards the untrusted network',
        },
      );
    }
    /** IPv6 flows (and any non-IPv4 key): the platform table */
    const table = createFlowTable(
      flowTableFor(o.capacity, { symmetric: true, idleTimeoutMs: 0, valueWords: 1 }),
      'stateful-firewall flows',
    );
    /** IPv4 flows */
    const t4 = new FlowTable4(slotsFor(o.capacity));
    const capacity = o.capacity;
    /** idle timeout per state, ms (0 = never) */
    const timeoutOf = new Float64Array(16);
    timeoutOf[SYN_SENT] = o['tcp-syn-timeout'] * 1000;
    timeoutOf[SYN_RECV] = o['tcp-syn-timeout'] * 1000;
    timeoutOf[ESTABLISHED] = o['tcp-timeout'] * 1000;
    timeoutOf[FIN_WAIT] = o['tcp-closing-timeout'] * 1000;
    timeoutOf[CLOSING] = o['tcp-closing-timeout'] * 1000;
    timeoutOf[CLOSED] = o['tcp-closing-timeout'] * 1000;
    timeoutOf[UDP] = o['udp-timeout'] * 1000;
    timeoutOf[ICMP] = o['icmp-timeout'] * 1000;
    timeoutOf[OTHER] = o['other-timeout'] * 1000;
    const nonIpVerdict = o['non-ip'] === 'drop' ? DROP : NEXT;
    const key = new FlowKey();
    let clock = ctx.now();
    const passed = ctx.counter('passed');
    /** packets passed in the burst so far: added to `passed` once per burst */
    let passedN = 0;
    const opened = ctx.counter('opened');
    const noFlow = ctx.counter('noFlow');
    const invalid = ctx.counter('invalid');
    const tableFull = ctx.counter('tableFull');
    const expired = ctx.counter('expired');
    const nd = ctx.counter('nd');
    const nonIp = ctx.counter('nonIp');
    const flows = ctx.gauge('flows');
    let ticks = 0;
    let cursor = 0;
    let cursor4 = 0;
    const sweep = Math.ceil(table.capacity / TICKS_PER_SECOND);
    const sweep4 = Math.ceil(t4.slots / TICKS_PER_SECOND);
    /** per packet of the burst: the flow hash (prefetch, and the lookup of a fast-path packet) */
    const hashes = new Uint32Array(BURST);
    /**
     * per packet of the burst, from the fast-path parse (see fastParse): its 5-tuple and TCP
     * flags, or fProto -1 for a packet that takes the general path (decide)
     */
    const fSrc = new Int32Array(BURST);
    const fDst = new Int32Array(BURST);
    const fPorts = new Int32Array(BURST);
    const fProto = new Int32Array(BURST);
    const fFlags = new Int32Array(BURST);
    const fInside = new Uint8Array(BURST);

    /**
     * Fast path of the parse, straight from the bytes, for the common case only: untagged
     * Ethernet, IPv4, not a fragment, a whole UDP or TCP header (exactly the conditions under
     * which PacketView's parse finds them: the key is the one flowKey() gives). Fills slot j
     * of the f* arrays, the key and the hash, and returns true; false (nothing written but
     * fProto[j] = -1) for anything else, which decide() handles with the full parse.
     * Hot path: no allocation.
     */
    function fastParse(dv: DataView, off: number, n: number, j: number, bufLen: number, port: number): boolean {
      fProto[j] = -1;
      const end = off + n;
      if (n < 42 || end > bufLen || dv.getUint16(off + 12) !== 0x0800) return false;
      const l3 = off + 14;
      const w0 = dv.getUint32(l3);
      const hl = (w0 >>> 22) & 0x3c;
      const total = w0 & 0xffff;
      if (w0 >>> 28 !== 4 || hl < 20 || l3 + hl > end || total < hl) return false;
      // MF flag or a fragment offset: a fragment (flowKey gives it no ports).
      if ((dv.getUint32(l3 + 4) & 0x3fff) !== 0) return false;
      const ipEnd = l3 + total < end ? l3 + total : end;
      const proto = dv.getUint8(l3 + 9);
      const l4 = l3 + hl;
      let flags = 0;
      if (proto === 17) {
        if (l4 + 8 > ipEnd) return false;
      } else if (proto === 6) {
        if (l4 + 20 > ipEnd) return false;
        const thl = (dv.getUint8(l4 + 12) >>> 4) << 2;
        if (thl < 20 || l4 + thl > ipEnd) return false;
        flags = dv.getUint8(l4 + 13);
      } else {
        return false;
      }
      const src = dv.getInt32(l3 + 12);
      const dst = dv.getInt32(l3 + 16);
      const ports = dv.getInt32(l4);
      fSrc[j] = src;
      fDst[j] = dst;
      fPorts[j] = ports;
      hashes[j] = hash4(src, dst, proto, ports);
      fFlags[j] = flags;
      fInside[j] = insideMap[port]!;
      fProto[j] = proto;
      return true;
    }

    /** One packet's verdict by the full parse (anything fastParse does not take). Hot path: no allocation. */
    function decide(pkt: PacketView): number {
      if (!pkt.flowKey(key)) {
        nonIp.add();
        return nonIpVerdict;
      }
      const proto = key.proto;
      if (proto === 58) {
        const t = pkt.icmp6Type;
        if (t >= 133 && t <= 137) {
          nd.add();
          return NEXT;
        }
      }
      const inside = insideMap[pkt.inputPort] === 1;
      const f = proto === 6 ? pkt.tcpFlags : 0;
      if (key.family === 4) {
        const a = key.addr;
        const src = a[0]! | 0;
        const dst = a[4]! | 0;
        const ports = (key.srcPort << 16) | key.dstPort;
        return track4(src, dst, proto, ports, inside, f, hash4(src, dst, proto, ports));
      }
      return track(key, inside, proto, f, pkt.length, hashFlowKey(key, true));
    }

    /** The state of a new flow of `proto` opened by a packet with TCP flags `f`, or 0: invalid (not a SYN). */
    function openState(proto: number, f: number): number {
      if (proto === 6) return f < 0 || (f & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN ? 0 : SYN_SENT;
      return proto === 17 ? UDP : proto === 1 || proto === 58 ? ICMP : OTHER;
    }

    /**
     * The next state word of a TCP flow in state word `w` after a packet with flags `f` (-1:
     * malformed) in the opener's direction (`orig`) or the reply's, or -1: invalid.
     */
    function tcpNext(w: number, orig: boolean, f: number): number {
      if (f < 0) return -1;
      const s = w & 15;
      let next = w;
      if ((f & TCP_RST) !== 0) {
        next = CLOSED;
      } else if (s === SYN_SENT) {
        if (!orig) {
          if ((f & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) return -1;
          next = SYN_RECV;
        }
      } else if (s === CLOSED) {
        if (orig && (f & (TCP_SYN | TCP_ACK)) === TCP_SYN) next = SYN_SENT;
      } else {
        if (s === SYN_RECV && orig && (f & TCP_ACK) !== 0 && (f & TCP_SYN) === 0) next = ESTABLISHED;
        if ((f & TCP_FIN) !== 0) {
          const bits = (w | (orig ? FIN_ORIG : FIN_REPLY)) & (FIN_ORIG | FIN_REPLY);
          next = bits === (FIN_ORIG | FIN_REPLY) ? CLOSING | bits : FIN_WAIT | bits;
        }
      }
      return next;
    }

    /**
     * track() for an IPv4 flow (FlowTable4): src, dst, ports (sport << 16 | dport) as read from
     * the packet, h = hash4 of them. Hot path: no allocation.
     */
    function track4(
      src: number,
      dst: number,
      proto: number,
      ports: number,
      inside: boolean,
      f: number,
      h: number,
    ): number {
      const i = t4.lookup(src, dst, proto, ports, h);
      if (i < 0) {
        if (!inside) {
          noFlow.add();
          return DROP;
        }
        const st = openState(proto, f);
        if (st === 0) {
          invalid.add();
          return DROP;
        }
        if (t4.count + table.count >= capacity) {
          tableFull.add();
          return DROP;
        }
        t4.add(src, dst, proto, ports, h, st, clock);
        flows.set(t4.count + table.count);
        opened.add();
        passedN++;
        return NEXT;
      }
      const orig = !t4.lastReversed;
      if (!inside && orig) {
        noFlow.add();
        return DROP;
      }
      if (proto === 6) {
        const w = t4.state(i);
        const next = tcpNext(w, orig, f);
        if (next < 0) {
          invalid.add();
          return DROP;
        }
        if (next !== w) t4.setState(i, next);
      }
      t4.touch(i, clock);
      passedN++;
      return NEXT;
    }

    /**
     * The verdict of a packet whose 5-tuple is in `key` (hash h): the flow looked up, opened or
     * moved through the TCP states. `f`: the TCP flags (-1: malformed TCP header). Hot path:
     * no allocation.
     */
    function track(key: FlowKey, inside: boolean, proto: number, f: number, length: number, h: number): number {
      let i = table.lookup(key, h);
      if (i < 0) {
        if (!inside) {
          noFlow.add();
          return DROP;
        }
        const st = openState(proto, f);
        if (st === 0) {
          invalid.add();
          return DROP;
        }
        if (t4.count + table.count >= capacity) {
          tableFull.add();
          return DROP;
        }
        i = table.lookupOrAdd(key, clock, h);
        if (i < 0) {
          tableFull.add();
          return DROP;
        }
        table.setValue(i, 0, st);
        table.touch(i, length, clock);
        flows.set(t4.count + table.count);
        opened.add();
        passedN++;
        return NEXT;
      }
      const orig = !table.lastReversed;
      if (!inside && orig) {
        // From outside in the opener's direction: not a reply.
        noFlow.add();
        return DROP;
      }
      if (proto === 6) {
        const w = table.value(i, 0);
        const next = tcpNext(w, orig, f);
        if (next < 0) {
          invalid.add();
          return DROP;
        }
        if (next !== w) table.setValue(i, 0, next);
      }
      table.touch(i, length, clock);
      passedN++;
      return NEXT;
    }

    /**
     * Removes the flows idle past their state's timeout among `n4` slots of the IPv4 table and
     * `n` of the other from their cursors (tick).
     */
    function expire(now: number, n4: number, n: number): number {
      const removed = expire4(now, n4) + expireGeneral(now, n);
      if (removed > 0) {
        expired.add(removed);
        flows.set(t4.count + table.count);
      }
      return removed;
    }

    /** expire() in FlowTable4: a slot is looked at again after a removal (an entry may move into it). */
    function expire4(now: number, n: number): number {
      const mask = t4.mask;
      let removed = 0;
      let i = cursor4;
      for (let k = 0; k < n; k++) {
        while (t4.isUsed(i)) {
          const limit = timeoutOf[t4.state(i) & 15]!;
          if (!(limit > 0 && now - t4.lastSeen(i) >= limit)) break;
          t4.remove(i);
          removed++;
        }
        i = (i + 1) & mask;
      }
      cursor4 = i;
      return removed;
    }

    function expireGeneral(now: number, n: number): number {
      const mask = table.capacity - 1;
      let removed = 0;
      let i = cursor;
      for (let k = 0; k < n; k++) {
        if (table.isUsed(i)) {
          const limit = timeoutOf[table.value(i, 0) & 15]!;
          if (limit > 0 && now - table.lastSeen(i) >= limit && table.remove(i)) removed++;
        }
        i = (i + 1) & mask;
      }
      cursor = i;
      return removed;
    }

    const stats = (): StatefulStats => ({
      passed: passed.value + passedN,
      opened: opened.value,
      noFlow: noFlow.value,
      invalid: invalid.value,
      tableFull: tableFull.value,
      expired: expired.value,
      nd: nd.value,
      nonIp: nonIp.value,
      activeFlows: t4.count + table.count,
    });
    const report = (): string => {
      const s = stats();
      return (
        `stateful-firewall: ${s.passed} passed, ${s.opened} flows opened, ${s.activeFlows} active, ${s.expired} expired; ` +
        `dropped: ${s.noFlow} no flow, ${s.invalid} invalid, ${s.tableFull} table full; ${s.nd} ND, ${s.nonIp} non-IP`
      );
    };
    if (o.interval > 0) ctx.log(`stateful-firewall: inside ${names.join(', ')}; ${o.capacity} flows at most`);

    return {
      stats,
      /** the flow table of the flows that are not IPv4 (cold; tests) */
      table,
      /** the IPv4 flow table (cold; tests) */
      table4: t4,
      /** the state of the flow of `k` (either direction), or 0 (cold; tests) */
      stateOf(k: FlowKey): number {
        if (k.family === 4) {
          const a = k.addr;
          const src = a[0]! | 0;
          const dst = a[4]! | 0;
          const ports = (k.srcPort << 16) | k.dstPort;
          const i = t4.lookup(src, dst, k.proto, ports, hash4(src, dst, k.proto, ports));
          return i < 0 ? 0 : t4.state(i) & 15;
        }
        const i = table.lookup(k);
        return i < 0 ? 0 : table.value(i, 0) & 15;
      },
      /** sweeps both tables whole at `now` (cold; tests) */
      expireAll: (now: number) => expire(now, t4.slots, table.capacity),

      /**
       * Per burst, in two passes. First each packet's 5-tuple is read (fastParse; for the rest,
       * the flow hash the RX loop put in its meta) and the flow table lines of the whole burst
       * are requested (prefetchBurst), so their cache misses overlap; then each packet is
       * decided from what the first pass read (track), or by the full parse (decide). Hot
       * path: no allocation.
       */
      handleBurst(b, ctx) {
        const pool = ctx.pool;
        const n = b.n;
        const descs = b.descs;
        const view = b.view;
        const dv = view.data;
        const bufLen = dv.byteLength;
        for (let j = 0; j < n; j++) {
          const d = descs[j]!;
          if (!fastParse(dv, pool.dataOffset(d), pool.length(d), j, bufLen, pool.meta(d, META_PORT))) {
            // IPv4 (in t4 under the same hash) or not (the other table): both lines asked for
            const h = pool.meta(d, META_FLOW_HASH);
            hashes[j] = h;
            table.prefetch(h);
          }
        }
        t4.prefetch(hashes, n);
        const verdicts = b.verdicts;
        for (let j = 0; j < n; j++) {
          const proto = fProto[j]!;
          if (proto < 0) {
            verdicts[j] = decide(view.attach(pool, descs[j]!));
          } else {
            verdicts[j] = track4(fSrc[j]!, fDst[j]!, proto, fPorts[j]!, fInside[j] === 1, fFlags[j]!, hashes[j]!);
          }
        }
        if (passedN > 0) {
          passed.add(passedN);
          passedN = 0;
        }
      },

      /** Every 100 ms: the clock and a sweep; every `interval` s the report. */
      tick(ctx) {
        clock = ctx.now();
        expire(clock, sweep4, sweep);
        const interval = ctx.options.interval;
        if (interval === 0 || ++ticks < interval * TICKS_PER_SECOND) return;
        ticks = 0;
        ctx.log(report());
      },

      stop(ctx) {
        if (ctx.options.interval > 0) ctx.log(report());
      },
    };
  },
});
