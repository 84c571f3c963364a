/**
 * Glob matching for tool names, without regular expressions: `*` matches any run of characters
 * (newlines included), `?` exactly one, everything else itself. Tool names come from MCP servers
 * nobody here controls, so the cost must not depend on how cleverly a name is built.
 *
 * The greedy segment algorithm: the pattern, split at its stars, is a head (before the first `*`),
 * middle segments and a tail (after the last `*`). The head must match at the start of the text and
 * the tail at its end; each middle segment is matched at its leftmost position after the previous
 * one. Leftmost is always right for a segment between two stars: any later placement leaves less
 * text for what follows, so the matcher never goes back.
 *
 * Bound: each text position is tried as the start of at most one middle segment (the search for a
 * segment starts where the previous one ended), and a try compares at most that segment's length of
 * characters, so a match costs at most `text.length × longest segment + pattern.length` character
 * comparisons: linear in the text, and O(n·m) in the worst case (a segment of `?`s and letters
 * against a text that almost repeats it). With patterns at most `toolRuleGlobLengthMax` long, one
 * match of a 128-character name is a few tens of thousands of comparisons at the very worst, not
 * the exponential backtracking of `^.*_.*_…$`.
 *
 * Characters are UTF-16 code units, as in JavaScript strings: `?` matches one character of every
 * name outside the astral planes (an emoji is two).
 */

/** The longest glob accepted in a tool rule or a policy file, in characters. */
export const toolRuleGlobLengthMax = 256;

/** Counts character comparisons, for tests and benchmarks that check the bound above. */
export interface GlobMatchCounter {
  steps: number;
}

const question = 63; // "?"

/** Whether `text` matches `pattern` as a whole (`*` any run, `?` one character). */
export function matchGlob(pattern: string, text: string, counter?: GlobMatchCounter): boolean {
  const firstStar = pattern.indexOf("*");
  if (firstStar === -1) {
    return pattern.length === text.length && segmentMatchesAt(pattern, 0, pattern.length, text, 0, counter);
  }
  const lastStar = pattern.lastIndexOf("*");
  const tailStart = text.length - (pattern.length - lastStar - 1);
  // The head and the tail are anchored and must not overlap.
  if (tailStart < firstStar) return false;
  if (!segmentMatchesAt(pattern, 0, firstStar, text, 0, counter)) return false;
  if (!segmentMatchesAt(pattern, lastStar + 1, pattern.length, text, tailStart, counter)) return false;
  let position = firstStar;
  let segmentStart = firstStar + 1;
  while (segmentStart < lastStar) {
    const segmentEnd = pattern.indexOf("*", segmentStart);
    const length = segmentEnd - segmentStart;
    if (length > 0) {
      let found = -1;
      for (let at = position; at + length <= tailStart; at++) {
        if (segmentMatchesAt(pattern, segmentStart, segmentEnd, text, at, counter)) {
          found = at;
          break;
        }
      }
      if (found === -1) return false;
      position = found + length;
    }
    segmentStart = segmentEnd + 1;
  }
  return true;
}

/** Whether pattern[start, end) (no stars) matches text at `at`; the caller checks the text is long enough. */
function segmentMatchesAt(
  pattern: string,
  start: number,
  end: number,
  text: string,
  at: number,
  counter: GlobMatchCounter | undefined,
): boolean {
  for (let index = start; index < end; index++) {
    if (counter) counter.steps++;
    const expected = pattern.charCodeAt(index);
    if (expected !== question && expected !== text.charCodeAt(at + index - start)) return false;
  }
  return true;
}
