/**
 * The manager's data-plane threads (cold): the RX and TX loops (dataplane.ts) run in worker
 * threads; this starts them, passes them flow rules, asks the RX loop for its flow table, and
 * stops them — RX first (no new packets), then TX (it sends what is left).
 */
import { Worker } from 'node:worker_threads';
import { NfcError } from '../errors.js';
import type { FlowTableStats, MetricDecl } from '../protocol/messages.js';
import type { FlowRule } from '../flow/director.js';
import type { DataplaneConfig, WorkerReport } from './dataplane.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Role = DataplaneConfig['role'];

export interface LoopEvents {
  log(line: string): void;
  /** a line of an inline NF's output */
  nfOutput(line: string): void;
  /** every input port is finished (after `packets` packets) */
  rxDone(packets: number): void;
  /** a loop failed after it started */
  failed(role: Role): void;
}

export class Loops {
  private readonly workers: { worker: Worker; role: Role; stopped: Promise<void> }[] = [];

  constructor(private readonly on: LoopEvents) {}

  /** Starts one loop; resolves when it is ready, rejects (NFC_ERR_LOOP) when it cannot start. */
  start(
    cfg: DataplaneConfig,
  ): Promise<{ metrics: MetricDecl[]; latency: boolean; options: Record<string, unknown> } | undefined> {
    const role = cfg.role;
    const worker = new Worker(new URL('./dataplane.js', import.meta.url), {
      workerData: { nfchainDataplane: true, cfg },
    });
    let stoppedResolve: () => void = () => {};
    const stopped = new Promise<void>((r) => {
      stoppedResolve = r;
    });
    this.workers.push({ worker, role, stopped });
    return new Promise((resolve, reject) => {
      worker.on('message', (r: WorkerReport) => {
        switch (r.type) {
          case 'ready':
            if (r.pinsRestored > 0) this.on.log(`takeover: ${r.pinsRestored} flow pins restored`);
            resolve(r.nf);
            break;
          case 'error':
            reject(new NfcError('NFC_ERR_LOOP', `${role} loop: ${r.message}`));
            break;
          case 'stopped':
            stoppedResolve();
            break;
          case 'rx-done':
            this.on.rxDone(r.packets);
            break;
          case 'nf-output':
            this.on.nfOutput(r.line);
            break;
        }
      });
      worker.on('error', (err) => {
        this.on.log(`${role} loop failed: ${err.stack ?? err.message}`);
        reject(err);
        this.on.failed(role);
      });
      worker.on('exit', () => stoppedResolve());
    });
  }

  /** Sends flow rules to the RX loop, which swaps them in between two bursts. */
  pushFlows(rules: FlowRule[]): void {
    for (const w of this.workers) if (w.role !== 'tx') w.worker.postMessage({ type: 'flows', rules });
  }

  /** The RX loop's flow table and affinity counts (undefined if it does not answer within 1 s). */
  flowStats(): Promise<FlowTableStats | undefined> {
    const rx = this.workers.find((w) => w.role !== 'tx');
    if (!rx) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        rx.worker.off('message', on);
        resolve(undefined);
      }, 1000);
      const on = (r: WorkerReport): void => {
        if (r.type !== 'flow-stats') return;
        clearTimeout(t);
        rx.worker.off('message', on);
        resolve(r.stats);
      };
      rx.worker.on('message', on);
      rx.worker.postMessage({ type: 'flow-stats' });
    });
  }

  /** Stops every loop: RX first (no new packets), then TX (it sends what is left). */
  async stopAll(): Promise<void> {
    for (const role of ['rx', 'rxtx', 'tx'] as const) {
      for (const w of this.workers.filter((x) => x.role === role)) {
        w.worker.postMessage({ type: 'stop' });
        await Promise.race([w.stopped, sleep(3000)]);
        await w.worker.terminate();
      }
    }
    this.workers.length = 0;
  }
}
