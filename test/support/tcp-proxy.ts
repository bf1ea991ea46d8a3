import { AddressInfo, createConnection, createServer, Socket } from 'node:net';

const LOOPBACK = '127.0.0.1';
// Past this many held bytes per connection the client socket stops being read,
// so the kernel holds the rest: memory stays bounded and still nothing is lost.
const HELD_BYTES_CAP = 4 * 1024 * 1024;

export interface TcpProxy {
  /** Loopback port clients connect to instead of the target. */
  readonly port: number;
  /** Socket pairs currently open. */
  readonly connections: number;
  /** Holds client→server bytes (all connections, including new ones) until release(). */
  stall(): void;
  /**
   * stall() in both directions: server→client bytes are held too, so neither side hears from the
   * other (a network partition), while other clients of the server go on as usual.
   */
  blackHole(): void;
  /** Forwards everything held, in order, and stops holding. */
  release(): void;
  /**
   * Delays every client→server chunk by `ms` from now on (0 stops delaying); order is kept, and
   * chunks already delayed still wait their turn. Slows Redis down without stalling it.
   */
  setLatency(ms: number): void;
  /** Destroys every current client/server socket pair; the proxy keeps accepting. */
  cutAll(): void;
  /** cutAll() and stop listening; resolves when the listener is closed. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Buffer[];
  heldBytes: number;
  awaitingDrain: boolean;
  clientEnded: boolean;
  delayed: Array<{ due: number; chunk: Buffer }>;
  delayTimer?: NodeJS.Timeout;
}

export async function startTcpProxy(targetPort: number, targetHost = LOOPBACK): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let stalled = false;
  let repliesHeld = false;
  let latencyMs = 0;

  const destroyPair = (pair: Pair): void => {
    pairs.delete(pair);
    pair.held = [];
    pair.heldBytes = 0;
    pair.delayed = [];
    clearTimeout(pair.delayTimer);
    pair.client.destroy();
    pair.upstream.destroy();
  };

  const updateClientFlow = (pair: Pair): void => {
    if (pair.awaitingDrain || pair.heldBytes > HELD_BYTES_CAP) pair.client.pause();
    else pair.client.resume();
  };

  const toUpstream = (pair: Pair, chunk: Buffer): void => {
    // Writes are queued in order even when write() returns false, so waiting for
    // 'drain' only bounds memory; it never decides what is sent or when.
    if (!pair.upstream.write(chunk) && !pair.awaitingDrain) {
      pair.awaitingDrain = true;
      pair.upstream.once('drain', () => {
        pair.awaitingDrain = false;
        updateClientFlow(pair);
      });
    }
  };

  const drainDelayed = (pair: Pair): void => {
    pair.delayTimer = undefined;
    const now = performance.now();
    while (pair.delayed.length > 0 && pair.delayed[0].due <= now) toUpstream(pair, pair.delayed.shift()!.chunk);
    if (pair.delayed.length > 0) pair.delayTimer = setTimeout(() => drainDelayed(pair), pair.delayed[0].due - now);
    else if (pair.clientEnded && !stalled && pair.held.length === 0) pair.upstream.end();
  };

  const forward = (pair: Pair, chunk: Buffer): void => {
    if (latencyMs === 0 && pair.delayed.length === 0) {
      toUpstream(pair, chunk);
      return;
    }
    pair.delayed.push({ due: performance.now() + latencyMs, chunk });
    if (!pair.delayTimer)
      pair.delayTimer = setTimeout(() => drainDelayed(pair), Math.max(0, pair.delayed[0].due - performance.now()));
  };

  const flush = (pair: Pair): void => {
    const held = pair.held;
    pair.held = [];
    pair.heldBytes = 0;
    for (const chunk of held) forward(pair, chunk);
    // A client FIN seen while stalled must not overtake the bytes sent before it.
    if (pair.clientEnded && pair.delayed.length === 0) pair.upstream.end();
    updateClientFlow(pair);
  };

  const server = createServer((client) => {
    const upstream = createConnection({ port: targetPort, host: targetHost });
    const pair: Pair = {
      client,
      upstream,
      held: [],
      heldBytes: 0,
      awaitingDrain: false,
      clientEnded: false,
      delayed: [],
    };
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    if (repliesHeld) upstream.pause();

    client.on('data', (chunk: Buffer) => {
      if (stalled || pair.held.length > 0) {
        pair.held.push(chunk);
        pair.heldBytes += chunk.length;
        updateClientFlow(pair);
      } else {
        forward(pair, chunk);
      }
    });
    client.on('end', () => {
      pair.clientEnded = true;
      if (!stalled && pair.held.length === 0 && pair.delayed.length === 0) upstream.end();
    });

    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => {
          if (!repliesHeld) upstream.resume();
        });
      }
    });
    // end() rather than destroy(): destroy would discard replies still queued for the client.
    upstream.on('end', () => client.end());

    // A failed upstream connect (target down) looks to the client like a dropped connection.
    client.on('error', () => destroyPair(pair));
    upstream.on('error', () => destroyPair(pair));
    const onClose = (): void => {
      if (client.destroyed && upstream.destroyed) pairs.delete(pair);
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const cutAll = (): void => {
    for (const pair of [...pairs]) destroyPair(pair);
  };

  return {
    port,
    get connections() {
      return pairs.size;
    },
    stall: () => {
      stalled = true;
    },
    blackHole: () => {
      stalled = true;
      repliesHeld = true;
      for (const pair of pairs) pair.upstream.pause();
    },
    release: () => {
      stalled = false;
      repliesHeld = false;
      for (const pair of pairs) {
        flush(pair);
        pair.upstream.resume();
      }
    },
    setLatency: (ms: number) => {
      latencyMs = ms;
    },
    cutAll,
    close: () =>
      new Promise<void>((resolve, reject) => {
        cutAll();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
