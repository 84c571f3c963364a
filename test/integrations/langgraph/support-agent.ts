// A scripted support agent for the LangGraph tests: real compiled graphs and a real ledger; only the
// LLM is replaced by a fake model that emits the tool calls each test scripts.
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { toolsCondition } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import type { FallbackTarget } from "../../../src/core/policy.js";
import type { Subject } from "../../../src/core/scope.js";
import type { ToolRule } from "../../../src/core/tool-rules.js";
import { PermissionedToolNode } from "../../../src/integrations/langgraph/permissioned-tool-node.js";
import { permittedModelNode } from "../../../src/integrations/langgraph/permitted-tools.js";
import type { NodeTool } from "../../../src/integrations/langgraph/run-tool-call.js";
import { TollgateAnnotation } from "../../../src/integrations/langgraph/state.js";
import type { SubjectSource } from "../../../src/integrations/shared/context.js";
import type { Ledger } from "../../../src/ledger/ledger.js";

export const AgentState = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });
export type AgentStateType = typeof AgentState.State;

export const subject: Subject = { tenant: "acme", workspace: "production", agent: "resolver" };
export const emailScope = "tenant:acme/toolset:send-email";

/** Side-effect counters: what the tools actually did. */
export interface Effects {
  emails: string[];
  searches: number;
  deploys: number;
}

export function newEffects(): Effects {
  return { emails: [], searches: 0, deploys: 0 };
}

export function supportTools(effects: Effects) {
  const sendEmail = tool(
    async ({ to }: { to: string }) => {
      effects.emails.push(to);
      return `email sent to ${to}`;
    },
    { name: "send_email", description: "Send an email to a customer", schema: z.object({ to: z.string() }) },
  );
  const searchKb = tool(
    async ({ query }: { query: string }) => {
      effects.searches++;
      return `3 articles about ${query}`;
    },
    { name: "search_kb", description: "Search the knowledge base", schema: z.object({ query: z.string() }) },
  );
  const deploy = tool(
    async ({ service }: { service: string }) => {
      effects.deploys++;
      return `deployed ${service}`;
    },
    { name: "deploy", description: "Deploy a service", schema: z.object({ service: z.string() }) },
  );
  return { sendEmail, searchKb, deploy };
}

export const supportRules: ToolRule[] = [
  { match: "send_email", tier: "write-external", estimate: 20, toolset: "send-email" },
  { match: "search_*", tier: "read", estimate: 2, toolset: "internal-search" },
  { match: "deploy", tier: "execution", estimate: 50, toolset: "deploy" },
];

export function emailCalls(count: number, prefix = "email"): { name: string; args: { to: string }; id: string }[] {
  return Array.from({ length: count }, (_, index) => ({
    name: "send_email",
    args: { to: `customer${index + 1}@example.com` },
    id: `${prefix}-${index + 1}`,
  }));
}

/** A fake chat model answering with these turns in order, recording the tool names bound each turn. */
export function scriptedModel(turns: ({ name: string; args: Record<string, unknown>; id: string }[] | string)[]) {
  const model = fakeModel();
  for (const turn of turns) {
    if (typeof turn === "string") model.respond(new AIMessage(turn));
    else model.respondWithTools(turn);
  }
  const boundTools: string[][] = [];
  const bindTools = model.bindTools.bind(model);
  model.bindTools = ((tools: { name: string }[]) => {
    boundTools.push(tools.map((bound) => bound.name));
    return bindTools(tools as never);
  }) as typeof model.bindTools;
  return { model, boundTools };
}

export interface AgentGraphOptions {
  model: ReturnType<typeof fakeModel>;
  tools: NodeTool[];
  ledger?: Ledger;
  subject?: SubjectSource;
  fallback?: FallbackTarget;
  /** Fallback nodes by name. */
  fallbacks: Record<string, unknown>;
  rules?: ToolRule[];
}

/** agent → tools → (agent | fallback) → agent, with a checkpointer. */
export function agentGraph(options: AgentGraphOptions) {
  const binding = { ledger: options.ledger, subject: options.subject, rules: options.rules ?? supportRules };
  const fallback = options.fallback ?? Object.keys(options.fallbacks)[0];
  const toolNode = new PermissionedToolNode(options.tools, { ...binding, fallback, next: "agent" });
  // biome-ignore lint/suspicious/noExplicitAny: the graph builder's node types narrow per call
  let graph: any = new StateGraph(AgentState)
    .addNode("agent", permittedModelNode(options.model, options.tools, binding))
    .addNode("tools", toolNode, { ends: ["agent", ...Object.keys(options.fallbacks)] });
  for (const [name, node] of Object.entries(options.fallbacks)) graph = graph.addNode(name, node, { ends: ["agent"] });
  return graph
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .compile({ checkpointer: new MemorySaver() });
}

export function ask(text: string): { messages: BaseMessage[] } {
  return { messages: [new HumanMessage(text)] };
}

export function thread(id: string, extra: Record<string, unknown> = {}) {
  return { configurable: { thread_id: id, ...extra } };
}
