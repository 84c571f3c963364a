import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { starterPolicy } from "../../src/cli/commands/init.js";
import { mainHelp } from "../../src/cli/run.js";
import { tollgate } from "../cli/run-cli.js";

// The package as a user gets it: `npm pack` (which builds dist/ first, through `prepack`), then a
// fresh ES-module app that installs the tarball and the peers from the local npm cache, imports
// every entry point, runs a ledger and the `tollgate` binary. Built and installed once for the file.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const packageJson = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
const exportsMap = packageJson.exports as Record<string, string | { types: string; default: string }>;
const codeEntries = Object.entries(exportsMap).filter(
  (entry): entry is [string, { types: string; default: string }] => typeof entry[1] === "object",
);
const peers = ["@langchain/core", "@langchain/langgraph", "langchain"];
const commandTimeoutMs = 240_000;
const outputBytesMax = 16 * 1024 * 1024;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: none of the npm_* variables an outer `npm test` sets. */
function userEnv(): NodeJS.ProcessEnv {
  const kept = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig"]);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !(name.toLowerCase().startsWith("npm_") && !kept.has(name.toLowerCase())) && name !== "NODE_OPTIONS",
    ),
  );
  // As the repository's CLI tests run it: no live store unless a command line names one.
  return { ...env, TOLLGATE_REDIS_URL: "" };
}

function run(command: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, env: userEnv(), timeout: commandTimeoutMs, maxBuffer: outputBytesMax },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

async function runOk(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

function installedVersion(name: string): string {
  return JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")).version;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

let workDir: string;
let appDir: string;
let installed: string;
let tarballFiles: string[];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "tollgate-packed-"));
  const packDir = join(workDir, "pack");
  appDir = join(workDir, "app");
  mkdirSync(packDir);
  mkdirSync(appDir);
  const packed = JSON.parse(await runOk("npm", ["pack", "--json", "--pack-destination", packDir], repoRoot));
  tarballFiles = packed[0].files.map((file: { path: string }) => file.path).sort();
  const tarball = join(packDir, packed[0].filename);
  writeFileSync(
    join(appDir, "package.json"),
    JSON.stringify({
      name: "tollgate-consumer",
      private: true,
      type: "module",
      dependencies: {
        tollgate: `file:${tarball}`,
        // Exactly the versions the repository tests with, so they are in the local npm cache.
        ...Object.fromEntries(peers.map((name) => [name, installedVersion(name)])),
      },
    }),
  );
  // engine-strict: a dependency that declares it needs a newer Node than ours fails the install here,
  // as it does for a user who sets it (canonicalize 5.x wants Node 22).
  const install = ["install", "--no-audit", "--no-fund", "--no-package-lock", "--engine-strict"];
  // The cache holds the packages but maybe not their registry metadata; then the registry fills in.
  const offline = await run("npm", [...install, "--offline"], appDir);
  if (offline.code !== 0) await runOk("npm", [...install, "--prefer-offline"], appDir);
  installed = join(appDir, "node_modules", "tollgate");
}, commandTimeoutMs * 2);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("ships dist, the README, the license and package.json, and nothing of the repository besides", () => {
    const topLevel = [...new Set(tarballFiles.map((file) => file.split("/")[0]))];
    expect(topLevel).toEqual(["LICENSE", "README.md", "dist", "package.json"]);
    expect(tarballFiles.filter((file) => !/\.(js|js\.map|d\.ts)$/.test(file) && file.startsWith("dist/"))).toEqual([]);
    for (const [, target] of codeEntries) {
      expect(tarballFiles).toContain(target.default.slice(2));
      expect(tarballFiles).toContain(target.types.slice(2));
    }
    expect(tarballFiles).toContain(packageJson.bin.tollgate.slice(2));
    expect(readFileSync(join(installed, packageJson.bin.tollgate), "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
  });

  it("carries its sources inside every source map, exactly as they are in src/", () => {
    const maps = filesUnder(join(installed, "dist")).filter((file) => file.endsWith(".js.map"));
    expect(maps.length).toBe(tarballFiles.filter((file) => file.endsWith(".js.map")).length);
    expect(maps.length).toBeGreaterThan(0);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(file, "utf8"));
      expect(map.sources, file).toHaveLength(1);
      // A source path as the map names it, resolved from the installed map, mirrored into the repository.
      const inPackage = relative(installed, resolve(join(file, ".."), map.sources[0]));
      expect(inPackage, file).toMatch(/^src\/.*\.ts$/);
      expect(map.sourcesContent, file).toEqual([readFileSync(join(repoRoot, inPackage), "utf8")]);
    }
  });
});

// Each step starts Node processes; on a busy CI machine that takes seconds.
describe("an app that installed the tarball", { timeout: commandTimeoutMs }, () => {
  it("imports the root and every subpath of exports, each with the names its source exports", async () => {
    const specifiers = codeEntries.map(([subpath]) => `tollgate${subpath.slice(1)}`);
    writeFileSync(
      join(appDir, "imports.mjs"),
      `const names = {};
for (const specifier of ${JSON.stringify(specifiers)}) names[specifier] = Object.keys(await import(specifier)).sort();
const root = await import("tollgate");
const ledger = await import("tollgate/ledger");
console.log(JSON.stringify({ names, oneModule: root.createLedger === ledger.createLedger }));
`,
    );
    const output = JSON.parse(await runOk(process.execPath, ["imports.mjs"], appDir));
    const expected: Record<string, string[]> = {};
    for (const [subpath, target] of codeEntries) {
      const source = join(repoRoot, target.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"));
      expected[`tollgate${subpath.slice(1)}`] = Object.keys(await import(source)).sort();
    }
    expect(Object.keys(output.names)).toEqual([
      "tollgate",
      "tollgate/core",
      "tollgate/ledger",
      "tollgate/langchain",
      "tollgate/langgraph",
      "tollgate/policy",
      "tollgate/redis",
      "tollgate/report",
      "tollgate/evidence",
    ]);
    expect(output.names).toEqual(expected);
    expect(output.oneModule).toBe(true);
  });

  it("reserves and commits on the embedded ledger", async () => {
    writeFileSync(
      join(appDir, "ledger.mjs"),
      `import { createLedger } from "tollgate";
const ledger = createLedger();
await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 100 });
const subject = { tenant: "acme", workspace: "production", agent: "resolver", toolset: "send-email" };
const reserved = await ledger.reserve({ subject, action: { name: "send_email", tier: "write-external" }, estimate: 20 });
await ledger.commit(reserved.reservationId);
const { allocated, spent, reserved: held, remaining } = await ledger.getBalance({ scope: "tenant:acme/toolset:send-email" });
await ledger.close();
console.log(JSON.stringify({ decision: reserved.decision, allocated, spent, held, remaining }));
`,
    );
    expect(await run(process.execPath, ["ledger.mjs"], appDir)).toEqual({
      code: 0,
      stdout: '{"decision":"ALLOW","allocated":100,"spent":20,"held":0,"remaining":80}\n',
      stderr: "",
    });
  });

  it("maps a stack trace from the installed code to the line of TypeScript that threw", async () => {
    writeFileSync(
      join(appDir, "throws.mjs"),
      `import { createLedger } from "tollgate";
try {
  await createLedger().setBudget({ scope: "tenant:acme/team:x", limit: 1 });
} catch (error) {
  console.log(JSON.stringify({ name: error.name, stack: error.stack }));
}
`,
    );
    const output = JSON.parse(await runOk(process.execPath, ["--enable-source-maps", "throws.mjs"], appDir));
    expect(output.name).toBe("ValidationError");
    const frame = /node_modules\/tollgate\/(src\/[^:)]+\.ts):(\d+):\d+/.exec(output.stack);
    expect(frame, output.stack).not.toBeNull();
    const [, file, line] = frame as RegExpExecArray;
    // The package has no src/: the line is read where a debugger reads it, from the shipped map.
    const map = JSON.parse(
      readFileSync(join(installed, file.replace(/^src\//, "dist/").replace(/\.ts$/, ".js.map")), "utf8"),
    );
    const sourceLine = map.sourcesContent[0].split("\n")[Number(line) - 1];
    expect(sourceLine, `${file}:${line}`).toMatch(/ValidationError|Error\(|super\(/);
    expect(sourceLine).toBe(readFileSync(join(repoRoot, file), "utf8").split("\n")[Number(line) - 1]);
  });

  it("runs the tollgate binary: --help, --version, init and policy check", async () => {
    expect(await run("npx", ["--no", "--", "tollgate", "--help"], appDir)).toEqual({
      code: 0,
      stdout: mainHelp(),
      stderr: "",
    });
    expect(await run("npx", ["--no", "--", "tollgate", "--version"], appDir)).toEqual({
      code: 0,
      stdout: `tollgate ${packageJson.version}\n`,
      stderr: "",
    });
    expect(await run("npx", ["--no", "--", "tollgate", "init"], appDir)).toEqual({
      code: 0,
      stdout:
        "Wrote a starter policy to tollgate.policy.yaml: 4 budget(s) for tenants enterprise-corp and starter-co.\nCheck it with: tollgate policy check tollgate.policy.yaml\n",
      stderr: "",
    });
    expect(readFileSync(join(appDir, "tollgate.policy.yaml"), "utf8")).toBe(starterPolicy("tollgate.policy.yaml"));
    expect(await run("npx", ["--no", "--", "tollgate", "policy", "check", "tollgate.policy.yaml"], appDir)).toEqual({
      code: 0,
      stdout:
        "tollgate.policy.yaml is valid: 4 budget(s) owning tenant:enterprise-corp, tenant:starter-co; 4 tool rule(s); 3 fallback route(s); mode enforce.\n",
      stderr: "",
    });
    // The README's commands that need no store answer exactly as the repository's CLI does.
    const lines = [
      ["init", "--help"],
      ["budget", "ls", "--policy", "tollgate.policy.yaml"],
      ["balance", "--policy", "tollgate.policy.yaml", "--scope", "tenant:starter-co"],
      ["policy", "diff", "tollgate.policy.yaml", "--policy", "tollgate.policy.yaml"],
      ["policy", "apply", "tollgate.policy.yaml"],
    ];
    for (const line of lines) {
      const fromSource = await tollgate(line, { cwd: appDir });
      expect(fromSource.stdout + fromSource.stderr, line.join(" ")).not.toBe("");
      expect(await run("npx", ["--no", "--", "tollgate", ...line], appDir), line.join(" ")).toEqual(fromSource);
    }
    const again = await run("npx", ["--no", "--", "tollgate", "init"], appDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      "tollgate: tollgate.policy.yaml already exists; nothing was written. Give --force to overwrite it.\n",
    );
  });
});
