import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { starterPolicy } from "../../src/cli/commands/init.js";
import { parsePolicyText } from "../../src/ledger/policy.js";
import { spawnTestTimeoutMs, tollgate } from "./run-cli.js";

const perTenant = "examples/policies/per-tenant.policy.yaml";
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-init-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("tollgate init", { timeout: spawnTestTimeoutMs }, () => {
  it("writes a starter policy that `policy check` accepts, named in its own comments", async () => {
    const written = await tollgate(["init"], { cwd: dir });
    expect(written).toEqual({
      code: 0,
      stdout:
        "Wrote a starter policy to tollgate.policy.yaml: 4 budget(s) for tenants enterprise-corp and starter-co.\nCheck it with: tollgate policy check tollgate.policy.yaml\n",
      stderr: "",
    });
    const text = readFileSync(join(dir, "tollgate.policy.yaml"), "utf8");
    expect(text).toBe(starterPolicy("tollgate.policy.yaml"));
    expect(text).toContain("#   tollgate policy apply tollgate.policy.yaml --redis redis://127.0.0.1:6379\n");
    const checked = await tollgate(["policy", "check", "tollgate.policy.yaml"], { cwd: dir });
    expect(checked.code).toBe(0);
    expect(checked.stdout).toBe(
      "tollgate.policy.yaml is valid: 4 budget(s) owning tenant:enterprise-corp, tenant:starter-co; 4 tool rule(s); 3 fallback route(s); mode enforce.\n",
    );
  });

  it("grants what the per-tenant example grants", () => {
    // Parsed under one name: a policy remembers the file it came from.
    const starter = parsePolicyText(starterPolicy("tollgate.policy.yaml"), "policy.yaml");
    const example = parsePolicyText(readFileSync(perTenant, "utf8"), "policy.yaml");
    expect(starter).toEqual(example);
  });

  it("refuses to overwrite a file (exit 1, file unchanged) unless --force", async () => {
    const file = join(dir, "mine.policy.yaml");
    writeFileSync(file, "version: 1\nbudgets: []\n");
    const refused = await tollgate(["init", "--out", file]);
    expect(refused).toEqual({
      code: 1,
      stdout: "",
      stderr: `tollgate: ${file} already exists; nothing was written. Give --force to overwrite it.\n`,
    });
    expect(readFileSync(file, "utf8")).toBe("version: 1\nbudgets: []\n");
    const forced = await tollgate(["init", "--out", file, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`Wrote a starter policy to ${file}`);
    expect(readFileSync(file, "utf8")).toBe(starterPolicy(file));
  });

  it("fails with exit 1 when the file cannot be written, and exit 2 on a name with a line break", async () => {
    const missingDir = join(dir, "no-such-dir", "x.yaml");
    const unwritable = await tollgate(["init", "--out", missingDir]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(
      `tollgate: Cannot write ${missingDir}: ENOENT: no such file or directory, open '${missingDir}'\n`,
    );
    const injected = await tollgate(["init", "--out", "x.yaml\nmode: shadow"], { cwd: dir });
    expect(injected).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'tollgate: --out must be a file name without line breaks or control characters\nRun "tollgate init --help" for usage.\n',
    });
  });
});
