import { createHash } from "node:crypto";
import { budgetRemoveLua, budgetSetLua, repayDebtLua } from "./lua/budgets.js";
import { expireLua } from "./lua/expire.js";
import { extendLua } from "./lua/extend.js";
import { preludeLua } from "./lua/prelude.js";
import { balanceLua, reservationLua } from "./lua/reads.js";
import { recordEventLua } from "./lua/record-event.js";
import { reserveLua } from "./lua/reserve.js";
import { commitLua, releaseLua } from "./lua/settle.js";
import { sweepDueLua, sweepNoteLua } from "./lua/sweep-index.js";

/** A Lua script run by EVALSHA; its SHA-1 is computed here, so loading it is only ever a fallback. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

const tenantScript = (name: string, body: string) => script(name, `-- tollgate:${name}\n${preludeLua}\n${body}`);

/** One script per operation. Tenant scripts touch only the keys of one tenant: one cluster slot. */
export const scripts = {
  reserve: tenantScript("reserve", reserveLua),
  commit: tenantScript("commit", commitLua),
  release: tenantScript("release", releaseLua),
  extend: tenantScript("extend", extendLua),
  expire: tenantScript("expire", expireLua),
  budgetSet: tenantScript("budget.set", budgetSetLua),
  budgetRemove: tenantScript("budget.remove", budgetRemoveLua),
  repayDebt: tenantScript("debt.repay", repayDebtLua),
  balance: tenantScript("balance", balanceLua),
  reservation: tenantScript("reservation", reservationLua),
  recordEvent: tenantScript("event.record", recordEventLua),
  sweepDue: script("sweep.due", `-- tollgate:sweep.due\n${sweepDueLua}`),
  sweepNote: script("sweep.note", `-- tollgate:sweep.note\n${sweepNoteLua}`),
} as const;

export type ScriptName = keyof typeof scripts;
