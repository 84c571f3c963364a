import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { afterEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../../src/core/errors.js";
import { guardTool } from "../../../src/integrations/langchain/guard-tool.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { TollgateAgentState } from "../../../src/integrations/langgraph/state.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import { emailCalls, emailScope, newEffects, scriptedModel, subject, supportTools } from "./support-agent.js";

// The prebuilt ReAct agent of @langchain/langgraph with the permissioned tool node as its tools.

let ledger: Ledger;
afterEach(async () => {
  await ledger?.close();
});

async function setup(options: { fallback?: string } = {}) {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: emailScope, limit: 100 });
  const effects = newEffects();
  const sendEmail = guardTool(supportTools(effects).sendEmail, {
    toolset: "send-email",
    tier: "write-external",
    estimate: 20,
  });
  const { model } = scriptedModel([emailCalls(6), "Five sent; the sixth was over budget."]);
  const node = new PermissionedToolNode([sendEmail], { ledger, subject, ...options });
  return { effects, model, node };
}

const ask = { messages: [new HumanMessage("refund all six customers")] };

describe("createReactAgent with a PermissionedToolNode", () => {
  it("stateSchema: TollgateAgentState — six 20-point emails on 100 points: five run, the sixth is denied and recorded", async () => {
    const { effects, model, node } = await setup();
    const agent = createReactAgent({ llm: model, tools: node, stateSchema: TollgateAgentState });
    const steps: string[] = [];
    let final: typeof TollgateAgentState.State | undefined;
    for await (const chunk of await agent.stream(ask, { streamMode: ["updates", "values"] })) {
      const [mode, value] = chunk as [string, Record<string, unknown>];
      if (mode === "updates") steps.push(...Object.keys(value));
      else final = value as typeof TollgateAgentState.State;
    }
    expect(steps).toEqual(["agent", "tools", "agent"]);
    expect(effects.emails).toHaveLength(5);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 100, reserved: 0, remaining: 0 });
    expect(final?.tollgate.denials).toMatchObject([
      {
        toolCallId: "email-6",
        toolName: "send_email",
        reasonCode: "BUDGET_EXCEEDED",
        deniedScope: emailScope,
        status: "pending",
      },
    ]);
    const answers = (final?.messages ?? []).filter((message) => ToolMessage.isInstance(message));
    expect(answers.map((message) => (message as ToolMessage).status ?? "success")).toEqual([
      "success",
      "success",
      "success",
      "success",
      "success",
      "error",
    ]);
    // The model's second turn saw the denial and ended the run.
    expect(model.callCount).toBe(2);
    expect(String(model.calls[1].messages.at(-1)?.content)).toContain("BUDGET_EXCEEDED");
  });

  it("without the tollgate channel: refused before any tool runs, with the fix in the message", async () => {
    const { effects, model, node } = await setup();
    const agent = createReactAgent({ llm: model, tools: node });
    const error = await agent.invoke(ask).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0].path).toBe("state.tollgate");
    expect((error as Error).message).toContain("stateSchema: TollgateAgentState");
    expect(effects.emails).toHaveLength(0);
    expect(await ledger.getBalance({ scope: emailScope })).toMatchObject({ spent: 0, reserved: 0, remaining: 100 });
  });

  it("a fallback naming a node the prebuilt graph lacks is not run: the static edge goes back to the agent", async () => {
    const { effects, model, node } = await setup({ fallback: "escalate" });
    const agent = createReactAgent({ llm: model, tools: node, stateSchema: TollgateAgentState });
    const steps: string[] = [];
    for await (const update of await agent.stream(ask, { streamMode: "updates" })) steps.push(...Object.keys(update));
    expect(steps).toEqual(["agent", "tools", "agent"]);
    expect(effects.emails).toHaveLength(5);
  });
});
