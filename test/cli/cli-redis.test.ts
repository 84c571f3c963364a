import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger } from "../../src/ledger/create-ledger.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import { type RedisServerHandle, redisUnavailableReason, startRedisServer } from "../helpers/redis-server.js";
import { spawnTestTimeoutMs, startTollgate, tollgate } from "./run-cli.js";

const perTenant = "examples/policies/per-tenant.policy.yaml";
const email = { name: "send_email", tier: "write-external" as const };
const deploy = { name: "deploy_service", tier: "execution" as const };

/** The operator's day against the live store: provision from one file, watch decisions, report. */
function suite() {
  let server: RedisServerHandle;
  let dir: string;
  let agent: Ledger;
  const prefix = `tollgate-cli-${process.pid}-${Date.now()}:`;
  const store = () => ["--redis", server.url, "--redis-prefix", prefix];

  beforeAll(async () => {
    server = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), "tollgate-cli-redis-"));
  });
  afterAll(async () => {
    await agent?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("provisions the per-tenant example from one policy file, idempotently", async () => {
    const diff = await tollgate(["policy", "diff", perTenant, ...store()]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain("4 to add, 0 to change, 0 to remove, 0 unchanged");
    const apply = await tollgate(["policy", "apply", perTenant, ...store()]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain("+ tenant:starter-co/toolset:deploy  RISK_POINTS  limit 0");
    expect(apply.stdout).toContain("Applied 4 change(s)");
    const again = await tollgate(["policy", "apply", perTenant, ...store()]);
    expect(again.stdout).toContain("Nothing to change");
    const ls = await tollgate(["budget", "ls", "--redis-prefix", prefix], { env: { TOLLGATE_REDIS_URL: server.url } });
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/tenant:enterprise-corp\/toolset:send-email\s+RISK_POINTS\s+500/);
    expect(ls.stdout).toMatch(/tenant:starter-co\/toolset:deploy\s+RISK_POINTS\s+0/);
  });

  it("lets the operator watch decisions live while an agent runs", async () => {
    agent = createLedger({ redis: server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
    const follower = startTollgate(["audit", "--follow", "--interval-ms", "100", "--type", "reserve", ...store()]);
    // Act only once the follower has taken its starting point, however slow the machine.
    await follower.waitFor("Watching for new events", 30_000, "stderr");
    const sent = await agent.reserve({
      subject: { tenant: "enterprise-corp", toolset: "send-email" },
      action: email,
      estimate: 20,
    });
    expect(sent.decision).toBe("ALLOW");
    await agent.commit(sent.reservationId as string);
    const denied = await agent.reserve({
      subject: { tenant: "starter-co", toolset: "deploy" },
      action: deploy,
      estimate: 50,
    });
    expect(denied).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
    await follower.waitFor("ALLOW  tenant:enterprise-corp/toolset:send-email  send_email (write-external)");
    await follower.waitFor("DENY  BUDGET_EXCEEDED  tenant:starter-co/toolset:deploy  deploy_service (execution)");
    expect(await follower.stop()).toBe(0);

    const balance = await tollgate(["balance", "--scope", "tenant:enterprise-corp/toolset:send-email", ...store()]);
    expect(balance.stdout).toMatch(
      /tenant:enterprise-corp\/toolset:send-email\s+RISK_POINTS\s+500\s+20\s+0\s+0\s+480\s+4\.0%/,
    );
    const wouldDeny = await tollgate(["audit", "--would-deny", ...store()]);
    expect(wouldDeny.stdout).toContain("Would deny 1 of 2 decision(s) (50.0%).");
  });

  it("applies an edited file: only what changed, spend kept; budget set and rm by hand", async () => {
    const edited = join(dir, "edited.policy.yaml");
    writeFileSync(edited, readFileSync(perTenant, "utf8").replace("limit: 500", "limit: 600"));
    const apply = await tollgate(["policy", "apply", edited, ...store()]);
    expect(apply.stdout).toContain("~ tenant:enterprise-corp/toolset:send-email  RISK_POINTS  limit 500 -> 600");
    expect(apply.stdout).toContain("Applied 1 change(s)");
    expect(await agent.getBalance({ scope: "tenant:enterprise-corp/toolset:send-email" })).toMatchObject({
      allocated: 600,
      spent: 20,
    });
    const set = await tollgate([
      "budget",
      "set",
      "--scope",
      "tenant:starter-co/toolset:search",
      "--limit",
      "30",
      ...store(),
    ]);
    expect(set.stdout).toContain("Set tenant:starter-co/toolset:search to 30 RISK_POINTS");
    const rm = await tollgate(["budget", "rm", "--scope", "tenant:starter-co/toolset:search", ...store()]);
    expect(rm.code).toBe(0);
    const rmAgain = await tollgate(["budget", "rm", "--scope", "tenant:starter-co/toolset:search", ...store()]);
    expect(rmAgain.code).toBe(1);
    expect(rmAgain.stderr).toContain(
      "There is no RISK_POINTS budget at tenant:starter-co/toolset:search; nothing removed",
    );
  });

  it("createLedger({ redis, policy }) provisions the live store before the agent's first call", async () => {
    const fresh = createLedger({
      redis: server.url,
      redisPrefix: `${prefix}fresh:`,
      policy: perTenant,
      sweepIntervalMs: 0,
    });
    try {
      const starter = await fresh.reserve({
        subject: { tenant: "starter-co", toolset: "deploy" },
        action: deploy,
        estimate: 50,
      });
      expect(starter).toMatchObject({ decision: "DENY", reasonCode: "BUDGET_EXCEEDED" });
      const enterprise = await fresh.reserve({
        subject: { tenant: "enterprise-corp", toolset: "deploy" },
        action: deploy,
        estimate: 50,
      });
      expect(enterprise.decision).toBe("ALLOW");
    } finally {
      await fresh.close();
    }
  });

  it("writes an export and a report of the run from the live store", async () => {
    const exported = join(dir, "run.jsonl");
    const out = await tollgate(["audit", "--out", exported, ...store()]);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(exported, "utf8")).toContain('"budget":');
    const html = join(dir, "report.html");
    const report = await tollgate(["report", "--out", html, "--title", "Live run", ...store()]);
    expect(report.code, report.stderr).toBe(0);
    const text = readFileSync(html, "utf8");
    expect(text).toContain("<title>Live run</title>");
    expect(text.match(/<svg class="chart utilization"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain("BUDGET_EXCEEDED");
  });

  it("policy apply waits --wait-ms for another apply's lease, then fails and changes nothing", async () => {
    const edited = join(dir, "waiting.policy.yaml");
    writeFileSync(edited, readFileSync(perTenant, "utf8").replace("limit: 500", "limit: 700"));
    const { createClient } = await import("@redis/client");
    const client = createClient({ url: server.url });
    await client.connect();
    const lease = `${prefix}:policy-lease`;
    await client.sendCommand(["SET", lease, "another-operator", "PX", "60000"]);
    const busy = await tollgate(["policy", "apply", edited, ...store(), "--wait-ms", "300"]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("Another policy apply holds the store");
    const diff = await tollgate(["policy", "diff", edited, ...store()]);
    expect(diff.stdout).toContain("limit 600 -> 700");
    expect((await tollgate(["policy", "apply", edited, ...store(), "--wait-ms", "7200000"])).code).toBe(2);
    await client.sendCommand(["DEL", lease]);
    const applied = await tollgate(["policy", "apply", edited, ...store(), "--wait-ms", "0"]);
    expect(applied.code, applied.stderr).toBe(0);
    await client.close();
  });
}

const reason = redisUnavailableReason();
if (!reason) describe("tollgate CLI against a real Redis", { timeout: spawnTestTimeoutMs }, suite);
else if (process.env.CI === "true") {
  describe("tollgate CLI against a real Redis", () => {
    it("needs redis-server on CI", () => {
      throw new Error(`The Redis CLI suite cannot run on CI: ${reason}`);
    });
  });
} else describe.skip("tollgate CLI against a real Redis", suite);
