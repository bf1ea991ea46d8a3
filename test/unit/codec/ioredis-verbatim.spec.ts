import { dirname, join } from 'node:path';

/**
 * ioredis 6 slows msgpackr down process-wide until its `VerbatimString` has been instantiated once
 * (bench/ioredis-majors.ts measures the speed); these tests pin the wiring: the msgpack codec makes
 * that one instance under ioredis 6 and does nothing under ioredis 5.
 */

const UTIL = '../../../libs/cache/src/codec/ioredis-verbatim.util';
const IOREDIS6_ENTRY = require.resolve('ioredis6');
const VERBATIM_FILE = join(dirname(IOREDIS6_ENTRY), 'resp', 'verbatim-string.js');

type Util = typeof import('../../../libs/cache/src/codec/ioredis-verbatim.util');

/** Loads the util in a fresh registry where ioredis 6's VerbatimString counts its instances. */
function withCountingVerbatim(run: (util: Util, constructed: () => number) => void): void {
  jest.isolateModules(() => {
    let count = 0;
    jest.doMock(VERBATIM_FILE, () => ({
      VerbatimString: class {
        constructor() {
          count += 1;
        }
      },
    }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    run(require(UTIL) as Util, () => count);
  });
}

describe('instantiateIoredisVerbatimString', () => {
  it('constructs one VerbatimString of ioredis 6', () => {
    withCountingVerbatim((util, constructed) => {
      util.instantiateIoredisVerbatimString(IOREDIS6_ENTRY);
      expect(constructed()).toBe(1);
    });
  });

  it('does nothing under ioredis 5, which has no such class', () => {
    withCountingVerbatim((util, constructed) => {
      expect(() => util.instantiateIoredisVerbatimString(require.resolve('ioredis'))).not.toThrow();
      expect(constructed()).toBe(0);
    });
  });

  it('leaves an ioredis whose file does not load alone', () => {
    jest.isolateModules(() => {
      jest.doMock(VERBATIM_FILE, () => {
        throw new Error('changed layout');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const util = require(UTIL) as Util;
      expect(() => util.instantiateIoredisVerbatimString(IOREDIS6_ENTRY)).not.toThrow();
    });
  });

  it('ignores what a bundler resolves ioredis to when it is not a path (a module id)', () => {
    withCountingVerbatim((util, constructed) => {
      expect(() => util.instantiateIoredisVerbatimString(42 as unknown as string)).not.toThrow();
      expect(constructed()).toBe(0);
    });
  });

  it('runs against the real ioredis 6 file', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const util = require(UTIL) as Util;
    expect(() => util.instantiateIoredisVerbatimString(IOREDIS6_ENTRY)).not.toThrow();
  });

  it('is what MsgpackCodec does when it is constructed, for the ioredis the application resolves', () => {
    jest.isolateModules(() => {
      const calls: unknown[][] = [];
      jest.doMock(UTIL, () => ({ instantiateIoredisVerbatimString: (...args: unknown[]) => void calls.push(args) }));
      type MsgpackModule = typeof import('../../../libs/cache/src/codec/msgpack.codec');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { MsgpackCodec } = require('../../../libs/cache/src/codec/msgpack.codec') as MsgpackModule;
      new MsgpackCodec();
      expect(calls).toEqual([[]]);
    });
  });
});
