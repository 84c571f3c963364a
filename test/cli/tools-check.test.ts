import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, spawnTestTimeoutMs, tollgate, tollgateAll } from "./run-cli.js";

// `tollgate tools check`: the CI check that every tool an agent uses is charged by the policy.

const mcpAdapters: string = "@langchain/mcp-adapters";
const hasMcpAdapters = await import(mcpAdapters).then(
  () => true,
  () => false,
);

let dir: string;
let policy: string;

// Rules by name, glob, MCP server and MCP annotations; the indexes are what the check reports.
const policyText = `version: 1
budgets:
  - scope: tenant:acme
    limit: 100
tools:
  - name: send_email
    tier: write-external
    estimate: 20
    toolset: send-email
  - match: "search_*"
    tier: read
    estimate: 2
    toolset: search
  - server: github
    annotations: { readOnlyHint: true }
    tier: read
    estimate: 1
    toolset: github-read
  - server: github
    tier: mutation
    toolset: github
  - annotations: { destructiveHint: true }
    tier: execution
    estimate: 50
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-tools-"));
  policy = join(dir, "tools.policy.yaml");
  writeFileSync(policy, policyText);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("tollgate tools check NAME...", { timeout: spawnTestTimeoutMs }, () => {
  it("all covered: the charge of each tool and which rule gave it, exit 0", async () => {
    const result = await tollgate([
      "tools",
      "check",
      "--policy",
      policy,
      "send_email",
      "search_kb",
      "github__create_issue",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        "TOOL                  SERVER  TIER            ESTIMATE  TOOLSET     CHARGED BY",
        "send_email            -       write-external        20  send-email  rule 0: match send_email",
        "search_kb             -       read                   2  search      rule 1: match search_*",
        "github__create_issue  github  mutation              25  github      rule 3: server github",
        `All 3 tool(s) are covered by ${policy}.`,
        "",
      ].join("\n"),
    );
  });

  it("a tool nothing names is NOT COVERED and the check exits 1", async () => {
    const result = await tollgate(["tools", "check", "--policy", policy, "send_email", "run_command", "deploy"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      [
        "TOOL         TIER            ESTIMATE  TOOLSET     CHARGED BY",
        "send_email   write-external  20        send-email  rule 0: match send_email",
        "run_command  -               -         -           NOT COVERED",
        "deploy       -               -         -           NOT COVERED",
        "2 of 3 tool(s) not covered: run_command, deploy. An agent denies them with TOOL_NOT_COVERED.",
        `Add a rule under "tools:" in ${policy} (name, match, tag, server or annotations, with a tier), or set defaultTool in the agent.`,
        "",
      ].join("\n"),
    );
  });

  it("--json: exactly the charges, with the rule index, and the names not covered", async () => {
    const result = await tollgate([
      "tools",
      "check",
      "--policy",
      policy,
      "--json",
      "search_web",
      "github__list_repos",
      "run_command",
      "search_web",
    ]);
    expect(result.code).toBe(1);
    const expected = {
      policy,
      tools: [
        {
          name: "search_web",
          covered: true,
          source: "rule",
          ruleIndex: 1,
          tier: "read",
          estimate: 2,
          unit: "RISK_POINTS",
          toolset: "search",
        },
        // A name carries no annotations: the annotation rule for github (2) cannot match it.
        {
          name: "github__list_repos",
          covered: true,
          server: "github",
          source: "rule",
          ruleIndex: 3,
          tier: "mutation",
          estimate: 25,
          unit: "RISK_POINTS",
          toolset: "github",
        },
        { name: "run_command", covered: false },
      ],
      notCovered: ["run_command"],
    };
    expect(JSON.parse(result.stdout)).toEqual(expected);
    expect(result.stdout).toBe(`${JSON.stringify(expected, null, 2)}\n`);

    const allCovered = await tollgate(["tools", "check", "--policy", policy, "--json", "send_email"]);
    expect(allCovered.code).toBe(0);
    expect(JSON.parse(allCovered.stdout).notCovered).toEqual([]);
  });

  it("the example policy covers the tools of the per-tenant agent", async () => {
    const result = await tollgate([
      "tools",
      "check",
      "--policy",
      "examples/policies/per-tenant.policy.yaml",
      "--json",
      "send_email",
      "deploy_service",
      "search_kb",
    ]);
    expect(result.code).toBe(0);
    expect(
      JSON.parse(result.stdout).tools.map((tool: { ruleIndex: number; toolset: string }) => [
        tool.ruleIndex,
        tool.toolset,
      ]),
    ).toEqual([
      [0, "send-email"],
      [1, "deploy"],
      [2, "search_kb"],
    ]);
  });

  it("exits 2 on a wrong command line, 1 on a file it cannot use", async () => {
    const notJson = file("not-json.json", "{ mcpServers");
    const noServers = file("no-servers.json", JSON.stringify({ servers: {} }));
    const badPolicy = file("bad.policy.yaml", "version: 1\ntools:\n  - name: x\n    tier: dangerous\n");
    const cases: [string[], number, RegExp][] = [
      [["tools", "check", "send_email"], 2, /missing --policy FILE[\s\S]*tollgate tools check --help/],
      [["tools", "check", "--policy", policy], 2, /no tools to check: give tool names or --mcp-config FILE/],
      [
        ["tools", "check", "--policy", policy, "--mcp-config", notJson, "x"],
        2,
        /tool names or --mcp-config FILE, not both/,
      ],
      [["tools", "check", "--policy", policy, "x".repeat(129)], 2, /tool names must be 1-128 characters/],
      [["tools", "check", "--policy", policy, "--bogus", "x"], 2, /unknown option --bogus/],
      [["tools", "chek"], 2, /unknown command "tools chek"/],
      [["tools", "check", "--policy", badPolicy, "x"], 1, /tools\.0\.tier[\s\S]*tollgate policy check FILE/],
      [["tools", "check", "--policy", policy, "--mcp-config", notJson], 1, /not-json\.json is not JSON/],
      [["tools", "check", "--policy", policy, "--mcp-config", noServers], 1, /mcpServers must be an object/],
    ];
    const results = await tollgateAll(cases.map(([args]) => args));
    results.forEach((result, index) => {
      const [args, code, pattern] = cases[index];
      expect(result.code, args.join(" ")).toBe(code);
      expect(result.stderr, args.join(" ")).toMatch(pattern);
      expect(result.stdout, args.join(" ")).toBe("");
    });
  });

  it("has help for the group and the command", async () => {
    const [group, command] = await tollgateAll([
      ["tools", "--help"],
      ["tools", "check", "--help"],
    ]);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain("tollgate tools check");
    expect(command.code).toBe(0);
    expect(command.stdout).toContain("Usage: tollgate tools check [NAME...] --policy FILE [options]");
    expect(command.stdout).toContain("--mcp-config FILE");
  });

  it.skipIf(hasMcpAdapters)("--mcp-config without @langchain/mcp-adapters: exit 1 naming the package", async () => {
    const config = file("one.mcp.json", JSON.stringify({ mcpServers: { files: { command: "node", args: ["x"] } } }));
    const result = await tollgate(["tools", "check", "--policy", policy, "--mcp-config", config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('needs the package "@langchain/mcp-adapters": npm install @langchain/mcp-adapters');
  });
});

// The MCP mode runs a real stdio MCP server (test/fixtures/mcp/server.mjs: read_file, search_docs,
// write_file, delete_file, send_message, run_command, each with its own annotations).
const mcpSuite = "tollgate tools check --mcp-config";
if (!hasMcpAdapters && process.env.CI === "true") {
  describe(mcpSuite, () => {
    it("needs @langchain/mcp-adapters on CI", () => {
      throw new Error(`The suite "${mcpSuite}" cannot run on CI: @langchain/mcp-adapters is not installed`);
    });
  });
} else if (!hasMcpAdapters) {
  console.warn(`[tollgate] skipped "${mcpSuite}": @langchain/mcp-adapters is not installed`);
}

describe.skipIf(!hasMcpAdapters)(mcpSuite, { timeout: spawnTestTimeoutMs }, () => {
  const server = { command: process.execPath, args: [join(repoRoot, "test/fixtures/mcp/server.mjs")] };
  const mcpPolicy = (extra = "") => `version: 1
budgets:
  - scope: tenant:acme
    limit: 100
tools:
  - name: send_message
    tier: write-external
    estimate: 20
    toolset: send-email
  - server: files
    annotations: { destructiveHint: true }
    tier: mutation
    estimate: 40
    toolset: files-destructive
${extra}`;

  it("charges each server tool by its annotations and the rules; the unannotated one is not covered", async () => {
    const config = file("files.mcp.json", JSON.stringify({ mcpServers: { files: server } }));
    const policyFile = file("mcp.policy.yaml", mcpPolicy());
    const result = await tollgate(["tools", "check", "--policy", policyFile, "--mcp-config", config, "--json"]);
    expect(result.code).toBe(1);
    const checked = JSON.parse(result.stdout);
    const brief = checked.tools.map((tool: Record<string, unknown>) => [
      tool.name,
      tool.server,
      tool.source ?? "NOT COVERED",
      tool.tier,
      tool.estimate,
      tool.toolset,
    ]);
    expect(brief).toEqual([
      ["read_file", "files", "annotations", "read", 5, "read_file"],
      ["search_docs", "files", "annotations", "read", 5, "search_docs"],
      ["write_file", "files", "annotations", "write-local", 10, "write_file"],
      // Unprefixed names: the agent's gate cannot tell the server, so the server rule does not apply.
      ["delete_file", "files", "annotations", "mutation", 25, "delete_file"],
      ["send_message", "files", "rule", "write-external", 20, "send-email"],
      ["failing_write", "files", "annotations", "write-local", 10, "failing_write"],
      ["run_command", "files", "NOT COVERED", undefined, undefined, undefined],
    ]);
    expect(checked.tools[3].note).toContain('"prefixToolNameWithServerName": true');
    expect(checked.notCovered).toEqual(["run_command"]);
  });

  it("with server-prefixed names the server rules match, and a catch-all server rule covers the rest: exit 0", async () => {
    const config = file(
      "files-prefixed.mcp.json",
      JSON.stringify({ prefixToolNameWithServerName: true, mcpServers: { files: server } }),
    );
    const policyFile = file(
      "mcp-all.policy.yaml",
      mcpPolicy("  - server: files\n    match: files__run_*\n    tier: execution\n    toolset: files-exec\n"),
    );
    const result = await tollgate(["tools", "check", "--policy", policyFile, "--mcp-config", config]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /files__delete_file\s+files\s+mutation\s+40\s+files-destructive\s+rule 1: server files, annotations destructiveHint=true/,
    );
    expect(result.stdout).toMatch(
      /files__run_command\s+files\s+execution\s+50\s+files-exec\s+rule 2: match files__run_\*, server files/,
    );
    expect(result.stdout).toContain("All 7 tool(s) are covered by");
  });

  it("a server that cannot start fails the check (exit 1), it is never skipped", async () => {
    const config = file(
      "broken.mcp.json",
      JSON.stringify({ mcpServers: { files: { command: process.execPath, args: [join(dir, "missing.mjs")] } } }),
    );
    const result = await tollgate(["tools", "check", "--policy", policy, "--mcp-config", config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Cannot list the tools of the MCP servers");
  });
});
