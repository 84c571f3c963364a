import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as root from "../../src/index.js";

// The root is what a user writes: a name added or dropped here is a decision, made on purpose.
const rootValues = [
  "BudgetExceededError",
  "PermissionedToolNode",
  "TollgateAgentState",
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

describe("the README", () => {
  it("names every root export, values and types", () => {
    const index = readFileSync(fileURLToPath(new URL("../../src/index.ts", import.meta.url)), "utf8");
    const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
    const names = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((match) =>
      match[1]
        .split(",")
        .map((name) => name.trim())
        .filter(Boolean),
    );
    expect(names.length).toBeGreaterThan(rootValues.length);
    expect(names.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme))).toEqual([]);
  });
});
