import type Redis from 'ioredis';
import { CacheConfigurationError, CacheError, LockService, type RedisConnectionOptions } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { RecordingLogger } from '../support/recording-logger';
import { captureOutput, everythingIn, passwordPiecesIn } from '../support/secret-leaks';
import { uniqueNamespace } from '../support/test-redis';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp } from './cache-test-app';

/**
 * Passwords that a URL, ioredis or a log line could cut, decode or re-encode, sharing no 4
 * characters with anything the library says. The default user's has two raw "@"; `acme`'s holds
 * every character a URL treats specially; `kid`'s is a single character.
 */
const DEFAULT_PASSWORD = 'Wq8@Zt3@Kp';
const ACME_PASSWORD = 'Ab%40 cd:\u00e9/?#\u{1F680}Xz+Q';
const KID_PASSWORD = '\u0416';
const WRONG = 'Nq4@Rv5%2F:\u00fc/?#Hh';
const WRONG_WITH_RAW_AT = 'Nn4@Rr5@Hh';
const ALL_PASSWORDS = [DEFAULT_PASSWORD, ACME_PASSWORD, KID_PASSWORD, WRONG, WRONG_WITH_RAW_AT];

const namespace = uniqueNamespace('connection-secrets');
const enc = encodeURIComponent;
let server: RedisServerHandle;
let host: string;
let admin: Redis;

beforeAll(async () => {
  server = await startLocalRedisServer({
    extraArgs: [
      '--requirepass',
      DEFAULT_PASSWORD,
      '--user',
      'acme',
      'on',
      `>${ACME_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
      '--user',
      'kid',
      'on',
      `>${KID_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
    ],
  });
  host = `127.0.0.1:${server.port}`;
  admin = rawRedis(`redis://:${enc(DEFAULT_PASSWORD)}@${host}`);
});

afterAll(async () => {
  await closeRaw(admin);
  await server.stop();
});

/**
 * Boots the module with `redis`, runs `work` on it, shuts it down, and returns everything that
 * was logged or printed meanwhile, plus everything in the errors `work` collected.
 */
async function everythingSaid(
  redis: RedisConnectionOptions,
  work: (app: CacheApp, failures: unknown[]) => Promise<void>,
): Promise<string> {
  const logger = new RecordingLogger();
  const output = captureOutput();
  const failures: unknown[] = [];
  try {
    const app = await startCacheApp({ store: 'redis', namespace, redis }, logger);
    try {
      await work(app, failures);
      failures.push(JSON.stringify(app.main.stats()));
    } finally {
      await app.close();
    }
  } catch (error) {
    failures.push(error);
  } finally {
    output.restore();
  }
  return [logger.text(), output.text(), ...failures.map(everythingIn)].join('\n');
}

/** Every feature that talks to Redis, with the subscriber connection of waiting locks. */
async function useEverything(app: CacheApp, failures: unknown[]): Promise<void> {
  expect(app.redis.isReady).toBe(true);
  await app.redis.set(app.main.fullKey('raw'), 'not a number');
  await expect(app.redis.get(app.main.fullKey('raw'))).resolves.toBe('not a number');
  failures.push(await failureOf(() => app.redis.increment(app.main.fullKey('raw'))));
  await expect(app.main.getOrSet('filled', () => 'loaded')).resolves.toBe('loaded');
  const locks = app.moduleRef.get(LockService);
  const held = await locks.acquire('k', { ttl: 5 });
  const waiting = locks.acquire('k', { wait: 5 });
  await sleep(50);
  await held.release();
  await (await waiting).release();
}

describe('a right password, however it is given, is used and never said', () => {
  const acme = { username: 'acme', password: ACME_PASSWORD };
  it.each([
    ['with raw "@" in the URL', () => ({ url: `redis://:${DEFAULT_PASSWORD}@${host}` }), ''],
    ['percent-encoded in the URL', () => ({ url: `redis://acme:${enc(ACME_PASSWORD)}@${host}/0` }), 'acme'],
    [
      'as "?username=&password=" query parameters',
      () => ({ url: `redis://${host}/0?username=acme&password=${enc(ACME_PASSWORD)}` }),
      'acme',
    ],
    ['as options', () => ({ url: `redis://${host}`, ...acme }), 'acme'],
    ['through the ioredis options', () => ({ url: `redis://${host}`, ioredis: acme }), 'acme'],
    ['as options, over a wrong one in the URL', () => ({ url: `redis://:${enc(WRONG)}@${host}`, ...acme }), 'acme'],
    ['of a single character', () => ({ url: `redis://kid:${enc(KID_PASSWORD)}@${host}` }), 'kid'],
  ])('%s', async (_, redis, user) => {
    const text = await everythingSaid(redis(), useEverything);

    for (const password of ALL_PASSWORDS) expect(passwordPiecesIn(text, password)).toEqual([]);
    expect(text).toContain(`Redis ready at redis://${user}:***@${host}/0`);
    expect(text).toMatch(/ERR value is not an integer/);
  });
});

describe('a wrong password, however it is given, is refused and never said', () => {
  it.each([
    ['in the URL, percent-encoded', () => ({ url: `redis://:${enc(WRONG)}@${host}` })],
    ['in the URL with raw "@"', () => ({ url: `redis://:${WRONG_WITH_RAW_AT}@${host}` })],
    ['in the URL, with an ACL user', () => ({ url: `redis://acme:${enc(WRONG)}@${host}/0` })],
    ['as a "?password=" query parameter', () => ({ url: `redis://${host}/0?password=${enc(WRONG)}` })],
    ['as the password option', () => ({ url: `redis://${host}`, password: WRONG })],
    ['through the ioredis options', () => ({ url: `redis://${host}`, ioredis: { password: WRONG } })],
  ])('%s', async (_, redis) => {
    const text = await everythingSaid(redis(), async (app, failures) => {
      failures.push(
        await failureOf(() => app.redis.get('k')),
        await failureOf(() => app.main.delete('k')),
        await failureOf(() => app.moduleRef.get(LockService).acquire('k', { wait: 0 })),
      );
      await app.main.getOrSet('k', () => 'from the source');
      for (const failure of failures) expect(failure).toBeInstanceOf(CacheError);
    });

    for (const password of ALL_PASSWORDS) expect(passwordPiecesIn(text, password)).toEqual([]);
    expect(text).toMatch(/WRONGPASS/);
  });

  it('on a second connection (locks), after the password changed under a running application', async () => {
    const user = `rotating-${Math.random().toString(36).slice(2, 8)}`;
    await admin.call('ACL', 'SETUSER', user, 'on', `>${ACME_PASSWORD}`, '~*', '&*', '+@all');
    const text = await everythingSaid({ url: `redis://${user}:${enc(ACME_PASSWORD)}@${host}` }, async (app) => {
      await admin.call('ACL', 'SETUSER', user, 'resetpass', `>${WRONG}`);
      const locks = app.moduleRef.get(LockService);
      const held = await locks.acquire('k', { ttl: 5 });
      // The waiter's subscriber connection is the first to authenticate since the change.
      const waiting = locks.acquire('k', { wait: 2 });
      await sleep(200);
      await held.release();
      await (await waiting).release();
    });

    for (const password of ALL_PASSWORDS) expect(passwordPiecesIn(text, password)).toEqual([]);
    expect(text).toMatch(/notifications are unavailable \(WRONGPASS/);
  });
});

describe('a URL that ioredis would misread is refused at boot, without repeating it', () => {
  it.each([
    ['raw "/", "?" and "#" in the password', () => `redis://acme:${ACME_PASSWORD}@${host}/0`],
    ['raw "@" in a query parameter', () => `redis://${host}/0?password=${DEFAULT_PASSWORD}`],
  ])('%s', async (_, url) => {
    const logger = new RecordingLogger();
    const output = captureOutput();
    let failure: unknown;
    try {
      failure = await failureOf(() => startCacheApp({ store: 'redis', namespace, redis: { url: url() } }, logger));
    } finally {
      output.restore();
    }

    const text = [logger.text(), output.text(), everythingIn(failure)].join('\n');
    for (const password of ALL_PASSWORDS) expect(passwordPiecesIn(text, password)).toEqual([]);
    expect(failure).toBeInstanceOf(CacheConfigurationError);
  });
});
