/**
 * The conditions of a run, printed with it and written to the JSON report: a figure means little
 * without the machine, its load and the server versions it was measured on. Load average is read at
 * the start and end, so a neighbour that arrived mid-run shows.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";

export interface Conditions {
  node: string;
  cores: number;
  cpuModel: string;
  startedAt: string;
  loadAtStart: number[];
  endedAt?: string;
  loadAtEnd?: number[];
  /** `redis-server --version`, or why it is unknown. */
  redisServer: string;
  /** `git rev-parse --short HEAD` of the checkout measured, with "+changes" when the tree is dirty. */
  commit: string;
}

function commandOutput(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

export function redisServerVersion(): string {
  const binary = process.env.REDIS_SERVER_BIN ?? "redis-server";
  return commandOutput(binary, ["--version"]) ?? `${binary} not found`;
}

export function gitCommit(directory: string): string {
  const head = commandOutput("git", ["-C", directory, "rev-parse", "--short", "HEAD"]) ?? "unknown";
  const dirty = commandOutput("git", ["-C", directory, "status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head}+changes` : head;
}

export function conditionsAtStart(directory: string): Conditions {
  return {
    node: process.version,
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    startedAt: new Date().toISOString(),
    loadAtStart: loadavg(),
    redisServer: redisServerVersion(),
    commit: gitCommit(directory),
  };
}

export function conditionsAtEnd(start: Conditions): Conditions {
  return { ...start, endedAt: new Date().toISOString(), loadAtEnd: loadavg() };
}

const loads = (values: number[]) => values.map((load) => load.toFixed(2)).join(" ");

export function formatConditions(conditions: Conditions): string[] {
  const lines = [
    `node ${conditions.node}, ${conditions.cores} × ${conditions.cpuModel}, ${conditions.redisServer}, commit ${conditions.commit}`,
    `started ${conditions.startedAt}, load average ${loads(conditions.loadAtStart)} (1, 5, 15 min)`,
  ];
  if (conditions.endedAt && conditions.loadAtEnd) {
    lines.push(`ended ${conditions.endedAt}, load average ${loads(conditions.loadAtEnd)}`);
  }
  return lines;
}
