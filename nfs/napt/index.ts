/**
 * napt: source NAT with port allocation (NAPT, NAT44) between inside ports and one outside port.
 *
 *   inside → outside   source address := the NAT address (the outside port's first IPv4
 *                      address, or option `address`), source port := a port of the range
 *                      (option `ports`) allocated to the flow; ICMP echo requests get an
 *                      allocated echo id instead. Verdict out(outside port) (or NEXT).
 *   outside → inside   a packet to the NAT address and an allocated port of the same protocol,
 *                      from the flow's remote address and port: destination := the inside host
 *                      and port. Verdict out(inside port) (or NEXT). Anything else: DROP.
 *
 * A mapping is per 5-tuple (an inside host's flow to one remote endpoint gets its own port:
 * "symmetric" NAT, address-and-port-dependent filtering). Ports are allocated per protocol
 * (TCP, UDP, ICMP echo id each have the whole range) from a FIFO free list in a Uint16Array, so
 * a port freed is reused as late as possible.
 *
 * State, all typed arrays made in create(): a mapping's id is protocol class × 65536 + its
 * outside port, and its fields (inside address and port, remote address and port, last seen,
 * state) are columns indexed by id; inbound packets find their mapping by id directly; outbound
 * ones through an open-addressing hash table (Int32Array of ids + 1, linear probing, deletion by
 * backward shift: no tombstones) keyed by the inside 5-tuple.
 *
 * Checksums: the IPv4 header and TCP/UDP checksums are patched incrementally by the packet
 * view's setters; the ICMP checksum when the echo id changes (RFC 1624).
 *
 * Time: handle() does not read the clock; tick() (every 100 ms) reads ctx.now() into `clock`
 * and sweeps a tenth of the mappings, freeing those idle past their protocol's timeout (TCP
 * after a FIN or RST: `tcp-closing-timeout`).
 */
import { csumUpdate16, defineNF, DROP, formatIpv4, NEXT, NfcError, out, parseIpv4 } from 'nfchain';

const TICK_MS = 100;
const TICKS_PER_SECOND = 1000 / TICK_MS;
/** Protocol classes. */
const C_TCP = 0;
const C_UDP = 1;
const C_ICMP = 2;
const CLASSES = 3;
export const CLASS_NAMES = ['tcp', 'udp', 'icmp'];
/** Mapping states. */
const FREE = 0;
const ACTIVE = 1;
const CLOSING = 2;

/** Counters (cold copy). */
export interface NaptStats {
  /** inside → outside packets translated */
  outbound: number;
  /** outside → inside packets translated */
  inbound: number;
  mappings: number;
  created: number;
  expired: number;
  /** outside packets to no mapping (or not to the NAT address): dropped */
  noMapping: number;
  /** outside packets of a mapping from another remote endpoint: dropped */
  filtered: number;
  /** new flows when `capacity` mappings exist: dropped */
  tableFull: number;
  /** new flows when the protocol's ports are all in use: dropped */
  portsExhausted: number;
  /** IPv4 packets the NAT cannot translate (other protocols, ICMP other than echo, fragments, malformed): dropped */
  untranslatable: number;
  /** not IPv4 (ARP, IPv6): `non-ip` */
  nonIp: number;
}

/** "lo-hi" → [lo, hi], or undefined (cold). */
function parseRange(text: string): [number, number] | undefined {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? [lo, hi] : undefined;
}

function optionError(option: string, what: string, fix: string): NfcError {
  return new NfcError('NFC_ERR_NF_OPTION', `napt: option "${option}": ${what}`, { fix });
}

export default defineNF({
  name: 'napt',
  description: 'source NAT with port allocation (NAPT) between inside ports and an outside port',
  tickInterval: TICK_MS,
  options: {
    outside: { type: 'string', default: '', help: 'the outside port name (required); every other port is inside' },
    inside: {
      type: 'string',
      default: '',
      help: 'the inside port that translated replies go out of (required with forward: ports)',
    },
    address: {
      type: 'string',
      default: '',
      help: "the NAT's outside IPv4 address; default: the outside port's first address",
    },
    ports: { type: 'string', default: '1024-65535', help: 'outside ports (and ICMP echo ids) to allocate, lo-hi' },
    capacity: {
      type: 'number',
      default: 65536,
      integer: true,
      min: 1,
      max: CLASSES * 65535,
      help: 'most mappings at once (all protocols); new flows beyond it are dropped',
    },
    forward: {
      type: 'string',
      default: 'ports',
      choices: ['ports', 'next'],
      help: 'ports: translated packets go out of the outside / inside port; next: NEXT (the chain decides)',
    },
    'tcp-timeout': { type: 'number', default: 7440, min: 0, help: 'seconds a TCP mapping may idle; 0 = never' },
    'tcp-closing-timeout': {
      type: 'number',
      default: 10,
      min: 0,
      help: 'seconds a TCP mapping stays after FIN or RST',
    },
    'udp-timeout': { type: 'number', default: 300, min: 0, help: 'seconds a UDP mapping may idle; 0 = never' },
    'icmp-timeout': { type: 'number', default: 60, min: 0, help: 'seconds an ICMP echo mapping may idle; 0 = never' },
    'non-ip': {
      type: 'string',
      default: 'accept',
      choices: ['accept', 'drop'],
      help: 'what happens to packets that are not IPv4 (ARP, IPv6): accept = NEXT, untranslated',
    },
    interval: { type: 'number', default: 5, integer: true, min: 0, help: 'seconds between reports; 0 = quiet' },
  },

  /** Cold: ports, address, range, the mapping arrays. */
  create(ctx) {
    const o = ctx.options;
    if (o.outside === '') {
      throw optionError(
        'outside',
        'missing: the outside port',
        `pass e.g. --outside wan (the ports: ${ctx.ports.map((p) => p.name).join(', ') || 'none'})`,
      );
    }
    const portOf = (option: string, name: string) => {
      try {
        return ctx.port(name);
      } catch (e) {
        const err = e as NfcError;
        throw optionError(option, err.message, err.fix ?? 'name a port of the topology');
      }
    };
    const outside = portOf('outside', o.outside);
    const next = o.forward === 'next';
    if (!next && o.inside === '') {
      throw optionError(
        'inside',
        'missing: the inside port replies go out of',
        'pass e.g. --inside lan, or --forward next',
      );
    }
    const inside = o.inside === '' ? undefined : portOf('inside', o.inside);
    if (inside !== undefined && inside.id === outside.id) {
      throw optionError('inside', `"${o.inside}" is the outside port too`, 'name the port towards the inside hosts');
    }
    let natAddr: number;
    if (o.address !== '') {
      try {
        natAddr = parseIpv4(o.address);
      } catch {
        throw optionError('address', `"${o.address}" is not an IPv4 address`, 'write it as a.b.c.d, e.g. 203.0.113.1');
      }
    } else {
      const a = outside.ipv4[0];
      if (a === undefined) {
        throw optionError(
          'address',
          `not given, and the outside port "${outside.name}" has no IPv4 address`,
          'give the port an address in the topology (ports[].ipv4: 203.0.113.1/24) or pass --address',
        );
      }
      natAddr = a.addr;
    }
    const range = parseRange(o.ports);
    if (range === undefined) {
      throw optionError('ports', `"${o.ports}" is not a range lo-hi of ports 1..65535`, 'write e.g. 1024-65535');
    }
    const [lo, hi] = range;
    const nPorts = hi - lo + 1;
    const nat = natAddr | 0;
    const outV = next ? NEXT : out(outside.id);
    const inV = next || inside === undefined ? NEXT : out(inside.id);
    const nonIpVerdict = o['non-ip'] === 'drop' ? DROP : NEXT;
    const outsideId = outside.id;

    // Mappings, by id = class * 65536 + outside port.
    const N = CLASSES * 65536;
    const mIn = new Int32Array(N);
    const mRem = new Int32Array(N);
    const mInPort = new Uint16Array(N);
    const mRemPort = new Uint16Array(N);
    const mLast = new Float64Array(N);
    const mState = new Uint8Array(N);
    // Free ports per class: a FIFO ring each.
    const free = new Uint16Array(CLASSES * nPorts);
    const freeHead = new Int32Array(CLASSES);
    const freeCount = new Int32Array(CLASSES);
    for (let c = 0; c < CLASSES; c++) {
      for (let k = 0; k < nPorts; k++) free[c * nPorts + k] = lo + k;
      freeCount[c] = nPorts;
    }
    // Outbound lookup: inside 5-tuple → id + 1.
    let size = 16;
    while (size < o.capacity * 2) size *= 2;
    const tab = new Int32Array(size);
    const mask = size - 1;
    /** timeout per class and state (class * 3 + state), ms */
    const timeoutOf = new Float64Array(CLASSES * 3);
    timeoutOf[C_TCP * 3 + ACTIVE] = o['tcp-timeout'] * 1000;
    timeoutOf[C_TCP * 3 + CLOSING] = o['tcp-closing-timeout'] * 1000;
    timeoutOf[C_UDP * 3 + ACTIVE] = o['udp-timeout'] * 1000;
    timeoutOf[C_ICMP * 3 + ACTIVE] = o['icmp-timeout'] * 1000;

    let clock = ctx.now();
    let outbound = 0;
    let inbound = 0;
    let mappings = 0;
    let created = 0;
    let expired = 0;
    let noMapping = 0;
    let filtered = 0;
    let tableFull = 0;
    let portsExhausted = 0;
    let untranslatable = 0;
    let nonIp = 0;
    let ticks = 0;
    let cursor = 0;
    const sweep = Math.ceil(N / TICKS_PER_SECOND);

    function hashOf(c: number, inAddr: number, inPort: number, rem: number, remPort: number): number {
      let h = Math.imul(inAddr ^ Math.imul(rem, 0x9e3779b1), 0x85ebca6b);
      h ^= Math.imul((inPort << 16) | remPort, 0xc2b2ae35) ^ c;
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      return (h ^ (h >>> 13)) & mask;
    }

    /** The slot of the mapping of this inside 5-tuple in `tab`, or -(first empty slot) - 1. */
    function find(c: number, inAddr: number, inPort: number, rem: number, remPort: number): number {
      for (let i = hashOf(c, inAddr, inPort, rem, remPort); ; i = (i + 1) & mask) {
        const e = tab[i]!;
        if (e === 0) return -i - 1;
        const m = e - 1;
        if (mIn[m] === inAddr && mRem[m] === rem && mInPort[m] === inPort && mRemPort[m] === remPort && m >>> 16 === c)
          return i;
      }
    }

    /** Frees mapping m: out of the hash table (backward shift), its port back to the free list. */
    function release(m: number): void {
      const c = m >>> 16;
      let i = find(c, mIn[m]!, mInPort[m]!, mRem[m]!, mRemPort[m]!);
      if (i >= 0) {
        // Backward-shift deletion: move later entries of the run up if their home allows it.
        let j = i;
        for (;;) {
          j = (j + 1) & mask;
          const e = tab[j]!;
          if (e === 0) break;
          const k = hashOf((e - 1) >>> 16, mIn[e - 1]!, mInPort[e - 1]!, mRem[e - 1]!, mRemPort[e - 1]!);
          // e may move to i when its home k is not in (i, j] (cyclically).
          if (i <= j ? k <= i || k > j : k <= i && k > j) {
            tab[i] = e;
            i = j;
          }
        }
        tab[i] = 0;
      }
      mState[m] = FREE;
      const at = (freeHead[c]! + freeCount[c]!) % nPorts;
      free[c * nPorts + at] = m & 0xffff;
      freeCount[c]!++;
      mappings--;
    }

    /** The mapping for an outbound flow, made if new; -1 (counted) when none can be made. */
    function mapOut(c: number, inAddr: number, inPort: number, rem: number, remPort: number): number {
      const i = find(c, inAddr, inPort, rem, remPort);
      if (i >= 0) return tab[i]! - 1;
      if (mappings >= o.capacity) {
        tableFull++;
        return -1;
      }
      if (freeCount[c] === 0) {
        portsExhausted++;
        return -1;
      }
      const h = freeHead[c]!;
      const port = free[c * nPorts + h]!;
      freeHead[c] = h + 1 === nPorts ? 0 : h + 1;
      freeCount[c]!--;
      const m = (c << 16) | port;
      mIn[m] = inAddr;
      mRem[m] = rem;
      mInPort[m] = inPort;
      mRemPort[m] = remPort;
      mState[m] = ACTIVE;
      tab[-i - 1] = m + 1;
      mappings++;
      created++;
      return m;
    }

    function expire(now: number, n: number): number {
      let removed = 0;
      let m = cursor;
      for (let k = 0; k < n; k++) {
        const s = mState[m]!;
        if (s !== FREE) {
          const limit = timeoutOf[(m >>> 16) * 3 + s]!;
          if (limit > 0 && now - mLast[m]! >= limit) {
            release(m);
            removed++;
          }
        }
        m = m + 1 === N ? 0 : m + 1;
      }
      cursor = m;
      expired += removed;
      return removed;
    }

    const stats = (): NaptStats => ({
      outbound,
      inbound,
      mappings,
      created,
      expired,
      noMapping,
      filtered,
      tableFull,
      portsExhausted,
      untranslatable,
      nonIp,
    });
    const report = (): string => {
      const s = stats();
      return (
        `napt: ${s.outbound} out, ${s.inbound} in; ${s.mappings} mappings (${s.created} made, ${s.expired} expired); ` +
        `dropped: ${s.noMapping} no mapping, ${s.filtered} filtered, ${s.tableFull} table full, ` +
        `${s.portsExhausted} ports exhausted, ${s.untranslatable} untranslatable; ${s.nonIp} non-IPv4`
      );
    };
    if (o.interval > 0) {
      ctx.log(`napt: ${formatIpv4(natAddr)} ports ${lo}-${hi} on ${outside.name}; at most ${o.capacity} mappings`);
    }

    return {
      stats,
      /** the NAT address (cold; tests) */
      address: formatIpv4(natAddr),
      /** sweeps every mapping at `now` (cold; tests) */
      expireAll: (now: number) => expire(now, N),
      /** ports free per class (cold; tests) */
      freePorts: () => Array.from(freeCount),

      /** Hot path: no allocation. */
      handle(pkt) {
        if (pkt.ipVersion !== 4) {
          nonIp++;
          return nonIpVerdict;
        }
        const proto = pkt.ipProtocol;
        const c = proto === 6 ? C_TCP : proto === 17 ? C_UDP : proto === 1 ? C_ICMP : -1;
        if (c < 0 || pkt.isFragment) {
          untranslatable++;
          return DROP;
        }
        const dv = pkt.data;
        let l4 = pkt.l4Offset;
        if (l4 < 0) {
          untranslatable++;
          return DROP;
        }
        l4 += pkt.byteOffset;
        let lport: number;
        let rport: number;
        if (c === C_ICMP) {
          const type = pkt.icmpType;
          if (pkt.inputPort === outsideId ? type !== 0 : type !== 8) {
            untranslatable++;
            return DROP;
          }
          lport = pkt.icmpEchoId;
          rport = 0;
          if (lport < 0) {
            untranslatable++;
            return DROP;
          }
        } else {
          lport = pkt.srcPort;
          rport = pkt.dstPort;
          if (lport < 0) {
            untranslatable++;
            return DROP;
          }
        }
        const fin = c === C_TCP && (pkt.tcpFlags & 0x05) !== 0;
        if (pkt.inputPort !== outsideId) {
          // Outbound: lport is the inside port (or echo id), rport the remote port.
          const src = pkt.ipv4Src | 0;
          const dst = pkt.ipv4Dst | 0;
          const m = mapOut(c, src, lport, dst, rport);
          if (m < 0) return DROP;
          mLast[m] = clock;
          if (fin) mState[m] = CLOSING;
          const port = m & 0xffff;
          pkt.setIpv4Src(nat);
          if (c === C_ICMP) {
            dv.setUint16(l4 + 4, port);
            dv.setUint16(l4 + 2, csumUpdate16(dv.getUint16(l4 + 2), lport, port));
          } else {
            pkt.setSrcPort(port);
          }
          outbound++;
          return outV;
        }
        // Inbound: for the NAT address; the port (echo id) names the mapping.
        const dport = c === C_ICMP ? lport : rport;
        const m = (c << 16) | dport;
        if ((pkt.ipv4Dst | 0) !== nat || mState[m] === FREE) {
          noMapping++;
          return DROP;
        }
        if (mRem[m] !== (pkt.ipv4Src | 0) || (c !== C_ICMP && mRemPort[m] !== lport)) {
          filtered++;
          return DROP;
        }
        mLast[m] = clock;
        if (fin) mState[m] = CLOSING;
        const back = mInPort[m]!;
        pkt.setIpv4Dst(mIn[m]!);
        if (c === C_ICMP) {
          dv.setUint16(l4 + 4, back);
          dv.setUint16(l4 + 2, csumUpdate16(dv.getUint16(l4 + 2), dport, back));
        } else {
          pkt.setDstPort(back);
        }
        inbound++;
        return inV;
      },

      /** Every 100 ms: the clock and a sweep; every `interval` s the report. */
      tick(ctx) {
        clock = ctx.now();
        expire(clock, sweep);
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
