import type { RedisClient } from './redis.client';
import type { RedisConnection } from './redis-connection.factory';

/**
 * A second connection with the client's settings (a `duplicate()`), opened on first use, for
 * work that must not share the command connection: a subscriber, or `WAIT`, which blocks the
 * connection it is sent on. A failed first connect is not retried here: ioredis keeps
 * reconnecting in the background, and commands fail fast until it is back.
 */
export class DuplicateConnection {
  private opening?: Promise<RedisConnection>;
  private opened?: RedisConnection;

  /**
   * `setup` attaches listeners before connecting; it must handle 'error' events. `overrides`
   * change ioredis options of the duplicate (e.g. `autoResubscribe`).
   */
  constructor(
    private readonly client: RedisClient,
    private readonly setup: (connection: RedisConnection) => void,
    private readonly overrides: Record<string, unknown> = {},
  ) {}

  /** The connection, connecting it the first time. */
  get(): Promise<RedisConnection> {
    this.opening ??= this.open();
    return this.opening;
  }

  /** Quits the connection if it was opened. */
  async close(): Promise<void> {
    const connection = this.opened;
    this.opening = undefined;
    this.opened = undefined;
    if (!connection || connection.status === 'end') return;
    try {
      await connection.quit();
    } catch {
      // QUIT cannot be sent while disconnected; closing the socket is all that is left to do.
    } finally {
      connection.disconnect();
    }
  }

  private async open(): Promise<RedisConnection> {
    const connection = (this.client.connection as { duplicate(overrides: object): RedisConnection }).duplicate(
      this.overrides,
    );
    this.setup(connection);
    this.opened = connection;
    try {
      await connection.connect();
    } catch {
      // Reported through the 'error' listener that `setup` attached.
    }
    return connection;
  }
}
