import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { AIMessage, ToolMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import { afterEach, describe, expect, it } from "vitest";
import { createLedger, type Ledger } from "../../src/index.js";
import type { ApprovalDecision } from "../../src/integrations/langgraph/index.js";
import {
  buildDeployAgent,
  deployScope,
  type Interrupted,
  provisionDeployBudgets,
  release,
  releaseModel,
  releaseRequest,
  threadId,
} from "./agent.js";

const approver = "dana@acme.example";
const config = { configurable: { thread_id: threadId } };

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

/** Runs up to the interrupt: CI checked, the deploy denied before it ran, a person asked. */
async function untilApproval(model = releaseModel()) {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await provisionDeployBudgets(ledger);
  const agent = buildDeployAgent({ ledger, model });
  const first = (await agent.graph.invoke({ messages: [releaseRequest()] }, config)) as Interrupted;
  return { ...agent, first };
}

async function resume(graph: ReturnType<typeof buildDeployAgent>["graph"], decision: ApprovalDecision) {
  return graph.invoke(new Command({ resume: { decisions: [decision] } }), config);
}

function deployAnswer(messages: unknown[]): ToolMessage {
  const answers = messages.filter(
    (message): message is ToolMessage => ToolMessage.isInstance(message) && message.tool_call_id === "call_deploy",
  );
  expect(answers).toHaveLength(1);
  return answers[0];
}

describe("deploy-approval example", () => {
  it("denies the deploy before it runs (zero deploy budget) and interrupts with the action", async () => {
    const { first, effects, graph } = await untilApproval();
    expect(effects).toEqual({ ciChecks: 1, deploys: [] });
    const request = first.__interrupt__?.[0]?.value;
    expect(first.__interrupt__).toHaveLength(1);
    expect(request?.actionRequests).toEqual([
      { name: "deploy_service", args: release, description: expect.stringContaining("BUDGET_EXCEEDED") },
    ]);
    expect(request?.reviewConfigs).toEqual([
      { actionName: "deploy_service", allowedDecisions: ["approve", "edit", "reject"] },
    ]);
    expect(request?.tollgate.denials).toMatchObject([
      { toolName: "deploy_service", tier: "execution", estimate: 50, deniedScope: deployScope, status: "pending" },
    ]);
    const snapshot = await graph.getState(config);
    expect(snapshot.next).toEqual(["approval"]);
    const denied = await ledger.audit({ action: "deploy_service", type: "reserve" });
    expect(denied.map((event) => [event.decision, event.reasonCode])).toEqual([["DENY", "BUDGET_EXCEEDED"]]);
  });

  it("approve: the deploy runs exactly once, charged to a one-off grant with the approver in the audit log", async () => {
    // One more model turn than the script has, for the replayed resume below.
    const model = releaseModel().respond(new AIMessage("Already deployed."));
    const { graph, effects } = await untilApproval(model);
    const done = await resume(graph, { type: "approve", approver });
    expect(effects.deploys).toEqual([release]);
    expect(deployAnswer(done.messages).content).toBe("deployed billing-api 2.14.0 to production");
    expect(String(done.messages.at(-1)?.content)).toContain("Done: deployed");
    expect(done.tollgate.denials).toMatchObject([{ status: "approved", resolvedBy: approver }]);

    const byApprover = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.actor === approver);
    expect(byApprover.map((event) => [event.type, event.action?.name, event.decision ?? event.amount])).toEqual([
      ["reserve", "deploy_service", "ALLOW"],
      ["commit", "deploy_service", 50],
    ]);
    // The agent's deploy budget is untouched and the one-off grant is gone: nothing more can deploy.
    expect(await ledger.getBalance({ scope: deployScope })).toMatchObject({ allocated: 0, spent: 0 });
    expect((await ledger.listBudgets({ allTenants: true })).some((budget) => budget.scope.includes("approved"))).toBe(
      false,
    );
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 52, reserved: 0 });

    // Replaying the same resume from the interrupted checkpoint does not deploy a second time.
    const history = [];
    for await (const snapshot of graph.getStateHistory(config)) history.push(snapshot);
    const interrupted = history.find((snapshot) => snapshot.next.includes("approval"));
    expect(interrupted).toBeDefined();
    await graph.invoke(
      new Command({ resume: { decisions: [{ type: "approve", approver }] } }),
      interrupted?.config as typeof config,
    );
    expect(model.callCount).toBe(4); // the replay did run: the approval node again, then the agent
    expect(effects.deploys).toHaveLength(1);
    expect((await ledger.audit({ action: "deploy_service", type: "commit" })).length).toBe(1);
  });

  it("reject: nothing deploys, nothing is charged, the agent is told why", async () => {
    const { graph, effects } = await untilApproval();
    const done = await resume(graph, { type: "reject", message: "change freeze", approver });
    expect(effects.deploys).toHaveLength(0);
    const answer = deployAnswer(done.messages);
    expect(answer.status).toBe("error");
    expect(answer.content).toContain("APPROVAL_REJECTED");
    expect(answer.content).toContain("change freeze");
    expect(done.tollgate.denials).toMatchObject([
      { status: "rejected", reasonCode: "APPROVAL_REJECTED", resolvedBy: approver },
    ]);
    expect(String(done.messages.at(-1)?.content)).toContain("Not deployed");
    const charged = (await ledger.audit({ action: "deploy_service", type: "commit" })).length;
    expect(charged).toBe(0);
  });

  it("edit: the edited action runs once instead of the one asked for", async () => {
    const { graph, effects } = await untilApproval();
    const staging = { ...release, environment: "staging" };
    const done = await resume(graph, {
      type: "edit",
      editedAction: { name: "deploy_service", args: staging },
      approver,
    });
    expect(effects.deploys).toEqual([staging]);
    expect(deployAnswer(done.messages).content).toBe("deployed billing-api 2.14.0 to staging");
    expect(done.tollgate.denials).toMatchObject([{ status: "edited", resolvedBy: approver }]);
    const commits = await ledger.audit({ action: "deploy_service", type: "commit" });
    expect(commits.map((event) => event.actor)).toEqual([approver]);
  });

  // Fails today: a rejection lives only in graph state. humanApprovalFallback writes nothing to the
  // ledger on reject, while the report (src/cli/report/model.ts) builds its "rejected" approval rows
  // from audit events with reason APPROVAL_REJECTED, so a reviewer's "no" never reaches the audit
  // log or the report. See the report to the lead.
  it("reject: the audit log records the rejection and who rejected (APPROVAL_REJECTED)", async () => {
    const { graph } = await untilApproval();
    await resume(graph, { type: "reject", message: "change freeze", approver });
    const events = await ledger.audit({ scope: "tenant:acme" });
    expect(events.filter((event) => event.reasonCode === "APPROVAL_REJECTED" && event.actor === approver)).toHaveLength(
      1,
    );
  });
});

const run = promisify(execFile);

describe("deploy-approval example: main.ts", () => {
  it.each([
    ["approve", /deploys: 1 \(billing-api 2\.14\.0 → production\)/],
    ["reject", /deploys: 0$/],
  ])("--decision %s exits 0 and prints the interrupt, the answer and the audit log", async (decision, deploys) => {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", "examples/deploy-approval/main.ts", "--decision", decision],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(stderr).toBe("");
    const lines = stdout.split("\n");
    const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line))).toBe(true);
    has(/DENY +deploy_service +execution 50 +BUDGET_EXCEEDED at .*toolset:deploy/);
    has(/↳ fallback: approval: the graph is interrupted/);
    has(/action +deploy_service \{"service":"billing-api","version":"2\.14\.0","environment":"production"\}/);
    has(new RegExp(`dana@acme\\.example answers: ${decision}`));
    has(deploys);
    if (decision === "approve") has(/commit +deploy_service +charged 50 +actor=dana@acme\.example/);
  });
});
