import Module from 'node:module';

/** The ioredis package of each major this repository installs (6 under an npm alias). */
const PACKAGE_OF_MAJOR: Record<number, string> = { 5: 'ioredis', 6: 'ioredis6' };

type Resolve = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/**
 * Makes every `require('ioredis')` of this process — the library's included — load the given
 * major, as if it were the one the application installed (ioredis is a peer of the package).
 * Must run before anything loads ioredis; the caller checks with `loadedRedisClients()` that one
 * copy, of that major, is all the process loaded.
 */
export function useIoredisMajor(major: number): void {
  const name = PACKAGE_OF_MAJOR[major];
  if (!name)
    throw new Error(`No ioredis ${major} installed; known majors: ${Object.keys(PACKAGE_OF_MAJOR).join(', ')}`);
  if (name === 'ioredis') return;
  const target = require.resolve(name);
  const loader = Module as unknown as { _resolveFilename: Resolve };
  const original = loader._resolveFilename;
  loader._resolveFilename = function resolveIoredis(request, ...rest) {
    return request === 'ioredis' ? target : original.call(this, request, ...rest);
  };
}
