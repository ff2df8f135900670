/**
 * A UDP blaster for `bench ports`, run inside a testbed namespace
 * (`ip netns exec <ns> node blaster.js <ifname> <srcMac> <dstMac> <srcIp> <dstIp> <seconds> <size> [pps]`):
 * sends 64-byte (or <size>) UDP frames as fast as one core can with sendmmsg bursts through an
 * AF_PACKET socket (the nfchain addon), or at `pps` packets per second (bursts of 64 on a
 * schedule, sleeping in between: the background load of `bench latency`), and prints how many
 * the kernel took.
 */
import { native } from '../src/native.js';
import { PacketView } from '../src/packet/packet-view.js';
import { SynthKind, writeSynth } from '../src/ports/synth.js';

const [, , ifname, srcMac, dstMac, srcIp, dstIp, secondsS, sizeS, ppsS] = process.argv;
const pps = Number(ppsS ?? 0);
const seconds = Number(secondsS);
const size = Number(sizeS ?? 64);
const ip = (s: string): number => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
const BURST = 64;
const STRIDE = 2048;
const buf = new ArrayBuffer(BURST * STRIDE);
const u8 = new Uint8Array(buf);
const dv = new DataView(buf);
const view = new PacketView(buf);
const io = new Uint32Array(BURST * 3); // offset, length, offload word (0)
for (let i = 0; i < BURST; i++) {
  const off = i * STRIDE;
  const len = writeSynth(dv, u8, view, off, size, {
    kind: SynthKind.IPV4_UDP,
    src: ip(srcIp!),
    dst: ip(dstIp!),
    srcPort: 10000 + i,
    dstPort: 9,
  });
  const macs = [dstMac!, srcMac!].map((m) => m.split(':').map((x) => parseInt(x, 16)));
  u8.set(macs[0]!, off);
  u8.set(macs[1]!, off + 6);
  io[i * 3] = off;
  io[i * 3 + 1] = len;
}
const h = native().afpOpen(ifname!, 2048, 64, false, false);
let sent = 0;
const end = performance.now() + seconds * 1000;
if (pps > 0) {
  // Paced: burst k leaves at start + k * BURST / pps; in between, sleep (not spin: the load must
  // not take a core from what it loads).
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  for (let k = 0; ; k++) {
    const at = start + (k * BURST * 1000) / pps;
    if (at >= end) break;
    const wait = at - performance.now();
    if (wait > 0.05) Atomics.wait(nap, 0, 0, wait);
    sent += native().afpTxBurst(h, buf, io, BURST);
  }
} else {
  while (performance.now() < end) {
    for (let k = 0; k < 64; k++) sent += native().afpTxBurst(h, buf, io, BURST);
  }
}
native().afpClose(h);
process.stdout.write(`${sent}\n`);
