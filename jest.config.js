// Tests compile with SWC. Decorator metadata must be emitted, or Nest's DI and
// our explorer silently find nothing (test/unit/toolchain.spec.ts guards this).
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

const shared = {
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@elile/cache$': '<rootDir>/libs/cache/src',
    '^@elile/cache/(.*)$': '<rootDir>/libs/cache/src/$1',
  },
  testEnvironment: 'node',
  rootDir: __dirname,
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      // The packed tarball installed into throw-away apps outside the repository (test/package/).
      ...shared,
      displayName: 'package',
      testMatch: ['<rootDir>/test/package/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  collectCoverageFrom: ['libs/cache/src/**/*.ts'],
  coverageThreshold: { global: { lines: 90 } },
  coverageReporters: ['text-summary', 'json-summary'],
  testTimeout: 30000,
  // Each test file loads its own copy of Nest and the library, and run in one process they add up
  // (over 100 files, the heap passed 4 GB and the run died). With a limit, Jest runs the files in
  // a worker it replaces once it holds more than this after a file.
  workerIdleMemoryLimit: '1GB',
};
