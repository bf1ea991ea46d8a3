import { nearCacheConformanceSuite } from './near-cache-conformance';

describe('The near cache in front of the Redis store', () => {
  nearCacheConformanceSuite('redis');
});
