/**
 * `prom-client` is an optional peer: only `@elile/cache/metrics` may load it, never the main
 * entry (nor `@elile/cache/health`), or every application would need it installed.
 */
describe('the metrics entry point', () => {
  const loadWithoutPromClient = (entry: string): unknown => {
    let loaded: unknown;
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => {
        throw new Error('prom-client was loaded');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(entry);
    });
    return loaded;
  };

  afterEach(() => jest.dontMock('prom-client'));

  it('the main entry loads without prom-client', () => {
    expect(loadWithoutPromClient('@elile/cache')).toHaveProperty('CacheModule');
  });

  it('@elile/cache/health loads without prom-client', () => {
    expect(loadWithoutPromClient('@elile/cache/health')).toHaveProperty('CacheHealthIndicator');
  });

  it('@elile/cache/metrics is what needs it (the checks above would notice an import)', () => {
    expect(() => loadWithoutPromClient('@elile/cache/metrics')).toThrow('prom-client was loaded');
  });

  it('@elile/cache/metrics exports CacheMetricsModule and CacheMetrics', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require('@elile/cache/metrics') as Record<string, unknown>;
    expect(Object.keys(entry).sort()).toEqual(['CacheMetrics', 'CacheMetricsModule']);
    expect(entry.CacheMetricsModule).toEqual(expect.any(Function));
  });
});
