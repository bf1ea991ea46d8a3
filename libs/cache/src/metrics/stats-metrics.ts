import { Counter, Gauge, type Registry } from 'prom-client';
import type { CacheErrorKind } from '../caches/cache-error-kind';
import type { CacheStats } from '../caches/cache-stats';
import type { CacheRegistry } from '../caches/cache.registry';
import type { LockService } from '../lock/lock.service';
import type { LockStats } from '../lock/lock-stats';
import type { BreakerState } from '../redis/connection-breaker';
import type { RedisClient } from '../redis/redis.client';

/**
 * The fields of `stats()` that are not a counter of their own: a ratio (PromQL computes it from
 * the counters), and `errors` with the kinds of it that `stats()` also counts apart.
 */
export const NOT_DOMAIN_COUNTERS = [
  'hitRatio',
  'errors',
  'errorsByKind',
  'overloaded',
  'circuitOpen',
  'corruptEntries',
] as const;

type DomainCounterField = Exclude<keyof CacheStats, (typeof NOT_DOMAIN_COUNTERS)[number]>;

/**
 * The counters `CacheService.stats()` keeps, by metric. `errors` is `elile_cache_errors_total`
 * by kind; `overloaded`, `circuitOpen` and `corruptEntries` are kinds of it.
 */
export const DOMAIN_COUNTERS: ReadonlyArray<readonly [name: string, field: DomainCounterField, help: string]> = [
  ['elile_cache_hits_total', 'hits', 'Reads answered from the cache (near cache included)'],
  [
    'elile_cache_misses_total',
    'misses',
    'Reads that found nothing usable (absent, expired, being filled, undecodable)',
  ],
  ['elile_cache_l1_hits_total', 'l1Hits', 'Reads answered by the near cache of this process (also in hits)'],
  ['elile_cache_l1_misses_total', 'l1Misses', 'Near-cache lookups that went on to the store'],
  ['elile_cache_l1_evictions_total', 'l1Evictions', 'Near-cache entries dropped to stay within l1.maxEntries'],
  [
    'elile_cache_l1_invalidations_total',
    'l1Invalidations',
    'Near-cache entries dropped because their key changed somewhere',
  ],
  ['elile_cache_sets_total', 'sets', 'Entries written by set and setMany (fills of getOrSet are loads)'],
  ['elile_cache_deletes_total', 'deletes', 'Keys given to delete and deleteMany calls that succeeded'],
  [
    'elile_cache_invalidations_total',
    'invalidations',
    'Invalidation calls that succeeded: invalidateTags, invalidatePattern (and clear), expire, expireTags',
  ],
  ['elile_cache_loads_total', 'loads', 'Loader runs'],
  ['elile_cache_stale_served_total', 'staleServed', 'Stale values served within grace (fail-safe)'],
  [
    'elile_cache_stale_fills_discarded_total',
    'staleFillsDiscarded',
    'Loaded values not stored because the key changed while loading',
  ],
  ['elile_cache_fleet_waits_total', 'fleetWaits', "Misses served by another instance's load of the key"],
  [
    'elile_cache_fleet_wait_timeouts_total',
    'fleetWaitTimeouts',
    "Misses that waited for another instance's load in vain",
  ],
  ['elile_cache_refreshes_total', 'refreshes', 'Entries refreshed ahead of their expiry'],
  ['elile_cache_refresh_errors_total', 'refreshErrors', 'Refreshes ahead of expiry whose loader failed'],
  ['elile_cache_warming_errors_total', 'warmingErrors', 'Entries warming could not preload'],
];

/** The `kind` label: Prometheus label values are snake_case by convention. */
const KIND_LABELS: Readonly<Record<CacheErrorKind, string>> = {
  timeout: 'timeout',
  unavailable: 'unavailable',
  circuitOpen: 'circuit_open',
  overloaded: 'overloaded',
  command: 'command',
  serialization: 'serialization',
  corruptEntry: 'corrupt_entry',
  other: 'other',
};

const LOCK_COUNTERS: ReadonlyArray<
  readonly [name: string, field: Exclude<keyof LockStats, 'contendedWaitSeconds'>, help: string]
> = [
  ['elile_cache_lock_acquired_total', 'acquired', 'Locks acquired (acquire, using, tryAcquire)'],
  ['elile_cache_lock_not_acquired_total', 'notAcquired', 'Acquisitions refused because another owner held the lock'],
  ['elile_cache_lock_contended_total', 'contended', 'Acquisitions that waited for another owner first'],
  [
    'elile_cache_lock_lost_total',
    'lost',
    'Held locks lost before their release (expired, extension refused or failed)',
  ],
  ['elile_cache_lock_extended_total', 'extended', 'Successful lock extensions'],
];

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'disabled'];

/** Where the scrape-time metrics read from. */
export interface StatsSources {
  readonly caches: CacheRegistry;
  readonly locks: LockService;
  readonly redis: RedisClient;
}

/**
 * Registers the metrics whose values the module already counts (`CacheService.stats()`,
 * `LockService.stats()`, `RedisClient.breakerStatus()`): read at scrape time, so nothing is
 * counted twice and a scrape costs one `stats()` per domain. Returns the metric names.
 */
export function registerStatsMetrics(registry: Registry, { caches, locks, redis }: StatsSources): string[] {
  const names: string[] = [];
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    values: () => Iterable<[Record<string, string>, number]>,
  ) => {
    const metric: Counter<string> = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        metric.reset();
        for (const [labels, value] of values()) metric.inc(labels, value);
      },
    });
    names.push(name);
  };
  const domainStats = () => caches.names().map((domain) => [domain, caches.get(domain).stats()] as const);

  for (const [name, field, help] of DOMAIN_COUNTERS) {
    counter(name, help, ['domain'], () => domainStats().map(([domain, stats]) => [{ domain }, stats[field]]));
  }
  counter(
    'elile_cache_errors_total',
    'Cache operations that failed, by kind (the caller got a miss or its loader)',
    ['domain', 'kind'],
    () =>
      domainStats().flatMap(([domain, stats]) =>
        Object.entries(stats.errorsByKind).map(([kind, count]): [Record<string, string>, number] => [
          { domain, kind: KIND_LABELS[kind as CacheErrorKind] },
          count,
        ]),
      ),
  );
  for (const [name, field, help] of LOCK_COUNTERS) counter(name, help, [], () => [[{}, locks.stats()[field]]]);
  counter('elile_cache_breaker_transitions_total', 'Circuit breaker state changes, by the state entered', ['to'], () =>
    Object.entries(redis.breakerStatus().transitions).map(([to, count]) => [{ to }, count]),
  );
  counter(
    'elile_cache_breaker_refused_total',
    'Redis commands the open circuit breaker refused without sending',
    [],
    () => [[{}, redis.breakerStatus().refused]],
  );

  const state: Gauge<string> = new Gauge({
    name: 'elile_cache_breaker_state',
    help: 'Circuit breaker of the Redis connection: 1 for its current state, 0 for the others',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = redis.breakerStatus().state;
      for (const each of BREAKER_STATES) state.set({ state: each }, each === current ? 1 : 0);
    },
  });
  names.push('elile_cache_breaker_state');
  return names;
}
