// A release agent that wants to deploy. Deploys are the execution tier (50 risk points) and this agent
// has no autonomous deploy budget, so the deploy is denied before it runs and the graph interrupts
// for a person; approving runs it once, charged to a one-off approval grant with the approver on record.
//
//   agent ──▶ tools (PermissionedToolNode) ──denied, execution tier──▶ approval (humanApprovalFallback) ──▶ agent
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { type FakeBuiltModel, fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { Annotation, END, MemorySaver, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { toolsCondition } from "@langchain/langgraph/prebuilt";
import { z } from "zod";
import { scopeIdOf } from "../../src/core/index.js";
import type { Ledger, SetBudgetInput, Subject } from "../../src/index.js";
import { type ActionSpec, guardTool } from "../../src/integrations/langchain/index.js";
import {
  type ApprovalRequest,
  humanApprovalFallback,
  PermissionedToolNode,
  readOnlyFallback,
  TollgateAnnotation,
} from "../../src/integrations/langgraph/index.js";

export const subject: Subject = { tenant: "acme", workspace: "production", app: "release-bot", agent: "deployer" };
export const agentScope = scopeIdOf(subject);
export const appScope = "tenant:acme/workspace:production/app:release-bot";
export const deployScope = `${agentScope}/toolset:deploy`;

/**
 * The agent may read all it likes within the app budget; its deploy toolset is provisioned at zero
 * (a zero budget always denies). The tenant's own ceiling also bounds what an approver can grant.
 */
export const deployBudgets: (SetBudgetInput & { label: string })[] = [
  { label: "tenant ceiling", scope: "tenant:acme", limit: 1_000 },
  { label: "release-bot app", scope: appScope, limit: 300 },
  { label: "deploy (autonomous)", scope: deployScope, limit: 0 },
];

export async function provisionDeployBudgets(ledger: Ledger): Promise<void> {
  for (const { label: _label, ...budget } of deployBudgets) await ledger.setBudget(budget);
}

export const release = { service: "billing-api", version: "2.14.0", environment: "production" };

export interface DeployEffects {
  deploys: { service: string; version: string; environment: string }[];
  ciChecks: number;
}

export const toolCharges = {
  check_ci_status: { tier: "read", estimate: 2, toolset: "ci-reads" },
  deploy_service: { tier: "execution", estimate: 50, toolset: "deploy", actionKind: "ci.deploy" },
} satisfies Record<string, ActionSpec>;

export function deployTools(effects: DeployEffects) {
  const checkCi = tool(
    async ({ service, version }: { service: string; version: string }) => {
      effects.ciChecks++;
      return `${service} ${version}: pipeline green, 412 tests passed, image signed`;
    },
    {
      name: "check_ci_status",
      description: "Read the CI status of a service version",
      schema: z.object({ service: z.string(), version: z.string() }),
    },
  );
  const deploy = tool(
    async (args: { service: string; version: string; environment: string }) => {
      effects.deploys.push(args);
      return `deployed ${args.service} ${args.version} to ${args.environment}`;
    },
    {
      name: "deploy_service",
      description: "Deploy a service version to an environment",
      schema: z.object({ service: z.string(), version: z.string(), environment: z.string() }),
    },
  );
  return {
    checkCi: guardTool(checkCi, toolCharges.check_ci_status),
    deploy: guardTool(deploy, toolCharges.deploy_service),
  };
}

/** Three turns: check CI, deploy, then report what became of the deploy (read from its tool message). */
export function releaseModel(): FakeBuiltModel {
  const model = fakeModel();
  model.respondWithTools([
    { name: "check_ci_status", args: { service: release.service, version: release.version }, id: "call_ci" },
  ]);
  model.respondWithTools([{ name: "deploy_service", args: { ...release }, id: "call_deploy" }]);
  model.respond((messages: BaseMessage[]) => {
    const answer = messages.findLast(
      (message) => ToolMessage.isInstance(message) && message.tool_call_id === "call_deploy",
    );
    const text = String(answer?.content ?? "");
    return new AIMessage(
      text.startsWith("deployed") ? `Done: ${text}.` : `Not deployed. ${text.split(". Do not retry")[0]}.`,
    );
  });
  return model;
}

export const DeployState = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });

export function buildDeployAgent(options: { ledger: Ledger; model?: FakeBuiltModel; effects?: DeployEffects }) {
  const effects = options.effects ?? { deploys: [], ciChecks: 0 };
  const model = options.model ?? releaseModel();
  const { checkCi, deploy } = deployTools(effects);
  const tools = [checkCi, deploy];
  const binding = { ledger: options.ledger, subject };
  // Execution-tier denials go to a person; anything else would continue read-only.
  const fallback = { tiers: { execution: "approval" }, default: "readOnly" };
  // The model is bound to every tool, deploy included, on purpose: it must be able to *ask* for the
  // deploy so that the denial can reach a person. (permittedModelNode would not offer a tool whose
  // budget is zero, and the request would never be made.) The tool node still decides every call.
  const bound = model.bindTools(tools);
  async function agent(state: typeof DeployState.State) {
    return { messages: [await bound.invoke(state.messages)] };
  }
  const graph = new StateGraph(DeployState)
    .addNode("agent", agent)
    .addNode("tools", new PermissionedToolNode(tools, { ...binding, fallback, next: "agent" }), {
      ends: ["agent", "approval", "readOnly"],
    })
    .addNode("approval", humanApprovalFallback({ ...binding, tools, next: "agent" }), { ends: ["agent"] })
    .addNode("readOnly", readOnlyFallback({ next: "agent" }), { ends: ["agent"] })
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .compile({ checkpointer: new MemorySaver() });
  return { graph, effects, model };
}

/** What invoke returns when the graph stopped at an interrupt(): the approval request. */
export interface Interrupted {
  __interrupt__?: { value: ApprovalRequest }[];
}

export const threadId = `release-${release.service}-${release.version}`;

export function releaseRequest(): HumanMessage {
  return new HumanMessage(`Ship ${release.service} ${release.version} to ${release.environment} if CI is green.`);
}
