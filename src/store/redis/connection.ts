import { InvariantError, PeerDependencyError, ValidationError } from "../../core/errors.js";
import { CommandDeadlines } from "./deadlines.js";
import { StoreLayoutError } from "./layout.js";
import { RedisUnavailableError } from "./unavailable-error.js";

export { RedisUnavailableError };

/** What the store needs from a standalone node-redis (`@redis/client` 5) client. */
export interface NodeRedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(args: readonly string[]): Promise<unknown>;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  close?(): Promise<unknown>;
  destroy?(): unknown;
  /** Let the socket keep the process alive (the default), or not. */
  ref?(): unknown;
  unref?(): unknown;
}

/** What the store needs from a node-redis cluster client. */
export interface NodeRedisClusterLike {
  readonly isOpen: boolean;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: readonly string[]): Promise<unknown>;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  nodeClient(node: unknown): unknown;
  close?(): Promise<unknown>;
  destroy?(): unknown;
}

/**
 * How to reach Redis: a URL, cluster node URLs (an array or `{ cluster: [...] }`), or a node-redis
 * client or cluster client (for instance the one inside a `@keyv/redis` Keyv), which is reused and
 * left open on close.
 */
export type RedisTarget = string | string[] | { cluster: string[] } | NodeRedisClientLike | NodeRedisClusterLike;

export interface ConnectionTimeouts {
  /** A command that gets no reply in this time fails (the ledger then answers LEDGER_UNAVAILABLE). */
  commandTimeoutMs: number;
  /** While (re)connecting, a call waits this long for the connection before failing. */
  readyWaitMs: number;
}

/** One way to send a command, whatever the client: routed by key on a cluster, bounded in time. */
export interface RedisConnection {
  readonly kind: "client" | "cluster";
  send(routingKey: string | undefined, args: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
}

const reconnectDelayMsMax = 1_000;
const connectTimeoutMs = 1_000;
const closeTimeoutMs = 1_000;

/** Opens (or adopts) a connection. Never waits for Redis: the first command does, within readyWaitMs. */
export async function openConnection(target: RedisTarget, timeouts: ConnectionTimeouts): Promise<RedisConnection> {
  const clusterUrls = clusterUrlsOf(target);
  if (clusterUrls) {
    const { createCluster } = await loadRedisClient();
    const cluster = createCluster({
      rootNodes: clusterUrls.map((url) => ({ url })),
      defaults: { disableOfflineQueue: true, socket: socketOptions() },
    }) as unknown as NodeRedisClusterLike;
    return new ClusterConnection(cluster, true, timeouts);
  }
  if (typeof target === "string") {
    const { createClient } = await loadRedisClient();
    const idleRelease = new IdleRelease();
    const client = createClient({
      url: target,
      // Fail fast while disconnected instead of queueing: a queued reserve would answer too late.
      disableOfflineQueue: true,
      socket: socketOptions(),
    }) as unknown as NodeRedisClientLike;
    idleRelease.attach(client);
    return new ClientConnection(client, true, timeouts, idleRelease);
  }
  if (isCluster(target)) return new ClusterConnection(target, false, timeouts);
  if (isClient(target)) return new ClientConnection(target, false, timeouts);
  throw new ValidationError([
    {
      code: "invalid_type",
      path: "redis",
      message: "must be a redis:// URL, cluster node URLs, or a @redis/client client or cluster client",
    },
  ]);
}

function socketOptions() {
  return {
    connectTimeout: connectTimeoutMs,
    // Reconnect by itself, quickly at first, then once a second for as long as it takes.
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, reconnectDelayMsMax),
  };
}

/**
 * A client this store created holds the process only while a command is under way: between
 * commands its socket is unref'd, so a script that never calls `ledger.close()` still exits when
 * its work is done. (A client the caller passed in is theirs: its ref state is left alone.) While
 * Redis is unreachable, node-redis's reconnect timer still holds the process until `close()`.
 */
export class IdleRelease {
  private inFlight = 0;
  private client: Pick<NodeRedisClientLike, "ref" | "unref"> | undefined;

  attach(client: Pick<NodeRedisClientLike, "ref" | "unref">): void {
    this.client = client;
    client.unref?.();
  }

  begin(): void {
    if (this.inFlight === 0) this.client?.ref?.();
    this.inFlight++;
  }

  /**
   * After a (re)connect: a socket opened while idle was unref'd as it was created, and a ref()
   * made before node-redis stored it did not reach it.
   */
  connected(): void {
    if (this.inFlight > 0) this.client?.ref?.();
  }

  end(): void {
    if (this.inFlight <= 0) throw new InvariantError("redis connection: more commands ended than began");
    this.inFlight--;
    if (this.inFlight === 0) this.client?.unref?.();
  }
}

async function loadRedisClient(): Promise<typeof import("@redis/client")> {
  try {
    return await import("@redis/client");
  } catch (error) {
    throw new PeerDependencyError("@redis/client", "The Redis ledger store", { cause: error });
  }
}

function clusterUrlsOf(target: RedisTarget): string[] | undefined {
  if (Array.isArray(target)) return target;
  if (typeof target === "object" && target !== null && "cluster" in target && Array.isArray(target.cluster)) {
    return target.cluster;
  }
  return undefined;
}

function isCluster(target: unknown): target is NodeRedisClusterLike {
  return (
    typeof target === "object" &&
    target !== null &&
    typeof (target as NodeRedisClusterLike).sendCommand === "function" &&
    typeof (target as NodeRedisClusterLike).nodeClient === "function"
  );
}

function isClient(target: unknown): target is NodeRedisClientLike {
  return (
    typeof target === "object" &&
    target !== null &&
    typeof (target as NodeRedisClientLike).sendCommand === "function" &&
    "isReady" in target
  );
}

/** Server error replies are bugs or transient states; connection failures are always transient. */
export function asStoreError(error: unknown): Error {
  const message = (error as Error)?.message ?? String(error);
  if (message.includes("STORE_LAYOUT ")) {
    return new StoreLayoutError(message.slice(message.indexOf("STORE_LAYOUT ") + 13).split(" script:")[0]);
  }
  if (message.includes("INVARIANT_VIOLATED")) {
    return new InvariantError(message.slice(message.indexOf("INVARIANT_VIOLATED") + 19).split(" script:")[0]);
  }
  // A server without the functions library: the store loads it and calls again.
  if (/Function not found/i.test(message) || error instanceof RedisUnavailableError) return error as Error;
  // A script that failed at run time is a bug, not a fault to retry: its writes before the error stay.
  if (/user_function|user_script|Error running script|Error compiling script/.test(message)) {
    return new InvariantError(`a Redis script failed: ${message}`);
  }
  return new RedisUnavailableError(`Redis store: ${message}`, { cause: error });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`Redis store: ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Graceful close, bounded: a dead server must not hold up shutdown. */
async function closeClient(client: { close?(): Promise<unknown>; destroy?(): unknown }): Promise<void> {
  try {
    await withTimeout(Promise.resolve(client.close?.()), closeTimeoutMs, "close");
  } catch {
    try {
      client.destroy?.();
    } catch {
      // Already closed.
    }
  }
}

class ClientConnection implements RedisConnection {
  readonly kind = "client";
  private readyWaiter: Promise<void> | undefined;
  private readonly deadlines: CommandDeadlines;

  constructor(
    private readonly client: NodeRedisClientLike,
    private readonly owned: boolean,
    private readonly timeouts: ConnectionTimeouts,
    private readonly idleRelease?: IdleRelease,
  ) {
    this.deadlines = new CommandDeadlines(timeouts.commandTimeoutMs);
    // Errors reach callers through their commands; an unheard 'error' event would kill the process.
    if (owned) client.on("error", () => undefined);
    if (!client.isOpen) client.connect().catch(() => undefined);
  }

  async send(_routingKey: string | undefined, args: readonly string[]): Promise<unknown> {
    this.idleRelease?.begin();
    try {
      if (!this.client.isReady) {
        await this.waitReady();
        this.idleRelease?.connected();
      }
      try {
        return await this.deadlines.track(this.client.sendCommand(args));
      } catch (error) {
        throw asStoreError(error);
      }
    } finally {
      this.idleRelease?.end();
    }
  }

  private waitReady(): Promise<void> {
    if (!this.client.isOpen) this.client.connect().catch(() => undefined);
    // One listener however many calls wait.
    this.readyWaiter ??= new Promise<void>((resolve) => {
      this.client.once("ready", () => {
        this.readyWaiter = undefined;
        resolve();
      });
    });
    return withTimeout(this.readyWaiter, this.timeouts.readyWaitMs, "not connected");
  }

  async close(): Promise<void> {
    if (this.owned) await closeClient(this.client);
  }
}

class ClusterConnection implements RedisConnection {
  readonly kind = "cluster";
  private connecting: Promise<unknown> | undefined;
  private connected = false;
  private readonly deadlines: CommandDeadlines;

  constructor(
    private readonly cluster: NodeRedisClusterLike,
    private readonly owned: boolean,
    private readonly timeouts: ConnectionTimeouts,
  ) {
    this.deadlines = new CommandDeadlines(timeouts.commandTimeoutMs);
    if (owned) cluster.on("error", () => undefined);
    this.connected = cluster.isOpen;
  }

  async send(routingKey: string | undefined, args: readonly string[]): Promise<unknown> {
    if (!this.connected) await withTimeout(this.connect(), this.timeouts.readyWaitMs, "cluster not connected");
    try {
      return await this.deadlines.track(this.cluster.sendCommand(routingKey, false, args));
    } catch (error) {
      throw asStoreError(error);
    }
  }

  private connect(): Promise<unknown> {
    this.connecting ??= this.cluster.connect().then(
      () => {
        this.connected = true;
      },
      (error) => {
        this.connecting = undefined;
        throw asStoreError(error);
      },
    );
    return this.connecting;
  }

  async close(): Promise<void> {
    if (this.owned && (this.connected || this.connecting)) await closeClient(this.cluster);
  }
}
