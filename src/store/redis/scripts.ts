import { createHash } from "node:crypto";
import { budgetRemoveLua, budgetSetLua, repayDebtLua } from "./lua/budgets.js";
import {
  chainCheckpointLastLua,
  chainCheckpointPutLua,
  chainHeadLua,
  chainPreludeLua,
  chainSealLua,
} from "./lua/chain.js";
import { expireLua } from "./lua/expire.js";
import { extendLua } from "./lua/extend.js";
import { preludeLua } from "./lua/prelude.js";
import { balanceLua, reservationLua, shapesLua } from "./lua/reads.js";
import { recordEventLua } from "./lua/record-event.js";
import { reserveLua } from "./lua/reserve.js";
import { commitLua, releaseLua } from "./lua/settle.js";
import { sweepDueLua, sweepNoteLua } from "./lua/sweep-index.js";

/**
 * Every operation is a function of one Redis Functions library (FUNCTION LOAD, FCALL; Redis 7+ and
 * Valkey both have them). The shared Lua (clock, keys, counters, the decision rule, audit) runs once,
 * when the library is loaded, instead of on every call as a prelude of each EVAL script did (~9 µs of
 * server time per call). The library's name and its functions' names carry a hash of its source, so
 * processes of two versions sharing a server each call their own code; a server that does not have
 * it (a restart without persistence, a FUNCTION FLUSH, a new cluster primary) answers "Function not
 * found" and gets it by one FUNCTION LOAD.
 */
export interface StoreFunction {
  readonly name: string;
  /** The name FCALL takes. */
  readonly fn: string;
  /** Its name inside the library, which a batch names it by. */
  readonly op: string;
}

const operations = {
  reserve: { name: "reserve", tenant: true, body: reserveLua },
  commit: { name: "commit", tenant: true, body: commitLua },
  release: { name: "release", tenant: true, body: releaseLua },
  extend: { name: "extend", tenant: true, body: extendLua },
  expire: { name: "expire", tenant: true, body: expireLua },
  budgetSet: { name: "budget.set", tenant: true, body: budgetSetLua },
  budgetRemove: { name: "budget.remove", tenant: true, body: budgetRemoveLua },
  repayDebt: { name: "debt.repay", tenant: true, body: repayDebtLua },
  balance: { name: "balance", tenant: true, body: balanceLua },
  reservation: { name: "reservation", tenant: true, body: reservationLua },
  shapes: { name: "shapes", tenant: true, body: shapesLua },
  recordEvent: { name: "event.record", tenant: true, body: recordEventLua },
  sweepDue: { name: "sweep.due", tenant: false, body: sweepDueLua },
  sweepNote: { name: "sweep.note", tenant: false, body: sweepNoteLua },
  chainHead: { name: "chain.head", tenant: false, body: chainHeadLua },
  chainSeal: { name: "chain.seal", tenant: false, body: chainSealLua },
  chainCheckpointPut: { name: "chain.checkpoint.put", tenant: false, body: chainCheckpointPutLua },
  chainCheckpointLast: { name: "chain.checkpoint.last", tenant: false, body: chainCheckpointLastLua },
} as const;

export type ScriptName = keyof typeof operations;

const luaName = (name: string) => name.replace(/\./g, "_");

/**
 * The batch function: several operations on one tenant in one FCALL (the calls a process makes in
 * the same tick, see call-batcher.ts). ARGV: the count, the three arguments every tenant function
 * starts with (base, clock offset, limits: the same for every call of a batch), then per operation
 * its name, its argument count and its own arguments. Each runs as if called alone, under pcall so
 * that one failing does not stop the others; the reply has per operation { 1, reply } or { 0, error
 * message }. The operations share one reading of the server's TIME (begin in lua/prelude.ts): the
 * batch is atomic, so they run at one instant. inBatch is set only while a batch runs; every direct
 * call clears it first, so a batch stopped half-way (a killed script) leaves no shared clock behind.
 */
const batchLua = `
local function runBatch(keys, args)
  local out = {}
  local base, offset, limits = args[2], args[3], args[4]
  local at = 5
  for i = 1, tonumber(args[1]) do
    local name, count = args[at], tonumber(args[at + 1])
    local op = ops[name]
    local opArgs = { base, offset, limits }
    for j = 1, count do opArgs[3 + j] = args[at + 1 + j] end
    at = at + 2 + count
    local ok, result
    if op then
      ok, result = pcall(op, keys, opArgs)
    else
      ok, result = false, 'unknown operation ' .. tostring(name)
    end
    if ok then
      out[i] = { 1, result }
    elseif type(result) == 'table' and result.err then
      out[i] = { 0, result.err }
    else
      out[i] = { 0, tostring(result) }
    end
  end
  return out
end
redis.register_function('tg_VERSION_batch', function(keys, args)
  inBatch, batchTime, batchDueBase = true, nil, nil
  local ok, out = pcall(runBatch, keys, args)
  inBatch, batchTime, batchDueBase = false, nil, nil
  if not ok then error(out) end
  return out
end)
`;

function libraryBody(version: string): string {
  const parts = [preludeLua, chainPreludeLua, "local ops = {}"];
  for (const { name, tenant, body } of Object.values(operations)) {
    // A tenant function's per-call state comes from begin(); a sweep function reads only its own ARGV.
    const start = tenant ? "begin(keys, args)" : "KEYS, ARGV = keys, args";
    const op = luaName(name);
    // Called directly (not in a batch), a tenant function first clears the batch's shared clock.
    const direct = tenant
      ? `function(keys, args) inBatch, batchTime, batchDueBase = false, nil, nil; return ops['${op}'](keys, args) end`
      : `ops['${op}']`;
    parts.push(
      `-- ${name}\nops['${op}'] = function(keys, args)\n${start}\n${body}\nend\nredis.register_function('tg_${version}_${op}', ${direct})\n`,
    );
  }
  parts.push(batchLua.replace("VERSION", version));
  return parts.join("\n");
}

// The version is the hash of the library with a placeholder in its names, so it names exactly this code.
const version = createHash("sha1").update(libraryBody("VERSION")).digest("hex").slice(0, 12);

/** The library FUNCTION LOAD takes: a shebang naming it, then the Lua. */
export const librarySource = `#!lua name=tollgate_${version}\n${libraryBody(version)}`;

export const scripts = Object.fromEntries(
  Object.entries(operations).map(([key, { name }]) => [
    key,
    { name, fn: `tg_${version}_${luaName(name)}`, op: luaName(name) },
  ]),
) as { readonly [K in ScriptName]: StoreFunction };

export const batchFunction: StoreFunction = { name: "batch", fn: `tg_${version}_batch`, op: "batch" };
