/**
 * The IPv4 header checks of a router (RFC 1812 5.2.2) that l3fwd and ip-router both make, on the
 * header at b[l3..end): long enough for a header, version 4, a header length of at least 20 bytes
 * inside the frame, a total length that covers the header and fits the frame. Returns
 * IPV4_OK or the first problem; the caller counts it its own way. Hot path: no allocation.
 */
export const IPV4_OK = 0;
export const IPV4_TRUNCATED = 1;
export const IPV4_BAD_VERSION = 2;
export const IPV4_BAD_HEADER_LENGTH = 3;
export const IPV4_BAD_LENGTH = 4;

export function ipv4HeaderProblem(b: Uint8Array, l3: number, end: number): number {
  if (l3 + 20 > end) return IPV4_TRUNCATED;
  const vihl = b[l3]!;
  if (vihl >>> 4 !== 4) return IPV4_BAD_VERSION;
  const hl = (vihl & 15) << 2;
  if (hl < 20) return IPV4_BAD_HEADER_LENGTH;
  if (l3 + hl > end) return IPV4_TRUNCATED;
  const total = (b[l3 + 2]! << 8) | b[l3 + 3]!;
  if (total < hl || l3 + total > end) return IPV4_BAD_LENGTH;
  return IPV4_OK;
}
