// The timed part of a throughput run. Traffic first flows untimed for `warmupMs` — long enough for
// V8 to compile the hot loops (a cold tsvpp endpoint needs 300-800 ms to reach its steady rate, and
// testpmd's own first stats interval is left out the same way) — and then for `durationMs` timed.
// Every packet is still counted and checked during the warm-up; only the rate leaves it out.

/**
 * The warm-up before every timed tsvpp run (the --all harness's rounds and a plain `tsvpp perf`):
 * V8 compiles the hot loops during it (a cold endpoint takes 300-800 ms to reach its steady rate on
 * this machine), as testpmd's first stats interval is left out of its figure.
 */
export const WARMUP_MS = 500;

export class TimedWindow {
  /** Start of the timed part (valid once `opened`). */
  t0 = 0;
  opened = false;
  /** Time of the last counted progress. */
  tLast = 0;
  /** End of the timed part (Infinity until it starts). */
  end = Infinity;
  /** Packets and bytes counted before the timed part. */
  count0 = 0;
  bytes0 = 0;
  #opensAt = Infinity;
  #countAtCheck = 0;

  constructor(readonly warmupMs: number, readonly durationMs: number) {}

  /** Traffic began at `now` (with `count` packets and `bytes` bytes counted before it). */
  begin(now: number, count = 0, bytes = 0): void {
    if (this.#opensAt !== Infinity) return;
    this.#opensAt = now + this.warmupMs;
    this.#countAtCheck = count;
    if (this.warmupMs <= 0) this.#open(now, count, bytes);
  }

  get begun(): boolean {
    return this.#opensAt !== Infinity;
  }

  /** A clock read at `now` with `count`/`bytes` so far: opens the timed part when the warm-up is over, and notes progress. */
  tick(now: number, count: number, bytes = 0): void {
    if (!this.opened && now >= this.#opensAt) this.#open(now, count, bytes);
    if (count !== this.#countAtCheck) {
      this.#countAtCheck = count;
      if (this.opened) this.tLast = now;
    }
  }

  /** Closes the timed part: the time of the last packet counted (read the clock again when there was progress since the last tick). */
  finish(now: () => number, count: number): void {
    if (this.opened && count !== this.#countAtCheck) this.tLast = now();
  }

  /** Timed packets, bytes and seconds. */
  result(count: number, bytes = 0): { count: number; bytes: number; seconds: number } {
    if (!this.opened) return { count: 0, bytes: 0, seconds: 1e-9 };
    return { count: count - this.count0, bytes: bytes - this.bytes0, seconds: (this.tLast - this.t0) / 1e3 || 1e-9 };
  }

  #open(now: number, count: number, bytes: number): void {
    this.opened = true;
    this.t0 = this.tLast = now;
    this.count0 = count;
    this.bytes0 = bytes;
    this.end = now + this.durationMs;
  }
}
