import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { createLedger } from "../../src/ledger/create-ledger.js";
import { AuditColumns } from "../../src/store/keyv-audit.js";
import { formatReservationId, parseReservationId, ReservationSlots } from "../../src/store/keyv-reservations.js";
import { KeyvSingleProcessStore } from "../../src/store/keyv-store.js";
import { testLedgerStore } from "./conformance.js";
import { testStoreHardening } from "./hardening.js";
import type { StoreHarness } from "./harness.js";

async function inMemoryHarness(): Promise<StoreHarness> {
  let nowMs = Date.UTC(2026, 10, 24, 12, 0, 0);
  const store = new KeyvSingleProcessStore({ clock: () => nowMs });
  return {
    store,
    advanceTimeMs: (ms: number) => {
      nowMs += ms;
    },
    close: () => store.close(),
  };
}

testLedgerStore("keyv (in memory)", inMemoryHarness);
testStoreHardening("keyv (in memory)", inMemoryHarness);

describe("keyv store: its own regressions", () => {
  it("persists budgets, counters and open holds through any keyv adapter and restores them", async () => {
    // A Map stands in for a persistent adapter; writeThrough makes the store treat it as one.
    const backing = new Map();
    let nowMs = 1_000_000;
    const clock = () => nowMs;
    const first = createLedger({
      store: new Keyv({ store: backing }),
      writeThrough: true,
      clock,
      sweepIntervalMs: 0,
      reservationGraceMs: 0,
    });
    await first.setBudget({ scope: "tenant:acme", limit: 100 });
    const committed = await first.reserve({
      subject: { tenant: "acme" },
      action: { name: "a", tier: "read" },
      estimate: 30,
    });
    await first.commit(committed.reservationId as string);
    const held = await first.reserve({
      subject: { tenant: "acme" },
      action: { name: "a", tier: "read" },
      estimate: 20,
      ttlMs: 1_000,
    });
    await first.close();

    // A restarted process over the same backing store sees the same ledger, open hold included.
    const second = createLedger({
      store: new Keyv({ store: backing }),
      writeThrough: true,
      clock,
      sweepIntervalMs: 0,
      reservationGraceMs: 0,
    });
    expect(await second.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 30, reserved: 20, remaining: 50 });
    expect(await second.listBudgets({ allTenants: true })).toHaveLength(1);
    // ...and the hold of the process that died still expires: nothing is lost for good.
    nowMs += 1_000;
    expect(await second.sweep()).toBe(1);
    expect(await second.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 30, reserved: 0, remaining: 70 });
    await expect(second.commit(held.reservationId as string)).rejects.toMatchObject({ code: "RESERVATION_EXPIRED" });
    await second.close();
  });

  describe("numbers read back from the adapter are checked, never trusted", () => {
    const brokenCounters: [string, Record<string, unknown>][] = [
      ["a negative hold", { reserved: -1_000 }],
      ["a NaN (null in JSON) spend", { spent: null }],
      ["a fractional debt", { debt: 1.5 }],
      ["a string", { reserved: "5" }],
      ["an unsafe integer", { spent: 2 ** 53 }],
    ];
    const open = (backing: Map<string, unknown>) =>
      createLedger({ store: new Keyv({ store: backing }), writeThrough: true, sweepIntervalMs: 0 });
    const counterKey = "keyv:c:tenant:acme|RISK_POINTS|life";
    const corrupt = (backing: Map<string, unknown>, fields: Record<string, unknown>) => {
      const stored = JSON.parse(backing.get(counterKey) as string);
      backing.set(counterKey, JSON.stringify({ ...stored, value: { ...stored.value, ...fields } }));
    };
    for (const [title, fields] of brokenCounters) {
      it(`counters with ${title} are an InvariantError and every reserve is DENY`, async () => {
        const backing = new Map<string, unknown>();
        const first = open(backing);
        await first.setBudget({ scope: "tenant:acme", limit: 100 });
        const held = await first.reserve({
          subject: { tenant: "acme" },
          action: { name: "a", tier: "read" },
          estimate: 5,
        });
        await first.commit(held.reservationId as string);
        await first.close();
        corrupt(backing, fields);
        const second = open(backing);
        for (let attempt = 0; attempt < 2; attempt++) {
          await expect(second.getBalance({ scope: "tenant:acme" })).rejects.toMatchObject({
            code: "INVARIANT_VIOLATED",
          });
          const response = await second.reserve({
            subject: { tenant: "acme" },
            action: { name: "a", tier: "read" },
            estimate: 1,
          });
          expect(response).toMatchObject({ decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" });
        }
        await second.close();
      });
    }

    it("a held reservation with a broken estimate stops the store from opening", async () => {
      const backing = new Map<string, unknown>();
      const first = open(backing);
      await first.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await first.reserve({
        subject: { tenant: "acme" },
        action: { name: "a", tier: "read" },
        estimate: 5,
      });
      await first.close();
      const key = `keyv:r:${held.reservationId}`;
      const stored = JSON.parse(backing.get(key) as string);
      backing.set(key, JSON.stringify({ ...stored, value: { ...stored.value, estimate: -1_000 } }));
      const second = open(backing);
      await expect(second.getBalance({ scope: "tenant:acme" })).rejects.toMatchObject({ code: "INVARIANT_VIOLATED" });
      await second.close().catch(() => undefined);
    });
  });

  it("keeps the audit log bounded", async () => {
    const ledger = createLedger({ auditEventsMax: 50, sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 1_000_000 });
    for (let n = 0; n < 200; n++) {
      await ledger.reserve({ subject: { tenant: "acme" }, action: { name: "a", tier: "read" }, estimate: 1 });
    }
    const events = await ledger.audit({ limit: 1_000 });
    expect(events).toHaveLength(50);
    expect(events.at(-1)?.seq).toBe(201);
    await ledger.close();
  });

  it("keeps audit retention per tenant: one tenant's flood never erases another's trail", async () => {
    const ledger = createLedger({ auditEventsMax: 100, auditEventsTotalMax: 1_000, sweepIntervalMs: 0 });
    const read = { name: "a", tier: "read" as const };
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    for (let n = 0; n < 5; n++) await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 });
    // A hostile caller: 10,000 denied reserves for a tenant of its own.
    for (let n = 0; n < 10_000; n++) await ledger.reserve({ subject: { tenant: "flood" }, action: read, estimate: 1 });
    expect(await ledger.audit({ scope: "tenant:acme", limit: 1_000 })).toHaveLength(6);
    expect(await ledger.audit({ scope: "tenant:flood", limit: 1_000 })).toHaveLength(100);
    const everything = await ledger.audit({ limit: 100_000 });
    expect(everything).toHaveLength(106);
    expect(everything.map((event) => event.seq)).toEqual(
      [...everything.map((event) => event.seq)].sort((a, b) => a - b),
    );

    // Across tenants, the total is bounded too: the tenant written to longest ago gives way first.
    for (let tenant = 0; tenant < 20; tenant++) {
      for (let n = 0; n < 60; n++) {
        await ledger.reserve({ subject: { tenant: `t${tenant}` }, action: read, estimate: 1 });
      }
    }
    expect(await ledger.audit({ limit: 100_000 })).toHaveLength(1_000);
    expect(await ledger.audit({ scope: "tenant:acme" })).toHaveLength(0);
    expect(await ledger.audit({ scope: "tenant:t19" })).toHaveLength(60);
    await ledger.close();
  });

  it("keeps idempotency records of tenants without budgets apart: a flood of them evicts no one else's", async () => {
    const ledger = createLedger({ idempotencyKeysMax: 100, sweepIntervalMs: 0 });
    const read = { name: "a", tier: "read" as const };
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const first = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 5, idempotencyKey: "k" });
    for (let n = 0; n < 10_000; n++) {
      await ledger.reserve({ subject: { tenant: `random-${n}` }, action: read, estimate: 1, idempotencyKey: `k${n}` });
    }
    // The retry still replays: nothing was charged twice.
    const retry = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 5, idempotencyKey: "k" });
    expect(retry).toMatchObject({ replayed: true, reservationId: first.reservationId });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 5 });
    await ledger.close();
  });

  it("forgets idempotency keys past the retention count", async () => {
    const ledger = createLedger({ idempotencyKeysMax: 3, sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const reserve = (key: string) =>
      ledger.reserve({
        subject: { tenant: "acme" },
        action: { name: "a", tier: "read" },
        estimate: 1,
        idempotencyKey: key,
      });
    const first = await reserve("k0");
    for (const key of ["k1", "k2", "k3"]) await reserve(key);
    // k0 was evicted: a retry now is a new request (this is why retention is documented).
    expect((await reserve("k0")).reservationId).not.toBe(first.reservationId);
    await ledger.close();
  });
});

describe("keyv store: reservation ids name a slot and its generation", () => {
  const subject = { tenant: "acme" };
  const action = { name: "a", tier: "read" as const };

  it("a stale id (its slot reused by a later reservation) or a forged one settles nothing", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0, settledReservationsMax: 1 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const first = (await ledger.reserve({ subject, action, estimate: 1 })).reservationId as string;
    expect(first).toMatch(/^acme:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await ledger.commit(first);
    // One more settles, so the first is forgotten and its slot is the next one taken.
    await ledger.release((await ledger.reserve({ subject, action, estimate: 1 })).reservationId as string);
    const live = (await ledger.reserve({ subject, action, estimate: 5 })).reservationId as string;
    expect(live.slice(0, 14)).toBe(first.slice(0, 14));
    await expect(ledger.commit(first)).rejects.toMatchObject({ code: "RESERVATION_NOT_FOUND" });
    const forged = `${live.slice(0, -1)}${live.endsWith("0") ? "1" : "0"}`;
    await expect(ledger.release(forged)).rejects.toMatchObject({ code: "RESERVATION_NOT_FOUND" });
    await expect(ledger.release(`other:${live.slice(5)}`)).rejects.toMatchObject({ code: "RESERVATION_NOT_FOUND" });
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 1, reserved: 5 });
    expect(await ledger.getReservation(live)).toMatchObject({ id: live, status: "held", estimate: 5 });
  });

  it("ids of tenants in turn, of a long tenant value and of one beyond ASCII read as their tenant's, and the audit names them", () => {
    const tenants = ["acme", "b", "acme", "x".repeat(300), "t\u00e9n\u4e2d", "acme"];
    const ids = tenants.map((tenant, index) => formatReservationId(tenant, index, 1, 2, 3));
    ids.forEach((id, index) => {
      expect(id.slice(0, id.length - 37)).toBe(tenants[index]);
      expect(id.slice(-37)).toBe(`:${index.toString(16).padStart(8, "0")}-0000-0001-0000-000200000003`);
      expect(parseReservationId(id)).toEqual({ slot: index, gen: 1, tagHi: 2, tagLo: 3 });
    });
  });

  it("an id survives a restart from a keyv adapter and still settles exactly once", async () => {
    const backing = new Map<string, unknown>();
    const open = () => createLedger({ store: new Keyv({ store: backing }), writeThrough: true, sweepIntervalMs: 0 });
    const first = open();
    await first.setBudget({ scope: "tenant:acme", limit: 100 });
    const id = (await first.reserve({ subject, action, estimate: 7 })).reservationId as string;
    await first.close();
    const second = open();
    // A new reservation after the restart never takes the restored one's slot.
    const other = (await second.reserve({ subject, action, estimate: 1 })).reservationId as string;
    expect(other).not.toBe(id);
    await second.commit(id, { actual: 3 });
    await expect(second.commit(id)).rejects.toMatchObject({ code: "RESERVATION_FINALIZED" });
    expect(await second.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 3, reserved: 1 });
    await second.close();
  });
});

describe("keyv store: the audit trail kept as columns", () => {
  it("reads back what did not fit the columns exactly: six balances, rich caps, a caller's id, a caller's later edits", async () => {
    const store = new KeyvSingleProcessStore({ clock: () => 1_000 });
    const ledger = createLedger({ store, sweepIntervalMs: 0 });
    const subject = { tenant: "acme", workspace: "w", app: "a", workflow: "f", agent: "g", toolset: "t" };
    const scopes = [
      "tenant:acme",
      "tenant:acme/workspace:w",
      "tenant:acme/app:a",
      "tenant:acme/workflow:f",
      "tenant:acme/agent:g",
      "tenant:acme/toolset:t",
    ];
    for (const scope of scopes) await ledger.setBudget({ scope, limit: 50 });
    await ledger.reserve({ subject, action: { name: "x", tier: "read", kind: "tool.x" }, estimate: 5, runId: "r-1" });
    const event = {
      type: "approval" as const,
      scope: "tenant:acme/agent:g",
      unit: "RISK_POINTS" as const,
      reservationId: "acme:not-one-of-ours",
      caps: { disabledTiers: ["execution" as const], toolDenylist: ["deploy"] },
      decision: "DENY" as const,
    };
    await store.recordEvent(event);
    event.caps.toolDenylist.push("later");
    const [reserve, approval] = (await ledger.audit({ scope: "tenant:acme" })).slice(-2);
    expect(reserve).toMatchObject({
      type: "reserve",
      action: { name: "x", tier: "read", kind: "tool.x" },
      runId: "r-1",
      estimate: 5,
      decision: "ALLOW",
    });
    expect(reserve.balances).toEqual(scopes.map((scope) => ({ scope, allocated: 50, remaining: 45 })));
    expect(reserve.reservationId).toMatch(/^acme:[0-9a-f-]{36}$/);
    expect(approval).toMatchObject({
      reservationId: "acme:not-one-of-ours",
      caps: { disabledTiers: ["execution"], toolDenylist: ["deploy"] },
    });
  });
});

describe("keyv store: the audit's string table", () => {
  it("keeps only the strings of retained events: a flood of tenants leaves no trail behind", () => {
    const columns = new AuditColumns(5, 10, new ReservationSlots(10, 60_000));
    for (let n = 0; n < 10_000; n++) {
      const scope = `tenant:t${n}/toolset:x${n}`;
      columns.append(`tenant:t${n}`, {
        seq: n + 1,
        atMs: n,
        type: "reserve",
        scope,
        unit: "RISK_POINTS",
        action: { name: `tool-${n}`, tier: "read" },
        runId: `run-${n}`,
        balances: [{ scope, allocated: 1, remaining: 1 }],
      });
    }
    const table = (columns as unknown as { stringIds: Map<string, number> }).stringIds;
    // Ten events retained, three distinct strings each (scope, action name, run id); strings no event
    // uses are let go lazily, once they outnumber the used ones by the margin.
    expect(table.size).toBeGreaterThanOrEqual(30);
    expect(table.size).toBeLessThanOrEqual(2 * 30 + 4_096 + 1);
    expect(columns.events().map((event) => event.runId)).toEqual(
      Array.from({ length: 10 }, (_, index) => `run-${9_990 + index}`),
    );
    expect(columns.events()[9]).toMatchObject({ scope: "tenant:t9999/toolset:x9999", action: { name: "tool-9999" } });
  });
});

describe("the reserve hot path's memo of the last subject path", () => {
  it("answers a repeated path from its memo and still refuses any changed level that is bad", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:t", limit: 10 });
    const subject = { tenant: "acme", agent: "r", toolset: "t" };
    const action = { name: "a", tier: "read" as const };
    for (let n = 0; n < 2; n++) {
      expect(await ledger.decide({ subject, action, estimate: 1 })).toMatchObject({
        decision: "ALLOW",
        scope: "tenant:acme/agent:r/toolset:t",
      });
    }
    for (const [level, value] of [
      ["agent", "r/toolset:t"],
      ["toolset", "t:x"],
      ["tenant", ""],
    ] as const) {
      await expect(
        ledger.decide({ subject: { ...subject, [level]: value }, action, estimate: 1 }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    }
    expect((await ledger.decide({ subject: { ...subject, agent: "q" }, action, estimate: 1 })).scope).toBe(
      "tenant:acme/agent:q/toolset:t",
    );
  });
});

describe("keyv store: balances built only when read", () => {
  it("an answer's balances are the numbers at answer time, read as a list and written by JSON in their place", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 50 });
    const subject = { tenant: "acme", toolset: "send-email" };
    const action = { name: "send_email", tier: "write-external" as const };
    const first = await ledger.reserve({ subject, action, estimate: 10 });
    const decided = await ledger.decide({ subject, action, estimate: 5 });
    const committed = await ledger.commit(first.reservationId as string, { actual: 7 });
    // Later traffic changes the counters; the answers above keep what they saw.
    const second = await ledger.reserve({ subject, action, estimate: 20 });
    await ledger.release(second.reservationId as string);
    const balance = (scope: string, spent: number, reserved: number, allocated: number) => ({
      scope,
      unit: "RISK_POINTS",
      window: "lifetime",
      instance: "life",
      allocated,
      spent,
      reserved,
      debt: 0,
      remaining: allocated - spent - reserved,
    });
    expect(first.balances).toEqual([
      balance("tenant:acme", 0, 10, 100),
      balance("tenant:acme/toolset:send-email", 0, 10, 50),
    ]);
    expect(first.balances).toBe(first.balances);
    expect(decided.balances).toEqual([
      balance("tenant:acme", 0, 10, 100),
      balance("tenant:acme/toolset:send-email", 0, 10, 50),
    ]);
    expect(committed.balances).toEqual([
      balance("tenant:acme", 7, 0, 100),
      balance("tenant:acme/toolset:send-email", 7, 0, 50),
    ]);
    expect(second.balances.map((b) => b.reserved)).toEqual([20, 20]);
    // JSON: every field the plain answer had, in the same order, balances in its place.
    expect(Object.keys(JSON.parse(JSON.stringify(first)))).toEqual([
      "decision",
      "reservationId",
      "expiresAtMs",
      "scope",
      "unit",
      "estimate",
      "balances",
      "auditSeq",
    ]);
    expect(JSON.parse(JSON.stringify(first)).balances).toEqual(first.balances);
    expect(Object.keys(JSON.parse(JSON.stringify(committed)))).toEqual([
      "ok",
      "reservationId",
      "status",
      "charged",
      "debtAdded",
      "uncharged",
      "released",
      "balances",
      "auditSeq",
    ]);
    expect(structuredClone(JSON.parse(JSON.stringify(decided)))).toEqual({
      decision: "ALLOW",
      scope: "tenant:acme/toolset:send-email",
      unit: "RISK_POINTS",
      estimate: 5,
      balances: decided.balances,
    });
    // The audit keeps the same numbers the answers carried.
    const events = await ledger.audit({ scope: "tenant:acme" });
    expect(events.filter((event) => event.type === "reserve").map((event) => event.balances)).toEqual([
      [
        { scope: "tenant:acme", allocated: 100, remaining: 90 },
        { scope: "tenant:acme/toolset:send-email", allocated: 50, remaining: 40 },
      ],
      [
        { scope: "tenant:acme", allocated: 100, remaining: 73 },
        { scope: "tenant:acme/toolset:send-email", allocated: 50, remaining: 23 },
      ],
    ]);
    await ledger.close();
  });

  it("a replay carries the first answer's balances, as a plain list", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const input = { subject: { tenant: "acme" }, action: { name: "a", tier: "read" as const }, estimate: 3 };
    const first = await ledger.reserve({ ...input, idempotencyKey: "k1" });
    const commit = await ledger.commit(first.reservationId as string, { idempotencyKey: "c1" });
    await ledger.reserve(input);
    const replay = await ledger.reserve({ ...input, idempotencyKey: "k1" });
    const commitReplay = await ledger.commit(first.reservationId as string, { idempotencyKey: "c1" });
    expect(replay.replayed).toBe(true);
    expect(replay.balances).toEqual(first.balances);
    expect(replay.balances[0]).toMatchObject({ reserved: 3, spent: 0 });
    expect(commitReplay).toEqual({ ...JSON.parse(JSON.stringify(commit)), replayed: true });
    await ledger.close();
  });
});
