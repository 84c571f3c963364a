import { MinHeap } from "./min-heap.js";

/** Queues kept at most; holds with yet another TTL go to the heap. */
const queuesMax = 64;

/** A queue keeps at least this much room once grown to it (compactIfStale's threshold, doubled). */
const shrinkAbove = 4_096;

/** A growable ring of (deadline, slot), deadlines non-decreasing. */
class DeadlineQueue {
  deadlines = new Float64Array(64);
  slots = new Int32Array(64);
  head = 0;
  size = 0;

  get last(): number {
    return this.deadlines[(this.head + this.size - 1) & (this.deadlines.length - 1)];
  }

  push(deadline: number, slot: number): void {
    if (this.size === this.deadlines.length) this.resize(this.deadlines.length * 2);
    const at = (this.head + this.size) & (this.deadlines.length - 1);
    this.deadlines[at] = deadline;
    this.slots[at] = slot;
    this.size++;
  }

  /** Keeps only the entries `live` accepts, in order. */
  compact(live: (deadline: number, slot: number) => boolean): void {
    const mask = this.deadlines.length - 1;
    let kept = 0;
    for (let index = 0; index < this.size; index++) {
      const from = (this.head + index) & mask;
      if (!live(this.deadlines[from], this.slots[from])) continue;
      const to = (this.head + kept) & mask;
      this.deadlines[to] = this.deadlines[from];
      this.slots[to] = this.slots[from];
      kept++;
    }
    this.size = kept;
    // Shrunk only when far too big: a queue compacted every thousand holds (lazily deleted entries)
    // and refilled would otherwise be reallocated twice per compaction.
    if (this.deadlines.length > shrinkAbove && kept * 8 < this.deadlines.length) this.resize(this.deadlines.length / 2);
  }

  private resize(capacity: number): void {
    const deadlines = new Float64Array(capacity);
    const slots = new Int32Array(capacity);
    const mask = this.deadlines.length - 1;
    for (let index = 0; index < this.size; index++) {
      deadlines[index] = this.deadlines[(this.head + index) & mask];
      slots[index] = this.slots[(this.head + index) & mask];
    }
    this.deadlines = deadlines;
    this.slots = slots;
    this.head = 0;
  }
}

/**
 * Deadlines of held reservations. Holds made with the same TTL and grace come due in the order they
 * were made, so each such TTL gets a FIFO queue: O(1) per hold, no heap, no object per entry. A
 * deadline out of order (a clock that went back) or beyond the queue limit goes to a heap. Entries
 * are (deadline, slot); the caller skips stale ones (settled, extended, or a reused slot whose live
 * reservation's deadline differs), so nothing is ever removed but by popping or compaction.
 */
export class HoldDeadlines {
  private readonly queues = new Map<number, DeadlineQueue>();
  /** The same queues, for iterating without an iterator object. */
  private queueList: DeadlineQueue[] = [];
  private readonly heap = new MinHeap<number>();
  private entries = 0;
  /** No entry is earlier than this (a lower bound, tightened by anyDue): most calls ask only it. */
  private earliestBound = Number.POSITIVE_INFINITY;

  /** `lane`: holds in one lane come due in order (the TTL plus grace they were made with). */
  push(lane: number, deadline: number, slot: number): void {
    let queue = this.queues.get(lane);
    if (!queue && this.queues.size < queuesMax) {
      queue = new DeadlineQueue();
      this.queues.set(lane, queue);
      this.queueList.push(queue);
    }
    if (queue && (queue.size === 0 || queue.last <= deadline)) queue.push(deadline, slot);
    else this.heap.push(deadline, slot);
    this.entries++;
    if (deadline < this.earliestBound) this.earliestBound = deadline;
  }

  /** Whether some entry is due at `now` (stale ones included): one comparison while none can be. */
  anyDue(now: number): boolean {
    if (this.earliestBound > now) return false;
    this.earliestBound = this.peek();
    return this.earliestBound <= now;
  }

  /** The earliest deadline, or Infinity. */
  peek(): number {
    let earliest = this.heap.peekKey() ?? Number.POSITIVE_INFINITY;
    for (let index = 0; index < this.queueList.length; index++) {
      const queue = this.queueList[index];
      if (queue.size > 0 && queue.deadlines[queue.head] < earliest) earliest = queue.deadlines[queue.head];
    }
    return earliest;
  }

  /** Pops every entry due at `now`, earliest first, calling `due(deadline, slot)` for each. */
  popDue(now: number, due: (deadline: number, slot: number) => void): void {
    for (;;) {
      let from: DeadlineQueue | undefined;
      let earliest = this.heap.peekKey() ?? Number.POSITIVE_INFINITY;
      for (let index = 0; index < this.queueList.length; index++) {
        const queue = this.queueList[index];
        if (queue.size > 0 && queue.deadlines[queue.head] < earliest) {
          earliest = queue.deadlines[queue.head];
          from = queue;
        }
      }
      if (earliest > now) {
        this.earliestBound = earliest;
        return;
      }
      let slot: number;
      if (from) {
        slot = from.slots[from.head];
        from.head = (from.head + 1) & (from.deadlines.length - 1);
        from.size--;
      } else {
        slot = this.heap.pop() as number;
      }
      this.entries--;
      due(earliest, slot);
    }
  }

  /** Drops stale entries once they outnumber the live holds: amortized O(1) per hold. */
  compactIfStale(liveCount: number, live: (deadline: number, slot: number) => boolean): void {
    if (this.entries <= 1_024 + 2 * liveCount) return;
    this.entries = 0;
    for (const [lane, queue] of this.queues) {
      queue.compact(live);
      if (queue.size === 0) this.queues.delete(lane);
      this.entries += queue.size;
    }
    this.queueList = [...this.queues.values()];
    const kept: [number, number][] = [];
    while (this.heap.size > 0) {
      const deadline = this.heap.peekKey() as number;
      const slot = this.heap.pop() as number;
      if (live(deadline, slot)) kept.push([deadline, slot]);
    }
    for (const [deadline, slot] of kept) this.heap.push(deadline, slot);
    this.entries += kept.length;
  }
}
