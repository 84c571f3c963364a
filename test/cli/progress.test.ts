import { describe, expect, it } from "vitest";
import { Progress } from "../../src/cli/progress.js";

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, isTTY, write: (text: string) => written.push(text) };
}

describe("progress on long operations", () => {
  it("redraws in place on a terminal, at most every 100 ms, always on the last step, then clears", () => {
    const terminal = stream(true);
    const progress = new Progress(terminal, "Applying policy:");
    progress.update(1, 4, 1_000);
    progress.update(2, 4, 1_050);
    progress.update(3, 4, 1_200);
    progress.update(4, 4, 1_210);
    progress.done();
    expect(terminal.written).toEqual([
      "\rApplying policy: 1/4 25%",
      "\rApplying policy: 3/4 75%",
      "\rApplying policy: 4/4 100%",
      "\r\x1b[2K",
    ]);
  });

  it("stays quiet when stderr is a pipe or a log", () => {
    const pipe = stream(false);
    const progress = new Progress(pipe, "Reading:");
    progress.update(10);
    progress.done();
    expect(pipe.written).toEqual([]);
  });
});
