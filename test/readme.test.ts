import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
/** Where each subpath of package.json's exports lives in src/. */
const subpathEntries: Record<string, string> = {
  "/core": "src/core/index.ts",
  "/ledger": "src/ledger/index.ts",
  "/policy": "src/policy.ts",
  "/langchain": "src/integrations/langchain/index.ts",
  "/langgraph": "src/integrations/langgraph/index.ts",
  "/redis": "src/store/redis/index.ts",
  "/evidence": "src/evidence/index.ts",
};
const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
/**
 * Every ```ts block right after a `<!-- runnable -->` marker, with the ```text block after its
 * `<!-- prints -->` marker: what the snippet must print, exactly.
 */
const snippets = [
  ...readme.matchAll(/<!-- runnable -->\s*```ts\n([\s\S]*?)```\s*<!-- prints -->\s*```text\n([\s\S]*?)```/g),
].map((match) => ({ code: match[1], prints: match[2] }));
const runnableMarkers = readme.split("<!-- runnable -->").length - 1;
// Inside the repository the package name resolves to src/, so the snippets run exactly as printed.
const scratch = mkdtempSync(join(root, ".tmp-readme-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("README", () => {
  it("says what every runnable snippet prints", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    expect(snippets.length).toBe(runnableMarkers);
  });

  snippets.forEach((snippet, index) => {
    it(`snippet ${index + 1} runs as printed and prints what the README says`, async () => {
      const file = join(scratch, `snippet-${index + 1}.mts`);
      const code = snippet.code.replace(/from "tollgate(\/[a-z]+)?"/g, (_match, subpath: string | undefined) => {
        const entry = subpath ? subpathEntries[subpath] : "src/index.ts";
        if (!entry) throw new Error(`README imports an unknown subpath tollgate${subpath}`);
        return `from ${JSON.stringify(join(root, entry))}`;
      });
      writeFileSync(file, code);
      const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root, timeout: 60_000 });
      expect(stdout).toBe(snippet.prints);
    });
  });
});
