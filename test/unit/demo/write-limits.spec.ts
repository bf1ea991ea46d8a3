import { writeThrottler } from '../../../src/throttling/write-limits';

describe('demo write limits (ELILE_DEMO_WRITE_*)', () => {
  it('defaults to 30 requests per 60 s, blocked for the window', () => {
    expect(writeThrottler({})).toEqual({ limit: 30, ttl: 60_000, blockDuration: 60_000 });
  });

  it('reads seconds as milliseconds for @nestjs/throttler, and a block of 0 turns blocking off', () => {
    expect(
      writeThrottler({ ELILE_DEMO_WRITE_LIMIT: '5', ELILE_DEMO_WRITE_WINDOW: '1.5', ELILE_DEMO_WRITE_BLOCK: '0' }),
    ).toEqual({ limit: 5, ttl: 1_500, blockDuration: 0 });
    expect(writeThrottler({ ELILE_DEMO_WRITE_WINDOW: '10', ELILE_DEMO_WRITE_BLOCK: '' })).toMatchObject({
      blockDuration: 10_000,
    });
  });

  it.each([
    ['ELILE_DEMO_WRITE_LIMIT', '0'],
    ['ELILE_DEMO_WRITE_LIMIT', '2.5'],
    ['ELILE_DEMO_WRITE_LIMIT', 'many'],
    ['ELILE_DEMO_WRITE_WINDOW', '0'],
    ['ELILE_DEMO_WRITE_WINDOW', '-1'],
    ['ELILE_DEMO_WRITE_WINDOW', 'Infinity'],
    ['ELILE_DEMO_WRITE_BLOCK', '-1'],
  ])('%s=%s fails the boot, naming the variable', (name, value) => {
    expect(() => writeThrottler({ [name]: value })).toThrow(name);
  });
});
