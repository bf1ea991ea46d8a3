import type { INestApplication } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { CacheRegistry, type CacheService } from '@elile/cache';
import { createDecoratedApp, STORE_KINDS, type StoreKind } from '../../fixtures/decorated-app';
import {
  EarlyCaptor,
  REPORT_ABOVE_CHANGED,
  REPORT_ABOVE_JOB,
  REPORT_BELOW_CHANGED,
  REPORT_BELOW_JOB,
  ReportJobs,
  ScheduledFixtureModule,
} from '../../fixtures/scheduled.fixture';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('schedule-events');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

type Order = 'before' | 'after';

/**
 * "before": the fixture module, the scheduler and the event emitter are global and imported ahead
 * of CacheModule, so their init hooks run before the cache's explorer. "after": the reverse.
 */
async function bootIn(order: Order, store: StoreKind): Promise<INestApplication> {
  const fixtures = [ScheduleModule.forRoot(), EventEmitterModule.forRoot()];
  return createDecoratedApp({
    store,
    namespace: `${namespace}${store}-${order}:`,
    importsBefore: order === 'before' ? [...fixtures, ScheduledFixtureModule.register(true)] : [],
    imports: order === 'after' ? [...fixtures, ScheduledFixtureModule.register(false)] : [],
  });
}

const orders: Order[] = ['before', 'after'];
const cases = STORE_KINDS.flatMap((store) => orders.map((order) => [order, store] as const));

describe.each(cases)('@Cron and @OnEvent in a module initialised %s CacheModule (%s store)', (order, store) => {
  let app: INestApplication;
  let jobs: ReportJobs;
  let cache: CacheService<unknown>;

  beforeAll(async () => {
    app = await bootIn(order, store);
    jobs = app.get(ReportJobs);
    cache = app.get(CacheRegistry).get('jobs');
  });

  afterAll(async () => {
    await app.close();
  });

  it('really initialised in that order (a method captured at init saw the advice or not)', () => {
    expect(app.get(EarlyCaptor).advisedWhenCaptured).toBe(order === 'after');
  });

  it.each([
    ['@Cron above @Cacheable', REPORT_ABOVE_JOB, 'buildReportAbove', 'report-above'],
    ['@Cacheable above @Cron', REPORT_BELOW_JOB, 'buildReportBelow', 'report-below'],
  ] as const)('%s: the job goes through the cache', async (_label, jobName, method, key) => {
    const job = app.get(SchedulerRegistry).getCronJob(jobName);
    // fireOnTick runs the callback the schedule explorer captured at its init.
    await job.fireOnTick();
    await job.fireOnTick();
    await job.fireOnTick();
    expect(jobs.runs.of(method)).toBe(1);
    expect(await cache.get(key)).toEqual({ build: 1 });
  });

  it('a method reference captured during init goes through the cache too', async () => {
    const captor = app.get(EarlyCaptor);
    const first = await captor.captured!();
    const second = await captor.captured!();
    expect(second).toEqual(first);
    expect(await cache.get('report-above')).toEqual(first);
  });

  it.each([
    ['@OnEvent above @CacheEvict', REPORT_ABOVE_CHANGED, 'onAboveChanged', 'report-above', 'buildReportAbove'],
    ['@CacheEvict above @OnEvent', REPORT_BELOW_CHANGED, 'onBelowChanged', 'report-below', 'buildReportBelow'],
  ] as const)('%s: emitting the event evicts', async (_label, event, listener, key, builder) => {
    await jobs[builder]();
    expect(await cache.exists(key)).toBe(true);
    const buildsBefore = jobs.runs.of(builder);

    await app.get(EventEmitter2).emitAsync(event);
    expect(jobs.runs.of(listener)).toBe(1);
    expect(await cache.exists(key)).toBe(false);
    await jobs[builder]();
    expect(jobs.runs.of(builder)).toBe(buildsBefore + 1);
  });
});
