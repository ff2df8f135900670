/**
 * Running a topology to its end inside a test (manager here, NFs as processes), and the
 * captures such tests feed in and read back.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runTopology } from '../../src/cli/start.js';
import type { Manager } from '../../src/manager/manager.js';
import type { ManagerStatus } from '../../src/protocol/messages.js';
import type { Topology } from '../../src/topology/types.js';
import { PcapReader } from '../../src/pcap/pcap-reader.js';
import { PcapWriter } from '../../src/pcap/pcap-writer.js';
import { PacketView } from '../../src/packet/packet-view.js';
import { synthFlow, writeSynth, SynthKind } from '../../src/ports/synth.js';

export interface RunToEnd {
  /** the status taken as the manager began to stop (every NF still registered) */
  status: ManagerStatus;
  /** buffers not back in the pool at the end */
  missing: number;
  /** the manager's and the NFs' log lines */
  logs: string[];
  /** NF processes that exited with an error */
  failed: string[];
}

/**
 * Runs `t` until its input is done and the chain drained (untilDone), every log line into
 * `logs`; checks that the shared files are gone afterwards.
 */
export async function runToEnd(
  t: Topology,
  o: { onRunning?: (m: Manager) => void; logs?: string[] } = {},
): Promise<RunToEnd> {
  const logs = o.logs ?? [];
  const r = await runTopology(t, {
    untilDone: true,
    signals: false,
    stats: null,
    log: (l) => logs.push(l),
    nfOutput: (l) => logs.push(l),
    ...(o.onRunning ? { onRunning: o.onRunning } : {}),
  });
  assert.equal(existsSync(`/dev/shm/nfchain-${t.name}`), false, 'shared files removed');
  return { status: r.manager.finalStatus as ManagerStatus, missing: r.manager.missingAtExit, logs, failed: r.failed };
}

/** The packets of a capture as sorted hex strings (a multiset to compare); none when there is no file. */
export function capturedPackets(path: string): string[] {
  if (!existsSync(path)) return [];
  return [...PcapReader.open(path)].map((p) => Buffer.from(p.data).toString('hex')).sort();
}

/** Writes `n` synthetic IPv4 UDP and TCP packets of `size(i)` bytes, one flow each, to a capture at `path`. */
export function writeSynthCapture(path: string, n: number, size: (i: number) => number): void {
  const buf = new ArrayBuffer(4096);
  const u8 = new Uint8Array(buf);
  const dv = new DataView(buf);
  const view = new PacketView(buf);
  const w = PcapWriter.create(path, { nanosecond: true });
  for (let i = 0; i < n; i++) {
    const len = writeSynth(dv, u8, view, 0, size(i), synthFlow(i, [SynthKind.IPV4_UDP, SynthKind.IPV4_TCP]));
    w.write(u8, 0, len, 1_700_000_000, i);
  }
  w.close();
}
