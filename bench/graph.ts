/**
 * The integration's own cost where users feel it, each target as a pair measured round by round in
 * turn (measurePair), over the real embedded ledger and over an instant stub ledger (answers
 * without work, so what is left is the adapter's own cost):
 *
 * - `PermissionedToolNode.invoke` alone against `ToolNode.invoke` (same tool, same call) ≤ 1.10×;
 * - `guardTool(tool).invoke` against a bare `tool.invoke` ≤ 1.30×;
 * - for context, one graph step (an agent node emitting one tool call, then the tool node).
 *
 *   npx tsx bench/graph.ts [invokesPerRound=2000] [rounds=9]
 */
import { pathToFileURL } from "node:url";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import { guardTool } from "../src/integrations/langchain/guard-tool.js";
import { PermissionedToolNode } from "../src/integrations/langgraph/permissioned-tool-node.js";
import { TollgateAnnotation, tollgateStateDefault } from "../src/integrations/langgraph/state.js";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { Ledger, ReserveResponse, SettleResponse } from "../src/ledger/ledger.js";
import { formatMeasurement, type Measurement, measurePair } from "./measure.js";

/**
 * A ledger that answers at once with fixed objects: every reserve is an ALLOW with a hold, every
 * settle succeeds. Over it, an adapter's time is its own (and LangChain's), not the ledger's.
 */
export function instantLedger(): Ledger {
  const allow: ReserveResponse = {
    decision: "ALLOW",
    scope: "tenant:acme",
    unit: "RISK_POINTS",
    estimate: 2,
    balances: [],
    reservationId: "r",
  };
  const settled = (status: "committed" | "released"): SettleResponse => ({
    ok: true,
    reservationId: "r",
    status,
    charged: 0,
    debtAdded: 0,
    uncharged: 0,
    released: 0,
    balances: [],
  });
  const committed = settled("committed");
  const released = settled("released");
  const unused = () => Promise.reject(new Error("instantLedger: not part of the benchmark"));
  return {
    mode: "enforce",
    reserve: () => Promise.resolve(allow),
    decide: () => Promise.resolve(allow),
    commit: () => Promise.resolve(committed),
    release: () => Promise.resolve(released),
    setBudget: unused,
    removeBudget: unused,
    listBudgets: unused,
    extend: unused,
    repayDebt: unused,
    getBalance: unused,
    getReservation: unused,
    audit: unused,
    recordApproval: unused,
    sweep: unused,
    store: new Promise(() => undefined),
    close: () => Promise.resolve(),
  };
}

/** The embedded ledger with budgets far above what a benchmark spends: every call takes the full path. */
export async function embeddedLedger(toolsets: readonly string[]): Promise<Ledger> {
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme", limit: Number.MAX_SAFE_INTEGER });
  for (const toolset of toolsets) {
    await ledger.setBudget({ scope: `tenant:acme/toolset:${toolset}`, limit: Number.MAX_SAFE_INTEGER });
  }
  return ledger;
}

export interface Target {
  label: string;
  base: Measurement;
  gated: Measurement;
  max: number;
}

export function targetLine(target: Target): string {
  const value = target.gated.perOpUs / target.base.perOpUs;
  const verdict = value <= target.max ? "met" : "NOT MET";
  return `${`${target.label} (target ≤ ${target.max.toFixed(2)})`.padEnd(70)} ${value.toFixed(3)}×  ${verdict}`;
}

const loop = (count: number, body: () => Promise<unknown>) => async () => {
  for (let i = 0; i < count; i++) await body();
};

export async function benchGraph(invokes = 2_000, rounds = 9): Promise<string[]> {
  const lines = ["## LangGraph / LangChain integration, one process, pairs interleaved round by round"];
  const subject = { tenant: "acme", workspace: "production", agent: "resolver" };
  const rules = [{ match: "lookup", tier: "read" as const, estimate: 2, toolset: "lookup" }];
  const lookup = tool(async ({ id }: { id: string }) => `record ${id}`, {
    name: "lookup",
    description: "Look a record up",
    schema: z.object({ id: z.string() }),
  });
  const call = { name: "lookup", args: { id: "42" }, id: "call-1", type: "tool_call" as const };
  // The node's input as the graph hands it over: the AI turn, and (for the gated node) its channel.
  const messages = [new HumanMessage("look up 42"), new AIMessage({ content: "", tool_calls: [call] })];
  const nodeInput = { messages };
  const gatedNodeInput = { messages, tollgate: tollgateStateDefault() };
  const plainNode = new ToolNode([lookup]);

  const targets: Target[] = [];
  for (const [ledgerName, ledger] of [
    ["embedded ledger", await embeddedLedger(["lookup"])],
    ["instant stub ledger", instantLedger()],
  ] as const) {
    const gatedNode = new PermissionedToolNode([lookup], { ledger, subject, rules, next: END });
    const [plainNodeRun, gatedNodeRun] = await measurePair(
      { name: "ToolNode.invoke (1 tool call)", run: loop(invokes, () => plainNode.invoke(nodeInput)) },
      {
        name: `PermissionedToolNode.invoke (same), ${ledgerName}`,
        run: loop(invokes, () => gatedNode.invoke(gatedNodeInput)),
      },
      invokes,
      rounds,
    );
    const guarded = guardTool(lookup, { ledger, subject, toolset: "lookup", tier: "read", estimate: 2 });
    const [bare, wrapped] = await measurePair(
      { name: "tool.invoke(args), bare", run: loop(invokes, () => lookup.invoke({ id: "42" })) },
      { name: `guardTool(tool).invoke(args), ${ledgerName}`, run: loop(invokes, () => guarded.invoke({ id: "42" })) },
      invokes,
      rounds,
    );
    const [bareCall, wrappedCall] = await measurePair(
      { name: "tool.invoke(toolCall), bare", run: loop(invokes, () => lookup.invoke(call)) },
      { name: `guardTool(tool).invoke(toolCall), ${ledgerName}`, run: loop(invokes, () => guarded.invoke(call)) },
      invokes,
      rounds,
    );
    lines.push(...[plainNodeRun, gatedNodeRun, bare, wrapped, bareCall, wrappedCall].map(formatMeasurement));
    targets.push(
      {
        label: `PermissionedToolNode.invoke / ToolNode.invoke, ${ledgerName}`,
        base: plainNodeRun,
        gated: gatedNodeRun,
        max: 1.1,
      },
      { label: `guardTool(tool).invoke / tool.invoke, ${ledgerName}`, base: bare, gated: wrapped, max: 1.3 },
      { label: `  the same with a tool call as input, ${ledgerName}`, base: bareCall, gated: wrappedCall, max: 1.3 },
    );
    await ledger.close();
  }

  // For context: one whole graph step, where LangGraph's own work dominates.
  const ledger = await embeddedLedger(["lookup"]);
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
  const State = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });
  const gated = new StateGraph(State)
    .addNode("agent", agent)
    .addNode("tools", new PermissionedToolNode([lookup], { ledger, subject, rules, fallback: "denied", next: END }), {
      ends: [END, "denied"],
    })
    .addNode("denied", () => ({}))
    .addEdge(START, "agent")
    .addEdge("agent", "tools")
    .compile();
  const steps = Math.max(1, Math.round(invokes / 10));
  const [plainStep, gatedStep] = await measurePair(
    { name: "graph step, ToolNode (agent + 1 tool call)", run: loop(steps, () => plain.invoke(input)) },
    { name: "graph step, PermissionedToolNode (same), embedded ledger", run: loop(steps, () => gated.invoke(input)) },
    steps,
    rounds,
  );
  lines.push(formatMeasurement(plainStep), formatMeasurement(gatedStep));
  const stepRatio = (gatedStep.perOpUs / plainStep.perOpUs).toFixed(3);
  lines.push("", ...targets.map(targetLine), `${"graph step, gated / plain (for context)".padEnd(70)} ${stepRatio}×`);
  await ledger.close();
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [invokes, rounds] = process.argv.slice(2).map(Number);
  console.log(`tollgate graph benchmark — node ${process.version}, ${new Date().toISOString()}`);
  for (const line of await benchGraph(invokes || undefined, rounds || undefined)) console.log(line);
}
