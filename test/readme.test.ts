import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
/** Every ```ts block right after a `<!-- runnable -->` marker. */
const snippets = [...readme.matchAll(/<!-- runnable -->\s*```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
// Inside the repository the package name resolves to src/, so the snippets run exactly as printed.
const scratch = mkdtempSync(join(root, ".tmp-readme-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("README", () => {
  it("has runnable snippets", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(2);
  });

  snippets.forEach((snippet, index) => {
    it(`snippet ${index + 1} runs as printed`, async () => {
      const file = join(scratch, `snippet-${index + 1}.mts`);
      writeFileSync(file, snippet.replaceAll('from "tollgate"', `from ${JSON.stringify(join(root, "src/index.ts"))}`));
      const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root, timeout: 60_000 });
      expect(stdout.length).toBeGreaterThan(0);
    });
  });
});
