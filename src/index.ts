/**
 * nfchain's public API: what an embedding program or an NF author imports from 'nfchain'.
 */
export { NfcError, ErrorCodes, type ErrorCode } from './errors.js';
export { native, FUTEX_WOKEN, FUTEX_NOT_EQUAL, FUTEX_TIMED_OUT, type NativeAddon } from './native.js';
export { BURST, CACHE_LINE } from './shm/layout.js';
export { ShmDir, SHM_ROOT } from './shm/shm-file.js';
export { initRing, ringBytes, RingKind, RingOffsets } from './shm/ring-layout.js';
export { SpscProducer, MpProducer, ScConsumer, McConsumer } from './shm/ring.js';
export {
  Meta,
  META_BYTES,
  POOL_DEFAULTS,
  poolGeometry,
  type PoolGeometry,
  OFFLOAD_CSUM_PARTIAL,
  OffloadGso,
  gsoOffload,
  JUMBO_DATA,
} from './shm/pool-layout.js';
export { initPool, poolBytes, PacketPool, type PoolOptions } from './shm/pool.js';
export { PoolCache, type PoolCacheOptions } from './shm/pool-cache.js';
export { CounterBlock, countersBytes, defineCounters, initCounters } from './shm/counters.js';
export * from './packet/protocol.js';
export * from './packet/packet-view.js';
export {
  formatIpv4,
  formatIpv6,
  formatMac,
  parseIpv4,
  parseIpv6,
  parseMac,
  tryParseIpv4,
  tryParseIpv6,
} from './packet/address.js';
/** Limits an NF may need: packets one NF process holds, service ids (1..MAX_SERVICES - 1), ports. */
export { HELD_MAX, MAX_SERVICES, MAX_PORTS } from './shm/instance-layout.js';
export * from './packet/checksum.js';
export { FlowKey, hashFlowKey, type FlowFamily } from './packet/flow-key.js';
export { AddrTable, MAX_ADDR_CAPACITY } from './flow/addr-table.js';
export {
  FlowTable,
  initFlowTable,
  flowTableBytes,
  flowTableFor,
  createFlowTable,
  type FlowTableOptions,
  type FlowTableGeometry,
} from './flow/flow-table.js';
export * from './pcap/pcap-reader.js';
export * from './pcap/pcap-writer.js';
export { writeSynth, synthFlow, synthMinLength, SynthKind, SYNTH_KINDS, type SynthFlow } from './ports/synth.js';
export {
  defineNF,
  parseOptions,
  optionsFromArgv,
  type NFDefinition,
  type NFInstance,
  type NFContext,
  type Burst,
  type OptionSpec,
  type OptionsSpec,
  type OptionValues,
  type FlowChainResult,
  type ScaleResult,
  type Counter,
  type Gauge,
  type MetricsSpec,
} from './nflib/define.js';
export { editDistance } from './nflib/define.js';
export {
  readConfigFile,
  parseConfigText,
  configDocument,
  configError,
  problemsFromZod,
  zodIssueMessage,
  valueAt,
  describeValue,
  didYouMean,
  type ConfigDocument,
  type ConfigFileOptions,
  type ConfigPath,
  type ConfigProblem,
  type ZodHints,
} from './util/config-file.js';
export { DROP, NEXT, toNF, out, Action, formatVerdict } from './chain/verdict.js';
export {
  runNF,
  openNF,
  NFSession,
  NOT_HANDLED,
  defineNFBench,
  type NFBenchCase,
  type NFWorkload,
  type PumpResult,
  type PushOptions,
  type RunNFOptions,
  type RunNFResult,
  type RunNFOutput,
  type OutputSource,
} from './nflib/harness.js';
export { PortInfo, type PortIpv4, type PortIpv6, type PortSpec } from './nflib/ports.js';
export type { PortDescription } from './ports/port-info.js';
