import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const optionalPeers = ["langchain", "@redis/client", "@keyv/redis", "@opentelemetry/api", "playwright-core"];

/** Runs a script in a fresh Node process in which the optional peers cannot be resolved. */
async function runWithoutOptionalPeers(script: string) {
  return run(
    process.execPath,
    ["--import", "./test/package/register-blocker.mjs", "--import", "tsx", "--input-type=module", "-e", script],
    { cwd: root, env: { ...process.env, TOLLGATE_BLOCKED_PACKAGES: optionalPeers.join(",") }, timeout: 60_000 },
  );
}

describe("the package root", () => {
  it("imports and runs the embedded ledger without any optional peer installed", async () => {
    const { stdout } = await runWithoutOptionalPeers(`
      const tollgate = await import("./src/index.ts");
      const ledger = tollgate.createLedger();
      await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 100 });
      const subject = { tenant: "acme", workspace: "production", agent: "resolver", toolset: "send-email" };
      const r = await ledger.reserve({ subject, action: { name: "send_email", tier: "write-external" }, estimate: 20 });
      const committed = await ledger.commit(r.reservationId);
      console.log(JSON.stringify({ decision: r.decision, charged: committed.charged }));
    `);
    const result = JSON.parse(stdout.trim().split("\n").at(-1) as string);
    expect(result).toEqual({ decision: "ALLOW", charged: 20 });
  });

  it("names the package to install when a feature needs a missing optional peer", async () => {
    const { stdout } = await runWithoutOptionalPeers(`
      const { createLedger } = await import("./src/index.ts");
      const ledger = createLedger({ redis: "redis://127.0.0.1:1" });
      await ledger.setBudget({ scope: "tenant:acme", limit: 1 }).catch((error) => console.log(error.code + " " + error.message));
    `);
    expect(stdout).toMatch(/PEER_DEPENDENCY_MISSING .*npm install @redis\/client/);
  });
});
