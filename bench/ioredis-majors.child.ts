import { useIoredisMajor } from './helpers/ioredis-major';
import type { BenchConfig, BenchRow } from './helpers/subject';

/**
 * One block of `ioredis-majors.ts`: a process that loads one ioredis major (for the library and
 * the baseline alike), measures the product's get/set path against raw ioredis of that major, and
 * prints one JSON line. Spawned by the parent; not meant to be run by hand.
 */

export interface ChildTask {
  redisUrl: string;
  major: number;
  /** Passed to the library as `redis.ioredis` and to the baseline client: e.g. `{ protocol: 2 }`. */
  ioredis: Record<string, unknown>;
  namespace: string;
  config: BenchConfig;
}

export interface ChildResult {
  major: number;
  ioredisVersion: string;
  clients: Array<{ name: string; version?: string; path: string }>;
  protocol: unknown;
  rows: BenchRow[];
  /** In-process cost of the codecs on the rich value, CPU µs per call (medians of 5 loops). */
  codecUs: Record<string, number>;
  sanity: { misses: number; errors: number; sameValues: boolean; shippedCodec: Record<string, string> };
}

const KEY_COUNT = 1024;
const KEY_MASK = KEY_COUNT - 1;
const TTL_MS = 300_000;

async function main(task: ChildTask): Promise<ChildResult> {
  // Before anything below loads ioredis: the library and the baseline must get this major.
  useIoredisMajor(task.major);
  const { default: Redis } = await import('ioredis');
  const { isDeepStrictEqual } = await import('node:util');
  const { MsgpackCodec, JsonCodec } = await import('@elile/cache');
  const { createCacheApp } = await import('./helpers/cache-app');
  const { compareOps } = await import('./helpers/compare-ops');
  const { loadedRedisClients } = await import('./helpers/redis-clients');
  const { syncCost } = await import('./helpers/timing');
  const { jsonNativeScreeningReport, screeningReport } = await import('./helpers/screening.fixture');

  const jsonNative = jsonNativeScreeningReport(1);
  // Dates and a Map: what only a rich codec (msgpack in the default) round-trips.
  const rich = {
    ...screeningReport(1),
    checksBySource: new Map(screeningReport(1).findings.map((f) => [f.source, f.reportedAt])),
  };
  const jsonText = JSON.stringify(jsonNative);

  // msgpackr as it runs in this process before the module builds its first codec (which makes the
  // one VerbatimString instance that undoes ioredis 6's slowdown: codec/ioredis-verbatim.util.ts).
  const { Packr } = await import('msgpackr');
  const plainPackr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true, int64AsType: 'bigint' });
  const packBeforeModule = syncCost(() => plainPackr.pack(rich), { repeats: 5 }).usPerOp;

  const raw = new Redis(task.redisUrl, task.ioredis);
  const app = await createCacheApp({ redis: { url: task.redisUrl, ioredis: task.ioredis }, namespace: task.namespace });
  try {
    const cache = app.registry.get<unknown>('screening');
    const keys = Array.from({ length: KEY_COUNT }, (_, i) => `k${i}`);
    const rawKeys = keys.map((key) => `${task.namespace}raw:${key}`);
    const jsonKeys = keys.map((key) => `json:${key}`);
    const richKeys = keys.map((key) => `rich:${key}`);
    await Promise.all(rawKeys.map((key) => raw.set(key, jsonText, 'PX', TTL_MS)));
    await Promise.all(jsonKeys.map((key) => cache.set(key, jsonNative)));
    await Promise.all(richKeys.map((key) => cache.set(key, rich)));
    const sameValues =
      isDeepStrictEqual(JSON.parse((await raw.get(rawKeys[0])) as string), jsonNative) &&
      isDeepStrictEqual(await cache.get(jsonKeys[0]), jsonNative) &&
      isDeepStrictEqual(await cache.get(richKeys[0]), rich);

    const baseGet = 'raw GET + JSON.parse';
    const baseSet = 'raw SET PX + JSON.stringify';
    const rows = await compareOps(
      { redisUrl: task.redisUrl, config: task.config, progress: () => undefined },
      `ioredis ${task.major}`,
      [
        { operation: baseGet, fn: async (i) => JSON.parse((await raw.get(rawKeys[i & KEY_MASK])) as string) },
        { operation: 'get hit, JSON-native', baseline: baseGet, fn: (i) => cache.get(jsonKeys[i & KEY_MASK]) },
        { operation: 'get hit, rich', baseline: baseGet, fn: (i) => cache.get(richKeys[i & KEY_MASK]) },
        { operation: baseSet, fn: (i) => raw.set(rawKeys[i & KEY_MASK], JSON.stringify(jsonNative), 'PX', TTL_MS) },
        { operation: 'set, JSON-native', baseline: baseSet, fn: (i) => cache.set(jsonKeys[i & KEY_MASK], jsonNative) },
        { operation: 'set, rich', baseline: baseSet, fn: (i) => cache.set(richKeys[i & KEY_MASK], rich) },
      ],
    );

    // The mechanism, without Redis: msgpackr's own cost in this process.
    const msgpack = new MsgpackCodec();
    const packed = msgpack.encode(rich);
    const codecUs = {
      'msgpackr pack, rich, before the module starts': packBeforeModule,
      'msgpackr pack, rich, after': syncCost(() => plainPackr.pack(rich), { repeats: 5 }).usPerOp,
      'msgpack encode, rich': syncCost(() => msgpack.encode(rich), { repeats: 5 }).usPerOp,
      'msgpack decode, rich': syncCost(() => msgpack.decode(packed), { repeats: 5 }).usPerOp,
      'JSON.parse, JSON-native': syncCost(() => JSON.parse(jsonText), { repeats: 5 }).usPerOp,
    };

    // The entry header's second byte names the codec that wrote it (see cache-service.bench.ts).
    const codecNames = new Map([
      [MsgpackCodec.ID, 'msgpack'],
      [JsonCodec.ID, 'json'],
    ]);
    const codecOf = async (key: string) => {
      const entry = await raw.getBuffer(cache.fullKey(key));
      return entry ? (codecNames.get(entry[1]) ?? `codec id ${entry[1]}`) : 'nothing';
    };
    const stats = cache.stats();
    const result: ChildResult = {
      major: task.major,
      ioredisVersion: loadedRedisClients()
        .map((client) => client.version ?? '?')
        .join(', '),
      clients: loadedRedisClients(),
      protocol: (raw.options as { protocol?: unknown }).protocol ?? 2,
      rows,
      codecUs,
      sanity: {
        misses: stats.misses,
        errors: stats.errors,
        sameValues,
        shippedCodec: { 'JSON-native': await codecOf(jsonKeys[0]), rich: await codecOf(richKeys[0]) },
      },
    };
    await cache.clear();
    await raw.unlink(...rawKeys);
    return result;
  } finally {
    raw.disconnect();
    await app.close();
  }
}

const task = JSON.parse(process.env.ELILE_BENCH_TASK ?? 'null') as ChildTask | null;
if (!task)
  throw new Error('ioredis-majors.child.ts is spawned by bench/ioredis-majors.ts, which passes ELILE_BENCH_TASK');
main(task).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
