/** One-line usages of the commands (shared by --help and error messages; no imports, so --help loads nothing else). */
export const START_USAGE = 'nfchain start <topology.yaml|.json> [--name N] [--ttl S] [--limit N] [--stats S] [--poll busy|adaptive] [--until-done]';
export const DEMO_USAGE = 'nfchain demo [--duration S] [--rate PPS] [--name N] [--stats S]';
export const MANAGER_USAGE = 'nfchain manager [topology.yaml] [--name N] [--port gen|null ...] [--chain 1,2,port:1] [--rate PPS] [--ttl S] [--limit N] [--stats S] [--poll busy|adaptive] [--until-done]';
export const STATUS_USAGE = 'nfchain status [--name N] [--json]';
export const STATS_USAGE = 'nfchain stats [--name N] [--json] [--watch [S]]';
export { NF_USAGE } from '../nflib/usage.js';
export const TESTBED_USAGE = 'nfchain testbed up|down|topology [--name N] [--driver af_packet|af_xdp] [--ipv6] [--offloads on|off]';
export const MESSAGE_USAGE = 'nfchain message <nf:ID|service:S> <json> [--name N]';
export const FLOW_USAGE = 'nfchain flow add --chain NAME [--priority P] [--proto N] [--src-prefix P] [--dst-prefix P] [--src-ports LO-HI] [--dst-ports LO-HI] [--in-port NAME] [--vlan V] | flow del ID | flow list  [--name N]';
export const SCALE_USAGE = 'nfchain scale SERVICE N  [--rebalance] [--name N]';
export const CHAIN_USAGE = 'nfchain chain set NAME HOP,HOP,... | chain list  [--name N]';
