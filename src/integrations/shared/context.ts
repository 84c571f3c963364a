import type { RunnableConfig } from "@langchain/core/runnables";
import { ValidationError } from "../../core/errors.js";
import type { Subject } from "../../core/scope.js";
import type { Ledger } from "../../ledger/ledger.js";
import { withKey } from "./with-key.js";

/** A subject, or a function of the run's config that picks one (per tenant, per user). */
export type SubjectSource = Subject | ((config: RunnableConfig | undefined) => Subject);

/**
 * What an integration needs per call. Anything not given explicitly is read from the run:
 * `config.context.tollgate` (LangGraph runtime context) or `config.configurable.tollgate`, so one
 * tool definition or graph serves every tenant.
 */
export interface TollgateBinding {
  ledger?: Ledger;
  subject?: SubjectSource;
  /** Defaults to the LangGraph thread id (`configurable.thread_id`). */
  runId?: string;
}

export interface ResolvedBinding {
  ledger: Ledger;
  subject: Subject;
  runId?: string;
}

type ConfigWithContext = RunnableConfig & { context?: Record<string, unknown> };

/** The `tollgate` entry of the run's context or configurable, if any. */
export function bindingFromConfig(config: RunnableConfig | undefined): TollgateBinding | undefined {
  const withContext = config as ConfigWithContext | undefined;
  const fromContext = withContext?.context?.tollgate as TollgateBinding | undefined;
  const fromConfigurable = config?.configurable?.tollgate as TollgateBinding | undefined;
  if (!fromContext) return fromConfigurable;
  if (!fromConfigurable) return fromContext;
  return { ...fromConfigurable, ...fromContext };
}

/** The run id: explicit, else the LangGraph thread id, else undefined (run windows share one instance). */
export function runIdOf(config: RunnableConfig | undefined): string | undefined {
  const threadId = config?.configurable?.thread_id;
  return typeof threadId === "string" && threadId.length > 0 ? threadId : undefined;
}

/**
 * Explicit options win over the run's `tollgate` binding. A missing ledger or subject is a
 * configuration error, named so the fix is obvious.
 */
export function resolveBinding(
  explicit: TollgateBinding,
  config: RunnableConfig | undefined,
  where: string,
): ResolvedBinding {
  const fromRun = bindingFromConfig(config);
  const ledger = explicit.ledger ?? fromRun?.ledger;
  const subjectSource = explicit.subject ?? fromRun?.subject;
  if (!ledger || !subjectSource) {
    const missing = [!ledger && "ledger", !subjectSource && "subject"].filter(Boolean).join(" and ");
    throw new ValidationError([
      {
        code: "invalid_value",
        path: missing.split(" ")[0],
        message: `${where} has no ${missing}: pass it in the options or in the run config as context.tollgate / configurable.tollgate`,
      },
    ]);
  }
  const subject = typeof subjectSource === "function" ? subjectSource(config) : subjectSource;
  return { ledger, subject, runId: explicit.runId ?? fromRun?.runId ?? runIdOf(config) };
}

/**
 * Metadata key naming the tool calls already paid for by an outer layer (the tool node, guardTool),
 * so inner layers and the callback handler do not charge the same call twice. Values are
 * `toolName#toolCallId` (or `toolName#` when the call has no id).
 */
export const reservedCallsMetadataKey = "tollgate_reserved_calls";

export function reservedCallKey(toolName: string, toolCallId: string | undefined): string {
  return `${toolName}#${toolCallId ?? ""}`;
}

/** A copy of the config whose metadata records that this tool call is already reserved. */
export function withReservedCall(
  config: RunnableConfig | undefined,
  toolName: string,
  toolCallId: string | undefined,
): RunnableConfig {
  return withReservedCalls(config, [reservedCallKey(toolName, toolCallId)]);
}

/** A copy of the config whose metadata records these calls (`reservedCallKey`s) as already reserved. */
export function withReservedCalls(config: RunnableConfig | undefined, keys: readonly string[]): RunnableConfig {
  const metadata = config?.metadata ?? {};
  const previous = metadata[reservedCallsMetadataKey] as string[] | undefined;
  const marked = withKey(metadata, reservedCallsMetadataKey, previous ? [...previous, ...keys] : [...keys]);
  return withKey(config, "metadata", marked) as RunnableConfig;
}

export function isReservedCall(
  metadata: Record<string, unknown> | undefined,
  toolName: string,
  toolCallId: string | undefined,
): boolean {
  const calls = metadata?.[reservedCallsMetadataKey];
  return Array.isArray(calls) && calls.includes(reservedCallKey(toolName, toolCallId));
}
