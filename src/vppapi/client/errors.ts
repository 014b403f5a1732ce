// Typed errors of the VPP API client. Each names the message concerned and what went wrong.
import { vppErrno, vppErrnoName } from './api-errno.js';

export { VppConnectError } from '../transport/socket-transport.js';

/** VPP answered with retval != 0. */
export class VppApiError extends Error {
  /** e.g. "VNET_API_ERROR_INVALID_SW_IF_INDEX" */
  readonly errorName: string;
  constructor(readonly request: string, readonly retval: number, readonly reply?: Record<string, unknown>) {
    const name = vppErrnoName(retval);
    const desc = vppErrno(retval)?.description;
    super(`${request}: VPP returned ${retval} ${name}${desc ? ` (${desc})` : ''}`);
    this.name = 'VppApiError';
    this.errorName = name;
  }
}

/** No reply (or no end of a dump) within the timeout. */
export class VppTimeoutError extends Error {
  constructor(readonly request: string, readonly timeoutMs: number, readonly context: number) {
    super(`${request}: no reply from VPP within ${timeoutMs} ms (context ${context})`);
    this.name = 'VppTimeoutError';
  }
}

/** The connection went away (or was never up) while a request was pending or being sent. */
export class VppDisconnectedError extends Error {
  constructor(readonly request: string | null, readonly reason: string) {
    super(request ? `${request}: not answered, ${reason}` : reason);
    this.name = 'VppDisconnectedError';
  }
}

/** The message cannot be used with this VPP: unknown locally, absent from VPP, or a CRC mismatch. */
export class VppMessageUnavailableError extends Error {
  constructor(readonly request: string, readonly reason: 'unknown-locally' | 'missing-in-vpp' | 'crc-mismatch', detail: string) {
    super(`${request}: ${detail}`);
    this.name = 'VppMessageUnavailableError';
  }
}

/** Bytes from the socket that break the protocol: bad framing, unknown message id, undecodable. */
export class VppProtocolError extends Error {
  constructor(message: string, readonly msgId?: number) {
    super(message);
    this.name = 'VppProtocolError';
  }
}
