/**
 * MemifRingError: the peer broke the shared-memory contract (a descriptor pointing outside its
 * region, head/tail moved to an impossible place, a bad cookie, a ring that does not fit its
 * region). The connection layer should disconnect and may send `reason` in DISCONNECT.
 *
 * Errors that are the local caller's fault (calling rx on a tx queue, a burst too small, bad
 * planRegions input) are plain `Error`s / `RangeError`s, never MemifRingError.
 */
export class MemifRingError extends Error {
  override readonly name = 'MemifRingError';
  constructor(readonly reason: string) {
    super(reason);
  }
}
