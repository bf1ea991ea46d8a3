import { DuplicateConnection } from '../redis/duplicate-connection';
import type { RedisClient } from '../redis/redis.client';

interface ChannelSubscription {
  readonly listeners: Set<() => void>;
  /** Settles when Redis confirmed (or refused) the SUBSCRIBE. */
  readonly ready: Promise<unknown>;
}

/**
 * Release announcements for every waiter of the process, over ONE subscriber connection opened
 * on first use: a channel is subscribed while at least one waiter listens to it, however many
 * keys are waited on. ioredis re-subscribes after a reconnect; announcements published while the
 * connection was down are lost, which is why waiters also poll.
 */
export class ReleaseSubscriber {
  private readonly channels = new Map<string, ChannelSubscription>();
  private readonly connection: DuplicateConnection;

  /** `onError` receives the subscriber connection's errors (raw: they may hold secrets). */
  constructor(
    private readonly client: RedisClient,
    onError: (error: unknown) => void,
  ) {
    this.connection = new DuplicateConnection(client, (connection) => {
      connection.on('message', (channel: string) => this.deliver(channel));
      connection.on('error', onError);
    });
  }

  /**
   * Calls `listener` on each message of `channel` until the returned function is called.
   * Resolves once Redis confirmed the subscription; rejects (having undone everything) when it
   * could not be made.
   */
  async subscribe(channel: string, listener: () => void): Promise<() => void> {
    let subscription = this.channels.get(channel);
    if (!subscription) {
      subscription = { listeners: new Set(), ready: this.send('subscribe', channel) };
      this.channels.set(channel, subscription);
    }
    const joined = subscription;
    // A wrapper, so that the same function passed twice is counted twice.
    const entry = () => listener();
    joined.listeners.add(entry);
    const unsubscribe = () => this.leave(channel, joined, entry);
    try {
      await joined.ready;
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /** Channels with at least one listener (for tests and diagnostics). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Drops every subscription and closes the subscriber connection. */
  async close(): Promise<void> {
    this.channels.clear();
    await this.connection.close();
  }

  private leave(channel: string, subscription: ChannelSubscription, entry: () => void): void {
    if (!subscription.listeners.delete(entry) || subscription.listeners.size > 0) return;
    if (this.channels.get(channel) !== subscription) return;
    this.channels.delete(channel);
    // Sent at once, so that it reaches Redis before a SUBSCRIBE of a later waiter of the same
    // channel (commands on one connection run in order). A failure leaves at worst an idle
    // subscription whose messages nobody listens to.
    this.send('unsubscribe', channel).catch(() => undefined);
  }

  private async send(command: 'subscribe' | 'unsubscribe', channel: string): Promise<unknown> {
    const connection = await this.connection.get();
    return this.client.run(command, () => connection[command](channel));
  }

  private deliver(channel: string): void {
    const subscription = this.channels.get(channel);
    if (!subscription) return;
    for (const listener of [...subscription.listeners]) listener();
  }
}
