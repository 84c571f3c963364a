/**
 * A fixed-capacity log: appends overwrite the oldest entry once full, so memory stays flat. Storage
 * grows with use up to the capacity (a log that holds 3 entries costs 3 slots, not `capacity`).
 */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[] = [];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  get size(): number {
    return this.count;
  }

  /** Appends; returns the entry it overwrote, if it was full. */
  push(item: T): T | undefined {
    if (this.count < this.capacity) {
      const at = (this.start + this.count) % this.capacity;
      if (at === this.items.length) this.items.push(item);
      else this.items[at] = item;
      this.count++;
      return undefined;
    }
    const dropped = this.items[this.start];
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
    return dropped;
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const oldest = this.items[this.start];
    this.items[this.start] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
    return oldest;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }
}

/** One tenant's log, linked into the list of logs in order of last write. */
interface TenantLog<T> {
  tenant: string;
  events: RingBuffer<T>;
  newer: TenantLog<T> | undefined;
  older: TenantLog<T> | undefined;
}

/**
 * Audit retention per tenant: each tenant keeps its newest `perTenantMax` events, so one tenant's
 * flood never erases another's trail; all tenants together keep at most `totalMax`, the oldest
 * events of the tenant written to longest ago going first. The order of last write is a linked
 * list, so a write costs O(1) however many tenants there are (a Map reordered on every write
 * leaves deleted entries its iteration has to step over).
 */
export class TenantLogs<T extends { seq: number }> {
  private readonly logs = new Map<string, TenantLog<T>>();
  private newest: TenantLog<T> | undefined;
  private oldest: TenantLog<T> | undefined;
  private total = 0;

  constructor(
    readonly perTenantMax: number,
    readonly totalMax: number,
  ) {
    if (!Number.isSafeInteger(totalMax) || totalMax < 1) throw new RangeError("totalMax must be a positive integer");
  }

  get size(): number {
    return this.total;
  }

  push(tenant: string, item: T): void {
    let log = this.newest?.tenant === tenant ? this.newest : this.logs.get(tenant);
    if (!log) {
      log = { tenant, events: new RingBuffer<T>(this.perTenantMax), newer: undefined, older: undefined };
      this.logs.set(tenant, log);
      this.linkNewest(log);
    } else if (log !== this.newest) {
      this.unlink(log);
      this.linkNewest(log);
    }
    if (log.events.push(item) === undefined) this.total++;
    while (this.total > this.totalMax && this.oldest) {
      const victim = this.oldest;
      victim.events.shift();
      this.total--;
      if (victim.events.size === 0) {
        this.unlink(victim);
        this.logs.delete(victim.tenant);
      }
    }
  }

  /** One tenant's events, or every tenant's merged, oldest first (by seq). */
  toArray(tenant?: string): T[] {
    if (tenant !== undefined) return this.logs.get(tenant)?.events.toArray() ?? [];
    const all: T[] = [];
    for (const log of this.logs.values()) for (const item of log.events.toArray()) all.push(item);
    return all.sort((a, b) => a.seq - b.seq);
  }

  private linkNewest(log: TenantLog<T>): void {
    log.older = this.newest;
    log.newer = undefined;
    if (this.newest) this.newest.newer = log;
    this.newest = log;
    if (!this.oldest) this.oldest = log;
  }

  private unlink(log: TenantLog<T>): void {
    if (log.newer) log.newer.older = log.older;
    else this.newest = log.older;
    if (log.older) log.older.newer = log.newer;
    else this.oldest = log.newer;
    log.newer = undefined;
    log.older = undefined;
  }
}
