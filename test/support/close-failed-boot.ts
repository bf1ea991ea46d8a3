import type { INestApplicationContext } from '@nestjs/common';

/**
 * Closes an application whose `init()` failed. Nest's `close()` awaits the failed initialisation
 * first and rethrows its error without running a single shutdown hook, so a boot that failed after
 * the cache had connected (a bootstrap hook throwing) left its Redis connections open, and jest
 * never exited. The initialisation is marked settled, then the hooks run as after any boot.
 */
export async function closeFailedBoot(app: INestApplicationContext): Promise<void> {
  (app as unknown as { initializationPromise?: Promise<void> }).initializationPromise = Promise.resolve();
  await app.close();
}
