// Event messages (no context, or a context nobody waits for): fanned out to async iterators per
// message name and to the client's 'event' listeners; and the want_* registrations VPP accepted,
// which a new VPP process has forgotten and the client replays after a reconnect.
import { EventQueue } from './event-queue.js';
import type { VppValue } from './channel.js';

export class EventRouter {
  private readonly queues = new Map<string, Set<EventQueue<VppValue>>>();
  /** Successful want_* registrations by message name, with the value that was sent. */
  private readonly subscriptions = new Map<string, VppValue>();

  constructor(private readonly emit: (name: string, value: VppValue) => void) {}

  /** A new iterator over events of one message type. */
  iterator(name: string, maxBuffered?: number): EventQueue<VppValue> {
    let set = this.queues.get(name);
    if (!set) this.queues.set(name, (set = new Set()));
    const s = set;
    const q: EventQueue<VppValue> = new EventQueue(() => s.delete(q), maxBuffered);
    s.add(q);
    return q;
  }

  deliver(name: string, value: VppValue): void {
    this.emit(name, value);
    const set = this.queues.get(name);
    if (set) for (const q of set) q.push(value);
  }

  /** Ends every iterator (client closed). */
  end(): void {
    for (const set of this.queues.values()) for (const q of [...set]) q.end();
  }

  /** VPP accepted `name` (a want_* request) with `value`: remember it, or forget it when it disabled. */
  subscribed(name: string, value: VppValue): void {
    const on = value.enable_disable ?? value.enable;
    if (on === 0 || on === false) this.subscriptions.delete(name);
    else this.subscriptions.set(name, { ...value });
  }

  /** The registrations to send again on a new connection. */
  toReplay(): Array<[string, VppValue]> {
    return [...this.subscriptions];
  }
}

export function isSubscription(name: string): boolean {
  return name.startsWith('want_');
}
