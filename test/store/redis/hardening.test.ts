import { createServer, type Server } from "node:net";
import { createClient } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerUnavailableError, StoreReplyError, TollgateError } from "../../../src/core/errors.js";
import { holdDeadlineMs } from "../../../src/core/hold-deadline.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { asStoreError } from "../../../src/store/redis/connection.js";
import { createRedisStore, RedisUnavailableError } from "../../../src/store/redis/index.js";
import type { LedgerStore } from "../../../src/store/types.js";
import { type RedisServerHandle, startRedisServer } from "../../helpers/redis-server.js";
import { describeRedis, uniquePrefix } from "./support.js";

const subject = { tenant: "acme", toolset: "search" };
const read = { name: "search", tier: "read" as const };

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await probe();
  }
  return value;
}

/** A TCP server that answers `+OK` to every command: speaks RESP, but is no ledger store. */
async function startOkServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => {
    let buffered = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      // One +OK per complete command (`*<n>` then n bulk strings).
      for (;;) {
        const consumed = commandLength(buffered);
        if (consumed === 0) break;
        buffered = buffered.slice(consumed);
        socket.write("+OK\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Length of the first complete RESP command in `text`, or 0 when it is not complete yet. */
function commandLength(text: string): number {
  const header = /^\*(\d+)\r\n/.exec(text);
  if (!header) return 0;
  let at = header[0].length;
  for (let index = 0; index < Number(header[1]); index++) {
    const bulk = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (!bulk) return 0;
    at += bulk[0].length + Number(bulk[1]) + 2;
    if (at > text.length) return 0;
  }
  return at;
}

describe("one error model", () => {
  it("store faults are TollgateErrors with a transient flag; a bad reply is not transient", () => {
    const unavailable = new RedisUnavailableError("no reply");
    expect(unavailable).toBeInstanceOf(TollgateError);
    expect(unavailable).toBeInstanceOf(LedgerUnavailableError);
    expect(unavailable).toMatchObject({ code: "LEDGER_UNAVAILABLE", transient: true });
    expect(new LedgerUnavailableError("late").transient).toBe(true);
    expect(new StoreReplyError("reserve", "nonsense")).toMatchObject({ code: "STORE_REPLY_INVALID", transient: false });
  });

  it("a script that fails at run time is a bug, never retried as a transient fault", () => {
    const failed = asStoreError(
      new Error(
        "ERR user_script:12: attempt to call local 'amount' (a number value) script: 4f2a..., on @user_script:12.",
      ),
    );
    expect(failed).toMatchObject({ code: "INVARIANT_VIOLATED", transient: false });
    expect(asStoreError(new Error("LOADING Redis is loading the dataset in memory"))).toMatchObject({
      code: "LEDGER_UNAVAILABLE",
      transient: true,
    });
  });
});

describeRedis(
  "redis store hardening",
  () => {
    let server: RedisServerHandle;
    beforeAll(async () => {
      server = await startRedisServer({ needsOwnServer: true });
    });
    afterAll(async () => {
      server?.resume();
      await server?.stop();
    });

    it("keeps every amount exact up to 2^53 - 1 in reserve, commit and balance answers", async () => {
      const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("precision") });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      const max = Number.MAX_SAFE_INTEGER;
      await ledger.setBudget({ scope: "tenant:acme", limit: max });
      const held = await ledger.reserve({ subject, action: read, estimate: max - 2 });
      expect(held.decision).toBe("ALLOW");
      expect(held.balances[0]).toMatchObject({ allocated: max, reserved: max - 2, remaining: 2 });
      const committed = await ledger.commit(held.reservationId as string, { actual: max - 1 });
      expect(committed).toMatchObject({ charged: max - 1, released: 0 });
      expect(committed.balances[0]).toMatchObject({ allocated: max, spent: max - 1, reserved: 0, remaining: 1 });
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: max, spent: max - 1 });
      // The audit's balances travel as stream fields formatted by Redis, not JSON built in Lua: exact too.
      const [reserveEvent, commitEvent] = (await ledger.audit({ scope: "tenant:acme" })).slice(-2);
      expect(reserveEvent.balances).toEqual([{ scope: "tenant:acme", allocated: max, remaining: 2 }]);
      expect(commitEvent.balances).toEqual([{ scope: "tenant:acme", allocated: max, remaining: 1 }]);
      await ledger.close();
    });

    it("retries a settle on a transient LedgerUnavailableError, as on any transient fault", async () => {
      const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("transient") });
      let failures = 1;
      const flaky: LedgerStore = Object.assign(Object.create(store) as LedgerStore, {
        commit: async (command: Parameters<LedgerStore["commit"]>[0]) => {
          const outcome = await store.commit(command);
          if (failures-- > 0) throw new LedgerUnavailableError("the answer was lost");
          return outcome;
        },
      });
      const ledger = new StoreLedger(flaky, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await ledger.reserve({ subject, action: read, estimate: 10 });
      expect(await ledger.commit(held.reservationId as string, { actual: 7 })).toMatchObject({
        charged: 7,
        replayed: true,
      });
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 7, reserved: 0 });
      await ledger.close();
    });

    it("a commit against a hung server fails within the store timeout, retries included", async () => {
      const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("bound") });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await ledger.reserve({ subject, action: read, estimate: 10 });
      server.pause();
      try {
        const startedAtMs = Date.now();
        await expect(ledger.commit(held.reservationId as string, { idempotencyKey: "c-1" })).rejects.toMatchObject({
          code: "LEDGER_UNAVAILABLE",
        });
        // The default bound is 2 s, as for a reserve (timer slack aside).
        expect(Date.now() - startedAtMs).toBeLessThan(2_400);
      } finally {
        server.resume();
      }
      // The commits queued in the socket ran once the server resumed: the retry replays them, charged once.
      expect(await ledger.commit(held.reservationId as string, { idempotencyKey: "c-1" })).toMatchObject({
        charged: 10,
      });
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 10, reserved: 0 });
      await ledger.close();
    }, 20_000);

    it("releases a hold made by a reserve whose answer came too late: caller, audit and balance agree", async () => {
      const store = await createRedisStore({
        redis: server.url,
        prefix: uniquePrefix("lost"),
        commandTimeoutMs: 200,
      });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0, storeTimeoutMs: 300 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      server.pause();
      let told: Awaited<ReturnType<typeof ledger.reserve>>;
      try {
        // The command waits in the socket and runs once the server resumes; the caller hears DENY now.
        told = await ledger.reserve({ subject, action: read, estimate: 100 });
      } finally {
        server.resume();
      }
      expect(told).toMatchObject({ decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" });
      const balance = await waitFor(
        () => ledger.getBalance({ scope: "tenant:acme" }),
        (value) => value?.reserved === 0 && value.remaining === 100,
        5_000,
      );
      expect(balance).toMatchObject({ reserved: 0, remaining: 100 });
      const events = await waitFor(
        () => ledger.audit({ scope: "tenant:acme" }),
        (list) => list.some((event) => event.type === "release"),
        5_000,
      );
      const reserveEvent = events.find((event) => event.type === "reserve");
      const releaseEvent = events.find((event) => event.type === "release");
      expect(reserveEvent?.decision).toBe("ALLOW");
      expect(releaseEvent?.reservationId).toBe(reserveEvent?.reservationId);
      expect(releaseEvent?.detail).toMatch(/answer/);
      expect((await ledger.reserve({ subject, action: read, estimate: 100 })).decision).toBe("ALLOW");
      await ledger.close();
    }, 20_000);

    it("a retry with the lost reserve's idempotency key gets a hold it can commit, and only one is held", async () => {
      const store = await createRedisStore({
        redis: server.url,
        prefix: uniquePrefix("lost-key"),
        commandTimeoutMs: 200,
      });
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0, storeTimeoutMs: 300 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      server.pause();
      try {
        expect(await ledger.reserve({ subject, action: read, estimate: 60, idempotencyKey: "k-1" })).toMatchObject({
          decision: "DENY",
          reasonCode: "LEDGER_UNAVAILABLE",
        });
      } finally {
        server.resume();
      }
      await waitFor(
        () => ledger.audit({ scope: "tenant:acme", type: "release" }),
        (events) => events.length > 0,
        5_000,
      );
      // The caller was told DENY: its retry is decided afresh, not a replay of the released hold.
      const retry = await ledger.reserve({ subject, action: read, estimate: 60, idempotencyKey: "k-1" });
      expect(retry.decision).toBe("ALLOW");
      expect(retry.replayed).toBeUndefined();
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 60 });
      expect((await ledger.commit(retry.reservationId as string)).charged).toBe(60);
      await ledger.close();
    }, 20_000);

    it("a replay that hands the lost hold to its caller wins over the background release", async () => {
      const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("claimed") });
      let lostReplies = 1;
      let releases = 0;
      const lossy: LedgerStore = Object.assign(Object.create(store) as LedgerStore, {
        reserve: async (command: Parameters<LedgerStore["reserve"]>[0]) => {
          const outcome = await store.reserve(command);
          if (lostReplies-- > 0) throw new RedisUnavailableError("connection killed before the reply");
          return outcome;
        },
        release: async (command: Parameters<LedgerStore["release"]>[0]) => {
          // The background release arrives after the caller's retry.
          if (command.lostReserve && releases++ === 0) await new Promise((resolve) => setTimeout(resolve, 200));
          return store.release(command);
        },
      });
      const ledger = new StoreLedger(lossy, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      await ledger.reserve({ subject, action: read, estimate: 60, idempotencyKey: "k-2" });
      const retry = await ledger.reserve({ subject, action: read, estimate: 60, idempotencyKey: "k-2" });
      expect(retry).toMatchObject({ decision: "ALLOW", replayed: true });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 60 });
      expect((await ledger.commit(retry.reservationId as string)).charged).toBe(60);
      await ledger.close();
    });

    it("releases a hold whose reserve answer was lost on the way back", async () => {
      const store = await createRedisStore({ redis: server.url, prefix: uniquePrefix("lost-reply") });
      let lostReplies = 1;
      const lossy: LedgerStore = Object.assign(Object.create(store) as LedgerStore, {
        reserve: async (command: Parameters<LedgerStore["reserve"]>[0]) => {
          const outcome = await store.reserve(command);
          if (lostReplies-- > 0) throw new RedisUnavailableError("connection killed before the reply");
          return outcome;
        },
      });
      const ledger = new StoreLedger(lossy, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 50 });
      expect(await ledger.reserve({ subject, action: read, estimate: 50 })).toMatchObject({
        decision: "DENY",
        reasonCode: "LEDGER_UNAVAILABLE",
      });
      const balance = await waitFor(
        () => ledger.getBalance({ scope: "tenant:acme" }),
        (value) => value?.reserved === 0,
        5_000,
      );
      expect(balance).toMatchObject({ reserved: 0, remaining: 50 });
      expect(await ledger.audit({ scope: "tenant:acme", type: "release" })).toHaveLength(1);
      await ledger.close();
    });
  },
  { needsOwnServer: true },
);

describe("a server that answers nonsense", () => {
  let fake: Awaited<ReturnType<typeof startOkServer>>;
  beforeAll(async () => {
    fake = await startOkServer();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("gives typed errors and DENY, never an outcome with NaN in it", async () => {
    const store = await createRedisStore({ redis: fake.url, prefix: uniquePrefix("nonsense") });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    expect(await ledger.reserve({ subject, action: read, estimate: 1 })).toMatchObject({
      decision: "DENY",
      reasonCode: "LEDGER_UNAVAILABLE",
    });
    await expect(ledger.commit("acme:00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
      code: "STORE_REPLY_INVALID",
    });
    await expect(ledger.release("acme:00000000-0000-4000-8000-000000000000")).rejects.toBeInstanceOf(StoreReplyError);
    await expect(ledger.getBalance({ scope: "tenant:acme" })).rejects.toBeInstanceOf(StoreReplyError);
    await expect(ledger.getReservation("acme:00000000-0000-4000-8000-000000000000")).rejects.toBeInstanceOf(
      StoreReplyError,
    );
    await expect(ledger.setBudget({ scope: "tenant:acme", limit: 5 })).rejects.toBeInstanceOf(StoreReplyError);
    await expect(ledger.extend("acme:00000000-0000-4000-8000-000000000000", { ttlMs: 10 })).rejects.toBeInstanceOf(
      StoreReplyError,
    );
    await expect(ledger.sweep()).rejects.toBeInstanceOf(StoreReplyError);
    await ledger.close();
  });
});

describeRedis("redis store: overdue holds beyond the per-call expiry batch", () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("folds overdue slots per budget, run windows too, and leaves no slot behind", async () => {
    let offsetMs = 0;
    const prefix = uniquePrefix("fold");
    const store = await createRedisStore({
      redis: server.url,
      prefix,
      timeOffsetMs: () => offsetMs,
      expireBatchMax: 10,
    });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0, reservationGraceMs: 1_000 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 10_000 });
    await ledger.setBudget({ scope: "tenant:acme/agent:a", limit: 5, window: "run" });
    const agent = { tenant: "acme", agent: "a" };
    const expiring: string[] = [];
    for (let n = 0; n < 300; n++) {
      const held = await ledger.reserve({
        subject: agent,
        action: read,
        estimate: 5,
        runId: `run-${n}`,
        ttlMs: 10_000,
      });
      expiring.push(held.reservationId as string);
    }
    // The scripts' deadline rule is the one in core.
    const first = await ledger.getReservation(expiring[0]);
    const probe = createClient({ url: server.url });
    await probe.connect();
    expect(Number(await probe.zScore(`${prefix}:{tenant:acme}:holds`, expiring[0]))).toBe(
      holdDeadlineMs(first?.expiresAtMs as number, 1_000),
    );
    await probe.close();
    const lasting = await ledger.reserve({ subject: agent, action: read, estimate: 3, runId: "run-0", ttlMs: 60_000 });
    expect(lasting.decision).toBe("DENY"); // run-0 is full until its hold expires
    // Settled before their deadline: their amounts leave the slots at once.
    for (const id of expiring.slice(0, 50)) await ledger.commit(id, { actual: 1 });
    offsetMs += 11_000;

    // Far more than one batch is overdue: every read is exact all the same.
    // The first read names one run's counter: the chains it folds free the tenant's counter too.
    expect(await ledger.getBalance({ scope: "tenant:acme/agent:a", runId: "run-299" })).toMatchObject({
      reserved: 0,
      remaining: 5,
    });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 50, reserved: 0 });
    expect(await ledger.getBalance({ scope: "tenant:acme/agent:a", runId: "run-0" })).toMatchObject({
      spent: 1,
      remaining: 4,
    });
    const again = await ledger.reserve({ subject: agent, action: read, estimate: 5, runId: "run-200" });
    expect(again.decision).toBe("ALLOW");
    await ledger.commit(again.reservationId as string);

    for (let round = 0; round < 100 && (await ledger.sweep()) > 0; round++);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 55, reserved: 0 });
    const client = createClient({ url: server.url });
    await client.connect();
    expect(await client.keys(`${prefix}:*due:*`)).toEqual([]);
    expect(await client.zCard(`${prefix}:{tenant:acme}:holds`)).toBe(0);
    await client.close();
    await ledger.close();
  }, 30_000);
});

describeRedis("redis store: hostile tenant ids leave nothing lasting", () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("denied reserves for tenants without budgets leave only keys that expire, kept once a budget arrives", async () => {
    const prefix = uniquePrefix("hostile");
    const store = await createRedisStore({ redis: server.url, prefix });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
    for (let n = 0; n < 50; n++) {
      const tenant = `random-${n}-${Math.random().toString(36).slice(2)}`;
      const denied = await ledger.reserve({
        subject: { tenant },
        action: read,
        estimate: 1,
        idempotencyKey: `k-${n}`,
      });
      expect(denied).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_NOT_FOUND" });
      await ledger.recordApproval({ subject: { tenant }, action: read, outcome: "rejected" });
    }
    await ledger.reserve({ subject: { tenant: "later" }, action: read, estimate: 1 });
    const client = createClient({ url: server.url });
    await client.connect();
    const lasting: string[] = [];
    for (const key of await client.keys(`${prefix}:*`)) {
      if (key.includes("{tenant:acme}") || key === `${prefix}:tenants`) continue;
      if (key === `${prefix}:tenants-recent`) continue; // capped and trimmed by time, checked below
      if ((await client.pTTL(key)) < 0) lasting.push(key);
    }
    expect(lasting).toEqual([]);
    expect(await client.sMembers(`${prefix}:tenants`)).toEqual(["tenant:acme"]);
    expect(await client.zCard(`${prefix}:tenants-recent`)).toBe(51);
    // Their denials can still be found for a while, across tenants too.
    const denials = await ledger.audit({ decision: "DENY", limit: 1_000 });
    expect(denials.filter((event) => event.type === "reserve")).toHaveLength(51);

    // A tenant that gets its first budget keeps what it wrote before.
    await ledger.setBudget({ scope: "tenant:later", limit: 5 });
    expect(await client.pTTL(`${prefix}:{tenant:later}:audit`)).toBe(-1);
    expect(await client.pTTL(`${prefix}:{tenant:later}:meta`)).toBe(-1);
    expect(await ledger.audit({ scope: "tenant:later" })).toHaveLength(2);
    await client.close();
    await ledger.close();
  });
});
