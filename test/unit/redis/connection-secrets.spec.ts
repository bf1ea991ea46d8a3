import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { CacheConfigurationError, type RedisConnectionOptions } from '@elile/cache';
import { redact } from '../../../libs/cache/src/cache.messages';
import { resolveCacheOptions, type ResolvedRedisOptions } from '../../../libs/cache/src/options/resolve-options';
import { connectionSecrets, describeTarget, parseRedisUrl } from '../../../libs/cache/src/redis/connection-secrets';
import { createRedisConnection, type RedisConnection } from '../../../libs/cache/src/redis/redis-connection.factory';
import { everythingIn, passwordPiecesIn } from '../../support/secret-leaks';

/** Each character ioredis or a URL treats specially, and some that need percent-encoding. */
const TRICKY = 'Ab%40 c:d/e?f#g@h\u00e9\u{1F680}+i';

const connections: RedisConnection[] = [];

afterEach(() => {
  for (const connection of connections.splice(0)) connection.disconnect();
});

/**
 * Options as the module resolves them, plus what it does not accept (a sentinel-level password):
 * the options type is a promise about well-formed input, not a limit on what reaches ioredis.
 */
function resolved(redis: RedisConnectionOptions, extra: Record<string, unknown> = {}): ResolvedRedisOptions {
  return { ...resolveCacheOptions({ store: 'redis', redis }).redis, ...extra };
}

/** The connection as the module builds it (not connected), its target and its secrets. */
function inspectConnection(options: ResolvedRedisOptions) {
  const connection = createRedisConnection(options);
  connections.push(connection);
  return {
    used: (connection as Redis).options,
    target: describeTarget(options, connection),
    secrets: connectionSecrets(options, connection),
  };
}

function userInfoSpelling(password: string): string {
  const url = new URL('redis://host');
  url.password = password;
  return url.password;
}

describe('describeTarget and connectionSecrets', () => {
  it.each([
    {
      form: 'a raw "@" in the URL password (the last "@" ends it)',
      redis: { url: 'redis://user:p@ss@host:6380/2' },
      target: 'redis://user:***@host:6380/2',
      password: 'p@ss',
    },
    {
      form: 'a percent-encoded URL password',
      redis: { url: 'redis://:p%40ss@host' },
      target: 'redis://:***@host:6379/0',
      password: 'p@ss',
    },
    {
      form: 'a "?password=" query parameter',
      redis: { url: 'redis://host:6379/0?password=qp%40ss' },
      target: 'redis://:***@host:6379/0',
      password: 'qp@ss',
    },
    {
      form: '"username" and "password" query parameters',
      redis: { url: 'redis://host/3?username=qu&password=a+b' },
      target: 'redis://qu:***@host:6379/3',
      password: 'a b',
    },
    {
      form: 'the password option',
      redis: { url: 'redis://host', password: 'opt-pass' },
      target: 'redis://:***@host:6379/0',
      password: 'opt-pass',
    },
    {
      form: 'the password option over a URL one',
      redis: { url: 'redis://:url-pass@host', password: 'opt-pass' },
      target: 'redis://:***@host:6379/0',
      password: 'opt-pass',
    },
    {
      form: 'the ioredis passthrough',
      redis: { url: 'redis://host', ioredis: { password: 'io-pass' } },
      target: 'redis://:***@host:6379/0',
      password: 'io-pass',
    },
    {
      form: 'rediss://',
      redis: { url: 'rediss://acme:tls-pass@host:6390' },
      target: 'rediss://acme:***@host:6390/0',
      password: 'tls-pass',
    },
    {
      form: 'an IPv6 host',
      redis: { url: 'redis://:v6-pass@[::1]:6381/4' },
      target: 'redis://:***@[::1]:6381/4',
      password: 'v6-pass',
    },
  ])('shows host, port and database, never the password, for $form', ({ redis, target, password }) => {
    const connection = inspectConnection(resolved(redis));
    expect(connection.used.password).toBe(password);
    expect(connection.target).toBe(target);
    expect(connection.secrets).toContain(password);
  });

  it('leaves out a user name that has no password: it may be a password written in the wrong place', () => {
    const connection = inspectConnection(resolved({ url: 'redis://only-a-secret@host:6379' }));
    expect(connection.target).toBe('redis://host:6379/0');
  });

  it('counts every password given as a secret, also those that lost to another one', () => {
    const { secrets } = inspectConnection(
      resolved({
        // (A `sentinelPassword` query parameter is refused at boot: redis-url.spec.ts.)
        url: 'redis://:url%40pass@host?password=query-pass',
        password: 'option-pass',
        ioredis: { password: 'io-pass', sentinelPassword: 'io-sentinel' },
      }),
    );
    expect(secrets).toEqual(
      expect.arrayContaining(['url@pass', 'url%40pass', 'query-pass', 'option-pass', 'io-pass', 'io-sentinel']),
    );
  });

  it('lists each secret in every spelling, longest first', () => {
    const { secrets } = inspectConnection(resolved({ url: 'redis://host', password: TRICKY }));
    const formEncoded = new URLSearchParams({ p: TRICKY }).toString().slice(2);
    expect(secrets).toEqual(
      expect.arrayContaining([TRICKY, encodeURIComponent(TRICKY), userInfoSpelling(TRICKY), formEncoded]),
    );
    expect(secrets).toEqual([...secrets].sort((a, b) => b.length - a.length));
  });

  it('keeps a node URL password as written when it is not valid percent-encoding', () => {
    const { secrets } = inspectConnection(resolved({}, { cluster: { nodes: ['redis://:Kp%zZq9@10.0.0.1:7000'] } }));
    expect(secrets).toContain('Kp%zZq9');
  });

  it('sentinel: names the master group; the sentinel, sentinel-level and server passwords are secrets', () => {
    const options = resolved(
      { url: 'redis://:unused-url-pass@host', password: 'server-pass' },
      {
        sentinel: {
          name: 'primary',
          sentinels: [{ host: '127.0.0.1', port: 26379 }],
          sentinelPassword: 'sentinel-pass',
          password: 'sentinel-level-pass',
        },
      },
    );
    const connection = inspectConnection(options);
    expect(connection.target).toBe('sentinel master "primary"');
    expect(connection.used.password).toBe('sentinel-level-pass');
    expect(connection.used.sentinelPassword).toBe('sentinel-pass');
    expect(connection.secrets).toEqual(
      expect.arrayContaining(['server-pass', 'sentinel-pass', 'sentinel-level-pass', 'unused-url-pass']),
    );
  });

  it('cluster: counts seed nodes; passwords of node URLs, node objects and redisOptions are secrets', () => {
    const nodes = [
      'redis://:node%40url-pass@10.0.0.1:7000',
      '10.0.0.2:7001?password=node-query-pass',
      { host: '10.0.0.3', port: 7002, password: 'node-object-pass' },
    ];
    const connection = inspectConnection(resolved({ password: 'cluster-pass' }, { cluster: { nodes } }));
    expect(connection.target).toBe('cluster (3 seed nodes)');
    expect(connection.secrets).toEqual(
      expect.arrayContaining([
        'cluster-pass',
        'node@url-pass',
        'node%40url-pass',
        'node-query-pass',
        'node-object-pass',
      ]),
    );
  });

  it('for any password, given in any form, ioredis uses it, it is a secret, and the target shows none of it', () => {
    const forms: Record<string, (secret: string) => RedisConnectionOptions> = {
      'user info': (secret) => ({ url: `redis://acme:${encodeURIComponent(secret)}@host:6379/1` }),
      query: (secret) => ({ url: `redis://host:6379/1?username=acme&password=${encodeURIComponent(secret)}` }),
      option: (secret) => ({ url: 'redis://host:6379/1', username: 'acme', password: secret }),
      ioredis: (secret) => ({ url: 'redis://host:6379/1', ioredis: { username: 'acme', password: secret } }),
    };
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
        fc.constantFrom(...Object.keys(forms)),
        (secret, form) => {
          const connection = inspectConnection(resolved(forms[form](secret)));
          expect(connection.used.password).toBe(secret);
          expect(connection.secrets).toEqual(expect.arrayContaining([secret, encodeURIComponent(secret)]));
          expect(connection.target).toBe('redis://acme:***@host:6379/1');
          connections.splice(0).forEach((built) => built.disconnect());
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('redact with the connection secrets', () => {
  it('masks every spelling of the password, whole, in text from Redis or ioredis', () => {
    const { secrets } = inspectConnection(resolved({ url: `redis://:${encodeURIComponent(TRICKY)}@host` }));
    const text = `a ${TRICKY} b ${encodeURIComponent(TRICKY)} c ${userInfoSpelling(TRICKY)} d`;
    const masked = redact(text, secrets);
    expect(passwordPiecesIn(masked, TRICKY)).toEqual([]);
    expect(masked).toBe('a *** b *** c *** d');
  });
});

describe('parseRedisUrl', () => {
  it('reads a URL as ioredis does', () => {
    const url = parseRedisUrl('redis://user:p@ss@host:6380/2?password=x');
    expect([url.username, url.password, url.hostname, url.port, url.pathname]).toEqual([
      'user',
      'p%40ss',
      'host',
      '6380',
      '/2',
    ]);
  });

  it.each([
    ['a raw "/" in the password (not a URL)', 'redis://acme:Zq/Wvk@host:6379', 'Zq/Wvk'],
    ['a raw "?" in the password (not a URL)', 'redis://acme:Xk7?Jhq@host:6379', 'Xk7?Jhq'],
    ['a raw "#" in the password (not a URL)', 'redis://acme:Yv#Qmz@host:6379', 'Yv#Qmz'],
    ['a raw "/" after digits (the password would start host and port)', 'redis://acme:9731/Zqxw@host', '9731/Zqxw'],
    ['a raw "?" after digits', 'redis://acme:9731?Zqxw@host:6379', '9731?Zqxw'],
    ['a raw "#" after digits', 'redis://acme:9731#Zqxw@host:6379', '9731#Zqxw'],
    ['an "@" in the query', 'redis://host:6379/0?password=Wq8@Zt3', 'Wq8@Zt3'],
    ['a "%" that starts no escape', 'redis://acme:Kp%zZq9@host:6379', 'Kp%zZq9'],
  ])('refuses %s, without repeating any of it', (_, url, password) => {
    let error: unknown;
    try {
      parseRedisUrl(url);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect((error as Error).cause).toBeUndefined();
    expect(passwordPiecesIn(everythingIn(error), password)).toEqual([]);
  });
});
