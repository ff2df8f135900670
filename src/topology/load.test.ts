/**
 * Tests for the topology loader: a YAML file and its JSON twin load to the same Topology
 * (defaults filled, paths resolved, hops resolved); then one invalid file per kind of mistake,
 * each asserting NFC_ERR_TOPOLOGY and the exact wording, path and line of its message.
 *
 * Fixtures are written inline (so each shows the line its error names) into a temporary
 * directory, with empty NF module files and an empty capture beside them: the loader only
 * checks that those files exist, it does not read them.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfcError } from '../errors.js';
import { didYouMean, loadTopology, validateTopology } from './load.js';
import { BUILT_IN_TOPOLOGY, type Topology } from './types.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nfchain-topology-'));
  mkdirSync(join(dir, 'nfs'));
  writeFileSync(join(dir, 'nfs', 'monitor.ts'), '');
  writeFileSync(join(dir, 'nfs', 'bridge.mjs'), '');
  writeFileSync(join(dir, 'in.pcap'), '');
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` as `name` in the test directory; returns its path. */
function fixture(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/**
 * Asserts that loading `text` (as `name`) fails with NFC_ERR_TOPOLOGY and a message matching
 * `re`. Messages name the file as it was given (here an absolute path in the temporary
 * directory); the directory is cut from the message before matching so that patterns read
 * `name.yaml:3: ...`.
 */
function assertInvalid(name: string, text: string, re: RegExp): NfcError {
  const path = fixture(name, text);
  let caught: unknown;
  assert.throws(
    () => loadTopology(path),
    (err: unknown) => {
      caught = err;
      return true;
    },
  );
  assert.ok(caught instanceof NfcError, `expected NfcError, got ${String(caught)}`);
  assert.equal(caught.code, 'NFC_ERR_TOPOLOGY');
  assert.match(caught.message.replaceAll(`${dir}/`, ''), re);
  return caught;
}

/** The smallest valid topology, for tests that change one thing; 5 lines. */
const MINIMAL = `ports:
  - { name: in, driver: gen }
nfs:
  - { name: monitor, module: nfs/monitor.ts, service: 1 }
chain: [monitor]
`;

describe('valid topologies', () => {
  const yaml = `# a demo topology
name: demo
pool: { count: 8192, dataRoom: 2048 }
manager: { ttl: 10, poll: busy }
ports:
  - { name: in, driver: gen, rate: 1000, sizes: [64, 1500], tcp: 0.5 }
  - { name: cap, driver: pcap, rx: in.pcap, tx: out.pcap, speed: realtime }
  - { name: sink, driver: null }
nfs:
  - name: monitor
    module: nfs/monitor.ts
    service: 1
    options: { interval: 2 }
  - name: bridge
    module: ./nfs/bridge.mjs
    service: 2
    instances: 2
chain: [monitor, 2, "port:sink"]
`;
  const json = JSON.stringify(
    {
      name: 'demo',
      pool: { count: 8192, dataRoom: 2048 },
      manager: { ttl: 10, poll: 'busy' },
      ports: [
        { name: 'in', driver: 'gen', rate: 1000, sizes: [64, 1500], tcp: 0.5 },
        { name: 'cap', driver: 'pcap', rx: 'in.pcap', tx: 'out.pcap', speed: 'realtime' },
        { name: 'sink', driver: 'null' },
      ],
      nfs: [
        { name: 'monitor', module: 'nfs/monitor.ts', service: 1, options: { interval: 2 } },
        { name: 'bridge', module: './nfs/bridge.mjs', service: 2, instances: 2 },
      ],
      chain: ['monitor', 2, 'port:sink'],
    },
    null,
    2,
  );

  const expected = (file: string): Topology => ({
    file,
    name: 'demo',
    pool: { count: 8192, dataRoom: 2048, headroom: 128, jumbos: 256 },
    rings: { nfRx: 4096, nfTx: 4096 },
    manager: {
      ttl: 10,
      limit: 0,
      statsInterval: 1,
      poll: 'busy',
      dataplane: 'auto',
      placement: 'auto',
      flowTable: 65536,
      flowIdleTimeout: 30,
      stallTimeout: 5,
    },
    ports: [
      { name: 'in', driver: 'gen', rate: 1000, sizes: [64, 1500], flows: 1024, tcp: 0.5, seed: 1, count: 0 },
      {
        name: 'cap',
        driver: 'pcap',
        rx: join(dir, 'in.pcap'),
        tx: join(dir, 'out.pcap'),
        speed: 'realtime',
        loop: false,
      },
      { name: 'sink', driver: 'null' },
    ],
    nfs: [
      { name: 'monitor', module: join(dir, 'nfs', 'monitor.ts'), service: 1, instances: 1, options: { interval: 2 } },
      { name: 'bridge', module: join(dir, 'nfs', 'bridge.mjs'), service: 2, instances: 2, options: {} },
    ],
    groups: [],
    chain: [
      { kind: 'service', service: 1 },
      { kind: 'service', service: 2 },
      { kind: 'port', port: 2 },
    ],
    chains: [],
    flows: [],
  });

  test('YAML: defaults filled, paths and hops resolved, `driver: null` unquoted is the null driver', () => {
    const path = fixture('demo.yaml', yaml);
    assert.deepEqual(loadTopology(path), expected(path));
  });

  test('the equivalent JSON loads to the same Topology', () => {
    const yamlTopo = loadTopology(fixture('same.yaml', yaml));
    const jsonPath = fixture('same.json', json);
    const jsonTopo = loadTopology(jsonPath);
    assert.deepEqual(jsonTopo, expected(jsonPath));
    assert.deepEqual({ ...jsonTopo, file: '' }, { ...yamlTopo, file: '' });
  });

  test('a file with another extension is read as YAML', () => {
    const path = fixture('demo.topo', yaml);
    assert.deepEqual(loadTopology(path), expected(path));
  });

  test('the minimal topology gets every default', () => {
    const t = loadTopology(fixture('minimal.yaml', MINIMAL));
    assert.equal(t.name, 'default');
    assert.deepEqual(t.pool, { count: 16384, dataRoom: 2048, headroom: 128, jumbos: 256 });
    assert.deepEqual(t.rings, { nfRx: 4096, nfTx: 4096 });
    assert.deepEqual(t.manager, {
      ttl: 0,
      limit: 0,
      statsInterval: 1,
      poll: 'adaptive',
      dataplane: 'auto',
      placement: 'auto',
      flowTable: 65536,
      flowIdleTimeout: 30,
      stallTimeout: 5,
    });
    assert.deepEqual(t.groups, []);
    assert.deepEqual(t.ports, [
      { name: 'in', driver: 'gen', rate: 0, sizes: [64], flows: 1024, tcp: 0, seed: 1, count: 0 },
    ]);
    assert.deepEqual(t.chain, [{ kind: 'service', service: 1 }]);
  });

  test('validateTopology: built-in topologies resolve paths against the working directory', () => {
    const t = validateTopology(
      {
        ports: [{ name: 'sink', driver: 'null' }],
        nfs: [{ name: 'monitor', module: join(dir, 'nfs', 'monitor.ts'), service: 5 }],
        chain: [5, 'port:sink'],
      },
      BUILT_IN_TOPOLOGY,
    );
    assert.equal(t.file, '<built-in>');
    assert.deepEqual(t.chain, [
      { kind: 'service', service: 5 },
      { kind: 'port', port: 0 },
    ]);
  });
});

describe('invalid topologies: schema', () => {
  test('unknown top-level key, with a suggestion (and no extra "missing nfs")', () => {
    const err = assertInvalid(
      'top-key.yaml',
      MINIMAL.replace('nfs:', 'nsf:'),
      /^top-key\.yaml:3: unknown top-level key "nsf"; did you mean "nfs"\?$/,
    );
    assert.doesNotMatch(err.message, /missing/);
  });

  test('unknown key inside an NF, with a suggestion', () => {
    assertInvalid(
      'nf-key.yaml',
      `ports:
  - { name: in, driver: gen }
nfs:
  - name: monitor
    module: nfs/monitor.ts
    service: 1
  - name: forward
    module: nfs/bridge.mjs
    servce: 2
chain: [monitor]
`,
      /^nf-key\.yaml:9: nfs\[1\] \(forward\): unknown key "servce"; did you mean "service"\?$/,
    );
  });

  test('unknown key with nothing close lists the valid keys', () => {
    assertInvalid(
      'pool-key.yaml',
      `pool: { count: 8192, zzz: 1 }\n${MINIMAL}`,
      /^pool-key\.yaml:1: pool: unknown key "zzz"\n {2}fix: valid keys here: count, dataRoom, headroom, jumbos$/,
    );
  });

  test('a key of another driver says which driver has it', () => {
    assertInvalid(
      'other-driver.yaml',
      MINIMAL.replace('driver: gen', 'driver: gen, rx: in.pcap'),
      /^other-driver\.yaml:2: ports\[0\] \(in\): unknown key "rx": gen ports have no "rx" \(pcap ports do\)/,
    );
  });

  test('bad type: a string for the service id says expected vs got', () => {
    assertInvalid(
      'service-type.yaml',
      MINIMAL.replace('service: 1', 'service: "1"'),
      /^service-type\.yaml:4: nfs\[0\] \(monitor\)\.service: expected an integer in 1\.\.31, got the string "1"$/,
    );
  });

  test('service id out of range', () => {
    assertInvalid(
      'service-range.yaml',
      MINIMAL.replace('service: 1', 'service: 32'),
      /^service-range\.yaml:4: nfs\[0\] \(monitor\)\.service: expected an integer in 1\.\.31, got 32$/,
    );
  });

  test('missing required key names the mapping and what the key holds', () => {
    assertInvalid(
      'no-module.yaml',
      MINIMAL.replace('module: nfs/monitor.ts, ', ''),
      /^no-module\.yaml:4: nfs\[0\] \(monitor\): missing required key "module" \(a path to a \.ts, \.mts, \.js or \.mjs file\)$/,
    );
  });

  test('unknown driver, with a suggestion and the list of drivers', () => {
    assertInvalid(
      'driver.yaml',
      MINIMAL.replace('driver: gen', 'driver: pcpa'),
      /^driver\.yaml:2: ports\[0\] \(in\)\.driver: unknown driver "pcpa"; did you mean "pcap"\?\n {2}fix: driver is one of: gen, pcap, null, af_packet, af_xdp$/,
    );
  });

  test('a misspelt driver key is reported as such, not as a missing driver', () => {
    assertInvalid(
      'drver.yaml',
      MINIMAL.replace('driver: gen', 'drvier: gen'),
      /^drver\.yaml:2: ports\[0\] \(in\): unknown key "drvier"; did you mean "driver"\?$/,
    );
  });

  test('pool count not a power of two', () => {
    assertInvalid(
      'pool-count.yaml',
      `name: demo\npool:\n  count: 10000\n${MINIMAL}`,
      /^pool-count\.yaml:3: pool\.count: expected a power of two in 1024\.\.4194304, got 10000$/,
    );
  });

  test('an enum value close to a valid one gets a suggestion', () => {
    assertInvalid(
      'poll.yaml',
      `manager: { poll: bsy }\n${MINIMAL}`,
      /^poll\.yaml:1: manager\.poll: expected "adaptive" or "busy", got the string "bsy"; did you mean "busy"\?$/,
    );
  });

  test('empty nfs list', () => {
    assertInvalid(
      'no-nfs.yaml',
      `ports:\n  - { name: in, driver: gen }\nnfs: []\nchain: [1]\n`,
      /^no-nfs\.yaml:3: nfs: expected a list of 1\.\.32 NFs, got an empty list$/,
    );
  });

  test('empty ports list', () => {
    assertInvalid(
      'no-ports.yaml',
      MINIMAL.replace('ports:\n  - { name: in, driver: gen }', 'ports: []'),
      /^no-ports\.yaml:1: ports: expected a list of 1\.\.8 ports, got an empty list$/,
    );
  });

  test('an empty file', () => {
    assertInvalid('empty.yaml', '', /^empty\.yaml:1: the file is empty; expected a mapping/);
  });

  test('several problems are listed in file order, each with its line', () => {
    const err = assertInvalid(
      'many.yaml',
      `ports:
  - { name: in, driver: gen, flows: 0 }
nfs:
  - { name: Monitor, module: nfs/monitor.ts, service: 1 }
chain: [monitor]
colour: red
`,
      /^many\.yaml:2: ports\[0\] \(in\)\.flows: expected an integer in 1\.\.1000000, got 0\nmany\.yaml:4: nfs\[0\] \(Monitor\)\.name: expected an NF name .*, got the string "Monitor"\nmany\.yaml:6: unknown top-level key "colour"/,
    );
    assert.equal(err.fix, undefined);
  });
});

describe('invalid topologies: checks after the schema', () => {
  test('duplicate NF name', () => {
    assertInvalid(
      'dup-name.yaml',
      `ports:
  - { name: in, driver: gen }
nfs:
  - { name: monitor, module: nfs/monitor.ts, service: 1 }
  - { name: monitor, module: nfs/monitor.ts, service: 2 }
chain: [monitor]
`,
      /^dup-name\.yaml:5: nfs\[1\] \(monitor\)\.name: duplicate NF name "monitor" \(nfs\[0\] has it too\)/,
    );
  });

  test('duplicate service id', () => {
    assertInvalid(
      'dup-service.yaml',
      `ports:
  - { name: in, driver: gen }
nfs:
  - { name: monitor, module: nfs/monitor.ts, service: 1 }
  - { name: bridge, module: nfs/bridge.mjs, service: 1 }
chain: [monitor]
`,
      /^dup-service\.yaml:5: nfs\[1\] \(bridge\)\.service: service 1 is already provided by nfs\[0\] \(monitor\)\n {2}fix: .*raise its instances$/,
    );
  });

  test('duplicate port name', () => {
    assertInvalid(
      'dup-port.yaml',
      MINIMAL.replace('  - { name: in, driver: gen }', '  - { name: in, driver: gen }\n  - { name: in, driver: null }'),
      /^dup-port\.yaml:3: ports\[1\] \(in\)\.name: duplicate port name "in" \(ports\[0\] has it too\)/,
    );
  });

  test('missing NF module file names the resolved path', () => {
    const err = assertInvalid(
      'no-file.yaml',
      MINIMAL.replace('nfs/monitor.ts', 'nfs/missing.ts'),
      /^no-file\.yaml:4: nfs\[0\] \(monitor\)\.module: module \S+ does not exist/,
    );
    assert.ok(err.message.includes(join(dir, 'nfs', 'missing.ts')), err.message);
  });

  test('chain hop naming an unknown NF, with a suggestion', () => {
    assertInvalid(
      'hop-nf.yaml',
      MINIMAL.replace('chain: [monitor]', 'chain: [monitr]'),
      /^hop-nf\.yaml:5: chain\[0\]: no NF named "monitr"; did you mean "monitor"\?/,
    );
  });

  test('chain hop with a service no NF provides', () => {
    assertInvalid(
      'hop-service.yaml',
      MINIMAL.replace('chain: [monitor]', 'chain:\n  - monitor\n  - 7'),
      /^hop-service\.yaml:7: chain\[1\]: service 7 has no NF\n {2}fix: services: 1 \(monitor\)$/,
    );
  });

  test('chain hop to an unknown port', () => {
    assertInvalid(
      'hop-port.yaml',
      MINIMAL.replace('chain: [monitor]', 'chain: [monitor, "port:out"]'),
      /^hop-port\.yaml:5: chain\[1\]: no port named "out"\n {2}fix: ports: in$/,
    );
  });

  test('a quoted service id in the chain is a name; the fix says to drop the quotes', () => {
    assertInvalid(
      'hop-quoted.yaml',
      MINIMAL.replace('chain: [monitor]', 'chain: ["1"]'),
      /^hop-quoted\.yaml:5: chain\[0\]: no NF named "1"\n {2}fix: for service 1, write the number without quotes$/,
    );
  });

  test('pcap rx file missing', () => {
    assertInvalid(
      'rx-missing.yaml',
      MINIMAL.replace('driver: gen', 'driver: pcap, rx: nothere.pcap'),
      /^rx-missing\.yaml:2: ports\[0\] \(in\)\.rx: capture \S*nothere\.pcap does not exist/,
    );
  });

  test('pcap tx in a directory that does not exist', () => {
    assertInvalid(
      'tx-dir.yaml',
      MINIMAL.replace('driver: gen', 'driver: pcap, tx: nodir/out.pcap'),
      /^tx-dir\.yaml:2: ports\[0\] \(in\)\.tx: capture \S*out\.pcap: directory \S*nodir does not exist/,
    );
  });

  test('pcap tx in a directory that is not writable', {
    skip: process.getuid?.() === 0 ? 'root can write anywhere' : false,
  }, () => {
    const ro = join(dir, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    assertInvalid(
      'tx-ro.yaml',
      MINIMAL.replace('driver: gen', 'driver: pcap, tx: readonly/out.pcap'),
      /^tx-ro\.yaml:2: ports\[0\] \(in\)\.tx: capture \S+: directory \S+readonly is not writable \(EACCES\)/,
    );
  });

  test('pcap port with neither rx nor tx', () => {
    assertInvalid(
      'pcap-empty.yaml',
      MINIMAL.replace('driver: gen', 'driver: pcap, loop: true'),
      /^pcap-empty\.yaml:2: ports\[0\] \(in\): a pcap port needs rx \(a capture to read\), tx \(a capture to write\) or both$/,
    );
  });

  test('gen frame sizes too large for the pool dataRoom', () => {
    assertInvalid(
      'sizes.yaml',
      `pool: { dataRoom: 1024 }\n${MINIMAL.replace('driver: gen', 'driver: gen, sizes: [64, 1500]')}`,
      /^sizes\.yaml:3: ports\[0\] \(in\)\.sizes\[1\]: frame size 1500 does not fit the pool's dataRoom of 1024 bytes\n {2}fix: use sizes up to 1024, or raise pool\.dataRoom$/,
    );
  });
});

describe('invalid topologies: reading and parsing', () => {
  test('YAML syntax error gives the line and the parser message', () => {
    assertInvalid(
      'syntax.yaml',
      `ports:
  - name: in
   driver: gen
nfs: []
`,
      /^syntax\.yaml:3: YAML syntax error: \S.*/,
    );
  });

  test('duplicate mapping keys are a YAML error', () => {
    assertInvalid(
      'dup-key.yaml',
      `${MINIMAL}chain: [monitor]\n`,
      /^dup-key\.yaml:6: YAML syntax error: Map keys must be unique/,
    );
  });

  test('JSON syntax error gives the line', () => {
    assertInvalid('syntax.json', '{\n  "ports": [],\n  "nfs": [],\n}\n', /^syntax\.json:4: JSON syntax error: \S/);
  });

  test('JSON schema errors carry line numbers too', () => {
    assertInvalid(
      'bad.json',
      JSON.stringify(
        {
          ports: [{ name: 'in', driver: 'gen' }],
          nfs: [{ name: 'monitor', module: 'nfs/monitor.ts', service: 0 }],
          chain: ['monitor'],
        },
        null,
        2,
      ),
      /^bad\.json:12: nfs\[0\] \(monitor\)\.service: expected an integer in 1\.\.31, got 0$/,
    );
  });

  test('a file that does not exist', () => {
    assert.throws(
      () => loadTopology(join(dir, 'absent.yaml')),
      (err: unknown) =>
        err instanceof NfcError &&
        err.code === 'NFC_ERR_TOPOLOGY' &&
        /absent\.yaml: cannot read the topology file \(ENOENT\)/.test(err.message),
    );
  });

  test('validateTopology names lines only when given the source text', () => {
    const raw = { ports: [{ name: 'in', driver: 'gen' }], nfs: [], chain: [1] };
    const source = JSON.stringify(raw, null, 2);
    const messageOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof NfcError && err.code === 'NFC_ERR_TOPOLOGY');
        return err.message;
      }
      return assert.fail('expected an error');
    };
    assert.equal(
      messageOf(() => validateTopology(raw, 'x.json', source)),
      'x.json:8: nfs: expected a list of 1..32 NFs, got an empty list',
    );
    assert.equal(
      messageOf(() => validateTopology(raw, 'x.json')),
      'x.json: nfs: expected a list of 1..32 NFs, got an empty list',
    );
  });
});

test('didYouMean: within two edits, transpositions count once, nothing for far words', () => {
  assert.equal(didYouMean('servce', ['name', 'service']), 'service');
  assert.equal(didYouMean('nsf', ['ports', 'nfs']), 'nfs');
  assert.equal(didYouMean('Service', ['service']), 'service');
  assert.equal(didYouMean('banana', ['name', 'service']), undefined);
});

describe('cores', () => {
  test('a CPU or a list of CPUs, for the manager loops and for NFs; checked against this machine', () => {
    const path = fixture(
      'cores.yaml',
      `manager: { cores: { rx: 0, tx: [0] } }
ports:
  - { name: in, driver: gen }
nfs:
  - { name: monitor, module: nfs/monitor.ts, service: 1, cores: [0, 0] }
chain: [monitor]
`,
    );
    const t = loadTopology(path);
    assert.deepEqual(t.manager.cores, { rx: [0], tx: [0] });
    assert.deepEqual(t.nfs[0]!.cores, [0], 'repeats removed');
  });

  test('a CPU this machine does not have is refused, naming the field and the CPUs there are', () => {
    assertInvalid(
      'cores-missing.yaml',
      MINIMAL.replace('service: 1 }', 'service: 1, cores: 1000 }'),
      /cores-missing\.yaml:4: nfs\[0\] \(monitor\)\.cores: CPU 1000 is not one this machine lets nfchain run on[\s\S]*fix: use CPUs from \d/,
    );
    assertInvalid(
      'cores-manager.yaml',
      `manager: { cores: { rx: 999 } }\n${MINIMAL}`,
      /manager\.cores\.rx: CPU 999 is not one this machine lets nfchain run on/,
    );
  });

  test('bad shapes get the phrase of what is allowed', () => {
    assertInvalid(
      'cores-shape.yaml',
      MINIMAL.replace('service: 1 }', 'service: 1, cores: "first" }'),
      /nfs\[0\] \(monitor\)\.cores: expected a CPU number or a list of CPU numbers \(0\.\.1023\)/,
    );
    assertInvalid(
      'cores-key.yaml',
      `manager: { cores: { rx: 0, mid: 1 } }\n${MINIMAL}`,
      /cores-key\.yaml:1: manager\.cores: unknown key "mid"/,
    );
  });
});

describe('fused groups', () => {
  const GROUP = `ports:
  - { name: in, driver: gen }
nfs:
  - { name: last, module: nfs/monitor.ts, service: 3, fuse: g }
  - { name: first, module: nfs/monitor.ts, service: 1, fuse: g, cores: 0 }
  - { name: alone, module: nfs/monitor.ts, service: 2 }
chain: [first, alone, last]
`;

  test('NFs with the same fuse name make a group: members in chain order, instances and cores from the members', () => {
    const t = loadTopology(fixture('fuse.yaml', GROUP));
    assert.deepEqual(t.groups, [{ name: 'g', members: ['first', 'last'], instances: 1, cores: [0] }]);
    assert.equal(t.nfs.find((n) => n.name === 'alone')!.fuse, undefined);
  });

  test('a group of one, a group named as an NF, instances or cores that differ: refused, naming the field', () => {
    assertInvalid(
      'fuse-one.yaml',
      MINIMAL.replace('service: 1 }', 'service: 1, fuse: solo }'),
      /fuse-one\.yaml:4: nfs\[0\] \(monitor\)\.fuse: fused group "solo" has one NF only[\s\S]*fix: give two NFs or more/,
    );
    assertInvalid(
      'fuse-name.yaml',
      GROUP.replaceAll('fuse: g', 'fuse: alone'),
      /nfs\[0\] \(last\)\.fuse: fused group "alone" has the name of an NF/,
    );
    assertInvalid(
      'fuse-instances.yaml',
      GROUP.replace('service: 1, fuse: g', 'service: 1, fuse: g, instances: 2'),
      /nfs\[1\] \(first\)\.instances: 2 instances, but last in the same fused group "g" has 1[\s\S]*fix: a fused group scales as a whole/,
    );
    assertInvalid(
      'fuse-cores.yaml',
      GROUP.replace('service: 3, fuse: g', 'service: 3, fuse: g, cores: [0, 1]'),
      /nfs\[1\] \(first\)\.cores: cores 0 differ from last's \(0,1\) in the same fused group "g"/,
    );
    assertInvalid(
      'fuse-shape.yaml',
      MINIMAL.replace('service: 1 }', 'service: 1, fuse: "Big Group" }'),
      /nfs\[0\] \(monitor\)\.fuse: expected a fused group name/,
    );
  });
});
