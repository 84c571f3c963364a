import { describe, expect, it } from "vitest";
import { toolRuleGlobLengthMax } from "../../src/core/glob.js";
import { resolveToolRule, validateToolRules } from "../../src/core/tool-rules.js";

describe("tool rules", () => {
  const rules = validateToolRules([
    { match: "github_delete_*", tier: "mutation", estimate: 25, toolset: "github-admin" },
    { tag: "read-only", tier: "read" },
    { match: "github_*", tier: "write-external" },
  ]);

  it("takes the first match by glob or tag, and defaults the estimate from the tier", () => {
    expect(resolveToolRule(rules, { name: "github_delete_repo" })).toMatchObject({
      tier: "mutation",
      estimate: 25,
      toolset: "github-admin",
    });
    expect(resolveToolRule(rules, { name: "github_list", tags: ["read-only"] })).toMatchObject({
      tier: "read",
      estimate: 2,
      toolset: "github_list",
    });
    expect(resolveToolRule(rules, { name: "github_comment" })).toMatchObject({ tier: "write-external", estimate: 20 });
  });

  it("names no charge for a tool no rule matches (not covered)", () => {
    expect(resolveToolRule(rules, { name: "mcp:weird tool" })).toBeUndefined();
    // A rule without a toolset charges the tool's own name, made scope-safe.
    expect(resolveToolRule([{ match: "*", tier: "execution" }], { name: "mcp:weird tool" })).toMatchObject({
      tier: "execution",
      estimate: 50,
      toolset: "mcp-weird-tool",
      ruleIndex: 0,
    });
  });

  it("names the bad field", () => {
    expect(() => validateToolRules([{ tier: "read" }, { match: "x", tier: "nope" as never, estimate: -1 }])).toThrow(
      /rules.0: needs match.*rules.1.tier.*rules.1.estimate/,
    );
  });
});

describe("tool rule globs from names nobody controls", () => {
  // A backtracking regex took about 32 s on this; the per-test timeout is the proof it no longer does.
  it("matches a hostile pattern against a 126-character name at once", { timeout: 5_000 }, () => {
    const rules = validateToolRules([
      { match: "*_*_*_*_*_*_*_*_delete", tier: "mutation" },
      { match: "*", tier: "read" },
    ]);
    expect(resolveToolRule(rules, { name: "a_".repeat(63) })).toMatchObject({ tier: "read", ruleIndex: 1 });
    expect(resolveToolRule(rules, { name: `${"a_".repeat(60)}delete` })).toMatchObject({ tier: "mutation" });
  });

  it("refuses a glob longer than toolRuleGlobLengthMax", () => {
    expect(() => validateToolRules([{ match: "*".repeat(toolRuleGlobLengthMax + 1), tier: "read" }])).toThrow(
      /rules.0.match: at most 256 characters/,
    );
    expect(validateToolRules([{ match: "*".repeat(toolRuleGlobLengthMax), tier: "read" }])).toHaveLength(1);
  });
});
