import { randomBytes } from 'node:crypto';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CACHE_OPTIONS, LOCK_BACKEND } from '../cache.constants';
import {
  CacheArgumentError,
  CacheCircuitOpenError,
  CacheTimeoutError,
  CacheUnavailableError,
  LockLostError,
  LockNotAcquiredError,
  LockReplicationError,
  LockUnavailableError,
} from '../cache.errors';
import { lockMessages } from '../cache.messages';
import { traceLock } from '../observability/cache-tracing';
import { describe, lockTtlToMs, durationToMs, waitToMs } from '../options/duration.util';
import type { ResolvedCacheOptions, ResolvedLockOptions } from '../options/resolve-options';
import { errorMessage } from '../support/error-message';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { Lock, lockValidityMs } from './lock';
import type { AcquireAttempt, LockBackend, ReplicaRequirement } from './lock-backend.interface';
import { type LockNames, lockNames } from './lock-names.util';
import type { AcquireOptions, TryAcquireOptions, UsingOptions } from './lock-options.interface';
import { LockCounters, type LockStats } from './lock-stats';
import { Wakeup } from './wakeup';

interface LockRequest {
  readonly names: LockNames;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly autoExtend: boolean;
  readonly replicas?: ReplicaRequirement;
  readonly signal?: AbortSignal;
}

/**
 * Distributed locks on the module's Redis (or in this process in memory store mode).
 *
 * A lock is a key holding a random owner id and a fencing token; every step is one atomic,
 * owner-checked Lua script, so a holder never deletes or extends another owner's lock. Waiters
 * are woken by the release itself (pub/sub on one shared subscriber connection) and otherwise
 * retry when the holder's TTL runs out. Locks are not re-entrant: a second acquisition of a held
 * key waits, even from the same caller.
 *
 * Locks from Redis are efficiency locks unless the protected resource checks fencing tokens; see
 * the README ("Distributed locks") for the guarantees.
 *
 * @example
 * const report = await locks.using('screening:42', async (lock) => {
 *   const screening = await repository.load('42');
 *   return repository.save(advance(screening), { fence: lock.fencingToken });
 * });
 */
@Injectable()
export class LockService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('ElileCache:Locks');
  private readonly errorLog = new RateLimitedLogger(this.logger);
  private readonly settings: ResolvedLockOptions;
  /** Locks handed out and not yet released (or lost and cleaned up), for shutdown. */
  private readonly held = new Set<Lock>();
  private readonly counters = new LockCounters();

  constructor(
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(LOCK_BACKEND) private readonly backend: LockBackend,
  ) {
    this.settings = options.locks;
  }

  /**
   * Takes the lock on `key`, waiting up to `wait` seconds while another owner holds it.
   * @throws LockNotAcquiredError when it stayed held for the whole wait.
   * @throws LockUnavailableError at once while the Redis circuit breaker is open.
   * @throws LockReplicationError when fewer than `replicas` replicas acknowledged it.
   * @throws CacheUnavailableError | CacheTimeoutError when Redis failed until the wait ended.
   * @throws the signal's reason when `signal` aborts.
   */
  acquire(key: string, options: AcquireOptions = {}): Promise<Lock> {
    return traceLock(
      () => ({ operation: 'acquire', key }),
      async () => {
        const waitMs = options.wait === undefined ? this.settings.defaultWaitMs : waitToMs(options.wait, 'Lock wait');
        const request = this.request(key, options, waitMs);
        const lock = await this.obtain(request);
        if (lock) return lock;
        throw new LockNotAcquiredError(lockMessages.notAcquired(key, waitMs), key);
      },
    );
  }

  /**
   * Takes the lock on `key` if it is free right now (one attempt); `null` when another owner
   * holds it. Throws like `acquire` for anything else (`LockUnavailableError` while the Redis
   * circuit breaker is open: not `null`, which would claim someone holds it).
   */
  tryAcquire(key: string, options: TryAcquireOptions = {}): Promise<Lock | null> {
    return traceLock(
      () => ({ operation: 'tryAcquire', key }),
      async () => this.obtain(this.request(key, options, 0)),
    );
  }

  /**
   * Runs `work` under the lock on `key`: acquires it (waiting like `acquire`), extends it every
   * `ttl / 3` while `work` runs (unless `autoExtend: false`), and releases it when `work` settles,
   * also when it throws.
   *
   * Resolves with `work`'s result only if the lock was held until `work` settled and Redis still
   * held it for us at release. Otherwise rejects with the `LockLostError` — after `work` settled:
   * `work` is not interrupted, but it can watch `lock.signal` and stop early. A `work` error while
   * the lock was held is rethrown as is.
   * @throws LockNotAcquiredError | LockReplicationError as `acquire`.
   * @throws LockLostError when the lock was lost before `work` settled.
   */
  async using<T>(key: string, work: (lock: Lock) => Promise<T> | T, options: UsingOptions = {}): Promise<T> {
    const lock = await this.acquire(key, { ...options, autoExtend: options.autoExtend ?? true });
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await work(lock) };
    } catch (error) {
      outcome = { error };
    }
    const heldThroughout = lock.isHeld;
    let confirmed = true;
    try {
      confirmed = await lock.release();
    } catch (error) {
      // Validity vouches for the work; the key expires by its TTL.
      this.errorLog.warn('release', lockMessages.releaseFailed(key, errorMessage(error)));
    }
    if (heldThroughout && confirmed) {
      if ('value' in outcome) return outcome.value;
      throw outcome.error;
    }
    const lost = lock.signal.reason as LockLostError;
    if ('value' in outcome || outcome.error === lost) throw lost;
    throw new LockLostError(lockMessages.lostInCallback(lost.message, errorMessage(outcome.error)), key, {
      cause: outcome.error,
    });
  }

  /** Acquisitions, refusals, waits, losses and extensions of this process's locks since it started. */
  stats(): LockStats {
    return this.counters.snapshot();
  }

  /** Warns when the lock Redis may evict keys: an evicted lock key lets a second owner in. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.options.store === 'memory') {
      this.logger.log(lockMessages.inProcess());
      return;
    }
    let policies: string[];
    try {
      policies = await this.backend.evictionPolicies();
    } catch (error) {
      this.logger.warn(lockMessages.evictionPolicyUnverified(errorMessage(error)));
      return;
    }
    for (const policy of new Set(policies)) {
      if (policy !== 'noeviction') this.logger.warn(lockMessages.unsafeEvictionPolicy(policy));
    }
  }

  /**
   * Gives up every lock still held (aborting its signal with a `LockLostError`) while the
   * connection is still open, so that no watchdog keeps extending after the application stopped
   * and other instances need not wait for the TTLs.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.held].map((lock) => lock.abandon()));
  }

  /** Closes the connections the locks opened (subscriber, replicated acquisitions). */
  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }

  private request(key: string, options: TryAcquireOptions, waitMs: number): LockRequest {
    const names = lockNames(this.options.namespace, this.settings.prefix, key);
    const ttlMs = options.ttl === undefined ? this.settings.defaultTtlMs : lockTtlToMs(options.ttl, 'Lock ttl');
    const count = options.replicas ?? this.settings.replicas;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new CacheArgumentError(`Lock replicas must be a whole number >= 0, got ${describe(count)}`);
    }
    if (count > 0 && this.options.store === 'redis' && this.options.redis.cluster) {
      throw new CacheArgumentError(`Lock replicas are not supported with a Redis Cluster connection`);
    }
    const timeoutMs =
      options.replicaTimeout === undefined
        ? this.settings.replicaTimeoutMs
        : durationToMs(options.replicaTimeout, 'Lock replicaTimeout');
    if (count > 0 && timeoutMs >= this.options.redis.commandTimeoutMs) {
      throw new CacheArgumentError(
        `Lock replicaTimeout must be below redis.commandTimeout (${this.options.redis.commandTimeoutMs / 1000} s)`,
      );
    }
    return {
      names,
      ttlMs,
      waitMs,
      autoExtend: options.autoExtend ?? false,
      replicas: count > 0 ? { count, timeoutMs } : undefined,
      signal: options.signal,
    };
  }

  /**
   * The acquisition loop. All attempts of one call use one owner id, so an attempt whose reply was
   * lost is recognised by the next one (the script treats "held by me" as acquired). On every way
   * out without a lock — wait over, error, abort — a lock that an attempt may have taken is
   * released (owner-checked), and no subscription or timer is left.
   */
  private async obtain(request: LockRequest): Promise<Lock | null> {
    const { names, signal } = request;
    signal?.throwIfAborted();
    const owner = randomBytes(16).toString('hex');
    const calledAt = performance.now();
    const deadline = calledAt + request.waitMs;
    // Whether an attempt found the lock held by another owner: the acquisition then waited for it.
    let contended = false;
    const wakeup = new Wakeup(signal);
    let listening: 'not yet' | 'yes' | 'unavailable' = 'not yet';
    let stopListening: (() => void) | undefined;
    // Whether some attempt may have taken the lock for `owner` without us holding a Lock for it.
    let mayHold = false;
    try {
      for (;;) {
        signal?.throwIfAborted();
        wakeup.reset();
        const startedAt = performance.now();
        let attempt: AcquireAttempt | undefined;
        let failure: unknown;
        try {
          attempt = await this.attempt(request, owner);
        } catch (error) {
          // Not sent, so nothing more may be held; and no waiting: the breaker refuses for a while.
          if (error instanceof CacheCircuitOpenError) {
            throw new LockUnavailableError(lockMessages.circuitOpen(names.key), names.key, { cause: error });
          }
          // Outcome unknown: a timed-out script may still run, a failed WAIT followed a success.
          mayHold = true;
          if (!(error instanceof CacheTimeoutError || error instanceof CacheUnavailableError)) throw error;
          failure = error;
        }
        if (attempt?.acquired) {
          mayHold = true;
          signal?.throwIfAborted();
          const lock = this.hold(request, owner, attempt.fencingToken, startedAt);
          if (lock) {
            this.counters.recordAcquired(contended ? performance.now() - calledAt : undefined);
            return lock;
          }
          // The reply came back after the lock's validity: unusable, so give it back and go on.
          mayHold = await this.backend.release(names, owner).then(
            () => false,
            () => true,
          );
        }
        if (attempt && !attempt.acquired) contended = true;
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0) {
          if (failure !== undefined) {
            // Redis did not answer the attempt: waiting for it to answer the release as well would
            // double the caller's wait. The release is queued behind the attempt on the same
            // connection, so it still lands after it; should it fail, the TTL ends the lock.
            if (mayHold) void this.backend.release(names, owner).catch(() => false);
            mayHold = false;
            throw failure;
          }
          if (mayHold) await this.backend.release(names, owner).catch(() => false);
          this.counters.notAcquired++;
          return null;
        }
        if (listening === 'not yet') {
          try {
            stopListening = await this.backend.onRelease(names, wakeup.notify);
            listening = 'yes';
            // A release between the attempt and the confirmed subscription was not announced to
            // us: try once more before pausing.
            continue;
          } catch (error) {
            listening = 'unavailable';
            this.errorLog.warn('subscribe', lockMessages.notificationsUnavailable(errorMessage(error)));
          }
        }
        await wakeup.pause(Math.min(remainingMs, this.pauseMs(attempt)));
      }
    } catch (error) {
      if (mayHold) await this.backend.release(names, owner).catch(() => false);
      throw error;
    } finally {
      stopListening?.();
    }
  }

  private async attempt(request: LockRequest, owner: string): Promise<AcquireAttempt> {
    const { names, ttlMs, replicas } = request;
    if (!replicas) return this.backend.acquire(names, owner, ttlMs);
    const { attempt, acknowledged = 0 } = await this.backend.acquireReplicated(names, owner, ttlMs, replicas);
    if (attempt.acquired && acknowledged < replicas.count) {
      throw new LockReplicationError(
        lockMessages.notReplicated(names.key, acknowledged, replicas.count, replicas.timeoutMs),
        names.key,
        acknowledged,
        replicas.count,
      );
    }
    return attempt;
  }

  /** A Lock for a successful attempt, unless its validity already ran out while the reply travelled. */
  private hold(request: LockRequest, owner: string, fencingToken: number, startedAt: number): Lock | undefined {
    if (performance.now() >= startedAt + lockValidityMs(request.ttlMs)) return undefined;
    const context = {
      backend: this.backend,
      names: request.names,
      owner,
      ttlMs: request.ttlMs,
      counters: this.counters,
      onSettled: (lock: Lock) => this.held.delete(lock),
    };
    const lock = new Lock(context, fencingToken, startedAt, request.autoExtend);
    this.held.add(lock);
    return lock;
  }

  /**
   * The fallback pause of a waiter: jittered up to `pollInterval`, and no longer than the
   * holder's remaining TTL (plus a few ms of jitter), so that an expired lock is taken over at
   * once. Never zero: no busy loop.
   */
  private pauseMs(attempt: AcquireAttempt | undefined): number {
    const poll = this.settings.pollIntervalMs * (0.5 + Math.random() * 0.5);
    if (attempt === undefined || attempt.acquired || attempt.holderTtlMs < 0) return poll;
    return Math.min(poll, attempt.holderTtlMs + 1 + Math.random() * 4);
  }
}
