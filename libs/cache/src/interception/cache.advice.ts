import { concatMap, defer, from, isObservable, lastValueFrom, type Observable, toArray } from 'rxjs';
import { CacheArgumentError, CacheConfigurationError } from '../cache.errors';
import { nearMessages } from '../cache.messages';
import type { CacheService, GetOrSetOptions } from '../caches/cache.service';
import type { CacheRegistry } from '../caches/cache.registry';
import type { CacheEvictOptions, CacheableOptions, CachePutOptions } from '../decorators/cache-decorator-options';
import { describe, durationToMs, waitToMs } from '../options/duration.util';
import { type HttpCall, httpCallContext } from './http-call.context';
import type { AdviceSpec } from './method-dispatcher';
import { boundedKey, checkKey, checkScope, GENERATED_KEY, type GeneratedKeyOption } from '../caches/cache-keys';
import { defaultMethodKey } from './method-key.util';
import { requestKey, type RequestKeyOptions } from './request-key.util';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** The method an advice wraps. */
export interface AdvisedMethodInfo {
  readonly className: string;
  readonly methodName: string;
  /** What the advice calls: the undecorated method, or an inner advice around it. */
  readonly original: Method;
  /** The undecorated method, which identifies the handler of an HTTP call. */
  readonly undecorated: Method;
  /**
   * Declared to return an Observable (`design:returntype`): the advised method then returns an
   * Observable too, and the cache holds the list of values the source emitted before completing.
   */
  readonly returnsObservable: boolean;
}

interface Prepared<O> {
  readonly cache: CacheService<unknown>;
  readonly options: O;
}

/**
 * Builds the advised version of a method from its `@Cacheable`, `@CachePut` and `@CacheEvict`
 * specs: `beforeInvocation` evictions, then the read-through (or the method), then puts, then
 * evictions. Cache failures never change the method's behaviour: they are counted in the
 * domain's stats and logged, and the method's own result or error is what the caller gets.
 */
export function createCacheAdvice(
  method: AdvisedMethodInfo,
  specs: readonly AdviceSpec[],
  registry: CacheRegistry,
  http: RequestKeyOptions,
): Method {
  const where = `${method.className}#${method.methodName}`;
  const prepare = <O extends { cache: string }>(spec: AdviceSpec): Prepared<O> => {
    const options = spec.options as O;
    try {
      return { cache: registry.get(options.cache), options };
    } catch (error) {
      throw new CacheConfigurationError(`${where}: ${(error as Error).message}`);
    }
  };
  const cacheables = specs.filter((spec) => spec.kind === 'cacheable').map((spec) => prepare<CacheableOptions>(spec));
  if (cacheables.length > 1) throw new CacheConfigurationError(`${where} carries @Cacheable more than once`);
  const cacheable = cacheables[0];
  const puts = specs.filter((spec) => spec.kind === 'cache-put').map((spec) => prepare<CachePutOptions>(spec));
  const evictions = specs.filter((spec) => spec.kind === 'cache-evict').map((spec) => prepare<CacheEvictOptions>(spec));
  validate(where, cacheable, puts, evictions);
  const before = evictions.filter(({ options }) => options.beforeInvocation);
  const after = evictions.filter(({ options }) => !options.beforeInvocation);
  // Observable methods are cached as the list of their values; `unless` and `tags` see the last.
  const resultOf = method.returnsObservable
    ? (values: unknown) => (values as unknown[]).at(-1)
    : (value: unknown) => value;

  const invoke = async (self: unknown, args: unknown[]): Promise<unknown> => {
    // Outside the HTTP call: decorated methods the handler calls are plain service calls.
    const result = httpCallContext.exit(() => method.original.apply(self, args));
    if (method.returnsObservable) return isObservable(result) ? lastValueFrom(result.pipe(toArray())) : [await result];
    return result;
  };

  const httpCallOf = (): HttpCall | undefined => {
    const current = httpCallContext.getStore();
    return current?.handler === method.undecorated ? current : undefined;
  };
  const onlyReadThrough = cacheable !== undefined && puts.length === 0 && evictions.length === 0;
  const run = onlyReadThrough
    ? (self: unknown, args: unknown[]): Promise<unknown> => readThrough(cacheable, self, args, httpCallOf())
    : async (self: unknown, args: unknown[]): Promise<unknown> => {
        const call = httpCallOf();
        for (const eviction of before) await evict(eviction, args, undefined);
        const result = cacheable ? await readThrough(cacheable, self, args, call) : await invoke(self, args);
        for (const put of puts) await store(put, args, result);
        for (const eviction of after) await evict(eviction, args, resultOf(result));
        return result;
      };

  const readThrough = async (
    { cache, options }: Prepared<CacheableOptions>,
    self: unknown,
    args: unknown[],
    call: HttpCall | undefined,
  ): Promise<unknown> => {
    const bypass = () => {
      if (call) call.outcome = 'BYPASS';
      return invoke(self, args);
    };
    if (options.condition && !attempt(cache, 'condition', () => options.condition!(...args), false)) return bypass();
    const entry = attempt(cache, 'key', () => cacheableKey(method, self, cache, options, args, call, http), undefined);
    if (entry === undefined) return bypass();
    let loaded = false;
    const readOptions: GetOrSetOptions<unknown> & GeneratedKeyOption = {
      scope: entry.scope,
      ...(entry.generated ? { [GENERATED_KEY]: true } : {}),
      ttl: options.ttl,
      tags: options.tags && ((stored) => options.tags!(...args, resultOf(stored))),
      unless: options.unless && ((stored) => options.unless!(resultOf(stored), ...args)),
      refreshAhead: options.refreshAhead,
      wait: options.wait,
    };
    try {
      const value = await cache.getOrSet(
        entry.key,
        async () => {
          loaded = true;
          const result = await invoke(self, args);
          // Concurrent requests must not share a response that is not cacheable (an error status,
          // a cookie, a stream): each of them runs its own handler instead.
          if (call && !storableResponse(call, result)) throw new UnshareableResponse(result);
          return result;
        },
        readOptions,
      );
      if (call) call.outcome = loaded ? 'MISS' : 'HIT';
      return value;
    } catch (error) {
      if (!(error instanceof UnshareableResponse)) throw error;
      if (call) call.outcome = 'MISS';
      return loaded ? error.result : invoke(self, args);
    }
  };

  const store = async ({ cache, options }: Prepared<CachePutOptions>, args: unknown[], result: unknown) => {
    let key: string | undefined;
    try {
      if (options.condition && !options.condition(...args)) return;
      key = checkedKey(options.key(...args));
      if (options.unless?.(resultOf(result), ...args)) return;
      const tags = options.tags?.(...args, resultOf(result));
      if (await cache.set(key, result, { ttl: options.ttl, tags })) return;
    } catch (error) {
      cache.reportFailure('@CachePut', error);
    }
    // The method changed the source but its result could not be stored: the old entry must not
    // outlive the change.
    if (key !== undefined) await settle(cache, '@CachePut', [cache.delete(key)]);
  };

  const evict = async ({ cache, options }: Prepared<CacheEvictOptions>, args: unknown[], result: unknown) => {
    let work: Array<Promise<unknown>>;
    try {
      if (options.condition && !options.condition(...args)) return;
      if (options.allEntries) {
        work = [cache.clear()];
      } else {
        const keys = [...(options.key ? [options.key(...args)] : []), ...(options.keys?.(...args) ?? [])];
        work = keys.map((key) => cache.delete(checkedKey(key)));
        if (options.tags) work.push(cache.invalidateTags(options.tags(...args, result)));
      }
    } catch (error) {
      cache.reportFailure('@CacheEvict', error);
      return;
    }
    // Each invalidation is attempted whatever happens to the others.
    await settle(cache, '@CacheEvict', work);
  };

  if (method.returnsObservable) {
    return function advisedObservable(this: unknown, ...args: unknown[]): Observable<unknown> {
      return defer(() => from(run(this, args))).pipe(concatMap((values) => from(values as unknown[])));
    };
  }
  return function advised(this: unknown, ...args: unknown[]): Promise<unknown> {
    return run(this, args);
  };
}

/** Carries a handler's result that must be neither stored nor shared with concurrent requests. */
class UnshareableResponse {
  constructor(readonly result: unknown) {}
}

function validate(
  where: string,
  cacheable: Prepared<CacheableOptions> | undefined,
  puts: ReadonlyArray<Prepared<CachePutOptions>>,
  evictions: ReadonlyArray<Prepared<CacheEvictOptions>>,
): void {
  for (const { options } of [...(cacheable ? [cacheable] : []), ...puts]) {
    if (options.ttl !== undefined) durationToMs(options.ttl, `${where}: ttl`, CacheConfigurationError);
  }
  const { refreshAhead, wait } = cacheable?.options ?? {};
  if (
    refreshAhead !== undefined &&
    refreshAhead !== false &&
    !(typeof refreshAhead === 'number' && refreshAhead > 0 && refreshAhead < 1)
  ) {
    throw new CacheConfigurationError(nearMessages.badRefreshAhead(`${where}: refreshAhead`, describe(refreshAhead)));
  }
  if (wait !== undefined) waitToMs(wait, `${where}: "wait"`, CacheConfigurationError);
  for (const { options } of puts) {
    if (typeof options.key !== 'function')
      throw new CacheConfigurationError(`${where}: @CachePut needs a key function`);
  }
  for (const { options } of evictions) {
    if (!options.key && !options.keys && !options.tags && !options.allEntries) {
      throw new CacheConfigurationError(`${where}: @CacheEvict needs key, keys, tags or allEntries`);
    }
  }
}

/** Waits for every invalidation; each failure is counted and logged, none is thrown. */
async function settle(cache: CacheService<unknown>, operation: string, work: Array<Promise<unknown>>): Promise<void> {
  for (const outcome of await Promise.allSettled(work)) {
    if (outcome.status === 'rejected') cache.reportFailure(operation, outcome.reason);
  }
}

/** Runs a user callback; when it throws, the failure is reported and `fallback` used. */
function attempt<T>(cache: CacheService<unknown>, what: string, callback: () => T, fallback: T): T {
  try {
    return callback();
  } catch (error) {
    cache.reportFailure(`@Cacheable ${what}`, error);
    return fallback;
  }
}

/**
 * Headers that identify a caller: a response to a request carrying one may be personal, so it
 * is never shared unless a scope says whose it is.
 */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

/** Which entry a call reads through: a key, and on a controller the request's scope. */
interface EntryName {
  readonly key: string;
  readonly scope?: string;
  /** Built by the library (no `key` option): it lives apart from every key a caller can pass. */
  readonly generated?: true;
}

/**
 * Undefined when the call must bypass the cache. On a controller, a scope function's non-string
 * result throws (counted and logged by the caller, then bypassed): a scope of `[object Object]`
 * would let every tenant share entries.
 */
function cacheableKey(
  method: AdvisedMethodInfo,
  self: unknown,
  cache: CacheService<unknown>,
  options: CacheableOptions,
  args: unknown[],
  call: HttpCall | undefined,
  http: RequestKeyOptions,
): EntryName | undefined {
  if (!call) {
    if (options.key) return { key: checkedKey(options.key(...args)) };
    return { key: defaultMethodKey(classNameOf(self, method), method.methodName, args), generated: true };
  }
  const { request } = call;
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const named = options.key ? { key: checkedKey(options.key(...args)) } : generatedRequestKey(request, http);
  if (named === undefined) return undefined;
  const scope: unknown = (options.scope ?? cache.requestScope)?.(request);
  if (scope !== undefined) return { ...named, scope: checkScope(scope) };
  if (CREDENTIAL_HEADERS.some((name) => request.headers[name] !== undefined)) return undefined;
  return named;
}

/**
 * The class of the instance, not the one declaring the method: subclasses sharing a decorated
 * base method (`BaseRepository.findById`) must not share entries.
 */
export function classNameOf(self: unknown, method: AdvisedMethodInfo): string {
  return (self as { constructor?: { name?: string } } | undefined)?.constructor?.name || method.className;
}

function generatedRequestKey(request: HttpCall['request'], http: RequestKeyOptions): EntryName | undefined {
  const key = requestKey(request, http);
  return key === undefined ? undefined : { key, generated: true };
}

function checkedKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') {
    throw new CacheArgumentError(`A key function must return a non-empty string, got ${describe(key)}`);
  }
  return boundedKey(checkKey(key));
}

function storableResponse({ response }: HttpCall, value: unknown): boolean {
  // A handler that wrote the response itself (`@Res()`) returns nothing a hit could replay.
  if (response.headersSent || response.writableEnded) return false;
  if (response.statusCode < 200 || response.statusCode > 299) return false;
  if (response.getHeader('set-cookie') !== undefined) return false;
  const streamLike = value as { pipe?: unknown; getStream?: unknown } | null;
  return !(typeof streamLike?.pipe === 'function' || typeof streamLike?.getStream === 'function');
}
