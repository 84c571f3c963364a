import { afterEach, describe, expect, it } from "vitest";
import { PolicyError, parsePolicy } from "../../src/core/policy.js";
import { createLedger } from "../../src/ledger/create-ledger.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import {
  applyPolicy,
  type BudgetAdmin,
  loadPolicyFile,
  PolicyApplyError,
  parsePolicyText,
  planPolicy,
} from "../../src/ledger/policy.js";

const perTenant = "examples/policies/per-tenant.policy.yaml";
const ledgers: Ledger[] = [];
function ledger(options: Parameters<typeof createLedger>[0] = {}): Ledger {
  const created = createLedger({ sweepIntervalMs: 0, ...options });
  ledgers.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map((each) => each.close()));
});

const emailAction = { name: "send_email", tier: "write-external" as const };
const deployAction = { name: "deploy_service", tier: "execution" as const };

const basePolicy = `
budgets:
  - scope: tenant:acme/toolset:send-email
    limit: 100
  - scope: tenant:acme/toolset:deploy
    limit: 50
  - scope: tenant:acme
    limit: 1000
`;

describe("planning and applying a policy", () => {
  it("provisions the seed's per-tenant example: same code, different action surfaces", async () => {
    const target = ledger();
    const result = await applyPolicy(target, await loadPolicyFile(perTenant));
    expect(result.applied.map((change) => change.kind)).toEqual(["add", "add", "add", "add"]);
    const decide = (
      tenant: string,
      toolset: string,
      action: typeof emailAction | typeof deployAction,
      estimate: number,
    ) => target.decide({ subject: { tenant, toolset }, action, estimate }).then((answer) => answer.decision);
    expect(await decide("enterprise-corp", "send-email", emailAction, 20)).toBe("ALLOW");
    expect(await decide("enterprise-corp", "deploy", deployAction, 50)).toBe("ALLOW");
    expect(await decide("starter-co", "send-email", emailAction, 20)).toBe("ALLOW");
    expect(await decide("starter-co", "deploy", deployAction, 50)).toBe("DENY");
    expect(await decide("starter-co", "deploy", deployAction, 0)).toBe("DENY");
  });

  it("applying the same policy twice changes nothing (no writes, no audit events)", async () => {
    const target = ledger();
    const policy = parsePolicyText(basePolicy, "p.yaml");
    await applyPolicy(target, policy);
    const eventsAfterFirst = (await target.audit()).length;
    const plan = await planPolicy(target, policy);
    expect(plan).toMatchObject({ changes: [], unchanged: 3 });
    const second = await applyPolicy(target, policy);
    expect(second).toEqual({ applied: [], unchanged: 3 });
    expect((await target.audit()).length).toBe(eventsAfterFirst);
  });

  it("applying a changed policy changes only what changed, and keeps what was spent", async () => {
    const target = ledger();
    await applyPolicy(target, parsePolicyText(basePolicy, "p.yaml"));
    const held = await target.reserve({
      subject: { tenant: "acme", toolset: "send-email" },
      action: emailAction,
      estimate: 20,
    });
    await target.commit(held.reservationId as string);
    const changed = parsePolicyText(
      `
budgets:
  - scope: tenant:acme/toolset:send-email
    limit: 150
    narrowing: progressive
  - scope: tenant:acme
    limit: 1000
  - scope: tenant:acme/toolset:search
    limit: 10
`,
      "p.yaml",
    );
    const plan = await planPolicy(target, changed);
    expect(plan.unchanged).toBe(1);
    expect(
      plan.changes.map((change) => [change.kind, change.kind === "remove" ? change.before.scope : change.after.scope]),
    ).toEqual([
      ["add", "tenant:acme/toolset:search"],
      ["change", "tenant:acme/toolset:send-email"],
      ["remove", "tenant:acme/toolset:deploy"],
    ]);
    expect(plan.changes[1]).toMatchObject({ fields: ["limit", "narrowing"] });
    await applyPolicy(target, changed);
    expect(await target.getBalance({ scope: "tenant:acme/toolset:send-email" })).toMatchObject({
      allocated: 150,
      spent: 20,
      remaining: 130,
    });
    expect((await target.listBudgets({ allTenants: true })).map((budget) => budget.scope)).toEqual([
      "tenant:acme",
      "tenant:acme/toolset:search",
      "tenant:acme/toolset:send-email",
    ]);
  });

  it("prunes only beneath the scopes it owns, never approval grants, and not at all with prune: false", async () => {
    const target = ledger();
    await target.setBudget({ scope: "tenant:other/toolset:x", limit: 5 });
    await target.setBudget({ scope: "tenant:acme/toolset:approved.send-email", limit: 100 });
    await target.setBudget({ scope: "tenant:acme/toolset:stale", limit: 5 });
    const plan = await planPolicy(target, parsePolicyText(basePolicy, "p.yaml"));
    const removals = plan.changes.filter((change) => change.kind === "remove");
    expect(removals.map((change) => change.kind === "remove" && change.before.scope)).toEqual([
      "tenant:acme/toolset:stale",
    ]);
    const keep = await planPolicy(target, parsePolicy({ prune: false, budgets: [{ scope: "tenant:acme", limit: 1 }] }));
    expect(keep.changes.map((change) => change.kind)).toEqual(["add"]);
    const narrow = await planPolicy(
      target,
      parsePolicy({ owns: ["tenant:acme/toolset:stale"], budgets: [{ scope: "tenant:acme", limit: 1 }] }),
    );
    expect(narrow.changes.map((change) => change.kind)).toEqual(["add", "remove"]);
  });

  it("applies whole or not at all: a store failure part-way rolls back what was applied", async () => {
    const target = ledger();
    await applyPolicy(target, parsePolicyText(basePolicy, "p.yaml"));
    const before = await target.listBudgets({ allTenants: true });
    let writes = 0;
    const flaky: BudgetAdmin = {
      listBudgets: (query) => target.listBudgets(query),
      setBudget: async (input) => {
        writes++;
        if (writes === 3) throw new Error("connection reset");
        return target.setBudget(input);
      },
      removeBudget: (input) => target.removeBudget(input),
    };
    const changed = parsePolicy({
      budgets: [
        { scope: "tenant:acme/toolset:send-email", limit: 1 },
        { scope: "tenant:acme/toolset:deploy", limit: 2 },
        { scope: "tenant:acme/toolset:new", limit: 3 },
      ],
    });
    const failure = await applyPolicy(flaky, changed).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PolicyApplyError);
    expect((failure as PolicyApplyError).rolledBack).toBe(true);
    expect((failure as Error).message).toMatch(/connection reset.*rolled back; nothing was changed/);
    const after = await target.listBudgets({ allTenants: true });
    expect(after.map(({ updatedAtMs: _a, ...rest }) => rest)).toEqual(
      before.map(({ updatedAtMs: _b, ...rest }) => rest),
    );
  });

  it("a failure among the removals keeps those made: a budget added back would start from no spend", async () => {
    const target = ledger();
    await target.setBudget({ scope: "tenant:acme/toolset:spent", limit: 100 });
    await target.setBudget({ scope: "tenant:acme/toolset:truncate", limit: 100 });
    const held = await target.reserve({
      subject: { tenant: "acme", toolset: "spent" },
      action: { name: "send_email", tier: "write-external" },
      estimate: 90,
    });
    await target.commit(held.reservationId as string);
    const admin: BudgetAdmin = {
      listBudgets: (query) => target.listBudgets(query),
      setBudget: (input) => target.setBudget(input),
      removeBudget: async (input) => {
        if (input.scope === "tenant:acme/toolset:truncate") throw new Error("store gone");
        return target.removeBudget(input);
      },
    };
    // Owns tenant:acme: adds one budget, then removes the two it does not list ("spent" first).
    const policy = parsePolicy({ owns: ["tenant:acme"], budgets: [{ scope: "tenant:acme/toolset:new", limit: 5 }] });
    const planned = await planPolicy(target, policy);
    expect(planned.changes.map((change) => change.kind)).toEqual(["add", "remove", "remove"]);
    const removedFirst = planned.changes[1].kind === "remove" ? planned.changes[1].before.scope : "";
    if (removedFirst !== "tenant:acme/toolset:spent") throw new Error(`removals in another order: ${removedFirst}`);
    const failure = (await applyPolicy(admin, policy).catch((error: unknown) => error)) as PolicyApplyError;
    expect(failure).toBeInstanceOf(PolicyApplyError);
    expect(failure.rolledBack).toBe(false);
    expect(failure.rollbackFailures).toEqual([]);
    expect(failure.keptRemovals.map((change) => change.kind === "remove" && change.before.scope)).toEqual([
      "tenant:acme/toolset:spent",
    ]);
    expect(failure.message).toMatch(/Kept, not added back .*remove tenant:acme\/toolset:spent/);
    // The add was rolled back; the spent budget stays removed rather than back with 100 to spend.
    const scopes = (await target.listBudgets({ allTenants: true })).map((budget) => budget.scope);
    expect(scopes).toEqual(["tenant:acme/toolset:truncate"]);
    expect(await target.getBalance({ scope: "tenant:acme/toolset:spent" })).toBeNull();
  });

  it("says what is left when rolling back fails too", async () => {
    const target = ledger();
    let failing = false;
    const admin: BudgetAdmin = {
      listBudgets: (query) => target.listBudgets(query),
      setBudget: async (input) => {
        if (failing) throw new Error("store gone");
        failing = input.scope === "tenant:acme/toolset:b";
        return target.setBudget(input);
      },
      removeBudget: async () => {
        throw new Error("store gone");
      },
    };
    const policy = parsePolicy({
      budgets: [
        { scope: "tenant:acme/toolset:a", limit: 1 },
        { scope: "tenant:acme/toolset:b", limit: 1 },
        { scope: "tenant:acme/toolset:c", limit: 1 },
      ],
    });
    policy.source = "p.yaml";
    const failure = (await applyPolicy(admin, policy).catch((error: unknown) => error)) as PolicyApplyError;
    expect(failure.rolledBack).toBe(false);
    expect(failure.rollbackFailures).toHaveLength(2);
    expect(failure.message).toContain('run "tollgate policy diff p.yaml"');
  });

  it("createLedger({ policy }) applies the file before the first call and takes its mode", async () => {
    const enforced = ledger({ policy: perTenant });
    expect(enforced.mode).toBe("enforce");
    const denied = await enforced.reserve({
      subject: { tenant: "starter-co", toolset: "deploy" },
      action: deployAction,
      estimate: 50,
    });
    expect(denied).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });

    const shadow = ledger({
      policy: { mode: "shadow", budgets: [{ scope: "tenant:starter-co/toolset:deploy", limit: 0 }] },
    });
    expect(shadow.mode).toBe("shadow");
    const wouldDeny = await shadow.reserve({
      subject: { tenant: "starter-co", toolset: "deploy" },
      action: deployAction,
      estimate: 50,
    });
    expect(wouldDeny).toMatchObject({ decision: "ALLOW", shadow: { decision: "DENY", reasonCode: "BUDGET_EXCEEDED" } });
    expect(ledger({ policy: perTenant, mode: "shadow" }).mode).toBe("shadow");
  });

  it("createLedger({ policy }) throws at once on an invalid file, naming file and line", () => {
    expect(() => createLedger({ policy: { budgets: [{ scope: "tenant:a/level:x", limit: -1 }] } })).toThrow(
      PolicyError,
    );
    expect(() => createLedger({ policy: "/nonexistent/tollgate.policy.yaml" })).toThrow(
      /cannot read the file: no such file/,
    );
  });

  it("two applies at once take turns: the store ends as one policy says, never a mix of both", async () => {
    const target = ledger();
    const only = (toolset: string) =>
      parsePolicy({ owns: ["tenant:acme"], budgets: [{ scope: `tenant:acme/toolset:${toolset}`, limit: 7 }] });
    // Planned together from the same empty store, each would add its budget and neither remove the other's.
    const [first, second] = await Promise.all([
      applyPolicy(target, only("email")),
      applyPolicy(target, only("deploy")),
    ]);
    expect(first.applied.map((change) => change.kind)).toEqual(["add"]);
    // The second planned from what the first left: its budget added, the first's removed.
    expect(second.applied.map((change) => change.kind)).toEqual(["add", "remove"]);
    const scopes = (await target.listBudgets({ allTenants: true })).map((budget) => budget.scope);
    expect(scopes).toEqual(["tenant:acme/toolset:deploy"]);
  });

  it("an apply whose lease lapses stops before its next write and rolls back what it wrote", async () => {
    const target = ledger();
    let writes = 0;
    const admin: BudgetAdmin = {
      listBudgets: (query) => target.listBudgets(query),
      setBudget: (input) => {
        writes++;
        return target.setBudget(input);
      },
      removeBudget: (input) => target.removeBudget(input),
      // Held for the first write only, as when renewals stop being confirmed.
      withPolicyLease: (work) => work(() => writes === 0),
    };
    const failure = (await applyPolicy(admin, parsePolicyText(basePolicy, "p.yaml")).catch(
      (error: unknown) => error,
    )) as PolicyApplyError;
    expect(failure).toBeInstanceOf(PolicyApplyError);
    expect(failure.message).toMatch(/lease may have lapsed/);
    expect(failure.rolledBack).toBe(true);
    expect(writes).toBe(1);
    expect(await target.listBudgets({ allTenants: true })).toEqual([]);
  });

  it("a failed apply lets the next one have its turn, and a bad leaseWaitMs changes nothing", async () => {
    const target = ledger();
    const failing: BudgetAdmin = {
      listBudgets: (query) => target.listBudgets(query),
      setBudget: () => Promise.reject(new Error("store down")),
      removeBudget: (input) => target.removeBudget(input),
      store: target.store,
    };
    const policy = parsePolicyText(basePolicy, "p.yaml");
    const results = await Promise.allSettled([applyPolicy(failing, policy), applyPolicy(target, policy)]);
    expect(results[0]).toMatchObject({ status: "rejected", reason: expect.any(PolicyApplyError) });
    expect(results[1]).toMatchObject({ status: "fulfilled" });
    await expect(applyPolicy(target, policy, { leaseWaitMs: -1 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      issues: [{ path: "leaseWaitMs" }],
    });
  });
});
