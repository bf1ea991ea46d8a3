import 'reflect-metadata';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Controller, type DynamicModule, Get, Injectable, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as cachePackage from '@elile/cache';
import {
  Cacheable,
  type CacheService,
  currentLock,
  InjectCache,
  LockNotAcquiredError,
  LockService,
  RedisClient,
  WithLock,
} from '@elile/cache';
import { CacheProbe, CacheTestingModule } from '@elile/cache/testing';
// A value import: with `import type`, the compiler's design:returntype of `stream` would be Object
// and the handler's Observable would not be recognised as one.
import { Observable, of } from 'rxjs';

/**
 * A throw-away application that installed `@elile/cache` from its tarball: the test copies this
 * file and a `main-*.ts` into a directory outside the repository, compiles them with the app's
 * own module setting (CommonJS or ES modules) and runs the result on several Node versions.
 */

export interface Subject {
  id: string;
  loads: number;
  checkedAt: Date;
  aliases: Map<string, number>;
}

@Injectable()
export class SubjectsService {
  loads = 0;

  @Cacheable({ cache: 'subject', key: (id: string) => id, tags: (id: string) => [`org:${id}`] })
  async find(id: string): Promise<Subject> {
    this.loads += 1;
    return { id, loads: this.loads, checkedAt: new Date(Date.UTC(2026, 0, 2)), aliases: new Map([['a', 1]]) };
  }

  @WithLock({ key: 'nightly-export', ttl: 5, wait: 0 })
  async export(): Promise<number> {
    return currentLock()!.fencingToken;
  }
}

export interface Report {
  node: string;
  versions: Record<string, string>;
  firstLoads: number;
  secondLoads: number;
  secondIsDate: boolean;
  secondAliases: Array<[string, number]>;
  invalidated: number;
  afterInvalidationLoads: number;
  getOrSet: unknown;
  exportToken: number;
  conflict: string;
  conflictIsPackageClass: boolean;
  requiredIsImported: boolean;
  pong: string;
  /** Hits and loads of `@elile/cache/testing`'s in-memory module: a user's unit test, no Redis. */
  testingModule: { loads: number; entries: string[] };
  /** `status X-Cache body` of each request to the HTTP app, in order. */
  http: string[];
}

/** Decorated handlers, as controllers use the package: cached reads (a promise, an Observable), a locked write. */
@Controller('subjects')
class SubjectsController {
  loads = 0;

  @Get(':id')
  @Cacheable({ cache: 'subject', key: (id: string) => `http:${id}` })
  async find(@Param('id') id: string): Promise<{ id: string; loads: number }> {
    this.loads += 1;
    return { id, loads: this.loads };
  }

  @Get(':id/stream')
  @Cacheable({ cache: 'subject', key: (id: string) => `stream:${id}` })
  stream(@Param('id') id: string): Observable<{ id: string; loads: number }> {
    this.loads += 1;
    return of({ id, loads: this.loads });
  }

  @Post('export')
  @WithLock({ key: 'http-export', ttl: 5, wait: 0 })
  async export(): Promise<string> {
    // Long enough for the second request to find the lock held.
    await new Promise((resolve) => setTimeout(resolve, 300));
    return 'exported';
  }
}

/** Where a package the app resolves comes from, and its version: proves which copy was loaded. */
function installed(name: string): string {
  const appRequire = createRequire(join(process.cwd(), 'package.json'));
  const manifest = appRequire(`${name}/package.json`) as { version: string };
  return manifest.version;
}

/** Boots the app with `cacheModule`, exercises the cache and the locks, and reports what happened. */
export async function run(cacheModule: DynamicModule): Promise<Report> {
  @Module({ imports: [cacheModule], providers: [SubjectsService, CacheHolder] })
  class AppModule {}

  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const subjects = app.get(SubjectsService);
    const cache = app.get(CacheHolder).subjects;
    const locks = app.get(LockService);

    const first = await subjects.find('s-1');
    const second = await subjects.find('s-1');
    const invalidated = await cache.invalidateTags(['org:s-1']);
    const third = await subjects.find('s-1');
    const getOrSet = await cache.getOrSet('plain', async () => ({ answer: 42 }));

    const exportToken = await subjects.export();
    let conflict = 'none';
    let conflictIsPackageClass = false;
    await locks.using('nightly-export', async () => {
      try {
        await subjects.export();
      } catch (error) {
        conflict = (error as Error).name;
        conflictIsPackageClass = error instanceof LockNotAcquiredError;
      }
    });

    // The CommonJS build, as `require` sees it: an ESM app must get the same classes from it.
    const appRequire = createRequire(join(process.cwd(), 'package.json'));
    const required = appRequire('@elile/cache') as typeof cachePackage;
    const requiredTesting = appRequire('@elile/cache/testing') as { CacheTestingModule: unknown };

    return {
      node: process.version,
      versions: Object.fromEntries(['@nestjs/core', 'ioredis', '@elile/cache'].map((name) => [name, installed(name)])),
      firstLoads: first.loads,
      secondLoads: second.loads,
      secondIsDate: second.checkedAt instanceof Date && second.checkedAt.getTime() === first.checkedAt.getTime(),
      secondAliases: [...second.aliases],
      invalidated,
      afterInvalidationLoads: third.loads,
      getOrSet,
      exportToken,
      conflict,
      conflictIsPackageClass,
      requiredIsImported:
        required.CacheModule === cachePackage.CacheModule &&
        required.LockNotAcquiredError === LockNotAcquiredError &&
        requiredTesting.CacheTestingModule === CacheTestingModule,
      pong: await app.get(RedisClient).connection.ping(),
      testingModule: await runWithTestingModule(),
      http: await runHttp(cacheModule),
    };
  } finally {
    await app.close();
  }
}

/** An HTTP app (Express) on the same cache: the interceptors, X-Cache, and a lock conflict as 409. */
async function runHttp(cacheModule: DynamicModule): Promise<string[]> {
  @Module({ imports: [cacheModule], controllers: [SubjectsController] })
  class HttpModule {}

  const app = await NestFactory.create(HttpModule, { logger: ['error', 'warn'] });
  try {
    await app.listen(0, '127.0.0.1');
    const base = await app.getUrl();
    const call = async (path: string, method = 'GET'): Promise<string> => {
      const response = await fetch(`${base}${path}`, { method });
      return `${response.status} ${response.headers.get('x-cache') ?? '-'} ${await response.text()}`;
    };
    const reads = [
      await call('/subjects/s-9'),
      await call('/subjects/s-9'),
      await call('/subjects/s-9/stream'),
      await call('/subjects/s-9/stream'),
    ];
    const writes = await Promise.all([call('/subjects/export', 'POST'), call('/subjects/export', 'POST')]);
    return [...reads, ...writes.sort()];
  } finally {
    await app.close();
  }
}

/** The same service under `CacheTestingModule`, as a user's unit test would hold it. */
async function runWithTestingModule(): Promise<Report['testingModule']> {
  @Module({ imports: [CacheTestingModule.forRoot()], providers: [SubjectsService] })
  class UnitTestModule {}

  const app = await NestFactory.createApplicationContext(UnitTestModule, { logger: ['error', 'warn'] });
  try {
    const subjects = app.get(SubjectsService);
    const probe = app.get(CacheProbe);
    await subjects.find('s-1');
    await subjects.find('s-1');
    probe.expectHits('subject', 1);
    probe.expectMisses('subject', 1);
    return { loads: subjects.loads, entries: (await probe.entries('subject')).map((entry) => entry.key) };
  } finally {
    await app.close();
  }
}

@Injectable()
class CacheHolder {
  constructor(@InjectCache('subject') readonly subjects: CacheService<unknown>) {}
}
