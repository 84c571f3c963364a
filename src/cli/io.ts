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

/**
 * Human output. Values from the store, a policy or an export (tool names, actors, run ids) are
 * whatever a caller sent, so every line is written through terminalText: no control character
 * reaches the terminal. The line breaks of a multi-line block are kept; a value that carries its
 * own line break is escaped where it is formatted (formatEvent, formatTable), so it cannot forge a line.
 */
export function writeLine(stream: CliIo["stdout"], line = ""): void {
  stream.write(`${escapeControls(line, true)}\n`);
}

/**
 * Machine output (`--json`): the exact value, one JSON document per line (or indented). JSON
 * already escapes C0; DEL, C1 and bidi controls are written as \u escapes too, which JSON reads
 * back as the same characters, so the output stays exact and is still safe on a terminal.
 */
export function writeJsonLine(stream: CliIo["stdout"], value: unknown, indent?: number): void {
  stream.write(`${escapeJsonControls(JSON.stringify(value, null, indent))}\n`);
}

/**
 * A value shown to an operator, with every character that could drive a terminal written as an
 * escape: C0 (`\n`, `\t`, `\x1b`, ...), DEL and C1 (`\x7f`, `\x9b` — CSI on its own), and the bidi
 * controls that reorder what is shown (`\u202e`, `\u2066`, ...). Backslashes are left as they are,
 * so escaping twice changes nothing.
 */
export function terminalText(value: string): string {
  return escapeControls(value, false);
}

function escapeControls(text: string, keepLineBreaks: boolean): string {
  let escaped: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (!isTerminalControl(code) || (keepLineBreaks && code === 0x0a)) {
      if (escaped !== undefined) escaped += text[index];
      continue;
    }
    escaped ??= text.slice(0, index);
    escaped += escapeOf(code);
  }
  return escaped ?? text;
}

function escapeJsonControls(json: string): string {
  let escaped: string | undefined;
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index);
    // Outside strings JSON is plain ASCII, so any such character is inside a string.
    if (code < 0x7f || !isTerminalControl(code)) {
      if (escaped !== undefined) escaped += json[index];
      continue;
    }
    escaped ??= json.slice(0, index);
    escaped += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return escaped ?? json;
}

/** C0, DEL, C1, and the bidi embeddings, overrides, isolates and marks. */
function isTerminalControl(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x061c
  );
}

const namedEscapes: Record<number, string> = { 9: "\\t", 10: "\\n", 13: "\\r" };

function escapeOf(code: number): string {
  return (
    namedEscapes[code] ??
    (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`)
  );
}
