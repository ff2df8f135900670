/**
 * An HTTP server or client for the testbed tests, run inside a network namespace
 * (`ip netns exec <ns> node http-peer.js ...`): real TCP between two hosts through nfchain.
 *
 *   http-peer.js serve <ip> <port> <bytes>   serves GET /blob: <bytes> deterministic bytes, with
 *                                             their sha256 in the x-sha256 header; prints "ready"
 *   http-peer.js fetch <ip> <port>           downloads /blob; prints { bytes, sha256, expect, ms }
 */
import { createServer, get } from 'node:http';
import { createHash } from 'node:crypto';
import { mulberry32 } from '../../src/util/prng.js';

const [, , mode, ip, portS, bytesS] = process.argv;
const port = Number(portS);

function chunk(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(rnd(), i);
  return b;
}

if (mode === 'serve') {
  const total = Number(bytesS);
  const CH = 64 * 1024;
  // The hash first (same PRNG sequence), so the client can compare.
  const h = createHash('sha256');
  const r1 = mulberry32(7);
  for (let done = 0; done < total; done += CH) h.update(chunk(r1, Math.min(CH, total - done)));
  const sha = h.digest('hex');
  const server = createServer((req, res) => {
    if (req.url !== '/blob') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(total), 'x-sha256': sha });
    const rnd = mulberry32(7);
    let done = 0;
    const pump = (): void => {
      while (done < total) {
        const n = Math.min(CH, total - done);
        done += n;
        if (!res.write(chunk(rnd, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  server.listen(port, ip, () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'fetch') {
  const t0 = performance.now();
  get({ host: ip, port, path: '/blob', timeout: 60_000 }, (res) => {
    const h = createHash('sha256');
    let bytes = 0;
    res.on('data', (d: Buffer) => {
      bytes += d.length;
      h.update(d);
    });
    res.on('end', () => {
      process.stdout.write(
        `${JSON.stringify({ bytes, sha256: h.digest('hex'), expect: res.headers['x-sha256'], ms: performance.now() - t0 })}\n`,
      );
    });
  }).on('error', (err) => {
    process.stderr.write(`fetch failed: ${err.message}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: http-peer.js serve <ip> <port> <bytes> | fetch <ip> <port>\n');
  process.exit(2);
}
