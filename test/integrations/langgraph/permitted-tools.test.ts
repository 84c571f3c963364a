import { ToolMessage } from "@langchain/core/messages";
import { END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { afterEach, describe, expect, it } from "vitest";
import { permittedTools } from "../../../src/integrations/langgraph/permitted-tools.js";
import { readOnlyFallback } from "../../../src/integrations/langgraph/read-only-fallback.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import {
  AgentState,
  agentGraph,
  ask,
  emailCalls,
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

/** One agent-wide budget with progressive narrowing: at 50% external writes go, at 80% all but reads. */
async function narrowingLedger(): Promise<Ledger> {
  ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme/agent:resolver", limit: 100, narrowing: "progressive" });
  return ledger;
}

function names(tools: { name: string }[]): string[] {
  return tools.map((tool) => tool.name).sort();
}

describe("permittedTools and model binding", () => {
  it("narrows with the caps: the most dangerous tiers go first", async () => {
    await narrowingLedger();
    const { sendEmail, searchKb, deploy } = supportTools(newEffects());
    const tools = [sendEmail, searchKb, deploy];
    const options = { ledger, subject, rules: supportRules, runId: "r1" };
    // deploy (50) fits 100 but not the band; at u < 0.5 every tier is enabled.
    expect(names(await permittedTools(tools, options))).toEqual(["deploy", "search_kb", "send_email"]);
    const spend = async (points: number) => {
      const held = await ledger.reserve({
        subject: { ...subject, toolset: "misc" },
        action: { name: "misc", tier: "read" },
        estimate: points,
      });
      await ledger.commit(held.reservationId as string);
    };
    await spend(50);
    expect(names(await permittedTools(tools, options))).toEqual(["search_kb"]);
    expect(names(await permittedTools(tools, { ...options, readOnly: true }))).toEqual(["search_kb"]);
    await spend(48);
    expect(names(await permittedTools(tools, options))).toEqual(["search_kb"]);
    await spend(2);
    expect(await permittedTools(tools, options)).toEqual([]);
  });

  it("binds the model each turn to the permitted tools only, and the node denies a tool it was not offered", async () => {
    await narrowingLedger();
    const effects = newEffects();
    const { sendEmail, searchKb } = supportTools(effects);
    // Turn 1: three emails (60 points → past 50%, external writes disabled).
    // Turn 2: the model calls send_email anyway, though it was not offered.
    const { model, boundTools } = scriptedModel([
      emailCalls(3),
      [{ name: "send_email", args: { to: "x@example.com" }, id: "rogue-1" }],
      "stopping",
    ]);
    const graph = agentGraph({
      model,
      tools: [sendEmail, searchKb],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const result = await graph.invoke(ask("email them"), thread("t-bind"));
    expect(boundTools[0].sort()).toEqual(["search_kb", "send_email"]);
    expect(boundTools[1]).toEqual(["search_kb"]);
    // Bands are picked by utilization before each action (0, 0.2, 0.4): all three run; then u = 0.6.
    expect(effects.emails).toHaveLength(3);
    expect(result.tollgate.caps).toMatchObject({ disabledTiers: ["write-external", "mutation", "execution"] });
    const rogue = result.tollgate.denials.find((denial: { toolCallId: string }) => denial.toolCallId === "rogue-1");
    expect(rogue).toMatchObject({ reasonCode: "TOOL_NOT_ALLOWED" });
    const answer = result.messages.find(
      (message: unknown) => ToolMessage.isInstance(message) && message.tool_call_id === "rogue-1",
    );
    expect(answer.status).toBe("error");
  });

  it("after the read-only fallback only read tools are offered and run", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 20 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:internal-search", limit: 100 });
    const effects = newEffects();
    const { sendEmail, searchKb } = supportTools(effects);
    const { model, boundTools } = scriptedModel([
      emailCalls(2),
      [{ name: "search_kb", args: { query: "refund policy" }, id: "s-1" }],
      "draft prepared for review",
    ]);
    const graph = agentGraph({
      model,
      tools: [sendEmail, searchKb],
      ledger,
      subject,
      fallbacks: { readOnly: readOnlyFallback() },
    });
    const result = await graph.invoke(ask("email both"), thread("t-ro"));
    expect(effects.emails).toHaveLength(1);
    expect(effects.searches).toBe(1);
    expect(boundTools.slice(1)).toEqual([["search_kb"], ["search_kb"]]);
    expect(result.tollgate.mode).toBe("read-only");
  });

  it("works inside a subgraph, with the ledger and subject from the parent's run config", async () => {
    ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 100 });
    const effects = newEffects();
    const { sendEmail } = supportTools(effects);
    const { model } = scriptedModel([emailCalls(6), "escalated"]);
    const inner = agentGraph({ model, tools: [sendEmail], fallbacks: { readOnly: readOnlyFallback() } });
    const parent = new StateGraph(AgentState)
      .addNode("support", inner)
      .addEdge(START, "support")
      .addEdge("support", END)
      .compile({ checkpointer: new MemorySaver() });
    const steps: string[][] = [];
    const stream = await parent.stream(ask("refund everyone"), {
      ...thread("t-sub", { tollgate: { ledger, subject } }),
      streamMode: "updates",
      subgraphs: true,
    });
    for await (const [namespace, update] of stream)
      steps.push([namespace.length > 0 ? "inner" : "outer", ...Object.keys(update)]);
    expect(effects.emails).toHaveLength(5);
    expect(steps).toContainEqual(["inner", "tools"]);
    expect(steps).toContainEqual(["inner", "readOnly"]);
    const state = (await parent.getState(thread("t-sub"))).values;
    expect(state.tollgate.denials).toMatchObject([{ toolCallId: "email-6", status: "read-only" }]);
  });
});
