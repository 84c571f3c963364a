import type { RunnableConfig } from "@langchain/core/runnables";
import type { ReasonCode } from "../../core/decision.js";
import { riskPointsByTierDefault } from "../../core/tiers.js";
import type { ToolRule } from "../../core/tool-rules.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";
import { type ActionSpec, type ResolvedAction, resolveAction, specForTool } from "../shared/action-spec.js";
import { reserveOnRememberedGrant } from "../shared/approval-grants.js";
import { reserveInputOf } from "../shared/charge.js";
import { type ResolvedBinding, resolveBinding, type TollgateBinding } from "../shared/context.js";
import type { DefaultToolCharge } from "./callback-handler.js";

/** What decides how a tool is charged: per-tool specs first, then a guardTool's own spec, then rules. */
export interface ToolCharging {
  toolSpecs?: Record<string, ActionSpec>;
  rules: readonly ToolRule[];
  /** The charge for a tool nothing names. Default: `execution` at its default points (fail closed). */
  defaultTool?: DefaultToolCharge;
}

/** A tool as far as charging cares; tools discovered at run time may have nothing but a name. */
export interface ToolLike {
  name: string;
  tags?: readonly string[];
}

export function specOfTool(tool: ToolLike, charging: ToolCharging): ActionSpec {
  return specForTool(tool, charging);
}

/**
 * The action for a dry run before the model picks arguments: an estimate that depends on the
 * arguments is taken at the tier's default (the cost of the smallest sensible call). The call itself
 * is charged on its real arguments.
 */
export function offerActionOf(tool: ToolLike, charging: ToolCharging): ResolvedAction {
  const spec = specOfTool(tool, charging);
  const estimate = typeof spec.estimate === "function" ? riskPointsByTierDefault[spec.tier] : spec.estimate;
  return resolveAction({ ...spec, estimate }, tool.name, undefined);
}

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

/** Ledger, subject and run id from the options, else from the agent's runtime context or configurable. */
export function bindingOfRuntime(explicit: TollgateBinding, runtime: RuntimeLike | undefined): ResolvedBinding {
  return resolveBinding(explicit, configOfRuntime(runtime), "tollgateMiddleware");
}

export interface WithheldTool {
  name: string;
  reasonCode: ReasonCode;
}

/**
 * The dry-run decision for each named tool, in order, all at once (decide holds nothing). A tool
 * its own budgets deny but a standing approval grant (run or always) covers stays offered: the
 * call will be charged to the grant, as the tool node does.
 */
export async function decideOffers(
  ledger: Ledger,
  binding: ResolvedBinding,
  tools: readonly ToolLike[],
  charging: ToolCharging,
): Promise<ReserveResponse[]> {
  return Promise.all(
    tools.map(async (tool) => {
      const action = offerActionOf(tool, charging);
      const response = await ledger.decide(reserveInputOf(binding.subject, action, binding.runId));
      if (response.decision !== "DENY" || response.reasonCode === "LEDGER_UNAVAILABLE") return response;
      const granted = await reserveOnRememberedGrant(ledger, binding.subject, action, binding.runId, true);
      return granted?.response ?? response;
    }),
  );
}

/** A note for the system prompt, so the model does not keep asking for what it was not given. */
export function withheldNote(withheld: readonly WithheldTool[]): string {
  const list = withheld.map((tool) => `${tool.name} (${tool.reasonCode})`).join(", ");
  return `Runtime permissions withheld these tools for this step: ${list}. Do not call them; continue with the tools you have, or tell the user what you could not do.`;
}
