import { lockNames } from '@elile/cache/lock/lock-names.util';
import { closeLockFixtures, redisLocks } from './lock-fixture';

afterAll(closeLockFixtures);

describe('fencing tokens after Redis restores an older counter', () => {
  // An RDB snapshot, AOF everysec or a lagging replica promoted after a failover can bring back a
  // counter older than tokens already handed out; INCR alone would hand them out again.
  it('never repeats or goes back, even when the counter is set back', async () => {
    const { service, client, options } = await redisLocks();
    const names = lockNames(options.namespace, options.locks.prefix, 'restored');
    const tokens: number[] = [];
    const take = async () => {
      const lock = await service.acquire('restored', { ttl: 5, wait: 1 });
      tokens.push(lock.fencingToken);
      await lock.release();
    };
    await take();
    const snapshot = await client!.get(names.fence);
    await take();
    await take();
    await client!.set(names.fence, snapshot!);
    await take();
    await client!.set(names.fence, '1');
    await take();
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.every(Number.isSafeInteger)).toBe(true);
  });
});
