import Redis from 'ioredis';
import { CacheInvalidator, type CacheService, escapeGlob, invalidationTags, RedisClient } from '@elile/cache';
import { type CacheApp, createCacheApp } from './helpers/cache-app';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult } from './helpers/subject';
import { median, percentile } from './helpers/timing';
import { commandsSent, scriptExecutions } from './helpers/round-trips';

const NAMESPACE = 'bench-invalidation:';
/** Keys no rule touches, filling the database around the measured entries. */
const UNRELATED_PREFIX = 'bench-unrelated:';
const SMALL_KEYSPACE = 1_000;
const LARGE_KEYSPACE = 1_000_000;
/** SETs per script call while filling: a call of 100,000 takes well under a second. */
const FILL_CHUNK = 100_000;
/** Screenings cached per subject (each tagged with it), besides the subject's own entry. */
const SCREENINGS_PER_SUBJECT = 5;
const BATCH_IDS = 100;
/** The sketch's sweep visits every key: a few runs are enough to see what it costs. */
const SWEEP_RUNS = 3;

const SMALL = `invalidateSubject, ${SMALL_KEYSPACE.toLocaleString('en')} unrelated keys`;
const LARGE = `invalidateSubject, ${LARGE_KEYSPACE.toLocaleString('en')} unrelated keys`;
const SWEEP_SMALL = `sketch's sweep SCAN *:subject:<id>, ${SMALL_KEYSPACE.toLocaleString('en')} keys`;
const SWEEP_LARGE = `sketch's sweep SCAN *:subject:<id>, ${LARGE_KEYSPACE.toLocaleString('en')} keys`;
const ONE_BY_ONE = `${BATCH_IDS} + ${BATCH_IDS} + ${BATCH_IDS} ids, one rule call per id`;
const BATCHED = `invalidateBatch, ${BATCH_IDS} + ${BATCH_IDS} + ${BATCH_IDS} ids`;

// Writes `prefix .. i` for i in [from, to]; keys not declared in KEYS, so standalone Redis only.
const FILL = `for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('SET', ARGV[3] .. i, 'x') end return 1`;
const UNFILL = `for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('UNLINK', ARGV[3] .. i) end return 1`;

/** The URL of another database on the same server. */
function withDatabase(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  parsed.searchParams.delete('db');
  return parsed.toString();
}

interface Side {
  readonly app: CacheApp;
  readonly invalidator: CacheInvalidator;
  readonly screenings: CacheService<unknown>;
  readonly subjects: CacheService<unknown>;
  readonly raw: Redis;
  readonly keyspace: number;
}

async function openSide(url: string, keyspace: number): Promise<Side> {
  const app = await createCacheApp({ redis: { url }, namespace: NAMESPACE });
  return {
    app,
    invalidator: app.app.get(CacheInvalidator),
    screenings: app.registry.get('screening'),
    subjects: app.registry.get('subject'),
    raw: new Redis(url),
    keyspace,
  };
}

async function fill(raw: Redis, count: number, script: string, progress: (done: number) => void): Promise<void> {
  for (let from = 0; from < count; from += FILL_CHUNK) {
    await raw.eval(script, 0, from, Math.min(count, from + FILL_CHUNK) - 1, UNRELATED_PREFIX);
    progress(Math.min(count, from + FILL_CHUNK));
  }
}

/** A subject and its screenings, cached as the rules expect (each screening tagged with its subject). */
async function seedSubject(side: Side, id: string): Promise<void> {
  const tag = invalidationTags.subject(id);
  await Promise.all([
    side.subjects.set(id, { id, fullName: 'A Subject' }),
    ...Array.from({ length: SCREENINGS_PER_SUBJECT }, (_, k) =>
      side.screenings.set(`scr-${id}-${k}`, { id: `scr-${id}-${k}`, subjectId: id }, { tags: [tag] }),
    ),
  ]);
}

/** µs of `count` rule calls, each on a freshly seeded subject; seeding is not timed. */
async function timedInvalidations(side: Side, label: string, count: number): Promise<Float64Array> {
  const latencies = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const id = `${label}-${i}`;
    await seedSubject(side, id);
    const start = performance.now();
    await side.invalidator.invalidateSubject(id);
    latencies[i] = (performance.now() - start) * 1000;
  }
  return latencies.sort();
}

/** µs of the sketch's `*:subject:<id>` sweep: SCAN over the whole database, whatever it holds. */
async function timedSweeps(side: Side, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = `sweep-${i}`;
    await seedSubject(side, id);
    const start = performance.now();
    await side.screenings.invalidatePattern(`*:subject:${escapeGlob(id)}`);
    times.push((performance.now() - start) * 1000);
  }
  return times;
}

async function seedBatch(
  side: Side,
  label: string,
): Promise<{ screeningIds: string[]; subjectIds: string[]; orgIds: string[] }> {
  const ids = Array.from({ length: BATCH_IDS }, (_, i) => `${label}-${i}`);
  const { screening, subject, org } = invalidationTags;
  const orgs = side.app.registry.get('org');
  await Promise.all(
    ids.flatMap((id) => [
      side.screenings.set(id, 1, { tags: [screening(id), subject(id)] }),
      side.screenings.set(`${id}:report`, 1, { tags: [screening(id)] }),
      side.subjects.set(id, 1, { tags: [subject(id)] }),
      orgs.set(id, 1, { tags: [org(id)] }),
    ]),
  );
  return { screeningIds: ids, subjectIds: ids, orgIds: ids };
}

/**
 * `CacheInvalidator`: `invalidateSubject` with 1,000 and with 1,000,000 unrelated keys in the
 * database (two databases of one server, measured in alternating blocks), against the sketch's
 * leading-wildcard sweep on the same two; and the round trips of `invalidateBatch` for 100 ids
 * per list against one rule call per id.
 */
export const invalidationBench: BenchSubject = {
  name: 'invalidation',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const sides: Side[] = [];
    try {
      sides.push(await openSide(withDatabase(ctx.redisUrl, 1), SMALL_KEYSPACE));
      sides.push(await openSide(withDatabase(ctx.redisUrl, 2), LARGE_KEYSPACE));
      for (const side of sides) {
        await fill(side.raw, side.keyspace, FILL, (done) =>
          ctx.progress(`invalidation: filling ${done}/${side.keyspace} unrelated keys`),
        );
      }
      return await measure(ctx, sides[0], sides[1]);
    } finally {
      for (const side of sides) {
        ctx.progress(`invalidation: removing ${side.keyspace} unrelated keys`);
        await fill(side.raw, side.keyspace, UNFILL, () => undefined).catch(() => undefined);
        for (const domain of ['screening', 'subject', 'org'])
          await side.app.registry
            .get(domain)
            .clear()
            .catch(() => 0);
        side.raw.disconnect();
        await side.app.close();
      }
    }
  },
};

async function measure(ctx: BenchContext, small: Side, large: Side): Promise<SubjectResult> {
  const { config } = ctx;
  const block = Math.max(50, Math.round(config.sequentialBlock / 5));
  for (const side of [small, large]) await timedInvalidations(side, 'warmup', Math.min(block, config.sequentialWarmup));

  const blocks = new Map<Side, Float64Array[]>([
    [small, []],
    [large, []],
  ]);
  const ratios: number[] = [];
  for (let r = 0; r < config.pairs; r++) {
    ctx.progress(`invalidation: pair ${r + 1}/${config.pairs}`);
    // Alternating A-B, B-A, so that neither keyspace always runs first.
    const order = r % 2 === 0 ? [small, large] : [large, small];
    for (const side of order) blocks.get(side)!.push(await timedInvalidations(side, `pair${r}`, block));
    const p50 = (side: Side) => percentile(blocks.get(side)![r], 0.5);
    ratios.push(p50(large) / p50(small));
  }
  const rowOf = (side: Side, operation: string, extra: Partial<BenchRow> = {}): BenchRow => {
    const runs = blocks.get(side)!;
    const p50s = runs.map((run) => percentile(run, 0.5));
    const p99s = runs.map((run) => percentile(run, 0.99));
    return { operation, p50Us: median(p50s), p99Us: median(p99s), samples: { p50Us: p50s, p99Us: p99s }, ...extra };
  };

  ctx.progress('invalidation: the sketch sweep');
  const sweeps = new Map<Side, number[]>();
  for (const side of [small, large]) sweeps.set(side, await timedSweeps(side, SWEEP_RUNS));

  ctx.progress('invalidation: batch round trips');
  // The first call of each script on a database this connection has not used may cost a NOSCRIPT retry.
  await small.invalidator.invalidateBatch({ screeningIds: ['warm'], subjectIds: ['warm'], orgIds: ['warm'] });
  const batched = await seedBatch(small, 'batched');
  const scriptsBefore = await scriptExecutions(small.raw);
  let batchUs = 0;
  const batchCommands = await commandsSent(small.app.app.get(RedisClient).connection as Redis, async () => {
    const start = performance.now();
    await small.invalidator.invalidateBatch(batched);
    batchUs = (performance.now() - start) * 1000;
  });
  const batchScripts = (await scriptExecutions(small.raw)) - scriptsBefore;
  const single = await seedBatch(small, 'single');
  let singleUs = 0;
  const singleCommands = await commandsSent(small.app.app.get(RedisClient).connection as Redis, async () => {
    const start = performance.now();
    for (const id of single.screeningIds) await small.invalidator.invalidateScreening(id);
    for (const id of single.subjectIds) await small.invalidator.invalidateSubject(id);
    for (const id of single.orgIds) await small.invalidator.invalidateOrg(id);
    singleUs = (performance.now() - start) * 1000;
  });

  const rows: BenchRow[] = [
    rowOf(small, SMALL),
    rowOf(large, LARGE, { baseline: SMALL, pairRatios: { p50Us: ratios }, targets: [{ metric: 'p50Us', atMost: 2 }] }),
    { operation: SWEEP_SMALL, p50Us: median(sweeps.get(small)!), samples: { p50Us: sweeps.get(small)! } },
    {
      operation: SWEEP_LARGE,
      p50Us: median(sweeps.get(large)!),
      baseline: SWEEP_SMALL,
      samples: { p50Us: sweeps.get(large)! },
    },
    { operation: ONE_BY_ONE, p50Us: singleUs },
    { operation: BATCHED, p50Us: batchUs, baseline: ONE_BY_ONE },
  ];
  return {
    rows,
    notes: [
      `invalidateSubject: a subject entry and ${SCREENINGS_PER_SUBJECT} screenings tagged with it, removed by tag; ` +
        `${block} calls per block, ${config.pairs} pairs alternating between a database with ${SMALL_KEYSPACE.toLocaleString('en')} ` +
        `and one with ${LARGE_KEYSPACE.toLocaleString('en')} unrelated keys (same server); target: p50 ratio <= 2.`,
      `Sketch's sweep: invalidatePattern('*:subject:<id>') in the screening domain, SCAN over the whole database; ${SWEEP_RUNS} runs each.`,
      `Round trips of invalidateBatch for ${BATCH_IDS} screening + ${BATCH_IDS} subject + ${BATCH_IDS} org ids: ` +
        `${batchCommands} commands sent by the client (${batchScripts} of them scripts, by INFO commandstats); ` +
        `one rule call per id: ${singleCommands} commands. The last two rows are the time of the whole run, once.`,
    ],
    details: {
      keyspaces: { small: SMALL_KEYSPACE, large: LARGE_KEYSPACE },
      p50Ratios: ratios,
      sweepsUs: { small: sweeps.get(small), large: sweeps.get(large) },
      batch: { ids: BATCH_IDS, commandsSent: batchCommands, scriptExecutions: batchScripts, us: batchUs },
      oneRuleCallPerId: { commandsSent: singleCommands, us: singleUs },
    },
  };
}
