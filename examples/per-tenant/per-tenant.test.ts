import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { Policy } from "../../src/core/policy.js";
import type { Ledger } from "../../src/index.js";
import type { ApprovalRequest } from "../../src/integrations/langgraph/index.js";
import { permittedTools } from "../../src/integrations/langgraph/index.js";
import { buildTenantAgent, loadPolicy, policyLedger, requestMessage, runFor, subjectOf } from "./agent.js";

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

function setup(policy: Policy = loadPolicy()) {
  ledger = policyLedger(policy);
  return { policy, ...buildTenantAgent({ ledger, policy }) };
}

type RunResult = { __interrupt__?: { value: ApprovalRequest }[] };

async function reservesOf(tenant: string) {
  const events = await ledger.audit({ scope: `tenant:${tenant}`, type: "reserve", limit: 1_000 });
  return events.map((event) => [event.action?.name, event.decision, event.reasonCode ?? null]);
}

describe("per-tenant example: same agent, same request, different budgets", () => {
  it("provisions the ledger from examples/policies/per-tenant.policy.yaml", async () => {
    setup();
    const budgets = (await ledger.listBudgets({ allTenants: true })).map((budget) => [budget.scope, budget.limit]);
    expect(budgets.sort()).toEqual(
      [
        ["tenant:enterprise-corp/toolset:deploy", 200],
        ["tenant:enterprise-corp/toolset:send-email", 500],
        ["tenant:starter-co/toolset:deploy", 0],
        ["tenant:starter-co/toolset:send-email", 50],
      ].sort(),
    );
  });

  it("enterprise-corp: the email and the deploy both run", async () => {
    const { graph, effects } = setup();
    const result = (await graph.invoke({ messages: [requestMessage()] }, runFor("enterprise-corp"))) as RunResult;
    expect(result.__interrupt__).toBeUndefined();
    expect(effects.deploys).toEqual([{ tenant: "enterprise-corp", service: "billing-api", version: "2.14.0" }]);
    expect(effects.emails).toHaveLength(1);
    expect(await reservesOf("enterprise-corp")).toEqual([
      ["send_email", "ALLOW", null],
      ["deploy_service", "ALLOW", null],
    ]);
    expect(await ledger.getBalance({ scope: "tenant:enterprise-corp/toolset:deploy" })).toMatchObject({ spent: 50 });
  });

  it("starter-co: the email runs, the deploy is denied before it runs and waits for a person", async () => {
    const { graph, effects } = setup();
    const result = (await graph.invoke({ messages: [requestMessage()] }, runFor("starter-co"))) as RunResult;
    expect(effects.deploys).toHaveLength(0);
    expect(effects.emails).toEqual([{ tenant: "starter-co", to: "ops@customer.example" }]);
    expect(await reservesOf("starter-co")).toEqual([
      ["send_email", "ALLOW", null],
      ["deploy_service", "DENY", "BUDGET_EXCEEDED"],
    ]);
    // Routed by the policy's fallbacks (tiers.execution: escalate) to the approval node.
    expect((await graph.getState(runFor("starter-co"))).next).toEqual(["escalate"]);
    expect(result.__interrupt__?.[0].value.actionRequests).toMatchObject([{ name: "deploy_service" }]);
    expect(result.__interrupt__?.[0].value.tollgate.denials[0]).toMatchObject({
      deniedScope: "tenant:starter-co/toolset:deploy",
      reasonCode: "BUDGET_EXCEEDED",
    });
  });

  it("one graph serves both tenants in turn, each charged to its own budgets", async () => {
    const { graph, effects } = setup();
    await graph.invoke({ messages: [requestMessage()] }, runFor("enterprise-corp"));
    await graph.invoke({ messages: [requestMessage()] }, runFor("starter-co"));
    expect(effects.deploys.map((deploy) => deploy.tenant)).toEqual(["enterprise-corp"]);
    expect(effects.emails.map((email) => email.tenant)).toEqual(["enterprise-corp", "starter-co"]);
    expect(await ledger.getBalance({ scope: "tenant:starter-co/toolset:send-email" })).toMatchObject({ spent: 20 });
    expect(await ledger.getBalance({ scope: "tenant:enterprise-corp/toolset:send-email" })).toMatchObject({
      spent: 20,
    });
  });

  it("the tools each tenant's model could be offered differ: starter-co has no deploy", async () => {
    const { tools } = setup();
    const names = async (tenant: string) =>
      (await permittedTools(tools, { ledger, subject: subjectOf(runFor(tenant)) })).map((allowed) => allowed.name);
    expect(await names("enterprise-corp")).toEqual(["send_email", "deploy_service"]);
    expect(await names("starter-co")).toEqual(["send_email"]);
  });

  it("starter-co's email budget narrows: the 2nd email comes with read-only caps, the 3rd finds 10 of 50 left", async () => {
    const { graph, effects } = setup();
    for (const run of [1, 2, 3]) {
      await graph.invoke({ messages: [requestMessage()] }, runFor("starter-co", `starter-${run}`));
    }
    expect(effects.emails).toHaveLength(2);
    const emails = (await reservesOf("starter-co")).filter(([name]) => name === "send_email");
    expect(emails).toEqual([
      ["send_email", "ALLOW", null],
      ["send_email", "ALLOW_WITH_CAPS", null],
      ["send_email", "DENY", "BUDGET_EXCEEDED"],
    ]);
    const [, second] = await ledger.audit({ scope: "tenant:starter-co", action: "send_email", type: "reserve" });
    expect(second.caps?.disabledTiers).toEqual(["write-local", "write-external", "mutation", "execution"]);
  });

  it("a policy change, not a code change, lets starter-co deploy", async () => {
    const policy = loadPolicy();
    const raised: Policy = {
      ...policy,
      budgets: policy.budgets.map((budget) =>
        budget.scope === "tenant:starter-co/toolset:deploy" ? { ...budget, limit: 100 } : budget,
      ),
    };
    const { graph, effects } = setup(raised);
    await graph.invoke({ messages: [requestMessage()] }, runFor("starter-co"));
    expect(effects.deploys).toEqual([{ tenant: "starter-co", service: "billing-api", version: "2.14.0" }]);
  });
});

const run = promisify(execFile);

describe("per-tenant example: main.ts", () => {
  it("exits 0 and shows the same request allowed for enterprise-corp and denied for starter-co", async () => {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "examples/per-tenant/main.ts"], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(stderr).toBe("");
    const lines = stdout.split("\n");
    const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line))).toBe(true);
    has(/^ {2}enterprise-corp +send_email, deploy_service$/);
    has(/^ {2}starter-co +send_email$/);
    has(/✓ ALLOW +deploy_service +execution 50 +toolset:deploy +\[█{4}░{11}\] 50\/200$/);
    has(/✗ DENY +deploy_service .*BUDGET_EXCEEDED at tenant:starter-co\/toolset:deploy$/);
    has(/↳ fallback: escalate/);
    has(/^Same code, same request: enterprise-corp deployed, starter-co did not deploy\.$/);
  });
});
