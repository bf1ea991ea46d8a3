import { isDeepStrictEqual } from 'node:util';
import Redis from 'ioredis';
import { type CacheService, JsonCodec, MsgpackCodec, RedisClient } from '@elile/cache';
import { type CacheApp, createCacheApp } from './helpers/cache-app';
import { type ComparedOp, compareOps } from './helpers/compare-ops';
import { reviveIsoDates } from './helpers/iso-date-reviver';
import { jsonNativeScreeningReport, screeningReport } from './helpers/screening.fixture';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult, Target } from './helpers/subject';

/**
 * More keys than requests in flight: consecutive operations touch distinct keys, so `getOrSet`'s
 * single-flight never merges concurrent calls (that would flatter its throughput), and replies
 * from one connection arrive in order, so the 256 outstanding keys are always distinct.
 */
const KEY_COUNT = 1024;
const KEY_MASK = KEY_COUNT - 1;
const TTL_SECONDS = 300;

const TARGETS: Target[] = [
  { metric: 'opsPerSec', atLeast: 1.0 },
  { metric: 'p50Us', atMost: 1.15 },
];

/**
 * The claim is made for the values a cache holds, and those come in two shapes whose hand-written
 * baselines differ: JSON-native values need only `JSON.parse`, values with Dates need a reviver.
 */
interface ValueShape {
  name: string;
  value: unknown;
  description: string;
  /** How the hand-written version reads the string ioredis returns. */
  parse: (text: string) => unknown;
  parseLabel: string;
  /** The JSON codec refuses what JSON cannot hold (Dates), so it is measured on JSON-native values only. */
  jsonCodec: boolean;
}

const SHAPES: readonly ValueShape[] = [
  {
    name: 'json-native',
    value: jsonNativeScreeningReport(1),
    description: 'the screening report as a JSON API returns it (Dates as ISO strings)',
    parse: (text) => JSON.parse(text),
    parseLabel: 'JSON.parse',
    jsonCodec: true,
  },
  {
    name: 'rich',
    value: screeningReport(1),
    description: 'the screening report as the application holds it (14 Dates)',
    parse: (text) => JSON.parse(text, reviveIsoDates),
    parseLabel: 'JSON.parse + ISO-date reviver',
    jsonCodec: false,
  },
];

const CODEC_NAMES = new Map([
  [MsgpackCodec.ID, 'msgpack'],
  [JsonCodec.ID, 'json'],
]);

/** CacheService as `CacheModule.forRoot` ships it, and the JSON codec, against raw ioredis, per value shape. */
export const cacheServiceBenches: BenchSubject[] = SHAPES.map((shape) => ({
  name: `cache-service/${shape.name}`,
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const apps: CacheApp[] = [];
    // The hand-written version every team starts with: ioredis as installed, its own connection.
    const raw = new Redis(ctx.redisUrl);
    try {
      // No codec option: whatever the module defaults to is what applications get.
      const shipped = await createCacheApp({ redis: { url: ctx.redisUrl }, namespace: `bench-${shape.name}:` });
      apps.push(shipped);
      let jsonCache: CacheService<unknown> | undefined;
      if (shape.jsonCodec) {
        const json = await createCacheApp({
          redis: { url: ctx.redisUrl },
          namespace: `bench-${shape.name}-json:`,
          codec: 'json',
        });
        apps.push(json);
        jsonCache = json.registry.get<unknown>('screening');
      }
      return await measure(
        ctx,
        shape,
        raw,
        shipped.registry.get<unknown>('screening'),
        jsonCache,
        shipped.app.get(RedisClient),
      );
    } finally {
      raw.disconnect();
      for (const app of apps) await app.close();
    }
  },
}));

async function measure(
  ctx: BenchContext,
  shape: ValueShape,
  raw: Redis,
  cache: CacheService<unknown>,
  jsonCache: CacheService<unknown> | undefined,
  client: RedisClient,
): Promise<SubjectResult> {
  const { value } = shape;
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `scr_${i}`);
  const rawKeys = keys.map((key) => `bench-${shape.name}-raw:screening:${key}`);
  const ttlMs = TTL_SECONDS * 1000;
  let loaderCalls = 0;
  const loader = (): unknown => {
    loaderCalls++;
    return value;
  };

  // Every read below is a hit: the keys are filled first and only ever rewritten with the same value.
  await Promise.all(rawKeys.map((key) => raw.set(key, JSON.stringify(value), 'PX', ttlMs)));
  await Promise.all(keys.map((key) => cache.set(key, value)));
  if (jsonCache) await Promise.all(keys.map((key) => jsonCache.set(key, value)));
  // Both sides must return the value that was stored, or the comparison is not of equals.
  const sameValue = {
    baseline: isDeepStrictEqual(shape.parse((await raw.get(rawKeys[0])) as string), value),
    cacheService: isDeepStrictEqual(await cache.get(keys[0]), value),
    jsonCodec: jsonCache ? isDeepStrictEqual(await jsonCache.get(keys[0]), value) : undefined,
  };
  if (!sameValue.baseline || !sameValue.cacheService || sameValue.jsonCodec === false) {
    throw new Error(`${shape.name}: a read does not return the stored value: ${JSON.stringify(sameValue)}`);
  }

  const baseGet = `baseline: ioredis GET + ${shape.parseLabel}`;
  const baseSet = 'baseline: ioredis SET PX + JSON.stringify';
  const at = (i: number): string => keys[i & KEY_MASK];
  const ops: ComparedOp[] = [
    { operation: baseGet, fn: async (i) => shape.parse((await raw.get(rawKeys[i & KEY_MASK])) as string) },
    { operation: 'CacheService.get (hit)', baseline: baseGet, targets: TARGETS, fn: (i) => cache.get(at(i)) },
    {
      operation: 'CacheService.getOrSet (hit)',
      baseline: baseGet,
      targets: TARGETS,
      fn: (i) => cache.getOrSet(at(i), loader),
    },
    ...(jsonCache
      ? [{ operation: 'CacheService[json].get (hit)', baseline: baseGet, fn: (i: number) => jsonCache.get(at(i)) }]
      : []),
    { operation: baseSet, fn: (i) => raw.set(rawKeys[i & KEY_MASK], JSON.stringify(value), 'PX', ttlMs) },
    // No target: issue 7 sets them for reads; a write's figure is reported for what it is.
    { operation: 'CacheService.set', baseline: baseSet, fn: (i) => cache.set(at(i), value) },
    ...(jsonCache
      ? [{ operation: 'CacheService[json].set', baseline: baseSet, fn: (i: number) => jsonCache.set(at(i), value) }]
      : []),
  ];

  const measured = await compareOps(ctx, `cache-service/${shape.name}`, ops);

  // The entry header's second byte is the id of the codec that wrote it: it shows which codec
  // the default picked for this shape without the bench naming one.
  const shippedEntry = await raw.getBuffer(cache.fullKey(keys[0]));
  const shippedCodec = shippedEntry ? (CODEC_NAMES.get(shippedEntry[1]) ?? `codec id ${shippedEntry[1]}`) : 'nothing';
  const storedBytes = {
    json: await raw.strlen(rawKeys[0]),
    shippedEntry: shippedEntry?.length ?? 0,
    jsonEntry: jsonCache ? await raw.strlen(jsonCache.fullKey(keys[0])) : undefined,
  };
  const bytesOf = (operation: string): number | undefined =>
    operation.startsWith('baseline')
      ? storedBytes.json
      : operation.includes('[json]')
        ? storedBytes.jsonEntry
        : storedBytes.shippedEntry;
  const rows: BenchRow[] = measured.map((row) => ({ ...row, bytes: bytesOf(row.operation) }));

  const stats = { shipped: cache.stats(), json: jsonCache?.stats() };
  const clean = [stats.shipped, stats.json].every((s) => !s || (s.misses === 0 && s.errors === 0)) && loaderCalls === 0;
  await cache.clear();
  await jsonCache?.clear();
  await raw.unlink(...rawKeys);

  const autoPipelining = (client.connection.options as { enableAutoPipelining?: boolean }).enableAutoPipelining;
  return {
    rows,
    notes: [
      `Value: ${shape.description}, ${storedBytes.json} B as JSON. CacheService is CacheModule.forRoot's default codec, which wrote ${shippedCodec} entries (${storedBytes.shippedEntry} B)` +
        (jsonCache
          ? `; CacheService[json] is codec: 'json' (${storedBytes.jsonEntry} B), for comparison.`
          : `; the JSON codec refuses Dates, so it is not measured on this shape.`),
      `Baseline: new Redis(url) with ioredis defaults (auto-pipelining ${raw.options.enableAutoPipelining ? 'on' : 'off'}), reads with ${shape.parseLabel}; CacheService's connection: auto-pipelining ${autoPipelining ? 'on' : 'off'}. Both sides return a value deep-equal to the stored one (checked).`,
      clean
        ? `Sanity: ${KEY_COUNT} keys, every CacheService read was a hit, no errors, getOrSet loader never ran.`
        : `Sanity FAILED: stats ${JSON.stringify(stats)}, loader calls ${loaderCalls}.`,
    ],
    details: {
      shape: shape.name,
      keyCount: KEY_COUNT,
      ttlSeconds: TTL_SECONDS,
      shippedCodec,
      storedBytes,
      stats,
      loaderCalls,
      libraryAutoPipelining: autoPipelining,
    },
  };
}
