import { failSafeConformanceSuite } from './fail-safe-conformance';

describe('Fail-safe on the memory store', () => {
  failSafeConformanceSuite('memory');
});
