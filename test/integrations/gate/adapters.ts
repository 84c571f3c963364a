// One driver per adapter: each builds a real LangGraph graph or langchain createAgent agent for a
// row of the conformance table, runs it (answering its interrupts as the row says), and reports
// what happened in the same shape, so one set of assertions judges all five adapters. Only the
// LLM is scripted; the ledger, the tools and the graphs are real.
import { type BaseMessage, ToolMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type StructuredToolInterface, tool } from "@langchain/core/tools";
import { Annotation, Command, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";
import { createAgent } from "langchain";
import { z } from "zod";
import type { Subject } from "../../../src/core/scope.js";
import { TollgateCallbackHandler } from "../../../src/integrations/langchain/callback-handler.js";
import { guardTool } from "../../../src/integrations/langchain/guard-tool.js";
import { tollgateMiddleware } from "../../../src/integrations/langchain/middleware.js";
import { humanApprovalFallback } from "../../../src/integrations/langgraph/human-approval-fallback.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { TollgateAnnotation } from "../../../src/integrations/langgraph/state.js";
import type { ActionSpec } from "../../../src/integrations/shared/action-spec.js";
import { type DenialStatus, denialOf } from "../../../src/integrations/shared/denial.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import type { LedgerStore } from "../../../src/store/types.js";
import { ScriptedChatModel, type ScriptedTurn } from "../langchain/callback-handler-scripted-model.js";
import type { AdapterName, ChargeSpec, Scenario, ScenarioTool } from "./scenarios.js";

export const subject: Subject = { tenant: "acme", agent: "resolver" };
/** Every scenario runs in one thread: the run id of run-window budgets. */
export const threadId = "conformance-run";

export interface Answer {
  content: string;
  error: boolean;
  /** The answer is tollgate's (a denial, or the resolution of one), not the tool's. */
  denial: boolean;
  /** The reason code of a denial that still stands. */
  reasonCode?: string;
}

/** What a run did, the same for every adapter. */
export interface Observed {
  /** The `to` of every tool body that ran. */
  ran: string[];
  /** The final answer to each tool call, by call id (none when the run threw). */
  answers: Map<string, Answer>;
  /** Errors thrown from the run (with their causes) and error ToolMessages that are not denials. */
  errors: string[];
  /** The run itself threw (a tool's error, a broken actual()), rather than answering every call. */
  threw: boolean;
  interrupts: number;
  settleErrors: unknown[];
  listBudgetsCalls: number;
  ledger: Ledger;
}

/** The harness around one run: the ledger (with a clock the tools can move), the tool bodies' record. */
interface Harness {
  ledger: Ledger;
  ran: string[];
  settleErrors: unknown[];
  onSettleError: (error: unknown) => void;
  listBudgetsCalls: () => number;
  holdLifetimeMs: number;
  advanceClock: (ms: number) => void;
}

/** A store whose every call fails, as a store that is down does. */
function downStore(): LedgerStore {
  const down = () => Promise.reject(new Error("store unreachable"));
  return {
    name: "down",
    distributed: false,
    putBudget: down,
    removeBudget: down,
    listBudgets: down,
    reserve: down,
    commit: down,
    release: down,
    extend: down,
    repayDebt: down,
    recordEvent: down,
    sweep: down,
    getBalance: down,
    getReservation: down,
    audit: down,
    now: down,
    close: () => Promise.resolve(),
  };
}

async function harnessFor(scenario: Scenario): Promise<Harness> {
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const shape = scenario.ledger;
  const holds = typeof shape === "object" ? shape : undefined;
  const ledger =
    shape === "down"
      ? createLedger({ store: downStore(), sweepIntervalMs: 0 })
      : createLedger({ sweepIntervalMs: 0, clock, ...holds });
  for (const budget of scenario.budgets) await ledger.setBudget(budget);
  if (shape === "closed") await ledger.close();
  // Every grant lookup starts with listBudgets: count the calls the run makes.
  let listBudgetsCalls = 0;
  const listBudgets = ledger.listBudgets.bind(ledger);
  ledger.listBudgets = (query) => {
    listBudgetsCalls++;
    return listBudgets(query);
  };
  const settleErrors: unknown[] = [];
  return {
    ledger,
    ran: [],
    settleErrors,
    onSettleError: (error) => settleErrors.push(error),
    listBudgetsCalls: () => listBudgetsCalls,
    holdLifetimeMs: holds ? holds.reservationTtlMs + holds.reservationGraceMs : 0,
    advanceClock: (ms) => {
      offsetMs += ms;
    },
  };
}

/** The real tool a row describes: a body with a side-effect record, no charge of its own. */
function rawTool(definition: ScenarioTool, harness: Harness): StructuredToolInterface {
  const body = definition.body ?? "ok";
  return tool(
    async ({ to }: { to: string }, config) => {
      harness.ran.push(to);
      if (body === "throws") throw new Error("upstream 503");
      if (body === "error-message") {
        return new ToolMessage({ content: "mailbox full", status: "error", tool_call_id: config.toolCall?.id ?? "" });
      }
      if (body === "outlives-hold") harness.advanceClock(harness.holdLifetimeMs + 1);
      return `sent to ${to}`;
    },
    {
      name: definition.name,
      description: `${definition.name} (conformance)`,
      schema: z.object({ to: z.string() }),
      ...(definition.tags ? { tags: definition.tags } : {}),
    },
  );
}

function specOf(charge: ChargeSpec): ActionSpec {
  const spec: ActionSpec = { tier: charge.tier };
  if (charge.toolset !== undefined) spec.toolset = charge.toolset;
  if (charge.estimate !== undefined) spec.estimate = charge.estimate;
  if (charge.actual === "throws") {
    spec.actual = () => {
      throw new Error("actual() broke");
    };
  }
  return spec;
}

/** The row's tools as every adapter but guard sees them: guardTool-wrapped where the row says so. */
function rowTools(scenario: Scenario, harness: Harness): StructuredToolInterface[] {
  return scenario.tools.map((definition) => {
    const raw = rawTool(definition, harness);
    return definition.guardTool ? guardTool(raw, specOf(definition.guardTool)) : raw;
  });
}

/** The gate options a row gives an adapter: toolSpecs, rules, onSettleError. */
function gateOptions(scenario: Scenario, harness: Harness) {
  const toolSpecs: Record<string, ActionSpec> = {};
  for (const definition of scenario.tools) {
    if (definition.toolSpec) toolSpecs[definition.name] = specOf(definition.toolSpec);
  }
  return {
    ...(Object.keys(toolSpecs).length > 0 ? { toolSpecs } : {}),
    ...(scenario.rules ? { rules: scenario.rules } : {}),
    onSettleError: harness.onSettleError,
  };
}

function scriptedModel(scenario: Scenario): ScriptedChatModel {
  const turns: ScriptedTurn[] = scenario.turns.map((calls) => ({
    toolCalls: calls.map((call) => ({ name: call.tool, args: { to: call.to ?? call.id }, id: call.id })),
  }));
  return new ScriptedChatModel([...turns, { content: "done" }]);
}

/** agent → tools → agent with LangGraph's stock ToolNode: the host of guard and of the callback handler. */
function stockGraph(model: ScriptedChatModel, tools: StructuredToolInterface[]) {
  const bound = model.bindTools(tools);
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", async (state: { messages: BaseMessage[] }) => ({
      messages: [await bound.invoke(state.messages)],
    }))
    .addNode("tools", new ToolNode(tools))
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .addEdge("tools", "agent")
    .compile({ checkpointer: new MemorySaver() });
}

const AgentState = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });

/** agent → PermissionedToolNode → (agent | approve) → agent. */
function gatedGraph(
  model: ScriptedChatModel,
  tools: StructuredToolInterface[],
  node: PermissionedToolNode,
  fallback?: ReturnType<typeof humanApprovalFallback>,
) {
  const bound = model.bindTools(tools);
  const ends = fallback ? ["agent", "approve"] : ["agent"];
  // biome-ignore lint/suspicious/noExplicitAny: the graph builder's node types narrow per call
  let graph: any = new StateGraph(AgentState)
    .addNode("agent", async (state: { messages: BaseMessage[] }) => ({
      messages: [await bound.invoke(state.messages)],
    }))
    .addNode("tools", node, { ends });
  if (fallback) graph = graph.addNode("approve", fallback, { ends: ["agent"] });
  return graph
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .compile({ checkpointer: new MemorySaver() });
}

/** What every driver hands to `drive`: how to invoke, and how to read the latest checkpoint. */
interface Runnable {
  invoke(input: unknown, config: RunnableConfig): Promise<{ messages?: BaseMessage[]; __interrupt__?: unknown[] }>;
  getState(config: RunnableConfig): Promise<{ config: RunnableConfig; values: { messages?: BaseMessage[] } }>;
}

type Build = (scenario: Scenario, harness: Harness) => { runnable: Runnable; config: RunnableConfig };

const builds: Record<AdapterName, Build> = {
  guardTool(scenario, harness) {
    const tools = scenario.tools.map((definition) => {
      const charge = definition.guardTool ?? definition.toolSpec;
      if (!charge || (definition.guardTool && definition.toolSpec) || scenario.rules) {
        throw new Error(`row "${scenario.name}" cannot be expressed with guard alone: list guardTool in notFor`);
      }
      return guardTool(rawTool(definition, harness), {
        ...specOf(charge),
        ledger: harness.ledger,
        subject,
        onSettleError: harness.onSettleError,
      });
    });
    return { runnable: stockGraph(scriptedModel(scenario), tools), config: { configurable: { thread_id: threadId } } };
  },

  callbackHandler(scenario, harness) {
    const tools = rowTools(scenario, harness);
    const handler = new TollgateCallbackHandler({
      ledger: harness.ledger,
      subject,
      ...gateOptions(scenario, harness),
      // The table is about tool calls: model calls are left unmetered.
      meterModelCalls: false,
    });
    return {
      runnable: stockGraph(scriptedModel(scenario), tools),
      // guardTool-wrapped tools take the binding from the run, as they do under any handler.
      config: {
        configurable: { thread_id: threadId, tollgate: { ledger: harness.ledger, subject } },
        callbacks: [handler],
      },
    };
  },

  toolNode(scenario, harness) {
    const tools = rowTools(scenario, harness);
    const node = new PermissionedToolNode(tools, {
      ledger: harness.ledger,
      subject,
      ...gateOptions(scenario, harness),
      next: "agent",
    });
    return {
      runnable: gatedGraph(scriptedModel(scenario), tools, node),
      config: { configurable: { thread_id: threadId } },
    };
  },

  approvalFallback(scenario, harness) {
    const tools = rowTools(scenario, harness);
    const node = new PermissionedToolNode(tools, {
      ledger: harness.ledger,
      subject,
      ...gateOptions(scenario, harness),
      fallback: "approve",
      next: "agent",
    });
    // Nothing but the ledger, the tools and where to go: the subject, run id and charge come from the denial.
    const timeout = scenario.approval?.approvalTimeoutMs;
    const fallback = humanApprovalFallback({
      ledger: harness.ledger,
      tools,
      next: "agent",
      ...(timeout !== undefined ? { approvalTimeoutMs: timeout } : {}),
    });
    return {
      runnable: gatedGraph(scriptedModel(scenario), tools, node, fallback),
      config: { configurable: { thread_id: threadId } },
    };
  },

  middleware(scenario, harness) {
    const tools = rowTools(scenario, harness);
    const approval = scenario.approval;
    const agent = createAgent({
      model: scriptedModel(scenario),
      tools,
      checkpointer: new MemorySaver(),
      middleware: [
        tollgateMiddleware({
          ledger: harness.ledger,
          subject,
          ...gateOptions(scenario, harness),
          ...(approval ? { onDeny: "interrupt" as const } : {}),
          ...(approval?.approvalTimeoutMs !== undefined ? { approvalTimeoutMs: approval.approvalTimeoutMs } : {}),
        }),
      ],
    });
    const runnable: Runnable = {
      invoke: (input, config) => agent.invoke(input as never, config as never) as never,
      getState: (config) => agent.graph.getState(config as never) as never,
    };
    return { runnable, config: { configurable: { thread_id: threadId } } };
  },
};

/** Runs a row on an adapter: invoke, answer each interrupt as the row says, and report. */
export async function runScenario(adapter: AdapterName, scenario: Scenario): Promise<Observed> {
  const harness = await harnessFor(scenario);
  const { runnable, config } = builds[adapter](scenario, harness);
  const errors: string[] = [];
  let interrupts = 0;
  let messages: BaseMessage[] | undefined;
  let threw = false;
  try {
    let result = await runnable.invoke({ messages: [{ role: "user", content: "go" }] }, config);
    for (const decisions of scenario.approval?.resumes ?? []) {
      if (!result.__interrupt__?.length) break;
      interrupts++;
      if (scenario.approval?.waitMs) await new Promise((resolve) => setTimeout(resolve, scenario.approval?.waitMs));
      const interrupted = (await runnable.getState(config)).config;
      const resume = new Command({ resume: { decisions } });
      result = await runnable.invoke(resume, config);
      if (scenario.approval?.replay) result = await runnable.invoke(resume, interrupted);
    }
    if (result.__interrupt__?.length) interrupts++;
    messages = result.messages;
  } catch (error) {
    threw = true;
    errors.push(...messagesOf(error));
  }
  // A run that threw answered nothing: what the last checkpoint holds predates the failure.
  const answers = answersOf(messages ?? []);
  for (const answer of answers.values()) if (answer.error && !answer.denial) errors.push(answer.content);
  return {
    ran: harness.ran,
    answers,
    errors,
    threw,
    interrupts,
    settleErrors: harness.settleErrors,
    listBudgetsCalls: harness.listBudgetsCalls(),
    ledger: harness.ledger,
  };
}

/** A thrown error's message and its causes' (langchain wraps a middleware's error). */
function messagesOf(error: unknown): string[] {
  const found: string[] = [];
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    found.push(current instanceof Error ? current.message : String(current));
    current = (current as { cause?: unknown }).cause;
  }
  return found;
}

/** Statuses of a denial that still stands (an approved or edited one ran, or had run before). */
const standingDenials: ReadonlySet<DenialStatus> = new Set([
  "pending",
  "denied",
  "rejected",
  "timed-out",
  "failed",
  "read-only",
]);

/**
 * The final answer per tool call. A denial is read from the denial record the message carries
 * (guard, the node, the fallback, the middleware), else from the error's words (the callback
 * handler's BudgetExceededError, worded by LangGraph's ToolNode).
 */
function answersOf(messages: BaseMessage[]): Observed["answers"] {
  const answers: Observed["answers"] = new Map();
  for (const message of messages) {
    if (!ToolMessage.isInstance(message)) continue;
    const content = typeof message.content === "string" ? message.content : JSON.stringify(message.content);
    const error = message.status === "error";
    const denial = denialOf(message);
    const reasonCode = denial
      ? standingDenials.has(denial.status)
        ? denial.reasonCode
        : undefined
      : error
        ? /was denied: ([A-Z_]+)/.exec(content)?.[1]
        : undefined;
    const fromTollgate = denial !== undefined || reasonCode !== undefined;
    answers.set(message.tool_call_id, { content, error, denial: fromTollgate, ...(reasonCode ? { reasonCode } : {}) });
  }
  return answers;
}
