/**
 * Child process for the futex test: maps the shared file, announces itself in word 1, blocks
 * in futexWait on word 0 (expected 0) and prints the result and how long it waited.
 *
 *   futex-peer.js <dir> <file> <timeoutMs>
 */
import { ShmDir } from '../../src/shm/shm-file.js';
import { native } from '../../src/native.js';

const [, , dirName, file, timeoutS] = process.argv;
const w = new Int32Array(ShmDir.open(dirName!).openFile(file!), 0, 16);
Atomics.store(w, 1, 1);
const t0 = performance.now();
const r = native().futexWait(w, 0, 0, Number(timeoutS));
process.stdout.write(`${JSON.stringify({ result: r, ms: performance.now() - t0, value: Atomics.load(w, 0) })}\n`);
