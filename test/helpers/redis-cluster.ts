import { type ChildProcess, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, hasBinary, redisServerBinary, spawnServer, stopChild } from "./redis-server.js";

const run = promisify(execFile);
export const redisCliBinary = process.env.REDIS_CLI_BIN ?? "/usr/bin/redis-cli";
const clusterReadyTimeoutMs = 20_000;

/** A Redis Cluster of masters without replicas, on loopback ports, started by this process. */
export interface RedisClusterHandle {
  readonly ports: number[];
  readonly urls: string[];
  stop(): Promise<void>;
}

export function redisClusterUnavailableReason(): string | undefined {
  if (!hasBinary(redisServerBinary)) return `redis-server not found at ${redisServerBinary}`;
  if (!hasBinary(redisCliBinary)) return `redis-cli not found at ${redisCliBinary} (Debian package redis-tools)`;
  return undefined;
}

/**
 * `redis-server --cluster-enabled yes` on `nodes` free loopback ports (each with its bus port + 10000
 * free), joined with `redis-cli --cluster create ... --cluster-replicas 0`, ready when every node
 * reports cluster_state:ok.
 */
export async function startRedisCluster(nodes = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-cluster-"));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => stopChild(child, "SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < nodes) {
      const port = await freePort({ withBusPort: true });
      if (ports.includes(port)) continue;
      const args = [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--cluster-node-timeout",
        "2000",
        "--save",
        "",
        "--appendonly",
        "no",
      ];
      children.push(await spawnServer(args, port));
      ports.push(port);
    }
    await run(
      redisCliBinary,
      ["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { timeout: clusterReadyTimeoutMs },
    );
    await waitForClusterOk(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, urls: ports.map((port) => `redis://127.0.0.1:${port}`), stop };
}

async function waitForClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + clusterReadyTimeoutMs;
  for (;;) {
    const states = await Promise.all(
      ports.map((port) =>
        run(redisCliBinary, ["-h", "127.0.0.1", "-p", String(port), "CLUSTER", "INFO"], { timeout: 2_000 }).then(
          ({ stdout }) => stdout.includes("cluster_state:ok"),
          () => false,
        ),
      ),
    );
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`cluster on ports ${ports.join(", ")} not ok in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
