import { StoreReplyError } from "../../core/errors.js";
import { asStoreError } from "./connection.js";
import type { StoreFunction } from "./scripts.js";

interface QueuedCall {
  readonly fn: StoreFunction;
  /** The arguments every tenant function starts with (base, clock offset, limits). */
  readonly common: readonly [string, string, string];
  readonly args: readonly string[];
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/** Operations one batch carries at most; more in the same tick go in further batches. */
export const batchCallsMax = 64;

/**
 * Same-tick batching: the tenant calls a process makes in the same tick (the continuations of many
 * callers woken by one socket read, parallel tool calls) go to Redis as one FCALL of the batch
 * function per tenant, instead of one FCALL each. A call alone in its tick is sent as it is, with no
 * delay: the batch is flushed on process.nextTick, before any I/O. Each call keeps its own reply or
 * error; a batch whose reply is not what the batch function answers fails every call in it. A batch
 * sends the common arguments once: calls whose common arguments differ (a test clock moved within
 * a tick) go in batches of their own.
 */
export class CallBatcher {
  private queues = new Map<string, QueuedCall[]>();
  private flushScheduled = false;

  constructor(
    private readonly batchFn: StoreFunction,
    /** Sends one FCALL (with its reload on a missing library) for `key`'s tenant. */
    private readonly call: (fn: StoreFunction, key: string, args: readonly string[]) => Promise<unknown>,
  ) {}

  send(
    fn: StoreFunction,
    key: string,
    common: readonly [string, string, string],
    args: readonly string[],
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push({ fn, common, args, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queues = this.queues;
    this.queues = new Map();
    for (const [key, queue] of queues) {
      let first = 0;
      while (first < queue.length) {
        // A run of calls with the same common arguments, at most batchCallsMax.
        let end = first + 1;
        while (end < queue.length && end - first < batchCallsMax && sameCommon(queue[first], queue[end])) end++;
        this.sendBatch(key, queue.slice(first, end));
        first = end;
      }
    }
  }

  private sendBatch(key: string, calls: readonly QueuedCall[]): void {
    if (calls.length === 1) {
      const [only] = calls;
      this.call(only.fn, key, [...only.common, ...only.args]).then(only.resolve, only.reject);
      return;
    }
    const args = [String(calls.length), ...calls[0].common];
    for (const queued of calls) args.push(queued.fn.op, String(queued.args.length), ...queued.args);
    this.call(this.batchFn, key, args).then(
      (reply) => {
        if (!Array.isArray(reply) || reply.length !== calls.length) {
          const error = new StoreReplyError("batch", `expected ${calls.length} replies`);
          for (const queued of calls) queued.reject(error);
          return;
        }
        for (const [index, queued] of calls.entries()) {
          const item = reply[index] as unknown;
          if (Array.isArray(item) && item[0] === 1 && item.length === 2) queued.resolve(item[1]);
          else if (Array.isArray(item) && item[0] === 0 && typeof item[1] === "string") {
            queued.reject(asStoreError(new Error(item[1])));
          } else
            queued.reject(new StoreReplyError(queued.fn.name, "a batch reply that is neither a reply nor an error"));
        }
      },
      (error) => {
        for (const queued of calls) queued.reject(error);
      },
    );
  }
}

function sameCommon(a: QueuedCall, b: QueuedCall): boolean {
  return a.common[0] === b.common[0] && a.common[1] === b.common[1] && a.common[2] === b.common[2];
}
