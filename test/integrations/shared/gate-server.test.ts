import { afterAll, describe, expect, it } from "vitest";
import { Gate } from "../../../src/integrations/shared/gate.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";

// A tool's MCP server, for rules that match on it: given by a caller that knows it (tollgate tools
// check reads it from the MCP config), else read from the `server__` name prefix.

const ledger = createLedger({ sweepIntervalMs: 0 });
afterAll(() => ledger.close());
const gate = new Gate({ rules: [{ server: "files", tier: "mutation", toolset: "files" }] }, "test");

describe("Gate.chargeOf and the MCP server", () => {
  it("matches a server rule by the name prefix, or by the server the caller names", () => {
    expect(gate.chargeOf(undefined, "files__delete_file", ledger)).toMatchObject({ covered: true, ruleIndex: 0 });
    expect(gate.chargeOf(undefined, "delete_file", ledger)).toEqual({ covered: false });
    expect(gate.chargeOf(undefined, "delete_file", ledger, "files")).toMatchObject({ covered: true, ruleIndex: 0 });
  });

  it("a named server wins over the prefix (an extra prefix such as mcp__ is not a server)", () => {
    expect(gate.chargeOf(undefined, "mcp__files__delete_file", ledger)).toEqual({ covered: false });
    expect(gate.chargeOf(undefined, "mcp__files__delete_file", ledger, "files")).toMatchObject({ covered: true });
    expect(gate.chargeOf(undefined, "files__delete_file", ledger, "other")).toEqual({ covered: false });
  });
});
