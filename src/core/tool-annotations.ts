import { riskPointsDefault, type Tier } from "./tiers.js";

/**
 * The behaviour hints an MCP server declares on a tool (MCP `ToolAnnotations`). They are the
 * server's word, not a guarantee: they only pick a tier for a tool nothing else names, and an
 * operator's rule (which may match on them) always wins.
 */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export const toolAnnotationKeys = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const;

/** The charge annotations imply: a tier, and its points from the risk table. */
export interface AnnotationCharge {
  tier: Tier;
  estimate: number;
}

/**
 * The default mapping from MCP annotations to a tier. Missing hints take the MCP spec's defaults
 * (readOnly false, destructive true, openWorld true), which are the cautious ones:
 *
 * | readOnlyHint | destructiveHint | openWorldHint | tier           | points |
 * | ------------ | --------------- | ------------- | -------------- | ------ |
 * | true         | (ignored)       | true          | read           | 5      |
 * | true         | (ignored)       | false         | read           | 2      |
 * | false        | true            | (any)         | mutation       | 25     |
 * | false        | false           | true          | write-external | 20     |
 * | false        | false           | false         | write-local    | 10     |
 *
 * A tool with no annotations at all gets no charge here (undefined): nothing names it, so it is
 * not covered unless a rule or an explicit default does.
 */
export function chargeOfAnnotations(annotations: Partial<ToolAnnotations> | undefined): AnnotationCharge | undefined {
  if (!annotations || !toolAnnotationKeys.some((key) => typeof annotations[key] === "boolean")) return undefined;
  const openWorld = annotations.openWorldHint !== false;
  if (annotations.readOnlyHint === true) {
    return { tier: "read", estimate: openWorld ? riskPointsDefault.externalRead : riskPointsDefault.internalTool };
  }
  if (annotations.destructiveHint !== false) return { tier: "mutation", estimate: riskPointsDefault.databaseMutation };
  if (openWorld) return { tier: "write-external", estimate: riskPointsDefault.message };
  return { tier: "write-local", estimate: riskPointsDefault.fileWrite };
}

/** The hints of a tool object (`tool.metadata.annotations`, where @langchain/mcp-adapters puts them), copied. */
export function annotationsOfMetadata(metadata: unknown): Partial<ToolAnnotations> | undefined {
  if (metadata === null || typeof metadata !== "object") return undefined;
  const raw = (metadata as { annotations?: unknown }).annotations;
  if (raw === null || typeof raw !== "object") return undefined;
  const annotations: Partial<ToolAnnotations> = {};
  let any = false;
  for (const key of toolAnnotationKeys) {
    const value = (raw as Record<string, unknown>)[key];
    if (typeof value === "boolean") {
      annotations[key] = value;
      any = true;
    }
  }
  return any ? annotations : undefined;
}

/** `@langchain/mcp-adapters` prefixes tool names with `<server>__` when asked to (prefixToolNameWithServerName). */
export const mcpServerSeparator = "__";

/** The MCP server a prefixed tool name names, if any. */
export function serverOfToolName(name: string): string | undefined {
  const at = name.indexOf(mcpServerSeparator);
  return at > 0 ? name.slice(0, at) : undefined;
}
