/**
 * NFs that run inline: an NF or a fused group driven by the manager's combined data-plane loop
 * (dataplane.ts), between the receive pass and the send pass. A packet is received, handled and
 * sent by one thread in one turn of its loop: no ring hand-off to another thread, no wake-up
 * (docs/architecture.md, "Inline NFs"). The NF keeps a slot like any other (its rx ring, held
 * table, counters), so routing, status and the buffer census treat it as any NF; what it does not
 * have is a process of its own: it starts and stops with the manager, and a throw in its handler
 * stops the manager's loop (it is trusted code).
 */
import type { PortDescription } from '../ports/port-info.js';
import type { InstanceView } from '../shm/instance.js';
import type { GroupMember } from '../protocol/messages.js';
import { loadNF } from '../nflib/load.js';
import { parseOptions } from '../nflib/define.js';
import { NfEngine, type MemberSpec } from '../nflib/engine.js';

/** What the data-plane thread needs to run the inline NF. */
export interface InlineConfig {
  /** its slot, given by the manager (Registry.registerInline) */
  nfId: number;
  /** the NF or group's name (logs) */
  name: string;
  /** every NF it runs, in order (one, or a fused group's members) */
  members: GroupMember[];
  /** where relative paths in the options are from */
  baseDir: string;
  /** chain names by id */
  chains: string[];
  /** the manager's ports, as NFs learn them */
  ports: PortDescription[];
}

/** Loads the NFs, checks their options, makes their instances (create/setup) and starts their ticks (cold). */
export async function startInline(
  cfg: InlineConfig,
  inst: InstanceView,
  out: (line: string) => void,
): Promise<NfEngine> {
  const members: MemberSpec[] = [];
  for (const m of cfg.members) {
    const def = await loadNF(m.module);
    members.push({
      def,
      options: parseOptions(def, m.options, `inline NF ${m.name} (${m.module})`) as Record<string, unknown>,
      service: m.service,
      name: m.name,
    });
  }
  const tag = `${cfg.name}#${cfg.nfId}`;
  const engine = new NfEngine({
    inst,
    nfId: cfg.nfId,
    members,
    // The loop that drives it polls; the engine neither sleeps nor yields.
    poll: 'busy',
    ttl: 0,
    limit: 0,
    log: (line) => out(`[${tag}] ${line}`),
    chains: cfg.chains,
    ports: cfg.ports,
    baseDir: cfg.baseDir,
  });
  await engine.setup();
  engine.startTimers();
  return engine;
}
