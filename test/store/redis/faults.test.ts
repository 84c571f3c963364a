import KeyvRedis from "@keyv/redis";
import { createClient } from "@redis/client";
import Keyv from "keyv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import type { LedgerStore } from "../../../src/store/types.js";
import { type RedisServerHandle, startRedisServer } from "../../helpers/redis-server.js";
import { describeRedis, uniquePrefix } from "./support.js";

const subject = { tenant: "acme", toolset: "search" };
const read = { name: "search", tier: "read" as const };
const write = { name: "send_email", tier: "write-external" as const };

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

// These tests kill and restart the server, so they always start their own (REDIS_URL is not used).
describeRedis(
  "redis store faults",
  () => {
    let server: RedisServerHandle;
    beforeAll(async () => {
      server = await startRedisServer({ appendOnly: true, needsOwnServer: true });
    });
    afterAll(async () => {
      await server?.stop();
    });

    describe("Redis killed mid-run", () => {
      it("fails closed within the bound, never allows, and recovers by itself when Redis is back", async () => {
        const prefix = uniquePrefix("outage");
        const ledger = createLedger({ redis: server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
        const held = await ledger.reserve({ subject, action: write, estimate: 5 });
        expect(held.decision).toBe("ALLOW");

        await server.kill();
        for (let attempt = 0; attempt < 3; attempt++) {
          const startedAtMs = Date.now();
          const denied = await ledger.reserve({ subject, action: read, estimate: 1 });
          expect(Date.now() - startedAtMs).toBeLessThanOrEqual(2_500);
          expect(denied).toMatchObject({ decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" });
        }
        const startedAtMs = Date.now();
        await expect(ledger.commit(held.reservationId as string)).rejects.toMatchObject({
          code: "LEDGER_UNAVAILABLE",
        });
        // Three attempts, each bounded: the caller is never left hanging.
        expect(Date.now() - startedAtMs).toBeLessThanOrEqual(8_000);

        await server.restart();
        const recovered = await waitFor(
          () => ledger.reserve({ subject, action: read, estimate: 1 }),
          (response) => response.decision !== "DENY",
          10_000,
        );
        expect(recovered.decision).toBe("ALLOW");
        // The hold from before the outage survived (AOF) and settles once.
        const committed = await ledger.commit(held.reservationId as string, { actual: 4 });
        expect(committed.charged).toBe(4);
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 4, reserved: 1 });
        await ledger.close();
      }, 40_000);

      it("fails open for the read tier only when asked to", async () => {
        const stopped = await startRedisServer({ needsOwnServer: true });
        await stopped.kill();
        const strict = createLedger({ redis: stopped.url, sweepIntervalMs: 0 });
        const lenient = createLedger({ redis: stopped.url, sweepIntervalMs: 0, failOpenTiers: ["read"] });
        expect(await strict.reserve({ subject, action: read, estimate: 1 })).toMatchObject({
          decision: "DENY",
          reasonCode: "LEDGER_UNAVAILABLE",
        });
        const open = await lenient.reserve({ subject, action: read, estimate: 1 });
        expect(open).toMatchObject({ decision: "ALLOW", reasonCode: "LEDGER_UNAVAILABLE" });
        expect(open.reservationId).toBeUndefined();
        expect(await lenient.reserve({ subject, action: write, estimate: 1 })).toMatchObject({ decision: "DENY" });
        await strict.close();
        await lenient.close();
        await stopped.stop();
      }, 20_000);
    });

    describe("Redis restarted with AOF", () => {
      it("keeps balances, open holds, idempotency records and the audit log", async () => {
        const prefix = uniquePrefix("aof");
        const first = createLedger({ redis: server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
        await first.setBudget({ scope: "tenant:acme", limit: 100 });
        await first.setBudget({ scope: "tenant:acme/toolset:search", limit: 40, window: "run" });
        const committedIds: string[] = [];
        for (let n = 0; n < 3; n++) {
          const response = await first.reserve({ subject, action: read, estimate: 10, runId: "thread-1" });
          committedIds.push(response.reservationId as string);
          await first.commit(response.reservationId as string, { actual: 7, idempotencyKey: `commit-${n}` });
        }
        const open = await first.reserve({ subject, action: read, estimate: 5, runId: "thread-1" });
        const before = {
          tenant: await first.getBalance({ scope: "tenant:acme" }),
          run: await first.getBalance({ scope: "tenant:acme/toolset:search", runId: "thread-1" }),
          audit: await first.audit({ scope: "tenant:acme" }),
        };
        await first.close();

        await server.restart(); // SIGKILL, then start over the same append-only file
        const second = createLedger({ redis: server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
        expect(await second.getBalance({ scope: "tenant:acme" })).toEqual(before.tenant);
        expect(await second.getBalance({ scope: "tenant:acme/toolset:search", runId: "thread-1" })).toEqual(before.run);
        expect(before.tenant).toMatchObject({ spent: 21, reserved: 5, remaining: 74 });
        expect(await second.audit({ scope: "tenant:acme" })).toEqual(before.audit);
        // A retried commit after the restart replays instead of charging again.
        const replayed = await second.commit(committedIds[0], { actual: 7, idempotencyKey: "commit-0" });
        expect(replayed).toMatchObject({ charged: 7, replayed: true });
        expect(await second.getBalance({ scope: "tenant:acme" })).toEqual(before.tenant);
        expect(await second.getReservation(open.reservationId as string)).toMatchObject({
          status: "held",
          estimate: 5,
        });
        await second.commit(open.reservationId as string);
        expect(await second.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 26, reserved: 0 });
        await second.close();
      }, 30_000);
    });

    describe("retries", () => {
      it("a commit whose reply was lost is retried with the same idempotency key and charged once", async () => {
        const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("retry") });
        let lostReplies = 1;
        // The first commit reaches Redis and runs, but its reply never comes back.
        const lossy: LedgerStore = Object.assign(Object.create(store) as LedgerStore, {
          commit: async (command: Parameters<LedgerStore["commit"]>[0]) => {
            const outcome = await store.commit(command);
            if (lostReplies-- > 0) throw new Error("socket closed before the reply");
            return outcome;
          },
        });
        const ledger = new StoreLedger(lossy, { sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const response = await ledger.reserve({ subject, action: read, estimate: 10 });
        const settled = await ledger.commit(response.reservationId as string, { actual: 9 });
        expect(settled).toMatchObject({ charged: 9, replayed: true });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 9, reserved: 0 });
        const commits = await ledger.audit({ scope: "tenant:acme", type: "commit" });
        expect(commits).toHaveLength(1);
        await ledger.close();
      });

      it("keeps a settle's retry token on the reservation: no tenant-wide record, and only that call replays", async () => {
        const prefix = uniquePrefix("token");
        const store = await createRedisStore({ redis: server.url, prefix });
        const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
        const redis = createClient({ url: server.url });
        await redis.connect();
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const response = await ledger.reserve({ subject, action: read, estimate: 10 });
        const id = response.reservationId as string;
        const token = { key: "", fingerprint: "attempt-1" };
        // event -> outcome, one row each
        const rows: [string, () => Promise<unknown>, object][] = [
          [
            "commit with token",
            () => store.commit({ reservationId: id, actual: 4, idempotency: token }),
            { charged: 4, auditSeq: 3 },
          ],
          [
            "same call retried: answered from the record, with the same audit seq",
            () => store.commit({ reservationId: id, actual: 4, idempotency: token }),
            { ok: true, charged: 4, replayed: true, released: 6, auditSeq: 3 },
          ],
          [
            "another commit call",
            () => store.commit({ reservationId: id, actual: 4, idempotency: { key: "", fingerprint: "attempt-2" } }),
            { ok: false, error: "RESERVATION_FINALIZED" },
          ],
          [
            "a release call",
            () => store.release({ reservationId: id, idempotency: { key: "", fingerprint: "attempt-3" } }),
            { ok: false, error: "RESERVATION_FINALIZED" },
          ],
          ["ledger commit again", () => ledger.commit(id).catch((error) => error), { code: "RESERVATION_FINALIZED" }],
        ];
        for (const [, run, expected] of rows) expect(await run()).toMatchObject(expected);
        // A record settled before the seq was kept with its numbers still answers a retry, without one.
        const [recordKey] = (await redis.sendCommand(["KEYS", `${prefix}:{tenant:acme}:r:*`])) as string[];
        expect(await redis.sendCommand(["HGET", recordKey, "so"])).toBe("0:0:6:3");
        await redis.sendCommand(["HSET", recordKey, "so", "0:0:6"]);
        const older = await store.commit({ reservationId: id, actual: 4, idempotency: token });
        expect(older).toMatchObject({ ok: true, charged: 4, replayed: true });
        expect((older as { auditSeq?: number }).auditSeq).toBeUndefined();
        expect(await redis.sendCommand(["EXISTS", `${prefix}:{tenant:acme}:idempotency`])).toBe(0);
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 4, reserved: 0 });
        expect(await ledger.audit({ scope: "tenant:acme", type: "commit" })).toHaveLength(1);
        await redis.close();
        await ledger.close();
      });

      it("a caller's settle key is still refused on another reservation", async () => {
        const ledger = createLedger({ redis: server.url, redisPrefix: uniquePrefix("reuse"), sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const first = await ledger.reserve({ subject, action: read, estimate: 10 });
        const second = await ledger.reserve({ subject, action: read, estimate: 10 });
        await ledger.commit(first.reservationId as string, { idempotencyKey: "c-1" });
        await expect(ledger.commit(second.reservationId as string, { idempotencyKey: "c-1" })).rejects.toMatchObject({
          code: "IDEMPOTENCY_CONFLICT",
        });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 10, reserved: 10 });
        await ledger.close();
      });
    });

    describe("connections", () => {
      it("reuses the connection of a Keyv built on @keyv/redis", async () => {
        const adapter = new KeyvRedis(server.url);
        const keyv = new Keyv({ store: adapter });
        await keyv.get("warm-up"); // the adapter connects lazily
        const observer = createClient({ url: server.url });
        await observer.connect();
        const connections = async () =>
          Number(/connected_clients:(\d+)/.exec(String(await observer.sendCommand(["INFO", "clients"])))?.[1]);
        const before = await connections();
        const ledger = createLedger({ store: keyv, redisPrefix: uniquePrefix("keyv"), sweepIntervalMs: 0 });
        expect((await ledger.store).name).toBe("redis");
        await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
        const response = await ledger.reserve({ subject, action: read, estimate: 3 });
        expect(response.decision).toBe("ALLOW");
        // No new connection: the ledger's traffic went over the adapter's own client.
        expect(await connections()).toBe(before);
        await ledger.close();
        expect(adapter.client.isOpen).toBe(true);
        await observer.close();
        await keyv.disconnect();
      });

      it("accepts a node-redis client and leaves it open on close", async () => {
        const client = createClient({ url: server.url });
        await client.connect();
        const ledger = createLedger({ redis: client, redisPrefix: uniquePrefix("client"), sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
        expect((await ledger.reserve({ subject, action: read, estimate: 3 })).decision).toBe("ALLOW");
        await ledger.close();
        expect(client.isOpen).toBe(true);
        await client.close();
      });

      it("loads its functions again when the server forgot them (FUNCTION FLUSH, a restart without persistence)", async () => {
        const client = createClient({ url: server.url });
        await client.connect();
        const ledger = createLedger({ redis: client, redisPrefix: uniquePrefix("noscript"), sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
        await client.sendCommand(["FUNCTION", "FLUSH"]);
        const reserves = await Promise.all(
          Array.from({ length: 4 }, () => ledger.reserve({ subject, action: read, estimate: 2 })),
        );
        expect(reserves.map((reserve) => reserve.decision)).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW"]);
        expect(String(await client.sendCommand(["FUNCTION", "LIST"]))).toMatch(/tollgate_/);
        await ledger.close();
        await client.close();
      });
    });
  },
  { needsOwnServer: true },
);
