import { StoreReplyError } from "../../core/errors.js";
import type { JsonObject } from "../../evidence/canonical.js";
import {
  type ChainHead,
  type ChainRecord,
  type Checkpoint,
  emptyChainHead,
  genesisHash,
  parseCheckpoint,
  unsignedCheckpoint,
} from "../../evidence/chain.js";
import type { ChainExport } from "../../evidence/export.js";
import type { ChainBackend, ChainLink, SequencedEvent } from "../../evidence/linker.js";
import { chainEventOf } from "./audit-reader.js";
import type { RedisConnection } from "./connection.js";
import type { KeySpace } from "./keys.js";
import { arrayReply, textOf } from "./replies.js";
import { type StoreFunction, scripts } from "./scripts.js";

/** Checkpoints a tenant keeps at most (those before the stream's first entry - 1 go first). */
export const checkpointsKeptMax = 1_024;
/** Stream entries read per round trip by an export. */
const exportPageSize = 512;

type RunFunction = (fn: StoreFunction, key: string, args: string[]) => Promise<unknown>;

/**
 * The linker's view of the Redis store (see lua/chain.ts for the layout). Every call touches one
 * tenant's slot; seal is one FCALL that compares the head and stores the batch.
 */
export class RedisChainBackend implements ChainBackend {
  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: KeySpace,
    private readonly run: RunFunction,
  ) {}

  async sealedHead(tenant: string): Promise<ChainHead> {
    return headOf(await this.call(scripts.chainHead, tenant, []), "chain.head");
  }

  async eventsAfter(tenant: string, afterSeq: number, limit: number): Promise<SequencedEvent[]> {
    const stream = this.keys.auditStream(tenant);
    const entries = await this.connection.send(stream, [
      "XRANGE",
      stream,
      `(0-${afterSeq}`,
      "+",
      "COUNT",
      String(limit),
    ]);
    return streamEntriesOf(entries).map(([id, fields]) => {
      const event = chainEventOf(id, fields);
      return { seq: event.seq, event: event as unknown as JsonObject };
    });
  }

  async seal(tenant: string, from: ChainHead, links: readonly ChainLink[]): Promise<ChainHead> {
    const last = links.at(-1);
    if (!last) return this.sealedHead(tenant);
    const batch = links.map((link) => `${link.seq}:${link.hash}`).join(",");
    return headOf(
      await this.call(scripts.chainSeal, tenant, [String(from.seq), from.hash, String(last.seq), last.hash, batch]),
      "chain.seal",
    );
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.call(scripts.chainCheckpointPut, checkpoint.tenant, [
      String(checkpoint.seq),
      JSON.stringify(checkpoint),
      String(checkpointsKeptMax),
    ]);
  }

  async lastCheckpoint(tenant: string): Promise<Checkpoint | undefined> {
    const member = textOf(await this.call(scripts.chainCheckpointLast, tenant, []), "chain.checkpoint.last", "member");
    return member === "" ? undefined : checkpointOf(member);
  }

  /**
   * A tenant's chain as kept: a record for every stream entry that has a link (oldest first), its
   * prevHash the hash of the link before it; the kept checkpoints; and, when the stream was trimmed,
   * the retention anchor (an unsigned checkpoint at the first entry's seq - 1, from the link kept
   * there). Bounded by the stream's cap: links and checkpoints are trimmed with it.
   */
  async exportTenant(tenant: string, nowMs = Date.now()): Promise<ChainExport> {
    const linksKey = this.keys.chainLinks(tenant);
    const [linkMembers, checkpointMembers] = await Promise.all([
      // Bounded: the stream's cap and one batch (lua/chain.ts trims with the stream).
      this.connection.send(linksKey, ["ZRANGE", linksKey, "0", "-1"]),
      this.connection.send(linksKey, ["ZRANGE", checkpointsKeyOf(linksKey), "0", "-1"]),
    ]);
    const links = arrayReply(linkMembers, "ZRANGE", 0).flatMap((member) => linksOf(textOf(member, "ZRANGE", "links")));
    const checkpoints = arrayReply(checkpointMembers, "ZRANGE", 0).map((member) =>
      checkpointOf(textOf(member, "ZRANGE", "checkpoint")),
    );
    const hashAt = new Map<number, string>();
    const prevHashAt = new Map<number, string>();
    let previous = genesisHash;
    for (const link of links) {
      hashAt.set(link.seq, link.hash);
      prevHashAt.set(link.seq, previous);
      previous = link.hash;
    }
    const records: ChainRecord[] = [];
    const stream = this.keys.auditStream(tenant);
    const lastLinked = links.at(-1)?.seq ?? 0;
    let start = "-";
    for (;;) {
      const page = streamEntriesOf(
        await this.connection.send(stream, [
          "XRANGE",
          stream,
          start,
          `0-${lastLinked}`,
          "COUNT",
          String(exportPageSize),
        ]),
      );
      for (const [id, fields] of page) {
        const event = chainEventOf(id, fields);
        const hash = hashAt.get(event.seq);
        if (hash === undefined) continue; // not linked (a link removed by hand): the verifier sees the gap
        records.push({
          tenant,
          seq: event.seq,
          prevHash: prevHashAt.get(event.seq) as string,
          hash,
          event: event as unknown as JsonObject,
        });
      }
      if (page.length < exportPageSize || lastLinked === 0) break;
      start = `(${page[page.length - 1][0]}`;
    }
    const firstSeq = records[0]?.seq ?? 0;
    const anchorHash = hashAt.get(firstSeq - 1);
    if (
      firstSeq > 1 &&
      anchorHash !== undefined &&
      !checkpoints.some((checkpoint) => checkpoint.seq === firstSeq - 1)
    ) {
      checkpoints.unshift(unsignedCheckpoint(tenant, { seq: firstSeq - 1, hash: anchorHash }, nowMs));
    }
    return { records, checkpoints };
  }

  /**
   * One record: its stream entry, the sealed batch that holds its link and, for the first link of a
   * batch, the batch before it (its prevHash). Undefined when the entry or its link is not kept.
   */
  async recordAt(tenant: string, seq: number): Promise<ChainRecord | undefined> {
    const stream = this.keys.auditStream(tenant);
    const linksKey = this.keys.chainLinks(tenant);
    const [entries, holding] = await Promise.all([
      this.connection.send(stream, ["XRANGE", stream, `0-${seq}`, `0-${seq}`]),
      this.connection.send(linksKey, ["ZRANGE", linksKey, String(seq), "+inf", "BYSCORE", "LIMIT", "0", "1"]),
    ]);
    const [entry] = streamEntriesOf(entries);
    const [batch] = arrayReply(holding, "ZRANGE", 0).map((member) => linksOf(textOf(member, "ZRANGE", "links")));
    const at = batch?.findIndex((link) => link.seq === seq) ?? -1;
    if (!entry || !batch || at < 0) return undefined;
    let prevHash = at > 0 ? batch[at - 1].hash : genesisHash;
    if (at === 0 && seq > 1) {
      const before = await this.connection.send(linksKey, [
        "ZRANGE",
        linksKey,
        `(${seq}`,
        "-inf",
        "BYSCORE",
        "REV",
        "LIMIT",
        "0",
        "1",
      ]);
      const previous = arrayReply(before, "ZRANGE", 0).map((member) => linksOf(textOf(member, "ZRANGE", "links")))[0];
      const last = previous?.at(-1);
      // The link before was trimmed with its event: the record is kept, its place no longer shown.
      if (!last || last.seq !== seq - 1) return undefined;
      prevHash = last.hash;
    }
    const event = chainEventOf(entry[0], entry[1]);
    return { tenant, seq, prevHash, hash: batch[at].hash, event: event as unknown as JsonObject };
  }

  private call(fn: StoreFunction, tenant: string, args: string[]): Promise<unknown> {
    return this.run(fn, this.keys.chainLinks(tenant), [this.keys.tenantBase(tenant), ...args]);
  }
}

function checkpointsKeyOf(linksKey: string): string {
  return `${linksKey.slice(0, -"chain".length)}checkpoints`;
}

function headOf(reply: unknown, operation: string): ChainHead {
  const member = textOf(reply, operation, "head");
  if (member === "") return emptyChainHead;
  return linkOf(member, operation);
}

/** A link "<seq>:<hash>" (the head, or one of a batch's). */
function linkOf(member: string, operation = "chain"): ChainHead {
  const colon = member.indexOf(":");
  const seq = Number(member.slice(0, colon));
  const hash = member.slice(colon + 1);
  if (!(colon > 0 && Number.isSafeInteger(seq) && seq > 0 && /^[0-9a-f]{64}$/.test(hash))) {
    throw new StoreReplyError(operation, `a chain link that is not "<seq>:<hash>"`);
  }
  return { seq, hash };
}

/** A links member: "<seq>:<hash>,<seq>:<hash>,..." in rising seq. */
function linksOf(member: string): ChainHead[] {
  return member.split(",").map((link) => linkOf(link));
}

/** A checkpoints member "<seq>:<checkpoint JSON>". */
function checkpointOf(member: string): Checkpoint {
  try {
    return parseCheckpoint(JSON.parse(member.slice(member.indexOf(":") + 1)));
  } catch (error) {
    throw new StoreReplyError("chain.checkpoint", `a checkpoint that does not parse: ${(error as Error).message}`);
  }
}

function streamEntriesOf(reply: unknown): [string, string[]][] {
  if (!Array.isArray(reply)) throw new StoreReplyError("XRANGE", "expected an array of entries");
  for (const entry of reply) {
    if (!(Array.isArray(entry) && typeof entry[0] === "string" && Array.isArray(entry[1]))) {
      throw new StoreReplyError("XRANGE", "an entry that is not [id, fields]");
    }
  }
  return reply as [string, string[]][];
}
