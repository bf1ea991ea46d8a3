import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * ioredis 6 defines `VerbatimString extends String` (RESP3 verbatim replies) when it loads. While
 * that class has never been instantiated, V8 runs msgpackr's encoder about 2× slower in the whole
 * process; one instance restores its speed (bench/ioredis-majors.ts, "VerbatimString constructed
 * once": the encoder back at ioredis 5's cost). So the msgpack codec makes one. Nothing happens
 * under ioredis 5 or a future layout without the file.
 *
 * @param ioredisEntry the resolved main file of the ioredis package the application installed
 */
export function instantiateIoredisVerbatimString(ioredisEntry?: string): void {
  try {
    const file = join(dirname(ioredisEntry ?? require.resolve('ioredis')), 'resp', 'verbatim-string.js');
    if (!existsSync(file)) return;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { VerbatimString } = require(file) as { VerbatimString: new (format: string, value: string) => unknown };
    new VerbatimString('txt', '');
  } catch {
    // Only a speed-up: an ioredis that resolves to no path (a bundler's module id) or whose file
    // no longer looks like this is left alone.
  }
}
