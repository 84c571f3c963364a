import { describe, expect, it } from "vitest";
import * as root from "../../src/index.js";

// The root is what a user writes: a name added or dropped here is a decision, made on purpose.
const rootValues = [
  "BudgetExceededError",
  "PermissionedToolNode",
  "TollgateAnnotation",
  "TollgateCallbackHandler",
  "TollgateError",
  "ValidationError",
  "bindPermittedTools",
  "createLedger",
  "denialOf",
  "fallbackNodes",
  "guard",
  "guardTool",
  "humanApprovalFallback",
  "permittedModelNode",
  "permittedTools",
  "readOnlyFallback",
  "tollgateMiddleware",
];

describe("the package root's exports", () => {
  it("are exactly the names a user writes", () => {
    expect(Object.keys(root).sort()).toEqual([...rootValues].sort());
  });
});
