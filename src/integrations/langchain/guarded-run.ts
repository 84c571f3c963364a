import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import type { Ledger } from "../../ledger/ledger.js";
import { BudgetExceededError } from "../errors.js";
import { type ActionSpec, resolveAction, validateActionSpec } from "../shared/action-spec.js";
import type { SubjectSource } from "../shared/context.js";
import { type Admission, adapterOptionsSchema, Gate, type GateOptions, parseAdapterOptions } from "../shared/gate.js";

/** A spec with where to charge it: guard() and guardTool() take one. */
export interface BoundSpec extends ActionSpec {
  ledger?: Ledger;
  subject?: SubjectSource;
  runId?: string;
  /** Called when settling fails after the call ran; the call's result is kept. Default: a warning. */
  onSettleError?: GateOptions["onSettleError"];
}

const bindingSchema = adapterOptionsSchema({});

/** Splits a guard spec into its charge (validated, copied) and a gate for its binding. */
export function gateOfSpec(spec: BoundSpec, where: string): { gate: Gate; spec: ActionSpec } {
  if (spec === null || typeof spec !== "object") {
    throw new ValidationError([{ code: "invalid_type", path: "spec", message: "must be an object" }]);
  }
  const { ledger, subject, runId, onSettleError, ...charge } = spec;
  validateActionSpec(charge, "");
  const binding = parseAdapterOptions(bindingSchema, {
    ...(ledger !== undefined ? { ledger } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(runId !== undefined ? { runId } : {}),
    ...(onSettleError !== undefined ? { onSettleError } : {}),
  });
  return { gate: new Gate(binding, where), spec: { ...charge } };
}

/**
 * Reserve → run → settle through the gate, for the action `toolName` with `call` (the call as the
 * ledger and the denial record see it). A DENY throws BudgetExceededError, or answers with
 * `onDeny`, and `run` is never called. Not async itself: the gate's step is the only promise layer.
 */
export function runGuarded<Result>(
  gate: Gate,
  spec: ActionSpec,
  toolName: string,
  call: ToolCall,
  config: RunnableConfig | undefined,
  run: () => Promise<Result>,
  onDeny: (admission: DeniedAdmission) => Result = throwDenied,
): Promise<Result> {
  try {
    const binding = gate.bind(config);
    const action = resolveAction(spec, toolName, call.args);
    return gate.runAction(binding, spec, action, call, run, onDeny);
  } catch (error) {
    return Promise.reject(error);
  }
}

type DeniedAdmission = Extract<Admission, { kind: "denied" }>;

function throwDenied(admission: DeniedAdmission): never {
  throw deniedError(admission);
}

/** The DENY as the error that stops the call before it runs, carrying the whole decision. */
export function deniedError(admission: Extract<Admission, { kind: "denied" }>): BudgetExceededError {
  const { denial, response, action } = admission;
  return new BudgetExceededError({
    decision: "DENY",
    reasonCode: denial.reasonCode,
    deniedScope: denial.deniedScope,
    caps: response?.caps,
    balances: response?.balances ?? [],
    action: {
      name: action?.name ?? denial.toolName,
      tier: denial.tier,
      ...(action?.kind ? { kind: action.kind } : {}),
      toolset: denial.toolset,
      estimate: denial.estimate,
      unit: denial.unit,
    },
  });
}
