import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Subject } from "../../src/core/scope.js";
import type { Tier } from "../../src/core/tiers.js";
import { type Ledger, type LedgerOptions, StoreLedger } from "../../src/ledger/ledger.js";
import type { CreateStoreHarness, StoreHarness } from "./harness.js";
import { type Row, runTable } from "./table.js";

const email = { name: "send_email", tier: "write-external" as Tier };
const resolver: Subject = { tenant: "acme", workspace: "production", agent: "resolver", toolset: "send-email" };
const graceMs = 1_000;

/**
 * The suite every LedgerStore passes: the in-memory store and the Redis store are judged by the
 * same tables and properties. Tests go through StoreLedger, the only way callers reach a store.
 */
export function testLedgerStore(name: string, createHarness: CreateStoreHarness): void {
  describe(`LedgerStore conformance: ${name}`, () => {
    let harness: StoreHarness;
    let ledger: Ledger;
    const open = (options: LedgerOptions = {}) =>
      new StoreLedger(harness.store, { sweepIntervalMs: 0, reservationGraceMs: graceMs, ...options });

    beforeEach(async () => {
      harness = await createHarness();
      ledger = open();
    });
    afterEach(async () => {
      await harness.close();
    });

    describe("transitions (one event per row)", () => {
      const tables: Record<string, Row[]> = {
        "the seed's incident: a 100-point send-email toolset lets 5 emails through and denies the 6th": [
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 100 },
          ...[1, 2, 3, 4, 5].flatMap((n): Row[] => [
            { op: "reserve", as: `e${n}`, subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
            { op: "commit", ref: `e${n}`, expect: "ok" },
          ]),
          { op: "reserve", subject: resolver, action: email, estimate: 20, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { spent: 100, reserved: 0, remaining: 0 } },
        ],
        "settle exactly once": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 20, remaining: 80 } },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "commit", ref: "r1", expect: "RESERVATION_FINALIZED" },
          { op: "release", ref: "r1", expect: "RESERVATION_FINALIZED" },
          { op: "reserve", as: "r2", subject: resolver, action: email, estimate: 30, expect: "ALLOW" },
          { op: "release", ref: "r2", expect: "ok" },
          { op: "commit", ref: "r2", expect: "RESERVATION_FINALIZED" },
          { op: "commit", ref: "unknown", expect: "RESERVATION_NOT_FOUND" },
          { op: "balance", scope: "tenant:acme", expect: { spent: 20, reserved: 0, remaining: 80 } },
        ],
        "no budget on the path fails closed; a zero budget is always DENY": [
          { op: "reserve", subject: resolver, action: email, estimate: 1, expect: "DENY", reason: "BUDGET_NOT_FOUND" },
          { op: "budget", scope: "tenant:acme/toolset:deploy", limit: 0 },
          {
            op: "reserve",
            subject: { tenant: "acme", toolset: "deploy" },
            action: { name: "deploy", tier: "execution" },
            estimate: 0,
            expect: "DENY",
            reason: "BUDGET_EXCEEDED",
          },
          { op: "budget", scope: "tenant:acme", limit: 50, unit: "TOKENS" },
          { op: "reserve", subject: resolver, action: email, estimate: 1, expect: "DENY", reason: "BUDGET_NOT_FOUND" },
        ],
        "every budget on the path is checked; the tightest one decides": [
          { op: "budget", scope: "tenant:acme", limit: 1000 },
          { op: "budget", scope: "tenant:acme/workspace:production", limit: 50 },
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 500 },
          { op: "reserve", as: "a", subject: resolver, action: email, estimate: 40, expect: "ALLOW" },
          { op: "reserve", subject: resolver, action: email, estimate: 20, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 40 } },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { reserved: 40 } },
          { op: "commit", ref: "a", actual: 10, expect: "ok" },
          {
            op: "balance",
            scope: "tenant:acme/workspace:production",
            expect: { spent: 10, reserved: 0, remaining: 40 },
          },
          { op: "balance", scope: "tenant:acme", expect: { spent: 10, remaining: 990 } },
        ],
        "scope isolation: one agent's email budget does not erode another's": [
          { op: "budget", scope: "tenant:acme/agent:a/toolset:send-email", limit: 20 },
          { op: "budget", scope: "tenant:acme/agent:b/toolset:send-email", limit: 20 },
          {
            op: "reserve",
            subject: { tenant: "acme", agent: "a", toolset: "send-email" },
            action: email,
            estimate: 20,
            expect: "ALLOW",
          },
          {
            op: "reserve",
            subject: { tenant: "acme", agent: "a", toolset: "send-email" },
            action: email,
            estimate: 20,
            expect: "DENY",
            reason: "BUDGET_EXCEEDED",
          },
          {
            op: "reserve",
            subject: { tenant: "acme", agent: "b", toolset: "send-email" },
            action: email,
            estimate: 20,
            expect: "ALLOW",
          },
          {
            op: "reserve",
            subject: { tenant: "other", agent: "a", toolset: "send-email" },
            action: email,
            estimate: 1,
            expect: "DENY",
            reason: "BUDGET_NOT_FOUND",
          },
        ],
        "progressive narrowing switches at 50 %, 80 % and 100 %": [
          { op: "budget", scope: "tenant:acme/workflow:billing", limit: 100, narrowing: "progressive" },
          ...narrowingRows(),
        ],
        "custom bands": [
          {
            op: "budget",
            scope: "tenant:acme",
            limit: 10,
            narrowing: [
              { from: 0, disabledTiers: ["execution"] },
              { from: 0.3, disabledTiers: ["mutation", "execution"] },
            ],
          },
          {
            op: "reserve",
            subject: { tenant: "acme" },
            action: { name: "deploy", tier: "execution" },
            estimate: 1,
            expect: "DENY",
            reason: "TIER_DISABLED",
          },
          {
            op: "reserve",
            subject: { tenant: "acme" },
            action: { name: "update", tier: "mutation" },
            estimate: 3,
            expect: "ALLOW_WITH_CAPS",
            disabledTiers: ["mutation", "execution"],
          },
          {
            op: "reserve",
            subject: { tenant: "acme" },
            action: { name: "update", tier: "mutation" },
            estimate: 1,
            expect: "DENY",
            reason: "TIER_DISABLED",
          },
        ],
        "an unsettled hold expires after TTL + grace and cannot be committed": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 60, ttlMs: 5_000, expect: "ALLOW" },
          { op: "advance", ms: 5_000 },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 60 } },
          { op: "advance", ms: graceMs },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 0, spent: 0, remaining: 100 } },
          { op: "commit", ref: "r1", expect: "RESERVATION_EXPIRED" },
          { op: "release", ref: "r1", expect: "RESERVATION_EXPIRED" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 0, spent: 0, remaining: 100 } },
        ],
        "extend pushes the deadline": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 10, ttlMs: 5_000, expect: "ALLOW" },
          { op: "advance", ms: 4_000 },
          { op: "extend", ref: "r1", ttlMs: 5_000, expect: "ok" },
          { op: "advance", ms: 4_000 },
          { op: "sweep" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 10 } },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "extend", ref: "r1", ttlMs: 5_000, expect: "RESERVATION_FINALIZED" },
        ],
        "the sweep returns overdue holds without being asked": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 10, ttlMs: 1_000, expect: "ALLOW" },
          { op: "reserve", as: "r2", subject: resolver, action: email, estimate: 10, ttlMs: 60_000, expect: "ALLOW" },
          { op: "advance", ms: 1_000 + graceMs },
          { op: "sweep", expect: 1 },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 10 } },
        ],
        "overage under REJECT charges nothing and keeps the hold": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          {
            op: "reserve",
            as: "r1",
            subject: resolver,
            action: email,
            estimate: 20,
            overagePolicy: "REJECT",
            expect: "ALLOW",
          },
          { op: "commit", ref: "r1", actual: 25, expect: "OVERAGE_REJECTED" },
          { op: "balance", scope: "tenant:acme", expect: { spent: 0, reserved: 20 } },
          { op: "commit", ref: "r1", actual: 20, expect: "ok" },
          { op: "balance", scope: "tenant:acme", expect: { spent: 20, reserved: 0 } },
        ],
        "overage under ALLOW_IF_AVAILABLE is charged only up to what every budget has": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 50 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
          { op: "commit", ref: "r1", actual: 80, expect: "ok", charged: 50, uncharged: 30 },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { spent: 50, debt: 0, remaining: 0 } },
          { op: "balance", scope: "tenant:acme", expect: { spent: 50, debt: 0, remaining: 50 } },
        ],
        "overdraft: debt up to the limit, then no new reservations until repaid": [
          { op: "budget", scope: "tenant:acme", limit: 100, overdraftLimit: 30 },
          {
            op: "reserve",
            as: "r1",
            subject: resolver,
            action: email,
            estimate: 90,
            overagePolicy: "ALLOW_WITH_OVERDRAFT",
            expect: "ALLOW",
          },
          { op: "commit", ref: "r1", actual: 150, expect: "OVERDRAFT_LIMIT_EXCEEDED" },
          { op: "balance", scope: "tenant:acme", expect: { spent: 0, reserved: 90, debt: 0 } },
          { op: "commit", ref: "r1", actual: 120, expect: "ok", charged: 120 },
          { op: "balance", scope: "tenant:acme", expect: { spent: 100, reserved: 0, debt: 20, remaining: -20 } },
          { op: "reserve", subject: resolver, action: email, estimate: 0, expect: "DENY", reason: "DEBT_OUTSTANDING" },
          { op: "repay", scope: "tenant:acme", amount: 20 },
          { op: "budget", scope: "tenant:acme", limit: 200, overdraftLimit: 30 },
          { op: "reserve", subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
        ],
        "an actual below the estimate returns the difference": [
          { op: "budget", scope: "tenant:acme", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 50, expect: "ALLOW" },
          { op: "commit", ref: "r1", actual: 5, expect: "ok", charged: 5 },
          { op: "balance", scope: "tenant:acme", expect: { spent: 5, reserved: 0, remaining: 95 } },
        ],
        "run windows: a fresh instance per run id": [
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 40, window: "run" },
          { op: "reserve", subject: resolver, runId: "thread-1", action: email, estimate: 40, expect: "ALLOW" },
          {
            op: "reserve",
            subject: resolver,
            runId: "thread-1",
            action: email,
            estimate: 1,
            expect: "DENY",
            reason: "BUDGET_EXCEEDED",
          },
          { op: "reserve", subject: resolver, runId: "thread-2", action: email, estimate: 40, expect: "ALLOW" },
          {
            op: "balance",
            scope: "tenant:acme/toolset:send-email",
            runId: "thread-1",
            expect: { reserved: 40, remaining: 0 },
          },
          {
            op: "balance",
            scope: "tenant:acme/toolset:send-email",
            runId: "thread-3",
            expect: { reserved: 0, remaining: 40 },
          },
        ],
        "tumbling windows renew on the clock": [
          { op: "budget", scope: "tenant:acme", limit: 10, window: "minute" },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 10, expect: "ALLOW" },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "reserve", subject: resolver, action: email, estimate: 1, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "advance", ms: 60_000 },
          { op: "reserve", subject: resolver, action: email, estimate: 10, expect: "ALLOW" },
        ],
        "revoking an action is removing its budget; granting is adding one": [
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 100 },
          { op: "reserve", as: "r1", subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
          { op: "remove", scope: "tenant:acme/toolset:send-email" },
          { op: "reserve", subject: resolver, action: email, estimate: 20, expect: "DENY", reason: "BUDGET_NOT_FOUND" },
          { op: "commit", ref: "r1", expect: "ok" },
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 100 },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { spent: 0, reserved: 0, remaining: 100 } },
        ],
        "a hold on a removed budget never touches the budget re-added in its place": [
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 100 },
          { op: "reserve", as: "old", subject: resolver, action: email, estimate: 20, expect: "ALLOW" },
          { op: "remove", scope: "tenant:acme/toolset:send-email" },
          { op: "budget", scope: "tenant:acme/toolset:send-email", limit: 100 },
          { op: "reserve", as: "new", subject: resolver, action: email, estimate: 30, expect: "ALLOW" },
          { op: "commit", ref: "old", expect: "ok" },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { spent: 0, reserved: 30, remaining: 70 } },
          { op: "release", ref: "new", expect: "ok" },
          { op: "balance", scope: "tenant:acme/toolset:send-email", expect: { spent: 0, reserved: 0, remaining: 100 } },
        ],
        "decide is a dry run": [
          { op: "budget", scope: "tenant:acme", limit: 30, narrowing: "progressive" },
          {
            op: "decide",
            subject: resolver,
            action: email,
            estimate: 20,
            expect: "ALLOW_WITH_CAPS",
            disabledTiers: ["write-external", "mutation", "execution"],
          },
          { op: "decide", subject: resolver, action: email, estimate: 31, expect: "DENY", reason: "BUDGET_EXCEEDED" },
          { op: "balance", scope: "tenant:acme", expect: { reserved: 0, spent: 0, remaining: 30 } },
        ],
      };
      for (const [title, rows] of Object.entries(tables)) {
        it(title, async () => {
          await runTable(ledger, harness, rows);
        });
      }
    });

    describe("idempotency", () => {
      it("replays a retried reserve and commit, and refuses the same key with another payload", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const request = { subject: resolver, action: email, estimate: 20, idempotencyKey: "k-1" };
        const first = await ledger.reserve(request);
        const retry = await ledger.reserve({ ...request, subject: { ...resolver } });
        expect(retry.reservationId).toBe(first.reservationId);
        expect(retry.replayed).toBe(true);
        expect((await ledger.getBalance({ scope: "tenant:acme" }))?.reserved).toBe(20);
        await expect(ledger.reserve({ ...request, estimate: 21 })).rejects.toMatchObject({
          code: "IDEMPOTENCY_CONFLICT",
        });

        const id = first.reservationId as string;
        const commit = await ledger.commit(id, { actual: 15, idempotencyKey: "c-1" });
        const commitRetry = await ledger.commit(id, { actual: 15, idempotencyKey: "c-1" });
        expect(commitRetry).toMatchObject({ charged: 15, replayed: true });
        expect(commit.charged).toBe(15);
        await expect(ledger.commit(id, { actual: 16, idempotencyKey: "c-1" })).rejects.toMatchObject({
          code: "IDEMPOTENCY_CONFLICT",
        });
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 15, reserved: 0 });
      });

      it("replays setBudget and removeBudget", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100, idempotencyKey: "b-1" });
        await ledger.setBudget({ scope: "tenant:acme", limit: 100, idempotencyKey: "b-1" });
        await expect(ledger.setBudget({ scope: "tenant:acme", limit: 5, idempotencyKey: "b-1" })).rejects.toMatchObject(
          {
            code: "IDEMPOTENCY_CONFLICT",
          },
        );
        expect((await ledger.getBalance({ scope: "tenant:acme" }))?.allocated).toBe(100);
      });
    });

    describe("bad input changes nothing", () => {
      const bad: [string, Record<string, unknown>, string][] = [
        ["negative estimate", { estimate: -1 }, "estimate"],
        ["NaN estimate", { estimate: Number.NaN }, "estimate"],
        ["fractional estimate", { estimate: 1.5 }, "estimate"],
        ["unsafe estimate", { estimate: 2 ** 53 }, "estimate"],
        ["unknown unit", { unit: "DOLLARS" }, "unit"],
        ["slash in a tenant", { subject: { tenant: "acme/toolset:x" } }, "subject.tenant"],
        ["colon in a value", { subject: { tenant: "acme", agent: "a:b" } }, "subject.agent"],
        ["unknown level", { subject: { tenant: "acme", team: "x" } }, "subject.team"],
        ["empty value", { subject: { tenant: "" } }, "subject.tenant"],
        ["value longer than 128", { subject: { tenant: "a".repeat(129) } }, "subject.tenant"],
        ["unknown tier", { action: { name: "x", tier: "nuclear" } }, "action.tier"],
      ];
      for (const [title, override, path] of bad) {
        it(`reserve with ${title} names ${path}`, async () => {
          await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
          const auditBefore = (await ledger.audit()).length;
          const error = await ledger
            .reserve({ subject: resolver, action: email, estimate: 1, ...override } as never)
            .catch((caught) => caught);
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(error.issues.map((issue: { path: string }) => issue.path)).toContain(path);
          expect(error.message).toContain(path);
          expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ reserved: 0, spent: 0 });
          expect((await ledger.audit()).length).toBe(auditBefore);
        });
      }

      const badScopes: [string, string][] = [
        ["out of order", "toolset:x/tenant:acme"],
        ["an unknown level", "tenant:acme/team:x"],
        ["no tenant", "workspace:production"],
        ["a bad character", "tenant:ac me"],
        ["an empty value", "tenant:"],
        ["an empty string", ""],
      ];
      for (const [title, scope] of badScopes) {
        it(`setBudget with a scope with ${title} is refused`, async () => {
          const error = await ledger.setBudget({ scope, limit: 10 }).catch((caught) => caught);
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(error.issues[0].path).toMatch(/^scope/);
          expect(await ledger.listBudgets({ allTenants: true })).toEqual([]);
        });
      }

      it("setBudget with a negative limit, bad bands or a bad window names the field", async () => {
        for (const [input, path] of [
          [{ limit: -5 }, "limit"],
          [{ limit: 1.5 }, "limit"],
          [{ limit: 10, window: "week" }, "window"],
          [
            {
              limit: 10,
              narrowing: [
                { from: 0.8, disabledTiers: [] },
                { from: 0.5, disabledTiers: [] },
              ],
            },
            "narrowing.1.from",
          ],
          [{ limit: 10, narrowing: [{ from: 1.5, disabledTiers: [] }] }, "narrowing.0.from"],
          [{ limit: 10, overdraftLimit: -1 }, "overdraftLimit"],
        ] as const) {
          const error = await ledger.setBudget({ scope: "tenant:acme", ...input } as never).catch((caught) => caught);
          expect(error, JSON.stringify(input)).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(error.issues.map((issue: { path: string }) => issue.path)).toContain(path);
        }
        expect(await ledger.listBudgets({ allTenants: true })).toEqual([]);
      });
    });

    describe("the longest ids", () => {
      it("a tenant id of the maximum length reserves, commits and releases", async () => {
        const tenant = "t".repeat(128);
        await ledger.setBudget({ scope: `tenant:${tenant}`, limit: 10 });
        const subject = { tenant };
        const action = { name: "act", tier: "read" as const };
        const first = await ledger.reserve({ subject, action, estimate: 3 });
        const second = await ledger.reserve({ subject, action, estimate: 3 });
        expect(first.reservationId?.length).toBe(128 + 1 + 36);
        await ledger.commit(first.reservationId as string);
        await ledger.release(second.reservationId as string);
        expect(await ledger.getBalance({ scope: `tenant:${tenant}` })).toMatchObject({ spent: 3, reserved: 0 });
      });
    });

    describe("audit", () => {
      it("records decisions and settlements, newest last, filterable by scope", async () => {
        await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 20 });
        const allowed = await ledger.reserve({ subject: resolver, action: email, estimate: 20, runId: "t-1" });
        await ledger.commit(allowed.reservationId as string);
        await ledger.reserve({ subject: resolver, action: email, estimate: 20, runId: "t-1" });
        await ledger.reserve({ subject: { tenant: "other" }, action: email, estimate: 1 });
        const events = await ledger.audit({ scope: "tenant:acme" });
        expect(events.map((event) => [event.type, event.decision ?? null])).toEqual([
          ["budget.set", null],
          ["reserve", "ALLOW"],
          ["commit", null],
          ["reserve", "DENY"],
        ]);
        const denial = events[3];
        expect(denial).toMatchObject({
          scope: "tenant:acme/workspace:production/agent:resolver/toolset:send-email",
          action: email,
          estimate: 20,
          reasonCode: "BUDGET_EXCEEDED",
          deniedScope: "tenant:acme/toolset:send-email",
          runId: "t-1",
        });
        expect(denial.balances).toEqual([{ scope: "tenant:acme/toolset:send-email", allocated: 20, remaining: 0 }]);
        expect((await ledger.audit({ limit: 2 })).map((event) => event.type)).toEqual(["reserve", "reserve"]);
        expect(await ledger.audit({ decision: "DENY" })).toHaveLength(2);
      });

      it("each event's balances are the budgets' as they stand right after it: holds, spend and debt counted", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100, overdraftLimit: 50 });
        await ledger.setBudget({ scope: "tenant:acme/agent:resolver", limit: 1_000 });
        // What getBalance says of each scope an event names.
        const standing = async (named: { scope: string }[]) => {
          const balances = await Promise.all(named.map(({ scope }) => ledger.getBalance({ scope })));
          return balances.map((balance) => ({
            scope: balance?.scope,
            allocated: balance?.allocated,
            remaining: balance?.remaining,
          }));
        };
        const lastEventBalances = async () => (await ledger.audit({ limit: 1 }))[0].balances;
        const steps: [string, () => Promise<unknown>][] = [];
        let first = "";
        let second = "";
        let third = "";
        steps.push(["reserve 30", async () => (first = (await reserve(30)).reservationId as string)]);
        steps.push(["reserve 20, overdraft", async () => (second = (await reserve(20, true)).reservationId as string)]);
        steps.push(["commit 30", () => ledger.commit(first, { actual: 30 })]);
        steps.push(["commit 90 of 20, into debt", () => ledger.commit(second, { actual: 90 })]);
        steps.push(["a DENY for the debt", () => reserve(1)]);
        steps.push(["repay", () => ledger.repayDebt({ scope: "tenant:acme", amount: 20 })]);
        steps.push(["raise to 200", () => ledger.setBudget({ scope: "tenant:acme", limit: 200, overdraftLimit: 50 })]);
        steps.push([
          "reserve 7, expiring",
          async () => (third = (await reserve(7, false, 1_000)).reservationId as string),
        ]);
        steps.push([
          "expire",
          async () => {
            await harness.advanceTimeMs(1_000 + graceMs);
            await ledger.sweep();
          },
        ]);
        function reserve(estimate: number, overdraft = false, ttlMs?: number) {
          return ledger.reserve({
            subject: resolver,
            action: email,
            estimate,
            ...(overdraft ? { overagePolicy: "ALLOW_WITH_OVERDRAFT" as const } : {}),
            ...(ttlMs ? { ttlMs } : {}),
          });
        }
        const seen: Record<string, unknown> = {};
        for (const [step, run] of steps) {
          await run();
          // Budget and debt events carry no balances; every reserve, settle and expiry does.
          if (step === "repay" || step === "raise to 200") continue;
          const balances = (await lastEventBalances()) ?? [];
          expect(balances.length, step).toBeGreaterThan(0);
          expect({ step, balances }).toEqual({ step, balances: await standing(balances) });
          seen[step] = balances.find((balance) => balance.scope === "tenant:acme")?.remaining;
        }
        expect(third).not.toBe("");
        // The numbers themselves: 100 held 30 + 20, spent 30, then 100 spent and 20 owed (repaid into
        // spent), raised to 200, 7 held and returned.
        expect(seen).toEqual({
          "reserve 30": 70,
          "reserve 20, overdraft": 50,
          "commit 30": 50,
          "commit 90 of 20, into debt": -20,
          "a DENY for the debt": -20,
          "reserve 7, expiring": 73,
          expire: 80,
        });
      });

      it("each answer names its own audit event's seq; a replay the first call's; decide() none", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 30 });
        const held = await ledger.reserve({ subject: resolver, action: email, estimate: 20, idempotencyKey: "k-1" });
        const replay = await ledger.reserve({ subject: resolver, action: email, estimate: 20, idempotencyKey: "k-1" });
        const committed = await ledger.commit(held.reservationId as string);
        const denied = await ledger.reserve({ subject: resolver, action: email, estimate: 20 });
        const second = await ledger.reserve({ subject: resolver, action: email, estimate: 5 });
        const released = await ledger.release(second.reservationId as string);
        const decided = await ledger.decide({ subject: resolver, action: email, estimate: 1 });
        const seqOf = async (type: string, reservationId?: string, decision?: string) =>
          (await ledger.audit({ scope: "tenant:acme" })).find(
            (event) =>
              event.type === type &&
              (reservationId === undefined || event.reservationId === reservationId) &&
              (decision === undefined || event.decision === decision),
          )?.seq;
        expect(held.auditSeq).toBe(await seqOf("reserve", held.reservationId));
        expect(replay.replayed).toBe(true);
        expect(replay.auditSeq).toBe(held.auditSeq);
        expect(committed.auditSeq).toBe(await seqOf("commit", held.reservationId));
        expect(denied.auditSeq).toBe(await seqOf("reserve", undefined, "DENY"));
        expect(released.auditSeq).toBe(await seqOf("release", second.reservationId));
        const seqs = [held, committed, denied, second, released].map((answer) => answer.auditSeq as number);
        expect(seqs.every((seq, index) => index === 0 || seq > seqs[index - 1])).toBe(true);
        expect(decided.auditSeq).toBeUndefined();
      });
    });

    describe("approval decisions", () => {
      it("records a rejection and a timeout in the audit log, with who decided, and spends nothing", async () => {
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const deploy = { name: "deploy", tier: "execution" as const };
        await ledger.recordApproval({
          subject: resolver,
          action: deploy,
          outcome: "rejected",
          actor: "dana",
          detail: "not on a Friday",
        });
        await ledger.recordApproval({ subject: resolver, action: deploy, outcome: "timed-out", runId: "t-1" });
        const events = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "approval");
        expect(events).toMatchObject([
          {
            decision: "DENY",
            reasonCode: "APPROVAL_REJECTED",
            actor: "dana",
            detail: "not on a Friday",
            action: deploy,
          },
          { decision: "DENY", reasonCode: "APPROVAL_TIMEOUT", runId: "t-1" },
        ]);
        expect(events[0].scope).toBe("tenant:acme/workspace:production/agent:resolver/toolset:send-email");
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 0, reserved: 0 });
        await expect(
          ledger.recordApproval({ subject: resolver, action: deploy, outcome: "maybe" as never }),
        ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      });
    });

    describe("shadow mode", () => {
      it("never blocks, records what enforcement would have done, and holds nothing for a would-be DENY", async () => {
        const shadow = open({ mode: "shadow" });
        await shadow.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 40 });
        const decisions = [];
        for (let n = 0; n < 4; n++) {
          const response = await shadow.reserve({ subject: resolver, action: email, estimate: 20 });
          decisions.push([response.decision, response.shadow?.decision ?? null]);
          await shadow.commit(response.reservationId as string);
        }
        expect(decisions).toEqual([
          ["ALLOW", null],
          ["ALLOW", null],
          ["ALLOW", "DENY"],
          ["ALLOW", "DENY"],
        ]);
        expect(await shadow.getBalance({ scope: "tenant:acme/toolset:send-email" })).toMatchObject({ spent: 40 });
        const wouldDeny = (await shadow.audit({ decision: "DENY" })).filter((event) => event.type === "reserve");
        expect(wouldDeny).toHaveLength(2);
        expect(wouldDeny[0].shadow).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
      });
    });

    describe("concurrency", () => {
      it("1,000 concurrent reserves of 1 on a budget of 100 allow exactly 100", async () => {
        await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 100 });
        const responses = await Promise.all(
          Array.from({ length: 1_000 }, (_, index) =>
            ledger.reserve({ subject: { ...resolver, agent: `agent-${index % 7}` }, action: email, estimate: 1 }),
          ),
        );
        const allowed = responses.filter((response) => response.decision !== "DENY");
        expect(allowed).toHaveLength(100);
        expect(new Set(allowed.map((response) => response.reservationId)).size).toBe(100);
        await Promise.all(allowed.map((response) => ledger.commit(response.reservationId as string)));
        expect(await ledger.getBalance({ scope: "tenant:acme/toolset:send-email" })).toMatchObject({
          spent: 100,
          reserved: 0,
          remaining: 0,
        });
      });
    });

    describe("many holds expiring together", () => {
      it("a read and a reserve see exactly what is free, however many holds are overdue", async () => {
        const many = 10_000;
        await ledger.setBudget({ scope: "tenant:acme", limit: 3 * many });
        const reserveMany = async (count: number, ttlMs: number) => {
          const ids: string[] = [];
          for (let from = 0; from < count; from += 200) {
            const batch = await Promise.all(
              Array.from({ length: Math.min(200, count - from) }, () =>
                ledger.reserve({ subject: resolver, action: email, estimate: 2, ttlMs }),
              ),
            );
            for (const response of batch) {
              expect(response.decision).toBe("ALLOW");
              ids.push(response.reservationId as string);
            }
          }
          return ids;
        };
        // 10,000 holds of 2 that expire together, and 100 that outlive them.
        const expiring = await reserveMany(many, 60_000);
        const lasting = await reserveMany(100, 600_000);
        await harness.advanceTimeMs(60_000 + graceMs);

        const exact = { allocated: 3 * many, reserved: 200, remaining: 3 * many - 200 };
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject(exact);
        expect(await ledger.getBalance({ scope: "tenant:acme/toolset:send-email" })).toBeNull();
        expect(await ledger.decide({ subject: resolver, action: email, estimate: 3 * many - 200 })).toMatchObject({
          decision: "ALLOW",
        });
        // A hold the one-by-one expiry has not reached yet is expired, not charged.
        await expect(ledger.commit(expiring[many - 1], { actual: 1 })).rejects.toMatchObject({
          code: "RESERVATION_EXPIRED",
        });
        expect((await ledger.getReservation(expiring[many - 2]))?.status).toBe("expired");
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject(exact);
        const all = await ledger.reserve({ subject: resolver, action: email, estimate: 3 * many - 200 });
        expect(all.decision).toBe("ALLOW");
        expect(all.balances[0]).toMatchObject({ reserved: 3 * many, remaining: 0 });
        await ledger.release(all.reservationId as string);
        await ledger.commit(lasting[0], { actual: 2 });

        // The sweep expires the rest one by one; the counters come out the same.
        for (let round = 0; round < 500 && (await ledger.sweep()) > 0; round++);
        // Each expired (or aged out of the settled-reservation retention already): none is held.
        for (const id of [expiring[0], expiring[many / 2]]) {
          expect((await ledger.getReservation(id))?.status ?? "aged out").toMatch(/^(expired|aged out)$/);
        }
        expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({
          spent: 2,
          reserved: 198,
          remaining: 3 * many - 200,
        });
      }, 60_000);
    });

    describe("properties over random interleavings", () => {
      it("holds the ledger invariants on 1 to 6 scope levels", async () => {
        await fc.assert(
          fc.asyncProperty(scenarioArbitrary(), async (scenario) => {
            const fresh = await createHarness();
            try {
              await checkScenario(
                new StoreLedger(fresh.store, { sweepIntervalMs: 0, reservationGraceMs: graceMs }),
                fresh,
                scenario,
              );
            } finally {
              await fresh.close();
            }
          }),
          { numRuns: Number(process.env.TOLLGATE_PROPERTY_RUNS ?? 60) },
        );
      });
    });
  });
}

function narrowingRows(): Row[] {
  const billing: Subject = { tenant: "acme", workflow: "billing", agent: "resolver" };
  const act = (tier: Tier, estimate: number) => ({ subject: billing, action: { name: `do-${tier}`, tier }, estimate });
  const external = ["write-external", "mutation", "execution"];
  const allButRead = ["write-local", ...external];
  return [
    { op: "reserve", as: "a", ...act("write-external", 40), expect: "ALLOW" },
    // 40 % used before, 50 % after: allowed, but the caps now disable external writes and up.
    { op: "reserve", as: "b", ...act("write-external", 10), expect: "ALLOW_WITH_CAPS", disabledTiers: external },
    { op: "reserve", ...act("write-external", 5), expect: "DENY", reason: "TIER_DISABLED" },
    { op: "reserve", ...act("execution", 1), expect: "DENY", reason: "TIER_DISABLED" },
    { op: "reserve", as: "c", ...act("write-local", 30), expect: "ALLOW_WITH_CAPS", disabledTiers: allButRead },
    { op: "reserve", ...act("write-local", 1), expect: "DENY", reason: "TIER_DISABLED" },
    { op: "reserve", as: "d", ...act("read", 19), expect: "ALLOW_WITH_CAPS", disabledTiers: allButRead },
    { op: "reserve", as: "e", ...act("read", 1), expect: "ALLOW_WITH_CAPS", disabledTiers: ["read", ...allButRead] },
    // 100 % used: the budget is exhausted, which denies before any band is looked at.
    { op: "reserve", ...act("read", 0), expect: "DENY", reason: "BUDGET_EXCEEDED" },
    // Releasing brings the utilization back under 50 %: full access again.
    { op: "release", ref: "c", expect: "ok" },
    { op: "release", ref: "d", expect: "ok" },
    { op: "release", ref: "e", expect: "ok" },
    { op: "release", ref: "b", expect: "ok" },
    { op: "reserve", ...act("execution", 5), expect: "ALLOW" },
  ];
}

// ---------------------------------------------------------------- property scenario

interface Scenario {
  depth: number;
  budgets: { level: number; limit: number }[];
  steps: Step[];
}
type Step =
  | { kind: "reserve"; estimate: number; ttlMs: number }
  | { kind: "commit"; pick: number; actualDelta: number }
  | { kind: "release"; pick: number }
  | { kind: "advance"; ms: number };

const levelNames = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const;

function scenarioArbitrary(): fc.Arbitrary<Scenario> {
  return fc.integer({ min: 1, max: 6 }).chain((depth) =>
    fc.record({
      depth: fc.constant(depth),
      budgets: fc.uniqueArray(
        fc.record({ level: fc.integer({ min: 0, max: depth - 1 }), limit: fc.integer({ min: 0, max: 60 }) }),
        { minLength: 1, maxLength: depth, selector: (budget) => budget.level },
      ),
      steps: fc.array(
        fc.oneof(
          {
            weight: 4,
            arbitrary: fc.record({
              kind: fc.constant("reserve" as const),
              estimate: fc.integer({ min: 0, max: 15 }),
              ttlMs: fc.integer({ min: 100, max: 3_000 }),
            }),
          },
          {
            weight: 3,
            arbitrary: fc.record({
              kind: fc.constant("commit" as const),
              pick: fc.nat(),
              actualDelta: fc.integer({ min: -5, max: 5 }),
            }),
          },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
          {
            weight: 1,
            arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 2_500 }) }),
          },
        ),
        { minLength: 1, maxLength: 40 },
      ),
    }),
  );
}

/** Runs a scenario under REJECT and checks every invariant against a model after each step. */
async function checkScenario(ledger: Ledger, harness: StoreHarness, scenario: Scenario): Promise<void> {
  const subject = Object.fromEntries(
    levelNames.slice(0, scenario.depth).map((level) => [level, `${level}-x`]),
  ) as Subject;
  const scopeAt = (level: number) =>
    levelNames
      .slice(0, level + 1)
      .map((name) => `${name}:${name}-x`)
      .join("/");
  for (const budget of scenario.budgets) await ledger.setBudget({ scope: scopeAt(budget.level), limit: budget.limit });
  const budgetScopes = scenario.budgets.map((budget) => scopeAt(budget.level));

  type Model = { id: string; estimate: number; state: "held" | "committed" | "released" | "expired"; charged: number };
  const reservations: Model[] = [];
  for (const step of scenario.steps) {
    if (step.kind === "reserve") {
      const response = await ledger.reserve({
        subject,
        action: { name: "act", tier: "read" },
        estimate: step.estimate,
        ttlMs: step.ttlMs,
        overagePolicy: "REJECT",
      });
      if (response.decision !== "DENY") {
        reservations.push({ id: response.reservationId as string, estimate: step.estimate, state: "held", charged: 0 });
      }
    } else if (step.kind === "advance") {
      await harness.advanceTimeMs(step.ms);
    } else if (reservations.length > 0) {
      const target = reservations[step.pick % reservations.length];
      const actual = Math.max(0, target.estimate + (step.kind === "commit" ? step.actualDelta : 0));
      const outcome = await (step.kind === "commit"
        ? ledger.commit(target.id, { actual })
        : ledger.release(target.id)
      ).then(
        (settled) => ({ ok: true as const, settled }),
        (error: { code: string }) => ({ ok: false as const, code: error.code }),
      );
      if (outcome.ok) {
        expect(target.state, "a reservation settles exactly once").toBe("held");
        target.state = step.kind === "commit" ? "committed" : "released";
        target.charged = outcome.settled.charged;
        expect(target.charged).toBe(step.kind === "commit" ? actual : 0);
      } else if (outcome.code === "RESERVATION_EXPIRED") {
        target.state = "expired";
      } else if (outcome.code === "OVERAGE_REJECTED") {
        expect(actual).toBeGreaterThan(target.estimate);
      } else {
        expect(outcome.code).toBe("RESERVATION_FINALIZED");
        expect(target.state).not.toBe("held");
      }
    }
    /** Learns the expiries the store made (a read expires what is overdue); returns what is still held. */
    const openHolds = async () => {
      for (const record of reservations) {
        const stored = await ledger.getReservation(record.id);
        if (record.state !== "held") expect(stored?.status ?? record.state).toBe(record.state);
        else if (stored?.status === "expired") record.state = "expired";
        else expect(stored?.status).toBe("held");
      }
      return reservations.filter((record) => record.state === "held").reduce((sum, record) => sum + record.estimate, 0);
    };
    // A store on a real clock (Redis: TIME plus the harness's offset) may expire a hold between
    // these reads: the balances are read between two looks at the holds, and are exact when both
    // looks agree, and between them when a hold expired in the meantime.
    const heldBefore = await openHolds();
    const balances = [];
    for (const scope of budgetScopes) balances.push(await ledger.getBalance({ scope }));
    const heldAfter = await openHolds();
    const charged = reservations.reduce((sum, record) => sum + record.charged, 0);
    for (const [index, scope] of budgetScopes.entries()) {
      const balance = balances[index];
      expect(balance, scope).not.toBeNull();
      if (!balance) continue;
      expect(balance.spent + balance.reserved, "spent + reserved never exceeds allocated").toBeLessThanOrEqual(
        scenario.budgets[index].limit,
      );
      if (heldBefore === heldAfter) expect(balance.reserved, "reserved equals the open holds").toBe(heldAfter);
      else {
        expect(balance.reserved, "reserved is at most the holds open before").toBeLessThanOrEqual(heldBefore);
        expect(balance.reserved, "reserved is at least the holds open after").toBeGreaterThanOrEqual(heldAfter);
      }
      expect(balance.spent, "spent equals the sum of charges").toBe(charged);
      // Checked against the model of what happened, not against the store's own other fields.
      const limit = scenario.budgets[index].limit;
      expect(balance.allocated, "allocated is the budget's limit").toBe(limit);
      expect(balance.debt, "REJECT never creates debt").toBe(0);
      expect(balance.remaining, "remaining is the limit less what was charged and what is held").toBe(
        limit - charged - balance.reserved,
      );
    }
  }
  await harness.advanceTimeMs(3_000 + graceMs);
  await ledger.sweep();
  for (const scope of budgetScopes) {
    expect((await ledger.getBalance({ scope }))?.reserved, "nothing is held after TTL + grace").toBe(0);
  }
  for (const record of reservations) {
    const stored = await ledger.getReservation(record.id);
    expect(["committed", "released", "expired"]).toContain(stored?.status ?? record.state);
  }
}
