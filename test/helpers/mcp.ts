import { fileURLToPath } from "node:url";
import type { DynamicStructuredTool } from "@langchain/core/tools";
import { MultiServerMCPClient } from "@langchain/mcp-adapters";

/** The stdio MCP server of the tests: read_file, search_docs, write_file, delete_file, send_message, failing_write, run_command. */
export const mcpServerScript = fileURLToPath(new URL("../fixtures/mcp/server.mjs", import.meta.url));
export const mcpServerNameDefault = "files";

export interface McpServerOptions {
  /** The name the client gives the server (the key in `mcpServers`). */
  serverName?: string;
  /** `files__read_file` instead of `read_file`: the adapter's only way to carry the server name on a tool. */
  prefixToolNameWithServerName?: boolean;
  /** One more prefix before that, `mcp__files__read_file`. */
  additionalToolNamePrefix?: string;
}

export interface McpServerHandle {
  /** The LangChain tools the adapter built from the server's tool list, in the server's order. */
  tools: DynamicStructuredTool[];
  /** The same tools by server name: the tool objects themselves do not carry it (see the name prefix options). */
  toolsByServer: Record<string, DynamicStructuredTool[]>;
  client: MultiServerMCPClient;
  /** Closes the client, which ends the server process. */
  close(): Promise<void>;
}

/**
 * Starts the fixture MCP server as a child process (`node server.mjs`, over stdio) through
 * `@langchain/mcp-adapters`, as an application would, and loads its tools. Call `close()` in
 * `afterAll`.
 */
export async function startMcpServer(options: McpServerOptions = {}): Promise<McpServerHandle> {
  const serverName = options.serverName ?? mcpServerNameDefault;
  const client = new MultiServerMCPClient({
    mcpServers: { [serverName]: { transport: "stdio", command: process.execPath, args: [mcpServerScript] } },
    prefixToolNameWithServerName: options.prefixToolNameWithServerName ?? false,
    additionalToolNamePrefix: options.additionalToolNamePrefix ?? "",
    throwOnLoadError: true,
    onConnectionError: "throw",
  });
  try {
    const toolsByServer = await client.initializeConnections();
    const tools = await client.getTools();
    return { tools, toolsByServer, client, close: () => client.close() };
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}
