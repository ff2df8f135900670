/**
 * The indirection table that picks a service's instance for a flow: BUCKETS words per service,
 * each holding an NF id. A packet goes to `buckets[flowHash & (BUCKETS - 1)]`.
 *
 * Why a table and not `hash % instances`: with a modulus, one instance leaving renumbers the
 * others and moves most flows. Here an instance that leaves gives only its own buckets away
 * (to the instances with the fewest), so every other flow stays where it is. An instance that
 * joins takes buckets one by one from the instances with the most, until it has its share.
 *
 * That would move the flows of the buckets it takes, so a join is made in a new affinity epoch
 * (instance-layout.ts EPOCHS): a copy of the tables with the join applied. The RX loop's flow
 * affinity (flow/affinity.ts) remembers the epoch each flow started in and writes it into every packet,
 * so flows that started before the join keep their instances; only new flows see the new
 * table. A leave is applied to every epoch's table.
 *
 * Only the manager writes the table; each bucket is one 32-bit word, so a reader sees the old or
 * the new owner, never a torn value. Cold code: run on joins and leaves.
 */
export const BUCKETS = 64;

function owned(words: Int32Array, base: number, id: number): number {
  let n = 0;
  for (let b = 0; b < BUCKETS; b++) if (words[base + b] === id) n++;
  return n;
}

/** `id` joins `members` (which already includes it): it takes buckets until it has its share. */
export function join(words: Int32Array, base: number, members: readonly number[], id: number): void {
  const share = Math.floor(BUCKETS / members.length);
  if (members.length === 1) {
    for (let b = 0; b < BUCKETS; b++) words[base + b] = id;
    return;
  }
  let mine = owned(words, base, id);
  while (mine < share) {
    // Take one bucket from the member that has the most.
    let richest = -1;
    let most = 0;
    for (const m of members) {
      if (m === id) continue;
      const n = owned(words, base, m);
      if (n > most) {
        most = n;
        richest = m;
      }
    }
    if (richest < 0 || most <= share) break;
    for (let b = BUCKETS - 1; b >= 0; b--) {
      if (words[base + b] === richest) {
        words[base + b] = id;
        break;
      }
    }
    mine++;
  }
}

/** `id` leaves; its buckets go to the `remaining` members with the fewest (0 when none remain). */
export function leave(words: Int32Array, base: number, remaining: readonly number[], id: number): void {
  for (let b = 0; b < BUCKETS; b++) {
    if (words[base + b] !== id) continue;
    let poorest = 0;
    let fewest = Infinity;
    for (const m of remaining) {
      const n = owned(words, base, m);
      if (n < fewest) {
        fewest = n;
        poorest = m;
      }
    }
    words[base + b] = poorest;
  }
}
