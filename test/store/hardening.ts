import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Subject } from "../../src/core/scope.js";
import type { Tier } from "../../src/core/tiers.js";
import { type Ledger, type LedgerOptions, StoreLedger } from "../../src/ledger/ledger.js";
import type { LedgerStore, ReserveCommand } from "../../src/store/types.js";
import type { CreateStoreHarness, StoreHarness } from "./harness.js";
import { type Row, runTable } from "./table.js";

const email = { name: "send_email", tier: "write-external" as Tier };
const acme: Subject = { tenant: "acme", toolset: "send-email" };
const graceMs = 1_000;
/** How long the store takes to open in the tests that mutate input while the ledger waits for it. */
const storeOpeningMs = 5;

/**
 * Hostile callers, on every store: inputs changed (or answering differently) while the ledger
 * awaits, getters that throw, hostile tenant ids, unvalidated listings, settle idempotency and the
 * corners of the decision rule. Beside the conformance suite, run by the same store test files.
 */
export function testStoreHardening(name: string, createHarness: CreateStoreHarness): void {
  describe(`LedgerStore hardening: ${name}`, () => {
    let harness: StoreHarness;
    let ledger: Ledger;
    const options: LedgerOptions = { sweepIntervalMs: 0, reservationGraceMs: graceMs };
    /** A ledger whose store is still opening: its first call awaits before it reaches the store. */
    const opening = (store: LedgerStore = harness.store) =>
      new StoreLedger(new Promise<LedgerStore>((resolve) => setTimeout(() => resolve(store), storeOpeningMs)), options);

    beforeEach(async () => {
      harness = await createHarness();
      ledger = new StoreLedger(harness.store, options);
    });
    afterEach(async () => {
      await harness.close();
    });

    describe("the ledger copies what it validated and never reads the caller's object again", () => {
      it("an input changed right after reserve() is held as it was at the call", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        await ledger.setBudget({ scope: "tenant:victim", limit: 100 });
        const input = {
          subject: { ...acme },
          action: { ...email },
          estimate: 5,
          idempotencyKey: "k-1",
          ttlMs: 60_000,
          runId: "run-1",
        };
        const pending = opening().reserve(input);
        input.estimate = -1_000;
        input.idempotencyKey = "k-2";
        input.ttlMs = Number.NaN;
        input.runId = "run-2";
        input.subject.tenant = "victim";
        input.action.tier = "read";
        const response = await pending;
        expect(response).toMatchObject({ decision: "ALLOW", estimate: 5, scope: "tenant:acme/toolset:send-email" });
        expect(response.reservationId).toMatch(/^acme:/);
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 5, remaining: 95 });
        expect(await ledger.getBalance({ scope: "tenant:victim" })).toMatchObject({ reserved: 0, remaining: 100 });
        const record = await ledger.getReservation(response.reservationId as string);
        expect(record).toMatchObject({ estimate: 5, runId: "run-1", action: email });
        expect((record?.expiresAtMs ?? 0) - (record?.createdAtMs ?? 0)).toBe(60_000);
        // The idempotency record is the one the call named, with the call's payload: its retry replays.
        const retry = await ledger.reserve({
          subject: { ...acme },
          action: { ...email },
          estimate: 5,
          idempotencyKey: "k-1",
          ttlMs: 60_000,
          runId: "run-1",
        });
        expect(retry).toMatchObject({ reservationId: response.reservationId, replayed: true });
      });

      it("a getter that answers 5 and then -1000 is read once: two reserves of 100 never pass on 105", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 105 });
        let reads = 0;
        const input = {
          subject: acme,
          action: email,
          get estimate() {
            reads++;
            return reads === 1 ? 5 : -1_000;
          },
        };
        const first = await opening().reserve(input);
        expect(first).toMatchObject({ decision: "ALLOW", estimate: 5 });
        expect(reads).toBe(1);
        const second = await ledger.reserve({ subject: acme, action: email, estimate: 100 });
        const third = await ledger.reserve({ subject: acme, action: email, estimate: 100 });
        expect([second.decision, third.decision]).toEqual(["ALLOW", "DENY"]);
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 105, remaining: 0 });
      });

      it("an honest caller reusing one input object gets one hold per call", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const fresh = opening();
        const input = { subject: acme, action: email, estimate: 0, idempotencyKey: "" };
        const pending = [1, 2, 3].map((n) => {
          input.estimate = n;
          input.idempotencyKey = `call-${n}`;
          return fresh.reserve(input);
        });
        const responses = await Promise.all(pending);
        expect(responses.map((response) => response.estimate)).toEqual([1, 2, 3]);
        expect(new Set(responses.map((response) => response.reservationId)).size).toBe(3);
        expect(responses.some((response) => response.replayed)).toBe(false);
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 6 });
      });

      it("inputs of commit and setBudget changed right after the call are used as they were", async () => {
        const fresh = opening();
        const budget = { scope: "tenant:acme", limit: 100 };
        const setting = fresh.setBudget(budget);
        budget.limit = -5;
        budget.scope = "tenant:victim";
        await setting;
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 100 });
        expect(await ledger.getBalance({ scope: "tenant:victim" })).toBeNull();
        const held = await ledger.reserve({ subject: acme, action: email, estimate: 10 });
        const settle = { actual: 7 };
        const committing = opening().commit(held.reservationId as string, settle);
        settle.actual = Number.NaN;
        expect(await committing).toMatchObject({ charged: 7 });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 7, reserved: 0 });
      });

      const throwing = (field: string, value: Record<string, unknown>) =>
        Object.defineProperty({ ...value }, field, {
          enumerable: true,
          get() {
            throw new Error(`${field} exploded`);
          },
        });
      const throwingCalls: [string, string, (ledger: Ledger, id: string) => Promise<unknown>][] = [
        ["reserve", "estimate", (l) => l.reserve(throwing("estimate", { subject: acme, action: email }) as never)],
        [
          "reserve (subject)",
          "subject.tenant",
          (l) => l.reserve({ subject: throwing("tenant", {}), action: email, estimate: 1 } as never),
        ],
        ["decide", "estimate", (l) => l.decide(throwing("estimate", { subject: acme, action: email }) as never)],
        ["setBudget", "limit", (l) => l.setBudget(throwing("limit", { scope: "tenant:acme" }) as never)],
        ["removeBudget", "scope", (l) => l.removeBudget(throwing("scope", {}) as never)],
        ["listBudgets", "scope", (l) => l.listBudgets(throwing("scope", {}) as never)],
        ["commit", "actual", (l, id) => l.commit(id, throwing("actual", {}))],
        ["release", "reason", (l, id) => l.release(id, throwing("reason", {}))],
        ["extend", "ttlMs", (l, id) => l.extend(id, throwing("ttlMs", {}) as never)],
        ["repayDebt", "amount", (l) => l.repayDebt(throwing("amount", { scope: "tenant:acme" }) as never)],
        ["getBalance", "scope", (l) => l.getBalance(throwing("scope", {}) as never)],
        ["audit", "limit", (l) => l.audit(throwing("limit", {}))],
        [
          "recordApproval",
          "outcome",
          (l) => l.recordApproval(throwing("outcome", { subject: acme, action: email }) as never),
        ],
      ];
      for (const [method, path, call] of throwingCalls) {
        it(`a getter that throws in ${method}() is a ValidationError naming ${path}, and changes nothing`, async () => {
          await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
          const held = await ledger.reserve({ subject: acme, action: email, estimate: 10 });
          const auditBefore = await ledger.audit();
          const error = (await call(ledger, held.reservationId as string).catch((caught) => caught)) as {
            issues: { path: string }[];
            message: string;
          };
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(error.issues.map((issue) => issue.path)).toContain(path);
          expect(error.message).toContain("exploded");
          expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 100, reserved: 10 });
          expect(await ledger.audit()).toEqual(auditBefore);
        });
      }
    });

    describe("a bad number is never stored", () => {
      const command = (estimate: number): ReserveCommand => ({
        reservationId: `acme:${Math.random().toString(36).slice(2)}`,
        subjectScope: "tenant:acme/toolset:send-email",
        unit: "RISK_POINTS",
        action: email,
        estimate,
        ttlMs: 60_000,
        graceMs,
        overagePolicy: "ALLOW_IF_AVAILABLE",
        dryRun: false,
        shadow: false,
      });
      for (const estimate of [Number.NaN, -1_000, 1.5, 2 ** 53, Number.POSITIVE_INFINITY]) {
        it(`a store asked to hold ${estimate} fails INVARIANT_VIOLATED and the tenant keeps working`, async () => {
          await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
          await expect(harness.store.reserve(command(estimate))).rejects.toMatchObject({
            code: "INVARIANT_VIOLATED",
          });
          expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 0, remaining: 100 });
          const after = await ledger.reserve({ subject: acme, action: email, estimate: 100 });
          expect(after.decision).toBe("ALLOW");
          expect((await ledger.reserve({ subject: acme, action: email, estimate: 1 })).decision).toBe("DENY");
        });
      }
    });

    it("a store asked to set a NaN limit or repay NaN fails INVARIANT_VIOLATED, changing nothing", async () => {
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      for (const definition of [{ limit: Number.NaN }, { limit: -1 }, { overdraftLimit: 0.5 }]) {
        await expect(
          harness.store.putBudget({
            definition: {
              scope: "tenant:acme",
              unit: "RISK_POINTS",
              limit: 10,
              window: "lifetime",
              narrowing: null,
              overdraftLimit: 0,
              ...definition,
            },
          }),
          JSON.stringify(definition),
        ).rejects.toMatchObject({ code: "INVARIANT_VIOLATED" });
      }
      await expect(
        harness.store.repayDebt({ scope: "tenant:acme", unit: "RISK_POINTS", amount: Number.NaN }),
      ).rejects.toMatchObject({ code: "INVARIANT_VIOLATED" });
      expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 100, remaining: 100 });
      expect((await ledger.reserve({ subject: acme, action: email, estimate: 101 })).decision).toBe("DENY");
    });

    describe("listBudgets is validated like every other method", () => {
      const bad: [string, unknown, string][] = [
        ["a wrong key", { tenant: "acme" }, "tenant"],
        ["an empty scope", { scope: "" }, "scope"],
        ["a null scope", { scope: null }, "scope"],
        ["a number as scope", { scope: 42 }, "scope"],
        ["a scope without a tenant", { scope: "workspace:production" }, "scope"],
        ["a scope with a bad character", { scope: "tenant:ac me" }, "scope"],
        ["no scope and no allTenants", {}, "scope"],
        ["nothing at all", undefined, "scope"],
        ["allTenants false", { allTenants: false }, "allTenants"],
        ["both a scope and allTenants", { scope: "tenant:acme", allTenants: true }, "allTenants"],
      ];
      for (const [title, query, field] of bad) {
        it(`refuses ${title}, naming ${field}`, async () => {
          await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
          await ledger.setBudget({ scope: "tenant:other", limit: 100 });
          const error = await ledger.listBudgets(query as never).catch((caught) => caught);
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(error.message).toContain(field);
        });
      }

      it("lists one tenant's budgets for a scope, every tenant's only when asked", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 10 });
        await ledger.setBudget({ scope: "tenant:acme2", limit: 100 });
        await ledger.setBudget({ scope: "tenant:other", limit: 100 });
        const scopes = async (query: Parameters<Ledger["listBudgets"]>[0]) =>
          (await ledger.listBudgets(query)).map((budget) => budget.scope);
        expect(await scopes({ scope: "tenant:acme" })).toEqual(["tenant:acme", "tenant:acme/toolset:send-email"]);
        expect(await scopes({ scope: "tenant:acme/toolset:send-email" })).toEqual(["tenant:acme/toolset:send-email"]);
        expect(await scopes({ scope: "tenant:nobody" })).toEqual([]);
        expect(await scopes({ allTenants: true })).toEqual([
          "tenant:acme",
          "tenant:acme/toolset:send-email",
          "tenant:acme2",
          "tenant:other",
        ]);
      });
    });

    describe("settle idempotency covers the whole request", () => {
      it("the same commit key with another actor is a conflict, and the audit keeps who committed", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const held = await ledger.reserve({ subject: acme, action: email, estimate: 10 });
        const id = held.reservationId as string;
        await ledger.commit(id, { idempotencyKey: "c-1", actor: "alice" });
        expect(await ledger.commit(id, { idempotencyKey: "c-1", actor: "alice" })).toMatchObject({ replayed: true });
        await expect(ledger.commit(id, { idempotencyKey: "c-1", actor: "mallory" })).rejects.toMatchObject({
          code: "IDEMPOTENCY_CONFLICT",
        });
        await expect(ledger.commit(id, { idempotencyKey: "c-1" })).rejects.toMatchObject({
          code: "IDEMPOTENCY_CONFLICT",
        });
        const commits = (await ledger.audit()).filter((event) => event.type === "commit");
        expect(commits.map((event) => event.actor)).toEqual(["alice"]);
      });

      it("the same release key with another reason or another actor is a conflict", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const held = await ledger.reserve({ subject: acme, action: email, estimate: 10 });
        const id = held.reservationId as string;
        await ledger.release(id, { idempotencyKey: "r-1", reason: "tool failed", actor: "alice" });
        expect(
          await ledger.release(id, { idempotencyKey: "r-1", reason: "tool failed", actor: "alice" }),
        ).toMatchObject({ replayed: true });
        for (const other of [
          { reason: "user cancelled", actor: "alice" },
          { reason: "tool failed", actor: "mallory" },
          { reason: "tool failed" },
          {},
        ]) {
          await expect(
            ledger.release(id, { idempotencyKey: "r-1", ...other }),
            JSON.stringify(other),
          ).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
        }
        const releases = (await ledger.audit()).filter((event) => event.type === "release");
        expect(releases).toMatchObject([{ actor: "alice", detail: "tool failed" }]);
      });
    });

    describe("corners of the rules", () => {
      const tables: Record<string, Row[]> = {
        "an exhausted budget denies every new action, an estimate of 0 included": [
          { op: "budget", scope: "tenant:acme", limit: 20 },
          { op: "reserve", as: "r1", subject: acme, action: email, estimate: 20, expect: "ALLOW" },
          { op: "reserve", subject: acme, action: email, estimate: 0, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "decide", subject: acme, action: email, estimate: 0, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "reserve", subject: acme, action: email, estimate: 0, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "balance", scope: "tenant:acme", expect: { spent: 20, reserved: 0, remaining: 0 } },
        ],
        "a free action on a budget with room is allowed, and its actual is charged": [
          { op: "budget", scope: "tenant:acme", limit: 20 },
          { op: "reserve", as: "r1", subject: acme, action: email, estimate: 0, expect: "ALLOW" },
          { op: "commit", ref: "r1", actual: 15, expect: "ok", charged: 15 },
          { op: "balance", scope: "tenant:acme", expect: { spent: 15, remaining: 5 } },
        ],
        "a budget lowered below its spend denies everything": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: acme, action: email, estimate: 50, expect: "ALLOW" },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "budget", scope: "tenant:acme", limit: 40 },
          { op: "reserve", subject: acme, action: email, estimate: 0, expect: "DENY", reason: "BUDGET_EXCEEDED" },
        ],
        'run id "-" has its own instance, apart from calls without a run id': [
          { op: "budget", scope: "tenant:acme", limit: 10, window: "run" },
          { op: "reserve", subject: acme, action: email, estimate: 10, expect: "ALLOW" },
          { op: "reserve", subject: acme, runId: "-", action: email, estimate: 10, expect: "ALLOW" },
          { op: "reserve", subject: acme, action: email, estimate: 1, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 10, remaining: 0 } },
          { op: "balance", scope: "tenant:acme", runId: "-", expect: { reserved: 10, remaining: 0 } },
          { op: "balance", scope: "tenant:acme", runId: "--", expect: { reserved: 0, remaining: 10 } },
        ],
      };
      for (const [title, rows] of Object.entries(tables)) {
        it(title, async () => {
          await runTable(ledger, harness, rows);
        });
      }

      it('holds on run "-" and on no run settle and expire on their own instance', async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 10, window: "run" });
        const none = await ledger.reserve({ subject: acme, action: email, estimate: 4, ttlMs: 1_000 });
        const dash = await ledger.reserve({ subject: acme, action: email, estimate: 6, runId: "-" });
        await ledger.commit(dash.reservationId as string, { actual: 5 });
        expect(await ledger.getBalance({ scope: "tenant:acme", runId: "-" })).toMatchObject({ spent: 5, reserved: 0 });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 0, reserved: 4 });
        await harness.advanceTimeMs(1_000 + graceMs);
        await ledger.sweep();
        expect(await ledger.getReservation(none.reservationId as string)).toMatchObject({ status: "expired" });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 0, reserved: 0 });
        expect(await ledger.getBalance({ scope: "tenant:acme", runId: "-" })).toMatchObject({ spent: 5 });
      });
    });

    describe("properties", () => {
      const runs = Math.max(5, Math.round(Number(process.env.TOLLGATE_PROPERTY_RUNS ?? 60) / 2));

      it("whatever the caller does to its input during the await, exactly what was valid at the call is held", async () => {
        await fc.assert(
          fc.asyncProperty(mutationScenarioArbitrary(), async (scenario) => {
            const fresh = await createHarness();
            try {
              await checkMutationScenario(fresh, scenario);
            } finally {
              await fresh.close();
            }
          }),
          { numRuns: runs },
        );
      });

      it("whatever the caller does to a settle's or a budget's input during the await, what was valid is applied", async () => {
        await fc.assert(
          fc.asyncProperty(settleScenarioArbitrary(), async (scenario) => {
            const fresh = await createHarness();
            try {
              await checkSettleScenario(fresh, scenario);
            } finally {
              await fresh.close();
            }
          }),
          { numRuns: runs },
        );
      });

      it("hostile tenant ids are refused or stay in their own tenant; the victim never changes", async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(hostileTenantArbitrary(), { minLength: 1, maxLength: 6 }), async (tenants) => {
            const fresh = await createHarness();
            try {
              await checkHostileTenants(fresh, tenants);
            } finally {
              await fresh.close();
            }
          }),
          { numRuns: runs },
        );
      });
    });
  });
}

// ---------------------------------------------------------------- mutated inputs

/** What the caller does to its input after the call returned its promise. */
type Mutation =
  | { field: "estimate"; value: unknown }
  | { field: "idempotencyKey"; value: unknown }
  | { field: "ttlMs"; value: unknown }
  | { field: "runId"; value: unknown }
  | { field: "tenant"; value: unknown }
  | { field: "tier"; value: unknown };

interface MutationScenario {
  estimate: number;
  /** How the input carries its values: plain (then mutated), getters, or a Proxy answering anew per read. */
  form: "plain" | "getters" | "proxy";
  mutations: Mutation[];
  /** How many reserves reuse one input object, mutated between calls. */
  calls: number;
}

const hostileNumbers = fc.constantFrom<unknown>(
  -1_000,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1.5,
  2 ** 53,
  1e300,
  "5",
  null,
  undefined,
);
const hostileStrings = fc.oneof(
  fc.constantFrom<unknown>("", "victim", "acme/toolset:x", "__proto__", 42, null, undefined, "x".repeat(300)),
  fc.string({ maxLength: 20 }),
);

function mutationScenarioArbitrary(): fc.Arbitrary<MutationScenario> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ field: fc.constant("estimate" as const), value: hostileNumbers }),
    fc.record({ field: fc.constant("ttlMs" as const), value: hostileNumbers }),
    fc.record({ field: fc.constant("idempotencyKey" as const), value: hostileStrings }),
    fc.record({ field: fc.constant("runId" as const), value: hostileStrings }),
    fc.record({ field: fc.constant("tenant" as const), value: hostileStrings }),
    fc.record({ field: fc.constant("tier" as const), value: fc.constantFrom<unknown>("execution", "nuclear", 3) }),
  );
  return fc.record({
    estimate: fc.integer({ min: 0, max: 40 }),
    form: fc.constantFrom("plain" as const, "getters" as const, "proxy" as const),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 6 }),
    calls: fc.integer({ min: 1, max: 3 }),
  });
}

/**
 * The input a caller builds: its values are those of the call until `mutate()` runs; with getters
 * or a Proxy, every read after the first answers with the mutated value anyway.
 */
function hostileInput(scenario: MutationScenario, key: string) {
  const state: Record<string, unknown> = {
    estimate: scenario.estimate,
    idempotencyKey: key,
    ttlMs: 60_000,
    runId: "run-1",
    tenant: "acme",
    tier: "write-external",
  };
  const reads = new Map<string, number>();
  const read = (field: string) => {
    const count = (reads.get(field) ?? 0) + 1;
    reads.set(field, count);
    if (scenario.form !== "plain" && count > 1) {
      const hostile = scenario.mutations.find((mutation) => mutation.field === field);
      if (hostile) return hostile.value;
    }
    return state[field];
  };
  const mutate = () => {
    for (const mutation of scenario.mutations) state[mutation.field] = mutation.value;
  };
  if (scenario.form === "plain") {
    const input = {
      subject: { tenant: "acme", toolset: "send-email" },
      action: { name: "send_email", tier: "write-external" },
      estimate: scenario.estimate,
      idempotencyKey: key,
      ttlMs: 60_000,
      runId: "run-1",
    };
    return {
      input,
      mutate() {
        for (const mutation of scenario.mutations) {
          if (mutation.field === "tenant") (input.subject as Record<string, unknown>).tenant = mutation.value;
          else if (mutation.field === "tier") (input.action as Record<string, unknown>).tier = mutation.value;
          else (input as Record<string, unknown>)[mutation.field] = mutation.value;
        }
      },
    };
  }
  const withGetters = (fields: Record<string, string>, fixed: Record<string, unknown>) => {
    const target: Record<string, unknown> = { ...fixed };
    for (const [name, field] of Object.entries(fields)) {
      Object.defineProperty(target, name, { enumerable: true, get: () => read(field) });
    }
    if (scenario.form === "getters") return target;
    return new Proxy(target, { get: (object, name) => Reflect.get(object, name) });
  };
  const input = withGetters(
    { estimate: "estimate", idempotencyKey: "idempotencyKey", ttlMs: "ttlMs", runId: "runId" },
    {
      subject: withGetters({ tenant: "tenant" }, { toolset: "send-email" }),
      action: withGetters({ tier: "tier" }, { name: "send_email" }),
    },
  );
  return { input, mutate };
}

async function checkMutationScenario(harness: StoreHarness, scenario: MutationScenario): Promise<void> {
  const ledger = new StoreLedger(harness.store, { sweepIntervalMs: 0, reservationGraceMs: graceMs });
  await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
  await ledger.setBudget({ scope: "tenant:victim", limit: 100 });
  const opening = new StoreLedger(new Promise<LedgerStore>((resolve) => setTimeout(() => resolve(harness.store), 1)), {
    sweepIntervalMs: 0,
    reservationGraceMs: graceMs,
  });
  const pending: Promise<unknown>[] = [];
  for (let call = 0; call < scenario.calls; call++) {
    const { input, mutate } = hostileInput(scenario, `key-${call}`);
    pending.push(
      opening.reserve(input as never).then(
        (response) => response,
        (error: unknown) => error,
      ),
    );
    mutate();
  }
  const outcomes = await Promise.all(pending);
  let held = 0;
  for (const outcome of outcomes) {
    // The values at the call were all valid: every call is answered, never refused or thrown.
    expect(outcome).toMatchObject({ estimate: scenario.estimate, scope: "tenant:acme/toolset:send-email" });
    const response = outcome as { decision: string; reservationId?: string };
    if (response.decision === "DENY") continue;
    held += scenario.estimate;
    expect(response.reservationId).toMatch(/^acme:/);
    const record = await ledger.getReservation(response.reservationId as string);
    expect(record).toMatchObject({ estimate: scenario.estimate, runId: "run-1", action: email, status: "held" });
  }
  const ids = outcomes.map((outcome) => (outcome as { reservationId?: string }).reservationId).filter(Boolean);
  expect(new Set(ids).size, "one reservation per call").toBe(ids.length);
  const balance = await ledger.getBalance({ scope: "tenant:acme" });
  expect(balance).toMatchObject({ reserved: held, spent: 0, remaining: 100 - held });
  expect(await ledger.getBalance({ scope: "tenant:victim" })).toMatchObject({ reserved: 0, remaining: 100 });
  for (const value of Object.values(balance ?? {})) {
    if (typeof value === "number") expect(Number.isSafeInteger(value)).toBe(true);
  }
  await opening.close();
}

// ---------------------------------------------------------------- mutated settle and budget inputs

interface SettleScenario {
  limit: number;
  estimate: number;
  actual: number;
  release: boolean;
  /** The values every field of the three inputs answers from its second read on, or after the call. */
  hostile: unknown;
  form: "plain" | "getters";
}

function settleScenarioArbitrary(): fc.Arbitrary<SettleScenario> {
  return fc
    .record({
      limit: fc.integer({ min: 1, max: 100 }),
      estimate: fc.integer({ min: 0, max: 100 }),
      actual: fc.integer({ min: 0, max: 100 }),
      release: fc.boolean(),
      hostile: fc.oneof(hostileNumbers, hostileStrings),
      form: fc.constantFrom("plain" as const, "getters" as const),
    })
    .filter((scenario) => scenario.estimate < scenario.limit);
}

/** An input whose fields answer their values once, then `hostile` (getters), or are set to it after the call. */
function onceThen(values: Record<string, unknown>, scenario: SettleScenario) {
  if (scenario.form === "plain") {
    const input: Record<string, unknown> = { ...values };
    return {
      input,
      mutate: () => {
        for (const key of Object.keys(values)) input[key] = scenario.hostile;
      },
    };
  }
  const input = {};
  for (const [key, value] of Object.entries(values)) {
    let reads = 0;
    Object.defineProperty(input, key, { enumerable: true, get: () => (reads++ === 0 ? value : scenario.hostile) });
  }
  return { input, mutate: () => undefined };
}

async function checkSettleScenario(harness: StoreHarness, scenario: SettleScenario): Promise<void> {
  const ledger = new StoreLedger(harness.store, { sweepIntervalMs: 0, reservationGraceMs: graceMs });
  const opening = () =>
    new StoreLedger(new Promise<LedgerStore>((resolve) => setTimeout(() => resolve(harness.store), 1)), {
      sweepIntervalMs: 0,
      reservationGraceMs: graceMs,
    });
  const budget = onceThen({ scope: "tenant:acme", limit: scenario.limit }, scenario);
  const setting = opening().setBudget(budget.input as never);
  budget.mutate();
  expect(await setting).toMatchObject({ scope: "tenant:acme", limit: scenario.limit });
  const held = await ledger.reserve({ subject: acme, action: email, estimate: scenario.estimate });
  expect(held.decision).not.toBe("DENY");
  const id = held.reservationId as string;
  const settle = onceThen(
    scenario.release
      ? { idempotencyKey: "s-1", reason: "done", actor: "alice" }
      : { idempotencyKey: "s-1", actual: scenario.actual, actor: "alice" },
    scenario,
  );
  const settling = scenario.release ? opening().release(id, settle.input) : opening().commit(id, settle.input);
  settle.mutate();
  const outcome = await settling;
  const room = scenario.limit - scenario.estimate;
  const charged = scenario.release ? 0 : Math.min(scenario.actual, scenario.estimate + room);
  expect(outcome).toMatchObject({ status: scenario.release ? "released" : "committed", charged });
  expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({
    allocated: scenario.limit,
    spent: charged,
    reserved: 0,
    remaining: scenario.limit - charged,
  });
  const event = (await ledger.audit()).at(-1);
  expect(event).toMatchObject({ type: scenario.release ? "release" : "commit", actor: "alice" });
  // The idempotency record is the call's: the same request replays, another value is a conflict.
  const again = scenario.release
    ? ledger.release(id, { idempotencyKey: "s-1", reason: "done", actor: "alice" })
    : ledger.commit(id, { idempotencyKey: "s-1", actual: scenario.actual, actor: "alice" });
  expect(await again).toMatchObject({ replayed: true, charged });
}

// ---------------------------------------------------------------- hostile tenants

function hostileTenantArbitrary(): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.constantFrom(
        "acme2",
        "acme.",
        "ACME",
        "Acme",
        "acme-",
        "_acme",
        "__proto__",
        "constructor",
        "prototype",
        "hasOwnProperty",
        "toString",
        "acme/toolset:send-email",
        "acme:x",
        "acme|RISK_POINTS",
        "acme}",
        "{tenant:acme}",
        "acme ",
        " acme",
        "",
        "a".repeat(129),
        "\u0430cme",
        "acme\u0000",
        "acme\n",
        "*",
        "-",
        ".",
      ),
      fc.string({ minLength: 0, maxLength: 12 }),
    )
    .filter((tenant) => tenant !== "acme");
}

async function checkHostileTenants(harness: StoreHarness, tenants: string[]): Promise<void> {
  const ledger = new StoreLedger(harness.store, { sweepIntervalMs: 0, reservationGraceMs: graceMs });
  await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
  await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 50 });
  const victim = await ledger.reserve({ subject: acme, action: email, estimate: 10 });
  const before = {
    budgets: await ledger.listBudgets({ scope: "tenant:acme" }),
    tenant: await ledger.getBalance({ scope: "tenant:acme" }),
    toolset: await ledger.getBalance({ scope: "tenant:acme/toolset:send-email" }),
  };
  const attempt = async (call: () => Promise<unknown>, expected: string[] = []) => {
    const outcome = await call().then(
      (value) => ({ ok: true as const, value }),
      (error: { code?: string }) => ({ ok: false as const, code: error.code }),
    );
    // A refusal is a typed ValidationError (or the one expected answer); nothing else may be thrown.
    if (!outcome.ok) expect(["VALIDATION_FAILED", ...expected]).toContain(outcome.code);
    return outcome;
  };
  for (const tenant of tenants) {
    const scope = `tenant:${tenant}`;
    // A scope string is the caller's own text: "tenant:" + "acme/toolset:x" names the victim's scope
    // outright, which is no smuggling. The subject (below) is where a tenant id must stay a tenant id.
    const namesVictim = scope.startsWith("tenant:acme/");
    const set = namesVictim ? { ok: false } : await attempt(() => ledger.setBudget({ scope, limit: 1_000 }));
    const reserve = await attempt(() =>
      ledger.reserve({ subject: { tenant, toolset: "send-email" }, action: email, estimate: 40 }),
    );
    if (reserve.ok) {
      const response = reserve.value as { reservationId?: string; scope: string };
      expect(response.scope.startsWith(`tenant:${tenant}/`) || response.scope === scope).toBe(true);
      if (response.reservationId) {
        expect(response.reservationId.startsWith(`${tenant}:`)).toBe(true);
        await attempt(() => ledger.commit(response.reservationId as string, { actual: 40 }));
      }
    }
    await attempt(() => ledger.listBudgets({ scope }));
    await attempt(() => ledger.getBalance({ scope }));
    if (!namesVictim) await attempt(() => ledger.removeBudget({ scope }));
    await attempt(() => ledger.audit({ scope }));
    // Settling the victim's reservation under a look-alike tenant never reaches it.
    const suffix = (victim.reservationId as string).slice("acme:".length);
    await attempt(() => ledger.release(`${tenant}:${suffix}`), ["RESERVATION_NOT_FOUND"]);
    if (set.ok && tenant !== "acme") {
      expect(await ledger.listBudgets({ scope })).toEqual([]);
    }
  }
  expect(await ledger.listBudgets({ scope: "tenant:acme" })).toEqual(before.budgets);
  expect(await ledger.getBalance({ scope: "tenant:acme" })).toEqual(before.tenant);
  expect(await ledger.getBalance({ scope: "tenant:acme/toolset:send-email" })).toEqual(before.toolset);
  expect(await ledger.getReservation(victim.reservationId as string)).toMatchObject({ status: "held", estimate: 10 });
}
