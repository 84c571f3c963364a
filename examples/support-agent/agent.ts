// The support agent of the incident, as a LangGraph graph guarded by tollgate. main.ts prints a trace of
// it; support-agent.test.ts runs the very same graph and checks the numbers.
//
//   agent ──tool calls──▶ tools (PermissionedToolNode) ──all allowed──▶ agent
//     │                      └──something denied──▶ readOnly (readOnlyFallback) ──▶ agent
//     └──done──▶ END, or, when the run fell back to read-only: handoff (draft + escalate) ──▶ END
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  isAIMessage,
  SystemMessage,
  ToolMessage,
} from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type FakeBuiltModel, fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { scopeIdOf } from "../../src/core/index.js";
import type { Ledger, SetBudgetInput, Subject } from "../../src/index.js";
import { type ActionSpec, guardTool } from "../../src/integrations/langchain/index.js";
import {
  PermissionedToolNode,
  permittedModelNode,
  readOnlyFallback,
  TollgateAnnotation,
} from "../../src/integrations/langgraph/index.js";

// ---------------------------------------------------------------- who acts, and the budgets an operator provisioned

/** The resolver agent of the billing-dispute workflow; each tool call adds its toolset to this path. */
const workflowSubject: Subject = {
  tenant: "acme",
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
};
export const subject: Subject = { ...workflowSubject, agent: "resolver" };
export const agentScope = scopeIdOf(subject);
export const workflowScope = scopeIdOf(workflowSubject);
export const toolsetScope = (toolset: string) => `${agentScope}/toolset:${toolset}`;

/**
 * Per run (the LangGraph thread): every ticket starts fresh. `send-email` has no narrowing, so the
 * sixth 20-point email meets a plain BUDGET_EXCEEDED; the workflow budget narrows progressively and
 * disables external writes once half of it is used, a second line of defence.
 */
export const supportBudgets: (SetBudgetInput & { label: string })[] = [
  { label: "send-email", scope: toolsetScope("send-email"), limit: 100, window: "run", narrowing: "none" },
  { label: "crm-updates", scope: toolsetScope("crm-updates"), limit: 200, window: "run", narrowing: "none" },
  { label: "internal-notes", scope: toolsetScope("internal-notes"), limit: 500, window: "run", narrowing: "none" },
  { label: "workflow", scope: workflowScope, limit: 200, window: "run", narrowing: "progressive" },
];

export async function provisionSupportBudgets(ledger: Ledger): Promise<void> {
  for (const { label: _label, ...budget } of supportBudgets) await ledger.setBudget(budget);
}

// ---------------------------------------------------------------- the ticket and the world the tools touch

export const ticket = {
  id: "T-4821",
  customerId: "C-1042",
  from: "financeiro@northwind.example",
  subject: "Cobrança duplicada na fatura de março",
  // "Our March invoice was charged twice. We are NOT asking for a refund now: please confirm the
  // charge is under review, and change nothing on the group's other accounts until we talk."
  body:
    "Olá, a fatura de março foi cobrada duas vezes no nosso cartão. Não estamos pedindo reembolso agora: " +
    "por favor confirmem que a cobrança está em análise e não alterem nada nas outras contas do grupo " +
    "até falarmos com o nosso gerente.",
};

export const relatedAccountsCount = 47;
export const relatedAccounts = Array.from({ length: relatedAccountsCount }, (_, index) => {
  const number = String(index + 1).padStart(2, "0");
  return { accountId: `C-${1043 + index}`, email: `billing-${number}@northwind-group.example` };
});

/** What the tools really did. `emailsSent` is counted inside send_email itself: only real sends. */
export interface SupportEffects {
  emailsSent: { to: string; subject: string }[];
  drafts: { draftId: string; ticketId: string; body: string }[];
  escalations: { escalationId: string; ticketId: string; draftId: string; reason: string }[];
  reads: number;
}

export function newSupportEffects(): SupportEffects {
  return { emailsSent: [], drafts: [], escalations: [], reads: 0 };
}

// ---------------------------------------------------------------- tools, each with the toll it pays

/** Tiers and risk points from the risk table: lookups 2, a draft 10, an email 20. */
export const toolCharges = {
  read_ticket: { tier: "read", estimate: 2, toolset: "tickets" },
  search_kb: { tier: "read", estimate: 2, toolset: "knowledge-base" },
  lookup_related_accounts: { tier: "read", estimate: 2, toolset: "crm-reads" },
  draft_reply: { tier: "write-local", estimate: 10, toolset: "internal-notes" },
  send_email: { tier: "write-external", estimate: 20, toolset: "send-email", actionKind: "tool.email" },
  escalate_to_human: { tier: "write-local", estimate: 10, toolset: "internal-notes" },
} satisfies Record<string, ActionSpec>;

export function supportTools(effects: SupportEffects, binding: { ledger: Ledger; subject: Subject }) {
  const readTicket = tool(
    async ({ ticketId }: { ticketId: string }) => {
      effects.reads++;
      if (ticketId !== ticket.id) throw new Error(`no ticket ${ticketId}`);
      return JSON.stringify(ticket);
    },
    {
      name: "read_ticket",
      description: "Read a support ticket by id",
      schema: z.object({ ticketId: z.string() }),
    },
  );
  const searchKb = tool(
    async ({ query }: { query: string }) => {
      effects.reads++;
      return /dispute|duplicate|review/i.test(query)
        ? "KB-112 Billing disputes: acknowledge, open a billing review, never promise a refund before finance approves."
        : "KB-087 Refunds: refunds are issued by finance after a billing review.";
    },
    {
      name: "search_kb",
      description: "Search the support knowledge base",
      schema: z.object({ query: z.string() }),
    },
  );
  const lookupRelatedAccounts = tool(
    async ({ customerId }: { customerId: string }) => {
      effects.reads++;
      return JSON.stringify({ customerId, billingGroup: "northwind-group", accounts: relatedAccounts });
    },
    {
      name: "lookup_related_accounts",
      description: "List the accounts billed together with a customer",
      schema: z.object({ customerId: z.string() }),
    },
  );
  const draftReply = tool(
    async ({ ticketId, body }: { ticketId: string; body: string }) => {
      const draftId = `D-${effects.drafts.length + 1}`;
      effects.drafts.push({ draftId, ticketId, body });
      return JSON.stringify({ draftId, status: "saved for review" });
    },
    {
      name: "draft_reply",
      description: "Save a reply as a draft for a person to review; nothing is sent",
      schema: z.object({ ticketId: z.string(), body: z.string() }),
    },
  );
  const sendEmail = tool(
    async ({ to, subject: title }: { to: string; subject: string; body: string }) => {
      effects.emailsSent.push({ to, subject: title });
      return `sent to ${to}`;
    },
    {
      name: "send_email",
      description: "Send an email to a customer. Delivered at once; cannot be recalled.",
      schema: z.object({ to: z.string(), subject: z.string(), body: z.string() }),
    },
  );
  const escalateToHuman = tool(
    async ({ ticketId, reason, draftId }: { ticketId: string; reason: string; draftId: string }) => {
      const escalationId = `ESC-${effects.escalations.length + 1}`;
      effects.escalations.push({ escalationId, ticketId, draftId, reason });
      return JSON.stringify({ escalationId, queue: "billing-specialists" });
    },
    {
      name: "escalate_to_human",
      description: "Hand the ticket to a billing specialist with a draft and the reason",
      schema: z.object({ ticketId: z.string(), reason: z.string(), draftId: z.string() }),
    },
  );
  // guardTool carries each tool's charge: the tool node charges it once, and called on its own
  // (the handoff node) the tool reserves, runs and commits by itself.
  const guarded = <T extends Parameters<typeof guardTool>[0]>(inner: T) =>
    guardTool(inner, { ...toolCharges[inner.name as keyof typeof toolCharges], ...binding });
  return {
    readTicket: guarded(readTicket),
    searchKb: guarded(searchKb),
    lookupRelatedAccounts: guarded(lookupRelatedAccounts),
    draftReply: guarded(draftReply),
    sendEmail: guarded(sendEmail),
    escalateToHuman: guarded(escalateToHuman),
  };
}

// ---------------------------------------------------------------- the model that misreads the ticket

type Calls = { name: string; args: Record<string, unknown> }[];

/** An AI turn with tool calls, ids numbered per model like a provider's (call_001, call_002, ...). */
function turnMaker() {
  let callSeq = 0;
  return (content: string, calls: Calls): AIMessage =>
    new AIMessage({
      content,
      tool_calls: calls.map((call) => ({
        ...call,
        id: `call_${String(++callSeq).padStart(3, "0")}`,
        type: "tool_call",
      })),
    });
}

function toolResult(messages: BaseMessage[], name: string): string | undefined {
  const found = messages.findLast((message) => ToolMessage.isInstance(message) && message.name === name);
  return found === undefined ? undefined : String(found.content);
}

/**
 * A scripted stand-in for a tool-calling chat model (no API key): six turns, each computed from the
 * conversation the way a real model's would be. It takes "não estamos pedindo reembolso" for a
 * refund request, confirms a refund, then offers the same refund to all 47 accounts of the billing
 * group in one turn of parallel tool calls. Told it is in read-only mode, it re-checks the process
 * and writes a careful draft.
 */
export function misreadingModel(): FakeBuiltModel {
  const model = fakeModel();
  const toolTurn = turnMaker();
  model.respond(() => toolTurn("Reading the ticket first.", [{ name: "read_ticket", args: { ticketId: ticket.id } }]));
  model.respond(() =>
    toolTurn("Billing question about a duplicate charge. Checking the refund policy and the billing group.", [
      { name: "search_kb", args: { query: "refund duplicate charge" } },
      { name: "lookup_related_accounts", args: { customerId: ticket.customerId } },
    ]),
  );
  model.respond(() =>
    toolTurn("The customer wants the duplicate charge refunded. Confirming the refund.", [
      {
        name: "send_email",
        args: {
          to: ticket.from,
          subject: "Your refund is confirmed",
          body: "We have refunded the duplicate charge on your March invoice.",
        },
      },
    ]),
  );
  model.respond((messages) => {
    const { accounts } = JSON.parse(toolResult(messages, "lookup_related_accounts") ?? '{"accounts":[]}') as {
      accounts: { email: string }[];
    };
    return toolTurn(
      `The other ${accounts.length} accounts of the group were billed on the same invoice. Offering each of them the refund as well.`,
      accounts.map((account) => ({
        name: "send_email",
        args: {
          to: account.email,
          subject: "A refund for your March invoice",
          body: "We found a duplicate charge on your March invoice and are refunding it.",
        },
      })),
    );
  });
  model.respond(() =>
    toolTurn("Email is not available any more. Checking how billing disputes should be handled.", [
      { name: "search_kb", args: { query: "billing dispute duplicate charge under review" } },
    ]),
  );
  model.respond(
    () =>
      new AIMessage(
        "Olá, recebemos o seu aviso sobre a cobrança duplicada na fatura de março. A cobrança está em análise pela " +
          "nossa equipe financeira e nenhuma alteração será feita nas outras contas do grupo. Entraremos em contato " +
          "assim que a análise terminar.",
      ),
  );
  return model;
}

// ---------------------------------------------------------------- the graph

export const SupportState = Annotation.Root({
  ...MessagesAnnotation.spec,
  ...TollgateAnnotation.spec,
  escalation: Annotation<{ draftId: string; escalationId: string } | null>({
    reducer: (_, next) => next,
    default: () => null,
  }),
});
export type SupportStateType = typeof SupportState.State;

export const systemPrompt =
  "You resolve billing tickets for acme. Only send emails that match the customer's original request.";

export interface SupportAgentOptions {
  ledger: Ledger;
  /** Any chat model with bindTools(); defaults to the scripted model that misreads the ticket. */
  model?: BaseChatModel;
  effects?: SupportEffects;
}

export function buildSupportAgent(options: SupportAgentOptions) {
  const { ledger } = options;
  const effects = options.effects ?? newSupportEffects();
  const model = options.model ?? misreadingModel();
  const tools = supportTools(effects, { ledger, subject });
  const agentTools = Object.values(tools);
  const binding = { ledger, subject };

  /**
   * The seed's read-only pattern, made deterministic: once the run has fallen back, whatever the
   * model wrote last is saved as a draft and the ticket goes to a person with the reason. The
   * graph does this rather than the model, because read-only mode offers the model read tools only.
   */
  async function handoff(state: SupportStateType, config?: RunnableConfig) {
    const last = state.messages.findLast((message) => isAIMessage(message));
    const body = typeof last?.content === "string" && last.content.length > 0 ? last.content : "(no draft written)";
    const denied = state.tollgate.denials;
    const sent = effects.emailsSent.length;
    const draft = JSON.parse(await tools.draftReply.invoke({ ticketId: ticket.id, body }, config)) as {
      draftId: string;
    };
    const reason =
      `tollgate stopped the agent: ${denied.length} ${denied[0]?.toolName ?? "tool"} calls denied ` +
      `(${denied[0]?.reasonCode ?? "?"} at ${denied[0]?.deniedScope ?? "?"}); ${sent} emails had gone out. ` +
      "Review the draft and the emails already sent.";
    const escalation = JSON.parse(
      await tools.escalateToHuman.invoke({ ticketId: ticket.id, reason, draftId: draft.draftId }, config),
    ) as { escalationId: string };
    return { escalation: { draftId: draft.draftId, escalationId: escalation.escalationId } };
  }

  function afterAgent(state: SupportStateType): string {
    const last = state.messages.at(-1);
    if (last && isAIMessage(last) && (last.tool_calls?.length ?? 0) > 0) return "tools";
    return state.tollgate.mode === "read-only" ? "handoff" : END;
  }

  const graph = new StateGraph(SupportState)
    .addNode("agent", permittedModelNode(model, agentTools, { ...binding, prefix: [new SystemMessage(systemPrompt)] }))
    .addNode("tools", new PermissionedToolNode(agentTools, { ...binding, fallback: "readOnly", next: "agent" }), {
      ends: ["agent", "readOnly"],
    })
    .addNode("readOnly", readOnlyFallback({ next: "agent" }), { ends: ["agent"] })
    .addNode("handoff", handoff)
    .addEdge(START, "agent")
    .addConditionalEdges("agent", afterAgent, ["tools", "handoff", END])
    .addEdge("handoff", END)
    .compile({ checkpointer: new MemorySaver() });
  return { graph, effects, tools, model };
}

export const threadId = `ticket-${ticket.id}`;

export function ticketMessage(): HumanMessage {
  return new HumanMessage(`New ticket ${ticket.id} from ${ticket.from}. Resolve it.`);
}
