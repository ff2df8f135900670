/**
 * The chain table in the instance file: one owner for its encoding. Chain c is
 * [length, hop × MAX_HOPS] at `inst.chainWord(c)`; a hop word is `kind << 16 | id`, kind
 * HopKind.SERVICE (id: a service) or HopKind.PORT (id: a port index). The manager writes it,
 * the routers read it per packet (router.ts decodes with hopKind/hopId, which V8 inlines).
 */
import type { InstanceView } from '../shm/instance.js';
import { HopKind } from '../shm/instance-layout.js';

export interface Hop {
  kind: 'service' | 'port';
  /** a service id, or a port index */
  id: number;
}

/** A hop as the table's word. */
export function hopWord(h: Hop): number {
  return ((h.kind === 'service' ? HopKind.SERVICE : HopKind.PORT) << 16) | (h.id & 0xffff);
}

/** The kind of a hop word (HopKind). Hot path. */
export function hopKind(word: number): number {
  return word >>> 16;
}

/** The service id or port index of a hop word. Hot path. */
export function hopId(word: number): number {
  return word & 0xffff;
}

/**
 * Writes chain `c` while traffic may flow: a shorter length first, then the hops, then the
 * length, so a packet reading it meanwhile sees the old hop or the new one at each position and
 * never reads past the end. Other chains are not touched (cold).
 */
export function writeChain(inst: InstanceView, c: number, hops: readonly Hop[]): void {
  const i32 = inst.i32;
  const cw = inst.chainWord(c);
  if (hops.length < i32[cw]!) Atomics.store(i32, cw, hops.length);
  hops.forEach((h, i) => {
    i32[cw + 1 + i] = hopWord(h);
  });
  Atomics.store(i32, cw, hops.length);
}

/** The hops of chain `c` (cold). */
export function readChain(inst: InstanceView, c: number): Hop[] {
  const i32 = inst.i32;
  const cw = inst.chainWord(c);
  const out: Hop[] = [];
  for (let i = 0, n = Atomics.load(i32, cw); i < n; i++) {
    const w = i32[cw + 1 + i]!;
    out.push({ kind: hopKind(w) === HopKind.SERVICE ? 'service' : 'port', id: hopId(w) });
  }
  return out;
}
