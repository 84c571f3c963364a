/**
 * The integration's own cost where users feel it, each target as a pair measured round by round in
 * turn (interleave, wall and CPU time), over the real embedded ledger and over an instant stub ledger (answers
 * without work, so what is left is the adapter's own cost):
 *
 * - `PermissionedToolNode.invoke` alone against `ToolNode.invoke` (same tool, same call) ≤ 1.10×;
 * - `guardTool(tool).invoke` against a bare `tool.invoke` ≤ 1.30×;
 * - for context, one graph step (an agent node emitting one tool call, then the tool node).
 *
 *   npx tsx bench/graph.ts [invokesPerRound=300] [rounds=21]
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
import { formatMeasurement, type InterleavedResult, interleave, type Measurement, pairwiseRatios } from "./measure.js";
import { MinimalGatedToolNode, minimalGuard } from "./minimal-gates.js";
import { summarize } from "./stats.js";
import { target } from "./targets.js";

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
    receipt: unused,
    sweep: unused,
    store: new Promise(() => undefined),
    close: () => Promise.resolve(),
  };
}

/**
 * A minimal prototype of the ledger's hot path, outside the project's ledger: plain objects, the
 * same work per call (every scope the subject falls under built and looked up, the
 * estimate held on each, a balance per budget in the answer, the hold settled once). It stands for
 * what a lean core costs, so the gate's figures over it say what the targets come to once the
 * ledger is lean.
 */
export function leanLedger(limits: Record<string, number>): Ledger {
  interface LeanBudget {
    scope: string;
    allocated: number;
    spent: number;
    reserved: number;
  }
  const budgets = new Map<string, LeanBudget>();
  for (const [scope, limit] of Object.entries(limits))
    budgets.set(scope, { scope, allocated: limit, spent: 0, reserved: 0 });
  const holds = new Map<string, { estimate: number; held: LeanBudget[] }>();
  let next = 0;
  const levels = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const;
  const balanceOf = (budget: LeanBudget) => ({
    scope: budget.scope,
    unit: "RISK_POINTS" as const,
    window: "lifetime" as const,
    instance: "life",
    allocated: budget.allocated,
    spent: budget.spent,
    reserved: budget.reserved,
    debt: 0,
    remaining: budget.allocated - budget.spent - budget.reserved,
  });
  const answer = (input: Parameters<Ledger["reserve"]>[0], hold: boolean): ReserveResponse => {
    // A budget may sit on any scope the subject falls under: the tenant with any subset of the
    // levels below it, in level order (tenant:acme/toolset:lookup covers every agent's lookups).
    const subject = input.subject as Record<string, string | undefined>;
    const below: string[] = [];
    for (const level of levels.slice(1)) {
      const value = subject[level];
      if (value !== undefined) below.push(`/${level}:${value}`);
    }
    const tenantScope = `tenant:${subject.tenant}`;
    const checked: LeanBudget[] = [];
    for (let mask = 0; mask < 1 << below.length; mask++) {
      let candidate = tenantScope;
      for (let index = 0; index < below.length; index++) if (mask & (1 << index)) candidate += below[index];
      const budget = budgets.get(candidate);
      if (budget) checked.push(budget);
    }
    const scope = tenantScope + below.join("");
    const estimate = input.estimate;
    const base = { scope, unit: "RISK_POINTS" as const, estimate };
    for (const budget of checked) {
      if (budget.allocated - budget.spent - budget.reserved < estimate) {
        return { ...base, decision: "DENY", reasonCode: "BUDGET_EXCEEDED", balances: checked.map(balanceOf) };
      }
    }
    if (checked.length === 0) return { ...base, decision: "DENY", reasonCode: "BUDGET_NOT_FOUND", balances: [] };
    if (!hold) return { ...base, decision: "ALLOW", balances: checked.map(balanceOf) };
    for (const budget of checked) budget.reserved += estimate;
    const reservationId = `r${next++}`;
    holds.set(reservationId, { estimate, held: checked });
    return { ...base, decision: "ALLOW", balances: checked.map(balanceOf), reservationId };
  };
  const settle = (reservationId: string, actual: number | undefined, status: "committed" | "released") => {
    const hold = holds.get(reservationId);
    if (!hold) return Promise.reject(new Error(`leanLedger: no hold ${reservationId}`));
    holds.delete(reservationId);
    const charged = status === "committed" ? (actual ?? hold.estimate) : 0;
    for (const budget of hold.held) {
      budget.reserved -= hold.estimate;
      budget.spent += charged;
    }
    const settled: SettleResponse = {
      ok: true,
      reservationId,
      status,
      charged,
      debtAdded: 0,
      uncharged: 0,
      released: hold.estimate - charged,
      balances: hold.held.map(balanceOf),
    };
    return Promise.resolve(settled);
  };
  return {
    ...instantLedger(),
    reserve: async (input) => answer(input, true),
    decide: async (input) => answer(input, false),
    commit: (reservationId, input) => settle(reservationId, input?.actual, "committed"),
    release: (reservationId) => settle(reservationId, undefined, "released"),
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

/** A pair measured round by round in turn (interleave), with each round's B/A ratio kept (both ran in that round). */
export interface Pair {
  base: Measurement;
  gated: Measurement;
  /** Per-round ratios gated / base of wall time, sorted: rounds share their load, so these step around bursts. */
  ratios: number[];
  /** The same of CPU time (this process, every thread): a neighbour taking the CPU lengthens wall time, not this. */
  cpuRatios: number[];
}

/**
 * The two variants interleaved round by round (one untimed round first): the verdicts use the
 * median of the per-round ratios (a round's A and B ran back to back, under the same load), and
 * show their interquartile range; the CPU-time ratio is printed beside each.
 */
export async function measuredPair(
  a: { name: string; run: () => Promise<void> },
  b: { name: string; run: () => Promise<void> },
  opsPerRound: number,
  rounds: number,
): Promise<Pair> {
  const [base, gated] = await interleave([a, b], { opsPerRound, rounds });
  const measurement = (result: InterleavedResult): Measurement => ({
    name: result.name,
    perOpUs: result.perOpUs.median,
    opsPerSecond: 1_000_000 / result.perOpUs.median,
    spread: result.perOpUs,
  });
  const sorted = (values: number[]) => values.sort((x, y) => x - y);
  return {
    base: measurement(base),
    gated: measurement(gated),
    ratios: sorted(pairwiseRatios(gated.roundsUs, base.roundsUs)),
    cpuRatios: sorted(pairwiseRatios(gated.roundsCpuUs, base.roundsCpuUs)),
  };
}

export interface Target {
  label: string;
  pair: Pair;
  max: number;
  /** Printed, with no verdict: the figure over a prototype or a stub, for scale beside the real one. */
  forScale?: boolean;
}

/** Records the figure with bench/targets.ts (summarized over runs) and returns its lines: wall time, then CPU time. */
export function targetLine({ label, pair, max, forScale }: Target): string {
  const spread = summarize(pair.ratios);
  const wall = target({
    name: label.trim(),
    value: spread.median,
    unit: "×",
    comparison: forScale ? "report" : "<=",
    limit: forScale ? undefined : max,
    spread,
    method: "median of per-round ratios, rounds interleaved",
  });
  return `${wall}\n${cpuLine(label, pair)}`;
}

/** A ratio shown for scale, without a target (and its CPU-time ratio). */
export function scaleLine(label: string, pair: Pair): string {
  const spread = summarize(pair.ratios);
  const wall = target({ name: label.trim(), value: spread.median, unit: "×", comparison: "report", spread });
  return `${wall}\n${cpuLine(label, pair)}`;
}

function cpuLine(label: string, pair: Pair): string {
  const spread = summarize(pair.cpuRatios);
  return target({
    name: `  ${label.trim()}, CPU time`,
    value: spread.median,
    unit: "×",
    comparison: "report",
    spread,
    method: "median of per-round CPU-time ratios, rounds interleaved",
  });
}

const loop = (count: number, body: () => Promise<unknown>) => async () => {
  for (let i = 0; i < count; i++) await body();
};

/**
 * Short rounds, many of them: on a shared machine a burst of load then lands on a few rounds of
 * both variants of a pair, and the medians step around it.
 */
export async function benchGraph(invokes = 300, rounds = 21): Promise<string[]> {
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
  const reserveInput = {
    subject: { ...subject, toolset: "lookup" },
    action: { name: "lookup", tier: "read" as const },
    estimate: 2,
    unit: "RISK_POINTS" as const,
    runId: undefined,
  };
  const ledgerShares: string[] = [];
  const overFloor: string[] = [];
  const leanLimits = { "tenant:acme": Number.MAX_SAFE_INTEGER, "tenant:acme/toolset:lookup": Number.MAX_SAFE_INTEGER };
  for (const [ledgerName, ledger] of [
    ["embedded ledger", await embeddedLedger(["lookup"])],
    ["lean prototype ledger", leanLedger(leanLimits)],
    ["instant stub ledger", instantLedger()],
  ] as const) {
    // The targets are the embedded ledger's; the prototype and the stub show what the gate itself costs.
    const forScale = ledgerName !== "embedded ledger";
    const gatedNode = new PermissionedToolNode([lookup], { ledger, subject, rules, next: END });
    const nodePair = await measuredPair(
      { name: "ToolNode.invoke (1 tool call)", run: loop(invokes, () => plainNode.invoke(nodeInput)) },
      {
        name: `PermissionedToolNode.invoke (same), ${ledgerName}`,
        run: loop(invokes, () => gatedNode.invoke(gatedNodeInput)),
      },
      invokes,
      rounds,
    );
    const guarded = guardTool(lookup, { ledger, subject, toolset: "lookup", tier: "read", estimate: 2 });
    const argsPair = await measuredPair(
      { name: "tool.invoke(args), bare", run: loop(invokes, () => lookup.invoke({ id: "42" })) },
      { name: `guardTool(tool).invoke(args), ${ledgerName}`, run: loop(invokes, () => guarded.invoke({ id: "42" })) },
      invokes,
      rounds,
    );
    const callPair = await measuredPair(
      { name: "tool.invoke(toolCall), bare", run: loop(invokes, () => lookup.invoke(call)) },
      { name: `guardTool(tool).invoke(toolCall), ${ledgerName}`, run: loop(invokes, () => guarded.invoke(call)) },
      invokes,
      rounds,
    );
    for (const pair of [nodePair, argsPair, callPair])
      lines.push(formatMeasurement(pair.base), formatMeasurement(pair.gated));
    if (ledgerName !== "instant stub ledger") {
      // The floor under each adapter on this ledger: a gate that only reserves, runs and commits.
      const minimalNode = new MinimalGatedToolNode([lookup], ledger, reserveInput);
      const minimalNodePair = await measuredPair(
        { name: "ToolNode.invoke (1 tool call)", run: loop(invokes, () => plainNode.invoke(nodeInput)) },
        {
          name: `minimal gated ToolNode.invoke (same), ${ledgerName}`,
          run: loop(invokes, () => minimalNode.invoke(nodeInput)),
        },
        invokes,
        rounds,
      );
      const minimalGuarded = minimalGuard(lookup, ledger, reserveInput);
      const minimalGuardPair = await measuredPair(
        { name: "tool.invoke(args), bare", run: loop(invokes, () => lookup.invoke({ id: "42" })) },
        {
          name: `minimal guard(tool.invoke)(args), ${ledgerName}`,
          run: loop(invokes, () => minimalGuarded({ id: "42" })),
        },
        invokes,
        rounds,
      );
      // Ours against that floor directly, in the same rounds: what the adapter adds over any gate on this ledger.
      const overFloorNode = await measuredPair(
        {
          name: `minimal gated ToolNode.invoke, ${ledgerName}`,
          run: loop(invokes, () => minimalNode.invoke(nodeInput)),
        },
        {
          name: `PermissionedToolNode.invoke, ${ledgerName}`,
          run: loop(invokes, () => gatedNode.invoke(gatedNodeInput)),
        },
        invokes,
        rounds,
      );
      const overFloorGuard = await measuredPair(
        {
          name: `minimal guard(tool.invoke)(args), ${ledgerName}`,
          run: loop(invokes, () => minimalGuarded({ id: "42" })),
        },
        { name: `guardTool(tool).invoke(args), ${ledgerName}`, run: loop(invokes, () => guarded.invoke({ id: "42" })) },
        invokes,
        rounds,
      );
      for (const pair of [minimalNodePair, minimalGuardPair, overFloorNode, overFloorGuard])
        lines.push(formatMeasurement(pair.base), formatMeasurement(pair.gated));
      overFloor.push(
        scaleLine(`PermissionedToolNode.invoke / the minimal gated ToolNode, ${ledgerName}`, overFloorNode),
        scaleLine(`guardTool(tool).invoke(args) / the minimal guard, ${ledgerName}`, overFloorGuard),
      );
      targets.push(
        {
          label: `minimal gated ToolNode (runTool: reserve, run, commit) / ToolNode.invoke, ${ledgerName}`,
          pair: minimalNodePair,
          max: 1.1,
          forScale: true,
        },
        {
          label: `minimal guard (reserve, tool.invoke, commit) / tool.invoke, ${ledgerName}`,
          pair: minimalGuardPair,
          max: 1.3,
          forScale: true,
        },
      );
    }
    if (ledgerName !== "instant stub ledger") {
      // The ledger's own share of a gated call: what a lean core has to take off the ratios above.
      const stub = instantLedger();
      const pair = (on: Ledger) => async () => {
        for (let i = 0; i < invokes; i++) {
          const held = await on.reserve(reserveInput);
          if (held.reservationId) await on.commit(held.reservationId, { actual: 2 });
        }
      };
      const ledgerPair = await measuredPair(
        { name: "reserve + commit, instant stub ledger", run: pair(stub) },
        { name: `reserve + commit, ${ledgerName}`, run: pair(ledger) },
        invokes,
        rounds,
      );
      lines.push(formatMeasurement(ledgerPair.base), formatMeasurement(ledgerPair.gated));
      const share = ledgerPair.gated.perOpUs / nodePair.base.perOpUs;
      ledgerShares.push(
        `${`reserve + commit, ${ledgerName}, in ToolNode.invokes of this run`.padEnd(72)} ${share.toFixed(3)}×`,
      );
    }
    targets.push(
      { label: `PermissionedToolNode.invoke / ToolNode.invoke, ${ledgerName}`, pair: nodePair, max: 1.1, forScale },
      { label: `guardTool(tool).invoke / tool.invoke, ${ledgerName}`, pair: argsPair, max: 1.3, forScale },
      { label: `guardTool(tool).invoke(toolCall) / tool.invoke, ${ledgerName}`, pair: callPair, max: 1.3, forScale },
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
  const stepPair = await measuredPair(
    { name: "graph step, ToolNode (agent + 1 tool call)", run: loop(steps, () => plain.invoke(input)) },
    { name: "graph step, PermissionedToolNode (same), embedded ledger", run: loop(steps, () => gated.invoke(input)) },
    steps,
    rounds,
  );
  lines.push(formatMeasurement(stepPair.base), formatMeasurement(stepPair.gated));
  lines.push(
    "",
    ...targets.map(targetLine),
    ...overFloor,
    ...ledgerShares,
    scaleLine("graph step, gated / plain (for context)", stepPair),
  );
  await ledger.close();
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [invokes, rounds] = process.argv.slice(2).map(Number);
  console.log(`tollgate graph benchmark — node ${process.version}, ${new Date().toISOString()}`);
  for (const line of await benchGraph(invokes || undefined, rounds || undefined)) console.log(line);
}
