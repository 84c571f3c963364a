// One agent, one deployment, two tenants. What each tenant's agent may do comes from the budgets in
// examples/policies/per-tenant.policy.yaml, not from branches in this file: the subject (the tenant)
// is picked per run from the run's config, and the policy's tool rules and fallbacks are used as is.
import { fileURLToPath } from "node:url";
import { AIMessage, type BaseMessage, HumanMessage, isAIMessage, ToolMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type FakeBuiltModel, fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { toolsCondition } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import type { Policy } from "../../src/core/policy.js";
import { createLedger, type Ledger, type Subject } from "../../src/index.js";
import {
  fallbackNodes,
  humanApprovalFallback,
  PermissionedToolNode,
  readOnlyFallback,
  TollgateAnnotation,
} from "../../src/integrations/langgraph/index.js";
import { loadPolicyFileSync } from "../../src/ledger/policy.js";

export const policyFile = fileURLToPath(new URL("../policies/per-tenant.policy.yaml", import.meta.url));
export const tenants = ["enterprise-corp", "starter-co"] as const;
export type Tenant = (typeof tenants)[number];

export function loadPolicy(): Policy {
  return loadPolicyFileSync(policyFile);
}

/** The ledger, provisioned from the policy file when it opens (its budgets; its mode). */
export function policyLedger(policy: Policy = loadPolicy()): Ledger {
  return createLedger({ policy, sweepIntervalMs: 0 });
}

/** The subject of a run: the tenant comes from the run's config; the rest is the same for everyone. */
export function subjectOf(config: RunnableConfig | undefined): Subject {
  const tenant = config?.configurable?.tenant;
  if (typeof tenant !== "string") throw new Error("run config needs configurable.tenant");
  return { tenant, app: "release-assistant", agent: "assistant" };
}

export interface TenantEffects {
  emails: { tenant: string; to: string }[];
  deploys: { tenant: string; service: string; version: string }[];
}

export function releaseTools(effects: TenantEffects) {
  const sendEmail = tool(
    async ({ to }: { to: string; subject: string }, config?: RunnableConfig) => {
      effects.emails.push({ tenant: subjectOf(config).tenant, to });
      return `sent to ${to}`;
    },
    {
      name: "send_email",
      description: "Email a customer",
      schema: z.object({ to: z.string(), subject: z.string() }),
    },
  );
  const deployService = tool(
    async ({ service, version }: { service: string; version: string }, config?: RunnableConfig) => {
      effects.deploys.push({ tenant: subjectOf(config).tenant, service, version });
      return `deployed ${service} ${version}`;
    },
    {
      name: "deploy_service",
      description: "Deploy a service version to production",
      schema: z.object({ service: z.string(), version: z.string() }),
    },
  );
  return [sendEmail, deployService];
}

export const request =
  "Send the customer the release notes for billing-api 2.14.0, then deploy billing-api 2.14.0 to production.";

/**
 * A stateless scripted model: given the request it asks for both actions in one turn; given the
 * answers it reports what happened. Any number of runs, any tenant, the same behaviour.
 */
export function releaseAssistantModel(turnsMax = 40): FakeBuiltModel {
  const model = fakeModel();
  const turn = (messages: BaseMessage[]) => {
    const last = messages.at(-1);
    if (last && !ToolMessage.isInstance(last) && !isAIMessage(last)) {
      const n = messages.length;
      return new AIMessage({
        content: "",
        tool_calls: [
          {
            name: "send_email",
            args: { to: "ops@customer.example", subject: "billing-api 2.14.0 release notes" },
            id: `email_${n}`,
            type: "tool_call",
          },
          {
            name: "deploy_service",
            args: { service: "billing-api", version: "2.14.0" },
            id: `deploy_${n}`,
            type: "tool_call",
          },
        ],
      });
    }
    const answers = messages.filter((message) => ToolMessage.isInstance(message)).slice(-2);
    return new AIMessage(
      answers.map((answer) => `${answer.name}: ${String(answer.content).split(". ")[0]}`).join("; "),
    );
  };
  for (let index = 0; index < turnsMax; index++) model.respond(turn);
  return model;
}

export const ReleaseState = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });

export function buildTenantAgent(options: { ledger: Ledger; policy: Policy; model?: FakeBuiltModel }) {
  const { ledger, policy } = options;
  const effects: TenantEffects = { emails: [], deploys: [] };
  const model = options.model ?? releaseAssistantModel();
  const tools = releaseTools(effects);
  // Plain tools: how each is charged (tier, points, toolset) and where a denial goes come from the
  // policy the ledger was created with; nothing here repeats it.
  const bound = model.bindTools(tools);
  async function agent(state: typeof ReleaseState.State) {
    return { messages: [await bound.invoke(state.messages)] };
  }
  const graph = new StateGraph(ReleaseState)
    .addNode("agent", agent)
    .addNode("tools", new PermissionedToolNode(tools, { ledger, subject: subjectOf, next: "agent" }), {
      ends: ["agent", ...fallbackNodes(policy.fallbacks)],
    })
    .addNode("read_only", readOnlyFallback({ next: "agent" }), { ends: ["agent"] })
    .addNode("escalate", humanApprovalFallback({ ledger, tools, next: "agent" }), { ends: ["agent"] })
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .compile({ checkpointer: new MemorySaver() });
  return { graph, effects, tools, model };
}

/** The run config for a tenant: the tenant picks the subject, the thread picks the run. */
export function runFor(tenant: string, threadId = `release-${tenant}`) {
  return { configurable: { thread_id: threadId, tenant } };
}

export function requestMessage(): HumanMessage {
  return new HumanMessage(request);
}
