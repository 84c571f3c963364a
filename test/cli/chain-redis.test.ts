import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/run.js";
import { recordHashOf } from "../../src/evidence/chain.js";
import { generateSigningKey, jwksOf, privateKeyPem } from "../../src/evidence/keys.js";
import { chainRecordOfReceipt, receiptOfRecord } from "../../src/evidence/receipt.js";
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
    expect(verified.stdout).toContain("Event lines whole: 15 checked, each the event its chain record carries.");
    // The report still reads the events of the same file.
    expect((await run(["audit", "--from", file, "--json"])).stdout.trim().split("\n")).toHaveLength(15);
    // An event line edited in the file (what a report would show) while its chain record is left whole:
    // the chain alone verifies, the file does not.
    const eventAt = lines.findIndex((line) => line.includes('"seq":4,') && !line.startsWith('{"chain":'));
    const edited = [...lines];
    edited[eventAt] = edited[eventAt].replace('"estimate":2', '"estimate":9');
    expect(edited[eventAt]).not.toBe(lines[eventAt]);
    // And one line that no record covers (an event the chain never had).
    const invented = JSON.parse(lines[eventAt]);
    invented.seq = 99;
    edited.splice(eventAt + 1, 0, JSON.stringify(invented));
    const editedFile = join(dir, "export-event-edited.jsonl");
    writeFileSync(editedFile, `${edited.join("\n")}\n`);
    const lied = await run(["audit", "verify", "--from", editedFile, "--jwks", jwks]);
    expect(lied.code).toBe(1);
    expect(lied.stdout).toContain("Chain whole.");
    expect(lied.stdout).toContain(`Event line ${eventAt + 1} BROKEN: differs_from_chain: event seq 4`);
    expect(lied.stdout).toContain(`Event line ${eventAt + 2} BROKEN: not_in_chain: no chain record of tenant:acme`);
    const liedJson = JSON.parse((await run(["audit", "verify", "--from", editedFile, "--json"])).stdout);
    expect(liedJson).toMatchObject({ ok: false, events: { checked: 16, problemCount: 2 } });
    // Edited on the store: broken at its seq, exit 1.
    const stream = `${prefix}:{tenant:acme}:audit`;
    const { createClient } = await import("@redis/client");
    const client = createClient({ url: server.url });
    await client.connect();
    const entries = (await client.sendCommand(["XRANGE", stream, "-", "+"])) as [string, string[]][];
    await client.sendCommand(["DEL", stream]);
    for (const [id, fields] of entries) {
      // The estimate is the fourth part of the entry's "H" field (see src/store/redis/audit-reader.ts).
      const changed =
        id === "0-4"
          ? fields.map((value, at) => (fields[at - 1] === "H" ? value.replace(/^(\S+ \S+ \S+) 2 /, "$1 9 ") : value))
          : fields;
      await client.sendCommand(["XADD", stream, id, ...changed]);
    }
    await client.close();
    const broken = await run(["audit", "verify", ...store(), "--jwks", jwks]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("Tenant tenant:acme: BROKEN at seq 4: edited:");
  });

  it("audit receipt signs one event from the store or a verified export; audit --out --key adds a receipt per settlement", async () => {
    const pem = join(dir, "k1.pem");
    writeFileSync(pem, privateKeyPem(key), { mode: 0o600 });
    const beta = await chainedStore(server.url, prefix, key);
    await beta.ledger.setBudget({ scope: "tenant:beta", limit: 1_000 });
    await spend(beta.ledger, 2, "beta");
    await beta.store.close();
    // seq 2 is the first reserve (seq 1 the budget), seq 3 its commit.
    const receiptFile = join(dir, "r2.json");
    const issued = await run([
      "audit",
      "receipt",
      "--scope",
      "tenant:beta",
      "--seq",
      "2",
      "--key",
      pem,
      "--out",
      receiptFile,
      ...store(),
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toMatch(/^Wrote the reserve receipt [0-9a-f]{64} for tenant:beta seq 2 to /);
    const alone = await run(["audit", "verify", "--receipt", receiptFile, "--jwks", jwks]);
    expect(alone.code, alone.stdout).toBe(0);
    expect(alone.stdout).toContain(`Receipt whole: reserve receipt`);
    expect(alone.stdout).toContain(`signed by key "${key.keyId}"`);
    // The budget change has no artifact type; a seq past the end is not kept.
    const budget = await run(["audit", "receipt", "--scope", "tenant:beta", "--seq", "1", "--key", pem, ...store()]);
    expect(budget.code).toBe(1);
    expect(budget.stderr).toMatch(/has no Cycles artifact type/);
    const missing = await run(["audit", "receipt", "--scope", "tenant:beta", "--seq", "999", "--key", pem, ...store()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/keeps no chained event with seq 999/);
    expect((await run(["audit", "receipt", "--scope", "tenant:beta", "--seq", "2", ...store()])).code).toBe(2);
    expect(
      (await run(["audit", "receipt", "--scope", "tenant:beta", "--seq", "0", "--key", pem, ...store()])).code,
    ).toBe(2);

    // The export with receipts: every reserve and commit gets one, and each is checked with the chain.
    const file = join(dir, "with-receipts.jsonl");
    const out = await run(["audit", "--out", file, "--key", pem, ...store(), "--scope", "tenant:beta"]);
    expect(out.code, out.stderr).toBe(0);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const receiptLines = lines.filter((line) => line.startsWith('{"receipt":'));
    const records = lines.filter((line) => line.startsWith('{"chain":')).map((line) => JSON.parse(line).chain);
    expect(receiptLines).toHaveLength(records.filter((record) => record.event.type !== "budget.set").length);
    const verified = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain(`Receipts whole: ${receiptLines.length} checked.`);
    // From the export: the same receipt content as from the store (issued at another time).
    const fromExport = await run([
      "audit",
      "receipt",
      "--scope",
      "tenant:beta",
      "--seq",
      "2",
      "--key",
      pem,
      "--from",
      file,
      "--jwks",
      jwks,
    ]);
    expect(fromExport.code, fromExport.stderr).toBe(0);
    expect(JSON.parse(fromExport.stdout).payload).toEqual(JSON.parse(readFileSync(receiptFile, "utf8")).payload);

    // A receipt line edited in the file: broken, exit 1, named by its place and seq.
    const edited = lines.map((line) =>
      line === receiptLines[0] ? line.replace('"estimate":2', '"estimate":3') : line,
    );
    expect(edited.join("\n")).not.toBe(lines.join("\n"));
    const editedFile = join(dir, "edited-receipt.jsonl");
    writeFileSync(editedFile, `${edited.join("\n")}\n`);
    const broken = await run(["audit", "verify", "--from", editedFile, "--jwks", jwks]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/Receipt 1 of \d+ BROKEN \(tenant:beta seq 2\): edited:/);
    // A receipt properly signed, but over a forged record at seq 2 (its own hash recomputed): the
    // export's chain holds another record there, so the receipt is not part of it.
    const genuine = records.find((record) => record.seq === 2);
    const forgedEvent = { ...genuine.event, estimate: 1 };
    const forged = receiptOfRecord(
      { ...genuine, event: forgedEvent, hash: recordHashOf(genuine.tenant, 2, genuine.prevHash, forgedEvent) },
      key,
      { serverId: "urn:tollgate" },
    );
    const swapped = lines.map((line) => (line === receiptLines[0] ? JSON.stringify({ receipt: forged }) : line));
    writeFileSync(editedFile, `${swapped.join("\n")}\n`);
    const foreign = await run(["audit", "verify", "--from", editedFile, "--jwks", jwks]);
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toMatch(/Receipt 1 of \d+ BROKEN \(tenant:beta seq 2\): not in the chain:/);
    // A chain edited before seq 2 in the export: audit receipt --from refuses to sign after it.
    const chainEdited = lines.map((line) =>
      line.startsWith('{"chain":') && JSON.parse(line).chain.seq === 1
        ? line.replace('"unit":"RISK_POINTS"', '"unit":"TOKENS"')
        : line,
    );
    writeFileSync(editedFile, `${chainEdited.join("\n")}\n`);
    const refused = await run([
      "audit",
      "receipt",
      "--scope",
      "tenant:beta",
      "--seq",
      "2",
      "--key",
      pem,
      "--from",
      editedFile,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/broken at seq 1 \(edited\): no receipt is issued/);
    // acme's stream was edited at seq 4 (the test before): its export gets receipts up to seq 3 only.
    const acmeFile = join(dir, "acme-receipts.jsonl");
    const acme = await run(["audit", "--out", acmeFile, "--key", pem, ...store(), "--scope", "tenant:acme"]);
    expect(acme.code, acme.stderr).toBe(0);
    expect(acme.stderr).toContain("No receipts for tenant:acme from seq 4: its chain is broken there (edited)");
    const acmeReceipts = readFileSync(acmeFile, "utf8")
      .split("\n")
      .filter((line) => line.startsWith('{"receipt":'))
      .map((line) => chainRecordOfReceipt(JSON.parse(line).receipt)?.seq);
    expect(acmeReceipts).toEqual([2, 3]);
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
