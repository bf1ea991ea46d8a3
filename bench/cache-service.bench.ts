import Redis from 'ioredis';
import { type CacheService, RedisClient } from '@elile/cache';
import { type CacheApp, createCacheApp } from './helpers/cache-app';
import { jsonSafe, type ScreeningReport, screeningReport } from './helpers/screening.fixture';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult, Target } from './helpers/subject';
import { type ComparedOp, compareOps } from './helpers/compare-ops';

/**
 * More keys than requests in flight: consecutive operations touch distinct keys, so `getOrSet`'s
 * single-flight never merges concurrent calls (that would flatter its throughput), and replies
 * from one connection arrive in order, so the 256 outstanding keys are always distinct.
 */
const KEY_COUNT = 1024;
const KEY_MASK = KEY_COUNT - 1;
const TTL_SECONDS = 300;

const BASE_GET = 'baseline: ioredis GET + JSON.parse';
const BASE_SET = 'baseline: ioredis SET PX + JSON.stringify';

const GET_TARGETS: Target[] = [
  { metric: 'opsPerSec', atLeast: 1.0 },
  { metric: 'p50Us', atMost: 1.15 },
];

export const cacheServiceBench: BenchSubject = {
  name: 'cache-service',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const apps: CacheApp[] = [];
    // The hand-written version every team starts with: ioredis as installed, its own connection.
    const raw = new Redis(ctx.redisUrl);
    try {
      const msgpack = await createCacheApp({ redis: { url: ctx.redisUrl }, namespace: 'bench:' });
      apps.push(msgpack);
      const json = await createCacheApp({ redis: { url: ctx.redisUrl }, namespace: 'bench-json:', codec: 'json' });
      apps.push(json);
      const cache = msgpack.registry.get<ScreeningReport>('screening');
      const jsonCache = json.registry.get<unknown>('screening');
      return await measure(ctx, raw, cache, jsonCache, msgpack.app.get(RedisClient));
    } finally {
      raw.disconnect();
      for (const app of apps) await app.close();
    }
  },
};

async function measure(
  ctx: BenchContext,
  raw: Redis,
  cache: CacheService<ScreeningReport>,
  jsonCache: CacheService<unknown>,
  client: RedisClient,
): Promise<SubjectResult> {
  const { config } = ctx;
  const report = screeningReport(1);
  const reportJson = jsonSafe(report);
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `scr_${i}`);
  const rawKeys = keys.map((key) => `bench-raw:screening:${key}`);
  const ttlMs = TTL_SECONDS * 1000;
  let loaderCalls = 0;
  const loader = (): ScreeningReport => {
    loaderCalls++;
    return report;
  };

  // Every read below is a hit: the keys are filled first and only ever rewritten with the same value.
  await Promise.all(rawKeys.map((key) => raw.set(key, JSON.stringify(report), 'PX', ttlMs)));
  await Promise.all(keys.map((key) => cache.set(key, report)));
  await Promise.all(keys.map((key) => jsonCache.set(key, reportJson)));
  const firstHit = await cache.get(keys[0]);
  if (!(firstHit?.findings[0].reportedAt instanceof Date)) throw new Error('CacheService.get did not return the stored report');

  const ops: ComparedOp[] = [
    { operation: BASE_GET, fn: async (i) => JSON.parse((await raw.get(rawKeys[i & KEY_MASK])) as string) },
    { operation: BASE_SET, fn: (i) => raw.set(rawKeys[i & KEY_MASK], JSON.stringify(report), 'PX', ttlMs) },
    { operation: 'CacheService.get (hit)', baseline: BASE_GET, targets: GET_TARGETS, fn: (i) => cache.get(keys[i & KEY_MASK]) },
    { operation: 'CacheService.set', baseline: BASE_SET, fn: (i) => cache.set(keys[i & KEY_MASK], report) },
    { operation: 'CacheService.getOrSet (hit)', baseline: BASE_GET, fn: (i) => cache.getOrSet(keys[i & KEY_MASK], loader) },
    { operation: 'CacheService[json].get (hit)', baseline: BASE_GET, fn: (i) => jsonCache.get(keys[i & KEY_MASK]) },
    { operation: 'CacheService[json].set', baseline: BASE_SET, fn: (i) => jsonCache.set(keys[i & KEY_MASK], reportJson) },
  ];

  const measured = await compareOps(ctx, 'cache-service', ops);

  const storedBytes = {
    json: await raw.strlen(rawKeys[0]),
    msgpackEntry: await raw.strlen(cache.fullKey(keys[0])),
    jsonEntry: await raw.strlen(jsonCache.fullKey(keys[0])),
  };
  const bytesOf = (operation: string): number =>
    operation.startsWith('baseline') ? storedBytes.json : operation.includes('[json]') ? storedBytes.jsonEntry : storedBytes.msgpackEntry;
  const rows: BenchRow[] = measured.map((row) => ({ ...row, bytes: bytesOf(row.operation) }));

  const stats = { msgpack: cache.stats(), json: jsonCache.stats() };
  const clean = [stats.msgpack, stats.json].every((s) => s.misses === 0 && s.errors === 0) && loaderCalls === 0;
  await cache.clear();
  await jsonCache.clear();
  await raw.unlink(...rawKeys);

  const autoPipelining = (client.connection.options as { enableAutoPipelining?: boolean }).enableAutoPipelining;
  return {
    rows,
    notes: [
      `p50/p99: ${config.sequentialSamples} sequential ops after ${config.sequentialWarmup} warm-up; ops/s and cpu us/op (this process's CPU time per op, GC included): ${config.throughputTotal} ops, ${config.inFlight} in flight; median of ${config.repeats} repeats. Operations alternate in blocks of ${config.sequentialBlock} sequential ops / ${config.throughputTotal / config.throughputChunks} loaded ops, so all see the same background load.`,
      `Baseline: new Redis(url) with ioredis defaults (auto-pipelining ${raw.options.enableAutoPipelining ? 'on' : 'off'}); CacheService's connection: auto-pipelining ${autoPipelining ? 'on' : 'off'}.`,
      `Stored sizes: JSON ${storedBytes.json} B, msgpack entry ${storedBytes.msgpackEntry} B, JSON-codec entry ${storedBytes.jsonEntry} B; ${KEY_COUNT} keys, all reads are hits.`,
      clean
        ? 'Sanity: every CacheService read was a hit, no errors, getOrSet loader never ran.'
        : `Sanity FAILED: stats ${JSON.stringify(stats)}, loader calls ${loaderCalls}.`,
    ],
    details: { keyCount: KEY_COUNT, ttlSeconds: TTL_SECONDS, storedBytes, stats, loaderCalls, libraryAutoPipelining: autoPipelining },
  };
}
