import { isDeepStrictEqual } from 'node:util';
import Redis from 'ioredis';
import type { CacheService } from '@elile/cache';
import { AutoCodec } from '@elile/cache/codec/auto.codec';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { immutable } from '@elile/cache/near/frozen-value';
import { type FleetWorker, stampede, startFleetWorker } from '../test/support/fleet-workers';
import { type CacheApp, createCacheApp } from './helpers/cache-app';
import { type ComparedOp, compareOps } from './helpers/compare-ops';
import { reviveIsoDates } from './helpers/iso-date-reviver';
import { jsonNativeScreeningReport, screeningReport } from './helpers/screening.fixture';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult, Target } from './helpers/subject';
import { median, percentile, syncCost } from './helpers/timing';

const KEY_COUNT = 1024;
const KEY_MASK = KEY_COUNT - 1;
/** The targets: an L1 hit ≥ 20× the hand-written GET + parse at 256 in flight, p50 ≤ 2 µs. */
const L1_TARGETS: Target[] = [{ metric: 'opsPerSec', atLeast: 20 }];
const L1_P50_TARGET_US = 2;

const SHAPES = [
  {
    name: 'json-native',
    value: jsonNativeScreeningReport(1),
    parse: (text: string) => JSON.parse(text),
    parseLabel: 'JSON.parse',
  },
  {
    name: 'rich',
    value: screeningReport(1),
    parse: (text: string) => JSON.parse(text, reviveIsoDates),
    parseLabel: 'JSON.parse + ISO-date reviver',
  },
];

const nearDomain = { screening: { ttl: 300, l1: { maxEntries: KEY_COUNT * 2, ttl: 300 } } };

/** L1 hits of a near-cached domain against the hand-written ioredis read, per value shape. */
const hitBenches: BenchSubject[] = SHAPES.map((shape) => ({
  name: `near-cache/${shape.name}`,
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const raw = new Redis(ctx.redisUrl);
    const app = await createCacheApp({
      redis: { url: ctx.redisUrl },
      namespace: `bench-near-${shape.name}:`,
      domains: nearDomain,
    });
    try {
      const cache = app.registry.get<unknown>('screening');
      const keys = Array.from({ length: KEY_COUNT }, (_, i) => `scr_${i}`);
      const rawKeys = keys.map((key) => `bench-near-${shape.name}-raw:${key}`);
      await Promise.all(rawKeys.map((key) => raw.set(key, JSON.stringify(shape.value), 'PX', 300_000)));
      await Promise.all(keys.map((key) => cache.set(key, shape.value)));
      // Twice, a moment apart: a read overlapping the invalidation of our own write is not kept.
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let round = 0; round < 2; round++) await Promise.all(keys.map((key) => cache.get(key)));
      if (!isDeepStrictEqual(await cache.get(keys[0]), shape.value))
        throw new Error(`${shape.name}: the L1 hit is not the stored value`);
      const before = cache.stats();
      const loader = () => shape.value;
      const baseGet = `baseline: ioredis GET + ${shape.parseLabel}`;
      const ops: ComparedOp[] = [
        { operation: baseGet, fn: async (i) => shape.parse((await raw.get(rawKeys[i & KEY_MASK])) as string) },
        {
          operation: 'CacheService.get (L1 hit)',
          baseline: baseGet,
          targets: L1_TARGETS,
          fn: (i) => cache.get(keys[i & KEY_MASK]),
        },
        {
          operation: 'CacheService.getOrSet (L1 hit)',
          baseline: baseGet,
          targets: L1_TARGETS,
          fn: (i) => cache.getOrSet(keys[i & KEY_MASK], loader),
        },
      ];
      const rows = await compareOps(ctx, `near-cache/${shape.name}`, ops);
      const after = cache.stats();
      const l1Share = (after.l1Hits - before.l1Hits) / (after.hits - before.hits);
      const p50 = rows.find((row) => row.operation === 'CacheService.get (L1 hit)')?.p50Us ?? NaN;
      await cache.clear();
      await raw.unlink(...rawKeys);
      return {
        rows,
        notes: [
          `Value: the ${shape.name} screening report. L1: domain option l1 { maxEntries: ${KEY_COUNT * 2} }, every key kept before measuring; ` +
            `${(l1Share * 100).toFixed(2)}% of the measured hits came from L1, ${after.errors - before.errors} errors.`,
          `Sequential p50 of an L1 get: ${p50.toFixed(2)} us (target <= ${L1_P50_TARGET_US} us: ${p50 <= L1_P50_TARGET_US ? 'PASS' : 'MISS'}).`,
        ],
        details: { shape: shape.name, l1Share, stats: after },
      };
    } finally {
      raw.disconnect();
      await app.close();
    }
  },
}));

/**
 * What a near hit costs the two ways of keeping callers from changing one another's value:
 * freezing on fill (paid once per fill, a hit then costs nothing) or copying on every hit.
 */
const mutationRuleBench: BenchSubject = {
  name: 'near-cache/freeze-vs-copy',
  needsRedis: false,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const entries = new EntryCodec(new AutoCodec(), 0);
    const repeats = Math.max(3, ctx.config.pairs);
    const rows: BenchRow[] = [];
    const spreads: string[] = [];
    for (const shape of SHAPES) {
      const bytes = entries.encode(shape.value, 300_000);
      const decoded = entries.decode(bytes);
      const samples = { freeze: [] as number[], copy: [] as number[], decode: [] as number[] };
      // Alternating, so all three run under the same host load; each sample is a ~40 ms CPU loop.
      // Freezing needs a fresh value each time: its cost is the decode-and-freeze minus the decode.
      for (let r = 0; r < repeats; r++) {
        const decodeCost = syncCost(() => entries.decode(bytes), { repeats: 1 }).usPerOp;
        samples.freeze.push(syncCost(() => immutable(entries.decode(bytes)), { repeats: 1 }).usPerOp - decodeCost);
        samples.copy.push(syncCost(() => structuredClone(decoded), { repeats: 1 }).usPerOp);
        samples.decode.push(decodeCost);
      }
      const row = (operation: string, values: number[]): BenchRow => ({
        operation,
        cpuUsPerOp: median(values),
        samples: { cpuUsPerOp: values },
      });
      rows.push(
        row(`${shape.name}: make the decoded report immutable (once per fill)`, samples.freeze),
        row(`${shape.name}: structuredClone it (per hit, the alternative)`, samples.copy),
        row(`${shape.name}: decode its entry (per hit, without a near cache)`, samples.decode),
      );
      const range = (values: number[]) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
      spreads.push(
        `${shape.name}: freeze ${range(samples.freeze)}, clone ${range(samples.copy)}, decode ${range(samples.decode)}`,
      );
    }
    return {
      rows,
      notes: [
        `CPU us per call, median of ${repeats} alternating loops (min-max: ${spreads.join('; ')}). ` +
          'Freezing is paid once per fill and leaves every hit at no cost; copying would cost every hit the clone.',
      ],
    };
  },
};

/**
 * Bounded staleness: two application instances on one Redis; A writes, and the time from A's write
 * being acknowledged to B serving the new value is measured (B polls between event-loop turns).
 * Beside it, what an explicit bus would give: a SET then a PUBLISH, timed to the subscriber.
 */
const stalenessBench: BenchSubject = {
  name: 'near-cache/staleness',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const samples = Math.max(200, ctx.config.pairs * 20);
    const apps: CacheApp[] = [];
    const options = { redis: { url: ctx.redisUrl }, namespace: 'bench-staleness:', domains: nearDomain };
    apps.push(await createCacheApp(options), await createCacheApp(options));
    const publisher = new Redis(ctx.redisUrl);
    const subscriber = new Redis(ctx.redisUrl);
    try {
      const [onA, onB] = apps.map((app) => app.registry.get<{ version: number }>('screening'));
      const tracking = await measureStaleness(onA, onB, samples);
      const bus = await measureBus(publisher, subscriber, samples);
      const row = (operation: string, delays: Float64Array): BenchRow => ({
        operation,
        p50Us: percentile(delays, 0.5),
        p99Us: percentile(delays, 0.99),
      });
      return {
        rows: [
          row('write on A acknowledged -> B serves it (client-side tracking)', tracking.delays),
          row('explicit bus: SET acknowledged -> PUBLISH delivered (raw ioredis)', bus),
        ],
        notes: [
          `${samples} writes. B served the old value ${tracking.oldReads} times in all after A's write was acknowledged, and never after its invalidation had been delivered.` +
            ` Target p99 <= 5 ms: ${percentile(tracking.delays, 0.99) <= 5000 ? 'PASS' : 'MISS'}.`,
          'The bus costs every write a PUBLISH and cannot name the keys a tag or pattern invalidation deletes inside Redis; tracking costs writes nothing.',
        ],
      };
    } finally {
      publisher.disconnect();
      subscriber.disconnect();
      for (const app of apps) await app.close();
    }
  },
};

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function measureStaleness(
  onA: CacheService<{ version: number }>,
  onB: CacheService<{ version: number }>,
  samples: number,
): Promise<{ delays: Float64Array; oldReads: number }> {
  const delays = new Float64Array(samples);
  let oldReads = 0;
  await onA.set('rules', { version: 0 });
  for (let i = 0; i < samples; i++) {
    // B keeps the current version first (reads until one is an L1 hit).
    const kept = onB.stats().l1Hits;
    while (onB.stats().l1Hits === kept) {
      await onB.get('rules');
      await nextTurn();
    }
    await onA.set('rules', { version: i + 1 });
    const acknowledged = performance.now();
    for (;;) {
      const value = await onB.get('rules');
      if (value?.version === i + 1) break;
      oldReads++;
      await nextTurn();
    }
    delays[i] = (performance.now() - acknowledged) * 1000;
  }
  return { delays: delays.sort(), oldReads };
}

async function measureBus(publisher: Redis, subscriber: Redis, samples: number): Promise<Float64Array> {
  const channel = 'bench-staleness:bus';
  await subscriber.subscribe(channel);
  const delays = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const delivered = new Promise<number>((resolve) => subscriber.once('message', () => resolve(performance.now())));
    await publisher.set('bench-staleness:bus-key', String(i));
    const acknowledged = performance.now();
    await publisher.publish(channel, 'bench-staleness:bus-key');
    delays[i] = Math.max(0, (await delivered) - acknowledged) * 1000;
  }
  await subscriber.unsubscribe(channel);
  return delays.sort();
}

/**
 * The fleet stampede: 4 processes, 250 concurrent reads each of one cold key with a 50 ms loader,
 * with fleet-wide single flight and without it (the baseline: single flight per process only).
 */
const fleetBench: BenchSubject = {
  name: 'near-cache/fleet-stampede',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const rounds = Math.max(3, Math.round(ctx.config.pairs / 2));
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    for (const fleetSingleFlight of [true, false]) {
      const namespace = `bench-fleet-${fleetSingleFlight}:`;
      const workers: FleetWorker[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          workers.push(
            startFleetWorker({
              redisUrl: ctx.redisUrl,
              namespace,
              callers: 250,
              loaderMs: 50,
              via: 'getOrSet',
              fleetSingleFlight,
            }),
          );
        }
        await Promise.all(workers.map((worker) => worker.next('ready')));
        const slowest: number[] = [];
        const loads: number[] = [];
        for (let round = 0; round < rounds; round++) {
          ctx.progress(
            `near-cache/fleet-stampede: fleetSingleFlight ${fleetSingleFlight}, round ${round + 1}/${rounds}`,
          );
          const reports = await stampede(workers, {
            type: 'go',
            key: `cold-${round}`,
            counter: `${namespace}runs-${round}`,
          });
          slowest.push(Math.max(...reports.map((report) => report.slowestMs)) * 1000);
          loads.push(reports.reduce((sum, report) => sum + report.loads, 0));
        }
        const label = fleetSingleFlight ? 'fleet single flight' : 'baseline: single flight per process only';
        rows.push({
          operation: `${label}: slowest of 1,000 callers`,
          p50Us: median(slowest),
          samples: { slowestUs: slowest },
        });
        notes.push(
          `${label}: loader runs per stampede ${loads.join(', ')} (${rounds} stampedes of 4 processes x 250 callers, 50 ms loader).`,
        );
      } finally {
        await Promise.all(workers.map((worker) => worker.stop()));
      }
    }
    return {
      rows,
      notes: [
        ...notes,
        'p50 us column: the median over the stampedes of the slowest caller, from the go message in each process.',
      ],
    };
  },
};

export const nearCacheBenches: BenchSubject[] = [...hitBenches, mutationRuleBench, stalenessBench, fleetBench];
