import {
  type ChainHead,
  type ChainRecord,
  type Checkpoint,
  emptyChainHead,
  genesisHash,
  unsignedCheckpoint,
} from "../evidence/chain.js";
import type { ChainExport } from "../evidence/export.js";
import { type ChainBackend, type ChainLink, linksAfter, type SequencedEvent } from "../evidence/linker.js";
import type { AuditColumns } from "./keyv-audit.js";

/** Checkpoints a tenant keeps at most (those before its oldest kept event go first), as on Redis. */
export const embeddedCheckpointsKeptMax = 1_024;
const hashBytes = 32;

/** One tenant's chain: the seqs handed out, the sealed head, the hashes from the anchor on. */
interface TenantChainState {
  /** The last chain seq given to an event (gapless: one per event, in write order). */
  written: number;
  head: ChainHead;
  /** The hash of seq `base + i` at bytes [32 i, 32 i + 32); seqs below `anchor` are let go. */
  hashes: Uint8Array;
  base: number;
  /** The oldest seq whose hash is kept: the seq just before the oldest kept event (0: none dropped). */
  anchor: number;
  checkpoints: Checkpoint[];
}

/**
 * The embedded store's half of the audit chain. The store is one process and its writes are
 * synchronous critical sections, so the per-tenant seq is taken in the write (`assign`) and a seal
 * is a plain compare-and-set: nothing can run between its compare and its set. Links are 32-byte
 * hashes in one typed array per tenant, kept from the retention anchor to the sealed head; an event
 * about to be dropped by retention is sealed first (`dropped`), so the chain never has a gap.
 */
export class EmbeddedChain implements ChainBackend {
  /**
   * One entry per tenant ever audited (a few hundred bytes once its events are gone): dropping one
   * would begin its chain again at seq 1 beside checkpoints already handed out.
   */
  private readonly tenants = new Map<string, TenantChainState>();

  constructor(private readonly audits: AuditColumns) {
    audits.chainWith((tenant, chainSeq) => this.dropped(tenant, chainSeq));
  }

  /** The next seq of the tenant's chain, for the event being written now. */
  assign(tenant: string): number {
    const state = this.stateOf(tenant);
    state.written++;
    return state.written;
  }

  /** Tenants that have a chain, in the order they began one. */
  tenantNames(): string[] {
    return [...this.tenants.keys()];
  }

  async sealedHead(tenant: string): Promise<ChainHead> {
    return this.tenants.get(tenant)?.head ?? emptyChainHead;
  }

  async eventsAfter(tenant: string, afterSeq: number, limit: number): Promise<SequencedEvent[]> {
    return this.unsealed(tenant, afterSeq, limit);
  }

  async seal(tenant: string, from: ChainHead, links: readonly ChainLink[]): Promise<ChainHead> {
    return this.sealNow(tenant, from, links);
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const state = this.stateOf(checkpoint.tenant);
    if ((state.checkpoints.at(-1)?.seq ?? 0) >= checkpoint.seq) return;
    state.checkpoints.push(checkpoint);
    this.trimCheckpoints(state);
  }

  async lastCheckpoint(tenant: string): Promise<Checkpoint | undefined> {
    return this.tenants.get(tenant)?.checkpoints.at(-1);
  }

  /** Hashes and seals every event of the tenant up to `throughSeq`, now (synchronously). */
  sealThrough(tenant: string, throughSeq: number): ChainHead {
    const state = this.tenants.get(tenant);
    if (!state) return emptyChainHead;
    const from = state.head;
    if (throughSeq <= from.seq) return from;
    const links = linksAfter(tenant, from, this.unsealed(tenant, from.seq, throughSeq - from.seq));
    return this.sealNow(tenant, from, links);
  }

  /**
   * The tenant's chain as kept: a record for every kept event (all sealed first), the kept
   * checkpoints and, when retention dropped the oldest, the unsigned anchor at the first seq - 1.
   */
  exportTenant(tenant: string, nowMs: number): ChainExport {
    const state = this.tenants.get(tenant);
    if (!state) return { records: [], checkpoints: [] };
    this.sealThrough(tenant, state.written);
    const records: ChainRecord[] = [];
    for (const { seq, event } of this.unsealed(tenant, state.anchor, state.head.seq - state.anchor)) {
      records.push({ tenant, seq, prevHash: this.hashAt(state, seq - 1), hash: this.hashAt(state, seq), event });
    }
    const firstSeq = records[0]?.seq ?? 0;
    // Retention dropped every event of the tenant: nothing is left for a checkpoint to cover.
    if (firstSeq === 0) return { records, checkpoints: [] };
    // A checkpoint below the anchor covers only records that are gone.
    const checkpoints = state.checkpoints.filter((checkpoint) => checkpoint.seq >= firstSeq - 1);
    if (firstSeq > 1 && !checkpoints.some((checkpoint) => checkpoint.seq === firstSeq - 1)) {
      checkpoints.unshift(
        unsignedCheckpoint(tenant, { seq: firstSeq - 1, hash: this.hashAt(state, firstSeq - 1) }, nowMs),
      );
    }
    return { records, checkpoints };
  }

  /** The tenant's record at `seq` (sealed first), or undefined when no kept event has that seq. */
  recordAt(tenant: string, seq: number): ChainRecord | undefined {
    const state = this.tenants.get(tenant);
    if (!state || seq <= state.anchor || seq > state.written) return undefined;
    this.sealThrough(tenant, seq);
    const [found] = this.unsealed(tenant, seq - 1, 1);
    if (found?.seq !== seq) return undefined;
    return { tenant, seq, prevHash: this.hashAt(state, seq - 1), hash: this.hashAt(state, seq), event: found.event };
  }

  /** Retention drops the tenant's event at `chainSeq` (its oldest): seal up to it, then let go of what is older. */
  private dropped(tenant: string, chainSeq: number): void {
    const state = this.tenants.get(tenant);
    if (!state) return;
    if (chainSeq > state.head.seq) this.sealThrough(tenant, chainSeq);
    state.anchor = chainSeq;
    this.trimCheckpoints(state);
  }

  private unsealed(tenant: string, afterSeq: number, limit: number): SequencedEvent[] {
    return this.audits.chainEvents(tenant, afterSeq, limit) as unknown as SequencedEvent[];
  }

  private sealNow(tenant: string, from: ChainHead, links: readonly ChainLink[]): ChainHead {
    const state = this.tenants.get(tenant);
    const head = state?.head ?? emptyChainHead;
    const last = links.at(-1);
    if (!state || !last || head.seq !== from.seq || head.hash !== from.hash) return head;
    for (const link of links) this.putHash(state, link.seq, link.hash);
    state.head = { seq: last.seq, hash: last.hash };
    return state.head;
  }

  private putHash(state: TenantChainState, seq: number, hash: string): void {
    let index = seq - state.base;
    if ((index + 1) * hashBytes > state.hashes.length) {
      const kept = seq - state.anchor; // hashes from the anchor up to seq - 1
      const start = (state.anchor - state.base) * hashBytes;
      const grown = new Uint8Array(Math.max(64, 2 * (kept + 1)) * hashBytes);
      grown.set(state.hashes.subarray(start, start + kept * hashBytes));
      state.hashes = grown;
      state.base = state.anchor;
      index = seq - state.base;
    }
    state.hashes.set(Buffer.from(hash, "hex"), index * hashBytes);
  }

  private hashAt(state: TenantChainState, seq: number): string {
    if (seq === 0) return genesisHash;
    const at = (seq - state.base) * hashBytes;
    return Buffer.from(state.hashes.buffer, state.hashes.byteOffset + at, hashBytes).toString("hex");
  }

  /** Checkpoints below the anchor go (the newest always stays), and at most the newest `embeddedCheckpointsKeptMax`. */
  private trimCheckpoints(state: TenantChainState): void {
    const list = state.checkpoints;
    let drop = 0;
    while (drop < list.length - 1 && list[drop].seq < state.anchor) drop++;
    drop = Math.max(drop, list.length - embeddedCheckpointsKeptMax);
    if (drop > 0) list.splice(0, drop);
  }

  private stateOf(tenant: string): TenantChainState {
    let state = this.tenants.get(tenant);
    if (!state) {
      state = { written: 0, head: emptyChainHead, hashes: new Uint8Array(0), base: 0, anchor: 0, checkpoints: [] };
      this.tenants.set(tenant, state);
    }
    return state;
  }
}
