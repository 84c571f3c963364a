import { ToolMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpServerHandle, startMcpServer } from "../../helpers/mcp.js";

// What @langchain/mcp-adapters hands an application for a real stdio MCP server: the shape the
// tollgate charge mapping reads (annotations in metadata, empty tags, the server name only in the
// name prefix or the per-server map).

let mcp: McpServerHandle;
beforeAll(async () => {
  mcp = await startMcpServer();
});
afterAll(async () => {
  await mcp?.close();
});

describe("the fixture MCP server through @langchain/mcp-adapters", () => {
  it("loads every tool with the server's annotations in metadata.annotations and no tags", () => {
    const loaded = Object.fromEntries(mcp.tools.map((tool) => [tool.name, tool.metadata?.annotations]));
    expect(loaded).toEqual({
      read_file: { readOnlyHint: true },
      search_docs: { readOnlyHint: true, openWorldHint: true },
      write_file: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
      delete_file: { destructiveHint: true },
      send_message: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
      failing_write: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
      run_command: undefined,
    });
    // A tool without annotations still has the key, set to undefined.
    const runCommand = mcp.tools.find((tool) => tool.name === "run_command");
    expect(runCommand?.metadata).toHaveProperty("annotations", undefined);
    for (const tool of mcp.tools) expect(tool.tags).toEqual([]);
  });

  it("names the server only through the per-server map, not on the tool", () => {
    expect(Object.keys(mcp.toolsByServer)).toEqual(["files"]);
    expect(mcp.toolsByServer.files.map((tool) => tool.name)).toEqual(mcp.tools.map((tool) => tool.name));
    for (const tool of mcp.tools) expect(JSON.stringify(tool.metadata)).not.toContain("files");
  });

  it("runs a tool call on the server and answers with its text", async () => {
    const readFile = mcp.tools.find((tool) => tool.name === "read_file");
    expect(await readFile?.invoke({ path: "notes.txt" })).toBe("contents of notes.txt");
    const message = await mcp.tools
      .find((tool) => tool.name === "send_message")
      ?.invoke({ type: "tool_call", id: "call-1", name: "send_message", args: { to: "ana@example.com", body: "hi" } });
    expect(message).toBeInstanceOf(ToolMessage);
    expect(message.content).toBe("message sent to ana@example.com");
    expect(message.status).toBe("success");
    expect(message.metadata).toEqual({
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    });
  });

  it("turns an MCP error result into a thrown ToolException naming the tool and the server", async () => {
    const failing = mcp.tools.find((tool) => tool.name === "failing_write");
    await expect(failing?.invoke({ path: "a.txt" })).rejects.toMatchObject({
      name: "ToolException",
      message: "MCP tool 'failing_write' on server 'files' returned an error: disk full writing a.txt",
    });
  });
});

describe("the server name as a tool name prefix", () => {
  it("prefixes server__tool, after an optional extra prefix", async () => {
    const prefixed = await startMcpServer({ prefixToolNameWithServerName: true, additionalToolNamePrefix: "mcp" });
    try {
      expect(prefixed.tools.map((tool) => tool.name)).toEqual([
        "mcp__files__read_file",
        "mcp__files__search_docs",
        "mcp__files__write_file",
        "mcp__files__delete_file",
        "mcp__files__send_message",
        "mcp__files__failing_write",
        "mcp__files__run_command",
      ]);
      expect(prefixed.tools[0].metadata).toEqual({ annotations: { readOnlyHint: true } });
    } finally {
      await prefixed.close();
    }
  });
});
