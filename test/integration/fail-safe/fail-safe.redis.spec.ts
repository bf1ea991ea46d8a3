import { failSafeConformanceSuite } from './fail-safe-conformance';

describe('Fail-safe on the Redis store', () => {
  failSafeConformanceSuite('redis');
});
