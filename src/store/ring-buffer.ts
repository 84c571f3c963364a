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

/**
 * Audit retention per tenant: each tenant keeps its newest `perTenantMax` events, so one tenant's
 * flood never erases another's trail; all tenants together keep at most `totalMax`, the oldest
 * events of the tenant written to longest ago going first.
 */
export class TenantLogs<T extends { seq: number }> {
  /** In order of last write: the first is the tenant written to longest ago. */
  private readonly logs = new Map<string, RingBuffer<T>>();
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
    let log = this.logs.get(tenant);
    if (log) this.logs.delete(tenant);
    else log = new RingBuffer<T>(this.perTenantMax);
    this.logs.set(tenant, log);
    if (log.push(item) === undefined) this.total++;
    while (this.total > this.totalMax) {
      const [oldestTenant, oldestLog] = this.logs.entries().next().value as [string, RingBuffer<T>];
      oldestLog.shift();
      this.total--;
      if (oldestLog.size === 0) this.logs.delete(oldestTenant);
    }
  }

  /** One tenant's events, or every tenant's merged, oldest first (by seq). */
  toArray(tenant?: string): T[] {
    if (tenant !== undefined) return this.logs.get(tenant)?.toArray() ?? [];
    const all: T[] = [];
    for (const log of this.logs.values()) for (const item of log.toArray()) all.push(item);
    return all.sort((a, b) => a.seq - b.seq);
  }
}
