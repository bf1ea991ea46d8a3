import type { Registry } from 'prom-client';

/** Options of `CacheMetricsModule.forRoot`. */
export interface CacheMetricsOptions {
  /**
   * The prom-client registry the `elile_cache_*` metrics are registered on (and removed from at
   * application shutdown).
   * @default prom-client's global `register`
   */
  registry?: Registry;
}
