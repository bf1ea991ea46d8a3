import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  CacheArgumentError,
  CacheCircuitOpenError,
  CacheCommandError,
  CacheConfigurationError,
  type CacheError,
  CacheOverloadedError,
  CacheTimeoutError,
  CacheUnavailableError,
} from '../cache.errors';
import { messages, redact } from '../cache.messages';
import { DEFAULTS } from '../options/cache-defaults';
import { type Duration, durationToMs } from '../options/duration.util';
import type { ResolvedRedisOptions } from '../options/resolve-options';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { type BreakerStatus, ConnectionBreaker } from './connection-breaker';
import { connectionSecrets, describeTarget } from './connection-secrets';
import { HungConnectionDetector } from './hung-connection.detector';
import { createRedisConnection, type RedisConnection } from './redis-connection.factory';
import { translateRedisError } from './redis-error.util';
import { WriteCoalescer } from './write-coalescer';

const SCAN_BATCH = 1000;

/**
 * Which deadline a command gets: `read` is `redis.readTimeout`, `write` is `redis.writeTimeout`,
 * `other` is `redis.commandTimeout` (the connection's own).
 */
export type CommandKind = 'read' | 'write' | 'other';

const COMMAND_KINDS: Readonly<Record<string, CommandKind>> = {
  get: 'read',
  mget: 'read',
  exists: 'read',
  ping: 'read',
  set: 'write',
  unlink: 'write',
  evalsha: 'write',
  incrby: 'write',
  pexpire: 'write',
};

/** Failures that say Redis is gone or hung; an error reply (Redis answered) is not one. */
const isBreakerFailure = (error: Error): boolean =>
  error instanceof CacheTimeoutError || error instanceof CacheUnavailableError;

/**
 * The module's Redis connection: one multiplexed ioredis connection, connected at module init and
 * closed at application shutdown. Every command has a deadline and fails with a typed error
 * (`CacheUnavailableError`, `CacheTimeoutError`, `CacheCommandError`) instead of hanging.
 *
 * The sketch's operations are here; `connection` exposes ioredis for everything else (its
 * commands then follow the same deadlines, but errors are ioredis's own).
 */
export class RedisClient implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ElileCache:Redis');
  private readonly errorLog = new RateLimitedLogger(this.logger);
  private readonly redis?: RedisConnection;
  private readonly writes?: WriteCoalescer;
  private readonly target: string;
  private readonly secrets: readonly string[];
  private readonly liveness = new HungConnectionDetector((timeouts) => this.recycle(timeouts));
  private readonly maxInFlight: number;
  private readonly breaker?: ConnectionBreaker;
  /** ioredis's per-command deadline is read from this object at send time (standalone, Sentinel). */
  private readonly deadlines?: { commandTimeout?: number };
  private inFlight = 0;
  private wasReady = false;
  private closing = false;
  /** Between recycling a hung connection and its close: it must not be recycled again. */
  private recycling = false;

  /** `options` is undefined when the module uses the memory store; every call then throws. */
  constructor(private readonly options?: ResolvedRedisOptions) {
    this.maxInFlight = options?.maxInFlight ?? Infinity;
    if (options) {
      this.redis = createRedisConnection(options);
      if (!this.redis.options.enableAutoPipelining) this.writes = new WriteCoalescer(this.redis);
      this.watch(this.redis);
      if (!options.cluster) this.deadlines = (this.redis as Redis).options;
      if (options.breaker.enabled) {
        this.breaker = new ConnectionBreaker(options.breaker, isBreakerFailure, () => this.ping(), {
          opened: (reason) =>
            this.logger.warn(messages.breakerOpened(this.target, options.breaker.threshold, this.reason(reason))),
          halfOpen: () => this.logger.log(messages.breakerHalfOpen(this.target)),
          closed: (openForMs, probes) => this.logger.log(messages.breakerClosed(this.target, openForMs, probes)),
        });
      }
    }
    // From the connection as built: what ioredis actually uses, whatever form it was given in.
    this.target = options && this.redis ? describeTarget(options, this.redis) : 'memory';
    this.secrets = options && this.redis ? connectionSecrets(options, this.redis) : [];
  }

  /** The underlying ioredis connection (a `Cluster` when configured for one). */
  get connection(): RedisConnection {
    if (!this.redis) throw new CacheConfigurationError(messages.redisDisabled());
    return this.redis;
  }

  /** Whether commands can be sent right now. */
  get isReady(): boolean {
    return this.redis?.status === 'ready';
  }

  /** The circuit breaker's state, openings and refusals (`disabled` without one, or in memory mode). */
  breakerStatus(): BreakerStatus {
    return (
      this.breaker?.status ?? {
        state: 'disabled',
        opened: 0,
        refused: 0,
        transitions: { open: 0, 'half-open': 0, closed: 0 },
      }
    );
  }

  /**
   * Sends PING past the circuit breaker and the in-flight limit, and resolves with the round
   * trip in milliseconds; for health checks and the breaker's probe.
   * @param timeoutMs the deadline (default `redis.readTimeout`); on a cluster, the nodes' own.
   * @throws CacheUnavailableError | CacheTimeoutError | CacheCommandError like any command.
   */
  ping(timeoutMs = this.options?.readTimeoutMs ?? 0): Promise<number> {
    const started = performance.now();
    let pending: Promise<unknown>;
    try {
      pending = this.send(() => this.connection.ping(), timeoutMs);
    } catch (error) {
      return Promise.reject(this.failure(error, 'ping', timeoutMs));
    }
    return pending.then(
      () => {
        this.liveness.replied();
        return performance.now() - started;
      },
      (error: unknown) => {
        throw this.failure(error, 'ping', timeoutMs);
      },
    );
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis) return;
    if (this.options && this.options.maxConnections !== DEFAULTS.redis.maxConnections) {
      this.logger.warn(messages.maxConnectionsIgnored(this.options.maxConnections));
    }
    try {
      await this.redis.connect();
    } catch (error) {
      // ioredis keeps reconnecting in the background; the application boots and degrades.
      this.logger.warn(messages.initialConnectFailed(this.target, this.reason(error)));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const redis = this.redis;
    this.breaker?.stop();
    if (!redis || redis.status === 'end') return;
    this.closing = true;
    try {
      await redis.quit();
    } catch {
      // QUIT cannot be sent while disconnected; closing the socket is all that is left to do.
    } finally {
      redis.disconnect();
    }
  }

  /** The value at `key` as a string, or `null`. */
  async get(key: string): Promise<string | null> {
    return this.run('get', () => this.connection.get(checkKey(key)));
  }

  /** The value at `key` as bytes, or `null`. */
  async getBuffer(key: string): Promise<Buffer | null> {
    return this.run('get', () => this.connection.getBuffer(checkKey(key)));
  }

  /**
   * Stores a string or bytes, with a TTL in seconds when given.
   * @throws CacheArgumentError for any other value: ioredis would store `undefined` and `null`
   *   as `""` and an object as `"[object Object]"` without a word.
   */
  async set(key: string, value: string | Buffer, ttl?: Duration): Promise<void> {
    checkKey(key);
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
      throw new CacheArgumentError(
        `RedisClient.set needs a string or Buffer value, got ${value === null ? 'null' : typeof value}; ` +
          `use a CacheService to store other values`,
      );
    }
    const ttlMs = ttl === undefined ? undefined : durationToMs(ttl, 'TTL');
    await this.run('set', () =>
      ttlMs === undefined ? this.connection.set(key, value) : this.connection.set(key, value, 'PX', ttlMs),
    );
  }

  /** Deletes keys (without blocking Redis on large values); returns how many existed. */
  async delete(...keys: string[]): Promise<number> {
    keys.forEach(checkKey);
    if (keys.length === 0) return 0;
    return this.run('unlink', () => this.connection.unlink(...keys));
  }

  /**
   * Deletes every key matching a Redis glob pattern, with SCAN and UNLINK in batches (never
   * KEYS), on every master of a cluster. Escape ids placed in the pattern with `escapeGlob`.
   * Keys written while the scan runs may survive it. Returns how many keys were deleted.
   */
  async deletePattern(pattern: string): Promise<number> {
    checkKey(pattern);
    const connection = this.connection;
    const nodes: Redis[] =
      'nodes' in connection && connection.isCluster ? connection.nodes('master') : [connection as Redis];
    let deleted = 0;
    for (const node of nodes) deleted += await this.deleteMatchingOn(node, pattern, connection !== node);
    return deleted;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.run('exists', () => this.connection.exists(checkKey(key)))) > 0;
  }

  /** Adds `amount` (a whole number) to the counter at `key`; returns the new value. */
  async increment(key: string, amount = 1): Promise<number> {
    if (!Number.isSafeInteger(amount)) throw new CacheArgumentError(`increment amount must be a whole number`);
    return this.run('incrby', () => this.connection.incrby(checkKey(key), amount));
  }

  /** Sets the TTL of an existing key, in seconds; returns whether the key existed. */
  async expire(key: string, ttl: Duration): Promise<boolean> {
    const ttlMs = durationToMs(ttl, 'TTL');
    return (await this.run('pexpire', () => this.connection.pexpire(checkKey(key), ttlMs))) === 1;
  }

  /**
   * Runs an ioredis call under the module's error policy: failures become typed, redacted errors.
   * The stores and services of this module send every command through here.
   *
   * `kind` picks the deadline (see `CommandKind`; by default from the command's name). It applies
   * to what `call` sends synchronously on this connection; commands ioredis sends later (with
   * `enableAutoPipelining`, on a cluster, a script's EVAL after NOSCRIPT) get `commandTimeout`.
   * @throws CacheCircuitOpenError at once, without sending, while the circuit breaker is open.
   * @throws CacheOverloadedError at once when `redis.maxInFlight` commands are outstanding.
   */
  run<T>(command: string, call: () => Promise<T>, kind: CommandKind = COMMAND_KINDS[command] ?? 'other'): Promise<T> {
    if (this.breaker && !this.breaker.allowsCommands()) return Promise.reject(this.circuitOpen(command));
    // A bulkhead. The deadline runs from the moment a command is issued, so past some burst size
    // the client's own work of writing and parsing the burst eats it: 20,000 concurrent reads all
    // succeeded, 50,000 all timed out. Refusing the excess keeps the rest inside their deadline.
    // (A counter rather than a policy library: this is on every command's path.)
    if (this.inFlight >= this.maxInFlight) return Promise.reject(this.overloaded(command));
    const deadlineMs = this.deadlineOf(kind);
    let pending: Promise<T>;
    try {
      this.writes?.beforeWrite();
      pending = this.send(call, deadlineMs);
    } catch (error) {
      return this.failed(this.failure(error, command, deadlineMs));
    }
    this.inFlight++;
    // Plain callbacks rather than an async wrapper: this is on every command's path.
    return pending.then(this.answered, (error: unknown) => {
      this.inFlight--;
      return this.failed(this.failure(error, command, deadlineMs));
    });
  }

  /** Rejects with a command's typed failure, counted by the breaker when it says Redis is gone or hung. */
  private failed(failure: CacheError): Promise<never> {
    return this.breaker && isBreakerFailure(failure) ? this.breaker.failed(failure) : Promise.reject(failure);
  }

  private deadlineOf(kind: CommandKind): number {
    const options = this.options;
    if (!options) return 0;
    return kind === 'read'
      ? options.readTimeoutMs
      : kind === 'write'
        ? options.writeTimeoutMs
        : options.commandTimeoutMs;
  }

  /**
   * Calls `call` with ioredis's per-command deadline set to `deadlineMs`: ioredis arms each
   * command's timer from `options.commandTimeout` as it sends it, so one mechanism serves every
   * deadline. Restored at once, so that commands sent any other way keep `commandTimeout`.
   */
  private send<T>(call: () => Promise<T>, deadlineMs: number): Promise<T> {
    const deadlines = this.deadlines;
    const base = this.options?.commandTimeoutMs;
    if (!deadlines || deadlineMs === base) return call();
    deadlines.commandTimeout = deadlineMs;
    try {
      return call();
    } finally {
      deadlines.commandTimeout = base;
    }
  }

  /**
   * Without a stack trace: an overload comes in bursts, and capturing tens of thousands of stacks
   * took most of the time of a 100,000-call burst (the trace says nothing the command name does not).
   */
  private overloaded(command: string): CacheOverloadedError {
    return withoutStack(() => new CacheOverloadedError(messages.overloaded(command, this.maxInFlight), command));
  }

  /** Without a stack trace, like an overload: while the breaker is open, every call gets one. */
  private circuitOpen(command: string): CacheCircuitOpenError {
    return withoutStack(() => new CacheCircuitOpenError(messages.circuitOpen(command), command));
  }

  private readonly socketData = (): void => this.liveness.replied();

  private readonly answered = <T>(value: T): T => {
    this.inFlight--;
    this.liveness.replied();
    this.breaker?.succeeded();
    return value;
  };

  /** The typed, redacted error of a failed command; recycles the connection when it hangs. */
  private failure(error: unknown, command: string, deadlineMs: number): CacheError {
    const failure = translateRedisError(error, command, deadlineMs, this.secrets);
    if (failure instanceof CacheCommandError) this.liveness.replied();
    else if (failure instanceof CacheTimeoutError) this.liveness.timedOut();
    return failure;
  }

  /**
   * Replaces a connection that stopped answering: the commands stuck in its reply queue are
   * dropped with it, and until the new one is ready, commands fail at once (no offline queue).
   */
  private recycle(timeouts: number): void {
    const redis = this.redis;
    // Its socket closes only once the disconnect times out (a hung peer never answers the FIN),
    // while the commands it held keep timing out: each further disconnect would add a timer and
    // a close listener to the same socket (11 within 200 ms at 200 calls/s).
    if (!redis || this.closing || this.recycling || redis.status !== 'ready') return;
    this.recycling = true;
    this.logger.warn(messages.connectionHung(this.target, timeouts));
    redis.disconnect(true);
  }

  private async deleteMatchingOn(node: Redis, pattern: string, keysSpanSlots: boolean): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.run('scan', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH));
      cursor = next;
      if (keys.length === 0) continue;
      if (keysSpanSlots) {
        // One UNLINK over keys of several slots is refused (CROSSSLOT), even on a single node.
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.unlink(key);
        const replies = await this.run('unlink', () => pipeline.exec());
        deleted += (replies ?? []).reduce((sum, [, count]) => sum + Number(count ?? 0), 0);
      } else {
        deleted += await this.run('unlink', () => node.unlink(...keys));
      }
    } while (cursor !== '0');
    return deleted;
  }

  private watch(redis: RedisConnection): void {
    redis.on('ready', () => {
      this.wasReady = true;
      this.logger.log(messages.connected(this.target));
      // Bytes arriving prove the connection alive even when every command waiting on them has
      // already timed out (their late replies settle nothing). A cluster has a socket per node.
      if ('stream' in redis) redis.stream.on('data', this.socketData);
    });
    redis.on('close', () => {
      // Our own QUIT at shutdown closes the connection too; that is not a loss worth a warning.
      if (this.wasReady && !this.closing) this.logger.warn(messages.connectionLost(this.target));
      this.wasReady = false;
      this.recycling = false;
    });
    redis.on('error', (error: unknown) =>
      this.errorLog.error('connection', messages.connectionError(this.reason(error))),
    );
  }

  /**
   * The message of an error of this connection (or of a duplicate of it) with the connection's
   * secrets masked, for logs.
   */
  describeError(error: unknown): string {
    return this.reason(error);
  }

  private reason(error: unknown): string {
    return redact(String((error as Error)?.message ?? error), this.secrets);
  }
}

function withoutStack<E extends Error>(build: () => E): E {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function checkKey(key: string): string {
  if (typeof key !== 'string') throw new CacheArgumentError(`Redis keys must be strings, got ${typeof key}`);
  return key;
}
