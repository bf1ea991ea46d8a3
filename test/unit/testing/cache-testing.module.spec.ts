import { AssertionError } from 'node:assert';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CacheConfigurationError,
  CacheRegistry,
  type CacheService,
  InjectCache,
  LockService,
  RedisClient,
} from '@elile/cache';
import { CacheProbe, CacheTestingModule } from '@elile/cache/testing';

const DOMAINS = { a: { ttl: 60 }, ab: { ttl: 60 }, short: { ttl: 0.05 } };

async function boot(): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheTestingModule.forRoot({ domains: DOMAINS, namespace: 'ns:' })],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

/** Rejections of `fn`, or a failure if it resolves. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  return fn().then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('CacheTestingModule and CacheProbe', () => {
  let moduleRef: TestingModule;
  let probe: CacheProbe;
  let a: CacheService<unknown>;
  let ab: CacheService<unknown>;

  beforeAll(async () => {
    moduleRef = await boot();
    probe = moduleRef.get(CacheProbe);
    a = moduleRef.get(CacheRegistry).get('a');
    ab = moduleRef.get(CacheRegistry).get('ab');
  });

  afterAll(() => moduleRef.close());

  beforeEach(() => probe.clear());

  it('keeps entries in process: no Redis connection is ever made', async () => {
    await a.set('k', { n: 1 });
    expect(await a.get('k')).toEqual({ n: 1 });
    expect(() => moduleRef.get(RedisClient).connection).toThrow();
  });

  it('takes locks in process', async () => {
    const locks = moduleRef.get(LockService);
    const held = await locks.tryAcquire('job');
    expect(held).not.toBeNull();
    expect(await locks.tryAcquire('job')).toBeNull();
    await held!.release();
    expect(await locks.tryAcquire('job')).not.toBeNull();
  });

  it('lists a domain’s live entries with the TTL they were written with, in seconds', async () => {
    await a.set('one', 1, 30);
    await a.set('two', new Date(0));
    await a.setMany([{ key: 'three', value: 3, ttl: 5 }]);
    await a.getOrSet('four', () => 4);
    await a.set('gone', 0);
    await a.delete('gone');
    expect(await probe.entries('a')).toEqual([
      { key: 'one', value: 1, ttl: 30 },
      { key: 'two', value: new Date(0), ttl: 60 },
      { key: 'three', value: 3, ttl: 5 },
      { key: 'four', value: 4, ttl: 60 },
    ]);
  });

  it('drops expired entries and does not list a read-through in progress', async () => {
    const short = moduleRef.get(CacheRegistry).get('short');
    await short.set('brief', 1);
    let release!: (value: number) => void;
    const loading = a.getOrSet('pending', () => new Promise<number>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await probe.entries('short')).toEqual([]);
    expect(await probe.entries('a')).toEqual([]);
    release(7);
    await loading;
    expect(await probe.entries('a')).toEqual([{ key: 'pending', value: 7, ttl: 60 }]);
  });

  it('lists only the domain’s own entries (a: next to ab:)', async () => {
    await a.set('x', 'of a');
    await ab.set('y', 'of ab');
    expect(await probe.entries('a')).toEqual([{ key: 'x', value: 'of a', ttl: 60 }]);
    expect(await probe.entries('ab')).toEqual([{ key: 'y', value: 'of ab', ttl: 60 }]);
  });

  it('reads entries without counting hits or misses', async () => {
    await a.set('k', 1);
    await probe.entries('a');
    await probe.entry('a', 'k');
    await probe.expectEntry('a', 'k', 1);
    await probe.expectNoEntry('a', 'absent');
    expect(probe.stats('a')).toMatchObject({ hits: 0, misses: 0 });
  });

  it('counts from zero after clear(), which also empties every domain', async () => {
    await a.get('miss');
    await a.set('k', 1);
    await ab.set('k', 2);
    await a.get('k');
    expect(probe.stats('a')).toMatchObject({ hits: 1, misses: 1, hitRatio: 0.5 });
    expect(a.stats().hits).toBeGreaterThanOrEqual(1);

    await probe.clear();
    expect(probe.stats('a')).toMatchObject({ hits: 0, misses: 0, hitRatio: 0 });
    expect(await probe.entries('a')).toEqual([]);
    expect(await probe.entries('ab')).toEqual([]);
  });

  it('finds a scoped entry only in its scope', async () => {
    await a.set('profile', 'acme data', { scope: 'acme' });
    await probe.expectEntry('a', 'profile', 'acme data', { scope: 'acme' });
    await probe.expectNoEntry('a', 'profile');
    await probe.expectNoEntry('a', 'profile', { scope: 'globex' });
    expect(await probe.entry('a', 'profile', { scope: 'acme' })).toEqual({ value: 'acme data', ttl: 60 });
  });

  it('fails expectations with an AssertionError carrying actual and expected', async () => {
    await a.get('miss');
    await a.set('k', { n: 1 });

    const hits = thrown(() => probe.expectHits('a', 2));
    expect(hits).toBeInstanceOf(AssertionError);
    expect(hits).toMatchObject({ actual: 0, expected: 2 });
    expect((hits as Error).message).toMatch(/^Cache domain "a": expected 2 hits, counted 0/);
    expect(thrown(() => probe.expectMisses('a', 0))).toMatchObject({ actual: 1, expected: 0 });
    expect(thrown(() => probe.expectStats('a', { misses: 1, loads: 1 }))).toMatchObject({
      actual: { misses: 1, loads: 0 },
      expected: { misses: 1, loads: 1 },
    });
    probe.expectStats('a', { misses: 1, loads: 0 });

    expect(await rejection(() => probe.expectEntry('a', 'absent'))).toBeInstanceOf(AssertionError);
    expect(await rejection(() => probe.expectEntry('a', 'k', { n: 2 }))).toMatchObject({
      actual: { n: 1 },
      expected: { n: 2 },
    });
    expect(await rejection(() => probe.expectNoEntry('a', 'k'))).toMatchObject({ actual: { n: 1 } });
    await probe.expectEntry('a', 'k');
  });

  it('names the configured domains for an unknown one', async () => {
    expect(await rejection(() => probe.entries('nope'))).toBeInstanceOf(CacheConfigurationError);
    expect(thrown(() => probe.stats('nope'))).toBeInstanceOf(CacheConfigurationError);
    expect(probe.domains()).toEqual(expect.arrayContaining(['a', 'ab', 'screening']));
  });

  it('gives each compiled module a store of its own', async () => {
    const other = await boot();
    try {
      await a.set('shared?', 1);
      expect(await other.get(CacheRegistry).get('a').get('shared?')).toBeUndefined();
      expect(await other.get(CacheProbe).entries('a')).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('runs a near-cached (l1) domain as production does: a write anywhere is seen at once', async () => {
    const app = await Test.createTestingModule({
      imports: [CacheTestingModule.forRoot({ domains: { near: { ttl: 60, l1: true } } })],
    }).compile();
    try {
      await app.init();
      const near = app.get(CacheRegistry).get('near');
      await near.set('k', 'v1');
      expect(await near.get('k')).toBe('v1');
      await near.set('k', 'v2');
      expect(await near.get('k')).toBe('v2');
      expect(await app.get(CacheProbe).entries('near')).toEqual([{ key: 'k', value: 'v2', ttl: 60 }]);
    } finally {
      await app.close();
    }
  });

  it('is global: a feature module that does not import it injects its caches', async () => {
    @Injectable()
    class Repo {
      constructor(@InjectCache('screening') readonly cache: CacheService<string>) {}
    }
    @Module({ providers: [Repo], exports: [Repo] })
    class FeatureModule {}

    const app = await Test.createTestingModule({ imports: [CacheTestingModule.forRoot(), FeatureModule] }).compile();
    try {
      await app.init();
      await app.get(Repo).cache.set('s1', 'screening');
      await app.get(CacheProbe).expectEntry('screening', 's1', 'screening');
    } finally {
      await app.close();
    }
  });
});
