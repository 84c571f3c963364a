import { describe, expect, it } from "vitest";
import { type GlobMatchCounter, matchGlob, toolRuleGlobLengthMax } from "../../src/core/glob.js";

/** The obvious dynamic-programming matcher, O(n·m) always: the reference the fast one must agree with. */
function referenceMatch(pattern: string, text: string): boolean {
  let row = new Array<boolean>(text.length + 1).fill(false);
  row[0] = true;
  for (const p of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    if (p === "*") next[0] = row[0];
    for (let t = 1; t <= text.length; t++) {
      if (p === "*") next[t] = row[t] || next[t - 1];
      else next[t] = row[t - 1] && (p === "?" || p === text[t - 1]);
    }
    row = next;
  }
  return row[text.length];
}

/** A small deterministic generator, so a failure names a case that replays. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const hostilePattern = "*_*_*_*_*_*_*_*_delete";
const hostileName = "a_".repeat(63); // 126 characters, no "delete": the worst case for a backtracking regex

describe("matchGlob", () => {
  it.each([
    ["github_*", "github_list", true],
    ["github_*", "github_", true],
    ["github_*", "gitlab_list", false],
    ["*_delete", "repo_delete", true],
    ["*_delete", "repo_delete_not", false],
    ["?at", "cat", true],
    ["?at", "at", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYbZc", true],
    ["a*b*c", "acb", false],
    ["*", "", true],
    ["**", "anything", true],
    ["", "", true],
    ["", "x", false],
    ["exact", "exact", true],
    ["exact", "exactly", false],
    ["ab*ba", "aba", false],
    ["a*a", "a", false],
    ["*.+(x)[y]^$", "file.+(x)[y]^$", true],
    ["*", "line\nbreak", true],
  ])("%j against %j is %s", (pattern, text, expected) => {
    expect(matchGlob(pattern, text)).toBe(expected);
    expect(referenceMatch(pattern, text)).toBe(expected);
  });

  it("agrees with the reference matcher on 20,000 random patterns and names", () => {
    const next = random(9);
    const pick = (alphabet: string, length: number) =>
      Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
    for (let round = 0; round < 20_000; round++) {
      const pattern = pick("ab*?", Math.floor(next() * 9));
      const text = pick("ab", Math.floor(next() * 12));
      expect(matchGlob(pattern, text), `${pattern} vs ${text}`).toBe(referenceMatch(pattern, text));
    }
  });

  it("answers the hostile pattern in a number of steps linear in the name", () => {
    const counter: GlobMatchCounter = { steps: 0 };
    expect(matchGlob(hostilePattern, hostileName, counter)).toBe(false);
    expect(counter.steps).toBeLessThanOrEqual(hostileName.length + hostilePattern.length);
    const counted: GlobMatchCounter = { steps: 0 };
    expect(matchGlob(hostilePattern, `${"a_".repeat(60)}delete`, counted)).toBe(true);
    expect(counted.steps).toBeLessThanOrEqual(hostileName.length + hostilePattern.length);
  });

  it("stays within name length × longest segment + pattern length for the longest pattern allowed", () => {
    // A segment of ?s and letters against a name that almost repeats it: the quadratic worst case.
    const segment = `${"?".repeat(toolRuleGlobLengthMax / 2 - 2)}b`;
    const pattern = `*${segment}*${"?".repeat(toolRuleGlobLengthMax - segment.length - 2)}`;
    expect(pattern.length).toBe(toolRuleGlobLengthMax);
    const name = "a".repeat(1_000);
    const counter: GlobMatchCounter = { steps: 0 };
    expect(matchGlob(pattern, name, counter)).toBe(false);
    expect(counter.steps).toBeLessThanOrEqual(name.length * segment.length + pattern.length);
  });
});
