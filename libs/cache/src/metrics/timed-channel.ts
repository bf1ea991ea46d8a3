import { tracingChannel } from 'node:diagnostics_channel';

/** How one traced call ended, as a `TracingChannel` subscriber sees it. */
export interface TimedCall<C> {
  readonly context: C & { readonly result?: unknown; readonly error?: unknown };
  readonly seconds: number;
  readonly failed: boolean;
}

/**
 * Subscribes to the `start` and `asyncEnd` events of a tracing channel whose calls are traced with
 * `tracePromise`, and reports each call once it settled, with its duration. Returns the
 * unsubscribe function. The start time is kept beside the context, not on it: the context belongs
 * to the publisher and to every other subscriber.
 */
export function onTimedCall<C extends object>(name: string, report: (call: TimedCall<C>) => void): () => void {
  const startedAt = new WeakMap<object, number>();
  return subscribe<C>(name, {
    start: (context) => void startedAt.set(context, performance.now()),
    asyncEnd: (context) => {
      const started = startedAt.get(context);
      if (started === undefined) return;
      startedAt.delete(context);
      report({ context, seconds: (performance.now() - started) / 1000, failed: 'error' in context });
    },
  });
}

type Settled<C> = C & { result?: unknown; error?: unknown };

function subscribe<C extends object>(
  name: string,
  { start, asyncEnd }: { start: (context: C) => void; asyncEnd: (context: Settled<C>) => void },
): () => void {
  const handlers = { start, end: () => undefined, asyncStart: () => undefined, asyncEnd, error: () => undefined };
  const channel = tracingChannel<unknown, C>(name);
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}
