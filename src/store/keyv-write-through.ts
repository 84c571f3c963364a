import type Keyv from "keyv";

const resolved = Promise.resolve();
const noKeys: string[] = [];

/**
 * The embedded store's persistence: which keys are known in the cache, loading the rest from keyv
 * once each, and writing changed records through in order. When disabled (keyv's own in-memory
 * Map as backend) every method is a no-op: the store's cache is then all the state there is.
 */
export class KeyvWriteThrough {
  /** Keys loaded from keyv (or known absent): the cache is authoritative for these. */
  private readonly loaded = new Set<string>();
  private readonly loading = new Map<string, Promise<void>>();
  private dirty = new Map<string, { value: unknown; ttlMs?: number } | null>();
  /** Records computed at flush time (indexes), so a burst of changes writes them once. */
  private readonly deferred = new Map<string, () => unknown>();
  private flushing: Promise<void> = resolved;
  private flushScheduled: Promise<void> | null = null;

  constructor(
    readonly keyv: Keyv,
    readonly enabled: boolean,
    /** Puts a value loaded from keyv into the store's cache. */
    private readonly onLoaded: (key: string, value: unknown) => void,
  ) {}

  markLoaded(key: string): void {
    if (this.enabled) this.loaded.add(key);
  }

  forgetLoaded(key: string): void {
    if (this.enabled) this.loaded.delete(key);
  }

  missing(keys: string[]): string[] {
    if (!this.enabled) return noKeys;
    return keys.filter((key) => !this.loaded.has(key));
  }

  /** Loads keys from keyv into the cache, once each; concurrent loads of one key share a promise. */
  async load(keys: string[]): Promise<void> {
    if (!this.enabled) return;
    const waits: Promise<void>[] = [];
    const fresh: string[] = [];
    for (const key of keys) {
      if (this.loaded.has(key)) continue;
      const pending = this.loading.get(key);
      if (pending) waits.push(pending);
      else fresh.push(key);
    }
    if (fresh.length > 0) {
      const load = this.keyv.getMany(fresh).then((values) => {
        let broken: unknown;
        fresh.forEach((key, index) => {
          this.loading.delete(key);
          // A write since the load started wins: the cache is authoritative once a key is known.
          if (this.loaded.has(key)) return;
          const value = values[index];
          try {
            if (value !== undefined && value !== null) this.onLoaded(key, value);
          } catch (error) {
            // A record the store refuses stays unloaded: every later read fails on it again, and it is
            // never mistaken for an absent (zero) record.
            broken ??= error;
            return;
          }
          this.loaded.add(key);
        });
        if (broken !== undefined) throw broken;
      });
      for (const key of fresh) this.loading.set(key, load);
      waits.push(load);
    }
    if (waits.length > 0) await Promise.all(waits);
  }

  /** Marks a record to write (or, with null, to delete) at the next flush. */
  persist(key: string, value: unknown, ttlMs?: number): void {
    if (!this.enabled) return;
    this.dirty.set(key, value === null ? null : { value, ttlMs });
  }

  /** Like persist, but the value is computed when the flush runs. */
  persistLater(key: string, value: () => unknown): void {
    if (this.enabled) this.deferred.set(key, value);
  }

  /**
   * Writes dirty records through to keyv. Concurrent callers share one batch; batches run in order,
   * each writing the latest cached value, so keyv converges to the cache.
   */
  flush(): Promise<void> {
    if (!this.enabled) return resolved;
    if (this.flushScheduled) return this.flushScheduled;
    this.flushScheduled = this.flushing.then(() => {
      this.flushScheduled = null;
      return this.writeDirty();
    });
    this.flushing = this.flushScheduled;
    return this.flushScheduled;
  }

  private async writeDirty(): Promise<void> {
    const batch = this.dirty;
    this.dirty = new Map();
    for (const [key, value] of this.deferred) batch.set(key, { value: value() });
    this.deferred.clear();
    const sets: { key: string; value: unknown; ttl?: number }[] = [];
    const deletes: string[] = [];
    for (const [key, entry] of batch) {
      if (entry === null) deletes.push(key);
      // keyv serializes on write; the cache may move on meanwhile, and a later flush writes it again.
      else sets.push({ key, value: entry.value, ttl: entry.ttlMs });
    }
    if (sets.length > 0) await this.keyv.setMany(sets);
    if (deletes.length > 0) await this.keyv.deleteMany(deletes);
  }
}
