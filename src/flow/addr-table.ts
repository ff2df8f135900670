/**
 * AddrTable: a fixed-capacity table keyed by one IPv4 or IPv6 address, with `columns` f64
 * counters per entry, in typed arrays. The NFD-family detectors (udp-flood, syn-flood,
 * dns-amplification, super-spreader, and heavy-hitter's report) count per victim or per
 * source with it.
 *
 * Design: open addressing with linear probing over a power-of-two number of slots, at most 3/4
 * full (`capacity` entries), so a probe always ends at an empty slot. Entries are never removed
 * one by one: a detector's table holds one time window and is emptied with clear() when the
 * window closes, which visits only the used slots (kept in insertion order in `used`), so no
 * tombstones and a slot index stays valid for the whole window. An add that finds the table
 * full returns -1 and counts in `full`: nothing throws.
 *
 * Hot path (find*, add*, srcSlot, dstSlot, col access): no allocation. The platform's FlowTable
 * (src/flow) is keyed by a 5-tuple and fills a FlowKey per lookup; an address key hashes one
 * word (IPv4) straight from the packet.
 */
import { NfcError } from '../errors.js';
import { formatIpv4, formatIpv6 } from '../packet/address.js';
import type { PacketView } from '../packet/packet-view.js';

/** Most entries a table may hold (2^22 entries: 2^23 slots). */
export const MAX_ADDR_CAPACITY = 4 * 1024 * 1024;

/** 31-bit hash of an IPv4 address (multiply-xorshift: a bijection before the mask). */
function hash4(a: number): number {
  let h = Math.imul(a ^ 0x2c1b3c6d, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x7fffffff;
}

/** 31-bit hash of an IPv6 address given as four words. */
function hash6(w0: number, w1: number, w2: number, w3: number): number {
  const f =
    Math.imul(w0, 0x9e3779b1) +
    Math.imul((w1 << 5) | (w1 >>> 27), 0x85ebca77) +
    Math.imul((w2 << 11) | (w2 >>> 21), 0xc2b2ae3d) +
    Math.imul((w3 << 17) | (w3 >>> 15), 0x27d4eb2f);
  return hash4(f ^ 0x6a09e667);
}

export class AddrTable {
  /** most entries held at once */
  readonly capacity: number;
  /** slots (a power of two, > capacity / 0.75) */
  readonly slots: number;
  /** f64 counters per entry: entry `s`'s column `c` is cols[s * columns + c] */
  readonly columns: number;
  readonly cols: Float64Array;
  /** per slot: 0 = empty, 4 or 6 */
  readonly family: Uint8Array;
  /** per slot: four address words (IPv4: word 0) */
  readonly keys: Uint32Array;
  /** used slots, in the order they were added: used[0..count) */
  readonly used: Int32Array;
  /** entries in the table */
  count = 0;
  /** adds refused because the table was full (since it was made; clear() keeps it) */
  full = 0;
  private readonly mask: number;
  private readonly w = new Uint32Array(4);

  /** Cold. Allocates: (4 + 4×4 + 8×columns) bytes per slot. `what` names it in errors. */
  constructor(capacity: number, columns: number, what = 'address table') {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_ADDR_CAPACITY) {
      throw new NfcError(
        'NFC_ERR_INVALID_ARG',
        `${what}: capacity ${capacity} is not a whole number in 1..${MAX_ADDR_CAPACITY}`,
      );
    }
    const slots = Math.max(8, 2 ** Math.ceil(Math.log2(Math.floor(capacity / 0.75) + 1)));
    this.capacity = capacity;
    this.slots = slots;
    this.mask = slots - 1;
    this.columns = columns;
    this.cols = new Float64Array(slots * Math.max(columns, 0));
    this.family = new Uint8Array(slots);
    this.keys = new Uint32Array(slots * 4);
    this.used = new Int32Array(capacity);
  }

  /** The slot of IPv4 address `a` (u32), adding it when `add`; -1 if absent (or full). */
  slot4(a: number, add: boolean): number {
    const fam = this.family;
    const keys = this.keys;
    const mask = this.mask;
    let i = hash4(a) & mask;
    for (;;) {
      const f = fam[i];
      if (f === 0) return add ? this.insert(i, 4, a, 0, 0, 0) : -1;
      if (f === 4 && keys[i << 2] === a) return i;
      i = (i + 1) & mask;
    }
  }

  /** The slot of an IPv6 address (four network-order words), adding it when `add`; -1 if absent (or full). */
  slot6(w0: number, w1: number, w2: number, w3: number, add: boolean): number {
    const fam = this.family;
    const keys = this.keys;
    const mask = this.mask;
    let i = hash6(w0, w1, w2, w3) & mask;
    for (;;) {
      const f = fam[i];
      if (f === 0) return add ? this.insert(i, 6, w0, w1, w2, w3) : -1;
      const k = i << 2;
      if (f === 6 && keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3) return i;
      i = (i + 1) & mask;
    }
  }

  /** The slot of the packet's source address (IPv4 or IPv6), adding it when `add`; -1 if not IP, absent or full. */
  srcSlot(pkt: PacketView, add: boolean): number {
    const v = pkt.ipVersion;
    if (v === 4) return this.slot4(pkt.ipv4Src, add);
    if (v !== 6) return -1;
    const w = this.w;
    pkt.ipv6Src(w);
    return this.slot6(w[0]!, w[1]!, w[2]!, w[3]!, add);
  }

  /** The slot of the packet's destination address, adding it when `add`; -1 if not IP, absent or full. */
  dstSlot(pkt: PacketView, add: boolean): number {
    const v = pkt.ipVersion;
    if (v === 4) return this.slot4(pkt.ipv4Dst, add);
    if (v !== 6) return -1;
    const w = this.w;
    pkt.ipv6Dst(w);
    return this.slot6(w[0]!, w[1]!, w[2]!, w[3]!, add);
  }

  /** Adds (or finds) the address of `other`'s slot `s` here; its slot, or -1 when full. */
  copyKey(other: AddrTable, s: number): number {
    return this.slotOf(other, s, true);
  }

  /** The slot here of the address in `other`'s slot `s`, or -1 if absent. */
  findKey(other: AddrTable, s: number): number {
    return this.slotOf(other, s, false);
  }

  private slotOf(other: AddrTable, s: number, add: boolean): number {
    const k = other.keys;
    const b = s << 2;
    return other.family[s] === 4 ? this.slot4(k[b]!, add) : this.slot6(k[b]!, k[b + 1]!, k[b + 2]!, k[b + 3]!, add);
  }

  /** Empties the table: O(entries × columns), not O(slots). `full` is kept. */
  clear(): void {
    const used = this.used;
    const fam = this.family;
    const cols = this.cols;
    const c = this.columns;
    const keys = this.keys;
    for (let j = 0; j < this.count; j++) {
      const s = used[j]!;
      fam[s] = 0;
      keys[s << 2] = 0;
      keys[(s << 2) + 1] = 0;
      keys[(s << 2) + 2] = 0;
      keys[(s << 2) + 3] = 0;
      if (c > 0) cols.fill(0, s * c, s * c + c);
    }
    this.count = 0;
  }

  /** The address in slot `s` as text (cold). Allocates: the string. */
  address(s: number): string {
    return this.family[s] === 4 ? formatIpv4(this.keys[s << 2]!) : formatIpv6(this.keys, s << 2);
  }

  private insert(i: number, fam: 4 | 6, w0: number, w1: number, w2: number, w3: number): number {
    if (this.count >= this.capacity) {
      this.full++;
      return -1;
    }
    const k = i << 2;
    this.family[i] = fam;
    this.keys[k] = w0;
    this.keys[k + 1] = w1;
    this.keys[k + 2] = w2;
    this.keys[k + 3] = w3;
    this.used[this.count++] = i;
    return i;
  }
}
