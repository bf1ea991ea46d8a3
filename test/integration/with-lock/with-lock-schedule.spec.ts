import type { INestApplication } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { createDecoratedApp, sleep } from '../../fixtures/decorated-app';
import { RecordingLogger } from '../../support/recording-logger';
import {
  InitOrderProbe,
  LOCKED_JOB_ABOVE,
  LOCKED_JOB_BELOW,
  LockedJobsModule,
  TICKING_JOB,
  TickingJobModule,
} from '../../fixtures/with-lock-jobs.fixture';
import { eventually, LockLedger } from '../../fixtures/with-lock.fixtures';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

// Two instances of a scheduled application on one Redis: every tick fires on both, and the job
// must run on exactly one. Redis only: memory-store locks are per process by design.
const namespace = uniqueNamespace('with-lock-schedule');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

type Order = 'before' | 'after';

/**
 * "before": ScheduleModule and the (global) jobs module are imported ahead of CacheModule, so the
 * schedule explorer captures the job before the cache's explorer ran. "after": the reverse.
 * Both instances log to `logger` (Nest's Logger is process-wide; the last app's wins anyway).
 */
function bootInstance(order: Order, ns: string, ledger: LockLedger, instance: string, logger: RecordingLogger) {
  const modules = (global: boolean) => [
    ScheduleModule.forRoot(),
    LockedJobsModule.register({ global, ledger, instance }),
  ];
  return createDecoratedApp({
    store: 'redis',
    namespace: ns,
    importsBefore: order === 'before' ? modules(true) : [],
    imports: order === 'after' ? modules(false) : [],
    logger,
  });
}

const errorLines = (logger: RecordingLogger) => logger.lines.filter((line) => /^(error|fatal):/.test(line));

describe.each<Order>(['before', 'after'])(
  '@Cron + @WithLock in a module initialised %s CacheModule, two instances',
  (order) => {
    const ns = `${namespace}${order}:`;
    const logger = new RecordingLogger();
    let ledger: LockLedger;
    let apps: INestApplication[];

    beforeAll(async () => {
      ledger = new LockLedger();
      apps = await Promise.all(['A', 'B'].map((instance) => bootInstance(order, ns, ledger, instance, logger)));
    });

    afterAll(async () => {
      await Promise.all(apps.map((app) => app.close()));
    });

    it('really initialised in that order (the job captured at init was advised already, or not yet)', () => {
      for (const app of apps) expect(app.get(InitOrderProbe).advisedWhenCaptured).toBe(order === 'after');
    });

    it.each([
      ['@Cron above @WithLock', LOCKED_JOB_ABOVE, 'job'],
      ['@WithLock above @Cron', LOCKED_JOB_BELOW, 'job-below'],
    ])(
      '%s: fired on both instances at once, it runs on exactly one per round; the other skips quietly',
      async (_label, jobName, key) => {
        // The CronJob each instance's scheduler built around the function its explorer captured.
        const jobs = apps.map((app) => app.get(SchedulerRegistry).getCronJob(jobName));
        const rounds = 5;
        for (let round = 1; round <= rounds; round += 1) {
          // waitForCompletion: fireOnTick resolves when the (wrapped) job settled, as a tick would.
          await Promise.all(jobs.map((job) => job.fireOnTick()));
          expect(ledger.of(key)).toHaveLength(round);
        }
        expect(ledger.overlaps(key)).toEqual([]);
        // A skip is not an error: the scheduler logs whatever the job throws.
        expect(errorLines(logger)).toEqual([]);
      },
    );
  },
);

describe('@Cron + @WithLock fired by the real timer (every second), two instances', () => {
  const ns = `${namespace}ticking:`;
  const logger = new RecordingLogger();
  let ledger: LockLedger;
  let apps: INestApplication[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('runs at most once per tick, never twice for the same tick', async () => {
    ledger = new LockLedger();
    const boot = (instance: string) =>
      createDecoratedApp({
        store: 'redis',
        namespace: ns,
        imports: [ScheduleModule.forRoot(), TickingJobModule.register({ global: false, ledger, instance })],
        logger,
      });
    apps = await Promise.all([boot('A'), boot('B')]);
    const firstTick = Math.floor(Date.now() / 1000);

    await sleep(2_500);
    for (const app of apps) app.get(SchedulerRegistry).getCronJob(TICKING_JOB).stop();
    const lastTick = Math.floor(Date.now() / 1000);
    // Let a run in flight finish before the apps close (shutdown would take its lock away).
    expect(await eventually(() => ledger.running === 0, 3_000)).toBe(true);

    const ticks = ledger.of('tick').map((run) => run.tag!);
    // Ticks are the second boundaries crossed while the timers were running.
    const elapsedTicks = lastTick - firstTick;
    expect(ticks.length).toBeGreaterThanOrEqual(1);
    expect(ticks.length).toBeLessThanOrEqual(elapsedTicks);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ledger.overlaps('tick')).toEqual([]);
    expect(errorLines(logger)).toEqual([]);
  });
});
