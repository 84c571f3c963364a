import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/run.js";
import { type ChainRecord, type Checkpoint, emptyChainHead, linkEvent, trimChain } from "../../src/evidence/chain.js";
import { chainExportLines } from "../../src/evidence/export.js";
import { generateSigningKey, signingKeyFromPem } from "../../src/evidence/keys.js";
import { issueReceipt, receiptOfRecord } from "../../src/evidence/receipt.js";
import { buildChain, tamperings } from "../evidence/build-chain.js";
import { spawnTestTimeoutMs, tollgate } from "./run-cli.js";

/** Runs a command line in this process and collects what it printed. */
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

const fixture = join(import.meta.dirname, "../fixtures/cycles-evidence/03-reserve-deny.json");
let dir: string;
let jwks: string;
let key: ReturnType<typeof signingKeyFromPem>;

function writeExport(name: string, chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }): string {
  const file = join(dir, name);
  writeFileSync(file, `${chainExportLines(chain).join("\n")}\n`);
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-evidence-"));
  const generated = await run(["keys", "generate", "--out-dir", join(dir, "keys"), "--kid", "tollgate-2026-12"]);
  expect(generated).toMatchObject({ code: 0, stderr: "" });
  jwks = join(dir, "keys", "jwks.json");
  key = signingKeyFromPem(readFileSync(join(dir, "keys", "tollgate-2026-12.pem"), "utf8"), "tollgate-2026-12");
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("tollgate keys generate", () => {
  it("writes the private key 0600 and the public JWK Set; a second key joins the set", async () => {
    expect(statSync(join(dir, "keys", "tollgate-2026-12.pem")).mode & 0o777).toBe(0o600);
    const set = JSON.parse(readFileSync(jwks, "utf8"));
    expect(set.keys).toEqual([
      {
        kty: "OKP",
        crv: "Ed25519",
        x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        kid: "tollgate-2026-12",
        use: "sig",
        alg: "EdDSA",
      },
    ]);
    const rotated = await run(["keys", "generate", "--out-dir", join(dir, "rotated"), "--json"]);
    expect(rotated.code).toBe(0);
    const again = await run(["keys", "generate", "--out-dir", join(dir, "rotated"), "--kid", "second"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "rotated", "jwks.json"), "utf8")).keys).toHaveLength(2);
    // The same kid twice would make old signatures ambiguous: refused, nothing overwritten.
    const clash = await run(["keys", "generate", "--out-dir", join(dir, "rotated"), "--kid", "second"]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/already has a key "second"/);
  });

  it("is a usage error without --out-dir or with a bad --kid", async () => {
    expect((await run(["keys", "generate"])).code).toBe(2);
    const bad = await run(["keys", "generate", "--out-dir", dir, "--kid", "a/b"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kid must be/);
  });
});

describe("tollgate audit verify --receipt", () => {
  it("accepts the published Cycles envelope alone, and refuses it after a payload byte changes", async () => {
    const whole = await run(["audit", "verify", "--receipt", fixture]);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(/^Receipt whole: reserve receipt e051b4cd/);
    const tampered = join(dir, "tampered.json");
    writeFileSync(tampered, readFileSync(fixture, "utf8").replace('"amount":8000000', '"amount":9000000'));
    const broken = await run(["audit", "verify", "--receipt", tampered]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^Receipt broken: edited: /);
    // Against our key set, the Cycles signer is a key we do not hold.
    const foreign = await run(["audit", "verify", "--receipt", fixture, "--jwks", jwks]);
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toMatch(/unknown key/);
  });

  it("verifies our own receipt against the JWK Set and names its kid; --json is exact", async () => {
    const record = linkEvent("acme", emptyChainHead, { type: "commit", amount: 5 });
    const file = join(dir, "receipt.json");
    writeFileSync(file, JSON.stringify(receiptOfRecord(record, key, { serverId: "https://tollgate.example/v1" })));
    const whole = await run(["audit", "verify", "--receipt", file, "--jwks", jwks]);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(/signed by key "tollgate-2026-12"/);
    const json = await run(["audit", "verify", "--receipt", file, "--jwks", jwks, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, keyId: "tollgate-2026-12", artifactType: "commit" });
  });

  it("escapes control characters from the receipt in human output", async () => {
    const hostile = generateSigningKey("k");
    const receipt = issueReceipt({ artifactType: "decide", body: {}, serverId: "x" }, hostile);
    const file = join(dir, "hostile.json");
    writeFileSync(file, JSON.stringify({ ...receipt, artifact_type: "decide\u001b[2J\nforged line" }));
    const result = await run(["audit", "verify", "--receipt", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain("\u001b");
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(1);
  });

  it("usage: exactly one of --receipt and --from; unreadable files exit 1", async () => {
    expect((await run(["audit", "verify"])).code).toBe(2);
    expect((await run(["audit", "verify", "--receipt", fixture, "--from", fixture])).code).toBe(2);
    const missing = await run(["audit", "verify", "--receipt", join(dir, "nope.json")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
    const notJwks = await run(["audit", "verify", "--receipt", fixture, "--jwks", fixture]);
    expect(notJwks.code).toBe(1);
    expect(notJwks.stderr).toMatch(/not a usable JWK Set/);
  });
});

describe("tollgate audit verify --from", () => {
  it("a whole export exits 0 and says how far it is signed", async () => {
    const file = writeExport("whole.jsonl", buildChain(key, { count: 23, every: 5 }));
    const result = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain(
      "Tenant acme: whole, seq 1-23 (23 record(s), 4 checkpoint(s)), signed through seq 20, 3 record(s) after the last checkpoint.",
    );
    const unsigned = await run(["audit", "verify", "--from", file]);
    expect(unsigned.code).toBe(0);
    expect(unsigned.stdout).toMatch(/signatures not checked \(no --jwks\)/);
  });

  it("a chain cut by retention verifies from its anchor and says where it starts", async () => {
    const { records, checkpoints } = buildChain(key, { count: 23, every: 5 });
    const trimmed = trimChain(records, 4, undefined, 1);
    const file = writeExport("trimmed.jsonl", {
      records: trimmed.records,
      checkpoints: [trimmed.checkpoint, ...checkpoints.filter((checkpoint) => checkpoint.seq > 4)],
    });
    const result = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain("seq 5-23 (19 record(s), 5 checkpoint(s)), starts after seq 4 (retention), signed");
  });

  // The table is built per test: the tamperings that re-sign need the key generated in beforeAll.
  const names = tamperings(generateSigningKey("table"), generateSigningKey("table-attacker")).map((t) => t.name);
  it.each(names)("%s: exit 1, the right seq and kind", async (name) => {
    const tampering = tamperings(key, generateSigningKey("attacker")).find((t) => t.name === name);
    if (!tampering) throw new Error(`no tampering "${name}"`);
    const file = writeExport(
      `${tampering.seq}-${tampering.kind.replace(/ /g, "-")}.jsonl`,
      tampering.apply(buildChain(key)),
    );
    const result = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`Tenant acme: BROKEN at seq ${tampering.seq}: ${tampering.kind}: `);
    const json = await run(["audit", "verify", "--from", file, "--jwks", jwks, "--json"]);
    expect(JSON.parse(json.stdout).problems[0]).toMatchObject({ seq: tampering.seq, kind: tampering.kind });
  });

  it("an export with no chain in it vouches for nothing: exit 1, and never 'Chain whole.'", async () => {
    const empty = join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    const result = await run(["audit", "verify", "--from", empty, "--jwks", jwks]);
    expect(result).toEqual({
      code: 1,
      stdout: "The export holds no chain records or checkpoints: nothing in it is vouched for.\n",
      stderr: "",
    });
    const json = JSON.parse((await run(["audit", "verify", "--from", empty, "--json"])).stdout);
    expect(json).toMatchObject({ ok: false, tenants: [] });
  });

  it("a line that is not evidence is an error naming its line", async () => {
    const file = join(dir, "mixed.jsonl");
    const lines = chainExportLines(buildChain(key, { count: 3 }));
    writeFileSync(file, [lines[0], '{"seq":2,"type":"reserve"}', lines[1]].join("\n"));
    const result = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 2/);
  });

  it("escapes a hostile tenant id in human output; --json keeps it exact", async () => {
    const tenant = "acme\u001b]0;pwned\u0007\nTenant acme: whole";
    const chain = buildChain(key, { tenant, count: 3, every: 10 });
    chain.records[1].event.estimate = 0;
    const file = writeExport("hostile.jsonl", chain);
    const result = await run(["audit", "verify", "--from", file, "--jwks", jwks]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain("\u0007");
    expect(result.stdout).not.toContain("\u001b");
    expect(result.stdout.split("\n").filter((line) => line.startsWith("Tenant acme: whole"))).toEqual([]);
    const json = await run(["audit", "verify", "--from", file, "--json"]);
    expect(JSON.parse(json.stdout).tenants[0].tenant).toBe(tenant);
  });
});

describe("the tollgate binary", { timeout: spawnTestTimeoutMs }, () => {
  it("keys generate, then a receipt verifies alone, exit codes as documented", async () => {
    const out = join(dir, "bin-keys");
    const generated = await tollgate(["keys", "generate", "--out-dir", out, "--kid", "bin"]);
    expect(generated.code).toBe(0);
    expect(statSync(join(out, "bin.pem")).mode & 0o777).toBe(0o600);
    const whole = await tollgate(["audit", "verify", "--receipt", fixture]);
    expect(whole.code).toBe(0);
    const help = await tollgate(["audit", "verify", "--help"]);
    expect(help.stdout).toContain("Usage: tollgate audit verify");
  });
});
