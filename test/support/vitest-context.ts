import { afterAll, afterEach, beforeEach, expect, it } from '@jest/globals';
import type keyvTestSuite from '@keyv/test-suite';

/** The first argument of @keyv/test-suite's entry points: the `vitest` module they are written for. */
export type VitestModule = Parameters<typeof keyvTestSuite>[0];

/** A test of the peer's suite that must fail, why, and the failure it must end with. */
export interface ExpectedFailure {
  reason: string;
  error: RegExp;
}

type PeerTest = (t: { expect: typeof expect }) => unknown;

/**
 * The part of vitest's API that @keyv/test-suite 2.1.2 uses — `it`, `beforeEach`, `afterEach`
 * and the test context's `t.expect` (with `t.expect.assertions`) — on jest's own functions, so the
 * peer's suite runs unchanged in our jest run. Jest's `expect` is global per test file, which is
 * what vitest's per-test `t.expect` gives a test that runs alone.
 *
 * `expectedFailures` names the peer's tests that must fail, with the documented reason and the
 * error they must end with: they still run, and their test fails if they pass or fail otherwise,
 * so a difference can neither hide nor silently disappear. Every name must match a test.
 */
export function vitestContext(expectedFailures: Readonly<Record<string, ExpectedFailure>> = {}): VitestModule {
  const unmatched = new Set(Object.keys(expectedFailures));
  afterAll(() => {
    if (unmatched.size > 0)
      throw new Error(`No test of the suite is named ${[...unmatched].map((n) => `"${n}"`).join(', ')}`);
  });
  return {
    it: (name: string, fn: PeerTest) => {
      const expected = expectedFailures[name];
      if (expected === undefined) return it(name, async () => fn({ expect }));
      unmatched.delete(name);
      return it(`${name} [fails as documented: ${expected.reason}]`, async () => {
        const outcome = await Promise.resolve()
          .then(() => fn({ expect: withoutAssertionCount() }))
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(outcome).toBeInstanceOf(Error);
        expect((outcome as Error).message).toMatch(expected.error);
      });
    },
    beforeEach,
    afterEach,
  } as unknown as VitestModule;
}

/**
 * Jest's `expect` for a peer test that is meant to fail: its `expect.assertions(n)` would count
 * the assertions of the wrapper around it, so it is not passed on.
 */
function withoutAssertionCount(): typeof expect {
  const isolated = ((actual: unknown) => expect(actual)) as typeof expect;
  return Object.assign(isolated, expect, { assertions: () => undefined, hasAssertions: () => undefined });
}
