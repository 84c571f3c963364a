import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { Runnable, RunnableConfig } from "@langchain/core/runnables";
import { z } from "zod";
import { ValidationError } from "../../core/errors.js";
import { adapterOptionsSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";
import { currentRunConfig } from "../shared/run-config.js";
import type { NodeTool } from "./run-tool-call.js";
import { type TollgateStateUpdate, tollgateStateOf } from "./state.js";

export interface PermittedToolsOptions extends GateOptions {
  /** The run's config: the ledger, subject and run id may come from it. Defaults to the current run. */
  config?: RunnableConfig;
  /** The graph state: its `tollgate.mode` of "read-only" keeps only read-tier tools. */
  state?: unknown;
  /** Keep only read-tier tools, whatever the state says. */
  readOnly?: boolean;
}

const perCallShape = {
  config: z.custom<RunnableConfig>((value) => typeof value === "object" && value !== null).optional(),
  state: z.unknown().optional(),
  readOnly: z.boolean().optional(),
};
const optionsSchema = adapterOptionsSchema(perCallShape);

/**
 * The tools the current budgets and caps allow: each is asked of the ledger as a dry run
 * (`decide`, nothing held) with the charge the tool node would use; not DENY means permitted. A
 * tool a standing approval grant covers stays permitted; a tool nothing charges is not. Tools
 * whose estimate depends on arguments are probed at the smallest sensible call. The tool node
 * enforces again at call time.
 */
export async function permittedTools<T extends NodeTool>(
  tools: readonly T[],
  options: PermittedToolsOptions,
): Promise<T[]> {
  const parsed = parseAdapterOptions(optionsSchema, options);
  return permittedWith(new Gate(parsed, "permittedTools"), tools, parsed);
}

async function permittedWith<T extends NodeTool>(
  gate: Gate,
  tools: readonly T[],
  call: { config?: RunnableConfig; state?: unknown; readOnly?: boolean },
): Promise<T[]> {
  const config = call.config ?? currentRunConfig();
  const binding = gate.bind(config);
  const readOnly = call.readOnly ?? tollgateStateOf(call.state)?.mode === "read-only";
  const permitted: T[] = [];
  for (const tool of tools) {
    if (readOnly) {
      const charge = gate.chargeOf(tool, tool.name, binding.ledger);
      if (!charge.covered || charge.spec.tier !== "read") continue;
    }
    const response = await gate.wouldAdmit(binding, tool);
    if (response !== "TOOL_NOT_COVERED" && response.decision !== "DENY") permitted.push(tool);
  }
  return permitted;
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
  return { model: bindTo(model, permitted), tools: permitted };
}

function bindTo(model: BaseChatModel, tools: readonly NodeTool[]): BoundChatModel {
  return ((tools.length > 0 ? model.bindTools?.([...tools]) : undefined) ?? model) as BoundChatModel;
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
  if (typeof model?.bindTools !== "function") {
    throw new ValidationError([
      { code: "invalid_type", path: "model", message: "must be a chat model with bindTools()" },
    ]);
  }
  const parsed = parseAdapterOptions(modelNodeSchema, options);
  const gate = new Gate(parsed, "permittedModelNode");
  const prefix = [...(parsed.prefix ?? [])];
  const offered = [...tools];
  return async function permittedModel(
    state: { messages: BaseMessage[] },
    config?: RunnableConfig,
  ): Promise<{ messages: BaseMessage[]; tollgate: TollgateStateUpdate }> {
    const permitted = await permittedWith(gate, offered, { config, state, readOnly: parsed.readOnly });
    const response = await bindTo(model, permitted).invoke([...prefix, ...state.messages], config);
    return { messages: [response], tollgate: { offeredTools: permitted.map((tool) => tool.name) } };
  };
}

const modelNodeSchema = adapterOptionsSchema({
  readOnly: z.boolean().optional(),
  prefix: z
    .array(z.custom<BaseMessage>((value) => typeof value === "object" && value !== null))
    .max(64)
    .optional(),
});
