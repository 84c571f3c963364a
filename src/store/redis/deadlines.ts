import { RedisUnavailableError } from "./unavailable-error.js";

/**
 * Bounds every command in time with one shared timer instead of a timer (or AbortSignal) per
 * command, which profiling showed costs more than the rest of the client path. All commands share
 * one timeout, so insertion order is deadline order and a check stops at the first live entry.
 */
export class CommandDeadlines {
  private readonly pending = new Set<{ deadlineMs: number; reject: (error: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly checkEveryMs: number;

  constructor(private readonly timeoutMs: number) {
    this.checkEveryMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 5)));
  }

  track<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { deadlineMs: performance.now() + this.timeoutMs, reject };
      this.pending.add(entry);
      if (!this.timer) {
        this.timer = setInterval(() => this.check(), this.checkEveryMs);
        this.timer.unref();
      }
      promise.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (error) => {
          this.pending.delete(entry);
          reject(error);
        },
      );
    });
  }

  private check(): void {
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.deadlineMs > now) break;
      this.pending.delete(entry);
      entry.reject(new RedisUnavailableError(`Redis store: no reply within ${this.timeoutMs} ms`));
    }
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
