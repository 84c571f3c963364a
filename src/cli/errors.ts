/** Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong. */
export const exitOk = 0;
export const exitFailure = 1;
export const exitUsage = 2;

/** The command line is wrong (unknown command or option, a missing or malformed value): exit 2. */
export class UsageError extends Error {
  /** The command whose --help to point at, e.g. "budget set". */
  readonly command: string;
  constructor(message: string, command = "") {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** The operation failed (store unreachable, no such budget, invalid policy file): exit 1. */
export class CliFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliFailure";
  }
}
