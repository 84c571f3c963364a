import { AIMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { guardTool } from "../../../src/integrations/langchain/guard-tool.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { readOnlyFallback } from "../../../src/integrations/langgraph/read-only-fallback.js";
import { tollgateStateDefault } from "../../../src/integrations/langgraph/state.js";
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
  supportTools,
  thread,
} from "./support-agent.js";

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

async function emailLedger(limit = 100): Promise<Ledger> {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: emailScope, limit });
  await ledger.setBudget({ scope: "tenant:acme/toolset:internal-search", limit: 1_000 });
  await ledger.setBudget({ scope: "tenant:acme/toolset:deploy", limit: 50 });
  return ledger;
}

function toolMessages(messages: unknown[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

describe("PermissionedToolNode", () => {
  it("six parallel 20-point emails on 100 points: five run, the sixth is denied and routed to the fallback", async () => {
    await emailLedger();
    const effects = newEffects();
    const { sendEmail, searchKb } = supportTools(effects);
    const { model } = scriptedModel([emailCalls(6), "I sent five and escalated the sixth."]);
    const graph = agentGraph({
      model,
      tools: [sendEmail, searchKb],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const steps: string[] = [];
    for await (const update of await graph.stream(ask("refund everyone"), {
      ...thread("t-six"),
      streamMode: "updates",
    })) {
      steps.push(...Object.keys(update));
    }
    expect(steps).toEqual(["agent", "tools", "readOnly", "agent"]);
    expect(effects.emails).toHaveLength(5);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 100, reserved: 0, remaining: 0 });

    const state = (await graph.getState(thread("t-six"))).values;
    const answers = toolMessages(state.messages);
    expect(answers).toHaveLength(6);
    const denied = answers.filter((message) => message.status === "error");
    expect(denied).toHaveLength(1);
    expect(denied[0].id).toBe(deniedMessageId("email-6"));
    expect(denied[0].tool_call_id).toBe("email-6");
    expect(denied[0].content).toContain("BUDGET_EXCEEDED");
    expect(denied[0].content).toContain("read-only mode");
    expect(state.tollgate.mode).toBe("read-only");
    expect(state.tollgate.denials).toMatchObject([
      {
        toolCallId: "email-6",
        toolName: "send_email",
        reasonCode: "BUDGET_EXCEEDED",
        deniedScope: emailScope,
        status: "read-only",
      },
    ]);
    const reserves = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "reserve");
    expect(reserves.map((event) => event.decision)).toEqual(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DENY"]);
  });

  it("goes to next, not to the fallback, when nothing is denied", async () => {
    await emailLedger();
    const effects = newEffects();
    const { sendEmail, searchKb } = supportTools(effects);
    const { model } = scriptedModel([[{ name: "search_kb", args: { query: "refunds" }, id: "s-1" }], "done"]);
    const graph = agentGraph({
      model,
      tools: [sendEmail, searchKb],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const steps: string[] = [];
    for await (const update of await graph.stream(ask("look up refunds"), {
      ...thread("t-ok"),
      streamMode: "updates",
    })) {
      steps.push(...Object.keys(update));
    }
    expect(steps).toEqual(["agent", "tools", "agent"]);
    expect(effects.searches).toBe(1);
  });

  it("charges a guardTool-wrapped tool once: one reserve per call in the audit log", async () => {
    await emailLedger();
    const effects = newEffects();
    const { sendEmail, searchKb } = supportTools(effects);
    const guarded = guardTool(sendEmail, { toolset: "send-email", tier: "write-external", estimate: 20 });
    const { model } = scriptedModel([emailCalls(3), "done"]);
    const graph = agentGraph({
      model,
      tools: [guarded, searchKb],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    await graph.invoke(ask("send three"), thread("t-once"));
    expect(effects.emails).toHaveLength(3);
    // Audit events carry the subject's full scope; filter by action.
    const events = await ledger.audit({ scope: "tenant:acme", action: "send_email" });
    expect(events.filter((event) => event.type === "reserve")).toHaveLength(3);
    expect(events.filter((event) => event.type === "commit")).toHaveLength(3);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 60, reserved: 0 });
  });

  it("denies a call to a tool that is not in its list with TOOL_NOT_ALLOWED", async () => {
    await emailLedger();
    const effects = newEffects();
    const { searchKb, deploy } = supportTools(effects);
    const { model } = scriptedModel([[{ name: "drop_tables", args: {}, id: "x-1" }], "ok"]);
    const graph = agentGraph({
      model,
      tools: [searchKb, deploy],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const result = await graph.invoke(ask("clean up"), thread("t-unknown"));
    expect(result.tollgate.denials).toMatchObject([{ toolCallId: "x-1", reasonCode: "TOOL_NOT_ALLOWED" }]);
    expect(toolMessages(result.messages)[0].status).toBe("error");
  });

  it("routes by tier to the matching fallback and runs what was allowed in the same step", async () => {
    await emailLedger();
    await ledger.setBudget({ scope: "tenant:acme/toolset:deploy", limit: 0 });
    const effects = newEffects();
    const { sendEmail, searchKb, deploy } = supportTools(effects);
    const { model } = scriptedModel([
      [
        { name: "search_kb", args: { query: "outage" }, id: "m-1" },
        { name: "deploy", args: { service: "billing" }, id: "m-2" },
        { name: "send_email", args: { to: "a@example.com" }, id: "m-3" },
      ],
      "done",
    ]);
    const visited: string[] = [];
    const track = (name: string) => (state: unknown) => {
      visited.push(name);
      return readOnlyFallback()(state as never);
    };
    const graph = agentGraph({
      model,
      tools: [sendEmail, searchKb, deploy],
      ledger,
      subject,
      fallback: { tiers: { execution: "approval" }, default: "readOnly" },
      fallbacks: { readOnly: track("readOnly"), approval: track("approval") },
    });
    await graph.invoke(ask("fix it"), thread("t-route"));
    expect(visited).toEqual(["approval"]);
    expect(effects).toMatchObject({ searches: 1, deploys: 0, emails: ["a@example.com"] });
  });

  it("takes the subject per tenant from the run config", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 20 });
    await ledger.setBudget({ scope: "tenant:globex/toolset:send-email", limit: 100 });
    const effects = newEffects();
    const { sendEmail } = supportTools(effects);
    const { model } = scriptedModel([emailCalls(2, "a"), "done", emailCalls(2, "g"), "done"]);
    const graph = agentGraph({
      model,
      tools: [sendEmail],
      ledger,
      subject: (config) => ({ tenant: String(config?.configurable?.tenant) }),
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const acme = await graph.invoke(ask("two emails"), thread("t-acme", { tenant: "acme" }));
    const globex = await graph.invoke(ask("two emails"), thread("t-globex", { tenant: "globex" }));
    expect(acme.tollgate.denials).toHaveLength(1);
    expect(globex.tollgate.denials).toHaveLength(0);
    expect(effects.emails).toHaveLength(3);
    expect(await ledger.getBalance({ scope: "tenant:globex/toolset:send-email" })).toMatchObject({ spent: 40 });
  });

  it("takes the ledger and subject from configurable.tollgate when the node has none", async () => {
    await emailLedger(20);
    const effects = newEffects();
    const { sendEmail } = supportTools(effects);
    const { model } = scriptedModel([emailCalls(2), "done"]);
    const graph = agentGraph({ model, tools: [sendEmail], fallbacks: { readOnly: readOnlyFallback() } });
    const result = await graph.invoke(ask("two"), thread("t-ctx", { tollgate: { ledger, subject } }));
    expect(effects.emails).toHaveLength(1);
    expect(result.tollgate.denials).toHaveLength(1);
  });

  it("fails with a typed error naming the field when no subject can be found", async () => {
    await emailLedger();
    const effects = newEffects();
    const { sendEmail } = supportTools(effects);
    const { model } = scriptedModel([emailCalls(1), "done"]);
    const graph = agentGraph({ model, tools: [sendEmail], ledger, fallbacks: { readOnly: readOnlyFallback() } });
    const error = await graph.invoke(ask("one"), thread("t-nosubject")).catch((caught: unknown) => caught);
    expect((error as { code?: string }).code).toBe("VALIDATION_FAILED");
    expect((error as { issues: { path: string }[] }).issues[0].path).toBe("subject");
    expect(effects.emails).toHaveLength(0);
  });

  it("forgets each step when it ends, also when a tool's throw ends it", async () => {
    await emailLedger();
    const flaky = tool(
      async ({ fail }: { fail: boolean }) => {
        if (fail) throw new Error("tool down");
        return "ok";
      },
      { name: "flaky", description: "fails on demand", schema: z.object({ fail: z.boolean() }) },
    );
    const node = new PermissionedToolNode([flaky], {
      ledger,
      subject,
      rules: [{ match: "flaky", tier: "read", toolset: "internal-search" }],
      handleToolErrors: false,
      next: "agent",
    });
    const stepInput = (fail: boolean, id: string) => ({
      messages: [new AIMessage({ content: "", tool_calls: [{ name: "flaky", args: { fail }, id }] })],
      tollgate: tollgateStateDefault(),
    });
    const steps = (node as unknown as { steps: Map<object, unknown> }).steps;
    await node.invoke(stepInput(false, "ok-1"));
    await expect(node.invoke(stepInput(true, "fail-1"))).rejects.toThrow("tool down");
    const running = node.invoke(stepInput(false, "ok-2"));
    expect(steps.size).toBe(1);
    await running;
    expect(steps.size).toBe(0);
    expect(await ledger.getBalance({ scope: "tenant:acme/toolset:internal-search" })).toMatchObject({ reserved: 0 });
  });

  it("gates a runTool call that comes outside any step: charged once, denied when the budget is spent", async () => {
    await emailLedger(20);
    const effects = newEffects();
    const { sendEmail } = supportTools(effects);
    const node = new PermissionedToolNode([guardTool(sendEmail, { tier: "write-external", estimate: 20 })], {
      ledger,
      subject,
      toolSpecs: { send_email: { tier: "write-external", estimate: 20, toolset: "send-email" } },
    });
    // runTool is protected: a LangGraph path that bypassed run() would reach it like this.
    const runTool = (
      node as unknown as { runTool(call: unknown, config: unknown, state: unknown): Promise<unknown> }
    ).runTool.bind(node);
    const call = (id: string) => ({
      name: "send_email",
      args: { to: "a@x.io", body: "refund" },
      id,
      type: "tool_call",
    });
    const first = (await runTool(call("lone-1"), {}, { messages: [] })) as ToolMessage;
    const second = (await runTool(call("lone-2"), {}, { messages: [] })) as ToolMessage;
    expect(first.status).not.toBe("error");
    expect(second.status).toBe("error");
    expect(second.content).toContain("BUDGET_EXCEEDED");
    expect(effects.emails).toHaveLength(1);
    // One reserve per call: the guardTool inside saw the call marked as paid for.
    const reserves = (await ledger.audit({ scope: "tenant:acme" })).filter((event) => event.type === "reserve");
    expect(reserves.map((event) => event.decision)).toEqual(["ALLOW", "DENY"]);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 20, reserved: 0 });
  });
});
