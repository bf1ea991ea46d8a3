import fc from 'fast-check';
import { reconnectDelay } from '../../../libs/cache/src/redis/redis-connection.factory';

/** The un-jittered back-off: 50 ms doubling per attempt, capped. */
const ceiling = (attempt: number, capMs: number) => Math.min(capMs, 50 * 2 ** (attempt - 1));

describe('reconnectDelay', () => {
  it('stays within [ceiling / 2, ceiling] for any attempt, cap and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, capMs, draw) => {
          const delay = reconnectDelay(attempt, capMs, () => draw);
          const top = ceiling(attempt, capMs);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(top / 2);
          expect(delay).toBeLessThanOrEqual(top);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('spans the whole jitter range: half the ceiling at draw 0, the ceiling as the draw nears 1', () => {
    expect(reconnectDelay(5, 10_000, () => 0)).toBe(400);
    expect(reconnectDelay(5, 10_000, () => 0.999999)).toBe(800);
    expect(reconnectDelay(5, 10_000, () => 0.5)).toBe(600);
  });

  it('doubles with each attempt until the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelay(attempt, 2000, () => 0));
    expect(delays).toEqual([25, 50, 100, 200, 400, 800]);
  });

  it('never decreases as attempts grow, for a fixed draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, capMs, draw) => {
          expect(reconnectDelay(attempt + 1, capMs, () => draw)).toBeGreaterThanOrEqual(
            reconnectDelay(attempt, capMs, () => draw),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is capped at the configured maximum (the default 2 s) however many attempts failed', () => {
    for (const attempt of [7, 10, 17, 100, 1e6, Number.MAX_SAFE_INTEGER]) {
      const delay = reconnectDelay(attempt, 2000, () => 0.999999);
      expect(delay).toBeLessThanOrEqual(2000);
      expect(delay).toBeGreaterThanOrEqual(1000);
    }
  });

  it('gives instances that lost Redis together different delays (jitter)', () => {
    const delays = new Set([0, 0.2, 0.4, 0.6, 0.8, 0.99].map((draw) => reconnectDelay(6, 2000, () => draw)));
    expect(delays.size).toBe(6);
  });

  it('uses Math.random when no source is injected', () => {
    const spy = jest.spyOn(Math, 'random').mockReturnValue(0);
    try {
      expect(reconnectDelay(3, 2000)).toBe(100);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
