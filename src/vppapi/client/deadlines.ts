// Timeouts of the exchanges in flight, without a timer per request (a setTimeout/clearTimeout
// pair cost more than the rest of a control_ping round trip). Exchanges with the same timeout
// expire in the order they were armed, so each timeout value keeps a FIFO and one timer serves
// the earliest entry. Re-arming (a dump's idle timeout, after each details message) only moves
// the deadline; when the entry's old turn comes it is put back in line at the new one. Settled entries
// leave from the front as they settle (VPP answers in order, so that is the common case). The
// timer is unref'd: an open socket is what keeps a process with requests in flight alive.

export interface Timed {
  /** Absolute expiry (performance.now() ms); -1 once settled. */
  deadline: number;
  /** The timeout value whose FIFO holds this entry; -1 when in none. */
  queuedFor: number;
}

/** Entries in turn order, with the deadline each had when queued (ascending). */
interface Fifo<T> { items: T[]; due: number[]; head: number }

export class Deadlines<T extends Timed> {
  private readonly fifos = new Map<number, Fifo<T>>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  constructor(private readonly expire: (item: T) => void) {}

  /** (Re)start item's timeout: timeoutMs from now. An item keeps one timeout value. */
  arm(item: T, timeoutMs: number): void {
    item.deadline = performance.now() + timeoutMs;
    if (item.queuedFor >= 0) return;
    let f = this.fifos.get(timeoutMs);
    if (!f) this.fifos.set(timeoutMs, (f = { items: [], due: [], head: 0 }));
    f.items.push(item);
    f.due.push(item.deadline);
    item.queuedFor = timeoutMs;
    if (item.deadline < this.timerAt) this.schedule(item.deadline);
  }

  /** item no longer times out. */
  settle(item: T): void {
    item.deadline = -1;
    const f = this.fifos.get(item.queuedFor);
    item.queuedFor = -1;
    if (f) this.dropSettled(f);
  }

  private dropSettled(f: Fifo<T>): void {
    const items = f.items;
    let h = f.head;
    while (h < items.length && items[h]!.deadline < 0) h++;
    if (h === items.length) {
      items.length = 0;
      f.due.length = 0;
      f.head = 0;
    } else if (h > 1024 && h * 2 > items.length) {
      items.splice(0, h);
      f.due.splice(0, h);
      f.head = 0;
    } else {
      f.head = h;
    }
  }

  private schedule(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - performance.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const f of this.fifos.values()) {
      for (;;) {
        this.dropSettled(f);
        const h = f.head;
        const item = f.items[h];
        if (!item) break;
        if (f.due[h]! > now) {
          next = Math.min(next, f.due[h]!);
          break;
        }
        f.head = h + 1;
        if (item.deadline > now) {
          // Re-armed since it was queued: back in line at its new deadline (near the end).
          let i = f.items.length;
          while (i > f.head && f.due[i - 1]! > item.deadline) i--;
          f.items.splice(i, 0, item);
          f.due.splice(i, 0, item.deadline);
          continue;
        }
        item.queuedFor = -1;
        this.expire(item);
      }
    }
    if (next < Infinity) this.schedule(next);
  }
}
