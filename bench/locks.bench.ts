import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import Redis from 'ioredis';
import { LockService, RedisClient } from '@elile/cache';
import { createCacheApp } from './helpers/cache-app';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult } from './helpers/subject';
import { median, percentile, sequentialLatency } from './helpers/timing';
import { commandsSent, scriptExecutions } from './helpers/round-trips';

const BASE_UNCONTENDED = 'baseline: SET NX PX + owner-checked DEL (EVAL)';
const BASE_HANDOFF = 'baseline: hand-off, SET NX PX polled every 100 ms';
const WAITERS = 8;
/** How long each holder keeps the lock during the hand-off runs. */
const HOLD_MS = 1;
const NAIVE_POLL_MS = 100;

// The hand-written release everyone writes first (the sketch's): owner-checked, but no fencing.
const NAIVE_RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A lock as the sketch writes it: SET NX PX, retried every 100 ms, released by an owner-checked script. */
async function naiveAcquire(redis: Redis, key: string, token: string, deadline: number): Promise<boolean> {
  for (;;) {
    if ((await redis.set(key, token, 'PX', 30_000, 'NX')) === 'OK') return true;
    if (performance.now() > deadline) return false;
    await sleep(NAIVE_POLL_MS);
  }
}

/**
 * Time from one holder calling release to the next holder's acquire returning, with `WAITERS`
 * contenders looping on one key (each its own connection, like instances of an application).
 * A holder that released queues again only once another contender took the lock: otherwise it
 * would mostly re-take its own lock at once, and the figure would measure no hand-off at all.
 */
async function handOffLatencies(
  contenders: Array<{ acquire(): Promise<() => Promise<unknown>> }>,
  handOffs: number,
): Promise<Float64Array> {
  const latencies: number[] = [];
  let releasedAt: number | undefined;
  let remaining = handOffs + 1;
  let taken = (): void => undefined;
  await Promise.all(
    contenders.map(async (contender) => {
      for (;;) {
        const release = await contender.acquire();
        taken();
        // Contenders still queued when the count is reached take the lock once more, to let go.
        if (remaining === 0) return void (await release());
        if (releasedAt !== undefined) latencies.push((performance.now() - releasedAt) * 1000);
        remaining--;
        await sleep(HOLD_MS);
        const handedOff = new Promise<void>((resolve) => (taken = resolve));
        releasedAt = performance.now();
        await release();
        if (remaining === 0) return;
        await handedOff;
      }
    }),
  );
  return Float64Array.from(latencies).sort();
}

/**
 * Locks: the uncontended cost of acquire + release against the hand-written SET NX lock, the
 * round trips it takes (counted on the client and, as script executions, on the server), and
 * hand-off latency under contention against the sketch's 100 ms polling.
 */
export const locksBench: BenchSubject = {
  name: 'locks',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const apps: INestApplicationContext[] = [];
    const raws: Redis[] = [];
    const connect = () => {
      const redis = new Redis(ctx.redisUrl);
      raws.push(redis);
      return redis;
    };
    try {
      for (let i = 0; i < WAITERS; i++) {
        apps.push((await createCacheApp({ redis: { url: ctx.redisUrl }, namespace: 'bench-locks:' })).app);
      }
      return await measure(ctx, apps, connect);
    } finally {
      for (const redis of raws) redis.disconnect();
      for (const app of apps) await app.close();
    }
  },
};

async function measure(
  ctx: BenchContext,
  apps: INestApplicationContext[],
  connect: () => Redis,
): Promise<SubjectResult> {
  const { config } = ctx;
  const locks = apps.map((app) => app.get(LockService));
  const raw = connect();
  const admin = connect();
  const owner = randomBytes(16).toString('hex');
  const naiveKey = 'bench-naive:uncontended';

  const uncontended = [
    {
      operation: BASE_UNCONTENDED,
      fn: async () => {
        await raw.set(naiveKey, owner, 'PX', 30_000, 'NX');
        await raw.eval(NAIVE_RELEASE, 1, naiveKey, owner);
      },
    },
    {
      operation: 'LockService acquire + release, uncontended',
      baseline: BASE_UNCONTENDED,
      // Two script round trips on the module's auto-pipelined connection (each pays a tick of
      // batching when sequential) doing the fencing work, against two plain commands.
      targets: [{ metric: 'p50Us' as const, atMost: 3 }],
      fn: async () => {
        const lock = await locks[0].acquire('uncontended', { ttl: 30, wait: 0 });
        await lock.release();
      },
    },
  ];
  const samples = uncontended.map(() => ({ p50Us: [] as number[], p99Us: [] as number[] }));
  for (let r = 0; r < config.repeats; r++) {
    for (const [k, op] of uncontended.entries()) {
      ctx.progress(`locks: repeat ${r + 1}/${config.repeats}, ${op.operation}`);
      const latency = await sequentialLatency(op.fn, {
        warmup: config.sequentialWarmup,
        samples: config.sequentialSamples,
      });
      samples[k].p50Us.push(latency.p50Us);
      samples[k].p99Us.push(latency.p99Us);
    }
  }

  ctx.progress('locks: counting round trips');
  const counted = 1000;
  const scriptsBefore = await scriptExecutions(admin);
  const sent = await commandsSent(apps[0].get(RedisClient).connection as Redis, async () => {
    for (let i = 0; i < counted; i++) {
      const lock = await locks[0].acquire('counted', { ttl: 30, wait: 0 });
      await lock.release();
    }
  });
  // The INFO call itself is not a script; nothing else talks to this server meanwhile.
  const scriptsRun = (await scriptExecutions(admin)) - scriptsBefore;

  const handOffs = Math.max(40, Math.round(config.sequentialSamples / 10));
  // Each naive hand-off costs ~100 ms: fewer of them keep `npm run bench` short.
  const naiveHandOffs = Math.max(20, Math.round(handOffs / 10));
  const ours: Float64Array[] = [];
  const naive: Float64Array[] = [];
  for (let r = 0; r < config.repeats; r++) {
    ctx.progress(`locks: repeat ${r + 1}/${config.repeats}, hand-off with ${WAITERS} waiters`);
    ours.push(
      await handOffLatencies(
        locks.map((service) => ({
          acquire: async () => {
            const lock = await service.acquire('handoff', { ttl: 30, wait: 60 });
            return () => lock.release();
          },
        })),
        handOffs,
      ),
    );
    ctx.progress(`locks: repeat ${r + 1}/${config.repeats}, naive hand-off with ${WAITERS} waiters`);
    const naiveClients = Array.from({ length: WAITERS }, connect);
    naive.push(
      await handOffLatencies(
        naiveClients.map((redis) => ({
          acquire: async () => {
            const token = randomBytes(16).toString('hex');
            if (!(await naiveAcquire(redis, 'bench-naive:handoff', token, performance.now() + 60_000))) {
              throw new Error('naive lock not acquired within 60 s');
            }
            return () => redis.eval(NAIVE_RELEASE, 1, 'bench-naive:handoff', token);
          },
        })),
        naiveHandOffs,
      ),
    );
  }
  const handOffRow = (operation: string, runs: Float64Array[], extra: Partial<BenchRow> = {}): BenchRow => ({
    operation,
    p50Us: median(runs.map((run) => percentile(run, 0.5))),
    p99Us: median(runs.map((run) => percentile(run, 0.99))),
    samples: { p50Us: runs.map((run) => percentile(run, 0.5)), p99Us: runs.map((run) => percentile(run, 0.99)) },
    ...extra,
  });

  await raw.unlink(naiveKey, 'bench-naive:handoff');
  const rows: BenchRow[] = [
    ...uncontended.map((op, k) => ({
      operation: op.operation,
      baseline: op.baseline,
      targets: op.targets,
      p50Us: median(samples[k].p50Us),
      p99Us: median(samples[k].p99Us),
      samples: samples[k],
    })),
    handOffRow(BASE_HANDOFF, naive),
    handOffRow(`LockService hand-off (${WAITERS} waiters, wake on release)`, ours, {
      baseline: BASE_HANDOFF,
      targets: [{ metric: 'p50Us', atMost: 0.1 }],
    }),
  ];
  return {
    rows,
    notes: [
      `Uncontended: ${config.sequentialSamples} sequential acquire + release after ${config.sequentialWarmup} warm-up, median of ${config.repeats} repeats.`,
      `Round trips per uncontended acquire + release: ${(sent / counted).toFixed(2)} commands sent by the client, ` +
        `${(scriptsRun / counted).toFixed(2)} script executions on the server (INFO commandstats), over ${counted} pairs.`,
      `Hand-off: release call to the next holder's acquire returning; ${WAITERS} contenders (each its own application / ` +
        `connection) on one key, holding ${HOLD_MS} ms; ${handOffs} hand-offs (naive: ${naiveHandOffs}) per repeat.`,
    ],
    details: {
      roundTrips: { counted, commandsSent: sent, scriptExecutions: scriptsRun },
      handOffs,
      naiveHandOffs,
      waiters: WAITERS,
    },
  };
}
