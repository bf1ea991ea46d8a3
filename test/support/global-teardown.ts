import { GLOBAL_HANDLE_KEY, GlobalWithRedis } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const store = globalThis as GlobalWithRedis;
  const handle = store[GLOBAL_HANDLE_KEY];
  // Cleared first so a second project's teardown does not stop it twice.
  delete store[GLOBAL_HANDLE_KEY];
  if (handle) await handle.stop();
}
