/**
 * `nfchain testbed up|down|topology`: makes, removes and describes the network-namespace
 * testbed (src/testbed/testbed.ts, docs/testbed.md); one function per verb, of its parsed command
 * line (flags: table.ts). Loads nothing of the manager: it only shells out to ip, sysctl and ethtool.
 */
import { NfcError } from '../errors.js';
import type { Parsed } from '../util/args.js';
import {
  checkOffloads,
  describeTestbed,
  testbedDown,
  testbedStatus,
  testbedTopology,
  testbedUp,
  TESTBED_MTU,
  TESTBED_OFFLOADS,
  TESTBED_PREFIX,
} from '../testbed/testbed.js';
import type { TESTBED_DOWN_FLAGS, TESTBED_TOPOLOGY_FLAGS, TESTBED_UP_FLAGS } from './table.js';

function checkName(name: string, usage: string): string {
  if (!/^[a-z0-9]{1,8}$/.test(name)) {
    throw new NfcError(
      'NFC_ERR_USAGE',
      `--name ${name}: use 1-8 of a-z 0-9 (interface names are at most 15 characters)`,
      { fix: usage },
    );
  }
  return name;
}

/** Commands with a comment each, the comments aligned. */
function commented(lines: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(...lines.map(([c]) => c.length));
  return lines.map(([c, why]) => `  ${c.padEnd(w)}   # ${why}`);
}

export async function testbedTopologyCommand(p: Parsed<typeof TESTBED_TOPOLOGY_FLAGS>, usage: string): Promise<number> {
  process.stdout.write(testbedTopology(describeTestbed(checkName(p.values.name, usage)), { driver: p.values.driver }));
  return 0;
}

export async function testbedDownCommand(p: Parsed<typeof TESTBED_DOWN_FLAGS>, usage: string): Promise<number> {
  const name = checkName(p.values.name, usage);
  const r = testbedDown(name);
  const what = [...r.links.map((l) => `link ${l}`), ...r.namespaces.map((n) => `namespace ${n}`)];
  process.stdout.write(
    what.length ? `testbed ${name}: removed ${what.join(', ')}\n` : `testbed ${name}: nothing to remove\n`,
  );
  return 0;
}

export async function testbedUpCommand(p: Parsed<typeof TESTBED_UP_FLAGS>, usage: string): Promise<number> {
  const name = checkName(p.values.name, usage);
  const { driver, ipv6 } = p.values;
  const offloads = checkOffloads(p.values.offloads);
  const out = (s: string): void => {
    process.stdout.write(s);
  };
  const before = testbedStatus(name, { ipv6, offloads });
  const tb = testbedUp(name, { ipv6, offloads });
  const how = before.complete
    ? 'already up; left as it was'
    : before.exists
      ? `was half made (${before.problems.join('; ')}); removed and made again`
      : 'created';
  const nameOpt = name === 'nfc' ? '' : ` --name ${name}`;
  const driverOpt = driver === 'af_packet' ? '' : ` --driver ${driver}`;
  out(
    [
      `testbed ${name}: ${how}`,
      `  namespace ${tb.nsA}: eth0 ${tb.ipA}/${TESTBED_PREFIX} ${tb.macA}  <-veth->  ${tb.ifA} (root namespace, no address)`,
      `  namespace ${tb.nsB}: eth0 ${tb.ipB}/${TESTBED_PREFIX} ${tb.macB}  <-veth->  ${tb.ifB} (root namespace, no address)`,
      `  MTU ${TESTBED_MTU}; IPv6 off on ${tb.ifA} and ${tb.ifB}${ipv6 ? ', on in the namespaces' : ' and in the namespaces'}; ` +
        (offloads === 'off'
          ? `offloads (${TESTBED_OFFLOADS.join(', ')}) off on all four ends`
          : "offloads at the kernel's defaults (checksum offload, TSO, GSO on), as on real hosts"),
      `Nothing joins ${tb.ifA} and ${tb.ifB}: A reaches B only when nfchain forwards between them.`,
      '',
      'Use it:',
      ...commented([
        [`nfchain testbed topology${nameOpt}${driverOpt} > tb.yaml`, 'the topology below, as a file'],
        ['nfchain start tb.yaml', 'bridge the two veths through the bridge NF'],
        [`ip netns exec ${tb.nsA} ping ${tb.ipB}`, 'in another terminal: A to B through nfchain'],
        [`ip netns exec ${tb.nsB} tcpdump -ni eth0`, 'what reaches B'],
        [`nfchain testbed down${nameOpt}`, 'remove it all'],
      ]),
      '',
      'tb.yaml:',
      testbedTopology(tb, { driver }),
    ].join('\n'),
  );
  return 0;
}
