import { within } from '../../support/settles-within';
import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { lastValueFrom, isObservable, type Observable, toArray } from 'rxjs';
import request from 'supertest';
import { CacheConfigurationError, CacheRegistry } from '@elile/cache';
import { CatalogService, type Item } from '../../fixtures/catalog.service';
import { bootFailure, createDecoratedApp, STORE_KINDS, type StoreKind } from '../../fixtures/decorated-app';
import { DelegatingRepository, InheritingRepository, RedecoratedRepository } from '../../fixtures/inheritance.fixture';
import { AUDIT_KEY, AuditedService } from '../../fixtures/metadata.fixture';
import { CacheableAboveController, GetAboveController } from '../../fixtures/order.controllers';
import {
  CATALOG_ALIAS,
  FACTORY_MADE,
  FactoryMadeService,
  NULL_PROTOTYPE_VALUE,
  providerShapes,
  RequestContext,
  RequestScopedService,
  TransientService,
  TransitivelyScopedService,
} from '../../fixtures/provider-shapes';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('decorated-providers');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(STORE_KINDS)('decorated providers on the %s store', (store: StoreKind) => {
  let app: INestApplication;
  let catalog: CatalogService;

  beforeAll(async () => {
    app = await createDecoratedApp({
      store,
      namespace: `${namespace}${store}:`,
      providers: [...providerShapes(), AuditedService],
      controllers: [GetAboveController, CacheableAboveController],
    });
    catalog = app.get(CatalogService);
  });

  afterAll(async () => {
    await app.close();
  });

  describe('a plain service', () => {
    it('caches an async method', async () => {
      catalog.source.set('a1', 3);
      expect(await catalog.find('a1')).toEqual({ id: 'a1', version: 3 });
      catalog.source.set('a1', 4);
      expect(await catalog.find('a1')).toEqual({ id: 'a1', version: 3 });
      expect(catalog.runs.of('find')).toBe(1);
    });

    it('caches a synchronous method, which then returns a Promise of its value', async () => {
      const first = catalog.findSync('s1');
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toEqual({ id: 's1', version: 0 });
      expect(await catalog.findSync('s1')).toEqual({ id: 's1', version: 0 });
      expect(catalog.runs.of('findSync')).toBe(1);
    });

    it('caches an Observable method and keeps returning an Observable', async () => {
      const first = catalog.find$('o1');
      expect(isObservable(first)).toBe(true);
      expect(await lastValueFrom(first)).toEqual({ id: 'o1', version: 0 });
      const second = catalog.find$('o1');
      expect(isObservable(second)).toBe(true);
      expect(await lastValueFrom(second)).toEqual({ id: 'o1', version: 0 });
      expect(catalog.runs.of('find$')).toBe(1);
    });

    it('replays every value of an Observable on a hit', async () => {
      const values = (source: Observable<string>) => lastValueFrom(source.pipe(toArray()));
      expect(await values(catalog.pair$('p1'))).toEqual(['p1:first', 'p1:second']);
      expect(await values(catalog.pair$('p1'))).toEqual(['p1:first', 'p1:second']);
      expect(catalog.runs.of('pair$')).toBe(1);
    });

    it('@CachePut stores the result, so the next read is a hit with the saved value', async () => {
      catalog.source.set('w1', 1);
      await catalog.find('w1');
      const findsBefore = catalog.runs.of('find');
      await catalog.save({ id: 'w1', version: 7 });
      expect(await catalog.find('w1')).toEqual({ id: 'w1', version: 7 });
      expect(catalog.runs.of('find')).toBe(findsBefore);
    });

    it('@CacheEvict evicts so that the next read sees the new version', async () => {
      catalog.source.set('v1', 1);
      expect((await catalog.find('v1')).version).toBe(1);
      await catalog.bump('v1');
      expect((await catalog.find('v1')).version).toBe(2);
    });

    it('keeps `this` for the body (the source it reads is the instance’s own)', async () => {
      catalog.source.set('this-1', 11);
      expect(await catalog.find('this-1')).toEqual<Item>({ id: 'this-1', version: 11 });
    });
  });

  describe('provider shapes', () => {
    it('wraps a useExisting alias once: one body run per miss through alias and original', async () => {
      const alias = app.get<CatalogService>(CATALOG_ALIAS);
      expect(alias).toBe(catalog);
      const before = catalog.runs.of('find');
      await alias.find('alias-1');
      await catalog.find('alias-1');
      await alias.find('alias-1');
      expect(catalog.runs.of('find')).toBe(before + 1);

      // A fresh miss through the alias alone still costs exactly one run (no double wrap).
      await app.get(CacheRegistry).get('items').delete('item:alias-1');
      await alias.find('alias-1');
      expect(catalog.runs.of('find')).toBe(before + 2);
    });

    it('wraps an instance returned by a useFactory provider', async () => {
      const made = app.get<FactoryMadeService>(FACTORY_MADE);
      expect(made).toBeInstanceOf(FactoryMadeService);
      const first = await made.find('f1');
      expect(await made.find('f1')).toEqual(first);
      expect(made.runs.of('find')).toBe(1);
      expect(await app.get(CacheRegistry).get('items').exists('factory:f1')).toBe(true);
    });

    it('leaves a null-prototype useValue alone (the app booted, the value is intact)', () => {
      const value = app.get<Record<string, unknown>>(NULL_PROTOTYPE_VALUE);
      expect(Object.getPrototypeOf(value)).toBeNull();
      expect(value.answer).toBe(42);
    });
  });

  describe('other decorators on the same method', () => {
    const reflector = new Reflector();

    it.each([
      ['auditAbove', 'audit-above', 2],
      ['auditBelow', 'audit-below', 3],
    ] as const)('%s keeps its metadata, name and length', async (method, label, length) => {
      const fn = AuditedService.prototype[method];
      expect(Reflect.getMetadata(AUDIT_KEY, fn)).toBe(label);
      expect(reflector.get(AUDIT_KEY, fn)).toBe(label);
      expect(fn.name).toBe(method);
      expect(fn.length).toBe(length);

      const audited = app.get(AuditedService);
      // Through the instance too, which is what Nest's explorers and guards look at.
      expect(reflector.get(AUDIT_KEY, audited[method])).toBe(label);
      expect(audited[method].name).toBe(method);
      expect(audited[method].length).toBe(length);
    });

    it('still caches both orders', async () => {
      const audited = app.get(AuditedService);
      expect(await audited.auditAbove('m1', 1)).toBe('m1@1');
      expect(await audited.auditAbove('m1', 2)).toBe('m1@1');
      expect(await audited.auditBelow('m1', 1, 'n')).toBe('m1@1:n');
      expect(await audited.auditBelow('m1', 2, 'm')).toBe('m1@1:n');
      expect(audited.runs.of('auditAbove')).toBe(1);
      expect(audited.runs.of('auditBelow')).toBe(1);
    });
  });

  describe('controllers over HTTP', () => {
    it.each([
      ['@Get above @Cacheable', '/get-above', GetAboveController],
      ['@Cacheable above @Get', '/cacheable-above', CacheableAboveController],
    ] as const)('%s: MISS then HIT, the handler runs once', async (_label, path, controller) => {
      const first = await request(app.getHttpServer()).get(`${path}/h1`).expect(200);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(first.body).toEqual({ id: 'h1', run: 1 });
      const second = await request(app.getHttpServer()).get(`${path}/h1`).expect(200);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.body).toEqual({ id: 'h1', run: 1 });
      expect(app.get(controller).runs.of('h1')).toBe(1);
    });
  });
});

describe('decorated methods inherited from a base class', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createDecoratedApp({
      store: 'memory',
      namespace,
      providers: [InheritingRepository, DelegatingRepository, RedecoratedRepository],
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('caches an inherited method', async () => {
    const repository = app.get(InheritingRepository);
    expect(await repository.find('i1')).toBe('base i1');
    expect(await repository.find('i1')).toBe('base i1');
    expect(repository.runs.of('base')).toBe(1);
  });

  it('caches the base method when an undecorated override calls super', async () => {
    const repository = app.get(DelegatingRepository);
    await repository.find('d1');
    await repository.find('d1');
    expect(repository.runs.of('child')).toBe(2);
    expect(repository.runs.of('base')).toBe(1);
  });

  it('a decorated override calling the decorated super method completes (no self-join, no recursion)', async () => {
    const repository = app.get(RedecoratedRepository);
    expect(await within(repository.find('r1'), 1000)).toBe('child of base r1');
    expect(await within(repository.find('r1'), 1000)).toBe('child of base r1');
    expect(repository.runs.of('child')).toBe(1);
    expect(repository.runs.of('base')).toBe(1);
  });
});

describe('providers created after startup are refused at boot', () => {
  it.each([
    ['a request-scoped provider', [RequestScopedService], 'RequestScopedService#find'],
    [
      'a provider depending on a request-scoped one',
      [RequestContext, TransitivelyScopedService],
      'TransitivelyScopedService#lookup',
    ],
    ['a transient provider', [TransientService], 'TransientService#fetch'],
  ] as const)('%s → CacheConfigurationError naming Class#method', async (_label, providers, where) => {
    const error = await bootFailure({ store: 'memory', namespace, providers: [...providers] });
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect(error.message).toContain(where);
    expect(error.message).toMatch(/request-scoped|transient/);
  });
});
