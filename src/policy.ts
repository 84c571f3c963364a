// Policy files on their own subpath (tollgate/policy): load, check, plan and apply an operator's
// budgets, tool rules and fallbacks. `createLedger({ policy })` is the usual way in.

export type { Policy, PolicyBudget, PolicyDocument, PolicyIssue, PolicyMode } from "./core/policy.js";
export {
  approvalGrantToolsetPrefixes,
  fallbackFor,
  isApprovalGrantScope,
  PolicyError,
  parsePolicy,
} from "./core/policy.js";
export type { BudgetAdmin, PolicyChange, PolicyPlan } from "./ledger/policy.js";
export {
  applyPolicy,
  loadPolicyFile,
  loadPolicyFileSync,
  PolicyApplyError,
  parsePolicyText,
  planPolicy,
} from "./ledger/policy.js";
