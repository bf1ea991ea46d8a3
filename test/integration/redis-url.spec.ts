import type Redis from 'ioredis';
import { CacheConfigurationError, CacheUnavailableError } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { type CacheApp, closeRaw, failureOf, rawRedis, startCacheApp } from './cache-test-app';

const PASSWORD = 'Url-Pass-7731';
let server: RedisServerHandle;
let base: string;
let admin: Redis;
const apps: CacheApp[] = [];

async function boot(url: string, extra: Record<string, unknown> = {}): Promise<CacheApp> {
  const app = await startCacheApp({ namespace: 'url:', redis: { url, ...extra } });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  server = await startLocalRedisServer({ extraArgs: ['--requirepass', PASSWORD] });
  base = `127.0.0.1:${server.port}`;
  admin = rawRedis(`redis://:${PASSWORD}@${base}`);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await closeRaw(admin);
  await server.stop();
});

describe('what a redis:// URL may say (a careless operator)', () => {
  it.each([
    'enableOfflineQueue=true',
    'commandTimeout=0',
    'maxRetriesPerRequest=',
    'autoResendUnfulfilledCommands=true',
    'lazyConnect=false',
    'pasword=typo',
  ])('a query parameter that would become an ioredis option is refused at boot: ?%s', async (query) => {
    const failure = await failureOf(() => boot(`redis://:${PASSWORD}@${base}/0?${query}`));
    expect(failure).toBeInstanceOf(CacheConfigurationError);
    expect(String((failure as Error).message)).toContain(JSON.stringify(query.split('=')[0]));
    expect(String((failure as Error).message)).not.toContain(PASSWORD);
  });

  it('db, username and password may come from the query', async () => {
    const app = await boot(`redis://${base}?db=3&password=${PASSWORD}`);
    await app.main.set('k', 'in db 3');
    await admin.select(3);
    await expect(admin.exists(app.main.fullKey('k'))).resolves.toBe(1);
    await admin.select(0);
  });

  it('a database that is not a whole number is refused', async () => {
    expect(await failureOf(() => boot(`redis://:${PASSWORD}@${base}/zero`))).toBeInstanceOf(CacheConfigurationError);
  });

  it('explicit credentials win over the URL’s, whichever part of the URL holds them', async () => {
    for (const url of [`redis://default:WRONG-pass@${base}/0`, `redis://${base}/0?password=WRONG-pass`]) {
      const app = await boot(url, { password: PASSWORD });
      await expect(app.main.set('k', 'v')).resolves.toBe(true);
      await expect(app.main.get('k')).resolves.toBe('v');
    }
  });

  it('the module’s deadlines hold whatever the URL says: a down Redis fails at once, not after a queue', async () => {
    const app = await boot(`redis://:${PASSWORD}@127.0.0.1:1/0`);
    const started = performance.now();
    expect(await failureOf(() => app.redis.get('k'))).toBeInstanceOf(CacheUnavailableError);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
