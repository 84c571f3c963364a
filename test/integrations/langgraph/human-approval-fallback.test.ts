import { ToolMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import { afterEach, describe, expect, it } from "vitest";
import { humanApprovalFallback } from "../../../src/integrations/langgraph/human-approval-fallback.js";
import type { ApprovalRequest } from "../../../src/integrations/shared/approval.js";
import { deniedMessageId } from "../../../src/integrations/shared/denial.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import {
  agentGraph,
  ask,
  emailCalls,
  emailScope,
  newEffects,
  scriptedModel,
  subject,
  supportRules,
  supportTools,
  thread,
} from "./support-agent.js";

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

async function setup(turns: Parameters<typeof scriptedModel>[0], approvalOptions: { approvalTimeoutMs?: number } = {}) {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: emailScope, limit: 100 });
  const effects = newEffects();
  const { sendEmail, searchKb } = supportTools(effects);
  const tools = [sendEmail, searchKb];
  const { model } = scriptedModel(turns);
  const escalate = humanApprovalFallback({ ledger, subject, tools, rules: supportRules, ...approvalOptions });
  const graph = agentGraph({ model, tools, ledger, subject, fallbacks: { escalate } });
  return { graph, effects };
}

function interruptOf(result: { __interrupt__?: { value: unknown }[] }): ApprovalRequest {
  expect(result.__interrupt__).toHaveLength(1);
  return result.__interrupt__?.[0].value as ApprovalRequest;
}

function answerTo(messages: unknown[], toolCallId: string): ToolMessage {
  const answers = messages.filter(
    (message): message is ToolMessage => ToolMessage.isInstance(message) && message.tool_call_id === toolCallId,
  );
  expect(answers).toHaveLength(1);
  return answers[0];
}

describe("humanApprovalFallback", () => {
  it("asks in the human-in-the-loop format and, approved, runs the sixth email once, charged to a grant with the approver", async () => {
    const { graph, effects } = await setup([emailCalls(6), "all six sent"]);
    const first = await graph.invoke(ask("refund everyone"), thread("t-approve"));
    expect(effects.emails).toHaveLength(5);
    const request = interruptOf(first);
    expect(request.actionRequests).toEqual([
      {
        name: "send_email",
        args: { to: "customer6@example.com" },
        description: expect.stringContaining("BUDGET_EXCEEDED"),
      },
    ]);
    expect(request.reviewConfigs).toEqual([
      { actionName: "send_email", allowedDecisions: ["approve", "edit", "reject"] },
    ]);

    const done = await graph.invoke(
      new Command({ resume: { decisions: [{ type: "approve", approver: "alice" }] } }),
      thread("t-approve"),
    );
    expect(done.__interrupt__).toBeUndefined();
    expect(effects.emails).toEqual([...emailCalls(6).map((call) => call.args.to)]);
    const answer = answerTo(done.messages, "email-6");
    expect(answer.id).toBe(deniedMessageId("email-6"));
    expect(answer.status).not.toBe("error");
    expect(answer.content).toBe("email sent to customer6@example.com");
    expect(done.tollgate.denials).toMatchObject([{ toolCallId: "email-6", status: "approved", resolvedBy: "alice" }]);

    // The toolset budget is untouched by the approval; the one-off grant is gone once settled.
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 100, reserved: 0 });
    expect((await ledger.listBudgets({ allTenants: true })).map((budget) => budget.scope)).toEqual([emailScope]);
    const approved = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.actor === "alice");
    expect(approved.map((event) => [event.type, event.decision ?? event.amount])).toEqual([
      ["reserve", "ALLOW"],
      ["commit", 20],
    ]);
  });

  it("runs an edited action with the edited arguments", async () => {
    const { graph, effects } = await setup([emailCalls(6), "done"]);
    await graph.invoke(ask("refund everyone"), thread("t-edit"));
    const done = await graph.invoke(
      new Command({
        resume: {
          decisions: [{ type: "edit", editedAction: { name: "send_email", args: { to: "supervisor@example.com" } } }],
        },
      }),
      thread("t-edit"),
    );
    expect(effects.emails).toHaveLength(6);
    expect(effects.emails.at(-1)).toBe("supervisor@example.com");
    expect(answerTo(done.messages, "email-6").content).toBe("email sent to supervisor@example.com");
    expect(done.tollgate.denials[0].status).toBe("edited");
  });

  it("answers a rejected action with APPROVAL_REJECTED and the reviewer's reason, running nothing", async () => {
    const { graph, effects } = await setup([emailCalls(6), "understood"]);
    await graph.invoke(ask("refund everyone"), thread("t-reject"));
    const done = await graph.invoke(
      new Command({ resume: { decisions: [{ type: "reject", message: "wrong customer" }] } }),
      thread("t-reject"),
    );
    expect(effects.emails).toHaveLength(5);
    const answer = answerTo(done.messages, "email-6");
    expect(answer.status).toBe("error");
    expect(answer.content).toContain("APPROVAL_REJECTED");
    expect(answer.content).toContain("wrong customer");
    expect(done.tollgate.denials[0]).toMatchObject({ status: "rejected", reasonCode: "APPROVAL_REJECTED" });
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 100, reserved: 0 });
  });

  it("denies with APPROVAL_TIMEOUT an answer that comes too late", async () => {
    const { graph, effects } = await setup([emailCalls(6), "ok"], { approvalTimeoutMs: 5 });
    const first = await graph.invoke(ask("refund everyone"), thread("t-timeout"));
    expect(interruptOf(first).tollgate.expiresAtMs).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const done = await graph.invoke(new Command({ resume: { decisions: [{ type: "approve" }] } }), thread("t-timeout"));
    expect(effects.emails).toHaveLength(5);
    expect(answerTo(done.messages, "email-6").content).toContain("APPROVAL_TIMEOUT");
  });

  it("runs an approved action exactly once across a replayed resume", async () => {
    const { graph, effects } = await setup([emailCalls(6), "done", "done again"]);
    await graph.invoke(ask("refund everyone"), thread("t-replay"));
    const interrupted = (await graph.getState(thread("t-replay"))).config;
    const resume = new Command({ resume: { decisions: [{ type: "approve", approver: "alice" }] } });
    await graph.invoke(resume, thread("t-replay"));
    expect(effects.emails).toHaveLength(6);

    // Replay the resume from the interrupted checkpoint (time travel): the fallback node runs again.
    const replayed = await graph.invoke(resume, interrupted);
    expect(effects.emails).toHaveLength(6);
    expect(answerTo(replayed.messages, "email-6").content).toContain("not run again");
    const charged = (await ledger.audit({ scope: "tenant:acme" })).filter(
      (event) => event.type === "commit" && event.actor === "alice",
    );
    expect(charged).toHaveLength(1);
  });

  it("does not re-run the five finished emails when resuming", async () => {
    const { graph, effects } = await setup([emailCalls(6), "done"]);
    await graph.invoke(ask("refund everyone"), thread("t-finished"));
    await graph.invoke(new Command({ resume: { decisions: [{ type: "reject" }] } }), thread("t-finished"));
    expect(effects.emails).toEqual(emailCalls(5).map((call) => call.args.to));
    const reserves = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "reserve");
    expect(reserves).toHaveLength(6);
  });

  it("remembered for the run: a later denial in the same run is paid by the run grant without asking", async () => {
    const { graph, effects } = await setup([emailCalls(6), emailCalls(1, "later"), "done"]);
    await graph.invoke(ask("refund everyone"), thread("t-run"));
    const done = await graph.invoke(
      new Command({ resume: { decisions: [{ type: "approve", remember: "run", grantAmount: 40, approver: "bob" }] } }),
      thread("t-run"),
    );
    expect(done.__interrupt__).toBeUndefined();
    expect(effects.emails).toHaveLength(7);
    const grant = "tenant:acme/toolset:approved-run.send-email";
    expect(await ledger.getBalance({ scope: grant, runId: "t-run" })).toMatchObject({ allocated: 40, spent: 40 });
    // The approved call is charged with the approver, the later one with the remembered approval.
    const commits = (await ledger.audit({ scope: grant })).filter((event) => event.type === "commit");
    expect(commits.map((event) => event.actor)).toEqual(["bob", "tollgate.remembered-approval"]);
    // Another run gets its own, fresh instance of the run grant.
    expect(await ledger.getBalance({ scope: grant, runId: "t-other" })).toMatchObject({ spent: 0 });
  });

  it("remembered always: another thread's denial is paid by the standing grant; removing it revokes", async () => {
    const { graph, effects } = await setup([emailCalls(6), "done", emailCalls(1, "next"), "done"]);
    await graph.invoke(ask("refund everyone"), thread("t-always-1"));
    await graph.invoke(
      new Command({ resume: { decisions: [{ type: "approve", remember: "always", grantAmount: 40 }] } }),
      thread("t-always-1"),
    );
    const second = await graph.invoke(ask("one more"), thread("t-always-2"));
    expect(second.__interrupt__).toBeUndefined();
    expect(effects.emails).toHaveLength(7);
    expect(await ledger.getBalance({ scope: "tenant:acme/toolset:approved.send-email" })).toMatchObject({ spent: 40 });
  });

  it("rejects a resume with the wrong number of decisions, naming the field", async () => {
    const { graph, effects } = await setup([emailCalls(6), "done"]);
    await graph.invoke(ask("refund everyone"), thread("t-bad"));
    const error = await graph
      .invoke(new Command({ resume: { decisions: [] } }), thread("t-bad"))
      .catch((caught: unknown) => caught);
    expect((error as { issues: { path: string }[] }).issues[0].path).toBe("decisions");
    expect(effects.emails).toHaveLength(5);
  });
});
