import { cacheConformanceSuite } from './cache-conformance';

describe('CacheService on the Redis store', () => {
  cacheConformanceSuite({ store: 'redis', sharedAcrossApps: true });
});
