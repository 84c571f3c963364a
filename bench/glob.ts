import { matchGlob, toolRuleGlobLengthMax } from "../src/core/glob.js";
import { formatMeasurement, measure } from "./measure.js";

/**
 * Tool-rule globs against tool names from MCP servers: a hostile pattern that made the old
 * backtracking regex run for 32 s on a 126-character name, a normal pattern, and the matcher's own
 * worst case at the longest pattern allowed.
 */
export async function benchGlob(): Promise<string[]> {
  const lines = ["## Tool-rule globs (matchGlob, no regex)"];
  const matchesPerRound = 100_000;
  const cases: [string, string, string][] = [
    ["hostile *_*_*_*_*_*_*_*_delete vs 126-char name", "*_*_*_*_*_*_*_*_delete", "a_".repeat(63)],
    // The tail matches, so every middle segment is searched for along the name.
    ["hostile, tail matching, vs 126-char name", "*_*_*_*_*_*_*_*_delete", `${"a".repeat(119)}_delete`],
    ["hostile, matching, vs 126-char name", "*_*_*_*_*_*_*_*_delete", `${"a_".repeat(60)}delete`],
    ["normal github_* vs github_list_pull_requests", "github_*", "github_list_pull_requests"],
    ["normal *_delete vs github_delete_repo", "*_delete", "github_delete_repo"],
  ];
  // The bound's worst case: a long segment of ?s and one letter against a name that almost repeats it.
  const segment = `${"?".repeat(toolRuleGlobLengthMax / 2 - 2)}b`;
  const worst = `*${segment}*${"?".repeat(toolRuleGlobLengthMax - segment.length - 2)}`;
  cases.push([`worst case, ${worst.length}-char pattern vs 128-char name`, worst, "a".repeat(128)]);
  for (const [name, pattern, text] of cases) {
    const rounds = name.startsWith("worst") ? matchesPerRound / 100 : matchesPerRound;
    let matched = 0;
    const measurement = await measure(`glob ${name}`, rounds, async () => {
      for (let i = 0; i < rounds; i++) if (matchGlob(pattern, text)) matched++;
    });
    lines.push(`${formatMeasurement(measurement)}${matched > 0 ? "" : "  (no match)"}`);
  }
  return lines;
}
