import { Logger } from '@nestjs/common';
import { nearMessages } from '../cache.messages';
import type { RedisClient } from '../redis/redis.client';
import type { RedisConnection } from '../redis/redis-connection.factory';
import { DuplicateConnection } from '../redis/duplicate-connection';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { EVERY_KEY, type InvalidationChannel, type Invalidated } from './invalidation-channel';

const INVALIDATIONS = '__redis__:invalidate';

/**
 * Invalidations from Redis server-assisted client-side tracking, in broadcasting mode, on one
 * connection of its own: `CLIENT TRACKING ON REDIRECT <its own id> BCAST PREFIX <domain>…`, then
 * `SUBSCRIBE __redis__:invalidate`. Redis then announces every key written, deleted, expired or
 * evicted under those prefixes, by anyone — a Lua script deleting a tag's members, a SCAN sweep,
 * another program, this process's own writes — with no command added to any write. (An explicit
 * bus would cost a PUBLISH per write and could not name the keys a tag script deletes.)
 *
 * Tracking belongs to the connection: after any reconnect it is armed again before the channel
 * counts as up, and everything kept meanwhile is dropped (EVERY_KEY on down and on up). A
 * connection that silently stops delivering (a black-holed socket) is caught by a heartbeat
 * PING, which shares the socket with the invalidations: no answer within the deadline is down.
 */
export class TrackingChannel implements InvalidationChannel {
  private readonly logger = new Logger('ElileCache:Invalidation');
  private readonly log = new RateLimitedLogger(this.logger);
  private readonly listeners = new Set<(invalidated: Invalidated) => void>();
  private connection?: RedisConnection;
  private heartbeat?: NodeJS.Timeout;
  private arming?: Promise<void>;
  private up = false;
  private refused = false;
  private closed = false;

  /**
   * @param prefixes full key prefixes to track; they must not overlap (Redis refuses it).
   * @param heartbeatMs how often the connection proves it still delivers.
   * @param timeoutMs how long a heartbeat or sync may take.
   */
  private readonly duplicate: DuplicateConnection;

  constructor(
    private readonly client: RedisClient,
    private readonly prefixes: readonly string[],
    private readonly heartbeatMs: number,
    private readonly timeoutMs: number,
  ) {
    // Subscriptions are re-made by `arm` after tracking, never by ioredis on its own: a
    // subscribed connection cannot send CLIENT TRACKING any more. RESP2 on this connection even
    // under ioredis 6 (RESP3 by default): redirected to itself over RESP3, the invalidations
    // arrive as push frames that ioredis 6 does not emit, and the channel would look up while
    // delivering nothing (checked: ioredis 6.0.0, Redis 7.0). ioredis 5 speaks RESP2 only.
    this.duplicate = new DuplicateConnection(client, (connection) => this.watch(connection), {
      autoResubscribe: false,
      protocol: 2,
    });
  }

  get isUp(): boolean {
    return this.up;
  }

  listen(listener: (invalidated: Invalidated) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    await this.duplicate.get();
    // So that an application that finished booting against a reachable Redis has the channel up.
    await this.arming;
  }

  private watch(connection: RedisConnection): void {
    this.connection = connection;
    connection.on('ready', () => {
      this.arming = this.arm(connection);
    });
    connection.on('close', () => this.down(nearMessages.connectionClosed()));
    connection.on('error', (error: unknown) =>
      this.log.warn('error', nearMessages.channelDown(this.client.describeError(error))),
    );
    connection.on('messageBuffer', (channel: Buffer, message: Buffer | Buffer[] | null) => {
      if (channel.toString() === INVALIDATIONS) this.deliver(message);
    });
  }

  async sync(): Promise<void> {
    if (!this.up || !this.connection) throw new Error(nearMessages.connectionClosed());
    // Redis queues the invalidations of a command on this connection before it answers the
    // command itself, so a PING sent after that answer is answered after them.
    try {
      await this.ping(this.connection);
    } catch (error) {
      this.lost(this.connection, nearMessages.heartbeatMissed(this.timeoutMs));
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.connection = undefined;
    this.up = false;
    await this.duplicate.close();
  }

  private async arm(connection: RedisConnection): Promise<void> {
    try {
      const id = await connection.client('ID');
      // The heartbeat's command, tried once here: a user who may not PING would otherwise be
      // armed, fail its first heartbeat and reconnect, twice a second, for good.
      await connection.ping();
      const prefixes = this.prefixes.flatMap((prefix) => ['PREFIX', prefix]);
      await connection.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes);
      await connection.subscribe(INVALIDATIONS);
    } catch (error) {
      if (this.closed) return;
      const reason = this.client.describeError(error);
      if (/NOPERM|unknown (sub)?command/i.test(reason)) {
        // Permanent until an operator changes the ACL: do not hammer Redis with reconnects.
        if (!this.refused) this.logger.error(nearMessages.channelRefused(reason));
        this.refused = true;
        clearInterval(this.heartbeat);
        connection.disconnect();
        return;
      }
      this.lost(connection, reason);
      return;
    }
    if (this.closed || connection !== this.connection) return;
    this.up = true;
    this.logger.log(nearMessages.channelUp(this.prefixes.length));
    // Whatever was kept before the channel went down may have changed meanwhile.
    this.emit(EVERY_KEY);
  }

  private async beat(): Promise<void> {
    const connection = this.connection;
    if (!this.up || !connection) return;
    try {
      await this.ping(connection);
    } catch {
      this.lost(connection, nearMessages.heartbeatMissed(this.timeoutMs));
    }
  }

  private ping(connection: RedisConnection): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(nearMessages.heartbeatMissed(this.timeoutMs))), this.timeoutMs);
    });
    return Promise.race([connection.ping(), deadline]).finally(() => clearTimeout(timer));
  }

  /** Down, and a fresh connection (re-armed when ready) instead of one that stopped delivering. */
  private lost(connection: RedisConnection, reason: string): void {
    this.down(reason);
    if (!this.closed && connection === this.connection && connection.status === 'ready') connection.disconnect(true);
  }

  private down(reason: string): void {
    if (!this.up) return;
    this.up = false;
    if (!this.closed) this.log.warn('down', nearMessages.channelDown(reason));
    this.emit(EVERY_KEY);
  }

  private deliver(message: Buffer | Buffer[] | null): void {
    // A flush (FLUSHDB, FLUSHALL) is announced as a null key list.
    if (message === null) return this.emit(EVERY_KEY);
    const keys = Array.isArray(message) ? message.map((key) => key.toString()) : [message.toString()];
    this.emit(keys);
  }

  private emit(invalidated: Invalidated): void {
    for (const listener of this.listeners) listener(invalidated);
  }
}
