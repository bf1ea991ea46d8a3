import { concatMap, defer, from, isObservable, lastValueFrom, type Observable, toArray } from 'rxjs';
import { CacheConfigurationError, LockNotAcquiredError } from '../cache.errors';
import type { WithLockOptions } from '../decorators/with-lock.decorator';
import { lockTtlToMs, waitToMs } from '../options/duration.util';
import { runHoldingLock } from '../lock/current-lock';
import type { LockService } from '../lock/lock.service';
import { type AdvisedMethodInfo, classNameOf } from './cache.advice';
import type { AdviceSpec } from './method-dispatcher';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Builds the locked version of a method from its `@WithLock` spec: `LockService.using` around
 * the call, with the lock readable through `currentLock()`. An Observable method's source is
 * subscribed while the lock is held and its values replayed once it completes.
 */
export function createLockAdvice(method: AdvisedMethodInfo, specs: readonly AdviceSpec[], locks: LockService): Method {
  const where = `${method.className}#${method.methodName}`;
  if (specs.length > 1) throw new CacheConfigurationError(`${where} carries @WithLock more than once`);
  const { key, onLocked = 'throw', ...lockOptions } = specs[0].options as WithLockOptions;
  if (key !== undefined && typeof key !== 'string' && typeof key !== 'function') {
    throw new CacheConfigurationError(`${where}: @WithLock key must be a string or a function of the arguments`);
  }
  if (onLocked !== 'throw' && onLocked !== 'skip') {
    throw new CacheConfigurationError(`${where}: @WithLock onLocked must be 'throw' or 'skip'`);
  }
  // Mistakes surface at boot, not as an error on every call (or every tick of a scheduled job).
  if (lockOptions.ttl !== undefined) lockTtlToMs(lockOptions.ttl, `${where}: @WithLock ttl`, CacheConfigurationError);
  if (lockOptions.wait !== undefined) waitToMs(lockOptions.wait, `${where}: @WithLock wait`, CacheConfigurationError);
  const keyOf = (self: unknown, args: unknown[]): string =>
    typeof key === 'function' ? key(...args) : (key ?? `${classNameOf(self, method)}.${method.methodName}`);

  const run = async (self: unknown, args: unknown[]): Promise<unknown> => {
    let acquired = false;
    try {
      return await locks.using(
        keyOf(self, args),
        (lock) =>
          runHoldingLock(lock, async () => {
            acquired = true;
            const result = method.original.apply(self, args);
            return isObservable(result) ? lastValueFrom(result.pipe(toArray())) : result;
          }),
        lockOptions,
      );
    } catch (error) {
      // Only our own lock being held elsewhere is a skip; the body's errors are the caller's.
      if (onLocked === 'skip' && !acquired && error instanceof LockNotAcquiredError) {
        return method.returnsObservable ? [] : undefined;
      }
      throw error;
    }
  };

  if (method.returnsObservable) {
    return function lockedObservable(this: unknown, ...args: unknown[]): Observable<unknown> {
      return defer(() => from(run(this, args))).pipe(concatMap((values) => from(values as unknown[])));
    };
  }
  return function locked(this: unknown, ...args: unknown[]): Promise<unknown> {
    return run(this, args);
  };
}
