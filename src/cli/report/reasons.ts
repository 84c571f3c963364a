/** Reason codes in words, for people reading the report. */
export const reasonDescriptions: Record<string, string> = {
  BUDGET_EXCEEDED: "the budget had less left than the action's estimate (or is zero)",
  BUDGET_NOT_FOUND: "no budget grants this action",
  TIER_DISABLED: "narrowing had disabled this tier at the budget's utilization",
  DEBT_OUTSTANDING: "the scope is in debt and takes no new reservations",
  TOOL_NOT_ALLOWED: "the tool is not allowed by the current caps",
  LEDGER_UNAVAILABLE: "the ledger could not be reached (fail closed)",
  APPROVAL_REJECTED: "a person rejected the action",
  APPROVAL_TIMEOUT: "no approval came in time",
  UNKNOWN: "no reason recorded",
};

export const tierNames = ["read", "write-local", "write-external", "mutation", "execution"];
