import type { JsonObject } from "./canonical.js";
import { type ChainHead, type Checkpoint, recordHashOf, signCheckpoint, unsignedCheckpoint } from "./chain.js";
import type { EvidenceConfig } from "./options.js";

/**
 * Links written audit events into each tenant's hash chain, off the reserve/commit path, and signs
 * checkpoints at a bounded interval. A store writes each event with its per-tenant `seq` in the
 * operation's own atomic step (so no two events share one and none lacks one); the linker hashes
 * them afterwards and seals them with one compare-and-set per batch. Every process linking one
 * store computes the same hashes (hashing is deterministic), so a second link of a seq is a no-op and
 * a writer that died between the two steps leaves events the next link call picks up.
 */

/** One linked seq: its hash and the hash it follows. */
export interface ChainLink {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface SequencedEvent {
  seq: number;
  /** The event exactly as the store's audit reader returns it: what is hashed and exported. */
  event: JsonObject;
}

/** What a store offers the linker; every method touches one tenant. */
export interface ChainBackend {
  /** The last sealed (linked) record of the tenant, or `{ seq: 0, hash: genesisHash }`. */
  sealedHead(tenant: string): Promise<ChainHead>;
  /** At most `limit` events with seq > `afterSeq`, in seq order. */
  eventsAfter(tenant: string, afterSeq: number, limit: number): Promise<SequencedEvent[]>;
  /**
   * Stores `links` (consecutive seqs from `from.seq + 1`) and moves the sealed head to the last one,
   * only if the sealed head is still `from`. Answers the sealed head after the call: the new one, or
   * whatever another linker sealed meanwhile.
   */
  seal(tenant: string, from: ChainHead, links: readonly ChainLink[]): Promise<ChainHead>;
  /** Keeps a checkpoint; one at or below the newest kept one is ignored. */
  putCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** The newest kept checkpoint of the tenant. */
  lastCheckpoint(tenant: string): Promise<Checkpoint | undefined>;
}

/** Tenants waiting to be linked: bounded; beyond it the oldest waits for its tenant's next write. */
export const pendingTenantsMax = 100_000;
/** Batches one `linkTenant` call takes before it yields (it is called again on the next tick). */
const linkRoundsMax = 64;

export interface LinkerEvents {
  /** Events were trimmed before they were linked: the chain continues, and a verifier sees the gap. */
  onGap?: (tenant: string, fromSeq: number, toSeq: number) => void;
  /** A link or checkpoint call failed (store down): retried on the tenant's next write or tick. */
  onError?: (error: unknown, tenant: string) => void;
}

interface TenantState {
  lastCheckpointSeq: number;
  lastCheckpointAtMs: number;
}

/**
 * Hashes a batch of a tenant's events after `head` (events at or below it are skipped: sealed
 * meanwhile). Events trimmed before they were linked leave a gap a verifier reports.
 */
export function linksAfter(
  tenant: string,
  head: ChainHead,
  batch: readonly SequencedEvent[],
  onGap?: (tenant: string, fromSeq: number, toSeq: number) => void,
): ChainLink[] {
  const links: ChainLink[] = [];
  let prevHash = head.hash;
  let expected = head.seq + 1;
  for (const { seq, event } of batch) {
    if (seq < expected) continue;
    if (seq > expected) onGap?.(tenant, expected, seq - 1);
    const hash = recordHashOf(tenant, seq, prevHash, event);
    links.push({ seq, prevHash, hash });
    prevHash = hash;
    expected = seq + 1;
  }
  return links;
}

const noop = () => undefined;

export class ChainLinker {
  private readonly pending = new Set<string>();
  private readonly running = new Map<string, Promise<ChainHead>>();
  private readonly state = new Map<string, TenantState>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing: Promise<void> | undefined;
  private flushAfter: Promise<void> | undefined;

  constructor(
    private readonly backend: ChainBackend,
    private readonly config: EvidenceConfig,
    private readonly events: LinkerEvents = {},
    private readonly clockMs: () => number = Date.now,
  ) {}

  /** A store calls this after each write of an event of `tenant`. */
  noteWritten(tenant: string): void {
    if (this.pending.size >= pendingTenantsMax && !this.pending.has(tenant)) return;
    this.pending.add(tenant);
  }

  /** Links on a timer until close(); the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.config.linkIntervalMs);
    this.timer.unref?.();
  }

  /**
   * Links every tenant written before this call and signs the checkpoints that are due. A flush in
   * progress may have read its events before the latest writes: the call then waits for it and for
   * one more after it (shared by every call made meanwhile), so an export right after a write has it.
   */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushPending().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    this.flushAfter ??= this.flushing.then(noop, noop).then(() => {
      this.flushAfter = undefined;
      return this.flush();
    });
    return this.flushAfter;
  }

  /** Links what is pending, then stops the timer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.pending.size > 0) await this.flush();
  }

  /**
   * Links a tenant's written events up to its newest (at most `linkRoundsMax` batches per call) and
   * signs a checkpoint when one is due. Concurrent calls for one tenant share one run.
   */
  linkTenant(tenant: string): Promise<ChainHead> {
    const running = this.running.get(tenant);
    if (running) return running;
    const run = this.linkAndCheckpoint(tenant).finally(() => this.running.delete(tenant));
    this.running.set(tenant, run);
    return run;
  }

  private async flushPending(): Promise<void> {
    const tenants = [...this.pending];
    this.pending.clear();
    for (const tenant of tenants) {
      try {
        await this.linkTenant(tenant);
      } catch (error) {
        this.pending.add(tenant);
        this.events.onError?.(error, tenant);
      }
    }
  }

  private async linkAndCheckpoint(tenant: string): Promise<ChainHead> {
    let head = await this.backend.sealedHead(tenant);
    for (let round = 0; round < linkRoundsMax; round++) {
      const batch = await this.backend.eventsAfter(tenant, head.seq, this.config.linkBatchMax);
      if (batch.length === 0) break;
      const links = this.linksAfter(tenant, head, batch);
      const sealed = await this.backend.seal(tenant, head, links);
      head = sealed;
      if (batch.length < this.config.linkBatchMax && sealed.seq === links[links.length - 1]?.seq) break;
      if (round === linkRoundsMax - 1) this.pending.add(tenant); // more to do: the next flush goes on
    }
    await this.checkpointIfDue(tenant, head);
    return head;
  }

  private linksAfter(tenant: string, head: ChainHead, batch: readonly SequencedEvent[]): ChainLink[] {
    return linksAfter(tenant, head, batch, this.events.onGap);
  }

  private async checkpointIfDue(tenant: string, head: ChainHead): Promise<void> {
    if (head.seq === 0) return;
    const state = await this.stateOf(tenant);
    if (head.seq <= state.lastCheckpointSeq) return;
    const nowMs = this.clockMs();
    const due =
      head.seq - state.lastCheckpointSeq >= this.config.checkpointEveryEvents ||
      nowMs - state.lastCheckpointAtMs >= this.config.checkpointIntervalMs;
    if (!due) return;
    const key = this.config.signingKey;
    const checkpoint = key ? signCheckpoint(tenant, head, key, nowMs) : unsignedCheckpoint(tenant, head, nowMs);
    await this.backend.putCheckpoint(checkpoint);
    state.lastCheckpointSeq = head.seq;
    state.lastCheckpointAtMs = nowMs;
  }

  private async stateOf(tenant: string): Promise<TenantState> {
    let state = this.state.get(tenant);
    if (!state) {
      // Another process may have checkpointed this tenant: start from what the store kept.
      const last = await this.backend.lastCheckpoint(tenant);
      state = { lastCheckpointSeq: last?.seq ?? 0, lastCheckpointAtMs: last?.atMs ?? this.clockMs() };
      if (this.state.size >= pendingTenantsMax) this.state.delete(this.state.keys().next().value as string);
      this.state.set(tenant, state);
    }
    return state;
  }
}
