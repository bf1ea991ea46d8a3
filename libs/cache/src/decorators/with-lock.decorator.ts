import { UseInterceptors } from '@nestjs/common';
import { LockInterceptor } from '../interception/lock.interceptor';
import { recordAdvice } from '../interception/method-dispatcher';
import type { UsingOptions } from '../lock/lock-options.interface';

/** Options of `@WithLock`. Durations in seconds; the others as for `LockService.using`. */
export interface WithLockOptions extends Omit<UsingOptions, 'signal'> {
  /**
   * The lock's key: a string, or a function of the method's arguments.
   * @default `${ClassName}.${methodName}` — one lock for the method, e.g. for a scheduled job
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arguments of any method
  key?: string | ((...args: any[]) => string);
  /**
   * When the lock is held elsewhere: `'throw'` rejects with `LockNotAcquiredError` (HTTP 409 on a
   * controller); `'skip'` resolves to `undefined` without running the method — for jobs that must
   * run on one instance only.
   * @default 'throw'
   */
  onLocked?: 'throw' | 'skip';
}

/**
 * Runs the method while holding a distributed lock, extended automatically while it runs and
 * released when it settles. Inside, `currentLock()` returns the lock (its fencing token and the
 * `signal` that aborts if it is lost). Works on any provider, on `@Cron` jobs, and on controller
 * handlers (a lock held elsewhere answers 409 Conflict).
 * @example
 * @Cron(CronExpression.EVERY_MINUTE)
 * @WithLock({ key: 'nightly-export', ttl: 60, wait: 0, onLocked: 'skip' })
 * exportScreenings(): Promise<void> { … }
 */
export function WithLock(options: WithLockOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    recordAdvice('WithLock', target, propertyKey, descriptor, { kind: 'lock', options });
    UseInterceptors(LockInterceptor)(target, propertyKey, descriptor);
  };
}
