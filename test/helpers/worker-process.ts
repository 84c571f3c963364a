import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface Worker {
  child: ChildProcess;
  lines: AsyncIterableIterator<string>;
  done: Promise<number>;
}

/**
 * Starts a TypeScript worker (`node --import tsx`) from the repository root, tracked in `workers`
 * until it exits (so a suite can kill what is left); its stderr tail is printed if it fails.
 */
export function startWorker(
  workerPath: string,
  args: string[],
  workers: Set<ChildProcess>,
  env: NodeJS.ProcessEnv = process.env,
): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", workerPath, ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
    env,
  });
  workers.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-2_000);
  });
  const done = new Promise<number>((resolve) =>
    child.once("exit", (code) => {
      workers.delete(child);
      if (code) console.error(`worker ${workerPath} exited ${code}: ${stderr}`);
      resolve(code ?? -1);
    }),
  );
  return { child, lines: linesOf(child), done };
}

async function* linesOf(child: ChildProcess): AsyncIterableIterator<string> {
  let buffer = "";
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    buffer += chunk.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  }
}

/** The worker's next line of output, or an error after `timeoutMs`. */
export async function nextLine(lines: AsyncIterableIterator<string>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no output from the worker within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const next = await Promise.race([lines.next(), timeout]);
    if (next.done) throw new Error("the worker exited without output");
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}
