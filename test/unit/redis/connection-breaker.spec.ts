import { CacheTimeoutError } from '@elile/cache';
import { type BreakerListener, ConnectionBreaker } from '../../../libs/cache/src/redis/connection-breaker';

/** Unit-level: the breaker's states, probes and log calls, driven by fake timers and a scripted probe. */
describe('ConnectionBreaker', () => {
  const timeout = () => new CacheTimeoutError('Redis did not answer "get" within 250 ms', 'get');
  let events: string[];
  let probeOutcomes: Array<'fail' | 'answer'>;
  let probes: number;
  let breaker: ConnectionBreaker;

  const listener: BreakerListener = {
    opened: (reason) => events.push(`opened: ${(reason as Error).message}`),
    halfOpen: () => events.push('half-open'),
    closed: (_openForMs, count) => events.push(`closed after ${count} probes`),
  };

  beforeEach(() => {
    jest.useFakeTimers();
    events = [];
    probeOutcomes = [];
    probes = 0;
    breaker = new ConnectionBreaker(
      { enabled: true, threshold: 3, halfOpenAfterMs: 1000 },
      (error) => error instanceof CacheTimeoutError,
      async () => {
        probes++;
        if (probeOutcomes.shift() === 'answer') return 'PONG';
        throw timeout();
      },
      listener,
    );
  });

  afterEach(() => {
    breaker.stop();
    jest.useRealTimers();
  });

  const fail = async (times: number) => {
    for (let i = 0; i < times; i++) await breaker.failed(timeout()).catch(() => undefined);
  };

  /** Lets the probe's promise chain (cockatiel's async frames) run after a timer fired. */
  const settle = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };

  it('opens after `threshold` failures in a row, not before; a success in between resets the count', async () => {
    await fail(2);
    breaker.succeeded();
    await fail(2);
    expect(breaker.status.state).toBe('closed');
    expect(breaker.allowsCommands()).toBe(true);
    await fail(1);
    expect(breaker.status).toEqual({
      state: 'open',
      opened: 1,
      refused: 0,
      transitions: { open: 1, 'half-open': 0, closed: 0 },
    });
    expect(breaker.allowsCommands()).toBe(false);
    expect(breaker.status.refused).toBe(1);
    expect(events).toEqual(['opened: Redis did not answer "get" within 250 ms']);
  });

  it('rejects with the failure it was given', async () => {
    const failure = timeout();
    await expect(breaker.failed(failure)).rejects.toBe(failure);
  });

  it('probes after halfOpenAfter, stays open while probes fail, closes on the first answer; logs each change once per outage', async () => {
    probeOutcomes = ['fail', 'fail', 'answer'];
    await fail(3);
    jest.advanceTimersByTime(999);
    expect(probes).toBe(0);
    jest.advanceTimersByTime(1);
    await settle();
    expect(probes).toBe(1);
    expect(breaker.status.state).toBe('open');
    jest.advanceTimersByTime(1000);
    await settle();
    expect(probes).toBe(2);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(probes).toBe(3);
    expect(breaker.status.state).toBe('closed');
    expect(breaker.allowsCommands()).toBe(true);
    // Two failed probes re-opened it: neither is a new "opened" line, nor a new "half-open".
    expect(events).toEqual(['opened: Redis did not answer "get" within 250 ms', 'half-open', 'closed after 3 probes']);
    expect(breaker.status.opened).toBe(1);
  });

  it('a second outage is logged again, and counted', async () => {
    probeOutcomes = ['answer', 'answer'];
    await fail(3);
    jest.advanceTimersByTime(1000);
    await settle();
    await fail(3);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(breaker.status).toMatchObject({ state: 'closed', opened: 2 });
    expect(events.filter((event) => event.startsWith('opened'))).toHaveLength(2);
  });

  it('refuses commands while its probe is in flight (callers never wait for it)', async () => {
    let answer: (value: string) => void = () => undefined;
    breaker = new ConnectionBreaker(
      { enabled: true, threshold: 1, halfOpenAfterMs: 1000 },
      (error) => error instanceof CacheTimeoutError,
      () => new Promise<string>((resolve) => (answer = resolve)),
      listener,
    );
    await fail(1);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(breaker.status.state).toBe('half-open');
    expect(breaker.allowsCommands()).toBe(false);
    answer('PONG');
    await settle();
    expect(breaker.status.state).toBe('closed');
  });

  it('stops probing once stopped (application shutdown)', async () => {
    await fail(3);
    breaker.stop();
    jest.advanceTimersByTime(10_000);
    await settle();
    expect(probes).toBe(0);
  });
});
