/**
 * Where the packet loops run (cold): the manager's RX and TX loops in one thread or two
 * (manager.dataplane), and which CPU each loop and each NF process is pinned to — the
 * topology's cores where it gives them, else, when there is a core for every loop, one each
 * (manager.placement "auto"). Also the checks and the log lines about it.
 * docs/architecture.md, "Scheduling on two cores".
 */
import { availableParallelism } from 'node:os';
import { NfcError } from '../errors.js';
import type { Topology } from '../topology/types.js';
import { describeCpus } from '../util/cpus.js';
import { topologyLaunches, type NfLaunch } from './launcher.js';

/** What the manager starts and where. */
export interface Placement {
  /** the RX and TX loops in two threads, or one */
  dataplane: 'split' | 'combined';
  /** CPUs of the RX loop (the combined loop) and of the TX loop; absent: not pinned */
  rx?: number[] | undefined;
  tx?: number[] | undefined;
  /** the NF processes to start: the topology's NFs and fused groups, with their CPUs */
  launches: (NfLaunch & { instances: number })[];
  /** the NF or fused group that runs inline, in the manager's (combined) loop */
  inline?: NfLaunch | undefined;
  /**
   * CPUs for the manager's main thread (control, supervision, stats) and the threads it starts,
   * away from the loops' when there are CPUs left and no NF process (which would inherit them);
   * absent: not pinned.
   */
  main?: number[] | undefined;
  /** lines for the log: what was decided and why */
  notes: string[];
}

/**
 * Whether the RX and TX loops run in one thread. 'auto' combines them when that gives every
 * packet loop a core of its own (RX and TX apart need one more than there is) and every input
 * port is one the RX loop polls on a timer anyway (gen, pcap). Measured on 2 cores (bench chain,
 * same sitting): 1 NF 2.75-4.09 Mpps combined against 2.47-3.37 split; 3 NFs fused 2.48-3.37
 * against 1.37-1.77. With more loops than cores even so, combining costs: 3 NF processes 1.0-1.33
 * Mpps combined against 1.30-1.91 split. A wire port (af_packet, af_xdp) wakes the RX loop the
 * moment a packet arrives, which a combined loop, asleep on the NFs' futex, could not: those keep
 * two threads.
 */
export function dataplaneMode(t: Topology, nfProcesses: number, cores: number): 'split' | 'combined' {
  const want = t.manager.dataplane ?? 'auto';
  if (want !== 'auto') return want;
  if (t.nfs.some((nf) => nf.inline)) return 'combined';
  const wire = t.ports.some((p) => p.driver === 'af_packet' || p.driver === 'af_xdp');
  return !wire && 2 + nfProcesses > cores && 1 + nfProcesses <= cores ? 'combined' : 'split';
}

/**
 * The placement of a topology on `cpus` (the CPUs this process may use). With no cores given
 * anywhere and a CPU for every loop, each loop gets its own, the manager's first: the kernel,
 * left alone, at times puts two busy loops on one core while the other idles (measured: the
 * demo's fused group and the manager's loop on one CPU for seconds, 120k packets dropped).
 */
export function placeLoops(t: Topology, cpus: readonly number[]): Placement {
  const all = topologyLaunches(t);
  const inline = all.find((l) => l.inline);
  const launches = all.filter((l) => !l.inline);
  const processes = launches.reduce((n, l) => n + l.instances, 0);
  const dataplane = dataplaneMode(t, processes, cpus.length);
  const mine = dataplane === 'combined' ? 1 : 2;
  const loops = mine + processes;
  const notes: string[] = [];
  if (dataplane === 'combined') {
    notes.push(
      `RX and TX run as one loop (manager.dataplane)${inline ? `, with ${inline.name} inline between them` : ''}`,
    );
  }
  const given =
    t.manager.cores?.rx !== undefined ||
    t.manager.cores?.tx !== undefined ||
    launches.some((l) => l.cores !== undefined);
  const base: Placement = {
    dataplane,
    rx: t.manager.cores?.rx,
    tx: dataplane === 'combined' ? t.manager.cores?.rx : t.manager.cores?.tx,
    launches,
    inline,
    notes,
  };
  if (loops > cpus.length) {
    notes.push(
      `${loops} packet loops (${mine === 1 ? 'RX+TX' : 'RX, TX'} and ${processes} NF process${processes === 1 ? '' : 'es'}) ` +
        `share ${cpus.length} core${cpus.length === 1 ? '' : 's'}: idle loops sleep (poll "adaptive") and the kernel places ` +
        `${given ? 'those without cores:' : 'them all;'} manager.cores and nfs[].cores pin them, nfs[].fuse runs NFs in one process (docs/topology.md)`,
    );
    return base;
  }
  if (given || (t.manager.placement ?? 'auto') === 'none') return base;
  // A CPU per loop: the manager's loops first, then each NF process in launch order.
  let next = 0;
  const take = (n: number): number[] => {
    const got = cpus.slice(next, next + n);
    next += n;
    return got;
  };
  const rx = take(1);
  const tx = dataplane === 'combined' ? rx : take(1);
  const placed = launches.map((l) => ({ ...l, cores: take(l.instances) }));
  // The main thread off the loops' CPUs: measured with ping through an inline bridge (busy), its
  // wake-ups on the loop's CPU made the tail: max 7.3 ms, 1.05 ms with it moved.
  const main = processes === 0 && next < cpus.length ? cpus.slice(next) : undefined;
  notes.push(
    `a core per loop: ${dataplane === 'combined' ? `RX+TX on CPU ${rx[0]}` : `RX on CPU ${rx[0]}, TX on CPU ${tx[0]}`}, ` +
      `${[...placed.map((l) => `${l.name} on CPU ${describeCpus(l.cores)}`), ...(main ? [`the manager's other threads on CPU ${describeCpus(main)}`] : [])].join(', ')} (manager.placement "auto")`,
  );
  return { dataplane, rx, tx, launches: placed, inline, main, notes };
}

/**
 * `poll: busy` spins every loop: with more spinning loops (the manager's and one per NF process)
 * than cores they wait for each other's time slices and latency collapses (16 ms pings measured
 * with 5 loops on 2 cores). Refused then, with the count and the fix.
 */
export function checkBusyPoll(
  poll: 'adaptive' | 'busy',
  nfInstances: number,
  cores = availableParallelism(),
  managerLoops = 2,
): void {
  const loops = managerLoops + nfInstances;
  if (poll === 'busy' && loops > cores) {
    throw new NfcError(
      'NFC_ERR_TOPOLOGY',
      `poll "busy" needs a core for each polling loop: this topology has ${loops} (${managerLoops === 1 ? 'RX+TX' : 'RX, TX'} and ${nfInstances} NF process${nfInstances === 1 ? '' : 'es'}) and this machine has ${cores} core${cores === 1 ? '' : 's'}`,
      {
        fix: 'use poll "adaptive" (the default: loops sleep when idle and wake on the first packet), fuse NFs into one process (nfs[].fuse), or fewer NF instances',
      },
    );
  }
}
