import type { CacheDomainOptions } from './cache-module-options.interface';

/** The sketch's domains and their TTLs in seconds. */
export const DEFAULT_DOMAINS: Readonly<Record<string, Required<Pick<CacheDomainOptions, 'ttl' | 'prefix'>>>> = Object.freeze({
  screening: { ttl: 300, prefix: 'screening:' },
  subject: { ttl: 600, prefix: 'subject:' },
  org: { ttl: 3600, prefix: 'org:' },
  compliance: { ttl: 86400, prefix: 'compliance:' },
  // Sessions follow an idle timeout; 30 minutes is the common default of session stores.
  session: { ttl: 1800, prefix: 'session:' },
});

export const BUILT_IN_DOMAIN_NAMES = Object.freeze(Object.keys(DEFAULT_DOMAINS));

export const DEFAULTS = Object.freeze({
  store: 'redis' as const,
  namespace: '',
  codec: 'auto' as const,
  compressionThreshold: 0,
  // Far above any entry worth caching, far below what would hurt the process to allocate.
  maxDecompressedSize: 16 * 1024 * 1024,
  leaseTtl: 10,
  memoryMaxEntries: 10_000,
  locks: Object.freeze({
    // The sketch's `cache_prefix_lock` and its lock timeout.
    prefix: 'lock:',
    defaultTtl: 30,
    // The sketch waited as long as the TTL; a request blocked for 30 s has usually been given up
    // on upstream already.
    defaultWait: 5,
    // Only a fallback: releases wake waiters at once, and a holder's TTL bounds each pause.
    pollInterval: 0.5,
    replicas: 0,
    replicaTimeout: 0.2,
  }),
  redis: Object.freeze({
    url: 'redis://localhost:6379/0',
    // The sketch's 5 s socket timeout is kept for connecting only: a cache read that waits longer
    // than the query it saves is worse than a miss, so commands get a 1 s deadline.
    commandTimeout: 1,
    connectTimeout: 5,
    maxConnections: 50,
    maxReconnectDelay: 2,
    // Well above the concurrency of a busy instance, low enough that queued commands and their
    // values stay a bounded amount of memory while Redis stalls.
    maxInFlight: 5000,
  }),
  http: Object.freeze({
    // Trusting the header without a proxy that sets it lets clients pick their cache key's host.
    trustForwardedHost: false,
  }),
  warming: Object.freeze({
    // A slow source must not delay readiness unless the application asks for it.
    await: false,
    // Enough to overlap round trips, few enough not to crowd out the traffic the source serves.
    concurrency: 4,
    failOnError: false,
    jitter: 0.1,
    fleet: 'skip' as const,
  }),
});

/** Keys per `load` call of a warmer that does not say (`Warmup.batchSize`). */
export const DEFAULT_WARM_BATCH_SIZE = 100;
