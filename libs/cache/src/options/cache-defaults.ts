/** The sketch's domains and their TTLs in seconds. */
export const DEFAULT_DOMAINS: Readonly<Record<string, { readonly ttl: number; readonly prefix: string }>> =
  Object.freeze({
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
  // A miss waiting for another instance's load costs one wake-up; running the loader once per
  // instance costs the source N times the load of a cold key.
  fleetSingleFlight: true,
  l1: Object.freeze({
    // ~20 MB of 2 KB values: well within a service's heap, enough for an org's hot working set.
    maxEntries: 10_000,
    // Invalidations keep copies coherent; this only bounds how long one could outlive a lost one.
    ttl: 60,
  }),
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
    // A read answers in about a millisecond and a write in a few; a Redis that has not answered
    // within 100-200 times that is not about to, and the loader is the faster answer. Writes get
    // twice the room: they carry values and run scripts, and a timed-out write's outcome is unknown.
    readTimeout: 0.25,
    writeTimeout: 0.5,
    breaker: Object.freeze({
      enabled: true,
      // Only failures count (any successful reply resets it), so five in a row is a Redis that is
      // gone or hung, not an unlucky moment; at low traffic it still opens after five calls.
      threshold: 5,
      // One PING a second per instance while open: nothing for Redis, and recovery within a second.
      halfOpenAfter: 1,
    }),
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
