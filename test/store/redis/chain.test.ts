import { afterEach, expect, it } from "vitest";
import { signCheckpoint, verifyChain } from "../../../src/evidence/chain.js";
import { generateSigningKey, KeySet } from "../../../src/evidence/keys.js";
import type { RedisLedgerStore } from "../../../src/store/redis/index.js";
import { chainedStore, spend } from "./chain-support.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const key = generateSigningKey("k1");
const keys = KeySet.of([key]);
type Entry = [string, string[]];

describeRedis("redis store: the audit hash chain", () => {
  const redis = useRedisServer();
  const stores: RedisLedgerStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  const send = (args: string[]) => redis.client.sendCommand(args);

  /** budget.set (seq 1), 9 reserve + commit pairs, linked (checkpoint at 19), 3 more pairs linked (20-25, unsigned). */
  async function chained(): Promise<{ store: RedisLedgerStore; prefix: string; stream: string }> {
    const prefix = uniquePrefix("chain");
    const { store, ledger } = await chainedStore(redis.client, prefix, key, { checkpointEveryEvents: 10 });
    stores.push(store);
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    await spend(ledger, 9); // seq 1-19
    await store.linkChains();
    await spend(ledger, 3); // seq 20-25: fewer than 10 since the checkpoint, so none
    await store.linkChains();
    return { store, prefix, stream: `${prefix}:{tenant:acme}:audit` };
  }

  async function entries(stream: string): Promise<Entry[]> {
    return (await send(["XRANGE", stream, "-", "+"])) as Entry[];
  }

  /** Rewrites the stream with `change` applied (ids as given), as someone with write access could. */
  async function rewrite(stream: string, change: (entries: Entry[]) => Entry[]): Promise<void> {
    const changed = change(await entries(stream));
    await send(["DEL", stream]);
    for (const [id, fields] of changed) await send(["XADD", stream, id, ...fields]);
  }

  /** An entry's fields with its estimate (the value after the "#estimate" field) changed from `from` to `to`. */
  /** The estimate is the fourth part of an entry's "H" field (see src/store/redis/audit-reader.ts). */
  function withEstimate(fields: string[], from: string, to: string): string[] {
    return fields.map((value, index) => {
      if (fields[index - 1] !== "H") return value;
      const parts = value.split(" ");
      if (parts[3] === from) parts[3] = to;
      return parts.join(" ");
    });
  }

  async function firstProblem(store: RedisLedgerStore, keySet = keys) {
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    return verifyChain(exported.records, exported.checkpoints, keySet).problems[0];
  }

  it("links every event into one chain with signed checkpoints that verifies", async () => {
    const { store } = await chained();
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    expect(exported.records.map((record) => record.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(exported.records[1].event).toMatchObject({ seq: 2, type: "reserve", scope: "tenant:acme/agent:a1" });
    expect(exported.checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([19]);
    const verification = verifyChain(exported.records, exported.checkpoints, keys);
    expect(verification.problems).toEqual([]);
    expect(verification.tenants[0]).toMatchObject({ signedThroughSeq: 19, unsignedTail: 6 });
  });

  it("an edited field of a stored event is found at its seq", async () => {
    const { store, stream } = await chained();
    await rewrite(stream, (all) =>
      all.map(([id, fields]) => (id === "0-7" ? [id, withEstimate(fields, "2", "0")] : [id, fields])),
    );
    expect(await firstProblem(store)).toMatchObject({ seq: 7, kind: "edited" });
  });

  it("a deleted event (XDEL) is found at its seq", async () => {
    const { store, stream } = await chained();
    await send(["XDEL", stream, "0-12"]);
    expect(await firstProblem(store)).toMatchObject({ seq: 12, kind: "deleted" });
  });

  it("a forged event inserted (the later ones renumbered) is found at its seq", async () => {
    const { store, stream } = await chained();
    await rewrite(stream, (all) => {
      const forged: Entry = ["", withEstimate(all[4][1], "2", "1")];
      const shifted = [...all.slice(0, 5), forged, ...all.slice(5)];
      return shifted.map(([, fields], index) => [`0-${index + 1}`, fields]);
    });
    expect(await firstProblem(store)).toMatchObject({ seq: 6 });
  });

  it("two events swapped are found at the first of them", async () => {
    const { store, stream } = await chained();
    await rewrite(stream, (all) =>
      all.map(([id, fields], index) => [id, index === 8 ? all[9][1] : index === 9 ? all[8][1] : fields]),
    );
    expect(await firstProblem(store)).toMatchObject({ seq: 9, kind: "edited" });
  });

  it("the tail truncated before the last checkpoint is a deletion after what is left", async () => {
    const { store, stream } = await chained();
    for (let seq = 18; seq <= 25; seq++) await send(["XDEL", stream, `0-${seq}`]);
    expect(await firstProblem(store)).toMatchObject({ seq: 18, kind: "deleted" });
  });

  it("a replaced signature and a checkpoint re-signed with another key are refused at its seq", async () => {
    const { store, prefix } = await chained();
    const checkpointsKey = `${prefix}:{tenant:acme}:checkpoints`;
    const [member] = (await send(["ZRANGEBYSCORE", checkpointsKey, "19", "19"])) as string[];
    const checkpoint = JSON.parse(member.slice(member.indexOf(":") + 1));
    const replace = async (next: object) => {
      await send(["ZREMRANGEBYSCORE", checkpointsKey, "19", "19"]);
      await send(["ZADD", checkpointsKey, "19", `19:${JSON.stringify(next)}`]);
    };
    await replace({ ...checkpoint, signature: checkpoint.signature.replace(/^../, "00") });
    expect(await firstProblem(store)).toMatchObject({ seq: 19, kind: "signature invalid" });
    const other = generateSigningKey("k1"); // the same key id, another key
    await replace(signCheckpoint("tenant:acme", checkpoint, other, checkpoint.atMs));
    expect(await firstProblem(store)).toMatchObject({ seq: 19, kind: "signature invalid" });
    const stranger = generateSigningKey("k2");
    await replace(signCheckpoint("tenant:acme", checkpoint, stranger, checkpoint.atMs));
    expect(await firstProblem(store)).toMatchObject({ seq: 19, kind: "unknown key" });
  });

  it("a trimmed stream still verifies from its retention anchor; links and checkpoints stay bounded", async () => {
    const prefix = uniquePrefix("chain-trim");
    const { store, ledger } = await chainedStore(redis.client, prefix, key, {
      checkpointEveryEvents: 20,
      auditEventsMax: 10,
    });
    stores.push(store);
    await ledger.setBudget({ scope: "tenant:acme", limit: 100_000 });
    for (let round = 0; round < 30; round++) {
      await spend(ledger, 5);
      await store.linkChains();
    }
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    const firstSeq = exported.records[0].seq;
    expect(firstSeq).toBeGreaterThan(1);
    expect(exported.records.at(-1)?.seq).toBe(301);
    // The chain starts at its retention anchor (unsigned). When trimming (whole stream nodes, so
    // where depends on the entries' bytes) cuts right after a checkpoint's seq, the anchor there has
    // been seen both as that signed checkpoint and as an unsigned one; either verifies.
    const anchor = exported.checkpoints[0];
    expect(anchor.seq).toBe(firstSeq - 1);
    if ((firstSeq - 1) % 20 !== 0 || anchor.keyId === "") expect(anchor).toMatchObject({ keyId: "", signature: "" });
    else expect(anchor).toMatchObject({ keyId: "k1", signature: expect.stringMatching(/^[0-9a-f]{128}$/) });
    const verification = verifyChain(exported.records, exported.checkpoints, keys);
    expect(verification.problems).toEqual([]);
    expect(verification.tenants[0]).toMatchObject({ trimmedThroughSeq: firstSeq - 1, lastSeq: 301 });
    const streamLength = Number(await send(["XLEN", `${prefix}:{tenant:acme}:audit`]));
    const batches = (await send(["ZRANGE", `${prefix}:{tenant:acme}:chain`, "0", "-1"])) as string[];
    const links = batches.flatMap((batch) => batch.split(","));
    expect(links.length).toBeLessThanOrEqual(streamLength + batches[0].split(",").length);
    expect(Number(links[0].split(":")[0])).toBeLessThanOrEqual(firstSeq - 1);
    const checkpoints = (await send(["ZRANGE", `${prefix}:{tenant:acme}:checkpoints`, "0", "-1"])) as string[];
    expect(checkpoints.every((member) => Number(member.split(":")[0]) >= firstSeq - 1)).toBe(true);
  });

  it("without evidence the store writes no chain keys, and linkChains starts no chain", async () => {
    const prefix = uniquePrefix("chain-off");
    const { createRedisStore } = await import("../../../src/store/redis/index.js");
    const { StoreLedger } = await import("../../../src/ledger/ledger.js");
    const store = (await createRedisStore({ redis: redis.client, prefix })) as RedisLedgerStore;
    stores.push(store);
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await spend(ledger, 2);
    await store.linkChains(); // links only chains that exist: it starts none
    const base = `${prefix}:{tenant:acme}:`;
    expect(await send(["EXISTS", `${base}chain`, `${base}chain-head`, `${base}checkpoints`])).toBe(0);
    expect(await store.chainExport({ tenant: "tenant:acme" })).toEqual({ records: [], checkpoints: [] });
  });
});
