import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SOURCE_ROOT = join(__dirname, '..', '..', 'libs', 'cache', 'src');

/** `import` is hoisted and cached; these checks need loads that happen inside a fresh registry. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (id: string) => require(id) as Record<string, unknown>;

/** What callers rely on at run time; types are erased and checked by tsc instead. */
const RUNTIME_EXPORTS = [
  'CacheModule',
  'CacheArgumentError',
  'CacheCommandError',
  'CacheConfigurationError',
  'CacheDecodeError',
  'CacheError',
  'CacheSerializationError',
  'CacheTimeoutError',
  'CacheUnavailableError',
  'DEFAULT_DOMAINS',
  'CACHE_ENV_VARIABLES',
  'cacheConfig',
  'cacheOptionsFromEnv',
  'RedisClient',
  'escapeGlob',
  'JsonCodec',
  'MsgpackCodec',
  'CacheService',
  'CacheRegistry',
  'getCacheToken',
  'InjectCache',
  'LockService',
  'LockLostError',
  'LockNotAcquiredError',
  'LockReplicationError',
  'CacheRedisError',
  'LockError',
  'Cacheable',
  'CacheEvict',
  'CachePut',
  'CacheInterceptor',
  'WithLock',
  'currentLock',
  'LockInterceptor',
  'CacheInvalidator',
  'CacheInvalidationError',
  'invalidationTag',
  'invalidationTags',
  'CacheWarmingError',
  'CacheWarmer',
  'CacheWarming',
  'ElileKeyvStore',
];

/** The runtime values of the second entry point, `@elile/cache/testing`. */
const TESTING_EXPORTS = ['CacheTestingModule', 'CacheProbe'];

/**
 * Third-party packages the library imports, loaded once here and handed to every isolated
 * registry: re-evaluating Nest and ioredis per file would make this suite slow, and cycles can
 * only run through the library's own files anyway.
 */
function sharedPackages(files: string[]): Map<string, unknown> {
  const names = new Set(
    files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/from '([^.'][^']*)'/g)]
        .map((match) => match[1])
        .filter((name) => !name.startsWith('node:')),
    ),
  );
  return new Map([...names].map((name) => [name, load(name)]));
}

function isolated<T>(packages: Map<string, unknown>, load: () => T): T {
  let result!: T;
  jest.isolateModules(() => {
    for (const [name, loaded] of packages) jest.doMock(name, () => loaded);
    result = load();
  });
  return result;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const FILES = sourceFiles(SOURCE_ROOT);
const PACKAGES = sharedPackages(FILES);

describe('@elile/cache exports', () => {
  it('exports every documented runtime value', () => {
    const api = isolated(PACKAGES, () => load('@elile/cache'));
    expect(RUNTIME_EXPORTS.filter((name) => api[name] === undefined)).toEqual([]);
  });

  it('exports every runtime value of @elile/cache/testing, none undefined', () => {
    const testing = isolated(PACKAGES, () => load('@elile/cache/testing'));
    expect(TESTING_EXPORTS.filter((name) => testing[name] === undefined)).toEqual([]);
    expect(Object.keys(testing).filter((name) => testing[name] === undefined)).toEqual([]);
  });

  it('has no export that is undefined (a symptom of an import cycle through the barrel)', () => {
    const api = isolated(PACKAGES, () => load('@elile/cache'));
    const names = Object.keys(api);
    expect(names.length).toBeGreaterThanOrEqual(RUNTIME_EXPORTS.length);
    expect(names.filter((name) => api[name] === undefined)).toEqual([]);
  });

  // A cycle only bites when the file that closes it is loaded first: an `extends` or a decorator
  // then meets an undefined import while its module is still being evaluated. Loading each file
  // first, in a fresh registry, tries every entry point.
  it.each(FILES.map((path) => [relative(SOURCE_ROOT, path), path]))(
    'loads %s first without an undefined export',
    (_name, path) => {
      const [exported, api] = isolated(PACKAGES, () => [load(path), load('@elile/cache')]);
      expect(Object.keys(exported).filter((name) => exported[name] === undefined)).toEqual([]);
      expect(RUNTIME_EXPORTS.filter((name) => api[name] === undefined)).toEqual([]);
    },
  );
});
