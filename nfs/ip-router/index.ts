/**
 * ip-router: an IPv4 router in one NF, in the spirit of Click's IP router configuration
 * (Kohler et al., "The Click modular router", figure 8): header checks, ARP responder, ARP
 * querier with queues, TTL decrement, ICMP errors, ICMP echo, LPM forwarding.
 *
 *   its addresses        the ports' `ipv4` addresses in the topology (ctx.ports); each gives
 *                        a directly connected route; more routes from the optional `routes`
 *                        file (l3fwd's format and route table: nfs/l3fwd)
 *   ARP request          for one of the ingress port's addresses: answered in place, out of
 *                        the ingress port (and the sender learned)
 *   ARP reply            to us: the sender's MAC cached; packets queued for it go out
 *   IPv4 to us           ICMP echo request: answered (routed back like any packet);
 *                        anything else: dropped, counted
 *   IPv4 to forward      checks (version, IHL, lengths, header checksum), martians, TTL ≤ 1 →
 *                        ICMP Time Exceeded from the ingress port's address; LPM → no route:
 *                        ICMP Net Unreachable; too big for the egress MTU: ICMP Fragmentation
 *                        Needed if DF, else dropped (no fragmentation); TTL - 1 (checksum patched
 *                        incrementally), source MAC := egress port's, destination MAC := the
 *                        next hop's from the ARP cache, out(port)
 *   next hop not cached  the packet is held (ctx.keep()) in the next hop's queue (bounded per
 *                        next hop and in total); an ARP request goes out of the route's port,
 *                        repeated every `arp-retry` s; after `arp-retries` requests without a
 *                        reply the queue is dropped (counted)
 *   ARP cache            entries expire `arp-timeout` s after they were learned; neighbor
 *                        lines of the routes file are permanent
 *   everything else      IPv6, other EtherTypes, frames for other MACs: dropped, counted
 *
 * Time: handle() does not read the clock on the fast path; tick() runs every 100 ms and does
 * the retries and expiries. The instance (`runNF(...).instance`) exposes `counters`, `stats()`,
 * `arpEntry(ip)` and the route table `v4`. The NF's declared counters and gauges (stats,
 * /metrics, the console: PUBLISHED, some of them sums of `counters`) are copied from `counters`
 * at every tick (100 ms) and at stop: the packet path counts once.
 */
import { defineNF, DROP, NfcError, out, type NFContext, type PacketView, type PortInfo } from 'nfchain';
import { resolve } from 'node:path';
import { Ipv4Map } from '../l3fwd/addr-map.js';
import { Ipv4RouteTable } from '../l3fwd/route-table.js';
import { loadRoutesFile } from '../l3fwd/routes-file.js';
import {
  IPV4_BAD_HEADER_LENGTH,
  IPV4_BAD_LENGTH,
  IPV4_BAD_VERSION,
  IPV4_OK,
  IPV4_TRUNCATED,
  ipv4HeaderProblem,
} from '../l3fwd/ipv4-check.js';

const TICK_MS = 100;
const MAX_PORTS = 8;

/** Counter indices (instance.counters); stats() names them. */
export const Counter = {
  forwarded: 0,
  arpRequestsAnswered: 1,
  arpRepliesReceived: 2,
  arpRequestsSent: 3,
  /** ARP not for us (requests for other addresses, gratuitous) */
  arpIgnored: 4,
  echoAnswered: 5,
  /** to one of our addresses, not an echo request */
  toUsDropped: 6,
  ttlExceeded: 7,
  icmpErrorsSent: 8,
  noRoute: 9,
  blackhole: 10,
  /** bigger than the egress MTU (DF: Fragmentation Needed sent) */
  tooBig: 11,
  /** packets that waited for ARP */
  queued: 12,
  /** dropped: the next hop's queue or the total queue was full */
  queueFull: 13,
  /** dropped: no ARP reply after the retries */
  arpTimeout: 14,
  /** dropped: the ARP cache is full */
  arpTableFull: 15,
  broadcast: 16,
  multicast: 17,
  /** source or destination that must not be routed: 0/8 source, 127/8, class E, broadcast source */
  martian: 18,
  /** Ethernet destination neither our MAC nor broadcast */
  otherHost: 19,
  nonIp: 20,
  ipv6: 21,
  truncated: 22,
  badVersion: 23,
  badHeaderLength: 24,
  badLength: 25,
  badChecksum: 26,
  /** an ICMP message or ARP request not sent: no buffer (pool or hold table full) */
  noBuffer: 27,
  expiredEntries: 28,
} as const;
type CounterName = keyof typeof Counter;
const NAMES = Object.keys(Counter) as CounterName[];
const N = NAMES.length;
const {
  forwarded: C_FWD,
  arpRequestsAnswered: C_ARP_ANSWERED,
  arpRepliesReceived: C_ARP_REPLIES,
  arpRequestsSent: C_ARP_SENT,
  arpIgnored: C_ARP_IGNORED,
  echoAnswered: C_ECHO,
  toUsDropped: C_TO_US,
  ttlExceeded: C_TTL,
  icmpErrorsSent: C_ICMP_ERR,
  noRoute: C_NO_ROUTE,
  blackhole: C_BLACKHOLE,
  tooBig: C_TOO_BIG,
  queued: C_QUEUED,
  queueFull: C_QUEUE_FULL,
  arpTimeout: C_ARP_TIMEOUT,
  arpTableFull: C_ARP_FULL,
  broadcast: C_BCAST,
  multicast: C_MCAST,
  martian: C_MARTIAN,
  otherHost: C_OTHER_HOST,
  nonIp: C_NON_IP,
  ipv6: C_IPV6,
  truncated: C_TRUNC,
  badVersion: C_VERSION,
  badHeaderLength: C_IHL,
  badLength: C_LEN,
  badChecksum: C_CSUM,
  noBuffer: C_NO_BUF,
  expiredEntries: C_EXPIRED,
} = Counter;
/**
 * The declared counters (defineNF `counters`) and the `counters` entries each one sums: what a
 * user reads in stats, /metrics and the console (29 reasons folded into 17).
 */
const PUBLISHED: readonly (readonly [string, string, readonly number[]])[] = [
  ['forwarded', 'packets forwarded (sent to their next hop)', [C_FWD]],
  ['queued', 'packets that waited for an ARP reply', [C_QUEUED]],
  ['noRoute', 'packets with no route (ICMP Net Unreachable sent): dropped', [C_NO_ROUTE]],
  ['blackhole', 'packets to a blackhole route: dropped', [C_BLACKHOLE]],
  ['ttlExceeded', 'packets with TTL 1 or 0 (ICMP Time Exceeded sent): dropped', [C_TTL]],
  ['tooBig', 'packets bigger than the egress MTU (Fragmentation Needed sent if DF): dropped', [C_TOO_BIG]],
  ['icmpErrorsSent', 'ICMP errors sent', [C_ICMP_ERR]],
  ['echoAnswered', 'ICMP echo requests to the router answered', [C_ECHO]],
  ['toUsDropped', 'packets to a router address other than echo requests: dropped', [C_TO_US]],
  ['arpRequestsAnswered', 'ARP requests for a router address answered', [C_ARP_ANSWERED]],
  ['arpRequestsSent', 'ARP requests sent for next hops', [C_ARP_SENT]],
  ['arpRepliesReceived', 'ARP replies to the router', [C_ARP_REPLIES]],
  ['queueFull', 'packets dropped: the ARP queue was full', [C_QUEUE_FULL]],
  ['arpTimeout', 'packets dropped: no ARP reply after the retries, or the ARP cache full', [C_ARP_TIMEOUT, C_ARP_FULL]],
  [
    'malformed',
    'IPv4 headers cut short, of a bad version, IHL, length or checksum: dropped',
    [C_TRUNC, C_VERSION, C_IHL, C_LEN, C_CSUM],
  ],
  ['martian', 'martian, broadcast or multicast packets: dropped', [C_MARTIAN, C_BCAST, C_MCAST]],
  [
    'ignored',
    'IPv6, other EtherTypes, frames for other MACs, ARP not for the router: dropped',
    [C_IPV6, C_NON_IP, C_OTHER_HOST, C_ARP_IGNORED],
  ],
];

/** ipv4HeaderProblem's answers → this NF's counters. */
const IPV4_COUNTER = new Int32Array(5);
IPV4_COUNTER[IPV4_TRUNCATED] = C_TRUNC;
IPV4_COUNTER[IPV4_BAD_VERSION] = C_VERSION;
IPV4_COUNTER[IPV4_BAD_HEADER_LENGTH] = C_IHL;
IPV4_COUNTER[IPV4_BAD_LENGTH] = C_LEN;

/** Next-hop kinds. */
const K_CONNECTED = 0;
const K_GATEWAY = 1;
const K_BLACKHOLE = 2;

/** ARP cache entry states. */
const S_INCOMPLETE = 1;
const S_REACHABLE = 2;
const S_PERMANENT = 3;

const ICMP_ECHO_REPLY = 0;
const ICMP_UNREACH = 3;
const ICMP_ECHO = 8;
const ICMP_TIME_EXCEEDED = 11;

/** Ones' complement sum of bytes[at..at+len) (odd length padded), not folded to 16 bits. Hot path. */
function sum16(b: Uint8Array, at: number, len: number): number {
  let s = 0;
  const end = at + (len & ~1);
  for (let i = at; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (len & 1) s += b[end]! << 8;
  return s;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function rd32(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}
function wr32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
function wr16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export interface IpRouterOptions {
  arpTimeoutMs: number;
  arpRetryMs: number;
  arpRetries: number;
  queuePerHop: number;
  queueTotal: number;
  arpEntries: number;
  verifyChecksum: boolean;
  icmpErrors: boolean;
}

type Ctx = NFContext<Record<string, unknown>>;

/**
 * The router: its tables and the per-packet work. Made in create() (cold: allocates every
 * table). Hot path: no allocation (handle and everything it calls).
 */
export class IpRouter {
  readonly counters = new Float64Array(N);
  readonly v4 = new Ipv4RouteTable();
  readonly arp: Ipv4Map;

  // Ports.
  private readonly portMac = new Uint8Array(MAX_PORTS * 6);
  private readonly portMtu = new Int32Array(MAX_PORTS);
  private readonly portVerdict = new Int32Array(MAX_PORTS);
  // Own addresses: parallel lists (few).
  private readonly ownAddr: Int32Array;
  private readonly ownMask: Int32Array;
  private readonly ownPort: Int32Array;
  // Next hops.
  private readonly nhKind: Uint8Array;
  private readonly nhPort: Int32Array;
  private readonly nhGateway: Int32Array;
  /** directed broadcast address of a connected subnet (0: none, /31 and /32) */
  private readonly nhBroadcast: Int32Array;
  // ARP cache, by slot.
  private readonly aState: Uint8Array;
  private readonly aPort: Int32Array;
  private readonly aMac: Uint8Array;
  private readonly aExpires: Float64Array;
  private readonly aRetries: Int32Array;
  private readonly aNextTry: Float64Array;
  private readonly qHead: Int32Array;
  private readonly qTail: Int32Array;
  private readonly qCount: Int32Array;
  // Queued packets: a pool of links.
  private readonly qDesc: Int32Array;
  private readonly qNext: Int32Array;
  private readonly qFree: Int32Array;
  private qFreeTop: number;
  private queuedNow = 0;
  private ipId = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly o: IpRouterOptions,
    routes: {
      routes: ReturnType<typeof loadRoutesFile>['routes'];
      neighbors: ReturnType<typeof loadRoutesFile>['neighbors'];
    },
  ) {
    const ports = ctx.ports;
    const own: { addr: number; mask: number; prefix: number; port: number }[] = [];
    for (const p of ports) {
      if (p.id >= MAX_PORTS) continue;
      this.portMac.set(p.macBytes, p.id * 6);
      this.portMtu[p.id] = p.mtu;
      this.portVerdict[p.id] = out(p.id);
      for (const a of p.ipv4) own.push({ addr: a.addr, mask: a.mask, prefix: a.prefix, port: p.id });
    }
    this.ownAddr = Int32Array.from(own, (x) => x.addr | 0);
    this.ownMask = Int32Array.from(own, (x) => x.mask | 0);
    this.ownPort = Int32Array.from(own, (x) => x.port);

    // Next hops: connected subnets first, then the file's routes (a file route to the same
    // prefix as a connected one replaces it, as `ip route replace` would).
    const kinds: number[] = [];
    const nhPorts: number[] = [];
    const gws: number[] = [];
    const bcasts: number[] = [];
    const index = new Map<string, number>();
    const nextHop = (kind: number, port: number, gw: number, bcast: number): number => {
      const key = `${kind}|${port}|${gw}|${bcast}`;
      let nh = index.get(key);
      if (nh === undefined) {
        nh = kinds.length;
        index.set(key, nh);
        kinds.push(kind);
        nhPorts.push(port);
        gws.push(gw | 0);
        bcasts.push(bcast | 0);
      }
      return nh;
    };
    for (const a of own) {
      const bcast = a.prefix >= 31 ? 0 : (a.addr | ~a.mask) >>> 0;
      this.v4.insert(a.addr & a.mask, a.prefix, nextHop(K_CONNECTED, a.port, 0, bcast));
    }
    for (const r of routes.routes) {
      if (r.family !== 4) continue;
      const nh =
        r.kind === 'blackhole'
          ? nextHop(K_BLACKHOLE, 0, 0, 0)
          : r.via
            ? nextHop(K_GATEWAY, r.port, r.via[0]!, 0)
            : nextHop(K_CONNECTED, r.port, 0, r.length >= 31 ? 0 : (r.words[0]! | (0xffffffff >>> r.length)) >>> 0);
      this.v4.insert(r.words[0]!, r.length, nh);
    }
    this.nhKind = Uint8Array.from(kinds);
    this.nhPort = Int32Array.from(nhPorts);
    this.nhGateway = Int32Array.from(gws);
    this.nhBroadcast = Int32Array.from(bcasts);

    const n = o.arpEntries;
    this.arp = new Ipv4Map(n);
    this.aState = new Uint8Array(n);
    this.aPort = new Int32Array(n);
    this.aMac = new Uint8Array(n * 6);
    this.aExpires = new Float64Array(n);
    this.aRetries = new Int32Array(n);
    this.aNextTry = new Float64Array(n);
    this.qHead = new Int32Array(n).fill(-1);
    this.qTail = new Int32Array(n).fill(-1);
    this.qCount = new Int32Array(n);
    const q = o.queueTotal;
    this.qDesc = new Int32Array(q);
    this.qNext = new Int32Array(q);
    this.qFree = new Int32Array(q);
    for (let i = 0; i < q; i++) this.qFree[i] = q - 1 - i;
    this.qFreeTop = q;

    for (const nb of routes.neighbors) {
      if (nb.family !== 4) continue;
      const s = this.arp.add(nb.words[0]!);
      if (s < 0) break;
      this.aState[s] = S_PERMANENT;
      this.aPort[s] = nb.port;
      for (let i = 0; i < 6; i++) this.aMac[s * 6 + i] = Math.floor(nb.mac / 2 ** (8 * (5 - i))) & 0xff;
    }
  }

  /** Packets waiting for ARP now. */
  get queuedPackets(): number {
    return this.queuedNow;
  }

  /** The ARP cache entry of `ip` (text), or undefined (cold; tests). */
  arpEntry(ip: string): { state: string; mac: string; port: number; queued: number; retries: number } | undefined {
    const parts = ip.split('.').map(Number);
    const s = this.arp.get(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
    if (s < 0) return undefined;
    const mac = Array.from(this.aMac.subarray(s * 6, s * 6 + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
    const state = ['free', 'incomplete', 'reachable', 'permanent'][this.aState[s]!]!;
    return { state, mac, port: this.aPort[s]!, queued: this.qCount[s]!, retries: this.aRetries[s]! };
  }

  stats(): Record<CounterName, number> {
    const out = {} as Record<CounterName, number>;
    NAMES.forEach((k, i) => {
      out[k] = this.counters[i]!;
    });
    return out;
  }

  /** The own-address index of `addr` on port `port` (-1: any port), or -1. Hot path. */
  private ownIndex(addr: number, port: number): number {
    const a = this.ownAddr;
    for (let i = 0; i < a.length; i++) if (a[i] === addr && (port < 0 || this.ownPort[i] === port)) return i;
    return -1;
  }

  /** The port's address on the subnet of `addr`, else its first, else any of ours; 0 if none. Hot path. */
  private sourceFor(port: number, addr: number): number {
    const a = this.ownAddr;
    let first = 0;
    let any = 0;
    for (let i = 0; i < a.length; i++) {
      if (any === 0) any = a[i]!;
      if (this.ownPort[i] !== port) continue;
      if ((addr & this.ownMask[i]!) === (a[i]! & this.ownMask[i]!)) return a[i]!;
      if (first === 0) first = a[i]!;
    }
    return first !== 0 ? first : any;
  }

  /** Hot path: no allocation. */
  handle(pkt: PacketView): number {
    const C = this.counters;
    const b = pkt.bytes;
    const o = pkt.byteOffset;
    const end = o + pkt.length;
    const inPort = pkt.inputPort;
    if (end - o < 14) {
      C[C_TRUNC]!++;
      return DROP;
    }
    // Ethernet destination: ours, or broadcast/multicast (bit 0 of the first byte).
    const pm = inPort * 6;
    const group = (b[o]! & 1) !== 0;
    if (!group) {
      const m = this.portMac;
      if (
        inPort >= MAX_PORTS ||
        b[o] !== m[pm] ||
        b[o + 1] !== m[pm + 1] ||
        b[o + 2] !== m[pm + 2] ||
        b[o + 3] !== m[pm + 3] ||
        b[o + 4] !== m[pm + 4] ||
        b[o + 5] !== m[pm + 5]
      ) {
        C[C_OTHER_HOST]!++;
        return DROP;
      }
    }
    let et = (b[o + 12]! << 8) | b[o + 13]!;
    let l3 = o + 14;
    if (et === 0x8100 || et === 0x88a8) {
      et = pkt.etherType;
      l3 = o + pkt.l3Offset;
    }
    if (et === 0x0806) return this.onArp(pkt, b, o, l3, inPort);
    if (et === 0x86dd) {
      C[C_IPV6]!++;
      return DROP;
    }
    if (et !== 0x0800) {
      C[C_NON_IP]!++;
      return DROP;
    }
    // IPv4 header checks (RFC 1812 5.2.2).
    const bad = ipv4HeaderProblem(b, l3, end);
    if (bad !== IPV4_OK) {
      C[IPV4_COUNTER[bad]!]!++;
      return DROP;
    }
    const hl = (b[l3]! & 15) << 2;
    const total = (b[l3 + 2]! << 8) | b[l3 + 3]!;
    if (this.o.verifyChecksum && fold(sum16(b, l3, hl)) !== 0xffff) {
      C[C_CSUM]!++;
      return DROP;
    }
    const src = rd32(b, l3 + 12);
    const dst = rd32(b, l3 + 16);
    const srcTop = src >>> 24;
    const dstTop = dst >>> 24;
    if (srcTop === 0 || srcTop === 127 || srcTop >= 224 || dstTop === 0 || dstTop === 127 || dstTop >= 240) {
      C[dst === -1 ? C_BCAST : C_MARTIAN]!++;
      return DROP;
    }
    if (dstTop >= 224) {
      C[C_MCAST]!++;
      return DROP;
    }
    if (group) {
      // IPv4 in an Ethernet broadcast or multicast frame: not for routing.
      C[C_BCAST]!++;
      return DROP;
    }
    if (this.ownIndex(dst, -1) >= 0) return this.toUs(pkt, b, o, l3, hl, total, inPort);
    const ttl = b[l3 + 8]!;
    if (ttl <= 1) {
      C[C_TTL]!++;
      this.icmpError(b, l3, hl, total, inPort, ICMP_TIME_EXCEEDED, 0, 0);
      return DROP;
    }
    const nh = this.v4.lookup4(dst);
    if (nh < 0) {
      C[C_NO_ROUTE]!++;
      this.icmpError(b, l3, hl, total, inPort, ICMP_UNREACH, 0, 0);
      return DROP;
    }
    const kind = this.nhKind[nh]!;
    if (kind === K_BLACKHOLE) {
      C[C_BLACKHOLE]!++;
      return DROP;
    }
    if (dst === this.nhBroadcast[nh]) {
      C[C_BCAST]!++;
      return DROP;
    }
    const port = this.nhPort[nh]!;
    const mtu = this.portMtu[port]!;
    if (total > mtu && !pkt.isGso) {
      C[C_TOO_BIG]!++;
      if ((b[l3 + 6]! & 0x40) !== 0) this.icmpError(b, l3, hl, total, inPort, ICMP_UNREACH, 4, mtu);
      return DROP;
    }
    pkt.setIpv4Ttl(ttl - 1);
    const hop = kind === K_GATEWAY ? this.nhGateway[nh]! : dst;
    return this.toNextHop(pkt.desc, b, o, port, hop, true);
  }

  /**
   * Sends packet `d` (frame at b[o..]) to next hop `hop` out of `port`: the MACs written and its
   * verdict returned if the hop's MAC is cached; else queued (current: kept first) and an ARP
   * request sent, and DROP returned (ignored for a kept packet). For a packet the NF holds
   * (current = false) the verdict is applied here and DROP returned. Hot path.
   */
  private toNextHop(d: number, b: Uint8Array, o: number, port: number, hop: number, current: boolean): number {
    const pm = port * 6;
    const m = this.portMac;
    for (let i = 0; i < 6; i++) b[o + 6 + i] = m[pm + i]!;
    const s = this.arp.get(hop);
    if (s >= 0 && this.aState[s]! >= S_REACHABLE) {
      const am = this.aMac;
      const at = s * 6;
      for (let i = 0; i < 6; i++) b[o + i] = am[at + i]!;
      this.counters[C_FWD]!++;
      if (current) return this.portVerdict[port]!;
      this.ctx.send(d, this.portVerdict[port]!);
      return DROP;
    }
    this.enqueue(d, s, hop, port, current);
    return DROP;
  }

  private enqueue(d: number, slot: number, hop: number, port: number, current: boolean): void {
    const C = this.counters;
    let s = slot;
    if (s < 0) {
      s = this.arp.add(hop);
      if (s < 0) {
        C[C_ARP_FULL]!++;
        if (!current) this.ctx.drop(d);
        return;
      }
      this.aState[s] = S_INCOMPLETE;
      this.aPort[s] = port;
      this.aRetries[s] = 0;
      this.qHead[s] = -1;
      this.qTail[s] = -1;
      this.qCount[s] = 0;
      this.sendArpRequest(s, hop, port);
    }
    if (this.qCount[s]! >= this.o.queuePerHop || this.qFreeTop === 0) {
      C[C_QUEUE_FULL]!++;
      if (!current) this.ctx.drop(d);
      return;
    }
    if (current && this.ctx.keep() < 0) {
      C[C_QUEUE_FULL]!++;
      return;
    }
    const q = this.qFree[--this.qFreeTop]!;
    this.qDesc[q] = d;
    this.qNext[q] = -1;
    if (this.qTail[s]! < 0) this.qHead[s] = q;
    else this.qNext[this.qTail[s]!] = q;
    this.qTail[s] = q;
    this.qCount[s]!++;
    this.queuedNow++;
    C[C_QUEUED]!++;
  }

  /** Sends (or with `drop`, frees) every packet queued on ARP slot s. Hot-path safe. */
  private flush(s: number, drop: boolean): void {
    const ctx = this.ctx;
    const pool = ctx.pool;
    const u8 = pool.u8;
    const verdict = this.portVerdict[this.aPort[s]!]!;
    const am = this.aMac;
    const at = s * 6;
    for (let q = this.qHead[s]!; q >= 0; ) {
      const d = this.qDesc[q]!;
      if (drop) {
        ctx.drop(d);
        this.counters[C_ARP_TIMEOUT]!++;
      } else {
        const o = pool.dataOffset(d);
        for (let i = 0; i < 6; i++) u8[o + i] = am[at + i]!;
        ctx.send(d, verdict);
        this.counters[C_FWD]!++;
      }
      const next = this.qNext[q]!;
      this.qFree[this.qFreeTop++] = q;
      this.queuedNow--;
      q = next;
    }
    this.qHead[s] = -1;
    this.qTail[s] = -1;
    this.qCount[s] = 0;
  }

  /** An ARP request for `target` out of `port` (slot s: its retry timer). */
  private sendArpRequest(s: number, target: number, port: number): void {
    const ctx = this.ctx;
    this.aNextTry[s] = ctx.now() + this.o.arpRetryMs;
    const d = ctx.newPacket();
    if (d < 0) {
      this.counters[C_NO_BUF]!++;
      return;
    }
    const pool = ctx.pool;
    const b = pool.u8;
    const o = pool.dataOffset(d);
    b.fill(0, o, o + 60);
    const pm = port * 6;
    const m = this.portMac;
    for (let i = 0; i < 6; i++) {
      b[o + i] = 0xff;
      b[o + 6 + i] = m[pm + i]!;
      b[o + 22 + i] = m[pm + i]!; // sender MAC
    }
    wr16(b, o + 12, 0x0806);
    wr16(b, o + 14, 1);
    wr16(b, o + 16, 0x0800);
    b[o + 18] = 6;
    b[o + 19] = 4;
    wr16(b, o + 20, 1);
    wr32(b, o + 28, this.sourceFor(port, target));
    wr32(b, o + 38, target);
    pool.setLength(d, 60);
    ctx.send(d, this.portVerdict[port]!);
    this.counters[C_ARP_SENT]!++;
  }

  private onArp(pkt: PacketView, b: Uint8Array, o: number, l3: number, inPort: number): number {
    const C = this.counters;
    const op = pkt.arpOp;
    if (op < 0) {
      C[C_TRUNC]!++; // not Ethernet/IPv4 ARP, or cut short
      return DROP;
    }
    const spa = rd32(b, l3 + 14);
    const tpa = rd32(b, l3 + 24);
    const forUs = this.ownIndex(tpa, inPort) >= 0;
    // RFC 826: update an entry we have for the sender; add one if the packet is for us.
    if (spa !== 0) {
      let s = this.arp.get(spa);
      if (s < 0 && forUs) {
        s = this.arp.add(spa);
        if (s >= 0) {
          this.aState[s] = 0;
          this.qHead[s] = -1;
          this.qTail[s] = -1;
          this.qCount[s] = 0;
        } else C[C_ARP_FULL]!++;
      }
      if (s >= 0 && this.aState[s] !== S_PERMANENT) {
        const at = s * 6;
        for (let i = 0; i < 6; i++) this.aMac[at + i] = b[l3 + 8 + i]!;
        if (this.aState[s] !== S_INCOMPLETE) this.aPort[s] = inPort;
        this.aState[s] = S_REACHABLE;
        this.aExpires[s] = this.ctx.now() + this.o.arpTimeoutMs;
        this.aRetries[s] = 0;
        if (this.qCount[s]! > 0) this.flush(s, false);
      }
    }
    if (!forUs) {
      C[C_ARP_IGNORED]!++;
      return DROP;
    }
    if (op === 2) {
      C[C_ARP_REPLIES]!++;
      return DROP;
    }
    if (op !== 1) {
      C[C_ARP_IGNORED]!++;
      return DROP;
    }
    // The request becomes the reply, in place.
    const pm = inPort * 6;
    const m = this.portMac;
    for (let i = 0; i < 6; i++) {
      const sha = b[l3 + 8 + i]!;
      b[o + i] = sha; // Ethernet destination: the asker
      b[o + 6 + i] = m[pm + i]!;
      b[l3 + 18 + i] = sha; // target MAC
      b[l3 + 8 + i] = m[pm + i]!; // sender MAC: ours
    }
    pkt.setArpOp(2);
    wr32(b, l3 + 24, spa);
    wr32(b, l3 + 14, tpa);
    C[C_ARP_ANSWERED]!++;
    return this.portVerdict[inPort]!;
  }

  /** A packet to one of our addresses: an echo request is answered, the rest dropped. */
  private toUs(
    pkt: PacketView,
    b: Uint8Array,
    o: number,
    l3: number,
    hl: number,
    total: number,
    inPort: number,
  ): number {
    const C = this.counters;
    const l4 = l3 + hl;
    const fragmented = ((b[l3 + 6]! << 8) | b[l3 + 7]!) & 0x3fff;
    if (b[l3 + 9] !== 1 || fragmented !== 0 || total - hl < 8 || b[l4] !== ICMP_ECHO || b[l4 + 1] !== 0) {
      C[C_TO_US]!++;
      return DROP;
    }
    if (fold(sum16(b, l4, total - hl)) !== 0xffff) {
      C[C_CSUM]!++;
      return DROP;
    }
    // Echo reply in place: swap the addresses, TTL 64, type 0; both checksums recomputed.
    const src = rd32(b, l3 + 12);
    const dst = rd32(b, l3 + 16);
    wr32(b, l3 + 12, dst);
    wr32(b, l3 + 16, src);
    b[l3 + 8] = 64;
    b[l3 + 10] = 0;
    b[l3 + 11] = 0;
    wr16(b, l3 + 10, ~fold(sum16(b, l3, hl)) & 0xffff);
    b[l4] = ICMP_ECHO_REPLY;
    b[l4 + 2] = 0;
    b[l4 + 3] = 0;
    wr16(b, l4 + 2, ~fold(sum16(b, l4, total - hl)) & 0xffff);
    // Trailing Ethernet padding stays; the reply is routed back like any packet.
    C[C_ECHO]!++;
    return this.route(pkt.desc, b, o, src, inPort, true);
  }

  /** Routes a packet this router originates (to `dst`). Hot-path safe. */
  private route(d: number, b: Uint8Array, o: number, dst: number, _inPort: number, current: boolean): number {
    const nh = this.v4.lookup4(dst);
    if (nh < 0 || this.nhKind[nh] === K_BLACKHOLE) {
      this.counters[C_NO_ROUTE]!++;
      if (!current) this.ctx.drop(d);
      return DROP;
    }
    const hop = this.nhKind[nh] === K_GATEWAY ? this.nhGateway[nh]! : dst;
    return this.toNextHop(d, b, o, this.nhPort[nh]!, hop, current);
  }

  /**
   * An ICMP error (type, code; `mtu` for Fragmentation Needed) about the datagram at b[l3..],
   * from the ingress port's address, with the offending header and 8 bytes of its data (RFC 792).
   * Not about ICMP errors, fragments after the first, or non-unicast sources. Hot-path safe.
   */
  private icmpError(
    b: Uint8Array,
    l3: number,
    hl: number,
    total: number,
    inPort: number,
    type: number,
    code: number,
    mtu: number,
  ): void {
    if (!this.o.icmpErrors) return;
    if ((((b[l3 + 6]! << 8) | b[l3 + 7]!) & 0x1fff) !== 0) return;
    if (b[l3 + 9] === 1) {
      const t = total > hl ? b[l3 + hl]! : -1;
      if (t !== 0 && t !== 8 && t !== 13 && t !== 15 && t !== 17) return; // an error (or unknown): no error about it
    }
    const ctx = this.ctx;
    const d = ctx.newPacket();
    if (d < 0) {
      this.counters[C_NO_BUF]!++;
      return;
    }
    const pool = ctx.pool;
    const u = pool.u8;
    const o = pool.dataOffset(d);
    const quote = total - hl < 8 ? total : hl + 8;
    const ipLen = 20 + 8 + quote;
    const origSrc = rd32(b, l3 + 12);
    // Copy the quote first: the new packet is another buffer.
    u.copyWithin(o + 42, l3, l3 + quote);
    wr16(u, o + 12, 0x0800);
    const ip = o + 14;
    u[ip] = 0x45;
    u[ip + 1] = 0xc0; // precedence: internetwork control
    wr16(u, ip + 2, ipLen);
    this.ipId = (this.ipId + 1) & 0xffff;
    wr16(u, ip + 4, this.ipId);
    wr16(u, ip + 6, 0);
    u[ip + 8] = 64;
    u[ip + 9] = 1;
    wr16(u, ip + 10, 0);
    wr32(u, ip + 12, this.sourceFor(inPort, origSrc));
    wr32(u, ip + 16, origSrc);
    wr16(u, ip + 10, ~fold(sum16(u, ip, 20)) & 0xffff);
    const ic = ip + 20;
    u[ic] = type;
    u[ic + 1] = code;
    wr16(u, ic + 2, 0);
    wr32(u, ic + 4, mtu & 0xffff);
    wr16(u, ic + 2, ~fold(sum16(u, ic, 8 + quote)) & 0xffff);
    pool.setLength(d, 14 + ipLen);
    this.counters[C_ICMP_ERR]!++;
    this.route(d, u, o, origSrc, inPort, false);
  }

  /** Every 100 ms: ARP retries, queue timeouts, cache expiry. */
  tick(now: number): void {
    const arp = this.arp;
    const cap = arp.capacity;
    for (let s = 0; s < cap; s++) {
      if (arp.slotUsed[s] === 0) continue;
      const st = this.aState[s]!;
      if (st === S_INCOMPLETE) {
        if (now < this.aNextTry[s]!) continue;
        if (this.aRetries[s]! + 1 >= this.o.arpRetries) {
          this.flush(s, true);
          arp.delete(arp.slotKey[s]!);
          continue;
        }
        this.aRetries[s]!++;
        this.sendArpRequest(s, arp.slotKey[s]!, this.aPort[s]!);
      } else if (st === S_REACHABLE && now >= this.aExpires[s]!) {
        arp.delete(arp.slotKey[s]!);
        this.counters[C_EXPIRED]!++;
      } else if (st === 0) {
        arp.delete(arp.slotKey[s]!); // made for a sender and never filled (not reached: kept for safety)
      }
    }
  }

  /** Frees every queued packet (at stop). */
  drain(): void {
    const arp = this.arp;
    for (let s = 0; s < arp.capacity; s++) if (arp.slotUsed[s] && this.qCount[s]! > 0) this.flush(s, true);
  }
}

/** The report line (cold). */
function report(c: Float64Array, prev: Float64Array, what: string, queued: number, entries: number): string {
  const d = (i: number): number => c[i]! - prev[i]!;
  const malformed = d(C_TRUNC) + d(C_VERSION) + d(C_IHL) + d(C_LEN) + d(C_CSUM);
  return (
    `ip-router: ${what}: ${d(C_FWD)} forwarded, ${d(C_QUEUED)} waited for ARP, ${d(C_NO_ROUTE)} no route, ` +
    `${d(C_TTL)} TTL exceeded, ${d(C_ICMP_ERR)} ICMP errors sent, ${d(C_ECHO)} echo replies, ` +
    `ARP: ${d(C_ARP_ANSWERED)} answered, ${d(C_ARP_SENT)} requests sent, ${d(C_ARP_REPLIES)} replies; ` +
    `dropped: ${d(C_TO_US)} to us, ${d(C_QUEUE_FULL)} queue full, ${d(C_ARP_TIMEOUT)} ARP timeout, ${malformed} malformed, ` +
    `${d(C_MARTIAN) + d(C_BCAST) + d(C_MCAST)} martian/broadcast/multicast, ${d(C_TOO_BIG)} too big, ` +
    `${d(C_IPV6) + d(C_NON_IP) + d(C_OTHER_HOST)} not IPv4 or not ours; ${queued} queued, ${entries} ARP entries`
  );
}

export default defineNF({
  name: 'ip-router',
  description: 'an IPv4 router: ARP, ICMP echo and errors, header checks, LPM forwarding (Click IP router)',
  tickInterval: TICK_MS,
  counters: Object.fromEntries(PUBLISHED.map(([name, help]) => [name, help])),
  gauges: {
    waiting: 'packets waiting for an ARP reply now',
    arpEntries: 'ARP cache entries now (learned, pending and permanent)',
  },
  options: {
    routes: {
      type: 'string',
      default: '',
      help: "routes beyond the ports' subnets, and static neighbors (nfs/l3fwd's format); relative to the topology file",
    },
    'ignore-unknown-dev': {
      type: 'boolean',
      default: false,
      help: 'skip routes-file lines whose dev is not an nfchain port instead of refusing them',
    },
    'arp-timeout': {
      type: 'number',
      default: 300,
      min: 1,
      max: 86400,
      help: 'seconds an ARP cache entry lives after it was learned',
    },
    'arp-retry': {
      type: 'number',
      default: 1,
      min: 0.1,
      max: 60,
      help: 'seconds between ARP requests for one next hop',
    },
    'arp-retries': {
      type: 'number',
      default: 3,
      integer: true,
      min: 1,
      max: 100,
      help: 'ARP requests without a reply before the packets waiting for it are dropped',
    },
    'arp-entries': {
      type: 'number',
      default: 4096,
      integer: true,
      min: 16,
      max: 1 << 20,
      help: 'size of the ARP cache',
    },
    'queue-per-hop': {
      type: 'number',
      default: 16,
      integer: true,
      min: 1,
      max: 1000,
      help: 'packets held per next hop while its ARP is pending',
    },
    'queue-total': {
      type: 'number',
      default: 256,
      integer: true,
      min: 1,
      max: 1000,
      help: 'packets held in all while ARP is pending (an NF holds at most 1024)',
    },
    'verify-checksum': {
      type: 'boolean',
      default: true,
      help: 'check IPv4 header checksums (RFC 1812: a router must)',
    },
    'icmp-errors': {
      type: 'boolean',
      default: true,
      help: 'send ICMP Time Exceeded, Net Unreachable and Fragmentation Needed',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: reads the routes file, builds the tables. Allocates. */
  create(ctx) {
    const o = ctx.options;
    if (o['queue-per-hop'] > o['queue-total']) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `ip-router: option "queue-per-hop" (${o['queue-per-hop']}) is more than option "queue-total" (${o['queue-total']})`,
        { fix: 'give queue-per-hop ≤ queue-total' },
      );
    }
    const withAddr = ctx.ports.filter((p: PortInfo) => p.ipv4.length > 0);
    if (withAddr.length === 0) {
      throw new NfcError('NFC_ERR_NF_OPTION', 'ip-router: no port has an IPv4 address: the router has no addresses', {
        fix: 'give the ports addresses in the topology: ports: [{ name: lan, ..., ipv4: 10.0.1.1/24 }]',
      });
    }
    for (const p of ctx.ports) {
      if (p.id >= MAX_PORTS && p.ipv4.length > 0)
        throw new NfcError('NFC_ERR_NF_OPTION', `ip-router: port ${p.name} has id ${p.id}; out() reaches ports 0..7`, {
          fix: 'list the routed ports first in the topology',
        });
    }
    const file =
      o.routes === ''
        ? undefined
        : loadRoutesFile(resolve(ctx.baseDir, o.routes), {
            who: 'ip-router',
            option: 'routes',
            ports: ctx.ports,
            ignoreUnknownDev: o['ignore-unknown-dev'],
          });
    const router = new IpRouter(
      ctx as unknown as Ctx,
      {
        arpTimeoutMs: o['arp-timeout'] * 1000,
        arpRetryMs: o['arp-retry'] * 1000,
        arpRetries: o['arp-retries'],
        queuePerHop: o['queue-per-hop'],
        queueTotal: o['queue-total'],
        arpEntries: o['arp-entries'],
        verifyChecksum: o['verify-checksum'],
        icmpErrors: o['icmp-errors'],
      },
      { routes: file?.routes ?? [], neighbors: file?.neighbors ?? [] },
    );
    const interval = o.interval;
    const perReport = interval * (1000 / TICK_MS);
    let ticks = 0;
    let last = new Float64Array(N);
    let lastAt = ctx.now();
    const published = PUBLISHED.map(([name, , sum]) => ({ cell: ctx.counter(name), sum }));
    const waiting = ctx.gauge('waiting');
    const arpEntries = ctx.gauge('arpEntries');
    /** The declared counters and gauges := the router's counters, summed as PUBLISHED says (cold). */
    const publish = (): void => {
      const c = router.counters;
      for (const { cell, sum } of published) {
        let v = 0;
        for (const i of sum) v += c[i]!;
        cell.add(v - cell.value);
      }
      waiting.set(router.queuedPackets);
      arpEntries.set(router.arp.count);
    };
    if (interval > 0) {
      const addrs = withAddr.map((p) => `${p.name} ${p.ipv4.map((a) => `${a.address}/${a.prefix}`).join(', ')}`);
      const v6 = file ? file.routes.filter((r) => r.family === 6).length : 0;
      ctx.log(
        `ip-router: ${addrs.join('; ')}; ${router.v4.size} routes` +
          (file ? ` (${file.routes.length - v6} IPv4 from ${file.file}${v6 ? `, ${v6} IPv6 ignored` : ''})` : ''),
      );
    }
    const handle = (pkt: PacketView): number => router.handle(pkt);
    return {
      router,
      counters: router.counters,
      v4: router.v4,
      stats: () => router.stats(),
      arpEntry: (ip: string) => router.arpEntry(ip),
      handle,
      tick() {
        router.tick(ctx.now());
        publish();
        if (perReport === 0 || ++ticks < perReport) return;
        ticks = 0;
        const now = ctx.now();
        ctx.log(
          report(
            router.counters,
            last,
            `${((now - lastAt) / 1000).toFixed(1)} s`,
            router.queuedPackets,
            router.arp.count,
          ),
        );
        last = router.counters.slice();
        lastAt = now;
      },
      stop() {
        router.drain();
        publish();
        if (interval > 0) ctx.log(report(router.counters, new Float64Array(N), 'in all', 0, router.arp.count));
      },
    };
  },
});
