import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import { repoRoot } from "../../cli/run-cli.js";
import { type RedisServerHandle, startRedisServer } from "../../helpers/redis-server.js";
import { describeRedis, uniquePrefix } from "./support.js";

// A Redis ledger created from a URL must not keep a script alive once its work is done, even
// without ledger.close(): between commands its connection is unref'd. (While Redis is unreachable
// the client's reconnect timer still holds the process; the README says to close the ledger.)
const scriptTimeoutMs = 30_000;

interface Exited {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a script in its own Node process; a process still running after the timeout is killed (code "killed"). */
function runScript(script: string, env: Record<string, string>): Promise<Exited> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: scriptTimeoutMs, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : "killed") : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const unclosedLedger = `
  import { createLedger } from "./src/index.ts";
  const ledger = createLedger({ redis: process.env.LEDGER_REDIS_URL, redisPrefix: process.env.LEDGER_PREFIX });
  const subject = { tenant: "acme", toolset: "search" };
  const setUp = await ledger.setBudget({ scope: "tenant:acme/toolset:search", limit: 100 }).then(
    () => "budget set",
    (error) => error.code,
  );
  const reserved = await ledger.reserve({ subject, action: { name: "search", tier: "read" }, estimate: 5 });
  if (reserved.reservationId) await ledger.commit(reserved.reservationId);
  console.log(setUp, reserved.decision, reserved.reasonCode ?? "-");
  // No ledger.close(): the process must end by itself.
`;

describeRedis(
  "an idle Redis ledger does not hold the process",
  () => {
    let server: RedisServerHandle;
    beforeAll(async () => {
      server = await startRedisServer({ needsOwnServer: true });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it(
      "a script that never closes its ledger exits when its work is done",
      async () => {
        const result = await runScript(unclosedLedger, { LEDGER_REDIS_URL: server.url, LEDGER_PREFIX: uniquePrefix() });
        expect(result).toEqual({ code: 0, stdout: "budget set ALLOW -\n", stderr: "" });
      },
      scriptTimeoutMs * 2,
    );

    it("reconnects on the next call after its connection was dropped while idle", async () => {
      const ledger = createLedger({ redis: server.url, redisPrefix: uniquePrefix("idle"), sweepIntervalMs: 0 });
      const subject = { tenant: "acme", toolset: "search" };
      const action = { name: "search", tier: "read" as const };
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      expect(await ledger.reserve({ subject, action, estimate: 1 })).toMatchObject({ decision: "ALLOW" });
      // Killed without persistence: the budget goes with it; the first call after the restart sets it again.
      await server.kill();
      await server.restart();
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      expect(await ledger.reserve({ subject, action, estimate: 1 })).toMatchObject({ decision: "ALLOW" });
      await ledger.close();
    }, 30_000);
  },
  { needsOwnServer: true },
);

describe("the in-flight count behind it", () => {
  it("refs on the first command, again after a connect, unrefs after the last; refuses an end without a begin", async () => {
    const { IdleRelease } = await import("../../../src/store/redis/connection.js");
    const calls: string[] = [];
    const release = new IdleRelease();
    release.attach({ ref: () => calls.push("ref"), unref: () => calls.push("unref") });
    release.begin();
    release.begin();
    release.connected();
    release.end();
    release.end();
    release.connected();
    expect(calls).toEqual(["unref", "ref", "ref", "unref"]);
    expect(() => release.end()).toThrow(/more commands ended than began/);
  });
});
