import { provideRedis, RedisServerHandle } from './redis-harness';

/** Where setup leaves the handle for teardown (both run in jest's main process). */
export const GLOBAL_HANDLE_KEY = '__elileTestRedis';

export type GlobalWithRedis = typeof globalThis & { [GLOBAL_HANDLE_KEY]?: RedisServerHandle };

export default async function globalSetup(): Promise<void> {
  const store = globalThis as GlobalWithRedis;
  // Several projects may name this file; one server serves them all.
  let handle = store[GLOBAL_HANDLE_KEY];
  if (!handle) {
    handle = await provideRedis();
    store[GLOBAL_HANDLE_KEY] = handle;
    // stderr, so that `jest --json` on stdout stays parseable.
    // The description names the server without its password (REDIS_URL may carry one).
    process.stderr.write(`[redis-harness] tests use ${handle.description}\n`);
  }
  // Workers are spawned after global setup and inherit this environment.
  process.env.ELILE_TEST_REDIS_URL = handle.url;
}
