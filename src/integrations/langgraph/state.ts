import { Annotation, MessagesAnnotation } from "@langchain/langgraph";
import type { Caps } from "../../core/decision.js";
import type { TollgateDenial } from "../shared/denial.js";

export type AgentMode = "full" | "read-only";

/** The `tollgate` state channel. */
export interface TollgateState {
  /** Caps from the latest tool step: tiers disabled, and the node's tools they rule out. */
  caps: Caps | null;
  /** Denied tool calls, newest last, at most `denialsKeptMax`. */
  denials: TollgateDenial[];
  /** "read-only" after readOnlyFallback: only read-tier tools are offered and run. */
  mode: AgentMode;
  /** The tools the model was bound to on its latest turn (permittedModelNode); null when unknown. */
  offeredTools: string[] | null;
}

export type TollgateStateUpdate = Partial<TollgateState>;

export const denialsKeptMax = 200;

export function tollgateStateDefault(): TollgateState {
  return { caps: null, denials: [], mode: "full", offeredTools: null };
}

/**
 * Merges an update: denials are upserted by tool call id (a fallback resolving a denial rewrites
 * its entry), other fields are replaced when present.
 */
export function tollgateStateReducer(
  current: TollgateState | undefined,
  update: TollgateStateUpdate | undefined,
): TollgateState {
  const base = current ?? tollgateStateDefault();
  if (!update) return base;
  let denials = base.denials;
  if (update.denials && update.denials.length > 0) {
    const byId = new Map(base.denials.map((denial) => [denial.toolCallId, denial] as const));
    for (const denial of update.denials) byId.set(denial.toolCallId, denial);
    denials = [...byId.values()].slice(-denialsKeptMax);
  }
  return {
    caps: update.caps !== undefined ? update.caps : base.caps,
    denials,
    mode: update.mode ?? base.mode,
    offeredTools: update.offeredTools !== undefined ? update.offeredTools : base.offeredTools,
  };
}

/**
 * The `tollgate` channel: caps, denial records and the read-only mode live here. Add it to your
 * graph state: `Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec })`.
 * LangGraph drops a node's writes to a channel the state does not declare without a word, so a
 * PermissionedToolNode in a state without it refuses to run (before any tool does).
 */
export const TollgateAnnotation = Annotation.Root({
  tollgate: Annotation<TollgateState, TollgateStateUpdate>({
    reducer: tollgateStateReducer,
    default: tollgateStateDefault,
  }),
});

/**
 * Messages plus the tollgate channel: the state for `createReactAgent({ llm, tools: node,
 * stateSchema: TollgateAgentState })`, or for a StateGraph that needs nothing else.
 */
export const TollgateAgentState = Annotation.Root({ ...MessagesAnnotation.spec, ...TollgateAnnotation.spec });

/** The tollgate channel of a state, if the graph has one. */
export function tollgateStateOf(state: unknown): TollgateState | undefined {
  if (state === null || typeof state !== "object") return undefined;
  const value = (state as { tollgate?: TollgateState }).tollgate;
  return value && typeof value === "object" ? value : undefined;
}
