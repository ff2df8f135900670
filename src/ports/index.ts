/**
 * Port drivers by name: the manager's data-plane loops open each port half from its (plain
 * data, already validated) configuration through openRx / openTx, and never import a driver
 * directly.
 *
 *   driver   openRx                          openTx
 *   gen      synthetic traffic (gen.ts)      drops: frees, counts txDropped (gen is RX-only)
 *   pcap     reads cfg.rx (pcap.ts);         writes cfg.tx (pcap.ts);
 *            without rx: idle, done at once  without tx: drops, counts txDropped
 *   null     idle, done at once (null.ts)    sink: frees, counts as sent
 *   af_packet  an interface's TPACKET_V2 ring  sendmmsg from pool memory (af-packet.ts)
 *   af_xdp   AF_XDP rx ring into the pool     AF_XDP tx ring from the pool (af-xdp.ts)
 */
import { NfcError } from '../errors.js';
import type { PortConfig } from './config.js';
import { openGenRx } from './gen.js';
import { openDropTx, openIdleRx, openNullRx, openNullTx } from './null.js';
import { openPcapRx, openPcapTx } from './pcap.js';
import { openAfPacketRx, openAfPacketTx } from './af-packet.js';
import { openAfXdpRx, openAfXdpTx } from './af-xdp.js';
import type { PortContext, RxPort, TxPort } from './port.js';

export type { PortContext, RxPort, TxPort } from './port.js';
export { wallClock } from './port.js';
export type { GenPortConfig, NullPortConfig, PcapPortConfig, PortConfig, PortDriverName } from './config.js';
export { PORT_DRIVERS } from './config.js';
export {
  openGenRx,
  GEN_MAX_FLOWS,
  GEN_MIN_SIZE,
  type GenRxPort,
  type GenRxOptions,
  type GenTemplateMode,
} from './gen.js';
export { openPcapRx, openPcapTx, type PcapRxPort, type PcapTxPort } from './pcap.js';
export { openNullRx, openNullTx, openIdleRx, openDropTx, type NullTxPort } from './null.js';

function unknownDriver(cfg: never, ctx: PortContext): NfcError {
  const driver = (cfg as { driver?: unknown }).driver;
  return new NfcError('NFC_ERR_INVALID_ARG', `port "${ctx.portName}": unknown driver ${JSON.stringify(driver)}`, {
    fix: 'use one of gen, pcap, null',
  });
}

/** Opens the RX half of a port (cold). Errors are the driver's, naming the port. */
export function openRx(cfg: PortConfig, ctx: PortContext): RxPort {
  switch (cfg.driver) {
    case 'gen':
      return openGenRx(cfg, ctx);
    case 'pcap':
      return cfg.rx === undefined ? openIdleRx() : openPcapRx(cfg, ctx);
    case 'null':
      return openNullRx(cfg, ctx);
    case 'af_packet':
      return openAfPacketRx(cfg, ctx);
    case 'af_xdp':
      return openAfXdpRx(cfg, ctx);
    default:
      throw unknownDriver(cfg, ctx);
  }
}

/** Opens the TX half of a port (cold). Errors are the driver's, naming the port. */
export function openTx(cfg: PortConfig, ctx: PortContext): TxPort {
  switch (cfg.driver) {
    case 'gen':
      return openDropTx(ctx);
    case 'pcap':
      return cfg.tx === undefined ? openDropTx(ctx) : openPcapTx(cfg, ctx);
    case 'null':
      return openNullTx(cfg, ctx);
    case 'af_packet':
      return openAfPacketTx(cfg, ctx);
    case 'af_xdp':
      return openAfXdpTx(cfg, ctx);
    default:
      throw unknownDriver(cfg, ctx);
  }
}
