import type { RunnableConfig } from "@langchain/core/runnables";
import type { ReasonCode } from "../../core/decision.js";

/** The parts of a langchain agent Runtime the binding reads: the run's context and configurable. */
export interface RuntimeLike {
  context?: unknown;
  configurable?: Record<string, unknown>;
}

/** The run's config as far as the agent's runtime shows it: its context and configurable. */
export function configOfRuntime(runtime: RuntimeLike | undefined): RunnableConfig {
  return {
    configurable: runtime?.configurable,
    context: runtime?.context as Record<string, unknown> | undefined,
  } as RunnableConfig;
}

/** A note for the system prompt, so the model does not keep asking for what it was not given. */
export function withheldNote(withheld: readonly { name: string; reasonCode: ReasonCode }[]): string {
  const list = withheld.map((tool) => `${tool.name} (${tool.reasonCode})`).join(", ");
  return `Runtime permissions withheld these tools for this step: ${list}. Do not call them; continue with the tools you have, or tell the user what you could not do.`;
}
