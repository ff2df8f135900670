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
 * outside port, and its fields (inside address, remote address, both ports, state, last seen)
 * are one 32-byte record at id × 32 of one buffer (a mapping's fields share a cache line);
 * inbound packets find their mapping by id directly; outbound ones through an open-addressing
 * hash table keyed by the inside 5-tuple (Int32Array of id + 1 with 14 bits of the hash above
 * it, so that probing passes other entries without reading their records; linear probing,
 * deletion by backward shift: no tombstones).
 *
 * Per burst (handleBurst), three passes: the plain packets (untagged IPv4, TCP or UDP, not a
 * fragment, no offloads) are parsed straight from their bytes and the hash-table slots and
 * records they will need are requested (two rounds: an outbound packet's record is known from
 * its slot), so the burst's cache misses overlap; then each packet is translated, the plain ones
 * from what the first pass read, the rest (ICMP, VLAN, fragments, offloads, non-IPv4, ...)
 * through the packet view as before.
 *
 * Checksums: the IPv4 header and TCP/UDP checksums are patched incrementally by the packet
 * view's setters; the ICMP checksum when the echo id changes (RFC 1624).
 *
 * Time: handle() does not read the clock; tick() (every 100 ms) reads ctx.now() into `clock`
 * and sweeps a tenth of the mappings, freeing those idle past their protocol's timeout (TCP
 * after a FIN or RST: `tcp-closing-timeout`).
 */
import {
  BURST,
  csumUpdate16,
  csumUpdate32,
  defineNF,
  DROP,
  formatIpv4,
  Meta,
  NEXT,
  NfcError,
  out,
  parseIpv4,
  type PacketView,
} from 'nfchain';

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
/** A mapping's record: Int32 words at id × REC_WORDS (32 bytes, a cache line holds two). */
const REC_WORDS = 8;
const R_IN = 0; // inside address
const R_REM = 1; // remote address
const R_PORTS = 2; // inside port << 16 | remote port (echo id << 16 for ICMP)
const R_STATE = 3;
/** last seen: the Float64 at id × REC_F64 + R_LAST (words 4-5); words 6-7 unused */
const REC_F64 = REC_WORDS >> 1;
const R_LAST = 2;
/** Hash-table entry: id + 1 in the low ID_BITS bits, hash bits above. */
const ID_BITS = 18;
const ID_MASK = (1 << ID_BITS) - 1;
/** Per-burst packet kinds (first pass). */
const K_SLOW = 0;
const K_OUT = 1;
const K_IN = 2;
const META_OFFLOAD = Meta.offload;
const META_PORT = Meta.port;

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
  counters: {
    outbound: 'inside → outside packets translated',
    inbound: 'outside → inside packets translated',
    created: 'mappings made (new outbound flows)',
    expired: 'mappings freed after their idle timeout',
    noMapping: 'outside packets to no mapping (or not to the NAT address): dropped',
    filtered: 'outside packets to a mapping from another remote endpoint: dropped',
    tableFull: 'new flows when capacity mappings exist: dropped',
    portsExhausted: "new flows when the protocol's ports are all in use: dropped",
    untranslatable: 'IPv4 packets the NAT cannot translate (other protocols, ICMP other than echo, fragments): dropped',
    nonIp: 'packets that are not IPv4 (ARP, IPv6): the non-ip verdict',
  },
  gauges: {
    mappings: 'mappings in force (outside ports in use, all protocols)',
  },
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

    // Mappings, by id = class * 65536 + outside port: one record each.
    const N = CLASSES * 65536;
    const rec = new Int32Array(N * REC_WORDS);
    const recF = new Float64Array(rec.buffer);
    // Free ports per class: a FIFO ring each.
    const free = new Uint16Array(CLASSES * nPorts);
    const freeHead = new Int32Array(CLASSES);
    const freeCount = new Int32Array(CLASSES);
    for (let c = 0; c < CLASSES; c++) {
      for (let k = 0; k < nPorts; k++) free[c * nPorts + k] = lo + k;
      freeCount[c] = nPorts;
    }
    // Outbound lookup: inside 5-tuple → hash bits << ID_BITS | id + 1.
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
    const outbound = ctx.counter('outbound');
    const inbound = ctx.counter('inbound');
    /** packets translated in the burst so far: added to outbound and inbound once per burst */
    let outN = 0;
    let inN = 0;
    const flushCounts = (): void => {
      if (outN > 0) outbound.add(outN);
      if (inN > 0) inbound.add(inN);
      outN = 0;
      inN = 0;
    };
    /** mappings in force (the capacity check reads it; the gauge shows it) */
    let mappings = 0;
    const mappingsGauge = ctx.gauge('mappings');
    const created = ctx.counter('created');
    const expired = ctx.counter('expired');
    const noMapping = ctx.counter('noMapping');
    const filtered = ctx.counter('filtered');
    const tableFull = ctx.counter('tableFull');
    const portsExhausted = ctx.counter('portsExhausted');
    const untranslatable = ctx.counter('untranslatable');
    const nonIp = ctx.counter('nonIp');
    let ticks = 0;
    let cursor = 0;
    const sweep = Math.ceil(N / TICKS_PER_SECOND);

    // The burst as the first pass of handleBurst read it (plain TCP/UDP over IPv4 only).
    const bKind = new Uint8Array(BURST);
    /** the class (C_TCP, C_UDP) and whether TCP FIN or RST is set (<< 2) */
    const bClass = new Int32Array(BURST);
    /** absolute offsets of the IPv4 and TCP/UDP headers in the pool */
    const bL3 = new Int32Array(BURST);
    const bL4 = new Int32Array(BURST);
    const bSrc = new Int32Array(BURST);
    const bDst = new Int32Array(BURST);
    /** source port << 16 | destination port */
    const bPorts = new Int32Array(BURST);
    /** outbound: the 5-tuple's hash; inbound: the mapping id the destination port names */
    const bKey = new Int32Array(BURST);
    /** where the first pass's reads go, so that they are not optimized away */
    const prefetchSink = new Int32Array(1);

    /** Hash of an inside 5-tuple (32 bits: the slot is its low bits, the entry's tag its high ones). */
    function hashOf(c: number, inAddr: number, inPort: number, rem: number, remPort: number): number {
      let h = Math.imul(inAddr ^ Math.imul(rem, 0x9e3779b1), 0x85ebca6b);
      h ^= Math.imul((inPort << 16) | remPort, 0xc2b2ae35) ^ c;
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      return h ^ (h >>> 13);
    }

    /**
     * The slot of the mapping of this inside 5-tuple (hash h) in `tab`, or -(first empty
     * slot) - 1. Entries whose tag differs are passed without reading their record.
     */
    function find(c: number, inAddr: number, ports: number, rem: number, h: number): number {
      const tag = (h >>> ID_BITS) << ID_BITS;
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const e = tab[i]!;
        if (e === 0) return -i - 1;
        if ((e & ~ID_MASK) === tag) {
          const m = (e & ID_MASK) - 1;
          const r = m * REC_WORDS;
          if (rec[r + R_IN] === inAddr && rec[r + R_REM] === rem && rec[r + R_PORTS] === ports && m >>> 16 === c)
            return i;
        }
      }
    }

    /** The hash of mapping m's inside 5-tuple (cold: release). */
    function hashOfMapping(m: number): number {
      const r = m * REC_WORDS;
      const ports = rec[r + R_PORTS]!;
      return hashOf(m >>> 16, rec[r + R_IN]!, ports >>> 16, rec[r + R_REM]!, ports & 0xffff);
    }

    /** Frees mapping m: out of the hash table (backward shift), its port back to the free list. */
    function release(m: number): void {
      const c = m >>> 16;
      const r = m * REC_WORDS;
      let i = find(c, rec[r + R_IN]!, rec[r + R_PORTS]!, rec[r + R_REM]!, hashOfMapping(m));
      if (i >= 0) {
        // Backward-shift deletion: move later entries of the run up if their home allows it.
        let j = i;
        for (;;) {
          j = (j + 1) & mask;
          const e = tab[j]!;
          if (e === 0) break;
          const k = hashOfMapping((e & ID_MASK) - 1) & mask;
          // e may move to i when its home k is not in (i, j] (cyclically).
          if (i <= j ? k <= i || k > j : k <= i && k > j) {
            tab[i] = e;
            i = j;
          }
        }
        tab[i] = 0;
      }
      rec[r + R_STATE] = FREE;
      const at = (freeHead[c]! + freeCount[c]!) % nPorts;
      free[c * nPorts + at] = m & 0xffff;
      freeCount[c]!++;
      mappings--;
    }

    /** The mapping for an outbound flow (hash h), made if new; -1 (counted) when none can be made. */
    function mapOut(c: number, inAddr: number, inPort: number, rem: number, remPort: number, h: number): number {
      const ports = (inPort << 16) | remPort;
      const i = find(c, inAddr, ports, rem, h);
      if (i >= 0) return (tab[i]! & ID_MASK) - 1;
      if (mappings >= o.capacity) {
        tableFull.add();
        return -1;
      }
      if (freeCount[c] === 0) {
        portsExhausted.add();
        return -1;
      }
      const hd = freeHead[c]!;
      const port = free[c * nPorts + hd]!;
      freeHead[c] = hd + 1 === nPorts ? 0 : hd + 1;
      freeCount[c]!--;
      const m = (c << 16) | port;
      const r = m * REC_WORDS;
      rec[r + R_IN] = inAddr;
      rec[r + R_REM] = rem;
      rec[r + R_PORTS] = ports;
      rec[r + R_STATE] = ACTIVE;
      tab[-i - 1] = ((h >>> ID_BITS) << ID_BITS) | (m + 1);
      mappingsGauge.set(++mappings);
      created.add();
      return m;
    }

    function expire(now: number, n: number): number {
      let removed = 0;
      let m = cursor;
      for (let k = 0; k < n; k++) {
        const s = rec[m * REC_WORDS + R_STATE]!;
        if (s !== FREE) {
          const limit = timeoutOf[(m >>> 16) * 3 + s]!;
          if (limit > 0 && now - recF[m * REC_F64 + R_LAST]! >= limit) {
            release(m);
            removed++;
          }
        }
        m = m + 1 === N ? 0 : m + 1;
      }
      cursor = m;
      if (removed > 0) {
        expired.add(removed);
        mappingsGauge.set(mappings);
      }
      return removed;
    }

    /** The general path: one packet through the packet view. Hot path: no allocation. */
    function translate(pkt: PacketView): number {
      if (pkt.ipVersion !== 4) {
        nonIp.add();
        return nonIpVerdict;
      }
      const proto = pkt.ipProtocol;
      const c = proto === 6 ? C_TCP : proto === 17 ? C_UDP : proto === 1 ? C_ICMP : -1;
      if (c < 0 || pkt.isFragment) {
        untranslatable.add();
        return DROP;
      }
      const dv = pkt.data;
      let l4 = pkt.l4Offset;
      if (l4 < 0) {
        untranslatable.add();
        return DROP;
      }
      l4 += pkt.byteOffset;
      let lport: number;
      let rport: number;
      if (c === C_ICMP) {
        const type = pkt.icmpType;
        if (pkt.inputPort === outsideId ? type !== 0 : type !== 8) {
          untranslatable.add();
          return DROP;
        }
        lport = pkt.icmpEchoId;
        rport = 0;
        if (lport < 0) {
          untranslatable.add();
          return DROP;
        }
      } else {
        lport = pkt.srcPort;
        rport = pkt.dstPort;
        if (lport < 0) {
          untranslatable.add();
          return DROP;
        }
      }
      const fin = c === C_TCP && (pkt.tcpFlags & 0x05) !== 0;
      if (pkt.inputPort !== outsideId) {
        // Outbound: lport is the inside port (or echo id), rport the remote port.
        const src = pkt.ipv4Src | 0;
        const dst = pkt.ipv4Dst | 0;
        const m = mapOut(c, src, lport, dst, rport, hashOf(c, src, lport, dst, rport));
        if (m < 0) return DROP;
        recF[m * REC_F64 + R_LAST] = clock;
        if (fin) rec[m * REC_WORDS + R_STATE] = CLOSING;
        const port = m & 0xffff;
        pkt.setIpv4Src(nat);
        if (c === C_ICMP) {
          dv.setUint16(l4 + 4, port);
          dv.setUint16(l4 + 2, csumUpdate16(dv.getUint16(l4 + 2), lport, port));
        } else {
          pkt.setSrcPort(port);
        }
        outN++;
        return outV;
      }
      // Inbound: for the NAT address; the port (echo id) names the mapping.
      const dport = c === C_ICMP ? lport : rport;
      const m = (c << 16) | dport;
      const r = m * REC_WORDS;
      if ((pkt.ipv4Dst | 0) !== nat || rec[r + R_STATE] === FREE) {
        noMapping.add();
        return DROP;
      }
      if (rec[r + R_REM] !== (pkt.ipv4Src | 0) || (c !== C_ICMP && (rec[r + R_PORTS]! & 0xffff) !== lport)) {
        filtered.add();
        return DROP;
      }
      recF[m * REC_F64 + R_LAST] = clock;
      if (fin) rec[r + R_STATE] = CLOSING;
      const back = rec[r + R_PORTS]! >>> 16;
      pkt.setIpv4Dst(rec[r + R_IN]!);
      if (c === C_ICMP) {
        dv.setUint16(l4 + 4, back);
        dv.setUint16(l4 + 2, csumUpdate16(dv.getUint16(l4 + 2), dport, back));
      } else {
        pkt.setDstPort(back);
      }
      inN++;
      return inV;
    }

    /**
     * Rewrites the IPv4 address at l3 + field (12: source, 16: destination) of a plain TCP/UDP
     * packet (no offloads) and patches the header and transport checksums, exactly as the
     * view's setIpv4Src/Dst do (a UDP checksum of 0 stays 0; a result of 0 is written 0xffff).
     */
    function rewriteAddr(dv: DataView, l3: number, l4: number, tcp: boolean, field: number, addr: number): void {
      const old = dv.getInt32(l3 + field);
      if (old === addr) return;
      dv.setInt32(l3 + field, addr);
      dv.setUint16(l3 + 10, csumUpdate32(dv.getUint16(l3 + 10), old, addr));
      const o = l4 + (tcp ? 16 : 6);
      const c = dv.getUint16(o);
      if (tcp) {
        dv.setUint16(o, csumUpdate32(c, old, addr));
      } else if (c !== 0) {
        const s = csumUpdate32(c, old, addr);
        dv.setUint16(o, s === 0 ? 0xffff : s);
      }
    }

    /** Rewrites the port at l4 + field (0: source, 2: destination), as the view's setSrcPort/setDstPort. */
    function rewritePort(dv: DataView, l4: number, tcp: boolean, field: number, port: number): void {
      const old = dv.getUint16(l4 + field);
      if (old === port) return;
      dv.setUint16(l4 + field, port);
      const o = l4 + (tcp ? 16 : 6);
      const c = dv.getUint16(o);
      if (tcp) {
        dv.setUint16(o, csumUpdate16(c, old, port));
      } else if (c !== 0) {
        const s = csumUpdate16(c, old, port);
        dv.setUint16(o, s === 0 ? 0xffff : s);
      }
    }

    /** Outbound packet j of the burst, as the first pass read it (plain TCP/UDP). Hot path. */
    function plainOut(dv: DataView, j: number): number {
      const cf = bClass[j]!;
      const c = cf & 3;
      const ports = bPorts[j]!;
      const m = mapOut(c, bSrc[j]!, ports >>> 16, bDst[j]!, ports & 0xffff, bKey[j]!);
      if (m < 0) return DROP;
      recF[m * REC_F64 + R_LAST] = clock;
      if (cf > 3) rec[m * REC_WORDS + R_STATE] = CLOSING;
      const tcp = c === C_TCP;
      const l4 = bL4[j]!;
      rewriteAddr(dv, bL3[j]!, l4, tcp, 12, nat);
      rewritePort(dv, l4, tcp, 0, m & 0xffff);
      outN++;
      return outV;
    }

    /** Inbound packet j of the burst, as the first pass read it (plain TCP/UDP). Hot path. */
    function plainIn(dv: DataView, j: number): number {
      const cf = bClass[j]!;
      const m = bKey[j]!;
      const r = m * REC_WORDS;
      if (bDst[j] !== nat || rec[r + R_STATE] === FREE) {
        noMapping.add();
        return DROP;
      }
      if (rec[r + R_REM] !== bSrc[j] || (rec[r + R_PORTS]! & 0xffff) !== bPorts[j]! >>> 16) {
        filtered.add();
        return DROP;
      }
      recF[m * REC_F64 + R_LAST] = clock;
      if (cf > 3) rec[r + R_STATE] = CLOSING;
      const tcp = (cf & 3) === C_TCP;
      const l4 = bL4[j]!;
      rewriteAddr(dv, bL3[j]!, l4, tcp, 16, rec[r + R_IN]!);
      rewritePort(dv, l4, tcp, 2, rec[r + R_PORTS]! >>> 16);
      inN++;
      return inV;
    }

    const stats = (): NaptStats => ({
      outbound: outbound.value + outN,
      inbound: inbound.value + inN,
      mappings,
      created: created.value,
      expired: expired.value,
      noMapping: noMapping.value,
      filtered: filtered.value,
      tableFull: tableFull.value,
      portsExhausted: portsExhausted.value,
      untranslatable: untranslatable.value,
      nonIp: nonIp.value,
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

      /**
       * Per burst, three passes (see the top of the file): read the plain packets and request
       * their hash-table slots (outbound) or records (inbound); request the records of the
       * outbound ones' mappings; translate. Hot path: no allocation.
       */
      handleBurst(b, ctx) {
        const pool = ctx.pool;
        const n = b.n;
        const descs = b.descs;
        const view = b.view;
        const dv = view.data;
        const bufLen = dv.byteLength;
        let x = 0;
        for (let j = 0; j < n; j++) {
          const d = descs[j]!;
          bKind[j] = K_SLOW;
          if (pool.meta(d, META_OFFLOAD) !== 0) continue;
          view.attach(pool, d);
          // Exactly the cases in which the view's parse finds an unfragmented IPv4 packet with
          // a whole TCP or UDP header (anything else takes the general path).
          const off = view.byteOffset;
          const end = off + view.length;
          if (end - off < 42 || end > bufLen || dv.getUint16(off + 12) !== 0x0800) continue;
          const l3 = off + 14;
          const w0 = dv.getUint32(l3);
          const hl = (w0 >>> 22) & 0x3c;
          const total = w0 & 0xffff;
          if (w0 >>> 28 !== 4 || hl < 20 || l3 + hl > end || total < hl) continue;
          if ((dv.getUint32(l3 + 4) & 0x3fff) !== 0) continue; // MF or an offset: a fragment
          const ipEnd = l3 + total < end ? l3 + total : end;
          const proto = dv.getUint8(l3 + 9);
          const l4 = l3 + hl;
          let cf: number;
          if (proto === 17) {
            if (l4 + 8 > ipEnd) continue;
            cf = C_UDP;
          } else if (proto === 6) {
            if (l4 + 20 > ipEnd) continue;
            const thl = (dv.getUint8(l4 + 12) >>> 4) << 2;
            if (thl < 20 || l4 + thl > ipEnd) continue;
            cf = (dv.getUint8(l4 + 13) & 0x05) !== 0 ? C_TCP | 4 : C_TCP;
          } else {
            continue;
          }
          const src = dv.getInt32(l3 + 12);
          const dst = dv.getInt32(l3 + 16);
          const ports = dv.getInt32(l4);
          bClass[j] = cf;
          bL3[j] = l3;
          bL4[j] = l4;
          bSrc[j] = src;
          bDst[j] = dst;
          bPorts[j] = ports;
          if (pool.meta(d, META_PORT) !== outsideId) {
            const h = hashOf(cf & 3, src, ports >>> 16, dst, ports & 0xffff);
            bKey[j] = h;
            bKind[j] = K_OUT;
            x ^= tab[h & mask]!;
          } else {
            const m = ((cf & 3) << 16) | (ports & 0xffff);
            bKey[j] = m;
            bKind[j] = K_IN;
            x ^= rec[m * REC_WORDS]!;
          }
        }
        // The records of the outbound packets' mappings: the first entry with their tag.
        for (let j = 0; j < n; j++) {
          if (bKind[j] !== K_OUT) continue;
          const h = bKey[j]!;
          const tag = (h >>> ID_BITS) << ID_BITS;
          for (let i = h & mask; ; i = (i + 1) & mask) {
            const e = tab[i]!;
            if (e === 0) break;
            if ((e & ~ID_MASK) === tag) {
              x ^= rec[((e & ID_MASK) - 1) * REC_WORDS]!;
              break;
            }
          }
        }
        prefetchSink[0] = x;
        const verdicts = b.verdicts;
        for (let j = 0; j < n; j++) {
          const k = bKind[j];
          verdicts[j] =
            k === K_OUT ? plainOut(dv, j) : k === K_IN ? plainIn(dv, j) : translate(view.attach(pool, descs[j]!));
        }
        flushCounts();
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
