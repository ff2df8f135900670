/**
 * Builds test packets byte by byte: Ethernet (0, 1 or 2 VLAN tags), ARP, IPv4 (with options and
 * fragments), IPv6 (with extension headers), TCP, UDP, ICMP, ICMPv6, with correct checksums.
 *
 * Deliberately independent of src/: the checksums here are computed the slow, obvious way
 * (16-bit words assembled from bytes, pseudo headers laid out as real bytes), and addresses are
 * parsed by this file's own code, so the tests cross-check src/packet/checksum.ts and PacketView
 * rather than agreeing with them by construction. Test code only; it allocates freely.
 */

export interface VlanSpec {
  /** 0x8100 (default) or 0x88a8. */
  tpid?: number;
  id: number;
  pcp?: number;
}

export interface EthSpec {
  dst?: string;
  src?: string;
  vlans?: VlanSpec[];
  /** Overrides the EtherType computed from the L3 spec. */
  etherType?: number;
}

export interface ArpSpec {
  kind: 'arp';
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface Ipv4Spec {
  kind: 'ipv4';
  src: string;
  dst: string;
  tos?: number;
  id?: number;
  /** 3 bits: 0x2 DF, 0x1 MF. */
  flags?: number;
  /** In 8-byte units. */
  fragOffset?: number;
  ttl?: number;
  /** Overrides the protocol computed from the L4 spec. */
  proto?: number;
  /** Option bytes; padded with zeros (EOL) to a multiple of 4. */
  options?: number[];
}

export interface Ipv6ExtSpec {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH. */
  type: 0 | 43 | 44 | 51 | 60;
  /** Total length in bytes for 0/43/60 (multiple of 8, default 8) and 51 (multiple of 4, default 12). */
  length?: number;
  /** Fragment header: offset in 8-byte units, M flag, identification. */
  fragOffset?: number;
  more?: boolean;
  id?: number;
}

export interface Ipv6Spec {
  kind: 'ipv6';
  src: string;
  dst: string;
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
  ext?: Ipv6ExtSpec[];
  /** Overrides the upper-layer protocol computed from the L4 spec. */
  proto?: number;
}

export interface TcpSpec {
  kind: 'tcp';
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  urgent?: number;
  /** Option bytes; padded with zeros to a multiple of 4. */
  options?: number[];
  payload?: Uint8Array;
}

export interface UdpSpec {
  kind: 'udp';
  sport: number;
  dport: number;
  payload?: Uint8Array;
  /** Leave the checksum 0 ("none", IPv4 only in real life). */
  noChecksum?: boolean;
}

export interface IcmpSpec {
  /** icmp over IPv4, icmp6 over IPv6. */
  kind: 'icmp' | 'icmp6';
  type: number;
  code: number;
  /** Bytes 4..7 as echo identifier and sequence. */
  id?: number;
  seq?: number;
  payload?: Uint8Array;
}

export interface RawSpec {
  kind: 'raw';
  proto: number;
  payload: Uint8Array;
}

export type L3Spec = ArpSpec | Ipv4Spec | Ipv6Spec;
export type L4Spec = TcpSpec | UdpSpec | IcmpSpec | RawSpec;

export interface PacketSpec {
  eth?: EthSpec;
  l3?: L3Spec;
  /** Bytes after the Ethernet header when there is no L3 spec. */
  l3Raw?: Uint8Array;
  l4?: L4Spec;
  /** Pad the frame with zeros to at least this many bytes (e.g. 60, Ethernet's minimum). */
  padTo?: number;
}

/** A built packet and where its parts are, as the builder laid them out. */
export interface BuiltPacket {
  bytes: Uint8Array;
  l3Offset: number;
  /** Transport header start; -1 without one. */
  l4Offset: number;
  /** Transport header + payload length (what the checksum covers); -1 without IP. */
  l4Length: number;
  payloadOffset: number;
  payloadLength: number;
  /** 4 or 6 for IP, 0 otherwise. */
  family: 0 | 4 | 6;
  /** Upper-layer protocol number, -1 without IP. */
  proto: number;
}

// ---------------------------------------------------------------------------------------------
// Independent reference checksum: bytes to 16-bit words, add with end-around carry each step.

/** One's-complement sum of bytes[start..end) (odd byte padded), folded, not complemented. */
export function refSum(bytes: ArrayLike<number>, start = 0, end = bytes.length, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) {
    const hi = bytes[i] ?? 0;
    const lo = i + 1 < end ? (bytes[i + 1] ?? 0) : 0;
    s += hi * 256 + lo;
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  }
  return s;
}

/** Internet checksum (complement of refSum). */
export function refChecksum(bytes: ArrayLike<number>, start = 0, end = bytes.length): number {
  return ~refSum(bytes, start, end) & 0xffff;
}

/** IPv4 header checksum recomputed from scratch with the field taken as zero. */
export function refIpv4HeaderChecksum(pkt: Uint8Array, l3Offset: number): number {
  const hl = (pkt[l3Offset]! & 0x0f) * 4;
  const h = Array.from(pkt.subarray(l3Offset, l3Offset + hl));
  h[10] = 0;
  h[11] = 0;
  return refChecksum(h);
}

/**
 * Transport checksum recomputed from scratch for a built packet (reading the current addresses
 * from its bytes, so it also checks setters): pseudo header as bytes + segment with a zero
 * checksum field. UDP's computed 0 becomes 0xffff.
 */
export function refL4Checksum(pkt: Uint8Array, b: BuiltPacket): number {
  const seg = Array.from(pkt.subarray(b.l4Offset, b.l4Offset + b.l4Length));
  const field = b.proto === 6 ? 16 : b.proto === 17 ? 6 : 2;
  seg[field] = 0;
  seg[field + 1] = 0;
  let pseudo: number[] = [];
  if (b.family === 4 && b.proto !== 1) {
    pseudo = [...pkt.subarray(b.l3Offset + 12, b.l3Offset + 20), 0, b.proto, b.l4Length >> 8, b.l4Length & 0xff];
  } else if (b.family === 6) {
    const n = b.l4Length;
    pseudo = [
      ...pkt.subarray(b.l3Offset + 8, b.l3Offset + 40),
      (n >>> 24) & 0xff,
      (n >>> 16) & 0xff,
      (n >>> 8) & 0xff,
      n & 0xff,
      0,
      0,
      0,
      b.proto,
    ];
  }
  const c = refChecksum([...pseudo, ...seg]);
  return b.proto === 17 && c === 0 ? 0xffff : c;
}

/** The transport checksum field as stored in a built packet. */
export function storedL4Checksum(pkt: Uint8Array, b: BuiltPacket): number {
  const field = b.l4Offset + (b.proto === 6 ? 16 : b.proto === 17 ? 6 : 2);
  return pkt[field]! * 256 + pkt[field + 1]!;
}

// ---------------------------------------------------------------------------------------------
// Address text (own parsers, see the header comment)

export function macBytes(text: string): number[] {
  const parts = text.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${text}`);
  return parts.map((p) => parseInt(p, 16));
}

/** 48-bit number of a MAC text. */
export function macNum(text: string): number {
  return macBytes(text).reduce((a, b) => a * 256 + b, 0);
}

export function ipv4Bytes(text: string): number[] {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4) throw new Error(`bad IPv4 ${text}`);
  return parts;
}

/** Unsigned 32-bit number of a dotted quad. */
export function ipv4Num(text: string): number {
  return ipv4Bytes(text).reduce((a, b) => a * 256 + b, 0);
}

export function ipv6Bytes(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(zeros).fill('0'), ...t].map((g) => parseInt(g, 16));
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`);
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** Four network-order words of an IPv6 address text. */
export function ipv6Words(text: string): Uint32Array {
  const b = ipv6Bytes(text);
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++)
    w[i] = b[4 * i]! * 0x1000000 + b[4 * i + 1]! * 0x10000 + b[4 * i + 2]! * 0x100 + b[4 * i + 3]!;
  return w;
}

// ---------------------------------------------------------------------------------------------
// Builder

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function pad4(bytes: number[]): number[] {
  const out = [...bytes];
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

function protoOf(l4: L4Spec | undefined, v6: boolean): number {
  if (!l4) return 59;
  switch (l4.kind) {
    case 'tcp':
      return 6;
    case 'udp':
      return 17;
    case 'icmp':
      return v6 ? 58 : 1;
    case 'icmp6':
      return 58;
    case 'raw':
      return l4.proto;
  }
}

/** Transport header + payload with a zero checksum field; returns the bytes and the field offset. */
function buildL4(l4: L4Spec): { bytes: number[]; field: number; hdrLen: number } {
  switch (l4.kind) {
    case 'tcp': {
      const opts = pad4(l4.options ?? []);
      const hdrLen = 20 + opts.length;
      const bytes = [
        ...u16(l4.sport),
        ...u16(l4.dport),
        ...u32(l4.seq ?? 1000),
        ...u32(l4.ack ?? 0),
        (hdrLen / 4) << 4,
        l4.flags ?? 0x18,
        ...u16(l4.window ?? 65535),
        0,
        0,
        ...u16(l4.urgent ?? 0),
        ...opts,
        ...(l4.payload ?? []),
      ];
      return { bytes, field: 16, hdrLen };
    }
    case 'udp': {
      const payload = [...(l4.payload ?? [])];
      return {
        bytes: [...u16(l4.sport), ...u16(l4.dport), ...u16(8 + payload.length), 0, 0, ...payload],
        field: 6,
        hdrLen: 8,
      };
    }
    case 'icmp':
    case 'icmp6':
      return {
        bytes: [l4.type, l4.code, 0, 0, ...u16(l4.id ?? 0), ...u16(l4.seq ?? 0), ...(l4.payload ?? [])],
        field: 2,
        hdrLen: 8,
      };
    case 'raw':
      return { bytes: [...l4.payload], field: -1, hdrLen: 0 };
  }
}

function buildExt(e: Ipv6ExtSpec, next: number): number[] {
  if (e.type === 44) {
    const fo = ((e.fragOffset ?? 0) << 3) | (e.more ? 1 : 0);
    return [next, 0, ...u16(fo), ...u32(e.id ?? 0x12345678)];
  }
  if (e.type === 51) {
    const len = e.length ?? 12;
    const b = [next, len / 4 - 2, 0, 0, ...u32(0x100), ...u32(1)];
    while (b.length < len) b.push(0);
    return b;
  }
  const len = e.length ?? 8;
  if (e.type === 43) {
    // Routing type 0 with no segments left: the fixed destination is the final one.
    return [next, len / 8 - 1, 0, 0, ...Array<number>(len - 4).fill(0)];
  }
  // Options header holding one PadN option that fills it.
  return [next, len / 8 - 1, 1, len - 4, ...Array<number>(len - 4).fill(0)];
}

/** Build a packet from a spec. */
export function buildPacket(spec: PacketSpec): BuiltPacket {
  const eth = spec.eth ?? {};
  const l3 = spec.l3;
  const l4 = spec.l4;
  const bytes: number[] = [...macBytes(eth.dst ?? '02:00:00:00:00:02'), ...macBytes(eth.src ?? '02:00:00:00:00:01')];
  for (const v of eth.vlans ?? []) bytes.push(...u16(v.tpid ?? 0x8100), ...u16(((v.pcp ?? 0) << 13) | v.id));
  const etherType =
    eth.etherType ?? (l3 === undefined ? 0x88b5 : l3.kind === 'arp' ? 0x0806 : l3.kind === 'ipv4' ? 0x0800 : 0x86dd);
  bytes.push(...u16(etherType));
  const l3Offset = bytes.length;
  const r: BuiltPacket = {
    bytes: new Uint8Array(0),
    l3Offset,
    l4Offset: -1,
    l4Length: -1,
    payloadOffset: -1,
    payloadLength: -1,
    family: 0,
    proto: -1,
  };

  if (l3 === undefined) {
    bytes.push(...(spec.l3Raw ?? []));
  } else if (l3.kind === 'arp') {
    bytes.push(
      ...u16(1),
      ...u16(0x0800),
      6,
      4,
      ...u16(l3.op),
      ...macBytes(l3.senderMac),
      ...ipv4Bytes(l3.senderIp),
      ...macBytes(l3.targetMac),
      ...ipv4Bytes(l3.targetIp),
    );
  } else {
    const v6 = l3.kind === 'ipv6';
    const proto = l3.proto ?? protoOf(l4, v6);
    const seg = l4 ? buildL4(l4) : { bytes: [], field: -1, hdrLen: 0 };
    r.family = v6 ? 6 : 4;
    r.proto = proto;
    r.l4Length = seg.bytes.length;
    if (l3.kind === 'ipv4') {
      const opts = pad4(l3.options ?? []);
      const hl = 20 + opts.length;
      const total = hl + seg.bytes.length;
      const hdr = [
        0x40 | (hl / 4),
        l3.tos ?? 0,
        ...u16(total),
        ...u16(l3.id ?? 0x1234),
        ...u16(((l3.flags ?? 0) << 13) | (l3.fragOffset ?? 0)),
        l3.ttl ?? 64,
        proto,
        0,
        0,
        ...ipv4Bytes(l3.src),
        ...ipv4Bytes(l3.dst),
        ...opts,
      ];
      const c = refChecksum(hdr);
      hdr[10] = c >> 8;
      hdr[11] = c & 0xff;
      bytes.push(...hdr);
    } else {
      const exts = l3.ext ?? [];
      const extBytes: number[] = [];
      for (let i = 0; i < exts.length; i++) {
        const next = i + 1 < exts.length ? exts[i + 1]!.type : proto;
        extBytes.push(...buildExt(exts[i]!, next));
      }
      const first = exts.length > 0 ? exts[0]!.type : proto;
      const tc = l3.trafficClass ?? 0;
      const fl = l3.flowLabel ?? 0;
      bytes.push(
        0x60 | (tc >> 4),
        ((tc & 0x0f) << 4) | (fl >> 16),
        (fl >> 8) & 0xff,
        fl & 0xff,
        ...u16(extBytes.length + seg.bytes.length),
        first,
        l3.hopLimit ?? 64,
        ...ipv6Bytes(l3.src),
        ...ipv6Bytes(l3.dst),
        ...extBytes,
      );
    }
    if (l4) {
      r.l4Offset = bytes.length;
      r.payloadOffset = bytes.length + seg.hdrLen;
      r.payloadLength = seg.bytes.length - seg.hdrLen;
      bytes.push(...seg.bytes);
      const computable = seg.field >= 0 && !(l4.kind === 'udp' && l4.noChecksum);
      if (computable) {
        const tmp = new Uint8Array(bytes);
        const c = refL4Checksum(tmp, r);
        bytes[r.l4Offset + seg.field] = c >> 8;
        bytes[r.l4Offset + seg.field + 1] = c & 0xff;
      }
    }
  }
  while (spec.padTo !== undefined && bytes.length < spec.padTo) bytes.push(0);
  r.bytes = new Uint8Array(bytes);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The hand-built sample set: one packet per header combination the view knows, shared by the
// view tests, the fuzz (as seeds) and the pcap round trip.

export interface NamedPacket {
  name: string;
  p: BuiltPacket;
}

const PAYLOAD10 = new Uint8Array([0x48, 0x45, 0x4c, 0x4c, 0x4f, 0x20, 0x4e, 0x46, 0x56, 0x21]);

/** MSS 1460, SACK permitted, NOP, window scale 7: 11 bytes, padded to 12 (data offset 8). */
export const TCP_OPTIONS = [2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 0];
/** NOP, NOP, record route (len 7, pointer 4, one slot): 9 bytes, padded to 12 (IHL 8). */
export const IPV4_OPTIONS = [1, 1, 7, 7, 4, 0, 0, 0, 0];

export function samplePackets(): NamedPacket[] {
  const v4 = { kind: 'ipv4', src: '10.0.0.1', dst: '192.168.1.2' } as const;
  const v6 = { kind: 'ipv6', src: '2001:db8::1', dst: '2001:db8:0:1::2' } as const;
  return [
    {
      name: 'ipv4-tcp',
      p: buildPacket({
        l3: { ...v4, tos: 0x10, id: 0x4321, flags: 2, ttl: 64 },
        l4: {
          kind: 'tcp',
          sport: 40000,
          dport: 80,
          seq: 0x89abcdef,
          ack: 0x01020304,
          flags: 0x18,
          window: 29200,
          options: TCP_OPTIONS,
          payload: PAYLOAD10,
        },
      }),
    },
    {
      name: 'vlan-ipv4opt-udp',
      p: buildPacket({
        eth: { vlans: [{ id: 100, pcp: 5 }] },
        l3: { ...v4, options: IPV4_OPTIONS, ttl: 17 },
        l4: { kind: 'udp', sport: 5353, dport: 53, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'qinq-ipv6-tcp',
      p: buildPacket({
        eth: {
          vlans: [
            { tpid: 0x88a8, id: 10, pcp: 1 },
            { id: 20, pcp: 3 },
          ],
        },
        l3: { ...v6, trafficClass: 0xb8, flowLabel: 0xabcde, hopLimit: 255 },
        l4: { kind: 'tcp', sport: 443, dport: 51000, seq: 1, ack: 2, flags: 0x12, window: 1024, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv6-ext-udp',
      p: buildPacket({
        l3: { ...v6, ext: [{ type: 0 }, { type: 43, length: 24 }, { type: 60, length: 16 }] },
        l4: { kind: 'udp', sport: 1000, dport: 2000, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv6-ah-tcp',
      p: buildPacket({ l3: { ...v6, ext: [{ type: 51 }] }, l4: { kind: 'tcp', sport: 22, dport: 60000 } }),
    },
    {
      name: 'ipv6-frag-first-udp',
      p: buildPacket({
        l3: { ...v6, ext: [{ type: 44, fragOffset: 0, more: true, id: 77 }] },
        l4: { kind: 'udp', sport: 7, dport: 8, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv6-frag-later',
      p: buildPacket({
        l3: { ...v6, ext: [{ type: 44, fragOffset: 100, more: false, id: 77 }] },
        l4: { kind: 'raw', proto: 17, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv4-frag-first-tcp',
      p: buildPacket({
        l3: { ...v4, flags: 1, id: 99 },
        l4: { kind: 'tcp', sport: 1111, dport: 2222, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv4-frag-later',
      p: buildPacket({
        l3: { ...v4, flags: 0, fragOffset: 185, id: 99, proto: 6 },
        l4: { kind: 'raw', proto: 6, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'arp-request',
      p: buildPacket({
        eth: { dst: 'ff:ff:ff:ff:ff:ff' },
        l3: {
          kind: 'arp',
          op: 1,
          senderMac: '02:00:00:00:00:01',
          senderIp: '10.0.0.1',
          targetMac: '00:00:00:00:00:00',
          targetIp: '10.0.0.254',
        },
        padTo: 60,
      }),
    },
    {
      name: 'ipv4-icmp-echo',
      p: buildPacket({ l3: v4, l4: { kind: 'icmp', type: 8, code: 0, id: 0x1234, seq: 7, payload: PAYLOAD10 } }),
    },
    {
      name: 'ipv4-icmp-unreach',
      p: buildPacket({ l3: v4, l4: { kind: 'icmp', type: 3, code: 1, payload: PAYLOAD10 } }),
    },
    {
      name: 'ipv6-icmp6-echo',
      p: buildPacket({
        l3: { ...v6, hopLimit: 1 },
        l4: { kind: 'icmp6', type: 129, code: 0, id: 0xbeef, seq: 3, payload: PAYLOAD10 },
      }),
    },
    {
      name: 'ipv4-udp-nocsum',
      p: buildPacket({ l3: v4, l4: { kind: 'udp', sport: 9, dport: 9, payload: PAYLOAD10, noChecksum: true } }),
    },
    { name: 'ipv4-udp-padded', p: buildPacket({ l3: v4, l4: { kind: 'udp', sport: 67, dport: 68 }, padTo: 60 }) },
    { name: 'ipv4-gre', p: buildPacket({ l3: v4, l4: { kind: 'raw', proto: 47, payload: PAYLOAD10 } }) },
    { name: 'non-ip', p: buildPacket({ l3Raw: PAYLOAD10 }) },
  ];
}
