/**
 * The packets a PcapReader (pcap-reader.ts) hands out: PcapRecord, the one record `next()`
 * refills per packet, whose bytes are a window of the reader's buffer; ReusedRecord, the
 * reader's implementation of it, whose `data` view is made lazily so that `next()` allocates
 * nothing; and PcapPacket, the copy the reader's iterator yields.
 *
 * Nothing here allocates unless its comment says `Allocates:`.
 */

/** One packet as `next()` returns it. Owned by the reader: fields change on the next call. */
export interface PcapRecord {
  /** Seconds since the epoch (pcapng: after applying the interface's if_tsoffset). */
  readonly tsSec: number;
  /** Nanoseconds within the second, 0..999 999 999, whatever the file's resolution. */
  readonly tsNsec: number;
  /** Bytes present in the file for this packet. */
  readonly capLen: number;
  /** Length of the packet on the wire (may exceed capLen when the capture was truncated). */
  readonly origLen: number;
  /** LINKTYPE_* of the packet's interface (1 = Ethernet). */
  readonly linkType: number;
  /** pcapng interface id within its section; 0 for classic pcap and SPB. */
  readonly interfaceId: number;
  /** The reader's buffer; the packet is bytes[offset, offset + capLen). Valid until next(). */
  readonly bytes: Uint8Array;
  readonly offset: number;
  /** View of the packet bytes, valid until next(). Made on first access per record. */
  readonly data: Uint8Array;
}

/** A packet copied out of the reader, as the iterator yields it (cold code and tests). */
export interface PcapPacket {
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  linkType: number;
  interfaceId: number;
  data: Uint8Array;
}

/** The reader's reusable record; `data` is lazy so that `next()` allocates nothing. */
export class ReusedRecord implements PcapRecord {
  tsSec = 0;
  tsNsec = 0;
  capLen = 0;
  origLen = 0;
  linkType = 0;
  interfaceId = 0;
  bytes: Uint8Array;
  offset = 0;
  view: Uint8Array | null = null;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Allocates: the view, on first access per record. */
  get data(): Uint8Array {
    if (this.view === null) this.view = this.bytes.subarray(this.offset, this.offset + this.capLen);
    return this.view;
  }
}
