// One queue of a connection, opened in another thread. A connection's fds are process-wide, so a
// worker maps the regions itself from the QueueExport the owning thread hands it (postMessage
// clones it) and runs the data path with no further help from the control thread.
//
// The control thread still owns the connection: when it disconnects, it closes the fds; the
// worker must stop using the queue then (tell it with a message) and call close().
import { MappedRegion, signalEventfd, drainEventfd } from '../../sys/index.js';
import { MemifRingError, openQueue, RingView, RingType, type MemifQueue } from '../ring/index.js';
import { MemifErrorCode } from '../wire.js';
import type { QueueExport } from './connection.js';

export interface WorkerQueue {
  readonly queue: MemifQueue;
  readonly direction: 'rx' | 'tx';
  /** After a tx: writes the ring's eventfd if the peer asked for interrupts. */
  kickIfWanted(): void;
  /** Clears pending interrupts (rx, interrupt mode); returns how many kicks were pending. */
  drainInterrupts(): number;
  /** Unmaps this thread's view of the regions. */
  close(): void;
}

export function attachQueue(exp: QueueExport): WorkerQueue {
  const maps = exp.regions.map((r) => MappedRegion.map(r.fd, r.size));
  const buffers = maps.map((m) => m.buffer);
  const name = `${exp.ring.type === RingType.S2M ? 'S2M' : 'M2S'} ring ${exp.ring.index}`;
  const mem = buffers[exp.ring.region];
  if (!mem) {
    for (const m of maps) m.unmap();
    throw new MemifRingError(MemifErrorCode.BAD_RING, `${name}: region ${exp.ring.region} does not exist`);
  }
  const queue = openQueue({
    role: exp.role,
    ringType: exp.ring.type as RingType,
    ring: new RingView(mem, exp.ring.offset, exp.ring.log2RingSize, name),
    regions: buffers,
    ringIndex: exp.ring.index,
    ...(exp.role === 'slave' ? { bufferSize: exp.bufferSize, slots: exp.slots } : {}),
  });
  // The owning thread reset the ring at connect time and must not have used this queue since.
  queue.adoptAfterReset();
  return {
    queue,
    direction: exp.direction,
    kickIfWanted: () => { if (queue.peerWantsKick()) signalEventfd(exp.eventfd); },
    drainInterrupts: () => drainEventfd(exp.eventfd),
    close: () => { for (const m of maps) m.unmap(); },
  };
}
