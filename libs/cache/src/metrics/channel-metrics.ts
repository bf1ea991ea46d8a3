import { Histogram, type Registry } from 'prom-client';
import { type CacheLoadContext, type LockOperationContext, TRACING_CHANNELS } from '../observability/cache-tracing';
import { onTimedCall } from './timed-channel';

/** Loaders run from a millisecond (a cache in front of a cache) to seconds (a report). */
const LOADER_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** From an uncontended acquisition (one round trip) to a wait for a long job's lock. */
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What `registerChannelMetrics` registered, and how to stop feeding it. */
export interface ChannelMetrics {
  readonly names: string[];
  readonly unsubscribe: () => void;
}

/**
 * Registers the metrics that need one observation per call (histograms), from the module's
 * tracing channels of loader runs and lock acquisitions — never the channel of every cache
 * operation, which would make a near-cache hit pay for a trace. The channels are process-wide:
 * every instance of the module in the process feeds them.
 */
export function registerChannelMetrics(registry: Registry): ChannelMetrics {
  const registers = [registry];
  const loaderDuration = new Histogram({
    name: 'elile_cache_loader_duration_seconds',
    help: 'Loader runs, by why they ran (miss, refresh, unavailable) and how they ended (ok, error)',
    labelNames: ['domain', 'reason', 'outcome'],
    buckets: LOADER_BUCKETS,
    registers,
  });
  const lockWait = new Histogram({
    name: 'elile_cache_lock_wait_seconds',
    help: 'Time from an acquire (or using) call until it held the lock: one round trip when free, the wait when contended',
    buckets: LOCK_WAIT_BUCKETS,
    registers,
  });

  const stops = [
    onTimedCall<CacheLoadContext>(TRACING_CHANNELS.load, ({ context: { domain, reason }, seconds, failed }) => {
      loaderDuration.observe({ domain, reason, outcome: failed ? 'error' : 'ok' }, seconds);
    }),
    onTimedCall<LockOperationContext>(TRACING_CHANNELS.lock, ({ context, seconds, failed }) => {
      if (context.operation === 'acquire' && !failed) lockWait.observe(seconds);
    }),
  ];
  return {
    names: ['elile_cache_loader_duration_seconds', 'elile_cache_lock_wait_seconds'],
    unsubscribe: () => stops.forEach((stop) => stop()),
  };
}
