/** How a budget renews: never, per run (e.g. per LangGraph thread), or in tumbling clock windows. */
export const WINDOWS = ["lifetime", "run", "minute", "hour", "day"] as const;
export type BudgetWindow = (typeof WINDOWS)[number];

export const windowLengthMs: Record<"minute" | "hour" | "day", number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/**
 * The instance of a run window hit without a run id: all such calls share it. Run ids are never
 * empty, so no run's instance (`run:<id>`, "-" included) can be this one.
 */
export const runInstanceWithoutRunId = "run:";

/**
 * The instance of a window an action at `nowMs` in run `runId` draws on. Tumbling windows are
 * aligned to the Unix epoch (UTC) so every process agrees on the boundaries.
 */
export function windowInstanceOf(window: BudgetWindow, nowMs: number, runId: string | undefined): string {
  switch (window) {
    case "lifetime":
      return "life";
    case "run":
      return runId === undefined ? runInstanceWithoutRunId : `run:${runId}`;
    default:
      return `${window}:${Math.floor(nowMs / windowLengthMs[window])}`;
  }
}
