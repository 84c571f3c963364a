import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server this process started on a loopback port (or the one REDIS_URL names). */
export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** False when REDIS_URL points at a server this process does not control (kill/restart unavailable). */
  readonly owned: boolean;
  /** SIGKILL: no shutdown, no final AOF rewrite. */
  kill(): Promise<void>;
  /** Starts again on the same port and data directory (AOF replays, if it was on). */
  restart(): Promise<void>;
  /** SIGSTOP: the server hangs with its connections open (answers nothing) until resume(). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** Append-only file with fsync on every write, so a SIGKILL loses nothing. */
  appendOnly?: boolean;
  /** Extra redis-server arguments. */
  args?: string[];
}

export const redisServerBinary = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";
const startTimeoutMs = 10_000;

/**
 * Why a Redis suite cannot run here, or undefined when it can. On CI (CI=true) a suite must not
 * skip: callers turn a reason into a failure there.
 */
export function redisUnavailableReason(options: { needsOwnServer?: boolean } = {}): string | undefined {
  if (process.env.REDIS_URL && !options.needsOwnServer) return undefined;
  if (hasBinary(redisServerBinary)) return undefined;
  return `redis-server not found at ${redisServerBinary} (install the Debian package redis-server, or set REDIS_URL)`;
}

export function hasBinary(path: string): boolean {
  if (path.includes("/")) return existsSync(path);
  try {
    execFileSync("sh", ["-c", `command -v ${path}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Starts redis-server on a free loopback port, or adopts REDIS_URL unless the test needs to kill it. */
export async function startRedisServer(
  options: RedisServerOptions & { needsOwnServer?: boolean } = {},
): Promise<RedisServerHandle> {
  const external = process.env.REDIS_URL;
  if (external && !options.needsOwnServer) {
    const port = Number(new URL(external).port || 6379);
    return {
      url: external,
      port,
      owned: false,
      kill: async () => {
        throw new Error("REDIS_URL server: not ours to kill");
      },
      restart: async () => {
        throw new Error("REDIS_URL server: not ours to restart");
      },
      pause: () => {
        throw new Error("REDIS_URL server: not ours to pause");
      },
      resume: () => {
        throw new Error("REDIS_URL server: not ours to resume");
      },
      stop: async () => undefined,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "tollgate-redis-"));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, dir, options);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

async function launch(port: number, dir: string, options: RedisServerOptions): Promise<RedisServerHandle> {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--protected-mode",
    "yes",
    ...(options.appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
    ...(options.args ?? []),
  ];
  let child = await spawnServer(args, port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    owned: true,
    kill: async () => {
      await stopChild(child, "SIGKILL");
    },
    restart: async () => {
      await stopChild(child, "SIGKILL");
      child = await spawnServer(args, port);
    },
    pause: () => {
      child.kill("SIGSTOP");
    },
    resume: () => {
      child.kill("SIGCONT");
    },
    stop: async () => {
      await stopChild(child, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Servers this process started; killed if it exits without stopping them (a crashed test or script). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function spawnServer(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(redisServerBinary, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output = (output + chunk).slice(-4_000);
  });
  child.stderr?.on("data", (chunk) => {
    output = (output + chunk).slice(-4_000);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}) on port ${port}: ${output}`)));
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([waitForPong(port, startTimeoutMs), exited]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return child;
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
}

/** A port free on 127.0.0.1 now (and, for cluster nodes, with port + 10000 free for the bus). */
export async function freePort(options: { withBusPort?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = options.withBusPort ? 20_000 + Math.floor(Math.random() * 30_000) : await listenOnce(0);
    if (!(await isFree(port))) continue;
    if (options.withBusPort && !(await isFree(port + 10_000))) continue;
    return port;
  }
  throw new Error("no free loopback port found");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const chosen = typeof address === "object" && address ? address.port : port;
      server.close(() => resolve(chosen));
    });
  });
}

async function isFree(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

/** Resolves once `PING` answers `+PONG` on the port; bounded by timeoutMs. */
export async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOnce(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.on("data", (chunk) => {
      reply += chunk;
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}
