import { AsyncLocalStorage } from 'node:async_hooks';
import type { Lock } from './lock';

const heldLocks = new AsyncLocalStorage<Lock>();

/**
 * The lock held by the `@WithLock` method running in this async context (the innermost one when
 * they nest), or `undefined` outside one. Read it for the fencing token and the abort signal:
 * @example
 * @WithLock({ key: (id: string) => `screening:${id}` })
 * async complete(id: string) {
 *   const { fencingToken, signal } = currentLock()!;
 *   await this.repository.complete(id, { fence: fencingToken, signal });
 * }
 */
export function currentLock(): Lock | undefined {
  return heldLocks.getStore();
}

/** Runs `work` with `lock` as the current lock (internal, for the lock advice). */
export function runHoldingLock<T>(lock: Lock, work: () => T): T {
  return heldLocks.run(lock, work);
}
