export { CacheTestingModule } from './cache-testing.module';
export type { CacheTestingOptions } from './cache-testing.module';
export { CacheProbe } from './cache-probe';
export type { ProbedEntry, ProbeKeyOptions } from './cache-probe';
