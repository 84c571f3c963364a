import { afterEach, describe, expect, it } from "vitest";
import type { Ledger } from "../../../src/ledger/ledger.js";
import { type Observed, runScenario, threadId } from "./adapters.js";
import { type AdapterName, adapterNames, type Scenario, scenarios } from "./scenarios.js";

// Every row of the gate conformance table, on every adapter it applies to (scenarios.ts says which
// and why not). The assertions are the same for all adapters: one gate, one behaviour.

let ledger: Ledger | undefined;
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
});

async function judge(scenario: Scenario, observed: Observed): Promise<void> {
  const expected = scenario.expect;
  expect([...observed.ran].sort(), "tool bodies that ran").toEqual([...expected.ran].sort());

  const denied: Record<string, string> = {};
  for (const [callId, answer] of observed.answers) if (answer.reasonCode) denied[callId] = answer.reasonCode;
  expect(denied, "reason codes of the denied calls").toEqual(expected.denied ?? {});
  // Every call the model made is answered, unless the run ended by throwing.
  if (!observed.threw) {
    const callIds = scenario.turns.flat().map((call) => call.id);
    expect([...observed.answers.keys()].sort(), "answered calls").toEqual(callIds.sort());
  }
  for (const [callId, text] of Object.entries(expected.answers ?? {})) {
    expect(observed.answers.get(callId)?.content, `answer to ${callId}`).toContain(text);
  }

  if (expected.surfaces === undefined) expect(observed.errors, "errors that reached the caller").toEqual([]);
  else expect(observed.errors.join("\n"), "errors that reached the caller").toContain(expected.surfaces);
  expect(observed.settleErrors, "onSettleError calls").toHaveLength(expected.settleErrors ?? 0);
  expect(observed.interrupts, "interrupts").toBe(expected.interrupts ?? 0);
  if (expected.listBudgetsCalls !== undefined) {
    expect(observed.listBudgetsCalls, "listBudgets calls (grant lookups)").toBe(expected.listBudgetsCalls);
  }

  for (const balance of expected.balances) {
    const actual = await observed.ledger.getBalance({
      scope: balance.scope,
      ...(balance.run ? { runId: threadId } : {}),
    });
    expect(actual, `balance of ${balance.scope}`).toMatchObject({ spent: balance.spent, reserved: balance.reserved });
  }
  if (expected.commits) {
    const commits = (await observed.ledger.audit()).filter((event) => event.type === "commit");
    expect(commits.map((event) => event.amount).sort(), "commit amounts").toEqual([...expected.commits].sort());
  }
  if (expected.budgetScopes) {
    const scopes = (await observed.ledger.listBudgets({ scope: "tenant:acme" })).map((budget) => budget.scope);
    expect(scopes.sort(), "budgets left (approval grants gone)").toEqual([...expected.budgetScopes].sort());
  }
}

describe.each(adapterNames)("gate conformance: %s", (adapter: AdapterName) => {
  for (const scenario of scenarios) {
    const reason = scenario.notFor?.[adapter];
    if (reason) {
      it.skip(`${scenario.name} (not for ${adapter}: ${reason})`, () => {});
      continue;
    }
    it(scenario.name, async () => {
      const observed = await runScenario(adapter, scenario);
      ledger = observed.ledger;
      await judge(scenario, observed);
    });
  }
});

describe("the conformance table", () => {
  it("gives a reason wherever a row leaves an adapter out, and every adapter runs rows", () => {
    for (const scenario of scenarios) {
      for (const [adapter, reason] of Object.entries(scenario.notFor ?? {})) {
        expect(adapterNames, scenario.name).toContain(adapter);
        expect(reason?.length, `${scenario.name}: why not ${adapter}`).toBeGreaterThan(20);
      }
    }
    for (const adapter of adapterNames) {
      const rows = scenarios.filter((scenario) => !scenario.notFor?.[adapter]);
      expect(rows.length, adapter).toBeGreaterThanOrEqual(8);
    }
  });
});
