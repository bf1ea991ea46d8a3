import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { Cacheable, CacheModule, CacheRegistry } from '@elile/cache';
import { type ScreeningReport, screeningReport } from './helpers/screening.fixture';
import type { BenchContext, BenchSubject, SubjectResult, Target } from './helpers/subject';
import { type ComparedOp, compareOps } from './helpers/compare-ops';

const KEY_COUNT = 1024;
const KEY_MASK = KEY_COUNT - 1;
const STAMPEDE_CALLERS = 1000;
const STAMPEDE_LOAD_MS = 50;

const BASE_GET = 'baseline: ioredis GET + JSON.parse';
const HIT_TARGETS: Target[] = [{ metric: 'opsPerSec', atLeast: 0.85 }];

/** A repository as an application writes one: the decorator is the whole caching code. */
@Injectable()
class ScreeningReports {
  loads = 0;
  private readonly report = screeningReport(1);

  @Cacheable({ cache: 'screening', key: (id: string) => id })
  async find(_id: string): Promise<ScreeningReport> {
    this.loads++;
    return this.report;
  }

  @Cacheable({ cache: 'screening', key: (id: string) => `slow:${id}` })
  async findSlowly(_id: string): Promise<ScreeningReport> {
    this.loads++;
    await new Promise((resolve) => setTimeout(resolve, STAMPEDE_LOAD_MS));
    return this.report;
  }
}

/** `@Cacheable` hits against the hand-written GET + JSON.parse, and a stampede on a cold key. */
export const decoratorsBench: BenchSubject = {
  name: 'decorators',
  needsRedis: true,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    @Module({
      imports: [CacheModule.forRoot({ redis: { url: ctx.redisUrl }, namespace: 'bench-decorators:' })],
      providers: [ScreeningReports],
    })
    class DecoratorsBenchModule {}

    const app = await NestFactory.createApplicationContext(DecoratorsBenchModule, { logger: ['error', 'warn'] });
    const raw = new Redis(ctx.redisUrl);
    try {
      return await measure(ctx, raw, app.get(ScreeningReports), app.get(CacheRegistry));
    } finally {
      raw.disconnect();
      await app.close();
    }
  },
};

async function measure(
  ctx: BenchContext,
  raw: Redis,
  reports: ScreeningReports,
  registry: CacheRegistry,
): Promise<SubjectResult> {
  const report = screeningReport(1);
  const ids = Array.from({ length: KEY_COUNT }, (_, i) => `scr_${i}`);
  const rawKeys = ids.map((id) => `bench-decorators-raw:${id}`);
  await Promise.all(rawKeys.map((key) => raw.set(key, JSON.stringify(report), 'PX', 300_000)));
  await Promise.all(ids.map((id) => reports.find(id)));
  const loadsBefore = reports.loads;

  const ops: ComparedOp[] = [
    { operation: BASE_GET, fn: async (i: number) => JSON.parse((await raw.get(rawKeys[i & KEY_MASK])) as string) },
    {
      operation: '@Cacheable method (hit)',
      baseline: BASE_GET,
      targets: HIT_TARGETS,
      fn: (i: number) => reports.find(ids[i & KEY_MASK]),
    },
  ];
  const rows = await compareOps(ctx, 'decorators', ops);
  const hitsOnly = reports.loads === loadsBefore;

  ctx.progress('decorators: stampede');
  const stampedeLoadsBefore = reports.loads;
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: STAMPEDE_CALLERS }, () => reports.findSlowly('cold')));
  const stampedeMs = performance.now() - started;
  const stampedeLoads = reports.loads - stampedeLoadsBefore;
  const allSame = results.every((result) => result === results[0]);

  await registry.get('screening').clear();
  await raw.unlink(...rawKeys);

  return {
    rows,
    notes: [
      `The @Cacheable method's body is never run during the measurement: ${hitsOnly ? 'confirmed' : 'FAILED, it ran'}.`,
      `Stampede: ${STAMPEDE_CALLERS} concurrent calls on a cold key whose method takes ${STAMPEDE_LOAD_MS} ms → ` +
        `method ran ${stampedeLoads} time(s), all callers got the same result: ${allSame}, ${stampedeMs.toFixed(0)} ms in all.`,
    ],
    details: {
      stampede: {
        callers: STAMPEDE_CALLERS,
        loadMs: STAMPEDE_LOAD_MS,
        methodRuns: stampedeLoads,
        allSame,
        ms: stampedeMs,
      },
    },
  };
}
