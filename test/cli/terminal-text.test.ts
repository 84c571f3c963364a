import { describe, expect, it } from "vitest";
import { formatTable } from "../../src/cli/format.js";
import { terminalText, writeJsonLine, writeLine } from "../../src/cli/io.js";

function captured(write: (stream: { write(text: string): void }) => void): string {
  let text = "";
  write({
    write: (chunk) => {
      text += chunk;
    },
  });
  return text;
}

describe("terminal text", () => {
  it("escapes C0, DEL, C1 and bidi controls, and nothing else", () => {
    expect(terminalText("\x1b]0;t\x07\x1b[2J\r\n\t\x00\x7f\x9b\x85")).toBe(
      "\\x1b]0;t\\x07\\x1b[2J\\r\\n\\t\\x00\\x7f\\x9b\\x85",
    );
    expect(terminalText("a\u202ab\u202ec\u2066d\u2069e\u200ef\u200fg\u061c")).toBe(
      "a\\u202ab\\u202ec\\u2066d\\u2069e\\u200ef\\u200fg\\u061c",
    );
    const plain = "send_email é 中文 😀 \\x1b";
    expect(terminalText(plain)).toBe(plain);
    expect(terminalText(terminalText("\x1b\n"))).toBe(terminalText("\x1b\n"));
  });

  it("keeps the line breaks of a human block but escapes everything else in it", () => {
    expect(captured((stream) => writeLine(stream, "one\x1b[1A\ntwo"))).toBe("one\\x1b[1A\ntwo\n");
  });

  it("escapes inside table cells before measuring them", () => {
    expect(formatTable(["A", "B"], [["x\ny", 1]])).toBe("A     B\nx\\ny  1");
  });

  it("writes JSON that reads back exactly and carries no raw control character", () => {
    const value = { name: "\x1b]0;t\x07\x7f\x9b\u202e", n: 1 };
    const text = captured((stream) => writeJsonLine(stream, value));
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toBe('{"name":"\\u001b]0;t\\u0007\\u007f\\u009b\\u202e","n":1}\n');
  });
});
