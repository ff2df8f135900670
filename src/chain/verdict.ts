/**
 * Verdicts: what an NF's handler returns for a packet, as OpenNetVM defines them.
 *
 *   DROP         free the buffer (counted)
 *   NEXT         follow the packet's service chain one hop on
 *   toNF(s)      send to service s (an instance chosen by the packet's flow hash)
 *   out(p)       send out of port p
 *
 * A verdict is one small integer (action in the low byte, destination above it), so handlers
 * return it without allocating. The same action/destination pair is what the packet's meta
 * (Meta.action / Meta.destination) records between hops.
 */
export const Action = {
  DROP: 0,
  NEXT: 1,
  TONF: 2,
  OUT: 3,
} as const;
export type Action = (typeof Action)[keyof typeof Action];
export const ACTION_NAMES = ['drop', 'next', 'tonf', 'out'] as const;

export const DROP = Action.DROP;
export const NEXT = Action.NEXT;

/** Send to service `service` (1..31). */
export function toNF(service: number): number {
  return Action.TONF | (service << 8);
}

/** Send out of port `port` (0..7). */
export function out(port: number): number {
  return Action.OUT | (port << 8);
}

/** A verdict's action (Action). V8 inlines it. */
export function verdictAction(v: number): number {
  return v & 0xff;
}

/** A verdict's destination: the service of toNF, the port of out. */
export function verdictDest(v: number): number {
  return v >>> 8;
}

/** Text form for logs and tests (cold). */
export function formatVerdict(v: number): string {
  const a = verdictAction(v);
  const name = ACTION_NAMES[a] ?? `action${a}`;
  return a === Action.TONF || a === Action.OUT ? `${name}(${verdictDest(v)})` : name;
}
