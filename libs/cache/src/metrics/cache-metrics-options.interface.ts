import type { Registry } from 'prom-client';

/** Options of `CacheMetricsModule.forRoot`. */
export interface CacheMetricsOptions {
  /**
   * The prom-client registry the `elile_cache_*` metrics are registered on (and removed from at
   * application shutdown).
   * @default prom-client's global `register`
   */
  registry?: Registry;
  /**
   * Whether to time Redis commands (`elile_cache_redis_command_duration_seconds`). It subscribes
   * to ioredis's `ioredis:command` channel, and while anything does, ioredis builds a context and
   * a traced promise for every command of every client in the process: a few microseconds each
   * (see the README, "Metrics"). Turn it off for a throughput-bound instance whose Redis latency
   * is measured elsewhere (Redis's own `LATENCY`, an exporter).
   * @default true
   */
  redisCommands?: boolean;
}
