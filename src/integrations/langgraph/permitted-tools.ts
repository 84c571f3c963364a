import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { Runnable, RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import { riskPointsByTierDefault } from "../../core/tiers.js";
import { isAmount } from "../../core/units.js";
import { type ActionSpec, resolveAction, specForTool, type ToolChargeOptions } from "../shared/action-spec.js";
import { reserveOnRememberedGrant } from "../shared/approval-grants.js";
import { resolveBinding, type TollgateBinding } from "../shared/context.js";
import { currentRunConfig } from "../shared/run-config.js";
import type { NodeTool } from "./run-tool-call.js";
import { type TollgateStateUpdate, tollgateStateOf } from "./state.js";

export interface PermittedToolsOptions extends TollgateBinding, ToolChargeOptions {
  /** The run's config: the ledger, subject and run id may come from it. Defaults to the current run. */
  config?: RunnableConfig;
  /** The graph state: its `tollgate.mode` of "read-only" keeps only read-tier tools. */
  state?: unknown;
  /** Keep only read-tier tools, whatever the state says. */
  readOnly?: boolean;
}

/**
 * The tools the current budgets and caps allow: each is asked of the ledger as a dry run
 * (`decide`, nothing held) with its tier, toolset and estimate; not DENY means permitted. A tool
 * a standing approval grant covers stays permitted. Tools whose estimate depends on arguments are
 * probed with empty arguments (at least one unit). The tool node enforces again at call time.
 */
export async function permittedTools<T extends NodeTool>(
  tools: readonly T[],
  options: PermittedToolsOptions,
): Promise<T[]> {
  const config = options.config ?? currentRunConfig();
  const { ledger, subject, runId } = resolveBinding(options, config, "permittedTools");
  const readOnly = options.readOnly ?? tollgateStateOf(options.state)?.mode === "read-only";
  const permitted: T[] = [];
  for (const tool of tools) {
    const spec = specForTool(tool as { name: string; tags?: string[] }, options);
    if (readOnly && spec.tier !== "read") continue;
    const action = { ...resolveAction({ ...spec, estimate: 0 }, tool.name, {}), estimate: probeEstimate(spec) };
    const response = await ledger.decide({
      subject: { ...subject, toolset: action.toolset },
      action: { name: action.name, tier: action.tier, kind: action.kind },
      estimate: action.estimate,
      unit: action.unit,
      runId,
    });
    if (response.decision !== "DENY" || (await reserveOnRememberedGrant(ledger, subject, action, runId, true))) {
      permitted.push(tool);
    }
  }
  return permitted;
}

/** The smallest sensible estimate for a tool before its arguments are known. */
function probeEstimate(spec: ActionSpec): number {
  if (typeof spec.estimate !== "function") return spec.estimate ?? riskPointsByTierDefault[spec.tier];
  try {
    const value = spec.estimate({});
    return isAmount(value) ? Math.max(1, value) : riskPointsByTierDefault[spec.tier];
  } catch {
    return riskPointsByTierDefault[spec.tier];
  }
}

export type BoundChatModel = Runnable<BaseLanguageModelInput, AIMessageChunk>;

/** Binds the model to exactly the permitted tools (none bound when none are permitted). */
export async function bindPermittedTools<T extends NodeTool>(
  model: BaseChatModel,
  tools: readonly T[],
  options: PermittedToolsOptions,
): Promise<{ model: BoundChatModel; tools: T[] }> {
  if (typeof model?.bindTools !== "function") {
    throw new ValidationError([
      { code: "invalid_type", path: "model", message: "must be a chat model with bindTools()" },
    ]);
  }
  const permitted = await permittedTools(tools, options);
  const bound = permitted.length > 0 ? model.bindTools(permitted) : model;
  return { model: bound as BoundChatModel, tools: permitted };
}

export interface PermittedModelNodeOptions extends Omit<PermittedToolsOptions, "config" | "state"> {
  /** Messages put before the conversation on every turn (a system prompt). */
  prefix?: BaseMessage[];
}

/**
 * A model node for a LangGraph agent: each turn binds the model to the permitted tools, calls it,
 * and records which tools it was offered (`tollgate.offeredTools`), so the tool node can deny a
 * call to a tool the model was not given.
 */
export function permittedModelNode(
  model: BaseChatModel,
  tools: readonly NodeTool[],
  options: PermittedModelNodeOptions = {},
) {
  return async function permittedModel(
    state: { messages: BaseMessage[] },
    config?: RunnableConfig,
  ): Promise<{ messages: BaseMessage[]; tollgate: TollgateStateUpdate }> {
    const bound = await bindPermittedTools(model, tools, { ...options, config, state });
    const response = await bound.model.invoke([...(options.prefix ?? []), ...state.messages], config);
    return { messages: [response], tollgate: { offeredTools: bound.tools.map((tool) => tool.name) } };
  };
}
