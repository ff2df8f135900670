/**
 * The 5-tuple that names a flow, and its hash.
 *
 * A FlowKey is a reusable, preallocated object: the packet view fills one per packet (no
 * allocation), the flow table and flow director compare and hash it. Addresses are kept as
 * 32-bit words so IPv4 and IPv6 share one layout and one hash loop.
 *
 * The symmetric hash is what spreads flows over NF instances: both directions of
 * a connection must land on the same instance. Each endpoint (address, port) is hashed on its
 * own and the two endpoint hashes are added, which is commutative; combining raw fields
 * commutatively instead (srcAddr ^ dstAddr, srcPort ^ dstPort) would make A:1 -> B:2 and
 * A:2 -> B:1 collide. Endpoints are hashed with odd-constant multiplies and a xorshift, and the
 * sum goes through MurmurHash3's finaliser (cut to 31 bits), all on 32-bit integers with Math.imul; no
 * ordering comparison is needed, so the hot path has no branches.
 *
 * Every method and function here is on the hot path and allocates nothing unless its comment
 * says `Allocates:` (the constructor, a setup step, allocates the key and its address array).
 */
import { formatIpv4, formatIpv6 } from './address.js';

/** Address family of a key: 0 = empty (not filled from an IP packet), 4, 6. */
export type FlowFamily = 0 | 4 | 6;

export class FlowKey {
  family: FlowFamily = 0;
  /** Upper-layer protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...). */
  proto = 0;
  /** Transport ports; 0 for protocols without ports and for IP fragments. */
  srcPort = 0;
  dstPort = 0;
  /**
   * addr[0..3] = source, addr[4..7] = destination, network order word by word. IPv4 uses
   * words 0 and 4 and keeps the others 0, so equals() and the hash need no family test.
   */
  readonly addr = new Uint32Array(8);

  /** A new IPv4 key (cold). Allocates: the FlowKey and its address array. */
  static ipv4(src: number, dst: number, proto: number, srcPort: number, dstPort: number): FlowKey {
    return new FlowKey().setIpv4(src, dst, proto, srcPort, dstPort);
  }

  /** A new IPv6 key from two 4-word addresses (cold). Allocates: the FlowKey and its address array. */
  static ipv6(
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    proto: number,
    srcPort: number,
    dstPort: number,
  ): FlowKey {
    return new FlowKey().setIpv6(src, dst, proto, srcPort, dstPort);
  }

  setIpv4(src: number, dst: number, proto: number, srcPort: number, dstPort: number): this {
    const a = this.addr;
    this.family = 4;
    this.proto = proto & 0xff;
    this.srcPort = srcPort & 0xffff;
    this.dstPort = dstPort & 0xffff;
    a[0] = src;
    a[1] = 0;
    a[2] = 0;
    a[3] = 0;
    a[4] = dst;
    a[5] = 0;
    a[6] = 0;
    a[7] = 0;
    return this;
  }

  setIpv6(src: ArrayLike<number>, dst: ArrayLike<number>, proto: number, srcPort: number, dstPort: number): this {
    const a = this.addr;
    this.family = 6;
    this.proto = proto & 0xff;
    this.srcPort = srcPort & 0xffff;
    this.dstPort = dstPort & 0xffff;
    for (let i = 0; i < 4; i++) {
      a[i] = src[i] ?? 0;
      a[4 + i] = dst[i] ?? 0;
    }
    return this;
  }

  /** Back to the empty key. */
  clear(): this {
    this.family = 0;
    this.proto = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.addr.fill(0);
    return this;
  }

  copyFrom(other: FlowKey): this {
    this.family = other.family;
    this.proto = other.proto;
    this.srcPort = other.srcPort;
    this.dstPort = other.dstPort;
    this.addr.set(other.addr);
    return this;
  }

  equals(other: FlowKey): boolean {
    if (
      this.family !== other.family ||
      this.proto !== other.proto ||
      this.srcPort !== other.srcPort ||
      this.dstPort !== other.dstPort
    )
      return false;
    const a = this.addr;
    const b = other.addr;
    for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Swap source and destination in place (the key of the reply direction). */
  reverse(): this {
    const a = this.addr;
    for (let i = 0; i < 4; i++) {
      const t = a[i]!;
      a[i] = a[4 + i]!;
      a[4 + i] = t;
    }
    const p = this.srcPort;
    this.srcPort = this.dstPort;
    this.dstPort = p;
    return this;
  }

  /**
   * e.g. `tcp 10.0.0.1:1234 -> 10.0.0.2:80`, `udp [2001:db8::1]:53 -> [2001:db8::2]:5353` (cold).
   * Allocates: the string.
   */
  toString(): string {
    if (this.family === 0) return 'flow(empty)';
    const name = PROTO_NAMES[this.proto] ?? `proto${this.proto}`;
    const a = this.addr;
    let src: string;
    let dst: string;
    if (this.family === 4) {
      src = formatIpv4(a[0]!);
      dst = formatIpv4(a[4]!);
    } else {
      src = `[${formatIpv6(a, 0)}]`;
      dst = `[${formatIpv6(a, 4)}]`;
    }
    if (this.proto === 6 || this.proto === 17 || this.proto === 132) {
      src += `:${this.srcPort}`;
      dst += `:${this.dstPort}`;
    }
    return `${name} ${src} -> ${dst}`;
  }
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

// ---------------------------------------------------------------------------------------------
// Hash

const SEED = 0x9e3779b9;

/**
 * MurmurHash3 finaliser (every input bit affects every output bit), cut to 31 bits: a
 * non-negative value below 2^31 is a small integer in V8, so returning it from a function that
 * is not inlined allocates nothing (a full unsigned 32-bit value above 2^31 would be boxed as a
 * heap number per packet), and `hash % n` is never negative.
 */
function fmix31(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

/** Seeds of the endpoint hash per family, so an IPv4 and an IPv6 endpoint never share a chain. */
export const FLOW_SEED4 = SEED;
export const FLOW_SEED6 = SEED ^ 6;

/**
 * Folds an IPv6 address (four words) into one word with odd multipliers and rotations: a
 * bijection in each word, so addresses differing in one word never collide, and the rotations
 * keep a flip of the same bit in two words from cancelling. A quarter of the work of mixing
 * each word.
 */
export function foldIpv6(w0: number, w1: number, w2: number, w3: number): number {
  return (
    (Math.imul(w0, 0x9e3779b1) +
      Math.imul((w1 << 5) | (w1 >>> 27), 0x85ebca77) +
      Math.imul((w2 << 11) | (w2 >>> 21), 0xc2b2ae3d) +
      Math.imul((w3 << 17) | (w3 >>> 15), 0x27d4eb2f)) |
    0
  );
}

/**
 * Hash of one endpoint: an IPv4 address (or a folded IPv6 one) and a port, with the family's
 * seed.
 */
export function endpointHash(seed: number, addr: number, port: number): number {
  // Three bijective steps (multiply by an odd constant, xorshift, multiply): for a given port
  // no two addresses collide, and the finaliser in combineEndpoints spreads every bit. Half
  // the cost of two MurmurHash3 block steps, which was a fifth of a packet's parse time.
  let h = Math.imul(addr ^ seed, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h ^ port, 0x85ebca77);
}

/**
 * Combines the source and destination endpoint hashes and the protocol into the flow hash.
 * Symmetric: the endpoints are added, so swapping them gives the same value; because each
 * endpoint is hashed with its own port first, A:1 -> B:2 and A:2 -> B:1 stay different.
 * Asymmetric: the order is kept.
 */
export function combineEndpoints(src: number, dst: number, proto: number, symmetric: boolean): number {
  const x = symmetric ? (src + dst) | 0 : Math.imul(src, 0x2545f491) ^ dst;
  return fmix31(x ^ Math.imul(proto + 1, 0x27d4eb2f));
}

/**
 * 31-bit non-negative hash of a key. With `symmetric`, a key and its reverse() hash the same.
 * PacketView.flowHash() returns hashFlowKey(key, true) of the packet's key (computed straight
 * from the packet on its fast path).
 */
export function hashFlowKey(key: FlowKey, symmetric: boolean): number {
  const a = key.addr;
  if (key.family === 6) {
    return combineEndpoints(
      endpointHash(FLOW_SEED6, foldIpv6(a[0]!, a[1]!, a[2]!, a[3]!), key.srcPort),
      endpointHash(FLOW_SEED6, foldIpv6(a[4]!, a[5]!, a[6]!, a[7]!), key.dstPort),
      key.proto,
      symmetric,
    );
  }
  return combineEndpoints(
    endpointHash(FLOW_SEED4, a[0]!, key.srcPort),
    endpointHash(FLOW_SEED4, a[4]!, key.dstPort),
    key.proto,
    symmetric,
  );
}
