// The exchanges in flight, by context. Contexts are handed out in order, so a ring indexed by the
// context's low bits holds them (a context whose slot is still taken by an older exchange is
// skipped; contexts are arbitrary u32 values to VPP). The ring doubles while more than half full.
// Unlike a Map under constant insert and delete, it allocates nothing per request.

export class ContextTable<T extends { context: number }> {
  private slots: Array<T | null> = new Array<T | null>(256).fill(null);
  private mask = 255;
  private count = 0;
  private next = 1;

  get size(): number {
    return this.count;
  }

  /** Gives item a fresh context (u32, never 0: some code treats 0 as none) and holds it. */
  add(item: T): void {
    if (this.count * 2 >= this.slots.length) this.grow();
    for (;;) {
      const c = this.next;
      this.next = c >= 0xffff_ffff ? 1 : c + 1;
      const i = c & this.mask;
      if (this.slots[i] === null) {
        item.context = c;
        this.slots[i] = item;
        this.count++;
        return;
      }
    }
  }

  get(context: number): T | undefined {
    const s = this.slots[context & this.mask];
    return s != null && s.context === context ? s : undefined;
  }

  /** Forget item (no-op when it is not held). */
  delete(item: T): void {
    const i = item.context & this.mask;
    if (this.slots[i] === item) {
      this.slots[i] = null;
      this.count--;
    }
  }

  values(): T[] {
    return this.slots.filter((s): s is T => s !== null);
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Array<T | null>(old.length * 2).fill(null);
    this.mask = this.slots.length - 1;
    // Distinct modulo n means distinct modulo 2n: no two land on one slot.
    for (const s of old) if (s !== null) this.slots[s.context & this.mask] = s;
  }
}
