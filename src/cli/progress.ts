import type { CliIo } from "./io.js";

/**
 * Progress of a long operation on stderr, redrawn in place on a terminal. Off when stderr is not
 * a terminal, so pipes and logs get only the final summary.
 */
export class Progress {
  private readonly enabled: boolean;
  private lastDrawMs = 0;
  private drawn = false;

  constructor(
    private readonly stream: CliIo["stderr"],
    private readonly label: string,
    options: { enabled?: boolean } = {},
  ) {
    this.enabled = options.enabled ?? stream.isTTY === true;
  }

  /** Redraws at most every 100 ms (and always on the last step). */
  update(done: number, total?: number, nowMs = Date.now()): void {
    if (!this.enabled) return;
    const last = total !== undefined && done >= total;
    if (!last && nowMs - this.lastDrawMs < 100) return;
    this.lastDrawMs = nowMs;
    const share = total ? ` ${Math.floor((done / Math.max(total, 1)) * 100)}%` : "";
    this.stream.write(`\r${this.label} ${done}${total !== undefined ? `/${total}` : ""}${share}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }
}
