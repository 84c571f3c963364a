import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { StoreReplyError } from "../../../src/core/errors.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { batchCallsMax } from "../../../src/store/redis/call-batcher.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const read = { name: "lookup", tier: "read" as const };

describeRedis(
  "redis store: calls of the same tick",
  () => {
    const redis = useRedisServer({ needsOwnServer: true });

    /** The shared client, counting the FCALLs of reserves (alone or in a batch) it sends. */
    function countingClient() {
      const sent = { reserveCalls: 0 };
      const client = new Proxy(redis.client, {
        get(target, property) {
          if (property === "sendCommand") {
            return (args: string[]) => {
              if (args[0] === "FCALL" && /_(reserve|batch)$/.test(args[1])) sent.reserveCalls++;
              return target.sendCommand(args);
            };
          }
          const value = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      return { client, sent };
    }

    it("go to Redis as one call per tenant, each with its own answer", async () => {
      const { client, sent } = countingClient();
      const store = await createRedisStore({ redis: client, prefix: uniquePrefix("batch") });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
      await ledger.setBudget({ scope: "tenant:other", limit: 10 });
      const reserves = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          ledger.reserve({ subject: { tenant: index % 2 ? "other" : "acme" }, action: read, estimate: 2 }),
        ),
      );
      expect(sent.reserveCalls).toBe(2); // two tenants, however many reserves
      const decisions = (tenant: number) => reserves.filter((_, index) => index % 2 === tenant).map((r) => r.decision);
      expect(decisions(0)).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DENY"]);
      expect(decisions(1)).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DENY"]);
      expect(new Set(reserves.map((r) => r.reservationId)).size).toBe(11); // 10 holds and one undefined
      const commits = await Promise.all(
        reserves.filter((r) => r.reservationId).map((r) => ledger.commit(r.reservationId as string)),
      );
      expect(commits.every((commit) => commit.charged === 2)).toBe(true);
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 10, reserved: 0 });
      await ledger.close();
    });

    it("share one reading of the server's clock, which no later call reuses", async () => {
      const prefix = uniquePrefix("batch-clock");
      const store = await createRedisStore({ redis: redis.client, prefix });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      const batch = await Promise.all(
        Array.from({ length: 8 }, () => ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 })),
      );
      const expiries = new Set(batch.map((r) => r.expiresAtMs));
      expect(expiries.size).toBe(1); // one instant for the whole batch
      const [batchExpiry] = [...expiries] as number[];
      // A batch whose first operation runs and whose second is missing from its arguments fails
      // half-way; then a call alone must read TIME afresh.
      const library = JSON.stringify(await redis.client.sendCommand(["FUNCTION", "LIST"]));
      const batchName = library.match(/"(tg_[0-9a-f]+_batch)"/)?.[1] as string;
      const tenantKey = (name: string) => `${prefix}:{tenant:acme}:${name}`;
      const limits = "10000,3600000,86400000,604800000,100,10000,100000,3600000";
      await expect(
        redis.client.sendCommand(
          ["FCALL", batchName, "1", tenantKey("budgets"), "2", tenantKey(""), "0", limits].concat([
            "balance",
            "1",
            "tenant:acme|RISK_POINTS",
          ]),
        ),
      ).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 30));
      const alone = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 });
      expect(alone.expiresAtMs as number).toBeGreaterThanOrEqual(batchExpiry + 25);
      await ledger.close();
    });

    it("expire what is due once, and the holds made in one are swept when nobody calls", async () => {
      let offsetMs = 0;
      const store = await createRedisStore({
        redis: redis.client,
        prefix: uniquePrefix("batch-due"),
        timeOffsetMs: () => offsetMs,
      });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
      const subject = { tenant: "acme" };
      await ledger.reserve({ subject, action: read, estimate: 4, ttlMs: 1_000 });
      offsetMs += 60_000; // the hold is past its ttl and grace
      // One batch: its first reserve expires the hold, the rest see the 4 points back.
      const batch = await Promise.all(
        Array.from({ length: 3 }, () => ledger.reserve({ subject, action: read, estimate: 3, ttlMs: 1_000 })),
      );
      expect(batch.map((r) => r.decision)).toEqual(["ALLOW", "ALLOW", "ALLOW"]);
      // Then nobody calls for the tenant: the sweep finds the batch's holds by the deadline it noted.
      offsetMs += 60_000;
      expect(await ledger.sweep()).toBe(3);
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 0, remaining: 10 });
      const expired = await ledger.audit({ scope: "tenant:acme", type: "expire" });
      expect(expired).toHaveLength(4);
      await ledger.close();
    });

    it(`carry at most ${batchCallsMax} calls each`, async () => {
      const { client, sent } = countingClient();
      const store = await createRedisStore({ redis: client, prefix: uniquePrefix("batch-max") });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
      const count = batchCallsMax * 2 + 1;
      const reserves = await Promise.all(
        Array.from({ length: count }, () => ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 })),
      );
      expect(sent.reserveCalls).toBe(3);
      expect(reserves.every((r) => r.decision === "ALLOW")).toBe(true);
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: count });
      await ledger.close();
    });

    it("keep one failing call from failing the others", async () => {
      const prefix = uniquePrefix("batch-fault");
      const store = await createRedisStore({ redis: redis.client, prefix });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme/agent:broken", limit: 100 });
      await ledger.setBudget({ scope: "tenant:acme/agent:fine", limit: 100 });
      const broken = { tenant: "acme", agent: "broken" };
      const held = await ledger.reserve({ subject: broken, action: read, estimate: 1 });
      await ledger.commit(held.reservationId as string);
      const countersKey = `${prefix}:{tenant:acme}:counters`;
      const [field] = ((await redis.client.sendCommand(["HKEYS", countersKey])) as string[]).filter(
        (name) => !name.startsWith("~"), // the definitions version's mirror
      );
      await redis.client.sendCommand(["HSET", countersKey, field, "nan:0:0"]);
      const [denied, allowed, balance] = await Promise.allSettled([
        ledger.reserve({ subject: broken, action: read, estimate: 1 }),
        ledger.reserve({ subject: { tenant: "acme", agent: "fine" }, action: read, estimate: 1 }),
        ledger.getBalance({ scope: "tenant:acme/agent:broken" }),
      ]);
      expect(denied).toMatchObject({
        status: "fulfilled",
        value: { decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" },
      });
      expect(allowed).toMatchObject({ status: "fulfilled", value: { decision: "ALLOW" } });
      expect(balance).toMatchObject({ status: "rejected", reason: { code: "INVARIANT_VIOLATED" } });
      await ledger.close();
    });
  },
  { needsOwnServer: true },
);

describe("a batch answered with nonsense", () => {
  it("fails every call in it with StoreReplyError", async () => {
    // Answers +OK to everything: the batch reply is not an array of per-call replies.
    const server: Server = createServer((socket) => {
      socket.on("error", () => undefined);
      socket.on("data", (chunk) => {
        const commands = chunk.toString("latin1").match(/^\*\d+\r\n/gm)?.length ?? 0;
        socket.write("+OK\r\n".repeat(commands));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const store = await createRedisStore({ redis: `redis://127.0.0.1:${port}`, prefix: uniquePrefix("batch-ok") });
    const id = (n: number) => `acme:00000000-0000-4000-8000-00000000000${n}`;
    const results = await Promise.allSettled([1, 2, 3].map((n) => store.release({ reservationId: id(n) })));
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreReplyError);
    }
    await store.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
