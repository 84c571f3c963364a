import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/run.js";
import { generateSigningKey, jwksOf } from "../../src/evidence/keys.js";
import { StoreLedger } from "../../src/ledger/ledger.js";
import { createRedisStore } from "../../src/store/redis/index.js";
import { type RedisServerHandle, redisUnavailableReason, startRedisServer } from "../helpers/redis-server.js";
import { chainedStore, spend } from "../store/redis/chain-support.js";

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    stopSignal: new Promise(() => {}),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

const key = generateSigningKey("cli-k1");

function suite() {
  let server: RedisServerHandle;
  let dir: string;
  let jwks: string;
  const prefix = `tollgate-cli-chain-${process.pid}-${Date.now()}`;
  const store = () => ["--redis", server.url, "--redis-prefix", prefix];

  beforeAll(async () => {
    server = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), "tollgate-cli-chain-"));
    jwks = join(dir, "jwks.json");
    writeFileSync(jwks, JSON.stringify(jwksOf([key])));
    const chained = await chainedStore(server.url, prefix, key, { checkpointEveryEvents: 5 });
    await chained.ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
    await spend(chained.ledger, 5); // seq 1-11, linked and signed (at 11) when the store closes
    await chained.store.close();
    // A process without evidence writes on: its events wait for a linker.
    const plain = await createRedisStore({ redis: server.url, prefix });
    await spend(new StoreLedger(plain, { sweepIntervalMs: 0 }), 2); // seq 12-15
    await plain.close();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("audit verify --redis reads the chain from the store and says how far it is signed, writing nothing", async () => {
    const result = await run(["audit", "verify", ...store(), "--scope", "tenant:acme", "--jwks", jwks]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain(
      "Tenant tenant:acme: whole, seq 1-11 (11 record(s), 1 checkpoint(s)), signed through seq 11, 0 record(s) after",
    );
    const all = await run(["audit", "verify", ...store(), "--json"]);
    expect(JSON.parse(all.stdout)).toMatchObject({ ok: true, signaturesChecked: false });
  });

  it("audit --out writes the events and the chain (linking what waited); audit verify --from checks it", async () => {
    const file = join(dir, "export.jsonl");
    const out = await run(["audit", "--out", file, ...store(), "--scope", "tenant:acme"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain("and the audit chain (15 record(s), 1 checkpoint(s)");
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines.filter((line) => line.startsWith('{"chain":'))).toHaveLength(15);
    const verified = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain(
      "whole, seq 1-15 (15 record(s), 1 checkpoint(s)), signed through seq 11, 4 record(s) after the last checkpoint",
    );
    // The report still reads the events of the same file.
    expect((await run(["audit", "--from", file, "--json"])).stdout.trim().split("\n")).toHaveLength(15);
    // Edited on the store: broken at its seq, exit 1.
    const stream = `${prefix}:{tenant:acme}:audit`;
    const { createClient } = await import("@redis/client");
    const client = createClient({ url: server.url });
    await client.connect();
    const entries = (await client.sendCommand(["XRANGE", stream, "-", "+"])) as [string, string[]][];
    await client.sendCommand(["DEL", stream]);
    for (const [id, fields] of entries) {
      const changed = id === "0-4" ? fields.map((value) => value.replace('"estimate":2', '"estimate":9')) : fields;
      await client.sendCommand(["XADD", stream, id, ...changed]);
    }
    await client.close();
    const broken = await run(["audit", "verify", ...store(), "--jwks", jwks]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("Tenant tenant:acme: BROKEN at seq 4: edited:");
  });

  it("a tenant without a chain is a failure, not a whole chain", async () => {
    const result = await run(["audit", "verify", ...store(), "--scope", "tenant:nobody"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/holds no audit chain for tenant:nobody/);
  });

  it("is a usage error with two sources, or --scope without --redis", async () => {
    expect((await run(["audit", "verify", "--from", "x.jsonl", ...store()])).code).toBe(2);
    expect((await run(["audit", "verify", "--from", "x.jsonl", "--scope", "tenant:acme"])).code).toBe(2);
    expect((await run(["audit", "verify"])).code).toBe(2);
  });
}

const reason = redisUnavailableReason();
if (!reason) describe("tollgate audit and the Redis store's chain", suite);
else describe.skip(`tollgate audit and the Redis store's chain (${reason})`, suite);
