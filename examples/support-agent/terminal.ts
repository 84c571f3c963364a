// Plain-text output helpers for the examples: budget bars, decision labels, optional colour.
// Colour only on a terminal and only when NO_COLOR is unset, so piped output and CI logs stay clean.

import type { Balance } from "../../src/index.js";

export const barCellsDefault = 15;

export interface Paint {
  enabled: boolean;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function paintFor(stream: { isTTY?: boolean } = process.stdout, env = process.env): Paint {
  const enabled = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "");
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    red: wrap(31, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

/** `[██████████░░░░░] 100/100`: the used share (spent + held + debt) of an allocation. */
export function bar(used: number, allocated: number, cells = barCellsDefault): string {
  const share = allocated <= 0 ? 1 : Math.min(1, Math.max(0, used / allocated));
  const filled = Math.round(share * cells);
  return `[${"█".repeat(filled)}${"░".repeat(cells - filled)}] ${used}/${allocated}`;
}

type Level = Pick<Balance, "allocated" | "remaining">;

export function usedOf(balance: Level): number {
  return balance.allocated - balance.remaining;
}

/** One labelled bar line; the label column is padded so bars line up. */
export function budgetLine(label: string, balance: Level | null, labelWidth: number, paint: Paint): string {
  if (!balance) return `${label.padEnd(labelWidth)}  (no budget)`;
  const used = usedOf(balance);
  const share = balance.allocated <= 0 ? 1 : used / balance.allocated;
  const colour = share >= 1 ? paint.red : share >= 0.5 ? paint.yellow : paint.green;
  return `${label.padEnd(labelWidth)}  ${colour(bar(used, balance.allocated))}`;
}

/** The decision word, padded to one width and coloured by outcome. */
export function decisionLabel(decision: string, paint: Paint): string {
  const padded = decision.padEnd(15);
  if (decision === "ALLOW") return paint.green(padded);
  if (decision === "ALLOW_WITH_CAPS") return paint.yellow(padded);
  return paint.red(padded);
}

/** Shortens long text for one trace line. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Splits text into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
