import { SingleFlight } from '../../../libs/cache/src/caches/single-flight';
import { deferred } from '../../support/deferred';

describe('SingleFlight', () => {
  it('runs concurrent calls for one key once and gives all of them its result', async () => {
    const flight = new SingleFlight<{ id: number }>(60_000);
    const gate = deferred<{ id: number }>();
    const work = jest.fn(() => gate.promise);

    const calls = Array.from({ length: 5 }, () => flight.run('k', work));
    expect(work).toHaveBeenCalledTimes(1);

    const result = { id: 1 };
    gate.resolve(result);
    const results = await Promise.all(calls);
    // The same object, not equal copies: every caller shares the one execution.
    for (const value of results) expect(value).toBe(result);
  });

  it('gives every concurrent caller the same error', async () => {
    const flight = new SingleFlight<number>(60_000);
    const gate = deferred<number>();
    const work = jest.fn(() => gate.promise);

    const calls = [flight.run('k', work), flight.run('k', work), flight.run('k', work)];
    const failure = new Error('source down');
    gate.reject(failure);

    const outcomes = await Promise.allSettled(calls);
    expect(work).toHaveBeenCalledTimes(1);
    for (const outcome of outcomes) expect(outcome).toEqual({ status: 'rejected', reason: failure });
  });

  it('runs different keys independently', async () => {
    const flight = new SingleFlight<string>(60_000);
    const work = jest.fn((key: string) => Promise.resolve(key.toUpperCase()));
    const [a, b] = await Promise.all([flight.run('a', () => work('a')), flight.run('b', () => work('b'))]);
    expect([a, b]).toEqual(['A', 'B']);
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('runs again once the previous run has settled', async () => {
    const flight = new SingleFlight<number>(60_000);
    let runs = 0;
    const work = () => Promise.resolve(++runs);
    expect(await flight.run('k', work)).toBe(1);
    expect(await flight.run('k', work)).toBe(2);
  });

  it('does not remember an error: the next call runs and can succeed', async () => {
    const flight = new SingleFlight<string>(60_000);
    await expect(flight.run('k', () => Promise.reject(new Error('transient')))).rejects.toThrow('transient');
    const retry = jest.fn(() => Promise.resolve('ok'));
    await expect(flight.run('k', retry)).resolves.toBe('ok');
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('lets a caller that reacts to the result start a fresh run', async () => {
    // A caller retrying in its continuation must not be handed the run it just observed.
    const flight = new SingleFlight<number>(60_000);
    let runs = 0;
    const work = jest.fn(() => Promise.resolve(++runs));
    const second = await flight.run('k', work).then(() => flight.run('k', work));
    expect(second).toBe(2);
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('joins a run still pending even after another key has settled', async () => {
    const flight = new SingleFlight<string>(60_000);
    const slow = deferred<string>();
    const pending = flight.run('slow', () => slow.promise);
    await flight.run('fast', () => Promise.resolve('done'));
    const work = jest.fn(() => Promise.resolve('unused'));
    const joined = flight.run('slow', work);
    expect(work).not.toHaveBeenCalled();
    slow.resolve('slow result');
    expect(await joined).toBe('slow result');
    expect(await pending).toBe('slow result');
  });

  describe('bounded sharing (a work that never settles)', () => {
    const SHARE_MS = 40;
    const never = () => new Promise<string>(() => undefined);

    it('does not let a call made after the share limit join the hung work', async () => {
      const flight = new SingleFlight<string>(SHARE_MS);
      void flight.run('k', never);
      await new Promise((resolve) => setTimeout(resolve, SHARE_MS + 10));
      const fresh = jest.fn(() => Promise.resolve('fresh'));
      await expect(flight.run('k', fresh)).resolves.toBe('fresh');
      expect(fresh).toHaveBeenCalledTimes(1);
    });

    it('releases callers that joined in time when the work reaches the limit; they share one fresh run', async () => {
      const flight = new SingleFlight<string>(SHARE_MS);
      void flight.run('k', never);
      const fresh = jest.fn(() => Promise.resolve('fresh'));
      const joined = [flight.run('k', fresh), flight.run('k', fresh), flight.run('k', fresh)];
      expect(fresh).not.toHaveBeenCalled();
      await expect(Promise.all(joined)).resolves.toEqual(['fresh', 'fresh', 'fresh']);
      expect(fresh).toHaveBeenCalledTimes(1);
    });

    it('a joined work that settles in time still answers its joiners (no second run)', async () => {
      const flight = new SingleFlight<string>(SHARE_MS);
      const gate = deferred<string>();
      void flight.run('k', () => gate.promise);
      const other = jest.fn(() => Promise.resolve('other'));
      const joined = flight.run('k', other);
      gate.resolve('first');
      await expect(joined).resolves.toBe('first');
      await new Promise((resolve) => setTimeout(resolve, SHARE_MS + 10));
      expect(other).not.toHaveBeenCalled();
    });
  });
});
