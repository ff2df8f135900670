/**
 * The probe of `bench latency`, run inside a testbed namespace:
 *
 *   ip netns exec <ns> node latency-probe.js <ifname> <srcMac> <dstMac> <srcIp> <dstIp> <count> <intervalUs>
 *
 * Sends `count` ICMP echo requests to dstIp, one every `intervalUs`, from an AF_PACKET socket
 * (the nfchain addon) and takes each reply's receive time from the kernel's frame timestamp
 * (TPACKET_V2 tp_sec/tp_nsec, stamped when the frame reached the socket), so the probe's own
 * wake-up is not in the figure: RTT = kernel receive stamp of the reply − the clock just before
 * the request's sendmmsg. The far host's kernel answers the echo itself (no process there).
 * Prints one JSON line: { sent, received, rttUs: [...] } (µs, in send order; lost ones absent).
 */
import { native } from '../src/native.js';
import { internetChecksum, ipv4HeaderChecksum } from '../src/packet/checksum.js';

const [, , ifname, srcMac, dstMac, srcIp, dstIp, countS, intervalS] = process.argv;
const count = Number(countS);
const intervalMs = Number(intervalS) / 1000;
const mac = (s: string): number[] => s.split(':').map((x) => parseInt(x, 16));
const ip = (s: string): number => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);

const LEN = 14 + 20 + 8 + 16;
const buf = new ArrayBuffer(4096 + 64 * 2048);
const u8 = new Uint8Array(buf);
const dv = new DataView(buf);
const ID = process.pid & 0xffff;

/** The echo request `seq` at byte 0 of buf. */
function request(seq: number): void {
  u8.set(mac(dstMac!), 0);
  u8.set(mac(srcMac!), 6);
  dv.setUint16(12, 0x0800);
  dv.setUint8(14, 0x45);
  dv.setUint8(15, 0);
  dv.setUint16(16, LEN - 14);
  dv.setUint16(18, seq & 0xffff);
  dv.setUint16(20, 0x4000);
  dv.setUint8(22, 64);
  dv.setUint8(23, 1);
  dv.setUint16(24, 0);
  dv.setUint32(26, ip(srcIp!));
  dv.setUint32(30, ip(dstIp!));
  dv.setUint16(24, ipv4HeaderChecksum(dv, 14));
  dv.setUint8(34, 8);
  dv.setUint8(35, 0);
  dv.setUint16(36, 0);
  dv.setUint16(38, ID);
  dv.setUint16(40, seq & 0xffff);
  for (let i = 42; i < LEN; i++) u8[i] = i;
  dv.setUint16(36, internetChecksum(dv, 34, LEN - 34));
}

const h = native().afpOpen(ifname!, 2048, 256, true, false);
const fds = new Int32Array([native().afpFd(h)]);
const txIo = new Uint32Array([0, LEN, 0]);
// afpRxBurst's io: the header (8 words + 4 jumbo slots of 2), then 6 words per frame.
const RX_BASE = 16;
const rxIo = new Uint32Array(RX_BASE + 64 * 6);
const sentAt = new Float64Array(count);

/**
 * realtime (ms) − performance.now(): the kernel stamps frames with CLOCK_REALTIME, and
 * performance.timeOrigin is only ms-exact. Found at Date.now()'s ms edges, where the realtime
 * clock is a whole ms: an edge lies between the previous Date.now() call and this one, so each
 * edge seen within 2 µs gives the offset to about a µs; the median of several is taken.
 */
function realtimeOffset(): number {
  const got: number[] = [];
  for (let tries = 0; got.length < 9 && tries < 200; tries++) {
    const d0 = Date.now();
    let prevBefore = performance.now();
    for (;;) {
      const before = performance.now();
      const d = Date.now();
      const after = performance.now();
      if (d !== d0) {
        if (after - prevBefore < 0.002) got.push(d - (prevBefore + after) / 2);
        break;
      }
      prevBefore = before;
    }
  }
  got.sort((x, y) => x - y);
  return got[got.length >> 1] ?? Date.now() - performance.now();
}
const offset = realtimeOffset();
const rtt = new Float64Array(count).fill(-1);
const nap = new Int32Array(new SharedArrayBuffer(4));

/** Reads every waiting frame; records replies to our requests. */
function drain(): void {
  for (;;) {
    for (let i = 0; i < 64; i++) {
      rxIo[RX_BASE + i * 6] = 4096 + i * 2048;
      rxIo[RX_BASE + i * 6 + 1] = 2048;
    }
    const n = native().afpRxBurst(h, buf, rxIo, 64);
    for (let i = 0; i < n; i++) {
      const p = RX_BASE + i * 6;
      const o = rxIo[p]!;
      if (rxIo[p + 1]! < 42 || dv.getUint16(o + 12) !== 0x0800 || dv.getUint8(o + 23) !== 1) continue;
      const l4 = o + 14 + (dv.getUint8(o + 14) & 15) * 4;
      if (dv.getUint8(l4) !== 0 || dv.getUint16(l4 + 4) !== ID) continue;
      const seq = dv.getUint16(l4 + 6);
      const k = seq + Math.floor((sentCount - 1 - seq) / 65536) * 65536;
      if (k < 0 || k >= count || rtt[k]! >= 0) continue;
      const rxMs = rxIo[p + 2]! * 1000 + rxIo[p + 3]! / 1e6;
      rtt[k] = (rxMs - sentAt[k]!) * 1000;
    }
    if (n < 64) return;
  }
}

let sentCount = 0;
const t0 = performance.now();
for (let k = 0; k < count; k++) {
  const at = t0 + k * intervalMs;
  // Until the next send: wait for frames (the kernel wakes poll), reading what comes.
  for (;;) {
    const left = at - performance.now();
    if (left <= 0) break;
    if (native().pollIn(fds, 1, Math.max(0, Math.floor(left))) > 0) drain();
    else if (left < 1) Atomics.wait(nap, 0, 0, left);
  }
  request(k);
  sentAt[k] = performance.now() + offset;
  native().afpTxBurst(h, buf, txIo, 1);
  sentCount = k + 1;
  drain();
}
// The last replies: up to 200 ms.
const end = performance.now() + 200;
while (performance.now() < end) {
  if (native().pollIn(fds, 1, 20) > 0) drain();
}
native().afpClose(h);
const got = Array.from(rtt)
  .filter((x) => x >= 0)
  .map((x) => Number(x.toFixed(1)));
process.stdout.write(`${JSON.stringify({ sent: count, received: got.length, rttUs: got })}\n`);
