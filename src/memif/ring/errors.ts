/**
 * MemifRingError: the peer broke the shared-memory contract (a descriptor pointing outside its
 * region, head/tail moved to an impossible place, a bad cookie, a ring that does not fit its
 * region). `code` says which rule (../wire.ts MemifErrorCode), `reason` the particulars; the
 * connection layer disconnects and sends both in DISCONNECT.
 *
 * Errors that are the local caller's fault (calling rx on a tx queue, a burst too small, bad
 * planRegions input) are plain `Error`s / `RangeError`s, never MemifRingError.
 */
import type { MemifErrorCode } from '../wire.js';

export class MemifRingError extends Error {
  override readonly name = 'MemifRingError';
  constructor(readonly code: MemifErrorCode, readonly reason: string) {
    super(reason);
  }
}
