import { readFile, stat } from "node:fs/promises";
import { PeerDependencyError } from "../core/errors.js";
import type { ChargeableTool } from "../integrations/shared/gate.js";
import { CliFailure } from "./errors.js";
import { withTimeout } from "./source.js";

/**
 * The tools of the MCP servers an MCP config file lists, as @langchain/mcp-adapters hands them to
 * an agent (same names, same `metadata.annotations`), for `tollgate tools check --mcp-config`.
 */

export const mcpConfigBytesMax = 1_048_576;
export const mcpServersMax = 64;
/** Tools across all servers; a config listing more is refused rather than half checked. */
export const mcpToolsMax = 1_000;
const mcpCloseTimeoutMs = 5_000;
const schemaIssuesShownMax = 10;

const mcpAdaptersPackage = "@langchain/mcp-adapters";

/** The file as MultiServerMCPClient takes it: `{ "mcpServers": { "<name>": { "command", "args" } }, ...options }`. */
export interface McpConfig {
  mcpServers: Record<string, Record<string, unknown>>;
  [option: string]: unknown;
}

export interface McpTool {
  server: string;
  name: string;
  tool: ChargeableTool;
}

/** What this module uses of MultiServerMCPClient (the package is an optional peer, typed here). */
interface McpClient {
  initializeConnections(): Promise<unknown>;
  getTools(...servers: string[]): Promise<ChargeableTool[]>;
  close(): Promise<void>;
}
type McpClientConstructor = new (config: McpConfig) => McpClient;

/** Reads and shape-checks an MCP config file; a file that is not one is a failure naming the field. */
export async function readMcpConfig(path: string): Promise<McpConfig> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > mcpConfigBytesMax) throw new CliFailure(`${path}: larger than ${mcpConfigBytesMax} bytes`);
    text = await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    throw new CliFailure(`Cannot read the MCP config ${path}: ${(error as Error).message}`, { cause: error });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CliFailure(`${path} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const invalid = (message: string) =>
    new CliFailure(`${path}: ${message} (the shape MultiServerMCPClient takes: { "mcpServers": { "<name>": {...} } })`);
  if (!isPlainObject(document)) throw invalid("must be a JSON object");
  const servers = document.mcpServers;
  if (!isPlainObject(servers)) throw invalid("mcpServers must be an object of servers by name");
  const names = Object.keys(servers);
  if (names.length === 0) throw invalid("mcpServers lists no server");
  if (names.length > mcpServersMax) throw invalid(`mcpServers lists more than ${mcpServersMax} servers`);
  for (const name of names) {
    if (!isPlainObject(servers[name])) throw invalid(`mcpServers.${name} must be an object`);
  }
  return document as McpConfig;
}

/**
 * Connects to every server of the config, lists its tools and closes. A server that cannot be
 * reached or listed fails the whole check: a check that skipped a server would pass too easily.
 */
export async function listMcpTools(config: McpConfig, timeoutMs: number): Promise<McpTool[]> {
  const MultiServerMCPClient = await loadClient();
  let client: McpClient;
  try {
    // A server that fails to load its tools must fail the check, whatever the file says.
    client = new MultiServerMCPClient({ ...config, throwOnLoadError: true });
  } catch (error) {
    throw new CliFailure(`The MCP config is not one MultiServerMCPClient accepts: ${configIssues(error)}`, {
      cause: error,
    });
  }
  try {
    await withTimeout(client.initializeConnections(), timeoutMs).catch((error: unknown) => {
      throw new CliFailure(`Cannot list the tools of the MCP servers: ${messageOf(error)}`, { cause: error });
    });
    const listed: McpTool[] = [];
    for (const server of Object.keys(config.mcpServers)) {
      for (const tool of await client.getTools(server)) {
        if (listed.length >= mcpToolsMax) {
          throw new CliFailure(`The MCP servers offer more than ${mcpToolsMax} tools; check them in smaller configs`);
        }
        listed.push({ server, name: tool.name, tool });
      }
    }
    return listed;
  } finally {
    await withTimeout(client.close(), mcpCloseTimeoutMs).catch(() => undefined);
  }
}

async function loadClient(): Promise<McpClientConstructor> {
  // A variable specifier: the package is an optional peer, absent from many installs.
  const specifier: string = mcpAdaptersPackage;
  try {
    const module = (await import(specifier)) as { MultiServerMCPClient: McpClientConstructor };
    return module.MultiServerMCPClient;
  } catch (error) {
    throw new PeerDependencyError(mcpAdaptersPackage, "tollgate tools check --mcp-config", { cause: error });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

interface SchemaIssue {
  path?: (string | number)[];
  message?: string;
  unionErrors?: { issues?: SchemaIssue[] }[];
}

/** The client's zod issues as `path: message` (a server matches one of several shapes: each is listed). */
function configIssues(error: unknown): string {
  const issues = (error as { issues?: SchemaIssue[] } | null)?.issues;
  if (!Array.isArray(issues)) return messageOf(error);
  const lines = (list: SchemaIssue[]): string[] =>
    list.flatMap((issue) =>
      issue.unionErrors?.length
        ? [issue.unionErrors.map((union) => lines(union.issues ?? []).join(", ")).join("; or ")]
        : [`${(issue.path ?? []).join(".") || "(file)"}: ${issue.message ?? "invalid"}`],
    );
  return lines(issues.slice(0, schemaIssuesShownMax)).join("; ");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
