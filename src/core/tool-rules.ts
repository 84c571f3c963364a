import { ValidationError, type ValidationIssue } from "./errors.js";
import { matchGlob, toolRuleGlobLengthMax } from "./glob.js";
import { scopeValueIssue } from "./scope.js";
import { isTier, riskPointsByTierDefault, type Tier } from "./tiers.js";
import { isAmount } from "./units.js";

/**
 * How to charge a tool the code did not declare (an MCP server's tools, say): matched by name glob
 * (`*` any run of characters, `?` one character) or by tag. The first matching rule wins.
 */
export interface ToolRule {
  /** Glob on the tool name, e.g. `github_*` or `*_delete`. */
  match?: string;
  /** Matches tools carrying this tag (LangChain tool `tags`). */
  tag?: string;
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
  /** Index of the rule that matched, or -1 for the default. */
  ruleIndex: number;
}

export const toolRulesMax = 1_000;

/** Validates rules; throws a ValidationError listing every bad field. */
export function validateToolRules(rules: readonly ToolRule[], path = "rules"): ToolRule[] {
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(rules)) throw new ValidationError([{ code: "invalid_type", path, message: "must be an array" }]);
  if (rules.length > toolRulesMax) issues.push({ code: "too_big", path, message: `at most ${toolRulesMax} rules` });
  rules.forEach((rule, index) => {
    const at = `${path}.${index}`;
    if (rule.match === undefined && rule.tag === undefined) {
      issues.push({ code: "invalid_value", path: at, message: "needs match (a name glob) or tag" });
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
  return [...rules];
}

/** The first rule matching the tool, else the fallback (by default: fail closed at `execution`). */
export function resolveToolRule(
  rules: readonly ToolRule[],
  tool: { name: string; tags?: readonly string[] },
  fallback: Omit<ToolRule, "match" | "tag"> = { tier: "execution" },
): ResolvedToolRule {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index];
    const nameMatches = rule.match === undefined || matchGlob(rule.match, tool.name);
    const tagMatches = rule.tag === undefined || (tool.tags ?? []).includes(rule.tag);
    if (nameMatches && tagMatches) return resolved(rule, tool.name, index);
  }
  return resolved(fallback, tool.name, -1);
}

function resolved(rule: Omit<ToolRule, "match" | "tag">, toolName: string, ruleIndex: number): ResolvedToolRule {
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
