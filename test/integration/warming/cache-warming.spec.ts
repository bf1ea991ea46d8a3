import type { Provider } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type Redis from 'ioredis';
import {
  CacheArgumentError,
  CacheConfigurationError,
  CacheModule,
  type CacheModuleOptions,
  CacheRegistry,
  type CacheStoreKind,
  CacheWarmer,
  CacheWarming,
  CacheWarmingError,
  invalidationTags,
  type WarmingReport,
} from '@elile/cache';
import {
  ComplianceWarmer,
  DomainlessWarmer,
  MalformedWarmer,
  OrgWarmers,
  RequestScopedWarmer,
  ThrowingWarmer,
  UnknownDomainWarmer,
  WARM_SOURCE,
  WarmSource,
} from '../../fixtures/warmers.fixture';
import { deferred } from '../../support/deferred';
import { RecordingLogger } from '../../support/recording-logger';
import { findFreePort } from '../../support/redis-harness';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { closeRaw, failureOf, rawRedis, sleep, waitFor } from '../cache-test-app';
import { closeFailedBoot } from '../../support/close-failed-boot';

/**
 * Warming on a real Redis (and the memory store where a single instance is enough): what is
 * loaded and stored, what is left alone, the fleet's single warm-up, TTL jitter, errors, shutdown.
 */

const fileNamespace = uniqueNamespace('warming');
let testNumber = 0;
const apps: TestingModule[] = [];

interface BootOptions {
  store?: CacheStoreKind;
  namespace: string;
  source: WarmSource;
  providers?: Provider[];
  warming?: CacheModuleOptions['warming'];
  leaseTtl?: number;
  logger?: RecordingLogger;
  /** Another Redis than the jest-provided one. */
  redisUrl?: string;
}

async function boot(options: BootOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CacheModule.forRoot({
        store: options.store ?? 'redis',
        namespace: options.namespace,
        redis: { url: options.redisUrl ?? testRedisUrl(), connectTimeout: 0.5 },
        warming: options.warming,
        leaseTtl: options.leaseTtl,
      }),
    ],
    providers: [{ provide: WARM_SOURCE, useValue: options.source }, ...(options.providers ?? [OrgWarmers])],
  })
    .setLogger(options.logger ?? new RecordingLogger())
    .compile();
  try {
    await moduleRef.init();
  } catch (error) {
    await closeFailedBoot(moduleRef);
    throw error;
  }
  apps.push(moduleRef);
  return moduleRef;
}

const orgIds = (count: number) => Array.from({ length: count }, (_, i) => `org-${i + 1}`);
const cacheOf = (app: TestingModule, domain = 'org') => app.get(CacheRegistry).get<unknown>(domain);
const reportOf = async (app: TestingModule, domain = 'org'): Promise<WarmingReport | undefined> =>
  (await app.get(CacheWarming).ready).find((report) => report.domain === domain);

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

function nextNamespace(): string {
  testNumber += 1;
  return `${fileNamespace}${testNumber}:`;
}

describe.each<CacheStoreKind>(['memory', 'redis'])('warming at bootstrap on the %s store', (store) => {
  it('preloads what the warmers name, awaited, in one load per batch; cached keys are left alone', async () => {
    const namespace = nextNamespace();
    const source = new WarmSource(orgIds(5), ['fcra', 'gdpr']);
    const logger = new RecordingLogger();
    // A first instance caches org-2 itself; warming on the second must keep that value.
    const first = await boot({ store, namespace, source: new WarmSource([]), providers: [] });
    const seeded = store === 'redis' ? cacheOf(first) : undefined;
    await seeded?.set('org-2', { id: 'org-2', loadedBy: 'application' });

    const app = await boot({
      store,
      namespace,
      source,
      logger,
      providers: [OrgWarmers, ComplianceWarmer],
      warming: { await: true },
    });

    const org = cacheOf(app);
    await expect(org.get('org-1')).resolves.toEqual({ id: 'org-1', loadedBy: 'warmer' });
    await expect(cacheOf(app, 'compliance').get('gdpr')).resolves.toEqual({ id: 'gdpr', loadedBy: 'warmer' });
    if (store === 'redis') {
      await expect(org.get('org-2')).resolves.toEqual({ id: 'org-2', loadedBy: 'application' });
      expect(source.calls).toEqual(expect.arrayContaining([['org-1', 'org-3', 'org-4', 'org-5']]));
    }
    expect(source.calls).toHaveLength(2);
    const reports = await app.get(CacheWarming).ready;
    expect(reports).toEqual([
      expect.objectContaining({
        domain: 'org',
        outcome: 'warmed',
        total: 5,
        filled: store === 'redis' ? 4 : 5,
        errors: 0,
      }),
      expect.objectContaining({ domain: 'compliance', outcome: 'warmed', total: 2, filled: 2, errors: 0 }),
    ]);
    expect(logger.text()).toMatch(
      /Warmed "org": 5\/5 entries in [\d.]+ s, \d+ entries\/s \(\d filled, \d already cached/,
    );
    // Warmed entries carry their tags: invalidating the org removes the warmed entry.
    await org.invalidateTags([invalidationTags.org('org-3')]);
    await expect(org.get('org-3')).resolves.toBeUndefined();
  });

  it('runs in the background by default: boot does not wait for a slow source', async () => {
    const source = new WarmSource(orgIds(3));
    const gate = deferred();
    source.gate = gate.promise;
    const app = await boot({ store, namespace: nextNamespace(), source });
    await waitFor('the warmer to start loading', () => source.calls.length === 1);
    await expect(cacheOf(app).get('org-1')).resolves.toBeUndefined();

    gate.resolve();
    await expect(reportOf(app)).resolves.toMatchObject({ outcome: 'warmed', filled: 3 });
    await expect(cacheOf(app).get('org-1')).resolves.toEqual({ id: 'org-1', loadedBy: 'warmer' });
  });

  it('keeps at most `concurrency` loads in flight', async () => {
    const source = new WarmSource(orgIds(12));
    source.batchSize = 1;
    const gate = deferred();
    source.gate = gate.promise;
    const app = await boot({ store, namespace: nextNamespace(), source, warming: { concurrency: 3 } });
    await waitFor('three loads in flight', () => source.calls.length === 3);
    await sleep(50);
    expect(source.calls).toHaveLength(3);
    gate.resolve();
    await expect(reportOf(app)).resolves.toMatchObject({ filled: 12 });
    expect(source.maxInFlight).toBe(3);
    expect(source.calls).toHaveLength(12);
  });
});

describe('warming never overwrites a newer value (Redis)', () => {
  it('a key set, deleted or invalidated while its warmer loads keeps that newer state', async () => {
    const source = new WarmSource(['org-set', 'org-deleted', 'org-tagged', 'org-quiet']);
    const gate = deferred();
    source.gate = gate.promise;
    const app = await boot({ namespace: nextNamespace(), source });
    await waitFor('the warmer to start loading', () => source.calls.length === 1);
    const org = cacheOf(app);

    await org.set('org-set', { id: 'org-set', loadedBy: 'application' });
    await org.delete('org-deleted');
    await org.invalidateTags([invalidationTags.org('org-tagged')]);
    gate.resolve();

    await expect(reportOf(app)).resolves.toMatchObject({ filled: 1, refused: 3, errors: 0 });
    await expect(org.getMany(['org-set', 'org-deleted', 'org-tagged', 'org-quiet'])).resolves.toEqual([
      { id: 'org-set', loadedBy: 'application' },
      undefined,
      undefined,
      { id: 'org-quiet', loadedBy: 'warmer' },
    ]);
    expect(org.stats().staleFillsDiscarded).toBe(3);
  });
});

describe('TTL jitter (Redis)', () => {
  let raw: Redis;

  beforeAll(() => {
    raw = rawRedis(testRedisUrl());
  });

  afterAll(async () => {
    await closeRaw(raw);
  });

  async function warmedTtls(jitter: number | undefined): Promise<number[]> {
    const source = new WarmSource(orgIds(300));
    source.ttl = 1_000;
    const app = await boot({ namespace: nextNamespace(), source, warming: { await: true, jitter } });
    const org = cacheOf(app);
    return Promise.all(source.orgIds.map(async (id) => (await raw.pttl(org.fullKey(id))) / 1000));
  }

  it('spreads warmed TTLs over ttl ± 10 % by default', async () => {
    const ttls = await warmedTtls(undefined);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(899);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(1_100);
    // 300 uniform draws: the extremes come near both ends, and every tenth of the range is used.
    expect(Math.min(...ttls)).toBeLessThan(920);
    expect(Math.max(...ttls)).toBeGreaterThan(1_080);
    const deciles = new Set(ttls.map((ttl) => Math.min(9, Math.floor((ttl - 900) / 20))));
    expect(deciles.size).toBe(10);
  });

  it('follows warming.jitter, and 0 gives every entry the same TTL', async () => {
    const wide = await warmedTtls(0.5);
    expect(Math.min(...wide)).toBeLessThan(600);
    expect(Math.max(...wide)).toBeGreaterThan(1_400);
    const exact = await warmedTtls(0);
    expect(Math.max(...exact) - Math.min(...exact)).toBeLessThan(2);
    expect(Math.min(...exact)).toBeGreaterThan(998);
  });
});

describe('one warm-up per fleet (Redis)', () => {
  it('two instances started at once: the loader runs once in total', async () => {
    const namespace = nextNamespace();
    const source = new WarmSource(orgIds(20));
    const gate = deferred();
    source.gate = gate.promise;
    const booting = Promise.all([1, 2].map(() => boot({ namespace, source, warming: { await: true } })));
    await waitFor('one instance to start loading', () => source.calls.length === 1);
    // Long enough for the other instance to reach the lock while the first still holds it.
    await sleep(200);
    gate.resolve();
    const instances = await booting;

    expect(source.calls).toHaveLength(1);
    const outcomes = await Promise.all(instances.map(async (app) => (await reportOf(app))?.outcome));
    expect(outcomes.sort()).toEqual(['locked', 'warmed']);
    for (const app of instances) await expect(cacheOf(app).get('org-20')).resolves.toBeDefined();
  });

  it("fleet 'wait': the second instance's boot waits for the first warm-up, then skips it as fresh", async () => {
    const namespace = nextNamespace();
    const source = new WarmSource(orgIds(5));
    const gate = deferred();
    source.gate = gate.promise;
    const warming = { await: true, fleet: 'wait' as const };
    const first = boot({ namespace, source, warming });
    await waitFor('the first instance to start loading', () => source.calls.length === 1);
    let secondBooted = false;
    const second = boot({ namespace, source, warming }).then((app) => {
      secondBooted = true;
      return app;
    });
    await sleep(300);
    expect(secondBooted).toBe(false);

    gate.resolve();
    const [, waiter] = await Promise.all([first, second]);
    expect(source.calls).toHaveLength(1);
    await expect(reportOf(waiter)).resolves.toMatchObject({ outcome: 'recent', total: 0 });
    await expect(cacheOf(waiter).get('org-5')).resolves.toBeDefined();
  });

  it('an instance started after a warm-up within its window does not warm again; warm() does, loading only what is absent', async () => {
    const namespace = nextNamespace();
    const source = new WarmSource(orgIds(4));
    const logger = new RecordingLogger();
    await boot({ namespace, source, warming: { await: true } });
    const later = await boot({ namespace, source, logger, warming: { await: true } });
    expect(source.calls).toHaveLength(1);
    await expect(reportOf(later)).resolves.toMatchObject({ outcome: 'recent' });
    expect(logger.text()).toContain('Warming "org" skipped: the fleet warmed it recently');

    await cacheOf(later).delete('org-3');
    const [report] = await later.get(CacheWarming).warm('org');
    expect(report).toMatchObject({ domain: 'org', outcome: 'warmed', total: 4, filled: 1, present: 3 });
    expect(source.calls).toEqual([orgIds(4), ['org-3']]);
  });

  it('warm() skips a domain another instance is warming right now', async () => {
    const namespace = nextNamespace();
    const source = new WarmSource(orgIds(2));
    const gate = deferred();
    source.gate = gate.promise;
    const first = await boot({ namespace, source });
    await waitFor('the first instance to start loading', () => source.calls.length === 1);
    const second = await boot({ namespace, source: new WarmSource([]), providers: [OrgWarmers] });
    await expect(second.get(CacheWarming).warm()).resolves.toEqual([expect.objectContaining({ outcome: 'locked' })]);
    gate.resolve();
    await expect(reportOf(first)).resolves.toMatchObject({ outcome: 'warmed' });
  });
});

describe('warming errors (Redis)', () => {
  it('a failing batch is counted in stats and the report, logged, and does not fail the boot', async () => {
    const source = new WarmSource(orgIds(6));
    source.batchSize = 2;
    source.failing.add('org-3');
    const logger = new RecordingLogger();
    const namespace = nextNamespace();
    const app = await boot({
      namespace,
      source,
      logger,
      providers: [OrgWarmers, ThrowingWarmer],
      warming: { await: true },
    });
    const org = cacheOf(app);

    // org-3 and org-4 share the failing batch; the throwing warmer counts as one error.
    await expect(reportOf(app)).resolves.toMatchObject({ outcome: 'warmed', total: 6, filled: 4, errors: 3 });
    expect(org.stats().warmingErrors).toBe(3);
    await expect(org.getMany(['org-2', 'org-3', 'org-4', 'org-5'])).resolves.toEqual([
      expect.anything(),
      undefined,
      undefined,
      expect.anything(),
    ]);
    expect(logger.text()).toContain(
      'Warming "org": OrgWarmers#warmOrganizations failed for 2 entries (source failed on org-3)',
    );
    expect(logger.text()).toContain(
      'Warming "org": ThrowingWarmer#warmNothing failed for 0 entries (cannot list organizations)',
    );
    // A warm-up with errors leaves no marker: the next instance tries again.
    source.failing.clear();
    const next = await boot({ namespace, source, warming: { await: true } });
    await expect(reportOf(next)).resolves.toMatchObject({ outcome: 'warmed', filled: 2, present: 4 });
  });

  it('a warmer returning something other than a Warmup is an error, named', async () => {
    const logger = new RecordingLogger();
    const app = await boot({
      namespace: nextNamespace(),
      source: new WarmSource([]),
      logger,
      providers: [MalformedWarmer],
      warming: { await: true },
    });
    await expect(reportOf(app)).resolves.toMatchObject({ errors: 1 });
    expect(logger.text()).toContain('MalformedWarmer#warmWrongly must return { keys: string[], load(keys) }');
  });

  it('with failOnError, a warm-up with errors fails the boot with CacheWarmingError', async () => {
    const source = new WarmSource(orgIds(3));
    source.failing.add('org-2');
    const error = await failureOf(() =>
      boot({ namespace: nextNamespace(), source, warming: { await: true, failOnError: true } }),
    );
    expect(error).toBeInstanceOf(CacheWarmingError);
    expect((error as CacheWarmingError).failures).toEqual({ org: 3 });
    expect((error as Error).message).toContain('Cache warming failed at startup (warming.failOnError): org: 3');
  });

  it('with Redis unreachable at boot, the domain is reported failed and logged; the boot goes on', async () => {
    const logger = new RecordingLogger();
    const source = new WarmSource(orgIds(2));
    const app = await boot({
      namespace: nextNamespace(),
      source,
      logger,
      redisUrl: `redis://127.0.0.1:${await findFreePort()}`,
      warming: { await: true },
    });
    await expect(reportOf(app)).resolves.toMatchObject({ outcome: 'failed', errors: 1, filled: 0 });
    expect(source.calls).toEqual([]);
    expect(logger.text()).toContain(`Warming "org" skipped: the fleet's warm-up lock could not be taken`);
  });

  it('warm() of a domain without warmers is refused', async () => {
    const app = await boot({ namespace: nextNamespace(), source: new WarmSource(orgIds(1)) });
    expect(() => app.get(CacheWarming).warm('compliance')).toThrow(CacheArgumentError);
  });
});

describe('warmers are checked at boot', () => {
  it.each<[string, Provider, string]>([
    [
      'a request-scoped provider',
      RequestScopedWarmer,
      'RequestScopedWarmer#warmPerRequest is a cache warmer, but its provider is request-scoped',
    ],
    ['a domain that is not configured', UnknownDomainWarmer, 'Cache domain "reports" is not configured'],
    ['a CacheWarmer class without a domain', DomainlessWarmer, 'DomainlessWarmer has a cacheWarmup() method'],
  ])('%s fails the boot with CacheConfigurationError', async (_, provider, message) => {
    const error = await failureOf(() =>
      boot({ store: 'memory', namespace: nextNamespace(), source: new WarmSource([]), providers: [provider] }),
    );
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect((error as Error).message).toContain(message);
  });

  it('@CacheWarmer without a domain is refused where it is written', () => {
    expect(() => CacheWarmer('')).toThrow(CacheConfigurationError);
  });
});

describe('shutdown during a background warm-up (Redis)', () => {
  it('close() stops starting batches and waits at most one lease TTL for those in flight', async () => {
    const source = new WarmSource(orgIds(10));
    source.batchSize = 1;
    const gate = deferred();
    source.gate = gate.promise;
    const app = await boot({ namespace: nextNamespace(), source, leaseTtl: 0.5, warming: { concurrency: 2 } });
    await waitFor('two loads in flight', () => source.calls.length === 2);
    const started = performance.now();
    await apps.splice(apps.indexOf(app), 1)[0].close();
    expect(performance.now() - started).toBeLessThan(2_000);
    gate.resolve();
    await expect(app.get(CacheWarming).ready).resolves.toEqual([expect.objectContaining({ outcome: 'stopped' })]);
    expect(source.calls).toHaveLength(2);
  });
});
