import { ValidationError, type ValidationIssue } from "./errors.js";
import { matchGlob, toolRuleGlobLengthMax } from "./glob.js";
import { scopeValueIssue } from "./scope.js";
import { isTier, riskPointsByTierDefault, type Tier } from "./tiers.js";
import { type ToolAnnotations, toolAnnotationKeys } from "./tool-annotations.js";
import { isAmount } from "./units.js";

/**
 * How to charge a tool the code did not declare (an MCP server's tools, say): matched by name glob
 * (`*` any run of characters, `?` one character), by tag, by MCP server and by MCP annotations;
 * every field given must match. The first matching rule wins.
 */
export interface ToolRule {
  /** Glob on the tool name, e.g. `github_*` or `*_delete`. */
  match?: string;
  /** Matches tools carrying this tag (LangChain tool `tags`). */
  tag?: string;
  /** Matches the tools of this MCP server (the `server__` name prefix of @langchain/mcp-adapters). */
  server?: string;
  /** Matches MCP tools whose annotations have these values, e.g. `{ destructiveHint: true }`. */
  annotations?: Partial<ToolAnnotations>;
  tier: Tier;
  /** Risk points (or units) per call; defaults to the tier's default from the risk table. */
  estimate?: number;
  /** The toolset scope level the call is charged to; defaults to the tool name. */
  toolset?: string;
  actionKind?: string;
}

export interface ResolvedToolRule {
  tier: Tier;
  estimate: number;
  toolset: string;
  actionKind?: string;
  /** Index of the rule that matched. */
  ruleIndex: number;
}

export const toolRulesMax = 1_000;

/** What rules match on: a tool's name, tags, MCP server and MCP annotations. */
export interface ToolDescriptor {
  name: string;
  tags?: readonly string[];
  server?: string;
  annotations?: Partial<ToolAnnotations>;
}

/** Validates rules; throws a ValidationError listing every bad field. */
export function validateToolRules(rules: readonly ToolRule[], path = "rules"): ToolRule[] {
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(rules)) throw new ValidationError([{ code: "invalid_type", path, message: "must be an array" }]);
  if (rules.length > toolRulesMax) issues.push({ code: "too_big", path, message: `at most ${toolRulesMax} rules` });
  rules.forEach((rule, index) => {
    const at = `${path}.${index}`;
    if (rule === null || typeof rule !== "object") {
      issues.push({ code: "invalid_type", path: at, message: "must be an object" });
      return;
    }
    if (
      rule.match === undefined &&
      rule.tag === undefined &&
      rule.server === undefined &&
      rule.annotations === undefined
    ) {
      issues.push({
        code: "invalid_value",
        path: at,
        message: "needs match (a name glob), tag, server or annotations",
      });
    }
    if (rule.tag !== undefined && (typeof rule.tag !== "string" || rule.tag.length === 0)) {
      issues.push({ code: "invalid_type", path: `${at}.tag`, message: "must be a non-empty string" });
    }
    if (rule.server !== undefined) {
      const issue = scopeValueIssue(rule.server, `${at}.server`);
      if (issue) issues.push(issue);
    }
    if (rule.annotations !== undefined) {
      if (rule.annotations === null || typeof rule.annotations !== "object") {
        issues.push({ code: "invalid_type", path: `${at}.annotations`, message: "must be an object of hints" });
      } else {
        for (const [key, value] of Object.entries(rule.annotations)) {
          if (!(toolAnnotationKeys as readonly string[]).includes(key)) {
            issues.push({
              code: "unrecognized_keys",
              path: `${at}.annotations.${key}`,
              message: `must be one of ${toolAnnotationKeys.join(", ")}`,
            });
          } else if (typeof value !== "boolean") {
            issues.push({ code: "invalid_type", path: `${at}.annotations.${key}`, message: "must be true or false" });
          }
        }
      }
    }
    if (rule.match !== undefined && (typeof rule.match !== "string" || rule.match.length === 0)) {
      issues.push({ code: "invalid_type", path: `${at}.match`, message: "must be a non-empty glob string" });
    }
    if (typeof rule.match === "string" && rule.match.length > toolRuleGlobLengthMax) {
      issues.push({ code: "too_big", path: `${at}.match`, message: `at most ${toolRuleGlobLengthMax} characters` });
    }
    if (!isTier(rule.tier)) issues.push({ code: "invalid_value", path: `${at}.tier`, message: "must be a tier" });
    if (rule.estimate !== undefined && !isAmount(rule.estimate)) {
      issues.push({ code: "invalid_value", path: `${at}.estimate`, message: "must be a non-negative safe integer" });
    }
    if (rule.toolset !== undefined) {
      const issue = scopeValueIssue(rule.toolset, `${at}.toolset`);
      if (issue) issues.push(issue);
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  // A copy of what was checked: the caller's objects are never read again.
  return rules.map(copyRule);
}

/** The first rule matching the tool, else undefined (no rule covers it). */
export function resolveToolRule(rules: readonly ToolRule[], tool: ToolDescriptor): ResolvedToolRule | undefined {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index];
    const nameMatches = rule.match === undefined || matchGlob(rule.match, tool.name);
    const tagMatches = rule.tag === undefined || (tool.tags ?? []).includes(rule.tag);
    if (nameMatches && tagMatches && serverMatches(rule, tool) && annotationsMatch(rule, tool)) {
      return resolved(rule, tool.name, index);
    }
  }
  return undefined;
}

function serverMatches(rule: ToolRule, tool: ToolDescriptor): boolean {
  return rule.server === undefined || tool.server === rule.server;
}

function annotationsMatch(rule: ToolRule, tool: ToolDescriptor): boolean {
  if (rule.annotations === undefined) return true;
  const actual = tool.annotations;
  if (!actual) return false;
  for (const key of toolAnnotationKeys) {
    const wanted = rule.annotations[key];
    if (wanted !== undefined && actual[key] !== wanted) return false;
  }
  return true;
}

function copyRule(rule: ToolRule): ToolRule {
  const copy: ToolRule = { tier: rule.tier };
  if (rule.match !== undefined) copy.match = rule.match;
  if (rule.tag !== undefined) copy.tag = rule.tag;
  if (rule.server !== undefined) copy.server = rule.server;
  if (rule.annotations !== undefined) {
    const annotations: Partial<ToolAnnotations> = {};
    for (const key of toolAnnotationKeys) {
      const value = rule.annotations[key];
      if (value !== undefined) annotations[key] = value;
    }
    copy.annotations = annotations;
  }
  if (rule.estimate !== undefined) copy.estimate = rule.estimate;
  if (rule.toolset !== undefined) copy.toolset = rule.toolset;
  if (rule.actionKind !== undefined) copy.actionKind = rule.actionKind;
  return copy;
}

function resolved(
  rule: Omit<ToolRule, "match" | "tag" | "server" | "annotations">,
  toolName: string,
  ruleIndex: number,
): ResolvedToolRule {
  return {
    tier: rule.tier,
    estimate: rule.estimate ?? riskPointsByTierDefault[rule.tier],
    toolset: rule.toolset ?? toolsetFromName(toolName),
    actionKind: rule.actionKind,
    ruleIndex,
  };
}

/** A tool name made into a valid scope value (characters outside the scope alphabet become `-`). */
export function toolsetFromName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 128);
  return cleaned.length > 0 ? cleaned : "unnamed-tool";
}
