/**
 * nfchain errors: one base class, stable codes declared here and listed in docs/errors.md.
 *
 * Errors are for the control plane and for bad input at the boundary (files, options, shared
 * memory that does not match its layout). The data path never throws: it counts.
 */

export const ErrorCodes = {
  NFC_ERR_NATIVE_MISSING: 'the native addon is not built',
  NFC_ERR_SHM: 'a shared-memory file could not be created, opened or removed',
  NFC_ERR_LAYOUT: 'a shared-memory structure does not match its layout',
  NFC_ERR_DOUBLE_FREE: 'a buffer was freed twice (the pool would hand it to two owners)',
  NFC_ERR_INVALID_ARG: 'an argument is out of range or of the wrong kind',
  NFC_ERR_PCAP_FORMAT: 'a capture file is malformed or of an unsupported kind',
  NFC_ERR_PCAP_IO: 'a capture file could not be read or written',
  NFC_ERR_BENCH: 'a benchmark could not run',
  NFC_ERR_USAGE: 'the command line is wrong',
  NFC_ERR_NF: 'an NF module is missing, fails to load or is not a valid NF definition',
  NFC_ERR_NF_OPTION: 'an NF option is unknown or has a bad value',
  NFC_ERR_CONTROL: 'the control socket could not be reached or answered with an error',
  NFC_ERR_NOT_RUNNING: 'the manager is still starting or is shutting down',
  NFC_ERR_LIMIT: 'a limit is reached: NF slots, instances per service, chains',
  NFC_ERR_NF_ID: 'the asked NF id is out of range or in use',
  NFC_ERR_NOT_FOUND: 'a request names an NF, service, chain, port or flow rule that does not exist',
  NFC_ERR_CHAIN: 'a chain is invalid: its name, its number of hops, or a hop',
  NFC_ERR_SCALE: 'a service cannot be scaled: no NF module is known to start more of',
  NFC_ERR_LOOP: 'a manager thread (the RX or TX loop) failed to start',
  NFC_ERR_INTERNAL: 'an unexpected error in the manager (a bug)',
  NFC_ERR_TOPOLOGY: 'a topology file is invalid',
  NFC_ERR_TESTBED: 'the network-namespace testbed could not be set up or removed',
  NFC_ERR_PORT: 'a port could not be opened (interface missing or down, no privilege)',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class NfcError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, when there is something to say. */
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { fix?: string; cause?: unknown }) {
    super(
      options?.fix ? `${message}\n  fix: ${options.fix}` : message,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.name = 'NfcError';
    this.code = code;
    this.fix = options?.fix;
  }
}
