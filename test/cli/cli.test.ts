import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeAuditExport } from "../../src/cli/audit-file.js";
import { commands } from "../../src/cli/run.js";
import type { AuditEvent } from "../../src/store/types.js";
import { sampleRun } from "../report/sample-run.js";
import { spawnTestTimeoutMs, startTollgate, tollgate, tollgateAll } from "./run-cli.js";

const perTenant = "examples/policies/per-tenant.policy.yaml";
let dir: string;
let runFile: string;
let shadowFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
  const run = await sampleRun();
  runFile = join(dir, "run.jsonl");
  await writeAuditExport(runFile, { budgets: run.budgets, events: run.events });
  await run.ledger.close();
  const shadow = await sampleRun("shadow");
  shadowFile = join(dir, "shadow.jsonl");
  await writeAuditExport(shadowFile, { budgets: shadow.budgets, events: shadow.events });
  await shadow.ledger.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("tollgate CLI: help and usage", { timeout: spawnTestTimeoutMs }, () => {
  it("has --help on every command, exiting 0", async () => {
    const names = ["", "budget", "policy", ...commands.map((command) => command.name)];
    const results = await tollgateAll(names.map((name) => [...name.split(" ").filter(Boolean), "--help"]));
    results.forEach((result, index) => {
      expect(result.code, names[index]).toBe(0);
      expect(result.stdout, names[index]).toMatch(/tollgate/);
      expect(result.stderr, names[index]).toBe("");
    });
    for (const [index, command] of commands.entries()) {
      const help = results[index + 3].stdout;
      expect(help).toContain(`Usage: tollgate ${command.name}`);
      expect(help).toContain("Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.");
    }
  });

  it("exits 2 with a pointer to --help on a wrong command line", async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: tollgate <command>/],
      [["budgte", "ls"], /unknown command "budgte" \(did you mean "budget"\?\)[\s\S]*tollgate --help/],
      [["budget", "ls", "--bogus"], /unknown option --bogus[\s\S]*tollgate budget ls --help/],
      [["budget", "set", "--scope", "tenant:a"], /missing --limit N/],
      [
        ["budget", "set", "--scope", "tenant:a", "--limit", "-5", "--redis", "redis://127.0.0.1:1"],
        /--limit must not be negative \(got -5\)/,
      ],
      [
        ["budget", "set", "--scope", "tenant:a", "--limit", "5.5", "--redis", "redis://127.0.0.1:1"],
        /--limit must be a whole number/,
      ],
      [
        ["budget", "set", "--scope", "tenant:a/team:x", "--limit", "5", "--redis", "redis://127.0.0.1:1"],
        /unknown scope level "team"/,
      ],
      [
        ["budget", "set", "--scope", "tenant:a", "--limit", "5"],
        /no ledger to talk to: give --redis URL \(or set \$TOLLGATE_REDIS_URL\)/,
      ],
      [
        ["budget", "set", "--scope", "tenant:a", "--limit", "5", "--narrowing", "sometimes", "--redis", "redis://x"],
        /--narrowing must be none \| progressive/,
      ],
      [["policy", "apply", perTenant], /policy apply writes to the live store: give --redis URL/],
      [["audit", "--decision", "MAYBE", "--from", "x.jsonl"], /--decision must be one of ALLOW, ALLOW_WITH_CAPS, DENY/],
      [["audit", "--since", "yesterday-ish", "--from", "x.jsonl"], /--since must be an ISO time/],
      [["report", "--from", "x.jsonl"], /missing --out FILE/],
    ];
    const results = await tollgateAll(cases.map(([args]) => args));
    results.forEach((result, index) => {
      const [args, pattern] = cases[index];
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout + result.stderr, args.join(" ")).toMatch(pattern);
    });
  });
});

describe("tollgate CLI: policy files", { timeout: spawnTestTimeoutMs }, () => {
  it("checks a valid file and rejects a malformed one with file, path and line, exit 1", async () => {
    const ok = await tollgate(["policy", "check", perTenant]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("is valid: 4 budget(s) owning tenant:enterprise-corp, tenant:starter-co");
    const bad = join(dir, "bad.policy.yaml");
    writeFileSync(bad, "budgets:\n  - scope: tenant:a/team:x\n    limit: -3\n");
    const result = await tollgate(["policy", "check", bad]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${bad}:2:12: budgets.0.scope: unknown scope level "team"`);
    expect(result.stderr).toContain(`${bad}:3:12: budgets.0.limit: must not be negative`);
    expect(result.stderr).toContain("Fix the file");
    const broken = join(dir, "broken.policy.json");
    writeFileSync(broken, '{"budgets": [\n  {"scope": "tenant:a", "limit": 1},\n]}');
    const json = await tollgate(["policy", "check", broken]);
    expect(json.code).toBe(1);
    expect(json.stderr).toContain(`${broken}:3:1`);
  });

  it("lists budgets and balances of a policy file read-only, and refuses to write to it", async () => {
    const [ls, balance, jsonLs, write] = await tollgateAll([
      ["budget", "ls", "--policy", perTenant],
      ["balance", "--policy", perTenant, "--scope", "tenant:starter-co"],
      ["budget", "ls", "--policy", perTenant, "--scope", "tenant:enterprise-corp", "--json"],
      ["budget", "rm", "--scope", "tenant:starter-co/toolset:deploy", "--policy", perTenant],
    ]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(
      /tenant:enterprise-corp\/toolset:send-email\s+RISK_POINTS\s+500\s+lifetime\s+progressive/,
    );
    expect(ls.stdout).toMatch(/tenant:starter-co\/toolset:deploy\s+RISK_POINTS\s+0/);
    expect(balance.code).toBe(0);
    expect(balance.stdout).toMatch(/tenant:starter-co\/toolset:deploy\s+RISK_POINTS\s+0\s+0\s+0\s+0\s+0\s+denied/);
    expect(balance.stdout).toMatch(/tenant:starter-co\/toolset:send-email\s+RISK_POINTS\s+50\s+0\s+0\s+0\s+50\s+0\.0%/);
    expect(
      jsonLs.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).limit),
    ).toEqual([200, 500]);
    expect(write.code).toBe(2);
  });

  it("diffs an edited policy against the old file: adds, changes, removals", async () => {
    const edited = join(dir, "edited.policy.yaml");
    writeFileSync(
      edited,
      readFileSync(perTenant, "utf8")
        .replace("limit: 500", "limit: 600")
        .replace(
          / {2}- scope: tenant:starter-co\/toolset:deploy\n {4}limit: 0\n {4}note: [^\n]*\n/,
          "  - scope: tenant:starter-co/toolset:search\n    limit: 30\n",
        ),
    );
    const diff = await tollgate(["policy", "diff", edited, "--policy", perTenant]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain("+ tenant:starter-co/toolset:search  RISK_POINTS  limit 30");
    expect(diff.stdout).toContain("~ tenant:enterprise-corp/toolset:send-email  RISK_POINTS  limit 500 -> 600");
    expect(diff.stdout).toContain("- tenant:starter-co/toolset:deploy  RISK_POINTS  limit 0");
    expect(diff.stdout).toContain("1 to add, 1 to change, 1 to remove, 2 unchanged");
    const same = await tollgate(["policy", "diff", perTenant, "--policy", perTenant]);
    expect(same.stdout).toContain("No changes");
  });

  it("fails with exit 1 and says what to do when Redis is unreachable", async () => {
    const started = Date.now();
    const result = await tollgate(["budget", "ls", "--timeout-ms", "1500"], {
      env: { TOLLGATE_REDIS_URL: "redis://:secret@127.0.0.1:1" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Cannot reach the Redis store at redis://:***@127.0.0.1:1");
    expect(result.stderr).toContain("Check that Redis is running");
    expect(result.stderr).not.toContain("secret");
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("tollgate CLI: audit and report from an export", { timeout: spawnTestTimeoutMs }, () => {
  it("filters by scope, decision, tool and time, as text or JSON lines", async () => {
    const [denied, starterEmails, json, late, all] = await tollgateAll([
      ["audit", "--from", runFile, "--decision", "DENY"],
      ["audit", "--from", runFile, "--scope", "tenant:starter-co", "--tool", "send_email", "--type", "reserve"],
      ["audit", "--from", runFile, "--decision", "DENY", "--json"],
      ["audit", "--from", runFile, "--since", "2026-11-24T09:14:00Z", "--until", "2026-11-24T09:14:30Z"],
      ["audit", "--from", runFile, "--limit", "3"],
    ]);
    expect(denied.code).toBe(0);
    const deniedLines = denied.stdout.trim().split("\n");
    expect(deniedLines).toHaveLength(6);
    expect(deniedLines.every((line) => line.includes("DENY"))).toBe(true);
    expect(denied.stdout).toMatch(
      /DENY {2}BUDGET_EXCEEDED {2}tenant:starter-co\/toolset:deploy {2}deploy_service \(execution\) {2}est 50/,
    );
    expect(denied.stdout).toContain("TIER_DISABLED");
    // Five on the tenant's own toolset, one approved on a grant.
    expect(starterEmails.stdout.trim().split("\n")).toHaveLength(6);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((event) => event.reasonCode)).toContain("TIER_DISABLED");
    expect(events.every((event) => event.decision === "DENY" && typeof event.seq === "number")).toBe(true);
    expect(late.stdout.trim().split("\n")).toHaveLength(2);
    expect(all.stdout.trim().split("\n")).toHaveLength(3);
  });

  it("--would-deny shows what enforcing would deny, and its rate, before it is enforced", async () => {
    const result = await tollgate(["audit", "--from", shadowFile, "--would-deny"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines.filter((line) => line.includes("[shadow: would DENY"))).toHaveLength(6);
    expect(result.stdout).toContain("Would deny 6 of 19 decision(s) (31.6%).");
    expect(result.stdout).toMatch(/deploy_service: 3 of 5 \(60\.0%\)/);
    const json = await tollgate(["audit", "--from", shadowFile, "--would-deny", "--json"]);
    expect(json.stdout.trim().split("\n")).toHaveLength(6);
    expect(json.stderr).toContain("Would deny 6 of 19");
  });

  it("--follow prints events as another process appends them, until stopped", async () => {
    const live = join(dir, "live.jsonl");
    const lines = readFileSync(runFile, "utf8").trim().split("\n");
    writeFileSync(live, `${lines.slice(0, 5).join("\n")}\n`);
    const follower = startTollgate(["audit", "--from", live, "--follow", "--interval-ms", "100", "--decision", "DENY"]);
    // Act only once the follower has taken its starting point, however slow the machine.
    await follower.waitFor("Watching for new events", 30_000, "stderr");
    expect(follower.output().stdout).toBe("");
    appendFileSync(live, `${lines.slice(5).join("\n")}\n`);
    await follower.waitFor("deploy_service");
    await follower.waitFor("TIER_DISABLED");
    expect(await follower.stop("SIGTERM")).toBe(0);
    expect(follower.output().stdout.trim().split("\n")).toHaveLength(6);
  });

  it("audit --out re-exports, and report writes one self-contained HTML file", async () => {
    const copy = join(dir, "copy.jsonl");
    const exported = await tollgate(["audit", "--from", runFile, "--scope", "tenant:starter-co", "--out", copy]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/Wrote \d+ event\(s\) and 5 budget\(s\)/);
    const out = join(dir, "report.html");
    const report = await tollgate(["report", "--from", copy, "--out", out, "--title", "Starter run"]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(`Open it in a browser: file://${out}`);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("<title>Starter run</title>");
    expect(html).toContain('<svg class="chart utilization"');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const missing = await tollgate(["report", "--from", join(dir, "nope.jsonl"), "--out", join(dir, "x.html")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
    expect(existsSync(join(dir, "x.html"))).toBe(false);
  });

  it("refuses a hand-edited export with markup in a number, naming line and field, and writes no report", async () => {
    const lines = readFileSync(runFile, "utf8").trim().split("\n");
    const edited = JSON.parse(lines.find((line) => line.includes('"estimate"')) as string);
    edited.estimate = '<meta http-equiv="refresh" content="0;url=https://evil.example">';
    const crafted = join(dir, "crafted.jsonl");
    writeFileSync(crafted, `${lines[0]}\n${JSON.stringify(edited)}\n`);
    const out = join(dir, "crafted.html");
    const [report, audit] = await tollgateAll([
      ["report", "--from", crafted, "--out", out],
      ["audit", "--from", crafted],
    ]);
    expect(report.code).toBe(1);
    expect(report.stderr).toContain(`${crafted}:2: estimate: `);
    expect(existsSync(out)).toBe(false);
    expect(audit.code).toBe(1);
    expect(audit.stderr).toContain(`${crafted}:2: estimate: `);
    expect(audit.stdout).toBe("");
  });

  it("rejects a corrupt export with its line number", async () => {
    const corrupt = join(dir, "corrupt.jsonl");
    writeFileSync(corrupt, `${readFileSync(runFile, "utf8").split("\n")[0]}\n{not json\n`);
    const result = await tollgate(["audit", "--from", corrupt]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${corrupt}:2: not a JSON line`);
  });
});

describe("tollgate CLI: values from callers cannot drive the terminal", { timeout: spawnTestTimeoutMs }, () => {
  const atMs = Date.parse("2026-11-24T09:00:00Z");
  const hostile: AuditEvent[] = [
    {
      seq: 1,
      atMs,
      type: "reserve",
      scope: "tenant:acme/toolset:x",
      unit: "RISK_POINTS",
      // OSC: retitles the terminal; then clear screen and home; C1 CSI; a right-to-left override.
      action: { name: "\x1b]0;owned\x07send_email", tier: "write-external" },
      actor: "\x1b[2J\x1b[H",
      runId: "run\u202efdp.exe",
      estimate: 5,
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
      balances: [{ scope: "tenant:acme/toolset:x", allocated: 10, remaining: 2 }],
    },
    {
      seq: 2,
      atMs: atMs + 1,
      type: "reserve",
      scope: "tenant:acme/toolset:x",
      unit: "RISK_POINTS",
      // A line break and a carriage return would forge a line of their own.
      action: { name: "ok\n2026-11-24 09:00:00.002Z  ALLOW\rforged", tier: "read" },
      actor: "\u009b31m\u2066x\u2069\x7f",
      estimate: 1,
      decision: "DENY",
      reasonCode: "TIER_DISABLED",
    },
  ];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters the output must not carry
  const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  let file: string;
  beforeAll(() => {
    file = join(dir, "hostile.jsonl");
    writeFileSync(file, `${hostile.map((event) => JSON.stringify(event)).join("\n")}\n`);
  });

  it("audit and --would-deny show control characters escaped, one line per event", async () => {
    const [plain, wouldDeny] = await tollgateAll([
      ["audit", "--from", file],
      ["audit", "--from", file, "--would-deny"],
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toMatch(controls);
    const lines = plain.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("\\x1b]0;owned\\x07send_email");
    expect(lines[0]).toContain("by \\x1b[2J\\x1b[H");
    expect(lines[0]).toContain("run run\\u202efdp.exe");
    expect(lines[1]).toContain("ok\\n2026-11-24 09:00:00.002Z  ALLOW\\rforged");
    expect(lines[1]).toContain("by \\x9b31m\\u2066x\\u2069\\x7f");
    expect(wouldDeny.code).toBe(0);
    expect(wouldDeny.stdout).not.toMatch(controls);
    expect(wouldDeny.stdout).toContain("  \\x1b]0;owned\\x07send_email: 1 of 1 (100.0%)");
    expect(wouldDeny.stdout.trimEnd().split("\n")).toHaveLength(2 + 1 + 2);
  });

  it("--json stays exact: the same events, with nothing raw a terminal would obey", async () => {
    const json = await tollgate(["audit", "--from", file, "--json"]);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(controls);
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events).toEqual(hostile);
  });

  it("error messages quoting a file's content are escaped too", async () => {
    const policy = join(dir, "hostile.policy.yaml");
    writeFileSync(policy, 'budgets:\n  - scope: tenant:a\n    limit: 1\n    "\\e]0;owned\\a": 1\n');
    const result = await tollgate(["policy", "check", policy]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown field(s): \\x1b]0;owned\\x07");
    expect(result.stderr).not.toMatch(controls);
  });
});
