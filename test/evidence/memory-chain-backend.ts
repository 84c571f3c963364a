import type { JsonObject } from "../../src/evidence/canonical.js";
import { type ChainHead, type ChainRecord, type Checkpoint, emptyChainHead } from "../../src/evidence/chain.js";
import type { ChainBackend, ChainLink, SequencedEvent } from "../../src/evidence/linker.js";

/** A ChainBackend over plain arrays, with the compare-and-set a store's seal must give. */
export class MemoryChainBackend implements ChainBackend {
  readonly events = new Map<string, SequencedEvent[]>();
  readonly links = new Map<string, Map<number, ChainLink>>();
  readonly heads = new Map<string, ChainHead>();
  readonly checkpoints = new Map<string, Checkpoint[]>();
  sealCalls = 0;
  /** Runs before each seal answers: lets a test interleave another linker. */
  beforeSeal: (() => Promise<void>) | undefined;

  write(tenant: string, event: JsonObject): number {
    const list = this.events.get(tenant) ?? [];
    const seq = (list.at(-1)?.seq ?? this.trimmedThrough(tenant)) + 1;
    list.push({ seq, event });
    this.events.set(tenant, list);
    return seq;
  }

  /** Retention: drops events up to seq (their links stay known through the next one's prevHash). */
  trim(tenant: string, throughSeq: number): void {
    const list = this.events.get(tenant) ?? [];
    this.trimmed.set(tenant, Math.max(this.trimmedThrough(tenant), throughSeq));
    this.events.set(
      tenant,
      list.filter((entry) => entry.seq > throughSeq),
    );
  }

  private readonly trimmed = new Map<string, number>();
  private trimmedThrough(tenant: string): number {
    return this.trimmed.get(tenant) ?? 0;
  }

  async sealedHead(tenant: string): Promise<ChainHead> {
    return this.heads.get(tenant) ?? emptyChainHead;
  }

  async eventsAfter(tenant: string, afterSeq: number, limit: number): Promise<SequencedEvent[]> {
    return (this.events.get(tenant) ?? []).filter((entry) => entry.seq > afterSeq).slice(0, limit);
  }

  async seal(tenant: string, from: ChainHead, links: readonly ChainLink[]): Promise<ChainHead> {
    this.sealCalls++;
    await this.beforeSeal?.();
    const head = this.heads.get(tenant) ?? emptyChainHead;
    if (head.seq !== from.seq || head.hash !== from.hash || links.length === 0) return head;
    const known = this.links.get(tenant) ?? new Map<number, ChainLink>();
    for (const link of links) known.set(link.seq, link);
    this.links.set(tenant, known);
    const last = links[links.length - 1];
    const sealed = { seq: last.seq, hash: last.hash };
    this.heads.set(tenant, sealed);
    return sealed;
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const list = this.checkpoints.get(checkpoint.tenant) ?? [];
    if ((list.at(-1)?.seq ?? 0) >= checkpoint.seq) return;
    list.push(checkpoint);
    this.checkpoints.set(checkpoint.tenant, list);
  }

  async lastCheckpoint(tenant: string): Promise<Checkpoint | undefined> {
    return this.checkpoints.get(tenant)?.at(-1);
  }

  /** What an export writes: the linked records still kept, oldest first. */
  records(tenant: string): ChainRecord[] {
    const links = this.links.get(tenant) ?? new Map<number, ChainLink>();
    return (this.events.get(tenant) ?? []).flatMap(({ seq, event }) => {
      const link = links.get(seq);
      return link ? [{ tenant, seq, prevHash: link.prevHash, hash: link.hash, event }] : [];
    });
  }
}
