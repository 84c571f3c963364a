/** What a command may touch of the outside world, so tests can run it in-process too. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Resolves when the user asks to stop (Ctrl-C, SIGTERM): ends `audit --follow`. */
  stopSignal: Promise<void>;
}

export function processIo(): CliIo {
  const stopSignal = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), stopSignal };
}

export function writeLine(stream: CliIo["stdout"], line = ""): void {
  stream.write(`${line}\n`);
}
