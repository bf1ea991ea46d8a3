/**
 * `@nestjs/terminus` is an optional peer: only `@elile/cache/health` may load it, never the main
 * entry, or every application would need it installed.
 */
describe('the health indicator entry point', () => {
  const loadWithoutTerminus = (entry: string): unknown => {
    let loaded: unknown;
    jest.isolateModules(() => {
      jest.doMock('@nestjs/terminus', () => {
        throw new Error('@nestjs/terminus was loaded');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(entry);
    });
    return loaded;
  };

  afterEach(() => jest.dontMock('@nestjs/terminus'));

  it('the main entry loads without @nestjs/terminus', () => {
    expect(loadWithoutTerminus('@elile/cache')).toHaveProperty('CacheModule');
  });

  it('@elile/cache/health is what needs it (the check above would notice an import)', () => {
    expect(() => loadWithoutTerminus('@elile/cache/health')).toThrow('@nestjs/terminus was loaded');
  });

  it('@elile/cache/health exports CacheHealthIndicator', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('@elile/cache/health').CacheHealthIndicator).toEqual(expect.any(Function));
  });
});
