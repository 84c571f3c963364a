// The gate conformance table: every integration is a thin adapter on one gate, so every adapter
// must charge, run, settle and deny the same way. One row per scenario: the budgets, the tools and
// how each is charged, the tool calls the scripted model makes, what a reviewer answers, and the
// expected outcome: which tool bodies ran, the balances per scope, the reason code of each denied
// call, the error that surfaces. A row that an adapter cannot express names that adapter in
// `notFor`, with the reason.
import type { ReasonCode } from "../../../src/core/decision.js";
import type { Tier } from "../../../src/core/tiers.js";
import type { ToolRule } from "../../../src/core/tool-rules.js";
import type { ApprovalDecision } from "../../../src/integrations/shared/approval.js";

export const adapterNames = ["guardTool", "callbackHandler", "toolNode", "approvalFallback", "middleware"] as const;
/**
 * - guardTool: each tool wrapped by guardTool, in a LangGraph graph with LangGraph's stock ToolNode;
 * - callbackHandler: TollgateCallbackHandler on the run of the same stock graph;
 * - toolNode: PermissionedToolNode as the graph's tool node;
 * - approvalFallback: PermissionedToolNode routing denials to humanApprovalFallback({ ledger, tools, next });
 * - middleware: langchain createAgent with tollgateMiddleware (interrupt mode in rows with `approval`).
 */
export type AdapterName = (typeof adapterNames)[number];

/** What a tool body does when it runs. Every body first records the call's `to` argument. */
export type ToolBody =
  /** Returns `sent to <to>`. */
  | "ok"
  /** Throws `upstream 503`. */
  | "throws"
  /** Returns an error ToolMessage `mailbox full`. */
  | "error-message"
  /** Outlives its hold: moves the ledger's clock past the hold's TTL + grace, then returns `sent to <to>`. */
  | "outlives-hold";

/** A per-tool charge, as data; `actual: "throws"` is an `actual()` that throws `actual() broke`. */
export interface ChargeSpec {
  tier: Tier;
  toolset?: string;
  estimate?: number;
  actual?: "throws";
}

export interface ScenarioTool {
  name: string;
  tags?: string[];
  body?: ToolBody;
  /** Wrapped with guardTool(tool, spec) in every adapter: the charge travels with the tool. */
  guardTool?: ChargeSpec;
  /**
   * The adapter's `toolSpecs` option for this tool. guard has no options: for the guardTool
   * adapter the per-tool spec is the guardTool's own spec (a row with both excludes guardTool).
   */
  toolSpec?: ChargeSpec;
}

export interface ScenarioCall {
  tool: string;
  id: string;
  /** The `to` argument; defaults to the call id, so `ran` lists call ids. */
  to?: string;
}

export interface ExpectedBalance {
  scope: string;
  /** Read the run-window instance of the scenario's run (the thread). */
  run?: boolean;
  spent: number;
  reserved: number;
}

export interface Scenario {
  name: string;
  budgets: { scope: string; limit: number; window?: "run" | "lifetime" }[];
  tools: ScenarioTool[];
  /** The adapter's `rules` option (guard takes none). */
  rules?: ToolRule[];
  /** The ledger: in memory (default, optionally with short holds), on a store that is down, or closed. */
  ledger?: "down" | "closed" | { reservationTtlMs: number; reservationGraceMs: number };
  /** The model's turns; the calls of one turn are parallel. The model says "done" afterwards. */
  turns: ScenarioCall[][];
  /**
   * A reviewer answers: the middleware runs in interrupt mode. One entry per expected interrupt
   * (one denied call each, so both adapters raise one interrupt with one decision).
   */
  approval?: {
    resumes: ApprovalDecision[][];
    approvalTimeoutMs?: number;
    /** Wait this long before answering. */
    waitMs?: number;
    /** Replay every resume from the interrupted checkpoint (time travel) after it ran. */
    replay?: boolean;
  };
  /** Adapters this row does not apply to, and why. */
  notFor?: Partial<Record<AdapterName, string>>;
  expect: {
    /** The `to` of every tool body that ran, in any order (a body that runs twice appears twice). */
    ran: string[];
    /** Each denied call's final reason code, by call id; every other call is answered without one. */
    denied?: Record<string, ReasonCode>;
    /** Text each of these calls' answers contain. */
    answers?: Record<string, string>;
    balances: ExpectedBalance[];
    /** The amount of every commit in the audit log, in any order: what was charged, call by call. */
    commits?: number[];
    /** Text of an error that reaches the caller: thrown from the run, or in an error ToolMessage. */
    surfaces?: string;
    /** onSettleError calls (default 0). */
    settleErrors?: number;
    /** Interrupts raised (default 0). */
    interrupts?: number;
    /** ledger.listBudgets calls, the first step of every grant lookup; checked when given. */
    listBudgetsCalls?: number;
    /** Every budget scope left afterwards (approval grants that should be gone); checked when given. */
    budgetScopes?: string[];
  };
}

const emailScope = "tenant:acme/toolset:send-email";
const email: ChargeSpec = { toolset: "send-email", tier: "write-external", estimate: 20 };
const emailRule: ToolRule = { match: "send_email", tier: "write-external", estimate: 20, toolset: "send-email" };
const calls = (tool: string, prefix: string, count: number): ScenarioCall[] =>
  Array.from({ length: count }, (_, index) => ({ tool, id: `${prefix}${index + 1}` }));

const guardHasNoRules = "guard charges by its own spec only: it takes no rules, toolSpecs or defaultTool";
const handlerSeesNoWrapper =
  "the guardTool reserves (and marks the call paid) before the handler's tool start: the handler stands aside";
const needsReviewer =
  "a reviewer's decision needs an approval step: only humanApprovalFallback and the middleware in interrupt mode have one";
const fallbackOnlyRunsApprovals =
  "humanApprovalFallback runs only what a reviewer approved; the tool node in front of it decides this row (toolNode adapter)";
const approvalRow = { guardTool: needsReviewer, callbackHandler: needsReviewer, toolNode: needsReviewer };

/**
 * The table. First the rows without a reviewer (guard, the handler, the node, the middleware in
 * error-message mode), then the approval rows (the fallback, the middleware in interrupt mode).
 */
export const scenarios: Scenario[] = [
  {
    name: "guardTool spec charged: six 20-point emails on toolset:send-email = 100, the first five run",
    budgets: [{ scope: emailScope, limit: 100 }],
    tools: [{ name: "send_email", guardTool: email }],
    turns: [calls("send_email", "e", 6)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1", "e2", "e3", "e4", "e5"],
      denied: { e6: "BUDGET_EXCEEDED" },
      commits: [20, 20, 20, 20, 20],
      balances: [{ scope: emailScope, spent: 100, reserved: 0 }],
    },
  },
  {
    name: "six parallel rule-charged calls on a five-call budget are decided in call order",
    budgets: [{ scope: "tenant:acme/toolset:kb", limit: 5 }],
    tools: [{ name: "lookup" }],
    rules: [{ match: "lookup", tier: "read", estimate: 1, toolset: "kb" }],
    turns: [calls("lookup", "l", 6)],
    notFor: { guardTool: guardHasNoRules, approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["l1", "l2", "l3", "l4", "l5"],
      denied: { l6: "BUDGET_EXCEEDED" },
      commits: [1, 1, 1, 1, 1],
      balances: [{ scope: "tenant:acme/toolset:kb", spent: 5, reserved: 0 }],
    },
  },
  {
    name: "the toolSpecs option wins over the guardTool spec",
    budgets: [
      { scope: emailScope, limit: 100 },
      { scope: "tenant:acme/toolset:outbound", limit: 100 },
    ],
    tools: [
      { name: "send_email", guardTool: email, toolSpec: { toolset: "outbound", tier: "write-external", estimate: 30 } },
    ],
    turns: [calls("send_email", "e", 1)],
    notFor: {
      guardTool: "guard has no toolSpecs option: its spec is the only charge",
      callbackHandler: handlerSeesNoWrapper,
      approvalFallback: fallbackOnlyRunsApprovals,
    },
    expect: {
      ran: ["e1"],
      commits: [30],
      balances: [
        { scope: "tenant:acme/toolset:outbound", spent: 30, reserved: 0 },
        { scope: emailScope, spent: 0, reserved: 0 },
      ],
    },
  },
  {
    name: "the toolSpecs option wins over a rule",
    budgets: [
      { scope: emailScope, limit: 100 },
      { scope: "tenant:acme/toolset:outbound", limit: 100 },
    ],
    tools: [{ name: "send_email", toolSpec: { toolset: "outbound", tier: "write-external", estimate: 30 } }],
    rules: [emailRule],
    turns: [calls("send_email", "e", 1)],
    notFor: { guardTool: guardHasNoRules, approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      commits: [30],
      balances: [
        { scope: "tenant:acme/toolset:outbound", spent: 30, reserved: 0 },
        { scope: emailScope, spent: 0, reserved: 0 },
      ],
    },
  },
  {
    name: "a rule matches by name glob and by tag",
    budgets: [
      { scope: "tenant:acme/toolset:kb", limit: 10 },
      { scope: "tenant:acme/toolset:ops", limit: 100 },
    ],
    tools: [{ name: "lookup_order" }, { name: "restart", tags: ["ops"] }],
    rules: [
      { match: "lookup_*", tier: "read", estimate: 2, toolset: "kb" },
      { tag: "ops", tier: "mutation", estimate: 25, toolset: "ops" },
    ],
    turns: [[...calls("lookup_order", "l", 1), ...calls("restart", "r", 1)]],
    notFor: { guardTool: guardHasNoRules, approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["l1", "r1"],
      balances: [
        { scope: "tenant:acme/toolset:kb", spent: 2, reserved: 0 },
        { scope: "tenant:acme/toolset:ops", spent: 25, reserved: 0 },
      ],
    },
  },
  {
    name: "a tool nothing names is TOOL_NOT_COVERED even under a tenant-wide budget; nothing is charged",
    budgets: [{ scope: "tenant:acme", limit: 1_000 }],
    tools: [{ name: "wipe_disk" }, { name: "send_email" }],
    rules: [emailRule],
    turns: [[...calls("wipe_disk", "w", 1), ...calls("send_email", "e", 1)]],
    notFor: {
      guardTool:
        "a guardTool always has a spec; a tool nobody wrapped is simply not guarded (the handler covers those)",
      approvalFallback: fallbackOnlyRunsApprovals,
    },
    expect: {
      ran: ["e1"],
      denied: { w1: "TOOL_NOT_COVERED" },
      balances: [{ scope: "tenant:acme", spent: 20, reserved: 0 }],
    },
  },
  {
    name: "a tool that throws releases its hold, and the error surfaces",
    budgets: [{ scope: "tenant:acme", limit: 100 }],
    tools: [{ name: "flaky", body: "throws", toolSpec: { toolset: "flaky", tier: "write-local", estimate: 10 } }],
    turns: [calls("flaky", "f", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["f1"],
      surfaces: "upstream 503",
      commits: [],
      balances: [{ scope: "tenant:acme", spent: 0, reserved: 0 }],
    },
  },
  {
    name: "a tool that answers with an error ToolMessage releases its hold",
    budgets: [{ scope: "tenant:acme", limit: 100 }],
    tools: [{ name: "send_email", body: "error-message", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      surfaces: "mailbox full",
      answers: { e1: "mailbox full" },
      balances: [{ scope: "tenant:acme", spent: 0, reserved: 0 }],
    },
  },
  {
    name: "an actual() that throws commits the estimate, and its error surfaces",
    budgets: [{ scope: "tenant:acme", limit: 100 }],
    tools: [{ name: "send_email", toolSpec: { ...email, actual: "throws" } }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      surfaces: "actual() broke",
      commits: [20],
      balances: [{ scope: "tenant:acme", spent: 20, reserved: 0 }],
    },
  },
  {
    name: "a hold that expires mid-run: the result is kept, onSettleError is told, nothing is charged twice",
    budgets: [{ scope: "tenant:acme", limit: 100 }],
    ledger: { reservationTtlMs: 1_000, reservationGraceMs: 0 },
    tools: [{ name: "send_email", body: "outlives-hold", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      answers: { e1: "sent to e1" },
      settleErrors: 1,
      // The hold expired and returned by itself: nothing spent, nothing left held.
      commits: [],
      balances: [{ scope: "tenant:acme", spent: 0, reserved: 0 }],
    },
  },
  {
    name: "a standing run grant (approved-run.<toolset>, window run) pays for a call the agent's own budget denies",
    budgets: [
      { scope: emailScope, limit: 0 },
      { scope: "tenant:acme/toolset:approved-run.send-email", limit: 40, window: "run" },
    ],
    tools: [{ name: "send_email", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      commits: [20],
      balances: [
        { scope: "tenant:acme/toolset:approved-run.send-email", run: true, spent: 20, reserved: 0 },
        { scope: emailScope, spent: 0, reserved: 0 },
      ],
    },
  },
  {
    name: "a standing always grant (approved.<toolset>, lifetime) pays for a call the agent's own budget denies",
    budgets: [
      { scope: emailScope, limit: 0 },
      { scope: "tenant:acme/toolset:approved.send-email", limit: 40 },
    ],
    tools: [{ name: "send_email", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: {
      ran: ["e1"],
      balances: [
        { scope: "tenant:acme/toolset:approved.send-email", spent: 20, reserved: 0 },
        { scope: emailScope, spent: 0, reserved: 0 },
      ],
    },
  },
  {
    name: "a store that is down is LEDGER_UNAVAILABLE, and no grant lookup happens",
    budgets: [],
    ledger: "down",
    tools: [{ name: "send_email", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: { ran: [], denied: { e1: "LEDGER_UNAVAILABLE" }, balances: [], listBudgetsCalls: 0 },
  },
  {
    name: "a closed ledger is LEDGER_UNAVAILABLE, and no grant lookup happens",
    budgets: [{ scope: "tenant:acme", limit: 100 }],
    ledger: "closed",
    tools: [{ name: "send_email", toolSpec: email }],
    turns: [calls("send_email", "e", 1)],
    notFor: { approvalFallback: fallbackOnlyRunsApprovals },
    expect: { ran: [], denied: { e1: "LEDGER_UNAVAILABLE" }, balances: [], listBudgetsCalls: 0 },
  },

  // ---- approvals: humanApprovalFallback({ ledger, tools, next }) with nothing else, and the middleware in
  // interrupt mode. The email is denied by its own toolset budget (0); an approval is charged to a grant
  // and to the tenant's ceiling (100), never to the denying budget.
  ...approvalRows(),
];

function approvalRows(): Scenario[] {
  const budgets = [
    { scope: "tenant:acme", limit: 100 },
    { scope: emailScope, limit: 0 },
  ];
  const ruleCharged = { tools: [{ name: "send_email" }], rules: [emailRule] };
  const mail = [calls("send_email", "m", 1)];
  const nothingSpent = [
    { scope: "tenant:acme", spent: 0, reserved: 0 },
    { scope: emailScope, spent: 0, reserved: 0 },
  ];
  const approvedSpent = [
    { scope: "tenant:acme", spent: 20, reserved: 0 },
    { scope: emailScope, spent: 0, reserved: 0 },
  ];
  const budgetScopes = ["tenant:acme", emailScope];
  return [
    {
      name: "approve: the denied call runs once, charged to a one-off grant and the tenant's ceiling",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "approve", approver: "alice" }]] },
      notFor: approvalRow,
      expect: {
        ran: ["m1"],
        answers: { m1: "sent to m1" },
        interrupts: 1,
        commits: [20],
        balances: approvedSpent,
        budgetScopes,
      },
    },
    {
      name: "edit: the edited call runs instead, once",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "edit", editedAction: { name: "send_email", args: { to: "m1-edited" } } }]] },
      notFor: approvalRow,
      expect: { ran: ["m1-edited"], answers: { m1: "sent to m1-edited" }, interrupts: 1, balances: approvedSpent },
    },
    {
      name: "reject: nothing runs, APPROVAL_REJECTED",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "reject", message: "not this one" }]] },
      notFor: approvalRow,
      expect: { ran: [], denied: { m1: "APPROVAL_REJECTED" }, interrupts: 1, balances: nothingSpent, budgetScopes },
    },
    {
      name: "timeout: an approval after approvalTimeoutMs runs nothing, APPROVAL_TIMEOUT",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "approve" }]], approvalTimeoutMs: 5, waitMs: 25 },
      notFor: approvalRow,
      expect: { ran: [], denied: { m1: "APPROVAL_TIMEOUT" }, interrupts: 1, balances: nothingSpent, budgetScopes },
    },
    {
      name: "replayed resume after approve: the call ran once, the replay runs nothing",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "approve", approver: "alice" }]], replay: true },
      notFor: approvalRow,
      expect: {
        ran: ["m1"],
        answers: { m1: "not run again" },
        interrupts: 1,
        commits: [20],
        balances: approvedSpent,
        budgetScopes,
      },
    },
    {
      name: "replayed resume after reject: the call never runs",
      budgets,
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [[{ type: "reject" }]], replay: true },
      notFor: approvalRow,
      expect: { ran: [], denied: { m1: "APPROVAL_REJECTED" }, interrupts: 1, balances: nothingSpent, budgetScopes },
    },
    {
      name: "approve remembered for the run: a later denial in the run is paid by the run grant without asking",
      budgets,
      ...ruleCharged,
      turns: [...mail, calls("send_email", "n", 1)],
      approval: { resumes: [[{ type: "approve", remember: "run", grantAmount: 40 }]] },
      notFor: approvalRow,
      expect: {
        ran: ["m1", "n1"],
        interrupts: 1,
        commits: [20, 20],
        balances: [
          { scope: "tenant:acme/toolset:approved-run.send-email", run: true, spent: 40, reserved: 0 },
          { scope: "tenant:acme", spent: 40, reserved: 0 },
          { scope: emailScope, spent: 0, reserved: 0 },
        ],
      },
    },
    {
      name: "an approved call that throws releases its grant hold, and the error surfaces",
      budgets,
      tools: [{ name: "send_email", body: "throws", guardTool: email }],
      turns: mail,
      approval: { resumes: [[{ type: "approve" }]] },
      notFor: approvalRow,
      expect: { ran: ["m1"], surfaces: "upstream 503", interrupts: 1, balances: nothingSpent, budgetScopes },
    },
    {
      name: "an approved call that answers with an error ToolMessage releases its grant hold",
      budgets,
      tools: [{ name: "send_email", body: "error-message", guardTool: email }],
      turns: mail,
      approval: { resumes: [[{ type: "approve" }]] },
      notFor: approvalRow,
      expect: {
        ran: ["m1"],
        surfaces: "mailbox full",
        answers: { m1: "mailbox full" },
        interrupts: 1,
        balances: nothingSpent,
        budgetScopes,
      },
    },
    {
      name: "an approved call whose actual() throws commits the estimate, and the error surfaces",
      budgets,
      tools: [{ name: "send_email", guardTool: { ...email, actual: "throws" } }],
      turns: mail,
      approval: { resumes: [[{ type: "approve" }]] },
      notFor: approvalRow,
      expect: {
        ran: ["m1"],
        surfaces: "actual() broke",
        interrupts: 1,
        commits: [20],
        balances: approvedSpent,
        budgetScopes,
      },
    },
    {
      name: "approving a tool nothing names does not run it: TOOL_NOT_COVERED",
      budgets: [{ scope: "tenant:acme", limit: 100 }],
      tools: [{ name: "wipe_disk" }],
      rules: [emailRule],
      turns: [calls("wipe_disk", "w", 1)],
      approval: { resumes: [[{ type: "approve" }]] },
      notFor: approvalRow,
      expect: {
        ran: [],
        denied: { w1: "TOOL_NOT_COVERED" },
        interrupts: 1,
        balances: [{ scope: "tenant:acme", spent: 0, reserved: 0 }],
        budgetScopes: ["tenant:acme"],
      },
    },
    {
      name: "LEDGER_UNAVAILABLE is not put to a reviewer: an approval could not be charged",
      budgets: [],
      ledger: "down",
      ...ruleCharged,
      turns: mail,
      approval: { resumes: [] },
      notFor: approvalRow,
      expect: { ran: [], denied: { m1: "LEDGER_UNAVAILABLE" }, interrupts: 0, balances: [], listBudgetsCalls: 0 },
    },
  ];
}
