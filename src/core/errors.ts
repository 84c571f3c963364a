/** Stable codes for thrown faults. Denials are values (see decision.ts), not errors, except in guard(). */
export type ErrorCode =
  | "VALIDATION_FAILED"
  | "RESERVATION_NOT_FOUND"
  | "RESERVATION_FINALIZED"
  | "RESERVATION_EXPIRED"
  | "IDEMPOTENCY_CONFLICT"
  | "OVERAGE_REJECTED"
  | "OVERDRAFT_LIMIT_EXCEEDED"
  | "LEDGER_UNAVAILABLE"
  | "BUDGET_EXCEEDED"
  | "PEER_DEPENDENCY_MISSING"
  | "POLICY_INVALID"
  | "POLICY_APPLY_BUSY"
  | "STORE_REPLY_INVALID"
  | "INVARIANT_VIOLATED";

/**
 * The one base class: every error the library throws carries a stable `code`, an optional cause, and
 * `transient`: true when the same call may succeed if retried (the store did not answer in time, a
 * connection dropped), false when retrying cannot help (bad input, a settled reservation, a bug).
 * Retry loops decide on `transient`, never on the class.
 */
export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.transient = options?.transient ?? false;
  }
}

/**
 * Whether a failed call may be retried. A fault that is not ours (a custom store's own Error, a socket
 * error) counts as transient: retries of settlements carry the same idempotency tag, so they are safe.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof TollgateError) return error.transient;
  return true;
}

export interface ValidationIssue {
  code: string;
  /** Dotted path of the offending field, e.g. `subject.tenant` or `estimate`. */
  path: string;
  message: string;
}

/** Bad input from a caller: lists every issue with its path, and is thrown before anything changes. */
export class ValidationError extends TollgateError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], options?: { cause?: unknown }) {
    super("VALIDATION_FAILED", formatIssues(issues), options);
    this.issues = issues;
  }
}

function formatIssues(issues: ValidationIssue[]): string {
  const lines = issues.map((issue) => `${issue.path || "(input)"}: ${issue.message}`);
  return `Invalid input: ${lines.join("; ")}`;
}

/** The reservation is unknown, settled already, or expired: settling it again is never a spend. */
export class ReservationStateError extends TollgateError {
  readonly reservationId: string;
  constructor(
    code: "RESERVATION_NOT_FOUND" | "RESERVATION_FINALIZED" | "RESERVATION_EXPIRED",
    reservationId: string,
    detail?: string,
  ) {
    const what = {
      RESERVATION_NOT_FOUND: "is unknown (never reserved, or its record has aged out)",
      RESERVATION_FINALIZED: `is already settled${detail ? ` (${detail})` : ""}`,
      RESERVATION_EXPIRED: "expired before it was settled; its hold has been returned",
    }[code];
    super(code, `Reservation ${reservationId} ${what}`);
    this.reservationId = reservationId;
  }
}

/** An idempotency key was reused with a different payload. */
export class IdempotencyConflictError extends TollgateError {
  readonly idempotencyKey: string;
  constructor(idempotencyKey: string) {
    super(
      "IDEMPOTENCY_CONFLICT",
      `Idempotency key "${idempotencyKey}" was already used with a different payload; use a new key for a new request`,
    );
    this.idempotencyKey = idempotencyKey;
  }
}

/** A commit asked for more than the reservation's overage policy allows; nothing was charged. */
export class OverageError extends TollgateError {
  readonly reservationId: string;
  constructor(code: "OVERAGE_REJECTED" | "OVERDRAFT_LIMIT_EXCEEDED", reservationId: string, detail: string) {
    super(
      code,
      `Commit of reservation ${reservationId} refused: ${detail}. Nothing was charged; commit a smaller actual or release`,
    );
    this.reservationId = reservationId;
  }
}

/** The store could not be reached in time. Reservations fail closed (DENY) instead of throwing this. Transient. */
export class LedgerUnavailableError extends TollgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LEDGER_UNAVAILABLE", message, { cause: options?.cause, transient: true });
  }
}

/**
 * The store answered, but not with what the operation returns (a proxy or a server that is not a
 * ledger store, a reply cut short). Reservations fail closed; nothing is retried: the same server
 * would answer the same.
 */
export class StoreReplyError extends TollgateError {
  constructor(operation: string, detail: string) {
    super("STORE_REPLY_INVALID", `The ledger store answered ${operation} with an unexpected reply: ${detail}`);
  }
}

/** An optional peer package is needed for the feature being used. */
export class PeerDependencyError extends TollgateError {
  readonly packageName: string;
  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super(
      "PEER_DEPENDENCY_MISSING",
      `${feature} needs the package "${packageName}": npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
  }
}

/** A broken invariant: a bug, never a request the world can send. Fails loudly. */
export class InvariantError extends TollgateError {
  constructor(message: string) {
    super("INVARIANT_VIOLATED", `Invariant violated: ${message}`);
  }
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
