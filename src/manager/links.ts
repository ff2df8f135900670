/**
 * The ports' link state, for NFs (ctx.ports[i].up) and the log: read from the kernel once a
 * second (ports/port-info.ts readLink) into each port's PortRxCounters.link gauge; a change is
 * logged. Cold.
 */
import type { PortConfig } from '../ports/config.js';
import { readLink } from '../ports/port-info.js';
import { CounterSet, LINK_DOWN, LINK_UP, PortRxCounters } from '../shm/instance-layout.js';
import type { InstanceView } from '../shm/instance.js';

export class PortLinks {
  private readonly last: boolean[];

  constructor(
    private readonly ports: readonly PortConfig[],
    private readonly inst: InstanceView,
    private readonly log: (line: string) => void,
    /** a change after the first read: the port, its link now, the line logged */
    private readonly changed: (port: string, up: boolean, line: string) => void = (_p, _u, l) => this.log(l),
  ) {
    this.last = ports.map(() => true);
    this.check(true);
  }

  /** Reads every port's link and writes the gauges; logs what changed (`quiet`: the first read). */
  check(quiet = false): void {
    this.ports.forEach((cfg, i) => {
      const up = readLink(cfg);
      this.inst.counters.set(CounterSet.portRx(i))[PortRxCounters.link] = up ? LINK_UP : LINK_DOWN;
      if (up !== this.last[i] && !quiet) this.changed(cfg.name, up, `port ${cfg.name}: link ${up ? 'up' : 'down'}`);
      if (quiet && !up) this.log(`port ${cfg.name}: link down at start`);
      this.last[i] = up;
    });
  }
}
