import type { Tier } from "../../core/tiers.js";
import type { ToolAnnotations } from "../../core/tool-annotations.js";
import type { ToolRule } from "../../core/tool-rules.js";
import type { Unit } from "../../core/units.js";
import type { ChargeableTool, ChargeSource, ToolCharge } from "../../integrations/shared/gate.js";
import type { Ledger } from "../../ledger/ledger.js";
import type { Command, CommandContext } from "../command.js";
import { exitFailure, exitOk, UsageError } from "../errors.js";
import { formatTable } from "../format.js";
import { writeLine } from "../io.js";
import { timeoutMsOf, userPath } from "../options.js";

// The ledger, the gate and the MCP client load only when the command runs, so --help answers at once.
const gateModule = () => import("../../integrations/shared/gate.js");
const actionSpecModule = () => import("../../integrations/shared/action-spec.js");
const annotationsModule = () => import("../../core/tool-annotations.js");
const mcpModule = () => import("../mcp-tools.js");
const source = () => import("../source.js");

/** Tool names on one command line. */
export const toolNamesMax = 1_000;
/** Connecting starts every stdio server of an MCP config (often through npx, which may download it first). */
export const mcpTimeoutMsDefault = 30_000;
/** As long as an action name may be. */
const toolNameLengthMax = 128;

/** One tool's charge, as `--json` prints it. */
export interface ToolCheck {
  name: string;
  /** The MCP server it comes from (the MCP config's name for it, else the name's `server__` prefix). */
  server?: string;
  covered: boolean;
  source?: ChargeSource;
  /** The policy's `tools` entry that matched (0-based), when `source` is "rule". */
  ruleIndex?: number;
  tier?: Tier;
  estimate?: number;
  unit?: Unit;
  toolset?: string;
  /** The MCP annotations the server declared. */
  annotations?: Partial<ToolAnnotations>;
  /** Something the agent will see differently from what the policy author may expect. */
  note?: string;
}

export interface ToolsCheckResult {
  policy: string;
  tools: ToolCheck[];
  notCovered: string[];
}

export const toolsCheck: Command = {
  name: "tools check",
  summary: "show how a policy charges each tool; exit 1 if any tool is not covered",
  details: [
    "Charges each tool the way an agent with createLedger({ policy: FILE }) does: the policy's tool rules",
    "(first match wins), then the tool's MCP annotations. A tool nothing names is denied at run time with",
    "TOOL_NOT_COVERED, so this check fails on it: run it in CI with the tools your agent uses.",
    "Tools come from NAME arguments, or from an MCP config (--mcp-config): every server it lists is",
    "started or connected, and its tools are charged with their annotations and their server.",
  ].join("\n"),
  positionals: [
    { name: "NAME", description: "tool names to check (or give --mcp-config)", required: false, variadic: true },
  ],
  options: {
    policy: {
      type: "string",
      valueName: "FILE",
      description: "the policy file whose tool rules charge the tools",
      required: true,
    },
    "mcp-config": {
      type: "string",
      valueName: "FILE",
      description: 'the tools of the MCP servers in this file (MultiServerMCPClient\'s JSON: { "mcpServers": ... })',
    },
    "timeout-ms": {
      type: "string",
      valueName: "MS",
      description: `give up on MCP servers that have not listed their tools after this long (default ${mcpTimeoutMsDefault})`,
    },
    json: { type: "boolean", description: "the charges as JSON" },
  },
  examples: [
    "tollgate tools check --policy tollgate.policy.yaml send_email search_kb deploy_service",
    "tollgate tools check --policy tollgate.policy.yaml --mcp-config mcp.json --json",
  ],
  async run(context) {
    const { io, options, positionals, command } = context;
    const policyFile = options.policy as string;
    const mcpConfig = typeof options["mcp-config"] === "string" ? options["mcp-config"] : undefined;
    if (mcpConfig !== undefined && positionals.length > 0) {
      throw new UsageError("give tool names or --mcp-config FILE, not both", command.name);
    }
    if (mcpConfig === undefined && positionals.length === 0) {
      throw new UsageError("no tools to check: give tool names or --mcp-config FILE", command.name);
    }
    const named = mcpConfig === undefined ? namedTools(positionals, command.name) : undefined;
    const timeoutMs = options["timeout-ms"] === undefined ? mcpTimeoutMsDefault : timeoutMsOf(options, command.name);
    const { openPolicyView, closeQuietly } = await source();
    const ledger = await openPolicyView(io, policyFile);
    try {
      const tools = named ?? (await mcpTools(context, mcpConfig as string, timeoutMs));
      const result: ToolsCheckResult = { policy: policyFile, tools: await checkTools(ledger, tools), notCovered: [] };
      result.notCovered = result.tools.filter((tool) => !tool.covered).map((tool) => tool.name);
      if (options.json) writeLine(io.stdout, JSON.stringify(result, null, 2));
      else printChecks(context, result, ledger.policy?.toolRules ?? []);
      return result.notCovered.length > 0 ? exitFailure : exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

interface ListedTool {
  name: string;
  /** Known from the MCP config; undefined for names from the command line. */
  server?: string;
  tool?: ChargeableTool;
}

function namedTools(names: string[], command: string): ListedTool[] {
  if (names.length > toolNamesMax) throw new UsageError(`at most ${toolNamesMax} tool names`, command);
  for (const name of names) {
    if (name.length === 0 || name.length > toolNameLengthMax) {
      throw new UsageError(`tool names must be 1-${toolNameLengthMax} characters (got "${name}")`, command);
    }
  }
  return [...new Set(names)].map((name) => ({ name }));
}

async function mcpTools(context: CommandContext, file: string, timeoutMs: number): Promise<ListedTool[]> {
  const { readMcpConfig, listMcpTools } = await mcpModule();
  const config = await readMcpConfig(userPath(context.io, file));
  return listMcpTools(config, timeoutMs);
}

/** Each tool charged by the one gate, the way the agent's gate will charge it. */
async function checkTools(ledger: Ledger, tools: ListedTool[]): Promise<ToolCheck[]> {
  const { Gate } = await gateModule();
  const { resolveAction } = await actionSpecModule();
  const { annotationsOfMetadata, serverOfToolName } = await annotationsModule();
  // No rules of its own: the gate falls back to the ledger's policy, as in an agent.
  const gate = new Gate({}, "tollgate tools check");
  return tools.map(({ name, server, tool }) => {
    // The agent's gate knows the server only from a `server__` name prefix; that is the charge.
    const charge = gate.chargeOf(tool, name, ledger);
    const check: ToolCheck = { name, covered: false };
    const shownServer = server ?? serverOfToolName(name);
    if (shownServer !== undefined) check.server = shownServer;
    const annotations = annotationsOfMetadata(tool?.metadata);
    if (annotations) check.annotations = annotations;
    if (server !== undefined && server !== serverOfToolName(name)) {
      const known = gate.chargeOf(tool, name, ledger, server);
      if (!sameCharge(known, charge)) check.note = unprefixedNote(name, server, known);
    }
    if (!charge.covered) return check;
    const action = resolveAction({ ...charge.spec, estimate: probe(charge.spec.estimate) }, name, {});
    const covered: ToolCheck = { ...check, covered: true, source: charge.source };
    if (charge.ruleIndex !== undefined) covered.ruleIndex = charge.ruleIndex;
    return { ...covered, tier: action.tier, estimate: action.estimate, unit: action.unit, toolset: action.toolset };
  });
}

/** Rules and annotations give numbers; a function (a guardTool spec) is shown at its no-arguments value. */
function probe(estimate: number | ((args: unknown) => number) | undefined): number | undefined {
  if (typeof estimate !== "function") return estimate;
  try {
    return estimate({});
  } catch {
    return undefined;
  }
}

function sameCharge(a: ToolCharge, b: ToolCharge): boolean {
  if (!a.covered || !b.covered) return a.covered === b.covered;
  return a.source === b.source && a.ruleIndex === b.ruleIndex;
}

function unprefixedNote(name: string, server: string, known: ToolCharge): string {
  const would = known.covered && known.ruleIndex !== undefined ? `rule ${known.ruleIndex}` : "a server rule";
  return `${would} matches server ${server}, but the agent sees this tool as "${name}", without the "${server}__" prefix that names its server: set "prefixToolNameWithServerName": true in the MCP config`;
}

function printChecks(context: CommandContext, result: ToolsCheckResult, rules: readonly ToolRule[]): void {
  const { io } = context;
  const withServer = result.tools.some((tool) => tool.server !== undefined);
  const header = ["TOOL", ...(withServer ? ["SERVER"] : []), "TIER", "ESTIMATE", "TOOLSET", "CHARGED BY"];
  const rows = result.tools.map((tool) => [
    tool.name,
    ...(withServer ? [tool.server ?? "-"] : []),
    tool.tier ?? "-",
    tool.estimate ?? "-",
    tool.toolset ?? "-",
    chargedBy(tool, rules),
  ]);
  writeLine(io.stdout, formatTable(header, rows));
  for (const tool of result.tools) if (tool.note) writeLine(io.stdout, `note: ${tool.name}: ${tool.note}`);
  const total = result.tools.length;
  if (result.notCovered.length === 0) {
    writeLine(io.stdout, `All ${total} tool(s) are covered by ${result.policy}.`);
    return;
  }
  writeLine(
    io.stdout,
    `${result.notCovered.length} of ${total} tool(s) not covered: ${result.notCovered.join(", ")}. An agent denies them with TOOL_NOT_COVERED.`,
  );
  writeLine(
    io.stdout,
    `Add a rule under "tools:" in ${result.policy} (name, match, tag, server or annotations, with a tier), or set defaultTool in the agent.`,
  );
}

function chargedBy(tool: ToolCheck, rules: readonly ToolRule[]): string {
  if (!tool.covered) return "NOT COVERED";
  if (tool.source === "rule" && tool.ruleIndex !== undefined) {
    const rule = rules[tool.ruleIndex];
    return rule ? `rule ${tool.ruleIndex}: ${ruleText(rule)}` : `rule ${tool.ruleIndex}`;
  }
  if (tool.source === "annotations") return `annotations ${annotationsText(tool.annotations ?? {})}`.trimEnd();
  return tool.source ?? "-";
}

function ruleText(rule: ToolRule): string {
  const parts: string[] = [];
  if (rule.match !== undefined) parts.push(`match ${rule.match}`);
  if (rule.tag !== undefined) parts.push(`tag ${rule.tag}`);
  if (rule.server !== undefined) parts.push(`server ${rule.server}`);
  if (rule.annotations !== undefined) parts.push(`annotations ${annotationsText(rule.annotations)}`);
  return parts.join(", ");
}

function annotationsText(annotations: Partial<ToolAnnotations>): string {
  return Object.entries(annotations)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
}
