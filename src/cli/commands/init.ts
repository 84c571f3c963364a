import { writeFile } from "node:fs/promises";
import type { Command } from "../command.js";
import { CliFailure, exitOk, UsageError } from "../errors.js";
import { writeLine } from "../io.js";
import { userPath } from "../options.js";

export const initOutDefault = "tollgate.policy.yaml";

/**
 * The starter policy `tollgate init` writes: the budgets, tool rules and fallbacks of
 * examples/policies/per-tenant.policy.yaml (a test keeps the two the same), with the commands in its
 * comments naming the file it was written to. It is text, not generated YAML, so the comments that
 * explain each part survive.
 */
export function starterPolicy(file: string): string {
  return `# A tollgate policy: what each tenant's agents may do, as budgets. Edit it, then:
#
#   tollgate policy check ${file}
#   tollgate policy diff  ${file} --redis redis://127.0.0.1:6379
#   tollgate policy apply ${file} --redis redis://127.0.0.1:6379
#
# or load it in the process that runs the agents: createLedger({ policy: "${file}" }).
#
# Applying is whole or nothing, and applying the same file twice changes nothing. A budget under a
# tenant named here that this file does not list is removed on apply (revoking = removing a line);
# grants people made by approving actions (toolsets approved.*, approved-run.*, approved-once.*)
# are never removed by a policy. \`owns: [scopes]\` narrows what the file manages; \`prune: false\`
# makes apply add and change only.
version: 1

# enforce blocks denied actions; shadow records what would have been denied and blocks nothing.
mode: enforce

defaults:
  unit: RISK_POINTS
  window: lifetime
  # Past half the budget, external effects are disabled; past 80% only reads; at 100% nothing.
  narrowing: progressive

budgets:
  # Enterprise tenant: the full action surface.
  - scope: tenant:enterprise-corp/toolset:send-email
    limit: 500
  - scope: tenant:enterprise-corp/toolset:deploy
    limit: 200

  # Starter tenant: email within a small budget, no deploys. A zero budget always denies.
  - scope: tenant:starter-co/toolset:send-email
    limit: 50
  - scope: tenant:starter-co/toolset:deploy
    limit: 0
    note: deploys are an enterprise feature

# How tools the code did not declare are charged: by exact name, name glob, or tag. First match wins.
tools:
  - name: send_email
    tier: write-external
    estimate: 20
    toolset: send-email
  - name: deploy_service
    tier: execution
    estimate: 50
    toolset: deploy
  - match: "search_*"
    tier: read
    estimate: 5
  - tag: readonly
    tier: read

# Where a denied call goes instead of running: per tool, then per tier, then the default node.
fallbacks:
  default: read_only
  tiers:
    execution: escalate
  tools:
    send_email: escalate
`;
}

export const init: Command = {
  name: "init",
  summary: "write a starter policy file to edit, check and apply",
  details:
    "Two tenants (enterprise-corp and starter-co), their email and deploy budgets, tool rules and fallbacks,\neach part explained in a comment. Never overwrites a file unless --force is given.",
  options: {
    out: { type: "string", valueName: "FILE", description: `where to write it (default ${initOutDefault})` },
    force: { type: "boolean", description: "overwrite FILE if it exists" },
  },
  examples: ["tollgate init", "tollgate init --out policies/tollgate.policy.yaml --force"],
  async run({ io, options, command }) {
    const file = typeof options.out === "string" ? options.out : initOutDefault;
    // The name goes into the file's comments: a line break in it would become policy text.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (file.length === 0 || /[\u0000-\u001f\u007f]/.test(file)) {
      throw new UsageError("--out must be a file name without line breaks or control characters", command.name);
    }
    try {
      await writeFile(userPath(io, file), starterPolicy(file), { flag: options.force ? "w" : "wx" });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        throw new CliFailure(`${file} already exists; nothing was written. Give --force to overwrite it.`);
      }
      throw new CliFailure(`Cannot write ${file}: ${(error as Error).message}`, { cause: error });
    }
    writeLine(io.stdout, `Wrote a starter policy to ${file}: 4 budget(s) for tenants enterprise-corp and starter-co.`);
    writeLine(io.stdout, `Check it with: tollgate policy check ${file}`);
    return exitOk;
  },
};
