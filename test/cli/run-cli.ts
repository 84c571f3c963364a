import { execFile, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
// Absolute, so the CLI also runs from another working directory (`cwd`).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const cliArgs = ["--import", tsxLoader, join(repoRoot, "src/cli/main.ts")];
export const cliTimeoutMs = 30_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `tollgate` binary from source, as an operator would, and collects what it printed. */
export function tollgate(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...cliArgs, ...args],
      {
        cwd: options.cwd ?? repoRoot,
        env: { ...process.env, TOLLGATE_REDIS_URL: "", ...options.env },
        timeout: cliTimeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A long-running `tollgate` (audit --follow): read its output as it comes, stop it with a signal. */
export function startTollgate(args: string[], options: { env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, [...cliArgs, ...args], {
    cwd: repoRoot,
    env: { ...process.env, TOLLGATE_REDIS_URL: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : 0))),
  );
  const guard = setTimeout(() => child.kill("SIGKILL"), cliTimeoutMs);
  exited.finally(() => clearTimeout(guard));
  return {
    output: () => ({ stdout, stderr }),
    /** Resolves once stdout (or stderr) contains `text`; rejects after `timeoutMs`. */
    async waitFor(text: string, timeoutMs = 30_000, on: "stdout" | "stderr" = "stdout"): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(on === "stdout" ? stdout : stderr).includes(text)) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for "${text}"; stdout: ${stdout}; stderr: ${stderr}`);
        if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before "${text}"; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number> {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs many command lines a few at a time: each is a Node process, and CI machines are small. */
export async function tollgateAll(lines: string[][], concurrency = 3): Promise<CliResult[]> {
  const results: CliResult[] = new Array(lines.length);
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const index = next++;
      results[index] = await tollgate(lines[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, lines.length) }, worker));
  return results;
}

/** Spawned tests get room: a CLI process costs about a second of CPU under tsx. */
export const spawnTestTimeoutMs = 120_000;
