import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import type { ActionSpec } from "../shared/action-spec.js";
import { currentRunConfig } from "../shared/run-config.js";
import { type BoundSpec, gateOfSpec, runGuarded } from "./guarded-run.js";

/**
 * How a guarded function is charged. The ledger and subject may be left out: they are then read
 * from the run (`context.tollgate` / `configurable.tollgate`), so one definition serves every tenant.
 */
// biome-ignore lint/suspicious/noExplicitAny: arguments of an arbitrary function
export interface GuardSpec<Args = any, Result = unknown> extends ActionSpec<Args, Result>, BoundSpec {
  toolset: string;
  estimate?: ActionSpec<Args, Result>["estimate"];
  actual?: ActionSpec<Args, Result>["actual"];
}

export type GuardedFunction<Args, Result> = (args: Args, config?: RunnableConfig) => Promise<Result>;

/**
 * Wraps a function so every call first reserves from the budgets, then runs, then commits the
 * actual (or the estimate); a throw releases the hold. On DENY it throws BudgetExceededError and
 * the function never runs. The config may be passed as the second argument or is taken from the
 * LangChain run the call happens in.
 */
export function guard<Args, Result>(
  spec: GuardSpec<Args, Result>,
  fn: (args: Args, config?: RunnableConfig) => Result | Promise<Result>,
): GuardedFunction<Args, Result> {
  if (spec !== null && typeof spec === "object" && spec.toolset === undefined) {
    throw new ValidationError([{ code: "invalid_type", path: "toolset", message: "is required" }]);
  }
  if (typeof fn !== "function") {
    throw new ValidationError([{ code: "invalid_type", path: "fn", message: "must be a function" }]);
  }
  const name = spec.actionName ?? (fn.name || spec.toolset);
  const { gate, spec: charge } = gateOfSpec(spec, `guard(${name})`);
  return function guardedCall(args: Args, config?: RunnableConfig): Promise<Result> {
    return runGuarded(
      gate,
      charge,
      name,
      { name, args: args as Record<string, unknown>, id: undefined, type: "tool_call" },
      currentRunConfig(config),
      async () => fn(args, config),
    );
  };
}
