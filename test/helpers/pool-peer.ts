/**
 * A child process for the cross-process pool test: allocates and frees buffers of a shared
 * pool through its own PoolCache in seeded random bursts, holding up to `hold` buffers at a
 * time. Each allocated buffer is claimed with a compareExchange on its meta word user0 (0 →
 * our id), and released (id → 0) before freeing: if two processes ever held the same buffer,
 * a claim fails and is reported. At the end the cache is flushed.
 *
 *   pool-peer.js <dir> <file> <id> <iterations> <seed> <hold> <cacheCapacity>
 */
import { ShmDir } from '../../src/shm/shm-file.js';
import { PacketPool } from '../../src/shm/pool.js';
import { PoolCache } from '../../src/shm/pool-cache.js';
import { Meta } from '../../src/shm/pool-layout.js';
import { mulberry32 } from '../../src/util/prng.js';

const [, , dirName, file, idS, itersS, seedS, holdS, cacheS] = process.argv;
const buf = ShmDir.open(dirName!).openFile(file!);
const pool = new PacketPool(buf, 4096);
const cache = new PoolCache(pool, { capacity: Number(cacheS) });
const id = Number(idS);
const rnd = mulberry32(Number(seedS));
const hold = Number(holdS);
const words = new Int32Array(pool.words.buffer, pool.words.byteOffset, pool.words.length);
const START = new Int32Array(buf, 0, 16);

const held = new Uint32Array(hold + 64);
let nHeld = 0;
const burst = new Uint32Array(64);
let claimErrors = 0;
let shortAllocs = 0;
let allocated = 0;
let firstError = '';

Atomics.add(START, 0, 1);
while (Atomics.load(START, 8) === 0);

for (let it = 0; it < Number(itersS); it++) {
  const want = 1 + (rnd() % 32);
  if (nHeld + want <= hold) {
    const got = cache.alloc(burst, want);
    if (got < want) shortAllocs++;
    for (let i = 0; i < got; i++) {
      const d = burst[i]!;
      if (pool.length(d) !== 0 || pool.meta(d, Meta.dataOff) !== pool.defaultDataOff) {
        claimErrors++;
        if (!firstError) firstError = `buffer ${d} allocated with stale meta`;
      }
      const seen = Atomics.compareExchange(words, pool.metaIndex(d) + Meta.user0, 0, id);
      if (seen !== 0) {
        claimErrors++;
        if (!firstError) firstError = `buffer ${d} allocated while held by process ${seen}`;
      }
      pool.setLength(d, 60 + (d & 1023));
      held[nHeld++] = d;
    }
    allocated += got;
  }
  const k = Math.min(nHeld, 1 + (rnd() % 32));
  // Free a random-ish slice: the last k held.
  for (let i = 0; i < k; i++) {
    const d = held[nHeld - k + i]!;
    if (Atomics.compareExchange(words, pool.metaIndex(d) + Meta.user0, id, 0) !== id) {
      claimErrors++;
      if (!firstError) firstError = `buffer ${d} changed owner while held`;
    }
    burst[i] = d;
  }
  cache.free(burst, k);
  nHeld -= k;
}
for (let i = 0; i < nHeld; i++) {
  Atomics.compareExchange(words, pool.metaIndex(held[i]!) + Meta.user0, id, 0);
}
cache.free(held, nHeld);
cache.flush();
process.stdout.write(`${JSON.stringify({ id, allocated, claimErrors, shortAllocs, firstError })}\n`);
