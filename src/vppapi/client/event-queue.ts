// An unbounded-by-default push queue consumed as an async iterator; used for VPP events.
// Ending the iteration (break, return()) unsubscribes; end() finishes every waiting consumer.

export class EventQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiters: Array<(r: IteratorResult<T>) => void> = [];
  private done = false;
  /** Events dropped because the consumer lagged more than maxBuffered behind. */
  dropped = 0;

  constructor(private readonly onEnd: () => void, private readonly maxBuffered = 10_000) {}

  push(item: T): void {
    if (this.done) return;
    const w = this.waiters.shift();
    if (w) {
      w({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.maxBuffered) {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(item);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
    this.onEnd();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.items = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
