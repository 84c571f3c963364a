import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import { guardTool } from "../src/integrations/langchain/guard-tool.js";
import { PermissionedToolNode } from "../src/integrations/langgraph/permissioned-tool-node.js";
import { TollgateAnnotation } from "../src/integrations/langgraph/state.js";
import { createLedger } from "../src/ledger/create-ledger.js";
import { formatMeasurement, measurePair, ratio } from "./measure.js";

/**
 * The integration's overhead where users feel it: one graph step (an agent node emitting one tool
 * call, then the tool node) with LangGraph's ToolNode against PermissionedToolNode, and a bare
 * tool.invoke against guardTool(tool).invoke. Both sides of each pair run in the same process,
 * round by round in turn.
 */
export async function benchGraph(): Promise<string[]> {
  const lines = ["## LangGraph / LangChain integration, one process"];
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme", limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({ scope: "tenant:acme/toolset:lookup", limit: Number.MAX_SAFE_INTEGER });
  const subject = { tenant: "acme", workspace: "production", agent: "resolver" };
  const rules = [{ match: "lookup", tier: "read" as const, estimate: 2, toolset: "lookup" }];

  const lookup = tool(async ({ id }: { id: string }) => `record ${id}`, {
    name: "lookup",
    description: "Look a record up",
    schema: z.object({ id: z.string() }),
  });
  let callNumber = 0;
  const agent = () => ({
    messages: [
      new AIMessage({ content: "", tool_calls: [{ name: "lookup", args: { id: "42" }, id: `call-${++callNumber}` }] }),
    ],
  });
  const input = { messages: [new HumanMessage("look up 42")] };

  const plain = new StateGraph(MessagesAnnotation)
    .addNode("agent", agent)
    .addNode("tools", new ToolNode([lookup]))
    .addEdge(START, "agent")
    .addEdge("agent", "tools")
    .addEdge("tools", END)
    .compile();
  const State = (await import("@langchain/langgraph")).Annotation.Root({
    ...MessagesAnnotation.spec,
    ...TollgateAnnotation.spec,
  });
  const gated = new StateGraph(State)
    .addNode("agent", agent)
    .addNode("tools", new PermissionedToolNode([lookup], { ledger, subject, rules, fallback: "denied", next: END }), {
      ends: [END, "denied"],
    })
    .addNode("denied", () => ({}))
    .addEdge(START, "agent")
    .addEdge("agent", "tools")
    .compile();

  const guarded = guardTool(lookup, { ledger, subject, toolset: "lookup", tier: "read", estimate: 2 });
  const steps = 200;
  const invokes = 2_000;
  const loop = (count: number, body: () => Promise<unknown>) => async () => {
    for (let i = 0; i < count; i++) await body();
  };
  const [plainStep, gatedStep] = await measurePair(
    { name: "graph step, ToolNode (agent + 1 tool call)", run: loop(steps, () => plain.invoke(input)) },
    { name: "graph step, PermissionedToolNode (same)", run: loop(steps, () => gated.invoke(input)) },
    steps,
  );
  const [bare, wrapped] = await measurePair(
    { name: "tool.invoke, bare", run: loop(invokes, () => lookup.invoke({ id: "42" })) },
    { name: "guardTool(tool).invoke", run: loop(invokes, () => guarded.invoke({ id: "42" })) },
    invokes,
  );
  lines.push(
    formatMeasurement(plainStep),
    formatMeasurement(gatedStep),
    formatMeasurement(bare),
    formatMeasurement(wrapped),
  );
  lines.push(ratio("gated step / plain step (target ≤ 1.05)", gatedStep, plainStep));
  lines.push(ratio("guardTool.invoke / bare tool.invoke (target ≤ 1.3)", wrapped, bare));
  const reserves = (await ledger.audit({ type: "reserve", limit: 100_000 })).length;
  lines.push(`(sanity: ${reserves} reservations audited in the last window of the ring)`);
  await ledger.close();
  return lines;
}
