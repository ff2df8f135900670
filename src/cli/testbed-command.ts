/**
 * `nfchain testbed up|down|topology`: makes, removes and describes the network-namespace
 * testbed (src/testbed/testbed.ts, docs/testbed.md). Loads nothing of the manager: it only
 * shells out to ip, sysctl and ethtool.
 */
import { NfcError } from '../errors.js';
import { parseArgs, type Flags } from './args.js';
import {
  checkOffloads, describeTestbed, testbedDown, testbedStatus, testbedTopology, testbedUp,
  TESTBED_MTU, TESTBED_OFFLOADS, TESTBED_PREFIX, type TestbedDriver,
} from '../testbed/testbed.js';
import { TESTBED_USAGE } from './usage.js';

const BOOL_FLAGS = ['ipv6'];
const FLAGS_BY_ACTION: Record<string, readonly string[]> = {
  up: ['name', 'driver', 'ipv6', 'offloads'],
  down: ['name'],
  topology: ['name', 'driver'],
};

function parse(argv: readonly string[]): Flags {
  return parseArgs(argv, BOOL_FLAGS);
}

function driverFlag(flags: Map<string, string>): TestbedDriver {
  const d = flags.get('driver') ?? 'af_packet';
  if (d !== 'af_packet' && d !== 'af_xdp') {
    throw new NfcError('NFC_ERR_USAGE', `--driver takes af_packet or af_xdp, got ${d}`, { fix: TESTBED_USAGE });
  }
  return d;
}

function nameFlag(flags: Map<string, string>): string {
  const name = flags.get('name') ?? 'nfc';
  if (!/^[a-z0-9]{1,8}$/.test(name)) {
    throw new NfcError('NFC_ERR_USAGE', `--name ${name}: use 1-8 of a-z 0-9 (interface names are at most 15 characters)`, { fix: TESTBED_USAGE });
  }
  return name;
}

/** Commands with a comment each, the comments aligned. */
function usage(lines: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(...lines.map(([c]) => c.length));
  return lines.map(([c, why]) => `  ${c.padEnd(w)}   # ${why}`);
}

export async function testbedCommand(argv: string[]): Promise<number> {
  const f = parse(argv);
  const action = f.positional[0];
  if (action === undefined || !(action in FLAGS_BY_ACTION) || f.positional.length > 1) {
    throw new NfcError('NFC_ERR_USAGE', action === undefined ? 'say up, down or topology'
      : f.positional.length > 1 ? `unexpected argument "${f.positional[1]}"` : `unknown testbed action "${action}"`, { fix: TESTBED_USAGE });
  }
  const known = FLAGS_BY_ACTION[action]!;
  for (const k of f.flags.keys()) {
    if (!known.includes(k)) throw new NfcError('NFC_ERR_USAGE', `testbed ${action} takes no --${k}`, { fix: TESTBED_USAGE });
  }
  const name = nameFlag(f.flags);
  const out = (s: string): void => { process.stdout.write(s); };

  if (action === 'topology') {
    out(testbedTopology(describeTestbed(name), { driver: driverFlag(f.flags) }));
    return 0;
  }

  if (action === 'down') {
    const r = testbedDown(name);
    const what = [...r.links.map((l) => `link ${l}`), ...r.namespaces.map((n) => `namespace ${n}`)];
    out(what.length ? `testbed ${name}: removed ${what.join(', ')}\n` : `testbed ${name}: nothing to remove\n`);
    return 0;
  }

  // up
  const driver = driverFlag(f.flags);
  const ipv6 = f.flags.has('ipv6');
  const offloads = checkOffloads(f.flags.get('offloads'));
  const before = testbedStatus(name, { ipv6, offloads });
  const tb = testbedUp(name, { ipv6, offloads });
  const how = before.complete ? 'already up; left as it was'
    : before.exists ? `was half made (${before.problems.join('; ')}); removed and made again` : 'created';
  const nameOpt = name === 'nfc' ? '' : ` --name ${name}`;
  const driverOpt = driver === 'af_packet' ? '' : ` --driver ${driver}`;
  out([
    `testbed ${name}: ${how}`,
    `  namespace ${tb.nsA}: eth0 ${tb.ipA}/${TESTBED_PREFIX} ${tb.macA}  <-veth->  ${tb.ifA} (root namespace, no address)`,
    `  namespace ${tb.nsB}: eth0 ${tb.ipB}/${TESTBED_PREFIX} ${tb.macB}  <-veth->  ${tb.ifB} (root namespace, no address)`,
    `  MTU ${TESTBED_MTU}; IPv6 off on ${tb.ifA} and ${tb.ifB}${ipv6 ? ', on in the namespaces' : ' and in the namespaces'}; ` +
      (offloads === 'off' ? `offloads (${TESTBED_OFFLOADS.join(', ')}) off on all four ends`
        : 'offloads at the kernel\'s defaults (checksum offload, TSO, GSO on), as on real hosts'),
    `Nothing joins ${tb.ifA} and ${tb.ifB}: A reaches B only when nfchain forwards between them.`,
    '',
    'Use it:',
    ...usage([
      [`nfchain testbed topology${nameOpt}${driverOpt} > tb.yaml`, 'the topology below, as a file'],
      ['nfchain start tb.yaml', 'bridge the two veths through the bridge NF'],
      [`ip netns exec ${tb.nsA} ping ${tb.ipB}`, 'in another terminal: A to B through nfchain'],
      [`ip netns exec ${tb.nsB} tcpdump -ni eth0`, 'what reaches B'],
      [`nfchain testbed down${nameOpt}`, 'remove it all'],
    ]),
    '',
    'tb.yaml:',
    testbedTopology(tb, { driver }),
  ].join('\n'));
  return 0;
}
