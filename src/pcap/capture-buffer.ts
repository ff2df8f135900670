/**
 * A capture file opened for reading and its one reusable buffer: CaptureBuffer, the base class
 * of PcapReader (pcap-reader.ts parses the formats). It owns the file descriptor, the buffer and
 * the byte positions in both; it reads the file in chunks with positional `fs.readSync`
 * (fill), grows the buffer only when a single record is larger than it, and makes the format
 * errors that name the file and the byte offset.
 *
 *   buf  ┌───────────────────┬─────────────────────────┬───────────────────────┐
 *        │ parsed            │ read, not yet parsed    │ free                  │
 *        └───────────────────┴─────────────────────────┴───────────────────────┘
 *        0                   head                      tail                    buf.length
 *        buf[i] is byte bufFilePos + i of the file; fill() reads at bufFilePos + tail
 *
 * Every method here is hot-path and allocation-free unless its comment says cold or
 * `Allocates:`.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { NfcError } from '../errors.js';

/** The file and buffer half of a PcapReader (see the file comment). */
export abstract class CaptureBuffer {
  readonly path: string;

  protected fd: number;
  protected buf: Uint8Array;
  protected dv: DataView;
  /** File offset of buf[0]. */
  protected bufFilePos = 0;
  /** Next unread byte in buf. */
  protected head = 0;
  /** End of the valid bytes in buf. */
  protected tail = 0;
  protected readonly fileSize: number;

  /** Cold. Allocates: the buffer (bufferSize bytes) and its DataView. */
  protected constructor(path: string, fd: number, bufferSize: number) {
    if (!Number.isInteger(bufferSize) || bufferSize < 64) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `PcapReader: bufferSize must be an integer >= 64, got ${bufferSize}`);
    }
    this.path = path;
    this.fd = fd;
    this.buf = new Uint8Array(bufferSize);
    this.dv = new DataView(this.buf.buffer);
    try {
      this.fileSize = fstatSync(fd).size;
    } catch (cause) {
      throw new NfcError('NFC_ERR_PCAP_IO', `${path}: cannot stat capture: ${errText(cause)}`, { cause });
    }
  }

  /** Closes the file; further next() calls throw. Idempotent. Cold. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch (cause) {
      throw new NfcError('NFC_ERR_PCAP_IO', `${this.path}: cannot close capture: ${errText(cause)}`, { cause });
    }
  }

  /**
   * Makes at least `need` unread bytes available at buf[head]; false if the file ends first.
   * Moves the unread tail to the front when the buffer's end is reached, and grows the buffer
   * only when `need` exceeds it. Allocates: when it grows, the larger buffer, its DataView and
   * the view it copies the unread bytes from.
   */
  protected fill(need: number): boolean {
    if (this.tail - this.head >= need) return true;
    if (this.buf.length - this.head < need) {
      const unread = this.tail - this.head;
      if (this.buf.length < need) {
        let size = this.buf.length * 2;
        while (size < need) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.buf.subarray(this.head, this.tail));
        this.buf = grown;
        this.dv = new DataView(grown.buffer);
      } else {
        this.buf.copyWithin(0, this.head, this.tail);
      }
      this.bufFilePos += this.head;
      this.head = 0;
      this.tail = unread;
    }
    while (this.tail - this.head < need) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, this.tail, this.buf.length - this.tail, this.bufFilePos + this.tail);
      } catch (cause) {
        throw new NfcError(
          'NFC_ERR_PCAP_IO',
          `${this.path}: byte ${this.bufFilePos + this.tail}: read failed: ${errText(cause)}`,
          { cause },
        );
      }
      if (n === 0) return false;
      this.tail += n;
    }
    return true;
  }

  /** The NFC_ERR_PCAP_FORMAT error for the file at byte `offset`. Allocates: the error (error paths only). */
  protected formatError(offset: number, what: string): NfcError {
    return new NfcError('NFC_ERR_PCAP_FORMAT', `${this.path}: byte ${offset}: ${what}`);
  }
}

/** The message of a caught error (error paths only). */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Closes fd, ignoring errors: for a reader whose opening already failed. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing with a better error.
  }
}
