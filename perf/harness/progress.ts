// A live progress line per scenario: a redrawn bar on a terminal, one plain line per finished run
// otherwise (logs, CI).
export class Progress {
  #done = 0;
  #start = Date.now();
  /** Runs finished so far. */
  get finished(): number { return this.#done; }
  constructor(readonly total: number, private readonly out: NodeJS.WriteStream = process.stderr, private readonly tty = Boolean(out.isTTY)) {}

  /** A run starts: on a terminal, show what is running. */
  start(label: string): void {
    if (this.tty) this.out.write(`\r\x1b[K${this.line(label, 'running')}`);
  }

  /** A run finished with `figure` (e.g. "0.61 Mpps"). */
  done(label: string, figure: string): void {
    this.#done++;
    if (this.tty) this.out.write(`\r\x1b[K${this.line(label, figure)}\n`);
    else this.out.write(`${this.line(label, figure)}\n`);
  }

  note(text: string): void {
    this.out.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  line(label: string, figure: string): string {
    const elapsed = Math.round((Date.now() - this.#start) / 1000);
    const head = `[${String(this.#done).padStart(String(this.total).length)}/${this.total}] ${elapsed}s`;
    return this.tty ? `${bar(this.#done / this.total)} ${head} ${label}: ${figure}` : `${head} ${label}: ${figure}`;
  }
}

export function bar(frac: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(frac * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}
