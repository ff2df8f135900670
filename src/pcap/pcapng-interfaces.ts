/**
 * A pcapng section's interface table, one entry per Interface Description Block in the order
 * the section describes them (link type, snaplen, timestamp units and offset), and the
 * conversion of a packet's 64-bit timestamp in its interface's units to seconds + nanoseconds.
 * PcapReader (pcap-reader.ts) parses the blocks, makes a table per section and fills it.
 *
 * Every method here is hot-path and allocation-free unless its comment says cold or
 * `Allocates:`.
 */

/** 2^32: the weight of the high word of a 64-bit count. */
export const TWO_32 = 0x1_0000_0000;
/** Up to this many units per second, (rem * 2^32 + low word) is exact in a double. */
const DIRECT_DIV_LIMIT = 1 << 21;
/** Up to this many units per second, dividing the low word in two 16-bit steps is exact. */
const CHUNKED_DIV_LIMIT = 2 ** 37;

/** Where a timestamp goes: the reader's record. */
type Stamp = { tsSec: number; tsNsec: number };

/** Per-section interface table (pcapng). Plain arrays: a section has a handful of entries. */
export class PcapngInterfaces {
  readonly linkType: number[] = [];
  readonly snaplen: number[] = [];
  /** Timestamp units per second (10^k or 2^k), exact as a double when under 2^53. */
  readonly units: number[] = [];
  /** units as a bigint, only for resolutions too fine for the double arithmetic. */
  readonly unitsBig: (bigint | null)[] = [];
  /** Nanoseconds = floor(rem * nsMul / nsDiv) where rem < units. */
  readonly nsMul: number[] = [];
  readonly nsDiv: number[] = [];
  /** if_tsoffset: seconds added to every timestamp. */
  readonly tsOffset: number[] = [];

  /**
   * Adds the next interface: its link type and snaplen, and its if_tsresol and if_tsoffset
   * option values (6 and 0 when absent). Cold. Allocates: the table's entries.
   */
  add(linkType: number, snaplen: number, tsresol: number, tsOffset: number): void {
    const binary = (tsresol & 0x80) !== 0;
    const exp = tsresol & 0x7f;
    const units = binary ? 2 ** exp : 10 ** exp;
    this.linkType.push(linkType);
    this.snaplen.push(snaplen);
    this.units.push(units);
    this.unitsBig.push(units < CHUNKED_DIV_LIMIT ? null : (binary ? 2n : 10n) ** BigInt(exp));
    if (binary) {
      // Exact while 2^exp * 1e9 < 2^53 (exp <= 23); finer binary clocks round within 1 ns.
      this.nsMul.push(1e9);
      this.nsDiv.push(units);
    } else if (exp <= 9) {
      this.nsMul.push(10 ** (9 - exp));
      this.nsDiv.push(1);
    } else {
      this.nsMul.push(1);
      this.nsDiv.push(10 ** (exp - 9));
    }
    this.tsOffset.push(tsOffset);
  }

  /**
   * Converts a 64-bit count (hi, lo) of interface ifId's time units to seconds + nanoseconds in
   * rec, without BigInt on the usual clocks: the high word is divided first, then the remainder
   * and the low word, in steps small enough to stay exact in a double.
   */
  setTimestamp(rec: Stamp, hi: number, lo: number, ifId: number): void {
    const units = this.units[ifId] ?? 1e6;
    let sec: number;
    let rem: number;
    if (units <= DIRECT_DIV_LIMIT) {
      const r1 = hi % units;
      const x = r1 * TWO_32 + lo; // < 2^53
      rem = x % units;
      sec = ((hi - r1) / units) * TWO_32 + (x - rem) / units;
    } else if (units < CHUNKED_DIV_LIMIT) {
      const r1 = hi % units;
      const x1 = r1 * 65536 + (lo >>> 16); // < 2^53
      const r2 = x1 % units;
      const x2 = r2 * 65536 + (lo & 0xffff);
      rem = x2 % units;
      sec = ((hi - r1) / units) * TWO_32 + ((x1 - r2) / units) * 65536 + (x2 - rem) / units;
    } else {
      this.setTimestampBig(rec, hi, lo, ifId);
      return;
    }
    const nsDiv = this.nsDiv[ifId] ?? 1;
    const scaled = rem * (this.nsMul[ifId] ?? 1);
    rec.tsSec = sec + (this.tsOffset[ifId] ?? 0);
    rec.tsNsec = nsDiv === 1 ? scaled : Math.floor(scaled / nsDiv);
  }

  /** Cold: clocks finer than 2^-37 s are rare enough to pay for BigInt. Allocates: BigInts. */
  private setTimestampBig(rec: Stamp, hi: number, lo: number, ifId: number): void {
    const units = this.unitsBig[ifId] ?? 1_000_000n;
    const ts = (BigInt(hi) << 32n) | BigInt(lo);
    rec.tsSec = Number(ts / units) + (this.tsOffset[ifId] ?? 0);
    rec.tsNsec = Number(((ts % units) * 1_000_000_000n) / units);
  }
}
