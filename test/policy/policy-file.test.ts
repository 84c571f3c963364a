import { describe, expect, it } from "vitest";
import { toolRuleGlobLengthMax } from "../../src/core/glob.js";
import { progressiveBands } from "../../src/core/narrowing.js";
import { fallbackFor, isApprovalGrantScope, PolicyError, parsePolicy } from "../../src/core/policy.js";
import { resolveToolRule } from "../../src/core/tool-rules.js";
import { jsonSyntaxErrorOffset, loadPolicyFile, parsePolicyText } from "../../src/ledger/policy.js";

function policyErrorOf(run: () => unknown): PolicyError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error("expected a PolicyError");
}

describe("policy files", () => {
  it("loads the seed's per-tenant example with its numbers", async () => {
    const policy = await loadPolicyFile("examples/policies/per-tenant.policy.yaml");
    expect(policy.mode).toBe("enforce");
    expect(policy.owns).toEqual(["tenant:enterprise-corp", "tenant:starter-co"]);
    expect(policy.budgets.map((budget) => [budget.scope, budget.limit])).toEqual([
      ["tenant:enterprise-corp/toolset:send-email", 500],
      ["tenant:enterprise-corp/toolset:deploy", 200],
      ["tenant:starter-co/toolset:send-email", 50],
      ["tenant:starter-co/toolset:deploy", 0],
    ]);
    expect(policy.budgets.every((budget) => budget.unit === "RISK_POINTS" && budget.window === "lifetime")).toBe(true);
    expect(policy.budgets[0].narrowing).toEqual(progressiveBands);
    expect(resolveToolRule(policy.toolRules, { name: "send_email" })).toMatchObject({
      tier: "write-external",
      estimate: 20,
      toolset: "send-email",
    });
    expect(resolveToolRule(policy.toolRules, { name: "search_kb" })).toMatchObject({ tier: "read", estimate: 5 });
    expect(resolveToolRule(policy.toolRules, { name: "lookup", tags: ["readonly"] })?.tier).toBe("read");
    expect(fallbackFor(policy.fallbacks, { name: "send_email", tier: "write-external" })).toBe("escalate");
    expect(fallbackFor(policy.fallbacks, { name: "deploy_service", tier: "execution" })).toBe("escalate");
    expect(fallbackFor(policy.fallbacks, { name: "write_file", tier: "write-local" })).toBe("read_only");
  });

  it("reports every problem at once, with file, path and line, in file order", () => {
    const text = [
      "mode: loud", //                       1
      "budgets:", //                         2
      "  - scope: tenant:a/team:x", //       3  unknown scope level
      "    limit: 5", //                     4
      "  - scope: tenant:a/toolset:y", //    5
      "    limit: -3", //                    6  negative limit
      "    limt: 4", //                      7  unknown field
      "tools:", //                           8
      "  - tier: nope", //                   9  unknown tier, and no matcher
    ].join("\n");
    const error = policyErrorOf(() => parsePolicyText(text, "tenants.policy.yaml"));
    expect(error.code).toBe("POLICY_INVALID");
    const found = error.issues.map((issue) => `${issue.line} ${issue.path}`);
    expect(found).toEqual(["1 mode", "3 budgets.0.scope", "6 budgets.1.limit", "7 budgets.1", "9 tools.0.tier"]);
    expect(error.issues.every((issue) => issue.file === "tenants.policy.yaml")).toBe(true);
    expect(error.message).toContain('tenants.policy.yaml:3:12: budgets.0.scope: unknown scope level "team"');
    expect(error.message).toContain("tenants.policy.yaml:6:12: budgets.1.limit: must not be negative");
    expect(error.message).toContain("unknown field(s): limt");
    expect(error.message).toContain("nothing applied");
  });

  it("locates YAML syntax errors", () => {
    const error = policyErrorOf(() => parsePolicyText("budgets:\n  - scope: tenant:a\n   limit: [1, 2\n", "x.yml"));
    expect(error.issues[0].line).toBeGreaterThanOrEqual(2);
    expect(error.issues[0].file).toBe("x.yml");
  });

  it("rejects duplicate keys instead of silently taking the last one", () => {
    const error = policyErrorOf(() => parsePolicyText("mode: shadow\nmode: enforce\n", "x.yaml"));
    expect(error.issues[0]).toMatchObject({ line: 2 });
  });

  it("locates strict-JSON errors (trailing commas, comments) and JSON schema errors", () => {
    const trailing = policyErrorOf(() =>
      parsePolicyText('{\n  "budgets": [\n    {"scope": "tenant:a", "limit": 1},\n  ]\n}', "p.json"),
    );
    expect(trailing.issues[0]).toMatchObject({ line: 4, column: 3 });
    const schema = policyErrorOf(() =>
      parsePolicyText('{\n  "budgets": [\n    {"scope": "tenant:a",\n     "limit": "1"}\n  ]\n}', "p.json"),
    );
    expect(schema.issues[0]).toMatchObject({ path: "budgets.0.limit", line: 4 });
    expect(jsonSyntaxErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(jsonSyntaxErrorOffset('{"a": 1')).toBe(7);
    expect(jsonSyntaxErrorOffset('{"a": tru}')).toBe(9);
  });

  it("rejects duplicate budgets, unsupported extensions and unreadable files", async () => {
    const duplicate = policyErrorOf(() =>
      parsePolicyText("budgets:\n  - {scope: tenant:a, limit: 1}\n  - {scope: tenant:a, limit: 2}\n", "d.yaml"),
    );
    expect(duplicate.issues[0]).toMatchObject({ path: "budgets.1.scope", line: 3 });
    expect(duplicate.message).toContain("the first is budgets.0");
    expect(policyErrorOf(() => parsePolicyText("{}", "policy.toml")).message).toContain(".yaml, .yml or .json");
    await expect(loadPolicyFile("/nonexistent/tollgate.policy.yaml")).rejects.toThrow(/no such file/);
  });

  it("fills defaults, resolves narrowing and validates bands and tool rules", () => {
    const policy = parsePolicy({
      defaults: { unit: "TOKENS", window: "day", overdraftLimit: 5 },
      budgets: [
        { scope: "tenant:a", limit: 100 },
        { scope: "tenant:a/toolset:x", limit: 10, unit: "RISK_POINTS", narrowing: [{ from: 0, disabledTiers: [] }] },
      ],
      tools: [{ name: "exact_tool", tier: "mutation" }],
    });
    expect(policy.budgets[0]).toEqual({
      scope: "tenant:a",
      unit: "TOKENS",
      limit: 100,
      window: "day",
      narrowing: null,
      overdraftLimit: 5,
    });
    expect(policy.budgets[1].narrowing).toEqual([{ from: 0, disabledTiers: [] }]);
    expect(policy.prune).toBe(true);
    const bad = policyErrorOf(() =>
      parsePolicy({
        budgets: [
          {
            scope: "tenant:a",
            limit: 1,
            narrowing: [
              { from: 0.5, disabledTiers: [] },
              { from: 0.2, disabledTiers: [] },
            ],
          },
        ],
        tools: [
          { tier: "read" },
          { name: "a*", tier: "read" },
          { name: "a", match: "b", tier: "read", toolset: "x/y" },
        ],
      }),
    );
    expect(bad.issues.map((issue) => issue.path)).toEqual([
      "budgets.0.narrowing.1.from",
      "tools.0",
      "tools.1.name",
      "tools.2.match",
      "tools.2.toolset",
    ]);
  });

  it("refuses a tool glob or name longer than toolRuleGlobLengthMax, naming the line", () => {
    const long = "*_".repeat(toolRuleGlobLengthMax / 2 + 1);
    const bad = policyErrorOf(() =>
      parsePolicyText(
        `tools:\n  - match: "${long}"\n    tier: read\n  - name: ${"n".repeat(300)}\n    tier: read\n`,
        "p.yaml",
      ),
    );
    expect(bad.issues.map((issue) => [issue.path, issue.line])).toEqual([
      ["tools.0.match", 2],
      ["tools.1.name", 4],
    ]);
  });

  it("an empty file is a valid policy that grants nothing", () => {
    const policy = parsePolicyText("", "empty.yaml");
    expect(policy.budgets).toEqual([]);
    expect(policy.owns).toEqual([]);
  });

  it("recognizes approval grants, which policies never prune", () => {
    expect(isApprovalGrantScope("tenant:a/toolset:approved.send-email")).toBe(true);
    expect(isApprovalGrantScope("tenant:a/toolset:approved-run.deploy")).toBe(true);
    expect(isApprovalGrantScope("tenant:a/toolset:approved-once.k3y")).toBe(true);
    expect(isApprovalGrantScope("tenant:a/toolset:send-email")).toBe(false);
    expect(isApprovalGrantScope("tenant:approved.x")).toBe(false);
  });
});
