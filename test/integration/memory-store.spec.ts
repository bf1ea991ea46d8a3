import { cacheConformanceSuite } from './cache-conformance';

describe('CacheService on the memory store', () => {
  cacheConformanceSuite({ store: 'memory', sharedAcrossApps: false });
});
