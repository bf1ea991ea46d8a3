import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { lockMessages } from '../cache.messages';
import { DuplicateConnection } from '../redis/duplicate-connection';
import type { RedisClient } from '../redis/redis.client';
import type { RedisConnection } from '../redis/redis-connection.factory';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import type { AcquireAttempt, LockBackend, ReplicaRequirement } from './lock-backend.interface';
import type { LockNames } from './lock-names.util';
import { defineLockScripts, FENCE_RETENTION_MS, type LockScriptCommands } from './redis-lock.scripts';
import { ReleaseSubscriber } from './release-subscriber';

/**
 * Locks in Redis: one Lua script per step (see redis-lock.scripts.ts), sent through
 * `RedisClient.run` on the module's connection, so every call has its deadline and typed errors.
 *
 * Replicated acquisitions use a connection of their own: `WAIT` counts the writes of the
 * connection it is sent on and blocks that connection until the replicas answer, which on the
 * shared connection would stall every cache read behind it.
 */
export class RedisLockBackend implements LockBackend {
  private readonly scripts: LockScriptCommands;
  private readonly subscriber: ReleaseSubscriber;
  private readonly replicated: DuplicateConnection;
  private readonly errorLog = new RateLimitedLogger(new Logger('ElileCache:Locks'));

  constructor(private readonly client: RedisClient) {
    this.scripts = defineLockScripts(client.connection);
    this.subscriber = new ReleaseSubscriber(client, (error) =>
      this.errorLog.warn('subscriber', lockMessages.notificationsUnavailable(client.describeError(error))),
    );
    this.replicated = new DuplicateConnection(client, (connection) => {
      defineLockScripts(connection);
      connection.on('error', (error: unknown) =>
        this.errorLog.warn('replicated', lockMessages.replicatedConnectionFailed(client.describeError(error))),
      );
    });
  }

  /** Channels the subscriber connection currently listens to. */
  get subscribedChannels(): number {
    return this.subscriber.channelCount;
  }

  acquire(names: LockNames, owner: string, ttlMs: number): Promise<AcquireAttempt> {
    return this.acquireOn(this.scripts, names, owner, ttlMs);
  }

  async acquireReplicated(
    names: LockNames,
    owner: string,
    ttlMs: number,
    replicas: ReplicaRequirement,
  ): Promise<{ attempt: AcquireAttempt; acknowledged?: number }> {
    const connection = await this.replicated.get();
    const attempt = await this.acquireOn(connection as unknown as LockScriptCommands, names, owner, ttlMs);
    if (!attempt.acquired) return { attempt };
    const acknowledged = await this.client.run('wait', () =>
      (connection as Redis).wait(replicas.count, replicas.timeoutMs),
    );
    return { attempt, acknowledged };
  }

  async extend(names: LockNames, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.client.run('evalsha', () => this.scripts.elileLockExtend(names.lock, owner, ttlMs))) === 1;
  }

  async release(names: LockNames, owner: string): Promise<boolean> {
    const released = await this.client.run('evalsha', () =>
      this.scripts.elileLockRelease(names.lock, owner, names.channel),
    );
    return released === 1;
  }

  onRelease(names: LockNames, listener: () => void): Promise<() => void> {
    return this.subscriber.subscribe(names.channel, listener);
  }

  async evictionPolicies(): Promise<string[]> {
    const connection = this.client.connection;
    // Every master holds lock keys in a cluster; CONFIG is per server.
    const servers: RedisConnection[] =
      'nodes' in connection && connection.isCluster ? connection.nodes('master') : [connection];
    const policies: string[] = [];
    for (const server of servers) {
      const reply = (await this.client.run('config', () => server.config('GET', 'maxmemory-policy'))) as string[];
      policies.push(reply[1] ?? 'unknown');
    }
    return policies;
  }

  async close(): Promise<void> {
    await Promise.all([this.subscriber.close(), this.replicated.close()]);
  }

  private async acquireOn(
    scripts: LockScriptCommands,
    names: LockNames,
    owner: string,
    ttlMs: number,
  ): Promise<AcquireAttempt> {
    const retentionMs = Math.max(FENCE_RETENTION_MS, ttlMs);
    const [acquired, value] = await this.client.run('evalsha', () =>
      scripts.elileLockAcquire(names.lock, names.fence, owner, ttlMs, retentionMs),
    );
    return acquired === 1 ? { acquired: true, fencingToken: value } : { acquired: false, holderTtlMs: value };
  }
}
