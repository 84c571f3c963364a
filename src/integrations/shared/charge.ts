import { ToolMessage } from "@langchain/core/messages";
import type { Subject } from "../../core/scope.js";
import type { Ledger, ReserveResponse } from "../../ledger/ledger.js";

type ReserveInput = Parameters<Ledger["reserve"]>[0];

import type { ResolvedAction } from "./action-spec.js";
import { withKey } from "./with-key.js";

// What the gate and the approval grants ask of the ledger for one action, and what a tool's
// output is reduced to for `actual()`; committing is the gate's (gate.ts, settle).

/** The reserve / decide input for an action on a subject (the action's toolset completes the scope). */
export function reserveInputOf(subject: Subject, action: ResolvedAction, runId: string | undefined) {
  const input: ReserveInput = {
    subject: withKey(subject, "toolset", action.toolset),
    action: action.kind
      ? { name: action.name, tier: action.tier, kind: action.kind }
      : { name: action.name, tier: action.tier },
    estimate: action.estimate,
    unit: action.unit,
    runId,
  };
  if (action.ttlMs) input.ttlMs = action.ttlMs;
  return input;
}

export function reserveAction(
  ledger: Ledger,
  subject: Subject,
  action: ResolvedAction,
  runId: string | undefined,
  extra?: { idempotencyKey?: string; actor?: string },
): Promise<ReserveResponse> {
  const input = reserveInputOf(subject, action, runId);
  if (extra) Object.assign(input, extra);
  return ledger.reserve(input);
}

/** What a spec's `actual(args, result)` sees: a tool's ToolMessage is reduced to its artifact or content. */
export function resultOfToolOutput(output: unknown): unknown {
  if (ToolMessage.isInstance(output)) return output.artifact ?? output.content;
  return output;
}
