/**
 * Scaling a service while traffic flows (cold): starting instances like the service's others,
 * or retiring the newest ones. Requests run one after another, so a second one sees the
 * instances the first one started.
 */
import type { EventType } from '../protocol/messages.js';
import type { EventFields } from './events.js';
import { NfcError } from '../errors.js';
import { send } from '../control/socket.js';
import type { ScaleResult } from '../protocol/messages.js';
import { MAX_INSTANCES, MAX_SERVICES } from '../shm/instance-layout.js';
import type { Topology } from '../topology/types.js';
import type { NfLauncher, NfLaunch } from './launcher.js';
import type { Registry } from './registry.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long new instances have to come into service (ms). */
export const SCALE_WAIT_MS = 30_000;

export interface ScalerHost {
  readonly topo: Topology;
  readonly registry: Registry;
  readonly launcher: NfLauncher;
  /** what each service's instances run (from the topology, or from a registering NF) */
  readonly launches: Map<number, NfLaunch>;
  readonly stoppingNow: boolean;
  log(line: string): void;
  event(type: EventType, message: string, fields?: EventFields): void;
}

export class Scaler {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: ScalerHost) {}

  /**
   * Runs `n` instances of a service (an id, or the name of an NF in the topology): starts
   * processes like the service's others, or retires the newest instances (out of service at
   * once, so their flows move to the others; then asked to stop, draining what they hold).
   * New instances take only flows that start from now on, unless `rebalance`: then they take
   * their share of the buckets at once, existing flows included (for NFs without flow state).
   * Resolves once the new instances are in service; rejects naming the reason.
   */
  scale(service: number | string, n: number, rebalance = false): Promise<ScaleResult> {
    const next = this.queue.then(() => this.scaleNow(service, n, rebalance));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A service id from an id or the name of an NF (the topology's, or one that registered). */
  private serviceOf(service: number | string): number {
    if (typeof service === 'number' || /^\d+$/.test(service)) return Number(service);
    const { topo, launches } = this.host;
    const nf = topo.nfs.find((x) => x.name === service) ?? [...launches.values()].find((x) => x.name === service);
    if (!nf) {
      throw new NfcError('NFC_ERR_NOT_FOUND', `no NF or service named "${service}"`, {
        fix: 'give a service id or the name of an NF (nfchain status lists them)',
      });
    }
    return nf.service;
  }

  private async scaleNow(service: number | string, n: number, rebalance: boolean): Promise<ScaleResult> {
    const { registry, launcher } = this.host;
    const shuttingDown = (): NfcError => new NfcError('NFC_ERR_NOT_RUNNING', 'the manager is shutting down');
    if (this.host.stoppingNow) throw shuttingDown();
    const svc = this.serviceOf(service);
    if (!Number.isInteger(svc) || svc < 1 || svc >= MAX_SERVICES) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `service ${svc} is out of range 1..${MAX_SERVICES - 1}`);
    }
    if (!Number.isInteger(n) || n < 0 || n > MAX_INSTANCES) {
      throw new NfcError('NFC_ERR_INVALID_ARG', `${n} instances: a service has 0..${MAX_INSTANCES}`);
    }
    const have = registry.instances(svc);
    const before = have.length;
    if (have.some((e) => e.inline)) {
      throw new NfcError('NFC_ERR_SCALE', `service ${svc} runs inline, in the manager's loop: it has one instance`, {
        fix: 'to scale it, run it as processes (remove inline from the topology)',
      });
    }
    const retired: number[] = [];
    const started: number[] = [];
    if (n < before) {
      // The newest first: the instances that hold the fewest long-lived flows.
      for (const e of have.sort((a, b) => b.nfId - a.nfId).slice(0, before - n)) {
        e.retired = true;
        registry.takeOutOfService(e);
        if (e.conn) send(e.conn.sock, { type: 'stop', reason: 'retired (scaled down)' });
        retired.push(e.nfId);
      }
      this.host.event(
        'nf-scaled',
        `service ${svc}: ${before} → ${n} instances (retired ${retired.map((id) => `#${id}`).join(', ')})`,
        { service: svc, detail: { before, after: n, retired } },
      );
    } else if (n > before) {
      const launch = this.host.launches.get(svc);
      if (!launch) {
        throw new NfcError('NFC_ERR_SCALE', `service ${svc} has no NF to start more of`, {
          fix: "put it in the topology's nfs, or start one by hand first (nfchain nf MODULE --service N)",
        });
      }
      const known = new Set(registry.nfs.keys());
      const failedBefore = launcher.failed.length;
      for (let k = before; k < n; k++) launcher.start(launch);
      const end = Date.now() + SCALE_WAIT_MS;
      if (rebalance) registry.rebalancing.add(svc);
      try {
        for (;;) {
          const fresh = [...registry.nfs.values()].filter(
            (e) => e.services.includes(svc) && !known.has(e.nfId) && e.inService,
          );
          if (fresh.length >= n - before) {
            started.push(...fresh.map((e) => e.nfId));
            break;
          }
          if (launcher.failed.length > failedBefore) {
            throw new NfcError(
              'NFC_ERR_NF',
              `scaling service ${svc}: NF ${launcher.failed.slice(failedBefore).join(', ')} failed to start (see its output)`,
            );
          }
          if (Date.now() > end)
            throw new NfcError(
              'NFC_ERR_NF',
              `scaling service ${svc}: new instances did not come up within ${SCALE_WAIT_MS / 1000} s`,
            );
          if (this.host.stoppingNow) throw shuttingDown();
          await sleep(10);
        }
      } finally {
        registry.rebalancing.delete(svc);
      }
      this.host.event(
        'nf-scaled',
        `service ${svc}: ${before} → ${n} instances (started ${started.map((id) => `#${id}`).join(', ')})`,
        { service: svc, detail: { before, after: n, started } },
      );
    }
    return { service: svc, before, instances: registry.instances(svc).length, started, retired };
  }
}
