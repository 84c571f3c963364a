import type { ToolCall } from "@langchain/core/messages/tool";
import type { RunnableConfig } from "@langchain/core/runnables";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";

/**
 * The config of the run we are in: the one passed, else the one LangChain keeps in async local
 * storage (a guarded function called inside a node or tool without its config still finds its run).
 */
export function currentRunConfig(explicit?: RunnableConfig): RunnableConfig | undefined {
  if (explicit) return explicit;
  const implicit = AsyncLocalStorageProviderSingleton.getRunnableConfig() as RunnableConfig | undefined;
  return implicit ?? undefined;
}

/**
 * The config a runnable invoked with `config` runs under: `config` over the run it is called in,
 * key by key, as LangChain's `ensureConfig` merges them (the run's own id and name excepted).
 * Read only: the caller's config is returned as is when the run adds nothing to it.
 */
export function runConfigOf(config: RunnableConfig | undefined): RunnableConfig | undefined {
  const implicit = AsyncLocalStorageProviderSingleton.getRunnableConfig() as RunnableConfig | undefined;
  if (!implicit) return config;
  const { runId: _runId, runName: _runName, ...inherited } = implicit;
  if (!config) return inherited;
  let merged: Record<string, unknown> | undefined;
  for (const key of Object.keys(inherited)) {
    const value = (inherited as Record<string, unknown>)[key];
    if (value === undefined || (config as Record<string, unknown>)[key] !== undefined) continue;
    merged ??= { ...config };
    merged[key] = value;
  }
  return (merged as RunnableConfig | undefined) ?? config;
}

/** A tool call as LangChain passes it to `tool.invoke` (type "tool_call"). */
export function isToolCall(value: unknown): value is ToolCall {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { type?: unknown }).type === "tool_call" &&
    "args" in value &&
    "name" in value
  );
}

/** The id of the tool call being run: from the input, else from the config LangChain enriched. */
export function toolCallIdOf(input: unknown, config: RunnableConfig | undefined): string | undefined {
  if (isToolCall(input) && input.id) return input.id;
  const fromConfig = (config as { toolCall?: { id?: string } } | undefined)?.toolCall?.id;
  if (fromConfig) return fromConfig;
  const fromRuntime = (config as { toolCallId?: unknown } | undefined)?.toolCallId;
  return typeof fromRuntime === "string" && fromRuntime.length > 0 ? fromRuntime : undefined;
}
