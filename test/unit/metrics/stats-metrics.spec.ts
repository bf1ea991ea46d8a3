import { CacheCounters } from '../../../libs/cache/src/caches/cache-stats';
import { DOMAIN_COUNTERS, NOT_DOMAIN_COUNTERS } from '../../../libs/cache/src/metrics/stats-metrics';

/**
 * A counter added to `stats()` must reach Prometheus too: this fails until it has a metric in
 * `DOMAIN_COUNTERS` (or a reason in `NOT_DOMAIN_COUNTERS`).
 */
describe('the metrics read from stats()', () => {
  it('cover every field of CacheService.stats()', () => {
    const fields = Object.keys(new CacheCounters().snapshot());
    const covered = [...DOMAIN_COUNTERS.map(([, field]) => field), ...NOT_DOMAIN_COUNTERS];
    expect(fields.filter((field) => !covered.includes(field as (typeof covered)[number]))).toEqual([]);
    expect(covered.filter((field) => !fields.includes(field))).toEqual([]);
  });

  it('are named elile_cache_<field in snake case>_total', () => {
    for (const [name, field] of DOMAIN_COUNTERS) {
      expect(name).toBe(`elile_cache_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`);
    }
  });
});
