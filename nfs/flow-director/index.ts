/**
 * flow-director: decides a chain for each new flow and pins it in the manager's flow director,
 * so the flow's later packets go straight down that chain and never come here again — after
 * OpenNetVM's test_flow_dir. Put it first in the default chain: packets of flows no rule and no
 * pin has claimed (misses) arrive here; the flow gets its chain by transport port, and the
 * packet itself goes on along that chain (ctx.setFlowChain moves it, the verdict is NEXT).
 *
 * The map (`map: "53=dns,80=web,443=web"`) is compiled, per instance, into a 65536-entry table of
 * chain id + 1, looked up with the destination port and then the source port (so a reply
 * matches as well as a request). A flow no entry matches is pinned to `fallback` when one is
 * given; else it is left alone and goes on along the default chain (NEXT), and its next packet
 * comes here again. Each instance's table and counters live in what create() makes.
 */
import { defineNF, IpProto, NEXT, NfcError } from 'nfchain';

/** Counters (indices into `counters`). */
export const Stat = {
  /** flows pinned to a chain */
  pinned: 0,
  /** packets no entry matched and with no fallback: left on the default chain */
  unmatched: 1,
  /** packets without a 5-tuple (not IPv4/IPv6): left on the default chain */
  noFlow: 2,
  /** pins the manager's inbox had no room for: retried with the flow's next packet */
  inboxFull: 3,
} as const;

const TCP = IpProto.TCP,
  UDP = IpProto.UDP,
  SCTP = 132;

/**
 * Parses "port=chain,port-port=chain,..." into a table of chain id + 1 by transport port (0: no
 * entry). Cold; allocates the table. Errors name the entry and the fix.
 */
export function compileMap(map: string, chainId: (name: string) => number, known: readonly string[]): Uint8Array {
  const byPort = new Uint8Array(65536);
  if (map.trim() === '') return byPort;
  for (const raw of map.split(',')) {
    const entry = raw.trim();
    const m = /^(\d+)(?:-(\d+))?=([a-z0-9][a-z0-9_-]*)$/.exec(entry);
    if (!m) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `flow-director: map entry "${entry}" is not PORT=CHAIN or PORT-PORT=CHAIN`,
        {
          fix: 'e.g. map: "53=dns,80=web,8000-8099=web"',
        },
      );
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > 65535 || hi > 65535 || hi < lo) {
      throw new NfcError('NFC_ERR_NF_OPTION', `flow-director: map entry "${entry}": ports are 0..65535, low to high`);
    }
    const id = chainId(m[3]!);
    if (id < 0) {
      throw new NfcError('NFC_ERR_NF_OPTION', `flow-director: map entry "${entry}": no chain named "${m[3]}"`, {
        fix: `chains of this manager: ${known.join(', ')} (define them under chains: in the topology)`,
      });
    }
    byPort.fill(id + 1, lo, hi + 1);
  }
  return byPort;
}

export default defineNF({
  name: 'flow-director',
  description: 'pins each new flow to a chain chosen by its transport port (OpenNetVM test_flow_dir)',
  counters: {
    pinned: 'flows pinned to a chain',
    unmatched: 'packets no map entry matched, with no fallback: left on the default chain',
    noFlow: 'packets without a 5-tuple (not IPv4/IPv6): left on the default chain',
    inboxFull: "pins the manager's inbox had no room for (retried with the flow's next packet)",
  },
  options: {
    map: {
      type: 'string',
      default: '',
      help: 'PORT=CHAIN or LOW-HIGH=CHAIN entries, comma-separated; the destination port is tried first, then the source port',
    },
    fallback: {
      type: 'string',
      default: '',
      help: 'chain for flows no entry matches; empty: leave them on the default chain',
    },
  },

  /** Cold: one instance: the port table (unknown chains are refused here, before any packet) and counters. */
  create(ctx) {
    const byPort = compileMap(ctx.options.map, (n) => ctx.chainId(n), ctx.chains);
    const fallback = ctx.options.fallback === '' ? -1 : ctx.chainId(ctx.options.fallback);
    if (ctx.options.fallback !== '' && fallback < 0) {
      throw new NfcError(
        'NFC_ERR_NF_OPTION',
        `flow-director: fallback chain "${ctx.options.fallback}" does not exist`,
        {
          fix: "name a chain from the topology's chains:, or leave fallback empty",
        },
      );
    }
    /** the declared counters, by Stat index */
    const counters = [ctx.counter('pinned'), ctx.counter('unmatched'), ctx.counter('noFlow'), ctx.counter('inboxFull')];
    const pinned = counters[Stat.pinned]!;
    const unmatched = counters[Stat.unmatched]!;
    const noFlow = counters[Stat.noFlow]!;
    const inboxFull = counters[Stat.inboxFull]!;
    return {
      /** Picks the flow's chain and pins it. Hot path: allocation only when a flow is pinned. */
      handle(pkt, ctx) {
        const proto = pkt.ipProtocol;
        let chain = -1;
        if (proto === TCP || proto === UDP || proto === SCTP) {
          const e = byPort[pkt.dstPort]! || byPort[pkt.srcPort]!;
          if (e !== 0) chain = e - 1;
        }
        if (chain < 0) chain = fallback;
        if (chain < 0) {
          unmatched.add();
          return NEXT;
        }
        const r = ctx.setFlowChain(chain);
        if (r === 'ok') pinned.add();
        else if (r === 'ring-full') inboxFull.add();
        else noFlow.add();
        return NEXT;
      },

      /** Cold: one line of counts. */
      stop(ctx) {
        ctx.log(
          `flow-director: ${pinned.value} flows pinned, ${unmatched.value} packets unmatched, ` +
            `${noFlow.value} without a flow, ${inboxFull.value} pins retried`,
        );
      },

      /** A copy of the counters by name (cold; for tests). */
      stats(): Record<keyof typeof Stat, number> {
        return {
          pinned: pinned.value,
          unmatched: unmatched.value,
          noFlow: noFlow.value,
          inboxFull: inboxFull.value,
        };
      },
    };
  },
});
